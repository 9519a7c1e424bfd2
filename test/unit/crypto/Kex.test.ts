import { assert, describe, it } from "@effect/vitest"
import * as NodeCrypto from "node:crypto"
import { KEX } from "../../../src/crypto/Algorithms.js"
import type { CryptoBackend } from "../../../src/crypto/Backend.js"
import type { DhGroup, EphemeralKex } from "../../../src/crypto/Kex.js"
import * as DhGroupKex from "../../../src/crypto/kex/DhGroup.js"
import * as GroupExchange from "../../../src/crypto/kex/GroupExchange.js"
import { kexMethod } from "../../../src/crypto/KexRegistry.js"
import * as Reader from "../../../src/wire/Reader.js"
import * as Writer from "../../../src/wire/Writer.js"
import { backends } from "../../helpers/Backends.js"

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"))
const pairs = backends.flatMap((client) => backends.map((server) => ({ client, server })))

/** The one-round exchange of a method, with GEX run over the group the server picks for the default request. */
const exchangeOf = (name: string): EphemeralKex => {
  const method = kexMethod(name)
  if (method === undefined) throw new Error(`no method ${name}`)
  if (method._tag === "Ephemeral") return method.exchange
  const { max, min, n } = GroupExchange.DEFAULT_REQUEST
  return method.withGroup(GroupExchange.chooseGroup(min, n, max)!)
}

/** The K bytes must be exactly one minimal mpint (RFC 4251 §5) and nothing else. */
const decodeK = (k: Uint8Array): bigint =>
  Reader.run(k, (r) => {
    const v = r.mpint()
    r.end_()
    return v
  }).pipe((e) => (e._tag === "Right" ? e.right : assert.fail(`K is not an mpint: ${e.left.description}`)))

const runExchange = (ex: EphemeralKex, client: CryptoBackend, server: CryptoBackend) => {
  const c = ex.client(client)
  const s = ex.server(server, c.clientValue)
  if (s === undefined) return assert.fail("server refused a valid client value")
  return { c, s, k: c.finish(s.serverValue) }
}

describe("KexRegistry", () => {
  it("has a method for every name in Algorithms.KEX, under that name", () => {
    for (const name of KEX) assert.strictEqual(kexMethod(name)?.name, name)
  })

  it("SEC-26: only exact names match", () => {
    assert.isUndefined(kexMethod("curve25519-sha256 "))
    assert.isUndefined(kexMethod("CURVE25519-SHA256"))
    assert.isUndefined(kexMethod("diffie-hellman-group15-sha512"))
  })
})

/** The hybrids' K: string(HASH(…)), 32 bytes for SHA-256, 64 for SHA-512. */
const HYBRID_K_BYTES: Partial<Record<string, number>> = {
  "mlkem768x25519-sha256": 32,
  "sntrup761x25519-sha512": 64,
  "sntrup761x25519-sha512@openssh.com": 64
}

describe("every kex method: client and server compute the same K", () => {
  for (const name of KEX) {
    for (const { client, server } of pairs) {
      it(`${name}: client on ${client.name}, server on ${server.name}`, () => {
        const ex = exchangeOf(name)
        const { k, s } = runExchange(ex, client, server)
        assert.deepStrictEqual(k, s.k)
        // SEC-18: the post-quantum hybrids encode K as a string of the hash's length, every other method as an mpint.
        const hybridHash = HYBRID_K_BYTES[name]
        if (hybridHash === undefined) assert.isTrue(decodeK(s.k) > 1n)
        else assert.deepStrictEqual([...s.k.subarray(0, 4)], [0, 0, 0, hybridHash])
      }, 30_000)
    }
  }
})

