/**
 * The block-cipher primitives behind the legacy CBC ciphers and UMAC, on both backends: AES-CBC and AES-ECB
 * against NIST vectors, 3DES against FIPS 46 / SP 800-67 examples, the CBC chain carried across calls, and the
 * two backends agreeing on random input split anywhere on block boundaries.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { tripleDesCbc } from "../../../src/crypto/cipher/Des.js"
import { backends } from "../../helpers/Backends.js"

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"))
const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

// SP 800-38A F.2.1, F.2.3, F.2.5 (CBC-AES128/192/256.Encrypt): the same IV and plaintext for all three.
const SP800_38A_IV = hex("000102030405060708090a0b0c0d0e0f")
const SP800_38A_PLAIN = hex(`6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
  30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710`)
const CBC_VECTORS: ReadonlyArray<readonly [string, string]> = [
  [
    "2b7e151628aed2a6abf7158809cf4f3c",
    "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2 73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7"
  ],
  [
    "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
    "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a 571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd"
  ],
  [
    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
    "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d 39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b"
  ]
]

describe.each(backends)("block modes ($name)", (b) => {
  it("AES-CBC matches SP 800-38A F.2 for 128/192/256-bit keys, whole and block by block", () => {
    for (const [key, expected] of CBC_VECTORS) {
      const out = new Uint8Array(64)
      b.cbc("aes", hex(key), SP800_38A_IV, "encrypt").update(SP800_38A_PLAIN, out)
      assert.strictEqual(toHex(out), expected.replace(/\s+/g, ""))
      // The chaining value carries over between calls (RFC 4253 §6.3: one CBC stream per direction).
      const e = b.cbc("aes", hex(key), SP800_38A_IV, "encrypt")
      const d = b.cbc("aes", hex(key), SP800_38A_IV, "decrypt")
      const piece = new Uint8Array(64)
      const back = new Uint8Array(64)
      for (let i = 0; i < 64; i += 16) {
        e.update(SP800_38A_PLAIN.subarray(i, i + 16), piece.subarray(i, i + 16))
        d.update(piece.subarray(i, i + 16), back.subarray(i, i + 16))
      }
      assert.strictEqual(toHex(piece), toHex(out))
      assert.strictEqual(toHex(back), toHex(SP800_38A_PLAIN))
    }
  })

  it("AES-ECB matches FIPS 197 C.1 (UMAC's block function)", () => {
    const out = new Uint8Array(32)
    const ecb = b.aesEcb(hex("000102030405060708090a0b0c0d0e0f"))
    ecb.update(hex("00112233445566778899aabbccddeeff 00112233445566778899aabbccddeeff"), out)
    assert.strictEqual(toHex(out), "69c4e0d86a7b0430d8cdb78070b4c55a".repeat(2))
  })

  it("3DES-CBC matches SP 800-67's TDEA example and the FIPS 46 DES example (K1 = K2 = K3)", () => {
    // SP 800-67 Rev. 1 appendix B: three keys, "The qufck brown fox jump" in ECB mode (CBC with a zero IV, a
    // fresh chain per block, is ECB).
    const key = hex("0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123")
    const plain = enc("The qufck brown fox jump")
    const blocks: Array<string> = []
    for (let i = 0; i < 24; i += 8) {
      const out = new Uint8Array(8)
      b.cbc("3des", key, new Uint8Array(8), "encrypt").update(plain.subarray(i, i + 8), out)
      blocks.push(toHex(out))
    }
    assert.strictEqual(blocks.join(""), "a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900")
    const des = hex("133457799BBCDFF1".repeat(3))
    const out = new Uint8Array(8)
    b.cbc("3des", des, new Uint8Array(8), "encrypt").update(hex("0123456789ABCDEF"), out)
    assert.strictEqual(toHex(out), "85e813540f0ab405")
    const back = new Uint8Array(8)
    b.cbc("3des", des, new Uint8Array(8), "decrypt").update(out, back)
    assert.strictEqual(toHex(back), "0123456789abcdef")
  })
})

describe("block modes across backends", () => {
  const [portable, node] = [backends[0]!, backends[1]!]
  const bytes = (n: number) => FastCheck.uint8Array({ minLength: n, maxLength: n })
  const blocks = (size: number) =>
    FastCheck.nat({ max: 40 }).chain((n) => bytes(n * size))

  for (const [cipher, keyLength, block] of [["aes", 16, 16], ["aes", 24, 16], ["aes", 32, 16], ["3des", 24, 8]] as const) {
    it.prop(
      `${cipher}-${keyLength * 8} CBC agrees, split on any block boundary, and decrypts back`,
      [blocks(block), bytes(keyLength), bytes(block), FastCheck.nat({ max: 40 })],
      ([data, key, iv, cut]) => {
        const at = Math.min(cut * block, data.length)
        const run = (be: typeof portable, direction: "encrypt" | "decrypt", input: Uint8Array) => {
          const c = be.cbc(cipher, key, iv, direction)
          const out = new Uint8Array(input.length)
          c.update(input.subarray(0, at), out.subarray(0, at))
          c.update(input.subarray(at), out.subarray(at))
          return out
        }
        const ct = run(portable, "encrypt", data)
        assert.strictEqual(toHex(run(node, "encrypt", data)), toHex(ct))
        assert.strictEqual(toHex(run(portable, "decrypt", ct)), toHex(data))
        assert.strictEqual(toHex(run(node, "decrypt", ct)), toHex(data))
      },
      { fastCheck: { numRuns: 40 } }
    )
  }

  it("the portable 3DES refuses a bad key or IV length, and partial blocks, as caller bugs", () => {
    assert.throws(() => tripleDesCbc(new Uint8Array(16), new Uint8Array(8), "encrypt"))
    assert.throws(() => tripleDesCbc(new Uint8Array(24), new Uint8Array(16), "encrypt"))
    assert.throws(() => tripleDesCbc(new Uint8Array(24), new Uint8Array(8), "encrypt").update(new Uint8Array(7), new Uint8Array(7)))
  })
})
