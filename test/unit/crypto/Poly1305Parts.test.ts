/**
 * Poly1305 over parts (chacha20-poly1305's gathered sealing): every implementation gives the tag of the joined
 * message for any way of cutting it, including cuts inside blocks and across the WebAssembly message area (64 KiB).
 */
import { assert, describe, it } from "@effect/vitest"
import { implementations, poly1305Reference } from "../../../src/crypto/cipher/Poly1305.js"

const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 131 + seed * 17 + (i >> 8)) & 0xff)

/** `msg` cut at `cuts` (sorted offsets). */
const cut = (msg: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const parts: Array<Uint8Array> = []
  let from = 0
  for (const c of [...cuts, msg.length]) {
    parts.push(msg.subarray(from, c))
    from = c
  }
  return parts
}

describe("poly1305Parts", () => {
  const key = pattern(32, 1)
  const cases: ReadonlyArray<readonly [number, ReadonlyArray<number>]> = [
    [0, []],
    [0, [0, 0]],
    [5, [4]],
    [16, [1, 15]],
    [17, [16]],
    [100, [4, 9, 50]],
    [300, [0, 33, 33, 290]],
    [32 * 1024 + 24, [4, 14, 14 + 32 * 1024]],
    [65536 + 100, [3, 65535, 65536, 65537]],
    [200_000, [7, 65_000, 131_072, 150_001]]
  ]
  for (const impl of implementations()) {
    it(`${impl.name}: equals the tag of the joined message`, () => {
      for (const [n, cuts] of cases) {
        const msg = pattern(n, n)
        assert.deepStrictEqual(impl.poly1305Parts(key, cut(msg, cuts)), poly1305Reference(key, msg), `${n} cut at ${cuts.join(",")}`)
      }
    })
  }
})