describe("curve25519-sha256 (RFC 8731)", () => {
  const ex = exchangeOf("curve25519-sha256")
  const P = 2n ** 255n - 19n
  const le = (v: bigint): Uint8Array => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, "0"), "hex")).reverse()

  it("values are 32 bytes and K is the shared secret read big-endian, as an mpint", () => {
    const { c, k, s } = runExchange(ex, backends[0]!, backends[1]!)
    assert.strictEqual(c.clientValue.length, 32)
    assert.strictEqual(s.serverValue.length, 32)
    assert.strictEqual(k![0], 0)
  })

  // SEC-18: every small-order u, and non-canonical encodings of them, yields an all-zero secret.
  // The libsodium blocklist (crypto_scalarmult/curve25519/ref10.c has_small_order): 0, 1, two points of order 8,
  // p − 1, p, p + 1; it ignores bit 255, which RFC 7748 §5 masks, so each is also tried with that bit set.
  const blocklist: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["0", le(0n)],
    ["1", le(1n)],
    ["order 8 (e0eb…b800)", hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")],
    ["order 8 (5f9c…1157)", hex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")],
    ["p − 1 (order 2)", le(P - 1n)],
    ["p (≡ 0)", le(P)],
    ["p + 1 (≡ 1)", le(P + 1n)]
  ]
  const highBit = (b: Uint8Array): Uint8Array => {
    const out = b.slice()
    out[31] = out[31]! | 0x80
    return out
  }
  const bad: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["32 × 00", new Uint8Array(32)],
    ["01 ‖ 31 × 00", le(1n)],
    ["p", le(P)],
    ["p + 1", le(P + 1n)],
    ["31 bytes", new Uint8Array(31).fill(9)],
    ["33 bytes", new Uint8Array(33).fill(9)],
    ["empty", new Uint8Array(0)],
    ...blocklist.map(([label, u]) => [`libsodium blocklist: ${label}`, u] as const),
    ...blocklist.map(([label, u]) => [`libsodium blocklist: ${label} with bit 255 set`, highBit(u)] as const)
  ]
  for (const backend of backends) {
    for (const [label, value] of bad) {
      it(`SEC-18: ${backend.name} rejects ${label} from either side`, () => {
        assert.isUndefined(ex.server(backend, value))
        assert.isUndefined(ex.client(backend).finish(value))
      })
    }
  }
})

describe("ecdh-sha2-nistp* (RFC 5656 §4)", () => {
  for (const [name, len] of [["ecdh-sha2-nistp256", 32], ["ecdh-sha2-nistp384", 48], ["ecdh-sha2-nistp521", 66]] as const) {
    it(`${name}: Q is uncompressed, 1 + 2·${len} bytes`, () => {
      const { c, s } = runExchange(exchangeOf(name), backends[0]!, backends[1]!)
      assert.strictEqual(c.clientValue.length, 1 + 2 * len)
      assert.strictEqual(s.serverValue[0], 4)
    })
  }

  const ex = exchangeOf("ecdh-sha2-nistp256")
  const valid = ex.client(backends[0]!).clientValue
  const yPlus1 = valid.slice()
  for (let i = 64; i >= 33; i--) {
    yPlus1[i] = (yPlus1[i]! + 1) & 0xff
    if (yPlus1[i] !== 0) break
  }
  const compressed = new Uint8Array(33)
  compressed[0] = 2 + (valid[64]! & 1)
  compressed.set(valid.subarray(1, 33), 1)
  const p384 = exchangeOf("ecdh-sha2-nistp384").client(backends[0]!).clientValue
  const bad: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["a P-256 point with y + 1 (off the curve)", yPlus1],
    ["compressed 02/03 ‖ X", compressed],
    ["the point at infinity (00)", new Uint8Array(1)],
    ["65 zero bytes", new Uint8Array(65)],
    ["04 ‖ X ‖ Y with a byte missing", valid.subarray(0, 64)],
    ["04 ‖ X ‖ Y with a byte extra", new Uint8Array([...valid, 0])],
    ["a P-384 point", p384],
    ["X ‖ Y with 06 hybrid prefix", new Uint8Array([6, ...valid.subarray(1)])]
  ]
  for (const backend of backends) {
    for (const [label, value] of bad) {
      it(`SEC-18: ${backend.name} rejects ${label}`, () => {
        assert.isUndefined(ex.server(backend, value))
        assert.isUndefined(ex.client(backend).finish(value))
      })
    }
  }
})

