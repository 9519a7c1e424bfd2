/**
 * Certificate decoding, issuing and validation (PROTOCOL.certkeys; SEC-65, SEC-66, SEC-67): certificates issued by
 * `ssh-keygen -s` decode to the fields `ssh-keygen -L` prints and validate as OpenSSH would; certificates we issue
 * are read back by `ssh-keygen -L`; every refusal names its reason; decoding never throws on random or mutated
 * blobs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import * as FastCheck from "effect/FastCheck"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import type { PrivateKeyMaterial } from "../../../src/crypto/Backend.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import { PortableCrypto } from "../../../src/crypto/portable/PortableCrypto.js"
import * as Certificate from "../../../src/keys/Certificate.js"
import * as CertificateAddress from "../../../src/keys/CertificateAddress.js"
import { parsePrivateKey } from "../../../src/keys/PrivateKey.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import * as Writer from "../../../src/wire/Writer.js"
import { arbEdit, mutate } from "../../helpers/Fuzz.js"

const numRuns = process.env.FUZZ ? 100_000 : 100
const SSH_KEYGEN = "/usr/bin/ssh-keygen"
const haveKeygen = fs.existsSync(SSH_KEYGEN)
if (!haveKeygen && process.env.CI) throw new Error(`${SSH_KEYGEN} is required when CI is set`)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cert-test-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))
const keygen = (...args: Array<string>): string =>
  execFileSync(SSH_KEYGEN, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

const KEY_TYPES = [
  ["ed25519", ["-t", "ed25519"]],
  ["ecdsa256", ["-t", "ecdsa", "-b", "256"]],
  ["ecdsa384", ["-t", "ecdsa", "-b", "384"]],
  ["ecdsa521", ["-t", "ecdsa", "-b", "521"]],
  ["rsa", ["-t", "rsa", "-b", "2048"]]
] as const

let counter = 0
/** A fresh key pair from ssh-keygen: its file path and parsed private key. */
const newKey = (args: ReadonlyArray<string>): { file: string; key: PrivateKeyMaterial; pub: Uint8Array } => {
  const file = path.join(tmp, `k${counter++}`)
  keygen(...args, "-q", "-N", "", "-C", "", "-f", file)
  const parsed = parsePrivateKey(fs.readFileSync(file, "utf8"))
  if (Either.isLeft(parsed)) throw parsed.left
  return { file, key: parsed.right.material, pub: parsed.right.publicKey }
}
const keys = haveKeygen ? Object.fromEntries(KEY_TYPES.map(([n, a]) => [n, newKey(a)])) : {}
const ca = haveKeygen ? newKey(["-t", "ed25519"]) : undefined!
const otherCa = haveKeygen ? newKey(["-t", "ecdsa", "-b", "256"]) : undefined!

/** `ssh-keygen -s ca -I id … key.pub` → the decoded certificate. */
const keygenCert = (
  subject: { file: string },
  args: ReadonlyArray<string>,
  signer: { file: string } = ca
): Certificate.Certificate => {
  keygen("-q", "-s", signer.file, "-I", "test-id", ...args, `${subject.file}.pub`)
  const text = fs.readFileSync(`${subject.file}-cert.pub`, "utf8")
  return Either.getOrThrow(Certificate.fromText(text))
}

const NOW = 1_750_000_000n
const validate = (cert: Certificate.Certificate, o: Partial<Certificate.ValidateOptions> = {}) =>
  Certificate.validate(PortableCrypto, cert, NOW, { type: cert.type, principals: ["alice"], ...o })
const reasonOf = (r: Either.Either<unknown, Certificate.CertificateError>) => Either.isLeft(r) ? r.left.reason : "Valid"

