import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Algorithms from "../../../src/crypto/Algorithms.js"
import * as Negotiate from "../../../src/crypto/Negotiate.js"

const numRuns = process.env.FUZZ ? 20_000 : 100

const lists = (o: Partial<Negotiate.AlgorithmLists> = {}): Negotiate.AlgorithmLists => ({
  kex: ["curve25519-sha256", "ecdh-sha2-nistp256"],
  hostKey: ["ssh-ed25519", "rsa-sha2-256"],
  cipherC2S: ["aes128-ctr"],
  cipherS2C: ["aes128-ctr"],
  macC2S: ["hmac-sha2-256"],
  macS2C: ["hmac-sha2-256"],
  compressionC2S: ["none"],
  compressionS2C: ["none"],
  ...o
})
const noCommon = (r: Either.Either<Negotiate.Negotiated, Negotiate.NoCommon>) =>
  Either.isLeft(r) ? r.left.kind : undefined

describe("Negotiate.negotiate (RFC 4253 §7.1)", () => {
  it("the first client algorithm that the server supports wins, whatever the server prefers", () => {
    const r = Negotiate.negotiate(
      lists({ kex: ["ecdh-sha2-nistp256", "curve25519-sha256"], cipherC2S: ["aes256-ctr", "aes128-ctr"] }),
      lists({ kex: ["curve25519-sha256", "ecdh-sha2-nistp256"], cipherC2S: ["aes128-ctr", "aes256-ctr"] })
    )
    assert.deepStrictEqual(r, Either.right({
      kex: "ecdh-sha2-nistp256",
      hostKey: "ssh-ed25519",
      cipherC2S: "aes256-ctr",
      cipherS2C: "aes128-ctr",
      macC2S: "hmac-sha2-256",
      macS2C: "hmac-sha2-256",
      compressionC2S: "none",
      compressionS2C: "none"
    }))
  })

  it("SEC-13 / SEC-21: pseudo-algorithms are never chosen as the key exchange", () => {
    const pseudo = Negotiate.PSEUDO_KEX_ALGORITHMS
    const r = Negotiate.negotiate(
      lists({ kex: [...pseudo, "curve25519-sha256"] }),
      lists({ kex: [...pseudo, "ecdh-sha2-nistp256", "curve25519-sha256"] })
    )
    assert.strictEqual(Either.getOrThrow(r).kex, "curve25519-sha256")
    const none = Negotiate.negotiate(lists({ kex: ["ext-info-c", "kex-strict-c-v00@openssh.com"] }), lists({
      kex: ["ext-info-c", "kex-strict-c-v00@openssh.com", "kex-strict-s"]
    }))
    assert.deepStrictEqual(none, Either.left({ _tag: "NoCommon", kind: "kex", client: [], server: [] }))
  })

  it("SEC-16: AEAD negotiated with empty MAC lists succeeds, with no MAC", () => {
    for (const cipher of Negotiate.AEAD_CIPHERS) {
      const both = lists({ cipherC2S: [cipher], cipherS2C: [cipher], macC2S: [], macS2C: [] })
      const r = Either.getOrThrow(Negotiate.negotiate(both, both))
      assert.isUndefined(r.macC2S)
      assert.isUndefined(r.macS2C)
    }
  })

  it("MAC negotiation is skipped per direction", () => {
    const c = lists({ cipherC2S: ["aes256-gcm@openssh.com"], cipherS2C: ["aes128-ctr"], macC2S: [], macS2C: ["hmac-sha2-512"] })
    const s = lists({ cipherC2S: ["aes256-gcm@openssh.com"], cipherS2C: ["aes128-ctr"], macC2S: [], macS2C: ["hmac-sha2-512"] })
    const r = Either.getOrThrow(Negotiate.negotiate(c, s))
    assert.isUndefined(r.macC2S)
    assert.strictEqual(r.macS2C, "hmac-sha2-512")
    assert.strictEqual(noCommon(Negotiate.negotiate(c, lists({ ...s, macS2C: ["hmac-sha1"] }))), "macS2C")
  })

  it("a custom AEAD predicate is honoured", () => {
    const l = lists({ cipherC2S: ["x"], cipherS2C: ["x"], macC2S: [], macS2C: [] })
    assert.strictEqual(noCommon(Negotiate.negotiate(l, l)), "macC2S")
    assert.isTrue(Either.isRight(Negotiate.negotiate(l, l, { isAead: (c) => c === "x" })))
  })

  it("SEC-16: no common cipher → NoCommon carrying both lists", () => {
    const r = Negotiate.negotiate(lists({ cipherS2C: ["aes256-ctr"] }), lists({ cipherS2C: ["aes128-ctr", "aes192-ctr"] }))
    assert.deepStrictEqual(r, Either.left({
      _tag: "NoCommon",
      kind: "cipherS2C",
      client: ["aes256-ctr"],
      server: ["aes128-ctr", "aes192-ctr"]
    }))
  })

  it("every kind can fail", () => {
    const kinds: ReadonlyArray<Negotiate.AlgorithmKind> = [
      "kex",
      "hostKey",
      "cipherC2S",
      "cipherS2C",
      "macC2S",
      "macS2C",
      "compressionC2S",
      "compressionS2C"
    ]
    for (const kind of kinds) {
      assert.strictEqual(noCommon(Negotiate.negotiate(lists({ [kind]: ["zzz"] }), lists())), kind)
    }
  })

  it("SEC-26: hostKeyAlgorithms [ecdsa-sha2-nistp256] against a server with only nistp384 fails", () => {
    const r = Negotiate.negotiate(lists({ hostKey: ["ecdsa-sha2-nistp256"] }), lists({ hostKey: ["ecdsa-sha2-nistp384"] }))
    assert.strictEqual(noCommon(r), "hostKey")
  })

  it("host key: the first client algorithm for which the server holds a key", () => {
    const r = Negotiate.negotiate(
      lists({ hostKey: ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"] }),
      lists({ hostKey: ["rsa-sha2-256", "rsa-sha2-512"] })
    )
    assert.strictEqual(Either.getOrThrow(r).hostKey, "rsa-sha2-512")
  })

  it("our own defaults negotiate with themselves", () => {
    const d = Algorithms.defaults
    const ours: Negotiate.AlgorithmLists = {
      kex: [...d.kex, ...Negotiate.kexMarkers("client")],
      hostKey: d.hostKey,
      cipherC2S: d.cipher,
      cipherS2C: d.cipher,
      macC2S: d.mac,
      macS2C: d.mac,
      compressionC2S: d.compression,
      compressionS2C: d.compression
    }
    const r = Either.getOrThrow(Negotiate.negotiate(ours, { ...ours, kex: [...d.kex, ...Negotiate.kexMarkers("server")] }))
    assert.strictEqual(r.kex, d.kex[0])
    assert.strictEqual(r.cipherC2S, d.cipher[0])
  })

  const alphabet = FastCheck.array(FastCheck.constantFrom("a", "b", "c", "d", "e", "ext-info-c", "kex-strict-s"), {
    maxLength: 6
  })
  const arbLists = FastCheck.record({
    kex: alphabet,
    hostKey: alphabet,
    cipherC2S: alphabet,
    cipherS2C: alphabet,
    macC2S: alphabet,
    macS2C: alphabet,
    compressionC2S: alphabet,
    compressionS2C: alphabet
  })
  it.prop("each chosen algorithm is the first client entry on the server list", [arbLists, arbLists], ([c, s]) => {
    const r = Negotiate.negotiate(c, s, { isAead: (x) => x === "e" })
    if (Either.isLeft(r)) {
      const kind = r.left.kind
      assert.isFalse(r.left.client.some((x) => r.left.server.includes(x)), kind)
      return
    }
    const n = r.right
    assert.isFalse(Negotiate.isPseudoKex(n.kex))
    const first = (xs: ReadonlyArray<string>, ys: ReadonlyArray<string>) => xs.find((x) => ys.includes(x))
    assert.strictEqual(n.kex, first(c.kex.filter((x) => !Negotiate.isPseudoKex(x)), s.kex))
    assert.strictEqual(n.hostKey, first(c.hostKey, s.hostKey))
    assert.strictEqual(n.cipherC2S, first(c.cipherC2S, s.cipherC2S))
    assert.strictEqual(n.macC2S, n.cipherC2S === "e" ? undefined : first(c.macC2S, s.macC2S))
    assert.strictEqual(n.compressionS2C, first(c.compressionS2C, s.compressionS2C))
  }, { fastCheck: { numRuns } })
})

describe("Negotiate flags", () => {
  it("SEC-13: strict KEX markers are read from the peer's role", () => {
    assert.isTrue(Negotiate.peerSupportsStrictKex(["curve25519-sha256", "kex-strict-s-v00@openssh.com"], "client"))
    assert.isTrue(Negotiate.peerSupportsStrictKex(["kex-strict-s"], "client"))
    assert.isFalse(Negotiate.peerSupportsStrictKex(["kex-strict-c-v00@openssh.com"], "client"))
    assert.isTrue(Negotiate.peerSupportsStrictKex(["kex-strict-c-v00@openssh.com"], "server"))
    assert.isTrue(Negotiate.peerSupportsStrictKex(["kex-strict-c"], "server"))
    assert.isFalse(Negotiate.peerSupportsStrictKex(["kex-strict-s-v00@openssh.com"], "server"))
    assert.isFalse(Negotiate.peerSupportsStrictKex([], "server"))
  })

  it("RFC 8308 §2.1: ext-info markers", () => {
    assert.isTrue(Negotiate.peerWantsExtInfo(["ext-info-c"], "server"))
    assert.isFalse(Negotiate.peerWantsExtInfo(["ext-info-s"], "server"))
    assert.isTrue(Negotiate.peerWantsExtInfo(["ext-info-s"], "client"))
    assert.isFalse(Negotiate.peerWantsExtInfo(["ext-info-c"], "client"))
    assert.isTrue(Negotiate.peerAcceptsExtInfoInAuth(["ext-info-in-auth@openssh.com"], "server"))
    assert.isFalse(Negotiate.peerAcceptsExtInfoInAuth(["ext-info-in-auth@openssh.com"], "client"))
  })

  it("kexMarkers are pseudo-algorithms the peer recognises", () => {
    assert.isTrue(Negotiate.kexMarkers("client").every(Negotiate.isPseudoKex))
    assert.isTrue(Negotiate.kexMarkers("server").every(Negotiate.isPseudoKex))
    assert.isTrue(Negotiate.peerSupportsStrictKex(Negotiate.kexMarkers("client"), "server"))
    assert.isTrue(Negotiate.peerWantsExtInfo(Negotiate.kexMarkers("client"), "server"))
    assert.isTrue(Negotiate.peerSupportsStrictKex(Negotiate.kexMarkers("server"), "client"))
  })

  it("RFC 4253 §7: first_kex_packet_follows guess", () => {
    assert.isTrue(Negotiate.guessMatches(lists(), lists()))
    assert.isFalse(Negotiate.guessMatches(lists(), lists({ kex: ["ecdh-sha2-nistp256", "curve25519-sha256"] })))
    assert.isFalse(Negotiate.guessMatches(lists(), lists({ hostKey: ["rsa-sha2-256"] })))
  })
})

describe("Negotiate.matchPattern (SEC-68)", () => {
  it("wildcards", () => {
    assert.isTrue(Negotiate.matchPattern("aes*-ctr", "aes128-ctr"))
    assert.isTrue(Negotiate.matchPattern("aes1?8-ctr", "aes128-ctr"))
    assert.isFalse(Negotiate.matchPattern("aes1?8-ctr", "aes1288-ctr"))
    assert.isTrue(Negotiate.matchPattern("*", ""))
    assert.isTrue(Negotiate.matchPattern("", ""))
    assert.isFalse(Negotiate.matchPattern("", "a"))
    assert.isTrue(Negotiate.matchPattern("*@openssh.com", "aes256-gcm@openssh.com"))
    assert.isFalse(Negotiate.matchPattern("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com"))
    assert.isFalse(Negotiate.matchPattern("Aes*", "aes128-ctr"))
  })

  it("SEC-68: `a.b` does not match `axb` (no regex semantics)", () => {
    assert.isFalse(Negotiate.matchPattern("a.b", "axb"))
    assert.isFalse(Negotiate.matchPattern("a+", "aa"))
    assert.isFalse(Negotiate.matchPattern("[ab]", "a"))
  })

  it("SEC-68: `*a*a*…*b` (20 stars) against 10 000 × `a` is fast", () => {
    const pattern = "*a".repeat(20) + "*b"
    const start = performance.now()
    assert.isFalse(Negotiate.matchPattern(pattern, "a".repeat(10_000)))
    assert.isBelow(performance.now() - start, 2000)
  })

  it("SEC-68: patterns longer than 1024 characters never match", () => {
    assert.isTrue(Negotiate.matchPattern("a".repeat(1024), "a".repeat(1024)))
    assert.isFalse(Negotiate.matchPattern("a".repeat(1025), "a".repeat(1025)))
  })

  // A slow but obviously right reference: dynamic programming over prefixes.
  const reference = (p: string, s: string): boolean => {
    let row = Array.from({ length: s.length + 1 }, (_, j) => j === 0)
    for (const c of p) {
      const next = Array.from({ length: s.length + 1 }, () => false)
      for (let j = 0; j <= s.length; j++) {
        if (c === "*") next[j] = row[j]! || (j > 0 && next[j - 1]!)
        else next[j] = j > 0 && row[j - 1]! && (c === "?" || c === s[j - 1])
      }
      row = next
    }
    return row[s.length]!
  }
  const arbP = FastCheck.stringOf(FastCheck.constantFrom("a", "b", "*", "?"), { maxLength: 8 })
  const arbS = FastCheck.stringOf(FastCheck.constantFrom("a", "b"), { maxLength: 10 })
  it.prop("agrees with a reference matcher", [arbP, arbS], ([p, s]) => {
    assert.strictEqual(Negotiate.matchPattern(p, s), reference(p, s))
  }, { fastCheck: { numRuns: numRuns * 5 } })
})

describe("Negotiate.resolveList (ssh_config(5) syntax, SEC-26)", () => {
  const known = Algorithms.HOST_KEY_ALGORITHMS
  const defaults = Algorithms.DEFAULT_HOST_KEY_ALGORITHMS
  const resolve = (spec: string | ReadonlyArray<string> | undefined) => Negotiate.resolveList(spec, known, defaults)

  it("undefined → the defaults", () => {
    assert.deepStrictEqual(resolve(undefined), Either.right(defaults))
  })

  it("SEC-26: listing ecdsa-sha2-nistp256 enables only that algorithm", () => {
    assert.deepStrictEqual(resolve("ecdsa-sha2-nistp256"), Either.right(["ecdsa-sha2-nistp256"]))
    assert.deepStrictEqual(resolve(["ecdsa-sha2-nistp256"]), Either.right(["ecdsa-sha2-nistp256"]))
  })

  it("a plain list keeps its order; wildcards expand in known order; duplicates dropped", () => {
    assert.deepStrictEqual(
      resolve("rsa-sha2-256,ecdsa*,ssh-ed25519,rsa-sha2-256"),
      Either.right(["rsa-sha2-256", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519"])
    )
    assert.deepStrictEqual(resolve(["ssh-ed25519", " rsa-sha2-512 "]), Either.right(["ssh-ed25519", "rsa-sha2-512"]))
  })

  it("+ appends to the defaults", () => {
    assert.deepStrictEqual(resolve("+ssh-rsa"), Either.right([...defaults, "ssh-rsa"]))
    assert.deepStrictEqual(resolve("+ecdsa*"), Either.right(defaults))
    assert.deepStrictEqual(resolve("+*rsa*"), Either.right([...defaults, "ssh-rsa"]))
  })

  it("- removes from the defaults; unknown names are a no-op", () => {
    assert.deepStrictEqual(
      resolve("-ecdsa*"),
      Either.right(["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"])
    )
    assert.deepStrictEqual(resolve("-ssh-dss"), Either.right(defaults))
    assert.deepStrictEqual(resolve("-*"), Either.right([]))
  })

  it("^ puts names at the front of the defaults", () => {
    assert.deepStrictEqual(
      resolve("^rsa-sha2-256,ssh-rsa"),
      Either.right(["rsa-sha2-256", "ssh-rsa", ...defaults.filter((d) => d !== "rsa-sha2-256")])
    )
  })

  it("SEC-26: unknown names are an error naming them and listing what is supported", () => {
    const r = resolve("ssh-ed25519,ssh-dss")
    assert.isTrue(Either.isLeft(r))
    const msg = Either.isLeft(r) ? r.left : ""
    assert.include(msg, "ssh-dss")
    assert.include(msg, "supported:")
    assert.include(msg, "ssh-ed25519")
    assert.isTrue(Either.isLeft(resolve("+ssh-dss")))
    assert.isTrue(Either.isLeft(resolve("^ssh-dss")))
    assert.isTrue(Either.isLeft(resolve("dss*")))
    assert.isTrue(Either.isLeft(resolve("ECDSA-SHA2-NISTP256")))
  })

  it("malformed lists are errors", () => {
    for (const bad of ["", " ", "a,,b", "+", "ssh-ed25519,", "x".repeat(1025) + "*"]) {
      assert.isTrue(Either.isLeft(resolve(bad)), JSON.stringify(bad).slice(0, 30))
    }
    assert.isTrue(Either.isLeft(resolve([])))
  })

  const widen = <A extends string>(r: Either.Either<ReadonlyArray<A>, string>): Either.Either<ReadonlyArray<string>, string> =>
    r
  it("works on every registry", () => {
    assert.deepStrictEqual(
      widen(Negotiate.resolveList("^chacha*", Algorithms.CIPHERS, Algorithms.DEFAULT_CIPHERS)),
      Either.right([
        "chacha20-poly1305@openssh.com",
        ...Algorithms.DEFAULT_CIPHERS.filter((c) => c !== "chacha20-poly1305@openssh.com")
      ])
    )
    assert.deepStrictEqual(
      widen(Negotiate.resolveList("+diffie-hellman-group14-sha1", Algorithms.KEX, Algorithms.DEFAULT_KEX)),
      Either.right([...Algorithms.DEFAULT_KEX, "diffie-hellman-group14-sha1"])
    )
    assert.deepStrictEqual(
      widen(Negotiate.resolveList("-hmac-sha1*", Algorithms.MACS, Algorithms.DEFAULT_MACS)),
      Either.right(Algorithms.DEFAULT_MACS.filter((m) => !m.startsWith("hmac-sha1")))
    )
  })

  const arbSpec = FastCheck.tuple(
    FastCheck.constantFrom("", "+", "-", "^"),
    FastCheck.array(
      FastCheck.oneof(
        FastCheck.constantFrom(...known),
        FastCheck.stringOf(FastCheck.constantFrom("s", "h", "r", "a", "-", "*", "?", "2", "5"), { maxLength: 10 })
      ),
      { maxLength: 6 }
    )
  ).map(([op, names]) => op + names.join(","))
  it.prop("the result only ever holds known names, without duplicates", [arbSpec], ([spec]) => {
    const r = resolve(spec)
    if (Either.isLeft(r)) return
    for (const name of r.right) assert.include(known, name)
    assert.strictEqual(new Set(r.right).size, r.right.length)
  }, { fastCheck: { numRuns } })
})
