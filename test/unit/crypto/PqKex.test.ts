/**
 * The post-quantum hybrid key exchanges (src/crypto/kex/PqHybrid.ts): mlkem768x25519-sha256 and
 * sntrup761x25519-sha512 (@openssh.com): value layouts and lengths, K as a string of the hash, an
 * independently built server checked against our client, the SEC-18 refusals, randomness from the backend,
 * and the "never throws on peer input" property.
 */
import { assert, describe, it } from "@effect/vitest"
import { x25519 } from "@noble/curves/ed25519.js"
import { shake128 } from "@noble/hashes/sha3.js"
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js"
import * as FastCheck from "effect/FastCheck"
import * as NodeCrypto from "node:crypto"
import type { CryptoBackend } from "../../../src/crypto/Backend.js"
import type { EphemeralKex } from "../../../src/crypto/Kex.js"
import * as Sntrup761 from "../../../src/crypto/kex/Sntrup761.js"
import { kexMethod } from "../../../src/crypto/KexRegistry.js"
import * as Writer from "../../../src/wire/Writer.js"
import { backends } from "../../helpers/Backends.js"
import { arbEdit, mutate } from "../../helpers/Fuzz.js"

const HYBRIDS = [
  { name: "mlkem768x25519-sha256", pk: 1184, ct: 1088, hash: "sha256" },
  { name: "sntrup761x25519-sha512", pk: 1158, ct: 1039, hash: "sha512" },
  { name: "sntrup761x25519-sha512@openssh.com", pk: 1158, ct: 1039, hash: "sha512" }
] as const

const exchangeOf = (name: string): EphemeralKex => {
  const m = kexMethod(name)
  if (m?._tag !== "Ephemeral") throw new Error(`${name} is not a one-round method`)
  return m.exchange
}

/** A backend whose randomBytes is a SHAKE128 stream from a seed (STYLE.md §10), everything else unchanged. */
const seeded = (backend: CryptoBackend, seed: number): CryptoBackend => {
  const xof = shake128.create({}).update(Uint8Array.of(seed))
  return { ...backend, randomBytes: (n) => xof.xof(n) }
}

const stringOf = (digest: Uint8Array) => Writer.build((w) => w.string(digest))
const pairs = backends.flatMap((client) => backends.map((server) => ({ client, server })))

describe("post-quantum hybrids: round trips", () => {
  for (const h of HYBRIDS) {
    for (const { client, server } of pairs) {
      it(`${h.name}: client on ${client.name}, server on ${server.name}: same K, a string of the ${h.hash} digest`, () => {
        const ex = exchangeOf(h.name)
        assert.strictEqual(ex.hash, h.hash)
        const c = ex.client(client)
        assert.strictEqual(c.clientValue.length, h.pk + 32)
        const s = ex.server(server, c.clientValue)!
        assert.strictEqual(s.serverValue.length, h.ct + 32)
        const k = c.finish(s.serverValue)
        assert.deepStrictEqual(k, s.k)
        // SEC-18: K is string(HASH(…)): a uint32 length and the digest, not an mpint.
        const digestBytes = h.hash === "sha256" ? 32 : 64
        assert.strictEqual(s.k.length, 4 + digestBytes)
        assert.deepStrictEqual([...s.k.subarray(0, 4)], [0, 0, 0, digestBytes])
      }, 30_000)
    }
  }
})

describe("post-quantum hybrids: our client against a server built here from the drafts", () => {
  // The server side is assembled from @noble directly: C_INIT = pk ‖ X25519 public, S_REPLY = ct ‖ X25519
  // public, K = string(HASH(kem secret ‖ X25519 secret)) (draft-ietf-sshm-mlkem-hybrid-kex).
  const serverX = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
  for (const backend of backends) {
    it(`mlkem768x25519-sha256 on ${backend.name}`, () => {
      const c = exchangeOf("mlkem768x25519-sha256").client(backend)
      const pk = c.clientValue.subarray(0, 1184)
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(pk, new Uint8Array(32).fill(7))
      const xs = x25519.getSharedSecret(serverX, c.clientValue.subarray(1184))
      const serverValue = new Uint8Array([...cipherText, ...x25519.getPublicKey(serverX)])
      const expected = stringOf(new Uint8Array(NodeCrypto.createHash("sha256").update(sharedSecret).update(xs).digest()))
      assert.deepStrictEqual(c.finish(serverValue), expected)
    })

    it(`sntrup761x25519-sha512 on ${backend.name}`, () => {
      const c = exchangeOf("sntrup761x25519-sha512").client(backend)
      const enc = Sntrup761.encapsulate(backend, c.clientValue.subarray(0, 1158))!
      const xs = x25519.getSharedSecret(serverX, c.clientValue.subarray(1158))
      const serverValue = new Uint8Array([...enc.ciphertext, ...x25519.getPublicKey(serverX)])
      const expected = stringOf(new Uint8Array(NodeCrypto.createHash("sha512").update(enc.sharedSecret).update(xs).digest()))
      assert.deepStrictEqual(c.finish(serverValue), expected)
    }, 30_000)
  }
})