describe.skipIf(!haveKeygen)("Certificate ↔ ssh-keygen", () => {
  for (const [name] of KEY_TYPES) {
    it(`decodes and validates ssh-keygen's ${name} user certificate`, () => {
      const k = keys[name]!
      const cert = keygenCert(k, ["-n", "alice,bob", "-z", "42", "-O", "force-command=echo hi", "-O", "source-address=127.0.0.0/8,::1"])
      assert.strictEqual(cert.type, "user")
      assert.strictEqual(cert.keyId, "test-id")
      assert.strictEqual(cert.serial, 42n)
      assert.deepStrictEqual(cert.principals, ["alice", "bob"])
      assert.strictEqual(cert.validAfter, 0n)
      assert.strictEqual(cert.validBefore, Certificate.FOREVER)
      assert.deepStrictEqual(cert.publicKeyBlob, k.pub)
      assert.isTrue(Certificate.certifies(cert, k.key))
      assert.deepStrictEqual(cert.signatureKey, ca.pub)
      const ok = validate(cert, { sourceAddress: "127.0.0.1", trustedCaKeys: [ca.pub] })
      assert.isTrue(Either.isRight(ok))
      const v = Either.getOrThrow(ok)
      assert.strictEqual(v.forceCommand, "echo hi")
      assert.strictEqual(v.sourceAddress, "127.0.0.0/8,::1")
      assert.includeMembers([...v.extensions], ["permit-pty", "permit-port-forwarding"])
      // The signature under the certificate algorithm is made by the certified key (SEC-65 (8)).
      const data = new TextEncoder().encode("session data")
      for (const alg of HostKey.certAlgorithmsForKey(k.key).filter((a) => a !== "ssh-rsa-cert-v01@openssh.com")) {
        const sig = HostKey.sign(PortableCrypto, alg, k.key, data)
        assert.isTrue(HostKey.verify(PortableCrypto, alg, cert.blob, data, sig), alg)
        // A signature by another key of the same type does not verify under this certificate (SEC-65 (8)).
        const stranger = NodeCrypto.generateKey(
          k.key.type === "ecdsa" ? { type: "ecdsa", curve: k.key.curve } : k.key.type === "rsa" ? { type: "rsa", bits: 2048 } : { type: "ed25519" }
        )
        assert.isFalse(HostKey.verify(PortableCrypto, alg, cert.blob, data, HostKey.sign(PortableCrypto, alg, stranger, data)))
      }
    })
  }

  it("SEC-65: expired, not yet valid, wrong principal, wrong CA, wrong type, as OpenSSH refuses them", () => {
    const k = keys.ed25519!
    // -V with absolute times: valid_before is exclusive.
    const expired = keygenCert(k, ["-n", "alice", "-V", "20200101:20210101"])
    assert.strictEqual(reasonOf(validate(expired)), "Expired")
    const future = keygenCert(k, ["-n", "alice", "-V", "20990101:21000101"])
    assert.strictEqual(reasonOf(validate(future)), "NotYetValid")
    const bob = keygenCert(k, ["-n", "bob"])
    assert.strictEqual(reasonOf(validate(bob)), "PrincipalMismatch")
    const none = keygenCert(k, [])
    assert.deepStrictEqual(none.principals, [])
    assert.strictEqual(reasonOf(validate(none)), "NoPrincipals")
    const byOther = keygenCert(k, ["-n", "alice"], otherCa)
    assert.strictEqual(reasonOf(validate(byOther, { trustedCaKeys: [ca.pub] })), "UntrustedCa")
    assert.strictEqual(reasonOf(validate(byOther, { trustedCaKeys: [otherCa.pub] })), "Valid")
    const host = keygenCert(k, ["-h", "-n", "alice"])
    assert.strictEqual(host.type, "host")
    assert.strictEqual(reasonOf(validate(host, { type: "user" })), "WrongType")
    const badSource = keygenCert(k, ["-n", "alice", "-O", "source-address=10.0.0.0/8"])
    assert.strictEqual(reasonOf(validate(badSource, { sourceAddress: "127.0.0.1" })), "SourceAddress")
    assert.strictEqual(reasonOf(validate(badSource, { sourceAddress: "10.1.2.3" })), "Valid")
    assert.strictEqual(reasonOf(validate(badSource)), "SourceAddress")
  })

  it("SEC-63: host certificate principals are host patterns", () => {
    const cert = keygenCert(keys.ecdsa256!, ["-h", "-n", "*.example.com,host.test"])
    const v = (host: string) => reasonOf(validate(cert, { type: "host", principals: [host] }))
    assert.strictEqual(v("a.example.com"), "Valid")
    assert.strictEqual(v("A.EXAMPLE.COM"), "Valid")
    assert.strictEqual(v("host.test"), "Valid")
    assert.strictEqual(v("evil.org"), "PrincipalMismatch")
    assert.strictEqual(v("example.com"), "PrincipalMismatch")
  })

  for (const [name] of KEY_TYPES) {
    it(`ssh-keygen -L reads the ${name} certificates we issue (user and host, with options)`, () =>
      Effect.gen(function*() {
        const k = keys[name]!
        const rsaCa = keys.rsa!
        for (const signer of [ca, rsaCa]) {
          const cert = yield* Certificate.sign({
            key: k.pub,
            caKey: signer.key,
            type: name === "rsa" ? "host" : "user",
            keyId: "our id",
            principals: ["alice", "h.example.com"],
            validAfter: new Date("2024-01-01T00:00:00Z"),
            validBefore: new Date("2030-01-01T00:00:00Z"),
            serial: 7n,
            criticalOptions: name === "rsa" ? {} : { "force-command": "echo hi", "source-address": "127.0.0.1/32" }
          })
          const file = path.join(tmp, `ours${counter++}-cert.pub`)
          fs.writeFileSync(file, Certificate.toText(cert, "comment") + "\n")
          const out = keygen("-L", "-f", file)
          assert.include(out, `Type: ${cert.certType} ${name === "rsa" ? "host" : "user"} certificate`)
          assert.include(out, `Signing CA: ${signer === ca ? "ED25519" : "RSA"} ${HostKey.fingerprintSha256(signer.pub)}`)
          if (signer === rsaCa) assert.include(out, "(using rsa-sha2-512)")
          assert.include(out, 'Key ID: "our id"')
          assert.include(out, "Serial: 7")
          assert.include(out, "Valid: from 2024-01-01")
          assert.match(out, /Principals: \n\s+alice\n\s+h\.example\.com/)
          if (name !== "rsa") {
            assert.match(out, /force-command echo hi/)
            assert.match(out, /source-address 127\.0\.0\.1\/32/)
            assert.match(out, /permit-pty/)
          }
          assert.strictEqual(reasonOf(Certificate.validate(PortableCrypto, cert, NOW, { type: cert.type, sourceAddress: "127.0.0.1" })), "Valid")
        }
      }).pipe(Effect.runPromise))
  }
})

