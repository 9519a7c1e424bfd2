/**
 * Poly1305 (RFC 8439 §2.5) in all its implementations: the SIMD and scalar WebAssembly kernels and the
 * @noble/ciphers fallback. Each must give the RFC 8439 vectors and agree with noble on random keys and messages
 * of every length up to 300 bytes (every tail the kernels can see: pairs, a single block, a partial block) and on
 * large messages that cross the 64 KiB chunk of the modules' memory. The checked-in WebAssembly must be exactly
 * what scripts/poly1305-wasm.ts generates.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as fs from "node:fs"
import { render, TARGET } from "../../../scripts/poly1305-wasm.js"
import { implementation, implementations, poly1305, poly1305Reference } from "../../../src/crypto/cipher/Poly1305.js"
import { instantiateScalar, instantiateSimd, wasmPoly1305 } from "../../../src/crypto/cipher/poly1305/WasmPoly1305.js"
import { LAYOUT } from "../../../src/crypto/cipher/poly1305/WasmModules.js"

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"))
const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
/** `b` at an odd offset of a larger buffer: the kernels must not assume aligned views. */
const at = (b: Uint8Array, offset: number): Uint8Array => {
  const big = new Uint8Array(b.length + offset + 5).fill(0xa5)
  big.set(b, offset)
  return big.subarray(offset, offset + b.length)
}
/** A deterministic byte stream (xorshift32), so that failures reproduce. */
const bytes = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed | 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const Z = "00000000000000000000000000000000"
const F = "ffffffffffffffffffffffffffffffff"
const IETF = "Any submission to the IETF intended by the Contributor for publication as all or part of an IETF " +
  "Internet-Draft or RFC and any statement made within the context of an IETF activity is considered an \"IETF " +
  "Contribution\". Such statements include oral statements in IETF sessions, as well as written and electronic " +
  "communications made at any time or place, which are addressed to"
const JABBERWOCKY = "'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll mimsy were the borogoves,\n" +
  "And the mome raths outgrabe."

// RFC 8439 §2.5.2, then Appendix A.3 #1–#11: key (r ‖ s), message, tag.
const VECTORS: ReadonlyArray<readonly [string, Uint8Array, string]> = [
  ["85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b", enc("Cryptographic Forum Research Group"),
    "a8061dc1305136c6c22b8baf0c0127a9"],
  [Z + Z, hex(Z + Z + Z + Z), Z],
  [Z + "36e5f6b5c5e06070f0efca96227a863e", enc(IETF), "36e5f6b5c5e06070f0efca96227a863e"],
  ["36e5f6b5c5e06070f0efca96227a863e" + Z, enc(IETF), "f3477e7cd95417af89a6b8794c310cf0"],
  ["1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0", enc(JABBERWOCKY),
    "4541669a7eaaee61e708dc7cbcc5eb62"],
  ["02000000000000000000000000000000" + Z, hex(F), "03000000000000000000000000000000"],
  ["02000000000000000000000000000000" + F, hex("02000000000000000000000000000000"), "03000000000000000000000000000000"],
  ["01000000000000000000000000000000" + Z, hex(F + "f0ffffffffffffffffffffffffffffff" + "11000000000000000000000000000000"),
    "05000000000000000000000000000000"],
  ["01000000000000000000000000000000" + Z, hex(F + "fbfefefefefefefefefefefefefefefe" + "01010101010101010101010101010101"), Z],
  ["02000000000000000000000000000000" + Z, hex("fdffffffffffffffffffffffffffffff"), "faffffffffffffffffffffffffffffff"],
  ["01000000000000000400000000000000" + Z,
    hex("e33594d7505e43b900000000000000003394d7505e4379cd01000000000000000000000000000000000000000000000001000000000000000000000000000000"),
    "14000000000000005500000000000000"],
  ["01000000000000000400000000000000" + Z,
    hex("e33594d7505e43b900000000000000003394d7505e4379cd010000000000000000000000000000000000000000000000"),
    "13000000000000000000000000000000"]
]

