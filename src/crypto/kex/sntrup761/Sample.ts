/**
 * Sampling for Streamlined NTRU Prime 761 (NTRU Prime round 3 specification: Small_random, Short_random and
 * Short_fromlist): small and short polynomials from random 32-bit words, and the data-oblivious sort that
 * places the non-zero coefficients of a short polynomial.
 *
 * @since 0.1.0
 */
import { P, W } from "./Arith.js"

// Local copies: hot loops read module-private constants faster than imported bindings (see Arith.ts).
const p = P
const w = W

/**
 * A small polynomial from p random 32-bit words (spec: Small_random): each word's low 30 bits pick −1, 0 or 1
 * with probabilities within 2^−30 of uniform.
 *
 * @since 0.1.0
 * @category constructors
 */
export const smallFromWords = (words: Uint32Array): Int8Array => {
  const out = new Int8Array(p)
  // (x·3) < 2^32 fits an unsigned shift; `>>> 30` is then ⌊3x / 2^30⌋ ∈ {0, 1, 2}.
  for (let i = 0; i < p; i++) out[i] = (((words[i] & 0x3fffffff) * 3) >>> 30) - 1
  return out
}

/**
 * A short polynomial (weight exactly w, coefficients in {−1, 0, 1}) from p random 32-bit words (spec:
 * Short_fromlist): the first w words get an even low part (→ ±1), the others low bits 01 (→ 0), and sorting
 * the words shuffles those coefficients into random positions. The sort is a data-oblivious network.
 *
 * @since 0.1.0
 * @category constructors
 */
export const shortFromWords = (words: Uint32Array): Int8Array => {
  const list = new Int32Array(p)
  // XOR with 2^31 maps unsigned order onto signed int32 order; the low two bits are unchanged by it.
  for (let i = 0; i < w; i++) list[i] = (words[i] & ~1) ^ 0x80000000
  for (let i = w; i < p; i++) list[i] = ((words[i] & ~3) | 1) ^ 0x80000000
  sortInt32(list)
  const out = new Int8Array(p)
  for (let i = 0; i < p; i++) out[i] = (list[i] & 3) - 1
  return out
}

/**
 * Sorts int32 values in place with Batcher's merge-exchange network (Knuth, TAOCP vol. 3, §5.2.2, Algorithm M):
 * which pairs are compared depends only on the length, and each compare-exchange swaps under a mask computed
 * from the exact difference of the two values (a double, exact below 2^53), never a branch on their order.
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const sortInt32 = (x: Int32Array): void => {
  const n = x.length
  if (n < 2) return
  let t = 0
  while (1 << t < n) t++
  for (let span = 1 << (t - 1); span > 0; span >>= 1) {
    let top = 1 << (t - 1)
    let r = 0
    let d = span
    for (;;) {
      for (let i = 0; i < n - d; i++) {
        if ((i & span) !== r) continue
        const a = x[i]
        const b = x[i + d]
        // ⌊(b − a) / 2^32⌋ is −1 exactly when b < a (|b − a| < 2^32), else 0.
        const mask = Math.floor((b - a) / 4294967296) | 0
        const s = mask & (a ^ b)
        x[i] = a ^ s
        x[i + d] = b ^ s
      }
      if (top === span) break
      d = top - span
      top >>= 1
      r = span
    }
  }
}