describe("Certificate validation rules (freshly signed certificates)", () => {
  const caPriv = NodeCrypto.generateKey({ type: "ed25519" })
  const userPriv = NodeCrypto.generateKey({ type: "ed25519" })
  const caBlob = HostKey.encodePublicKey(HostKey.publicKeyOf(caPriv))
  const issue = (o: Partial<Certificate.SignOptions> = {}) =>
    Either.getOrThrow(Certificate.signWith(PortableCrypto, {
      key: userPriv,
      caKey: caPriv,
      type: "user",
      keyId: "id",
      principals: ["alice"],
      ...o
    }))
  const check = (cert: Certificate.Certificate, o: Partial<Certificate.ValidateOptions> = {}) =>
    reasonOf(validate(cert, { trustedCaKeys: [caBlob], sourceAddress: "127.0.0.1", ...o }))

  it("SEC-65 (6): unknown critical option foo@example.com → refused; unknown extension → ignored", () => {
    assert.strictEqual(check(issue({ criticalOptions: { "foo@example.com": "x" } })), "CriticalOption")
    assert.strictEqual(check(issue({ extensions: { "foo@example.com": true } })), "Valid")
  })

  it("SEC-65 (6): force-command twice → refused at decoding; trailing data inside an option → refused", () => {
    const cert = issue({ criticalOptions: { "force-command": "a" } })
    const opt = Writer.build((w) => w.string("force-command").string(Writer.build((v) => v.string("a"))))
    const twice = Writer.build((w) => w.raw(opt).raw(opt))
    const rebuilt = resign(cert, caPriv, twice)
    assert.strictEqual(reasonOf(rebuilt), "Malformed")
    const trailing = Writer.build((w) => w.string("force-command").string(Writer.build((v) => v.string("a").byte(0))))
    assert.strictEqual(check(Either.getOrThrow(resign(cert, caPriv, trailing))), "CriticalOption")
  })

  it("SEC-65 (4): valid_before = now → refused; valid_after = now + 60 → refused; valid_before = 2^64−1 → valid", () => {
    assert.strictEqual(check(issue({ validBefore: NOW })), "Expired")
    assert.strictEqual(check(issue({ validBefore: NOW + 1n })), "Valid")
    assert.strictEqual(check(issue({ validAfter: NOW + 60n })), "NotYetValid")
    assert.strictEqual(check(issue({ validAfter: NOW })), "Valid")
    assert.strictEqual(check(issue({ validBefore: Certificate.FOREVER })), "Valid")
  })

  it("SEC-65 (5): principals [] → refused; [\"*\"] for alice → refused; [\"alice \"] → refused", () => {
    assert.strictEqual(check(issue({ principals: [] })), "NoPrincipals")
    assert.strictEqual(check(issue({ principals: ["*"] })), "PrincipalMismatch")
    assert.strictEqual(check(issue({ principals: ["alice "] })), "PrincipalMismatch")
    assert.strictEqual(check(issue({ principals: ["alice,bob"] }), { principals: ["alice"] }), "PrincipalMismatch")
  })

  it("SEC-65 (3): a host certificate used for user authentication → refused", () => {
    assert.strictEqual(check(issue({ type: "host" }), { type: "user" }), "WrongType")
  })

  it("SEC-65 (2): a CA signature with ssh-rsa (SHA-1) → refused by default, accepted when enabled", () => {
    const rsa = NodeCrypto.generateKey({ type: "rsa", bits: 2048 })
    const cert = issue({ caKey: rsa, signatureAlgorithm: "ssh-rsa" })
    const rsaBlob = HostKey.encodePublicKey(HostKey.publicKeyOf(rsa))
    assert.strictEqual(check(cert, { trustedCaKeys: [rsaBlob] }), "SignatureAlgorithm")
    assert.strictEqual(check(cert, { trustedCaKeys: [rsaBlob], caSignatureAlgorithms: ["ssh-rsa"] }), "Valid")
  })

  it("SEC-65: 257 principals → refused; a tampered body → BadSignature", () => {
    assert.strictEqual(
      reasonOf(Certificate.signWith(PortableCrypto, { key: userPriv, caKey: caPriv, type: "user", keyId: "", principals: Array.from({ length: 257 }, (_, i) => `u${i}`) })),
      "InvalidRequest"
    )
    const cert = issue()
    const raw = Writer.build((w) => w.raw(cert.signed.subarray(0, cert.signed.length)).string(cert.signature))
    assert.strictEqual(check(Either.getOrThrow(Certificate.decode(raw))), "Valid")
    // Flip one byte of the key id ("id" → "ie").
    const tampered = raw.slice()
    const at = indexOf(tampered, new TextEncoder().encode("id"))
    tampered[at + 1] = "e".charCodeAt(0)
    assert.strictEqual(check(Either.getOrThrow(Certificate.decode(tampered))), "BadSignature")
  })

  it("SEC-65 (2): a signature key nested 1 000 certificates deep → refused by its declared type, fast", () => {
    const head = issue().signed.subarray(0, issue().signed.length - (4 + caBlob.length))
    let blob = issue().blob
    for (let i = 0; i < 1000; i++) {
      const inner = blob
      blob = Writer.build((w) => w.raw(head).string(inner).string(new Uint8Array(8)))
    }
    const start = performance.now()
    const r = Certificate.decode(blob)
    assert.isBelow(performance.now() - start, 2000)
    assert.strictEqual(reasonOf(r), "Malformed")
    assert.match(Either.isLeft(r) ? r.left.description : "", /itself a certificate/)
  })

  it("SEC-66: source-address 10.0.0.0/8 from 127.0.0.1 → refused; empty → refused; 10.0.0.1/33 → refused", () => {
    assert.strictEqual(check(issue({ criticalOptions: { "source-address": "10.0.0.0/8" } })), "SourceAddress")
    assert.strictEqual(check(issue({ criticalOptions: { "source-address": "" } })), "SourceAddress")
    assert.strictEqual(check(issue({ criticalOptions: { "source-address": "10.0.0.1/33" } })), "SourceAddress")
    assert.strictEqual(check(issue({ criticalOptions: { "source-address": "127.0.0.1/8" } })), "SourceAddress")
    assert.strictEqual(check(issue({ criticalOptions: { "source-address": "10.0.0.0/8,127.0.0.0/8" } })), "Valid")
    assert.strictEqual(
      check(issue({ criticalOptions: { "source-address": "127.0.0.0/8" } }), { sourceAddress: "::ffff:127.0.0.1" }),
      "Valid"
    )
    assert.strictEqual(check(issue({ criticalOptions: { "source-address": "::1" } }), { sourceAddress: "::1" }), "Valid")
    assert.strictEqual(check(issue({ criticalOptions: { "source-address": "127.0.0.0/8" } }), { sourceAddress: undefined }), "SourceAddress")
  })

  it("SEC-67: the certified key or its CA listed as revoked → refused", () => {
    const cert = issue()
    assert.strictEqual(check(cert, { revokedKeys: [caBlob] }), "Revoked")
    assert.strictEqual(check(cert, { revokedKeys: [cert.publicKeyBlob] }), "Revoked")
  })

  it.effect("check reads the time from the Clock (TestClock)", () =>
    Effect.gen(function*() {
      const cert = issue({ validAfter: 1000n, validBefore: 2000n })
      const at = (s: number) =>
        Effect.gen(function*() {
          yield* TestClock.setTime(s * 1000)
          return yield* Certificate.check(cert, { type: "user", principals: ["alice"] }).pipe(
            Effect.map(() => "Valid" as string),
            Effect.catchAll((e) => Effect.succeed(e.reason as string))
          )
        })
      assert.strictEqual(yield* at(999), "NotYetValid")
      assert.strictEqual(yield* at(1000), "Valid")
      assert.strictEqual(yield* at(1999), "Valid")
      assert.strictEqual(yield* at(2000), "Expired")
    }))

  it.prop("decode never throws on random bytes", [FastCheck.uint8Array({ maxLength: 512 })], ([bytes]) => {
    assert.isTrue(Either.isEither(Certificate.decode(bytes)))
  }, { fastCheck: { numRuns } })

  it.prop("decode never throws on mutated certificates", [FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 })], ([edits]) => {
    const r = Certificate.decode(mutate(issue({ criticalOptions: { "force-command": "x" } }).blob, edits))
    assert.isTrue(Either.isEither(r))
    if (Either.isRight(r)) assert.isTrue(Either.isEither(validate(r.right)))
  }, { fastCheck: { numRuns } })
})

