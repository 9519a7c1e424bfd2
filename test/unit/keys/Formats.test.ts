/**
 * The key file codecs without external tools: DER, known-answer randomart, PPK MAC checks, the KDF cost bounds
 * (LIM-32), the RSA size floor, and property tests that no parser throws on random or mutated input (SEC-28).
 * test/interop/keys.test.ts checks the same formats against ssh-keygen, OpenSSL and puttygen.
 */
import { assert, describe, it } from "@effect/vitest"
import { argon2id } from "@noble/hashes/argon2.js"
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import * as NodeCrypto_ from "node:crypto"
import { PortableCrypto } from "../../../src/crypto/portable/PortableCrypto.js"
import * as Der from "../../../src/keys/Der.js"
import * as PrivateKey from "../../../src/keys/PrivateKey.js"
import * as PublicKey from "../../../src/keys/PublicKey.js"
import * as Writer from "../../../src/wire/Writer.js"
import { arbEdit, mutate } from "../../helpers/Fuzz.js"

const PASS = "correct horse"
const pass = Redacted.make(PASS)
const numRuns = process.env.FUZZ ? 20_000 : 100
const reasonOf = (r: Either.Either<unknown, { readonly reason: string }>): string => (Either.isLeft(r) ? r.left.reason : "ok")
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64")
/** Parsed, or a KeyError of our own: never the catch-all that reports an unexpected exception (a bug). */
const isClean = (r: Either.Either<unknown, { readonly description: string }>): boolean =>
  Either.isEither(r) && (Either.isRight(r) || !r.left.description.includes("malformed key ("))

const ed = Either.getOrThrow(PrivateKey.generateWith(PortableCrypto, { type: "ed25519" }))
const ec = Either.getOrThrow(PrivateKey.generateWith(PortableCrypto, { type: "ecdsa", curve: "nistp384" }))
const rsa = NodeCrypto_.generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs1", format: "pem" }
})

/** A PPK v3 file as PuTTY's appendix C specifies it (written here to vary the Argon2 header fields). */
const ppkV3 = (argon: { memory: number; passes: number } | undefined, comment = "c"): string => {
  const key = PrivateKey.publicKey(ed)
  const privateBlob = Writer.build((w) => w.string(ed.type === "ed25519" ? ed.seed : new Uint8Array(0)))
  const salt = new Uint8Array(16).fill(7)
  let macKey: Uint8Array = new Uint8Array(0)
  let encrypted: Uint8Array = privateBlob
  let plain: Uint8Array = privateBlob
  if (argon !== undefined) {
    const k = argon2id(enc(PASS), salt, { t: argon.passes, m: argon.memory, p: 1, dkLen: 80 })
    plain = new Uint8Array(48)
    plain.set(privateBlob)
    const c = NodeCrypto_.createCipheriv("aes-256-cbc", k.subarray(0, 32), k.subarray(32, 48)).setAutoPadding(false)
    encrypted = new Uint8Array(Buffer.concat([c.update(plain), c.final()]))
    macKey = k.subarray(48)
  }
  const encryption = argon ? "aes256-cbc" : "none"
  const mac = hmac(sha256, macKey, Writer.build((w) =>
    w.string("ssh-ed25519").string(encryption).string(comment).string(key.blob).string(plain)
  ))
  return [
    "PuTTY-User-Key-File-3: ssh-ed25519",
    `Encryption: ${encryption}`,
    `Comment: ${comment}`,
    "Public-Lines: 1",
    b64(key.blob),
    ...(argon
      ? [
        "Key-Derivation: Argon2id",
        `Argon2-Memory: ${argon.memory}`,
        `Argon2-Passes: ${argon.passes}`,
        "Argon2-Parallelism: 1",
        `Argon2-Salt: ${Buffer.from(salt).toString("hex")}`
      ]
      : []),
    "Private-Lines: 1",
    b64(encrypted),
    `Private-MAC: ${Buffer.from(mac).toString("hex")}`,
    ""
  ].join("\n")
}

