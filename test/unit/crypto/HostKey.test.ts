import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as NodeCrypto from "node:crypto"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import type { NistCurve, PrivateKeyMaterial } from "../../../src/crypto/Backend.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import * as Writer from "../../../src/wire/Writer.js"
import { backends } from "../../helpers/Backends.js"

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const b64big = (s: string | undefined): bigint => BigInt("0x" + Buffer.from(s!, "base64url").toString("hex"))
const CURVES: ReadonlyArray<NistCurve> = ["nistp256", "nistp384", "nistp521"]
const numRuns = process.env.FUZZ ? 100_000 : 100

const nodeRsa = (bits: number): Extract<PrivateKeyMaterial, { type: "rsa" }> => {
  const jwk = NodeCrypto.generateKeyPairSync("rsa", { modulusLength: bits }).privateKey.export({ format: "jwk" })
  return { type: "rsa", n: b64big(jwk.n), e: b64big(jwk.e), d: b64big(jwk.d), p: b64big(jwk.p), q: b64big(jwk.q), iqmp: b64big(jwk.qi) }
}

// One key per family: Ed25519 and ECDSA from each backend, RSA from OpenSSL (fast to generate).
const rsa = nodeRsa(2048)
const keys: ReadonlyArray<{ readonly origin: string; readonly key: PrivateKeyMaterial }> = [
  ...backends.flatMap((b) => [
    { origin: b.name, key: b.generateKey({ type: "ed25519" }) },
    ...CURVES.map((curve) => ({ origin: b.name, key: b.generateKey({ type: "ecdsa", curve }) }))
  ]),
  { origin: "node", key: rsa }
]
const blobOf = (key: PrivateKeyMaterial) => HostKey.encodePublicKey(HostKey.publicKeyOf(key))
const data = enc("exchange hash H")