describe("CertificateAddress (SEC-66, SEC-68)", () => {
  it("parses strictly", () => {
    const ok = ["10.0.0.0/8", "127.0.0.1", "::1", "fe80::/10", "::ffff:10.0.0.0/104", "2001:db8::1/128", "0.0.0.0/0"]
    for (const s of ok) assert.isTrue(Either.isRight(CertificateAddress.parseCidrList(s)), s)
    const bad = ["", ",", "10.0.0.0/8,", "10.0.0.1/8", "10.0.0.0/33", "256.0.0.0", "010.0.0.1", "1.2.3", "::1::", "1:2:3:4:5:6:7:8:9", "::/129", "10.0.0.0/ 8", " 10.0.0.0/8", "fe80::1%eth0"]
    for (const s of bad) assert.isTrue(Either.isLeft(CertificateAddress.parseCidrList(s)), s)
  })
  it("matches addresses", () => {
    const list = Either.getOrThrow(CertificateAddress.parseCidrList("10.0.0.0/8,2001:db8::/32"))
    assert.isTrue(CertificateAddress.matches(list, "10.255.0.1"))
    assert.isTrue(CertificateAddress.matches(list, "::ffff:10.1.1.1"))
    assert.isTrue(CertificateAddress.matches(list, "2001:db8:1::5"))
    assert.isFalse(CertificateAddress.matches(list, "11.0.0.1"))
    assert.isFalse(CertificateAddress.matches(list, "2001:db9::1"))
    assert.isFalse(CertificateAddress.matches(list, "not an address"))
  })
})

/** Rebuilds `cert` (same key, same CA) with raw critical options, signed afresh by `caPriv`. */
function resign(cert: Certificate.Certificate, caPriv: PrivateKeyMaterial, critical: Uint8Array) {
  const body = Writer.build((w) => {
    w.string(cert.certType).string(cert.nonce)
    if (cert.publicKey.type === "ed25519") w.string(cert.publicKey.publicKey)
    w.uint64(0n).uint32(1).string("id").string(Writer.build((p) => p.string("alice")))
    w.uint64(0n).uint64(Certificate.FOREVER).string(critical).string(new Uint8Array(0)).string(new Uint8Array(0))
    w.string(cert.signatureKey)
  })
  return Certificate.decode(Writer.build((w) => w.raw(body).string(HostKey.sign(PortableCrypto, "ssh-ed25519", caPriv, body))))
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}