describe("Der", () => {
  it("integers, OIDs, octets and nesting round-trip; non-minimal and indefinite encodings are refused", () => {
    for (const v of [0n, 1n, 127n, 128n, 255n, 256n, (1n << 2047n) + 12345n]) {
      const r = Der.decode(Der.int(v), "x", (d) => d.uint("x"))
      assert.strictEqual(Either.getOrThrow(r), v)
    }
    for (const oid of ["1.2.840.113549.1.5.13", "2.16.840.1.101.3.4.1.42", "1.3.101.112", "0.9.2342"]) {
      assert.strictEqual(Either.getOrThrow(Der.decode(Der.oid(oid), "x", (d) => d.oid("x"))), oid)
    }
    const nested = Der.seq(Der.seq(Der.octets(new Uint8Array(300))), Der.null_())
    assert.strictEqual(Either.getOrThrow(Der.decode(nested, "x", (d) => d.seq("a").seq("b").octets("c").length)), 300)
    assert.strictEqual(reasonOf(Der.decode(Uint8Array.of(2, 2, 0, 1), "x", (d) => d.int("x"))), "Parse")
    assert.strictEqual(reasonOf(Der.decode(Uint8Array.of(0x30, 0x80, 0, 0), "x", (d) => d.seq("x"))), "Parse")
    assert.strictEqual(reasonOf(Der.decode(Uint8Array.of(0x04, 0x81, 5, 1, 2, 3, 4, 5), "x", (d) => d.octets("x"))), "Parse")
    // Nesting beyond MAX_DEPTH is refused, not followed.
    let deep = Der.null_()
    for (let i = 0; i < 40; i++) deep = Der.seq(deep)
    const walk = (d: Der.DerReader): number => (d.peek() === Der.Tag.Sequence ? 1 + walk(d.seq("s")) : 0)
    assert.strictEqual(reasonOf(Der.decode(deep, "x", walk)), "Parse")
  })
})

describe("PublicKey", () => {
  // ssh-keygen 9.2, `ssh-keygen -lv -f` of this key (a known-answer vector for the drunken bishop).
  const LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIXpXDCKOgdr6Qzb6eYDgqWx40dJBGAdBLi1gG5u88Xq me@x"
  const ART = [
    "+--[ED25519 256]--+",
    "|     ++o+ E. +O%=|",
    "|    . .=.*.+.o==O|",
    "|      o =o  .+++=|",
    "|     . +  o .o=..|",
    "|      + S. o =   |",
    "|     .    . o .  |",
    "|           .     |",
    "|                 |",
    "|                 |",
    "+----[SHA256]-----+"
  ].join("\n")

  it("fingerprint, describe and randomart of a known ssh-keygen output", () => {
    const key = Either.getOrThrow(PublicKey.parse(LINE))
    assert.strictEqual(PublicKey.describe(key), "256 SHA256:aJWxFaPoEWdA2H1uj9eEZ1xnEscQp2Z3HDYjHlEFpjA me@x (ED25519)")
    assert.strictEqual(PublicKey.fingerprint(key, "md5"), "MD5:04:f1:3c:fb:ea:ca:55:d8:9e:76:c4:41:b7:9e:84:80")
    assert.strictEqual(PublicKey.randomart(key), ART)
  })

  it("OpenSSH line, RFC 4716 (with a continued Comment header) and PKCS#8 forms round-trip", () => {
    const key = PrivateKey.publicKey(ec, "a comment that is long enough to need a continuation line in RFC 4716 output x")
    const rfc = PublicKey.formatRfc4716(key)
    assert.isTrue(rfc.split("\n").every((l) => l.length <= 72))
    assert.include(rfc, "\\\n")
    for (const text of [PublicKey.format(key), rfc]) {
      const back = Either.getOrThrow(PublicKey.parse(text))
      assert.deepStrictEqual(back.blob, key.blob)
      assert.strictEqual(back.comment, key.comment)
    }
    assert.deepStrictEqual(Either.getOrThrow(PublicKey.parse(PublicKey.formatPkcs8(key))).blob, key.blob)
    // A type label that is not the blob's type is refused.
    assert.strictEqual(reasonOf(PublicKey.parse(PublicKey.format(key).replace("ecdsa-sha2-nistp384", "ssh-ed25519"))), "Parse")
  })

  it.prop("never throws on random or mutated public key text (SEC-28)", [
    FastCheck.constantFrom(
      PublicKey.format(PrivateKey.publicKey(ed, "c")),
      PublicKey.formatRfc4716(PrivateKey.publicKey(ec, "c")),
      PublicKey.formatPkcs8(PrivateKey.publicKey(ec)),
      rsa.publicKey
    ),
    FastCheck.array(arbEdit, { maxLength: 6 }),
    FastCheck.string({ maxLength: 200 })
  ], ([text, edits, random]) => {
    assert.isTrue(isClean(PublicKey.parse(new TextDecoder().decode(mutate(enc(text), edits)))))
    assert.isTrue(isClean(PublicKey.parse(random)))
  }, { fastCheck: { numRuns } })
})

