import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as NodeCrypto from "node:crypto"
import * as Ciphers from "../../../src/crypto/Ciphers.js"
import { deriveDirectionKeys, deriveKeys, type KeyLetter } from "../../../src/crypto/KeyDerivation.js"
import { backends } from "../../helpers/Backends.js"

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"))
const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

// NIST CAVP SP 800-135 SSH KDF vectors, SHA-1 (K is the mpint encoding, H doubles as session_id). The first has a
// 192-bit key, longer than one SHA-1 output, so it exercises the K1 ‖ K2 extension; the second has an mpint
// with a leading zero byte.
const CAVP = [
  {
    k: `0000008055bae931c07fd824bf10add1902b6fbc7c665347383498a686929ff5a25f8e40cb6645ea814fb1a5e0a11f85
        2f86255641e5ed986e83a78bc8269480eac0b0dfd770cab92e7a28dd87ff452466d6ae867cead63b366b1c286e6c4811
        a9f14c27aea14c5171d49b78c06e3735d36e6a3be321dd5fc82308f34ee1cb17fba94a59`,
    h: "a4ebd45934f56792b5112dcd75a1075fdc889245",
    want: {
      A: "e2f627c0b43f1ac1",
      B: "58471445f342b181",
      C: "1ca9d310f86d51f6cb8e7007cb2b220d55c5281ce680b533",
      D: "2c60df8603d34cc1dbb03c11f725a44b44008851c73d6844",
      E: "472eb8a26166ae6aa8e06868e45c3b26e6eeed06",
      F: "e3e2fdb9d7bc21165a3dbe47e1eceb7764390bab"
    }
  },
  {
    k: `000001010085a60bcca88b096c418e825f3de4fd8920ecce617afadda2ca8001e8eba07e58e60e70a9a05b8ddc29d563
        6d33c407d5f23952b65326e113f28d89bc6ba3a4c3b71ae239d6d1bd295466682d1c675bdb88a3259f474fe54a0f4004
        ddc46b442451654e1e66d0c93d7b310f28a8db7b95eee7abc61e71dee322b4e732baf9ec7ce189b889d536da1a55a2cc
        29e1666aa9c0e702f4412206bd207302fe84043c664394bde0e0a47d0a7a947c95997e1dbaeecd2efae12cacef8eab2f
        6b2478dedcebb3264827cf226e13f8082931db410fbc03352e7dde82fd1f58caab3115aa065ac6e2a1c7b1c1b2d5fa34
        47bf9839d76cfa5822b097bff9106f37eba1250145`,
    h: "dde6f8e070ef32a27ff04ad1045c65b2dfa33e03",
    want: {
      A: "79c9195e683ae10750960cb55c4d4c0b",
      B: "ef00b448ab9fd6523bb5143a0a818750",
      C: "51c8b4aaf5e42443be0aa3c50aa7e1dd",
      D: "4153a587397fb14dc3faad028fdb7ecc",
      E: "d23e36347052a1cfb4a7789df48627e8a31345c7",
      F: "c1286e92655912d923154c460702a31424bd6b01"
    }
  }
] as const

/** RFC 4253 §7.2 written out with node:crypto, independently of src. */
const reference = (
  hash: string,
  k: Uint8Array,
  h: Uint8Array,
  sessionId: Uint8Array,
  letter: string,
  length: number
): Uint8Array => {
  let key = NodeCrypto.createHash(hash).update(k).update(h).update(letter).update(sessionId).digest()
  while (key.length < length) {
    key = Buffer.concat([key, NodeCrypto.createHash(hash).update(k).update(h).update(key).digest()])
  }
  return Uint8Array.from(key.subarray(0, length))
}

/** K as an mpint with its uint32 length (RFC 4251 §5), from a positive bigint. */
const mpint = (x: bigint): Uint8Array => {
  let h = x.toString(16)
  if (h.length % 2) h = "0" + h
  if (parseInt(h.slice(0, 2), 16) & 0x80) h = "00" + h
  const body = hex(h)
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

describe.each(backends)("KeyDerivation ($name)", (b) => {
  it("matches the NIST CAVP SSH KDF vectors (SHA-1)", () => {
    for (const v of CAVP) {
      for (const [letter, want] of Object.entries(v.want)) {
        const got = deriveKeys(b, "sha1", hex(v.k), hex(v.h), hex(v.h), letter as KeyLetter, want.length / 2)
        assert.strictEqual(toHex(got), want, letter)
      }
    }
  })

  it.prop(
    "matches RFC 4253 §7.2 written out with node:crypto, for every hash and length",
    [FastCheck.bigInt({ min: 1n, max: 2n ** 2048n }), FastCheck.uint8Array({ minLength: 1, maxLength: 64 }),
      FastCheck.constantFrom("sha1" as const, "sha256" as const, "sha384" as const, "sha512" as const), FastCheck.nat({ max: 200 })],
    ([k, h, hash, length]) => {
      const kEnc = mpint(k)
      const sid = h.slice().reverse()
      for (const letter of ["A", "B", "C", "D", "E", "F"] as const) {
        assert.strictEqual(
          toHex(deriveKeys(b, hash, kEnc, h, sid, letter, length)),
          toHex(reference(hash, kEnc, h, sid, letter, length))
        )
      }
    },
    { fastCheck: { numRuns: 40 } }
  )

  it("derives each direction from its letters, sized by the cipher and MAC", () => {
    const k = mpint(0x1234567890abcdefn)
    const h = hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
    const sid = hex("ffeeddccbbaa99887766554433221100")
    const ctr = Ciphers.cipherSpec("aes256-ctr")!
    const mac = Ciphers.macSpec("hmac-sha2-512-etm@openssh.com")!
    const c2s = deriveDirectionKeys(b, "sha256", k, h, sid, "clientToServer", ctr, mac)
    const s2c = deriveDirectionKeys(b, "sha256", k, h, sid, "serverToClient", ctr, mac)
    const ref = (letter: string, n: number) => toHex(reference("sha256", k, h, sid, letter, n))
    assert.deepStrictEqual([toHex(c2s.iv), toHex(c2s.key), toHex(c2s.macKey)], [ref("A", 16), ref("C", 32), ref("E", 64)])
    assert.deepStrictEqual([toHex(s2c.iv), toHex(s2c.key), toHex(s2c.macKey)], [ref("B", 16), ref("D", 32), ref("F", 64)])

    // AEAD ciphers take no MAC key, even when a MAC is passed; chacha20-poly1305 has no IV.
    const chacha = Ciphers.cipherSpec("chacha20-poly1305@openssh.com")!
    const keys = deriveDirectionKeys(b, "sha256", k, h, sid, "serverToClient", chacha, mac)
    assert.deepStrictEqual([keys.iv.length, keys.key.length, keys.macKey.length], [0, 64, 0])
    assert.strictEqual(toHex(keys.key), ref("D", 64))
    const gcm = deriveDirectionKeys(b, "sha512", k, h, sid, "clientToServer", Ciphers.cipherSpec("aes128-gcm@openssh.com")!, undefined)
    assert.deepStrictEqual([gcm.iv.length, gcm.key.length, gcm.macKey.length], [12, 16, 0])
    // The derived keys build working packet ciphers.
    Ciphers.makeSealer(b, chacha, undefined, keys)
    Ciphers.makeOpener(b, ctr, mac, c2s)
  })
})