describe("finite-field Diffie-Hellman (RFC 4253 §8, RFC 8268, RFC 4419)", () => {
  const fixed: ReadonlyArray<readonly [string, DhGroup]> = [
    ["diffie-hellman-group1-sha1", DhGroupKex.MODP_1024],
    ["diffie-hellman-group14-sha1", DhGroupKex.MODP_2048],
    ["diffie-hellman-group14-sha256", DhGroupKex.MODP_2048],
    ["diffie-hellman-group16-sha512", DhGroupKex.MODP_4096],
    ["diffie-hellman-group18-sha512", DhGroupKex.MODP_8192]
  ]
  const gexGroup = GroupExchange.chooseGroup(2048, 3072, 8192)!
  const cases = [
    ...fixed.map(([name, group]) => ({ name, group, ex: exchangeOf(name) })),
    { name: "diffie-hellman-group-exchange-sha256", group: gexGroup, ex: exchangeOf("diffie-hellman-group-exchange-sha256") }
  ]

  for (const { ex, group, name } of cases) {
    const p = group.p
    const values: ReadonlyArray<readonly [string, Uint8Array]> = [
      ["0", Writer.mpintBytes(0n)],
      ["1", Writer.mpintBytes(1n)],
      ["p − 1", Writer.mpintBytes(p - 1n)],
      ["p", Writer.mpintBytes(p)],
      ["p + 1", Writer.mpintBytes(p + 1n)],
      ["a negative mpint", hex("ff")],
      ["a non-minimal mpint", hex("0001")]
    ]
    for (const backend of backends) {
      it(`SEC-17: ${name} on ${backend.name} rejects e and f ∈ {0, 1, p−1, p, p+1} and malformed mpints`, () => {
        for (const [label, v] of values) {
          assert.isUndefined(ex.server(backend, v), `server accepted e = ${label}`)
          assert.isUndefined(ex.client(backend).finish(v), `client accepted f = ${label}`)
        }
      }, 30_000)
    }
  }

  it("SEC-17: e = 2 (a valid value at the edge) is accepted", () => {
    assert.isDefined(exchangeOf("diffie-hellman-group14-sha256").server(backends[0]!, Writer.mpintBytes(2n)))
  })

  it("SEC-17 / SEC-24: private exponents are ≥ 256 bits (512 for 8192-bit groups) and fresh", () => {
    assert.strictEqual(DhGroupKex.privateExponentBits(1024), 256)
    assert.strictEqual(DhGroupKex.privateExponentBits(2048), 256)
    assert.strictEqual(DhGroupKex.privateExponentBits(4096), 384)
    assert.strictEqual(DhGroupKex.privateExponentBits(8192), 512)
    const ex = exchangeOf("diffie-hellman-group14-sha256")
    const seen = new Set(Array.from({ length: 8 }, () => Buffer.from(ex.client(backends[0]!).clientValue).toString("hex")))
    assert.strictEqual(seen.size, 8)
  })

  it("the groups are RFC 3526 / RFC 2409 primes: rebuilt from π and equal to OpenSSL's modp groups", () => {
    // p = 2^N − 2^(N−64) − 1 + 2^64·(⌊2^(N−130)·π⌋ + k), π by Machin's formula in 8400-bit fixed point.
    const BITS = 8400n
    const ONE = 1n << BITS
    const arctanInv = (x: bigint) => {
      let sum = 0n
      let term = ONE / x
      for (let n = 1n, sign = 1n; term !== 0n; n += 2n, sign = -sign, term /= x * x) sum += (sign * term) / n
      return sum
    }
    const pi = 4n * (4n * arctanInv(5n) - arctanInv(239n))
    const build = (N: bigint, k: bigint) => 2n ** N - 2n ** (N - 64n) - 1n + 2n ** 64n * (((pi << (N - 130n)) >> BITS) + k)
    const expected: ReadonlyArray<readonly [DhGroup, bigint, bigint, string]> = [
      [DhGroupKex.MODP_1024, 1024n, 129093n, "modp2"],
      [DhGroupKex.MODP_2048, 2048n, 124476n, "modp14"],
      [DhGroupKex.MODP_3072, 3072n, 1690314n, "modp15"],
      [DhGroupKex.MODP_4096, 4096n, 240904n, "modp16"],
      [DhGroupKex.MODP_6144, 6144n, 929484n, "modp17"],
      [DhGroupKex.MODP_8192, 8192n, 4743158n, "modp18"]
    ]
    for (const [group, N, k, openssl] of expected) {
      assert.strictEqual(group.p, build(N, k))
      assert.strictEqual(group.p.toString(16), NodeCrypto.getDiffieHellman(openssl).getPrime("hex").replace(/^0+/, ""))
      assert.strictEqual(group.g, 2n)
    }
  })

  it("group exchange signatures follow the method's hash", () => {
    const sha1 = kexMethod("diffie-hellman-group-exchange-sha1")!
    const sha256 = kexMethod("diffie-hellman-group-exchange-sha256")!
    assert.strictEqual(sha1._tag === "GroupExchange" && sha1.withGroup(gexGroup).hash, "sha1")
    assert.strictEqual(sha256._tag === "GroupExchange" && sha256.withGroup(gexGroup).hash, "sha256")
  })
})