describe("PrivateKey formats", () => {
  it("RSA keys below 2 048 bits are Unsupported in every format; minRsaBits 1024 accepts them", () => {
    const small = NodeCrypto_.generateKeyPairSync("rsa", {
      modulusLength: 1024,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs1", format: "pem" }
    })
    const pkcs8 = NodeCrypto_.createPrivateKey(small.privateKey).export({ type: "pkcs8", format: "pem" }).toString()
    for (const text of [small.privateKey, pkcs8]) {
      const r = PrivateKey.parse(text)
      assert.strictEqual(reasonOf(r), "Unsupported")
      assert.match(Either.isLeft(r) ? r.left.message : "", /1024 bits is below the minimum of 2048/)
      assert.strictEqual(reasonOf(PrivateKey.parse(text, { minRsaBits: 1024 })), "ok")
    }
  })

  it("binary DER (PKCS#8, PKCS#1) parses like its PEM", () => {
    const der = NodeCrypto_.createPrivateKey(rsa.privateKey).export({ type: "pkcs8", format: "der" })
    const fromPem = Either.getOrThrow(PrivateKey.parse(rsa.privateKey))
    assert.deepStrictEqual(Either.getOrThrow(PrivateKey.parse(new Uint8Array(der))).material, fromPem.material)
    const pkcs1 = NodeCrypto_.createPrivateKey(rsa.privateKey).export({ type: "pkcs1", format: "der" })
    assert.deepStrictEqual(Either.getOrThrow(PrivateKey.parse(new Uint8Array(pkcs1))).material, fromPem.material)
  })

  it("public keys, DSA keys and garbage are refused with a message that says what the file is", () => {
    const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
      [PublicKey.format(PrivateKey.publicKey(ed)), "Parse", /public key/],
      ["-----BEGIN DSA PRIVATE KEY-----\nAA==\n-----END DSA PRIVATE KEY-----\n", "Unsupported", /DSA/],
      ["hello", "Parse", /not a private key/]
    ]
    for (const [text, reason, message] of cases) {
      const r = PrivateKey.parse(text)
      assert.strictEqual(reasonOf(r), reason)
      assert.match(Either.isLeft(r) ? r.left.message : "", message)
    }
  })

  it("PPK: the MAC is checked; a modified unencrypted file is Parse, a wrong passphrase is Passphrase", () => {
    const plain = ppkV3(undefined)
    assert.strictEqual(reasonOf(PrivateKey.parse(plain)), "ok")
    assert.strictEqual(reasonOf(PrivateKey.parse(plain.replace("Comment: c", "Comment: d"))), "Parse")
    const encrypted = ppkV3({ memory: 64, passes: 1 })
    assert.deepStrictEqual(Either.getOrThrow(PrivateKey.parse(encrypted, { passphrase: pass })).material, ed)
    assert.strictEqual(reasonOf(PrivateKey.parse(encrypted, { passphrase: Redacted.make("wrong") })), "Passphrase")
    assert.strictEqual(reasonOf(PrivateKey.parse(encrypted)), "Passphrase")
  })

  it("LIM-32: Argon2 memory and passes above the bounds are refused before the passphrase is used", () => {
    const file = ppkV3({ memory: 64, passes: 1 })
    const big = [
      file.replace("Argon2-Memory: 64", "Argon2-Memory: 4194304"),
      file.replace("Argon2-Passes: 1", "Argon2-Passes: 1000"),
      file.replace("Argon2-Memory: 64", "Argon2-Memory: 99999999999")
    ]
    for (const text of big) {
      // No passphrase needed to be refused, and a given one is never used: the answer is immediate.
      const r = PrivateKey.parse(text, { passphrase: pass })
      assert.strictEqual(reasonOf(r), "Unsupported")
      assert.match(Either.isLeft(r) ? r.left.message : "", /LIM-32/)
      assert.strictEqual(reasonOf(PrivateKey.parse(text)), "Unsupported")
    }
    assert.strictEqual(reasonOf(PrivateKey.parse(file, { passphrase: pass, maxArgon2MemoryKiB: 32 })), "Unsupported")
    assert.strictEqual(reasonOf(PrivateKey.parse(file, { passphrase: pass, maxArgon2Passes: 0 })), "Unsupported")
  })

  it("LIM-32: PBKDF2 iterations above the bound are refused before the passphrase is used", () => {
    const text = Either.getOrThrow(PrivateKey.encode(ec, { format: "pkcs8", passphrase: pass, iterations: 5000 }))
    assert.strictEqual(reasonOf(PrivateKey.parse(text, { passphrase: pass })), "ok")
    const r = PrivateKey.parse(text, { passphrase: pass, maxPbkdf2Iterations: 4999 })
    assert.strictEqual(reasonOf(r), "Unsupported")
    assert.match(Either.isLeft(r) ? r.left.message : "", /LIM-32/)
    assert.strictEqual(reasonOf(PrivateKey.parse(text, { maxPbkdf2Iterations: 4999 })), "Unsupported")
    // The default bound: 2³¹ iterations written by an attacker are refused at once.
    const huge = Either.getOrThrow(PrivateKey.encode(ec, { format: "pkcs8", passphrase: pass, iterations: 1 }))
    const der = Buffer.from(huge.split("\n").slice(1, -2).join(""), "base64")
    const at = der.indexOf(Buffer.from([0x02, 0x01, 0x01]))
    const patched = Buffer.concat([der.subarray(0, at), Buffer.from([0x02, 0x01, 0x7f]), der.subarray(at + 3)])
    assert.strictEqual(reasonOf(PrivateKey.parse(new Uint8Array(patched), { passphrase: pass, maxPbkdf2Iterations: 100 })), "Unsupported")
  })

  it("legacy-encrypted PEM: missing and wrong passphrases are Passphrase errors that never show the passphrase", () => {
    const { privateKey } = NodeCrypto_.generateKeyPairSync("ec", {
      namedCurve: "P-256",
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "sec1", format: "pem", cipher: "aes-256-cbc", passphrase: PASS }
    })
    for (const passphrase of [undefined, Redacted.make("not the passphrase")]) {
      const r = PrivateKey.parse(privateKey, { passphrase })
      assert.strictEqual(reasonOf(r), "Passphrase")
      assert.notInclude(Either.isLeft(r) ? r.left.message : "", "not the passphrase")
    }
  })

  const samples = (): ReadonlyArray<string> => [
    Either.getOrThrow(PrivateKey.encode(ed, { comment: "x" })),
    Either.getOrThrow(PrivateKey.encode(ec, { passphrase: pass, rounds: 1 })),
    Either.getOrThrow(PrivateKey.encode(ec, { format: "pkcs8" })),
    Either.getOrThrow(PrivateKey.encode(ed, { format: "pkcs8", passphrase: pass, iterations: 16 })),
    Either.getOrThrow(PrivateKey.encode(ec, { format: "pem" })),
    rsa.privateKey,
    NodeCrypto_.createPrivateKey(rsa.privateKey).export({ type: "pkcs1", format: "pem", cipher: "des-ede3-cbc", passphrase: PASS })
      .toString(),
    ppkV3(undefined),
    ppkV3({ memory: 16, passes: 1 })
  ]
  const limits = { passphrase: pass, maxKdfRounds: 4, maxPbkdf2Iterations: 64, maxArgon2MemoryKiB: 64, maxArgon2Passes: 2 }

  it("every sample parses (the fuzz below starts from valid files)", () => {
    for (const text of samples()) assert.strictEqual(reasonOf(PrivateKey.parse(text, limits)), "ok", text.split("\n")[0])
  })

  it.prop("never throws on mutated key files of every format (SEC-28)", [
    FastCheck.nat({ max: 8 }),
    FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 })
  ], ([which, edits]) => {
    const text = samples()[which]!
    // Edit the text (headers, armor) and, separately, the binary inside the armor.
    assert.isTrue(isClean(PrivateKey.parse(new TextDecoder().decode(mutate(enc(text), edits)), limits)))
    const lines = text.trimEnd().split("\n")
    if (lines[0]!.startsWith("-----BEGIN") && !text.includes("Proc-Type")) {
      const body = mutate(new Uint8Array(Buffer.from(lines.slice(1, -1).join(""), "base64")), edits)
      assert.isTrue(isClean(PrivateKey.parse(`${lines[0]}\n${b64(body)}\n${lines.at(-1)}\n`, limits)))
      assert.isTrue(isClean(PrivateKey.parse(body, limits)))
    }
  }, { fastCheck: { numRuns } })

  it.prop("never throws on random text or bytes (SEC-28)", [
    FastCheck.string({ maxLength: 300 }),
    FastCheck.uint8Array({ maxLength: 300 }),
    FastCheck.constantFrom("-----BEGIN PRIVATE KEY-----\n", "PuTTY-User-Key-File-3: ssh-rsa\n", "-----BEGIN EC PRIVATE KEY-----\n")
  ], ([text, bytes, prefix]) => {
    assert.isTrue(isClean(PrivateKey.parse(prefix + text, limits)))
    assert.isTrue(isClean(PrivateKey.parse(Uint8Array.of(0x30, ...bytes), limits)))
    assert.isTrue(isClean(PrivateKey.parse(`${prefix}${b64(bytes)}\n${prefix.replace("BEGIN", "END")}`, limits)))
  }, { fastCheck: { numRuns } })
})