describe("post-quantum hybrids: SEC-18 refusals", () => {
  for (const h of HYBRIDS) {
    const ex = exchangeOf(h.name)
    for (const backend of backends) {
      const c = ex.client(backend)
      const good = ex.server(backend, c.clientValue)!
      const zeroX = (v: Uint8Array) => {
        const out = v.slice()
        out.fill(0, v.length - 32)
        return out
      }
      it(`SEC-18: ${h.name} on ${backend.name}: wrong lengths from either side are refused`, () => {
        for (const n of [0, 32, h.pk, h.pk + 31, h.pk + 33, h.pk + 32 + h.ct, 1215]) {
          if (n === h.pk + 32) continue
          assert.isUndefined(ex.server(backend, new Uint8Array(n).fill(9)), `client value of ${n} bytes`)
        }
        for (const n of [0, 32, h.ct, h.ct + 31, h.ct + 33, h.pk + 32]) {
          assert.isUndefined(c.finish(new Uint8Array(n).fill(9)), `server value of ${n} bytes`)
        }
        assert.isUndefined(c.finish(good.serverValue.subarray(1)))
      }, 30_000)

      it(`SEC-18: ${h.name} on ${backend.name}: an X25519 part giving an all-zero secret is refused from either side`, () => {
        assert.isUndefined(ex.server(backend, zeroX(c.clientValue)))
        assert.isUndefined(ex.client(backend).finish(zeroX(good.serverValue)))
      }, 30_000)
    }
  }

  it("SEC-18: an ML-KEM public key that fails the FIPS 203 modulus check is refused", () => {
    const ex = exchangeOf("mlkem768x25519-sha256")
    const value = ex.client(backends[0]!).clientValue.slice()
    // The first 12-bit coefficient becomes 0xfff ≥ q = 3329.
    value[0] = 0xff
    value[1] = value[1]! | 0x0f
    for (const backend of backends) assert.isUndefined(ex.server(backend, value))
  })
})

describe("post-quantum hybrids: randomness comes from the backend (SEC-24)", () => {
  for (const h of HYBRIDS) {
    it(`${h.name}: a seeded backend reproduces the KEM public key and ciphertext; other seeds differ`, () => {
      const ex = exchangeOf(h.name)
      const kemPart = (seed: number) => ex.client(seeded(backends[1]!, seed)).clientValue.subarray(0, h.pk)
      assert.deepStrictEqual(kemPart(1), kemPart(1))
      assert.notDeepEqual(kemPart(1), kemPart(2))
      const clientValue = ex.client(backends[1]!).clientValue
      const ct = (seed: number) => ex.server(seeded(backends[1]!, seed), clientValue)!.serverValue.subarray(0, h.ct)
      assert.deepStrictEqual(ct(3), ct(3))
      assert.notDeepEqual(ct(3), ct(4))
    }, 30_000)
  }
})

describe("post-quantum hybrids: peer input never throws", () => {
  for (const h of HYBRIDS) {
    const ex = exchangeOf(h.name)
    const backend = backends[1]!
    const client = ex.client(backend)
    const reply = ex.server(backend, client.clientValue)!.serverValue
    const arbValue = (n: number) =>
      FastCheck.oneof(FastCheck.uint8Array({ minLength: n, maxLength: n }), FastCheck.uint8Array({ maxLength: n + 40 }))

    it.prop(`${h.name}: the server on random client values`, [arbValue(h.pk + 32)], ([value]) => {
      const r = ex.server(backend, value)
      assert.isTrue(r === undefined || r.serverValue.length === h.ct + 32)
    }, { fastCheck: { numRuns: 15 } })

    it.prop(`${h.name}: the server on mutated client values`, [FastCheck.array(arbEdit, { minLength: 1, maxLength: 3 })], ([edits]) => {
      const r = ex.server(backend, mutate(client.clientValue, edits))
      assert.isTrue(r === undefined || r.serverValue.length === h.ct + 32)
    }, { fastCheck: { numRuns: 15 } })

    it.prop(`${h.name}: the client on random and mutated server values`, [arbValue(h.ct + 32), FastCheck.array(arbEdit, { minLength: 1, maxLength: 3 })], ([value, edits]) => {
      for (const v of [value, mutate(reply, edits)]) {
        const k = client.finish(v)
        assert.isTrue(k === undefined || k.length === 4 + (h.hash === "sha256" ? 32 : 64))
      }
    }, { fastCheck: { numRuns: 15 } })
  }
})
