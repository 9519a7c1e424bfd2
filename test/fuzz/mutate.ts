/**
 * A small, fast, deterministic mutation engine (AFL-style havoc): bit flips, interesting values written over
 * length fields (SSH's uint32 lengths are where parsers break), byte insertions and deletions, block duplication,
 * splicing with another seed, truncation. Seeded xorshift128+, so a campaign replays exactly from its seed.
 */

/** xorshift128+ over two 32-bit halves (fast, good enough for mutation choices). */
export class Rng {
  private a: number
  private b: number
  constructor(seed: number) {
    this.a = (seed ^ 0x9e3779b9) >>> 0 || 1
    this.b = (seed * 0x85ebca6b) >>> 0 || 2
  }
  next(): number {
    let x = this.a
    const y = this.b
    this.a = y
    x ^= x << 23
    x ^= x >>> 17
    x ^= y ^ (y >>> 26)
    this.b = x >>> 0
    return (this.b + y) >>> 0
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n
  }
}

const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]
const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff]

/** One to eight random edits of a copy of `input` (`other` is another seed, for splicing). */
export const mutate = (rng: Rng, input: Uint8Array, other: Uint8Array, maxLength = 1 << 16): Uint8Array => {
  let out: Uint8Array = Uint8Array.from(input)
  const edits = 1 + rng.below(8)
  for (let e = 0; e < edits; e++) {
    const n = out.length
    switch (rng.below(10)) {
      case 0:
        if (n > 0) out[rng.below(n)]! ^= 1 << rng.below(8)
        break
      case 1:
        if (n > 0) out[rng.below(n)] = rng.below(256)
        break
      case 2:
        if (n > 0) out[rng.below(n)] = INTERESTING_8[rng.below(INTERESTING_8.length)]!
        break
      case 3:
      case 4: {
        if (n < 4) break
        // A uint32 over a length field: positions 4-aligned from the start are likely ones.
        const at = rng.below(2) === 0 ? rng.below(n - 3) & ~3 : rng.below(n - 3)
        const v = INTERESTING_32[rng.below(INTERESTING_32.length)]! + (rng.below(4) === 0 ? rng.below(16) - 8 : 0)
        new DataView(out.buffer, out.byteOffset).setUint32(at, v >>> 0)
        break
      }
      case 5: {
        const at = rng.below(n + 1)
        const len = 1 + rng.below(16)
        const ins = new Uint8Array(len).map(() => rng.below(256))
        out = concat(out.subarray(0, at), ins, out.subarray(at))
        break
      }
      case 6: {
        if (n === 0) break
        const at = rng.below(n)
        const len = 1 + rng.below(Math.min(64, n - at))
        out = concat(out.subarray(0, at), out.subarray(at + len))
        break
      }
      case 7: {
        if (n === 0) break
        const at = rng.below(n)
        const len = 1 + rng.below(Math.min(256, n - at))
        const to = rng.below(n + 1)
        out = concat(out.subarray(0, to), out.subarray(at, at + len), out.subarray(to))
        break
      }
      case 8: {
        if (other.length === 0) break
        const cut = rng.below(n + 1)
        const from = rng.below(other.length)
        out = concat(out.subarray(0, cut), other.subarray(from))
        break
      }
      default:
        out = out.subarray(0, rng.below(n + 1))
    }
  }
  return out.length > maxLength ? out.subarray(0, maxLength) : out
}

/** The bytes of `parts` one after the other. */
export const concat = (...parts: Array<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}