describe("HostKey: sign and verify every algorithm on every backend, crossed", () => {
  for (const { key, origin } of keys) {
    for (const algorithm of HostKey.algorithmsForKey(key)) {
      for (const signer of backends) {
        it(`${algorithm} (${origin} key) signed on ${signer.name}, verified on both`, () => {
          const blob = blobOf(key)
          const sig = HostKey.sign(signer, algorithm, key, data)
          for (const verifier of backends) {
            assert.isTrue(HostKey.verify(verifier, algorithm, blob, data, sig))
            assert.isFalse(HostKey.verify(verifier, algorithm, blob, enc("exchange hash h"), sig))
          }
        })
      }
    }
  }

  it("public keys round-trip through their blobs", () => {
    for (const { key } of keys) {
      const pub = HostKey.publicKeyOf(key)
      const decoded = HostKey.decodePublicKey(HostKey.encodePublicKey(pub))
      assert.deepStrictEqual(decoded, Either.right({ keyType: HostKey.keyTypeOf(key), material: pub }))
    }
  })

  it("keyTypeForAlgorithm and algorithmsForKey", () => {
    assert.strictEqual(HostKey.keyTypeForAlgorithm("rsa-sha2-512"), "ssh-rsa")
    assert.strictEqual(HostKey.keyTypeForAlgorithm("rsa-sha2-256"), "ssh-rsa")
    assert.strictEqual(HostKey.keyTypeForAlgorithm("ssh-rsa"), "ssh-rsa")
    assert.strictEqual(HostKey.keyTypeForAlgorithm("ecdsa-sha2-nistp384"), "ecdsa-sha2-nistp384")
    assert.isUndefined(HostKey.keyTypeForAlgorithm("ssh-dss"))
    assert.deepStrictEqual(HostKey.algorithmsForKey(rsa), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"])
  })
})

describe("HostKey: SEC-19 / SEC-25 negative cases", () => {
  const ed = keys.find((k) => k.key.type === "ed25519")!.key
  const ec256 = keys.find((k) => k.key.type === "ecdsa" && k.key.curve === "nistp256")!.key
  const ec384 = keys.find((k) => k.key.type === "ecdsa" && k.key.curve === "nistp384")!.key
  const sigBlob = (name: string, sig: Uint8Array) => Writer.build((w) => w.string(name).string(sig))

  for (const backend of backends) {
    it(`SEC-19: ${backend.name} rejects an ssh-rsa signature when rsa-sha2-512 was negotiated, and vice versa`, () => {
      const sha1 = HostKey.sign(backend, "ssh-rsa", rsa, data)
      assert.isFalse(HostKey.verify(backend, "rsa-sha2-512", blobOf(rsa), data, sha1))
      const sha512 = HostKey.sign(backend, "rsa-sha2-512", rsa, data)
      assert.isFalse(HostKey.verify(backend, "ssh-rsa", blobOf(rsa), data, sha512))
      assert.isFalse(HostKey.verify(backend, "rsa-sha2-256", blobOf(rsa), data, sha512))
    })

    it(`SEC-19: ${backend.name} rejects an ECDSA key for ssh-ed25519 and an Ed25519 key for ECDSA`, () => {
      const sig = HostKey.sign(backend, "ecdsa-sha2-nistp256", ec256, data)
      assert.isFalse(HostKey.verify(backend, "ssh-ed25519", blobOf(ec256), data, sig))
      assert.isFalse(HostKey.verify(backend, "ssh-ed25519", blobOf(ec256), data, sigBlob("ssh-ed25519", sig)))
      const edSig = HostKey.sign(backend, "ssh-ed25519", ed, data)
      assert.isFalse(HostKey.verify(backend, "ecdsa-sha2-nistp256", blobOf(ed), data, edSig))
      assert.isFalse(HostKey.verify(backend, "rsa-sha2-512", blobOf(ed), data, edSig))
    })

    it(`SEC-25: ${backend.name} rejects a flipped bit anywhere in a signature blob`, () => {
      for (const key of [ed, ec256, rsa]) {
        const algorithm = HostKey.algorithmsForKey(key)[0]!
        const sig = HostKey.sign(backend, algorithm, key, data)
        for (const i of [0, 3, 4, sig.length - 40, sig.length - 1]) {
          const flipped = sig.slice()
          flipped[i]! ^= 0x01
          assert.isFalse(HostKey.verify(backend, algorithm, blobOf(key), data, flipped), `${algorithm} byte ${i}`)
        }
      }
    })

    it(`SEC-25: ${backend.name} rejects a 31-byte Ed25519 key, a 63-byte signature and trailing bytes`, () => {
      const pub = HostKey.publicKeyOf(ed)
      if (pub.type !== "ed25519") return assert.fail("not ed25519")
      const short = Writer.build((w) => w.string("ssh-ed25519").string(pub.publicKey.subarray(1)))
      assert.isTrue(Either.isLeft(HostKey.decodePublicKey(short)))
      const sig = HostKey.sign(backend, "ssh-ed25519", ed, data)
      assert.isFalse(HostKey.verify(backend, "ssh-ed25519", short, data, sig))
      const raw = sig.subarray(sig.length - 64)
      assert.isFalse(HostKey.verify(backend, "ssh-ed25519", blobOf(ed), data, sigBlob("ssh-ed25519", raw.subarray(1))))
      assert.isFalse(HostKey.verify(backend, "ssh-ed25519", blobOf(ed), data, new Uint8Array([...sig, 0])))
      assert.isTrue(Either.isLeft(HostKey.decodePublicKey(new Uint8Array([...blobOf(ed), 0]))))
    })

    it(`SEC-25: ${backend.name} rejects a nistp256 name with a P-384 blob`, () => {
      if (ec384.type !== "ecdsa") return assert.fail("not ecdsa")
      const lying = Writer.build((w) => w.string("ecdsa-sha2-nistp256").string("nistp384").string(ec384.q))
      const wrongPoint = Writer.build((w) => w.string("ecdsa-sha2-nistp256").string("nistp256").string(ec384.q))
      assert.isTrue(Either.isLeft(HostKey.decodePublicKey(lying)))
      assert.isTrue(Either.isLeft(HostKey.decodePublicKey(wrongPoint)))
      const sig = HostKey.sign(backend, "ecdsa-sha2-nistp384", ec384, data)
      assert.isFalse(HostKey.verify(backend, "ecdsa-sha2-nistp256", lying, data, sig))
      assert.isFalse(HostKey.verify(backend, "ecdsa-sha2-nistp256", blobOf(ec384), data, sig))
      assert.isFalse(HostKey.verify(backend, "ecdsa-sha2-nistp384", blobOf(ec384), data, sigBlob("ecdsa-sha2-nistp256", sig)))
    })

    it(`SEC-25: ${backend.name} rejects ECDSA r = 0, s = 0 and s ≥ n`, () => {
      const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
      const rs = (r: bigint, s: bigint) => sigBlob("ecdsa-sha2-nistp256", Writer.build((w) => w.mpint(r).mpint(s)))
      for (const [r, s] of [[0n, 1n], [1n, 0n], [1n, n], [n, 1n], [n + 1n, 1n]] as const) {
        assert.isFalse(HostKey.verify(backend, "ecdsa-sha2-nistp256", blobOf(ec256), data, rs(r, s)))
      }
    })
  }

  it("SEC-25: an RSA signature one byte shorter than the modulus is left-padded and accepted; one byte longer is rejected", () => {
    let raw: Uint8Array = new Uint8Array(0)
    let signed: Uint8Array = new Uint8Array(0)
    for (let i = 0; raw[0] !== 0; i++) {
      signed = enc(`data ${i}`)
      raw = backends[1]!.rsaSign(rsa, "sha512", signed)
    }
    for (const backend of backends) {
      const short = sigBlob("rsa-sha2-512", raw.subarray(1))
      assert.isTrue(HostKey.verify(backend, "rsa-sha2-512", blobOf(rsa), signed, short))
      const long = sigBlob("rsa-sha2-512", new Uint8Array([0, ...raw]))
      assert.isFalse(HostKey.verify(backend, "rsa-sha2-512", blobOf(rsa), signed, long))
    }
  })

  it("LIM-15: RSA moduli below the minimum (default 2048, floor 1024) and exponents that are even or < 3 are refused", () => {
    const k1024 = HostKey.publicKeyOf(nodeRsa(1024))
    const k768 = HostKey.publicKeyOf(nodeRsa(768))
    assert.isTrue(Either.isLeft(HostKey.decodePublicKey(HostKey.encodePublicKey(k1024))))
    assert.isTrue(Either.isRight(HostKey.decodePublicKey(HostKey.encodePublicKey(k1024), { minRsaBits: 1024 })))
    assert.isTrue(Either.isLeft(HostKey.decodePublicKey(HostKey.encodePublicKey(k768), { minRsaBits: 512 })))
    assert.isTrue(Either.isLeft(HostKey.decodePublicKey(HostKey.encodePublicKey({ type: "rsa", n: rsa.n, e: 1n }))))
    assert.isTrue(Either.isLeft(HostKey.decodePublicKey(HostKey.encodePublicKey({ type: "rsa", n: rsa.n, e: 65536n }))))
    const huge = Writer.build((w) => w.string("ssh-rsa").mpint(65537n).mpint(2n ** 16385n - 1n))
    assert.isTrue(Either.isLeft(HostKey.decodePublicKey(huge)))
  })

  it("unknown key types and algorithms are refused", () => {
    const dss = Writer.build((w) => w.string("ssh-dss").mpint(3n).mpint(5n))
    assert.isTrue(Either.isLeft(HostKey.decodePublicKey(dss)))
    assert.isFalse(HostKey.verify(backends[0]!, "ssh-dss", dss, data, sigBlob("ssh-dss", new Uint8Array(40))))
    assert.throws(() => HostKey.sign(backends[0]!, "ssh-ed25519", rsa, data))
    for (const name of ["constructor", "__proto__", "toString"]) {
      assert.isUndefined(HostKey.keyTypeForAlgorithm(name))
      const blob = Writer.build((w) => w.string(name).string("nistp256").string(new Uint8Array(65)))
      assert.isTrue(Either.isLeft(HostKey.decodePublicKey(blob)))
      assert.isFalse(HostKey.verify(backends[0]!, name, blob, data, sigBlob(name, new Uint8Array(64))))
    }
  })

  it.prop("verify never throws and is false on garbage", [FastCheck.uint8Array(), FastCheck.uint8Array()], ([key, sig]) => {
    for (const algorithm of ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512"]) {
      assert.isFalse(HostKey.verify(backends[0]!, algorithm, key, data, sig))
    }
  }, { fastCheck: { numRuns } })

  const signed = [ed, ec256].map((key) => [key, HostKey.sign(backends[0]!, HostKey.algorithmsForKey(key)[0]!, key, data)] as const)
  it.prop(
    "a mutated valid signature blob never verifies",
    [FastCheck.nat(), FastCheck.integer({ min: 0, max: 7 })],
    ([pos, bit]) => {
      for (const [key, valid] of signed) {
        const algorithm = HostKey.algorithmsForKey(key)[0]!
        const sig = valid.slice()
        sig[pos % sig.length]! ^= 1 << bit
        assert.isFalse(HostKey.verify(backends[0]!, algorithm, blobOf(key), data, sig))
      }
    },
    { fastCheck: { numRuns } }
  )
})

// Interop with OpenSSH's ssh-keygen (fingerprints, SSHSIG signatures both ways).
const SSH_KEYGEN = "/usr/bin/ssh-keygen"
const haveKeygen = existsSync(SSH_KEYGEN)
if (!haveKeygen && process.env.CI) throw new Error(`${SSH_KEYGEN} is required in CI`)
if (!haveKeygen) console.warn(`SKIPPING ssh-keygen interop tests: ${SSH_KEYGEN} not found`)

describe.skipIf(!haveKeygen)("HostKey ↔ ssh-keygen", () => {
  const dir = mkdtempSync(join(tmpdir(), "hostkey-test-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const keygen = (args: ReadonlyArray<string>, input?: string) =>
    execFileSync(SSH_KEYGEN, args, { encoding: "utf8", input: input ?? "", stdio: ["pipe", "pipe", "pipe"] })
  const sshsigData = (namespace: string, message: Uint8Array) =>
    Writer.build((w) => w.raw(enc("SSHSIG")).string(namespace).string("").string("sha512").string(NodeCrypto.createHash("sha512").update(message).digest()))

  const types = [["ed25519", []], ["ecdsa", ["-b", "256"]], ["ecdsa", ["-b", "384"]], ["ecdsa", ["-b", "521"]], ["rsa", ["-b", "2048"]]] as const
  for (const [type, extra] of types) {
    const name = `${type}${extra[1] ?? ""}`
    it(`fingerprints and decoding match ssh-keygen -l for ${name}; its SSHSIG signature verifies`, () => {
      const file = join(dir, name)
      keygen(["-q", "-t", type, ...extra, "-N", "", "-C", "test", "-f", file])
      const blob = new Uint8Array(Buffer.from(readFileSync(`${file}.pub`, "utf8").split(" ")[1]!, "base64"))
      assert.strictEqual(HostKey.fingerprintSha256(blob), keygen(["-l", "-f", `${file}.pub`]).split(" ")[1])
      assert.strictEqual(HostKey.fingerprintMd5(blob), keygen(["-l", "-E", "md5", "-f", `${file}.pub`]).split(" ")[1])
      const decoded = HostKey.decodePublicKey(blob)
      assert.isTrue(Either.isRight(decoded))
      assert.deepStrictEqual(HostKey.encodePublicKey(Either.getOrThrow(decoded).material), blob)

      // PROTOCOL.sshsig: the signature inside is an ordinary SSH signature blob over the SSHSIG signed data.
      const message = enc(`message for ${name}`)
      writeFileSync(join(dir, `${name}.msg`), message)
      keygen(["-Y", "sign", "-f", file, "-n", "file", join(dir, `${name}.msg`)])
      const armored = readFileSync(join(dir, `${name}.msg.sig`), "utf8").split("\n").filter((l) => !l.startsWith("-----")).join("")
      const sshsig = new Uint8Array(Buffer.from(armored, "base64"))
      const view = new DataView(sshsig.buffer, sshsig.byteOffset)
      let pos = 10
      const next = () => {
        const len = view.getUint32(pos)
        const v = sshsig.subarray(pos + 4, pos + 4 + len)
        pos += 4 + len
        return v
      }
      const [pub, , , , signature] = [next(), next(), next(), next(), next()]
      assert.deepStrictEqual(pub, blob)
      const algorithm = new TextDecoder().decode(signature!.subarray(4, 4 + new DataView(signature!.buffer, signature!.byteOffset).getUint32(0)))
      for (const backend of backends) {
        assert.isTrue(HostKey.verify(backend, algorithm, blob, sshsigData("file", message), signature!), backend.name)
        assert.isFalse(HostKey.verify(backend, algorithm, blob, sshsigData("git", message), signature!))
      }
    })
  }

  for (const { key, origin } of keys) {
    for (const signer of backends) {
      const algorithm = HostKey.algorithmsForKey(key)[0]!
      it(`ssh-keygen -Y verify accepts our ${algorithm} signature (${origin} key, signed on ${signer.name})`, () => {
        const blob = blobOf(key)
        const message = enc(`our message ${algorithm}`)
        const signature = HostKey.sign(signer, algorithm, key, sshsigData("file", message))
        const sshsig = Writer.build((w) =>
          w.raw(enc("SSHSIG")).uint32(1).string(blob).string("file").string("").string("sha512").string(signature)
        )
        const tag = `${algorithm}-${origin}-${signer.name}`
        const b64 = Buffer.from(sshsig).toString("base64").match(/.{1,70}/g)!.join("\n")
        writeFileSync(join(dir, `${tag}.sig`), `-----BEGIN SSH SIGNATURE-----\n${b64}\n-----END SSH SIGNATURE-----\n`)
        writeFileSync(join(dir, `${tag}.allowed`), `me@test ${HostKey.keyTypeOf(key)} ${Buffer.from(blob).toString("base64")}\n`)
        const out = keygen(
          ["-Y", "verify", "-f", join(dir, `${tag}.allowed`), "-I", "me@test", "-n", "file", "-s", join(dir, `${tag}.sig`)],
          new TextDecoder().decode(message)
        )
        assert.match(out, /Good "file" signature for me@test/)
      })
    }
  }
})