describe("DH group exchange: group choice and checks (RFC 4419 §3, LIM-14)", () => {
  const bits = (g: DhGroup | undefined) => (g === undefined ? undefined : DhGroupKex.bitLength(g.p))

  it("the default request is min 2048, n 3072, max 8192", () => {
    assert.deepStrictEqual(GroupExchange.DEFAULT_REQUEST, { min: 2048, n: 3072, max: 8192 })
    assert.strictEqual(GroupExchange.preferredGroupBits(256), 8192)
    assert.strictEqual(GroupExchange.preferredGroupBits(112), 2048)
  })

  it("chooseGroup: the smallest vetted group ≥ n within [min, max], else the largest within", () => {
    assert.strictEqual(bits(GroupExchange.chooseGroup(2048, 3072, 8192)), 3072)
    assert.strictEqual(bits(GroupExchange.chooseGroup(2048, 2048, 8192)), 2048)
    assert.strictEqual(bits(GroupExchange.chooseGroup(2048, 7680, 8192)), 8192)
    assert.strictEqual(bits(GroupExchange.chooseGroup(2048, 5000, 8192)), 6144)
    assert.strictEqual(bits(GroupExchange.chooseGroup(2048, 7680, 7680)), 6144)
    assert.strictEqual(bits(GroupExchange.chooseGroup(1024, 1024, 4096)), 2048)
    assert.strictEqual(bits(GroupExchange.chooseGroup(2048, 16384, 16384)), 8192)
  })

  it("LIM-14: chooseGroup never offers below 2048 bits and refuses malformed requests", () => {
    assert.isUndefined(GroupExchange.chooseGroup(1024, 1024, 1024))
    assert.isUndefined(GroupExchange.chooseGroup(512, 1024, 2047))
    assert.isUndefined(GroupExchange.chooseGroup(4096, 2048, 8192))
    assert.isUndefined(GroupExchange.chooseGroup(2048, 9000, 8192))
    assert.isUndefined(GroupExchange.chooseGroup(2500, 2600, 3000))
    assert.isUndefined(GroupExchange.chooseGroup(2048.5, 3072, 8192))
  })

  it("LIM-14 / SEC-17: checkGroup rejects a 1024-bit group, g = 1, g = p − 1, an even p and sizes outside [min, max]", () => {
    const p = DhGroupKex.MODP_2048.p
    assert.isUndefined(GroupExchange.checkGroup(DhGroupKex.MODP_2048, 2048, 8192))
    assert.isUndefined(GroupExchange.checkGroup(DhGroupKex.MODP_8192, 2048, 8192))
    assert.isString(GroupExchange.checkGroup(DhGroupKex.MODP_1024, 2048, 8192))
    assert.isString(GroupExchange.checkGroup(DhGroupKex.MODP_1024, 1024, 8192))
    assert.isString(GroupExchange.checkGroup({ p, g: 1n }, 2048, 8192))
    assert.isString(GroupExchange.checkGroup({ p, g: 0n }, 2048, 8192))
    assert.isString(GroupExchange.checkGroup({ p, g: p - 1n }, 2048, 8192))
    assert.isUndefined(GroupExchange.checkGroup({ p, g: p - 2n }, 2048, 8192))
    assert.isString(GroupExchange.checkGroup({ p: p + 1n, g: 2n }, 2048, 8192))
    assert.isString(GroupExchange.checkGroup(DhGroupKex.MODP_3072, 2048, 2048))
    assert.isString(GroupExchange.checkGroup(DhGroupKex.MODP_2048, 3072, 8192))
    assert.isString(GroupExchange.checkGroup({ p: 2n ** 8193n - 1n, g: 2n }, 2048, 16384))
  })
})