describe("Poly1305", () => {
  it("runs on the SIMD WebAssembly kernel here, with the scalar kernel and noble available as fallbacks", () => {
    assert.strictEqual(implementation, "wasm-simd")
    assert.deepStrictEqual(implementations().map((i) => i.name), ["wasm-simd", "wasm", "portable"])
    assert.strictEqual(implementations()[0]!.poly1305, poly1305)
  })

  it("the checked-in WebAssembly is exactly what scripts/poly1305-wasm.ts generates", () => {
    assert.strictEqual(fs.readFileSync(TARGET, "utf8"), render())
  })

  describe.each(implementations().map((i) => [i.name, i] as const))("%s", (_, impl) => {
    it("gives the RFC 8439 §2.5.2 and Appendix A.3 tags, on aligned and unaligned views", () => {
      for (const [key, msg, want] of VECTORS) {
        assert.strictEqual(toHex(impl.poly1305(hex(key), msg)), want)
        assert.strictEqual(toHex(impl.poly1305(at(hex(key), 3), at(msg, 1))), want)
      }
    })

    it("equals @noble/ciphers on random keys and messages of every length 0…300", () => {
      for (let n = 0; n <= 300; n++) {
        const key = bytes(32, 7 * n + 1)
        const msg = bytes(n, 13 * n + 5)
        assert.strictEqual(toHex(impl.poly1305(key, msg)), toHex(poly1305Reference(key, msg)), `length ${n}`)
        assert.strictEqual(toHex(impl.poly1305(key, at(msg, 1 + (n % 15)))), toHex(poly1305Reference(key, msg)))
      }
    })

    it("equals @noble/ciphers on large messages, across the 64 KiB chunk of the modules' memory", () => {
      for (const n of [1023, 32768, 35000, LAYOUT.chunk - 1, LAYOUT.chunk, LAYOUT.chunk + 1, LAYOUT.chunk + 47, 200_003]) {
        const key = bytes(32, n)
        const msg = bytes(n, n + 99)
        assert.strictEqual(toHex(impl.poly1305(key, msg)), toHex(poly1305Reference(key, msg)), `length ${n}`)
      }
    })

    it("stays exact near the modulus: all-ones keys and messages push h towards 2^130 − 5", () => {
      for (const n of [16, 17, 32, 48, 255, 256, 257, 288, 511, 1024, 4099]) {
        const ones = new Uint8Array(n).fill(0xff)
        for (const key of [new Uint8Array(32).fill(0xff), hex("ffffff0ffcffff0ffcffff0ffcffff0f" + F), bytes(32, n)]) {
          assert.strictEqual(toHex(impl.poly1305(key, ones)), toHex(poly1305Reference(key, ones)), `length ${n}`)
        }
      }
    })

    it.prop("equals @noble/ciphers (property)", [FastCheck.uint8Array({ maxLength: 5000 }), FastCheck.uint8Array({ minLength: 32, maxLength: 32 })],
      ([msg, key]) => {
        assert.strictEqual(toHex(impl.poly1305(key, msg)), toHex(poly1305Reference(key, msg)))
      }, { fastCheck: { numRuns: 100 } })
  })

  it("wipes r, 5·r, h and the SIMD multipliers from the kernels' memory after each tag (only the public tag stays)", () => {
    for (const kernel of [instantiateSimd(), instantiateScalar()]) {
      assert.isDefined(kernel)
      if (kernel === undefined) return
      // 1000 bytes: the SIMD kernel runs (and fills its table), then the scalar one for the tail.
      const tag = wasmPoly1305(kernel, bytes(32, 3), bytes(1000, 4))
      assert.strictEqual(toHex(tag), toHex(poly1305Reference(bytes(32, 3), bytes(1000, 4))))
      assert.isTrue(kernel.mem.subarray(0, LAYOUT.tag).every((b) => b === 0))
    }
  })
})
