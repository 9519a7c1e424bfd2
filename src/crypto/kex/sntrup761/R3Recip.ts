/**
 * The reciprocal in R/3 = Z3[x]/(x^p − x − 1) of Streamlined NTRU Prime 761 (NTRU Prime round 3 specification,
 * Core KeyGen: 1/g for the small g of key generation), by the constant-time divsteps of Arith.ts's `rqRecip3`,
 * bitsliced. Same constant-time habits as Arith.ts.
 *
 * @since 0.1.0
 */
import { negativeMask, P } from "./Arith.js"
import * as Kernel from "./Kernel.js"

const AT = Kernel.AT
// A local copy: hot loops read module-private constants faster than imported bindings (see Arith.ts).
const p = P

/** 32-bit words of a bitsliced R/3 polynomial of p + 1 coefficients. */
const words = (p + 1 + 31) >> 5

/**
 * F3 addition on 32 coefficients at once. An F3 vector is two bit vectors: `nz` (coefficient ≠ 0) and `sg`
 * (coefficient = −1), with sg ⊆ nz. a + b: a or b alone if the other is 0; −a if both are equal and non-zero
 * (2a ≡ −a); 0 if they are opposite.
 */
const addNz = (aNz: number, aSg: number, bNz: number, bSg: number): number => (aNz ^ bNz) | (aNz & bNz & ~(aSg ^ bSg))
const addSg = (aNz: number, aSg: number, bNz: number, bSg: number): number =>
  (aSg & ~bNz) | (bSg & ~aNz) | (aNz & bNz & ~(aSg ^ bSg) & ~aSg)

/**
 * The reciprocal of a small polynomial in R/3, and whether it exists (the caller retries key generation with a
 * fresh g when it does not; only that fact is revealed, as in the specification's KeyGen).
 *
 * The same divsteps as `rqRecip3`, bitsliced: f, g, v, r are bit vectors (see `addNz`), so a step works on 24
 * words instead of 762 coefficients (measured 8 ms → under 1 ms per reciprocal). Every step touches every word;
 * the scalar c = −g0·f0 becomes two masks.
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const r3Recip = (input: Int8Array): R3Reciprocal => r3RecipOn(Kernel.get(), input)

/**
 * `r3Recip` in JavaScript only (where WebAssembly does not run; the tests compare both).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const r3RecipPortable = (input: Int8Array): R3Reciprocal => r3RecipOn(undefined, input)

/**
 * What `r3Recip` returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface R3Reciprocal {
  readonly inverse: Int8Array
  readonly invertible: boolean
}

const r3RecipOn = (kernel: Kernel.Kernel | undefined, input: Int8Array): R3Reciprocal => {
  // On the WebAssembly kernel the eight vectors live in its memory and it runs each step's word loops.
  const mem = kernel?.i32
  mem?.fill(0, AT.t, AT.t + 8 * 32)
  const vector = (k: number) => mem === undefined ? new Int32Array(words) : mem.subarray(AT.t + 32 * k, AT.t + 32 * k + words)
  const fNz = vector(0)
  const fSg = vector(1)
  const gNz = vector(2)
  const gSg = vector(3)
  const vNz = vector(4)
  const vSg = vector(5)
  const rNz = vector(6)
  const rSg = vector(7)
  const setBit = (nz: Int32Array, sg: Int32Array, i: number, x: number) => {
    // x ∈ {−1, 0, 1}: nz bit = x & 1, sign bit = (x >> 1) & 1 (−1 is all ones).
    nz[i >> 5] |= (x & 1) << (i & 31)
    sg[i >> 5] |= ((x >> 1) & 1) << (i & 31)
  }
  // f = x^p − x − 1 reversed: 1 at index 0, −1 at p − 1 and p; g = the input reversed; r = 1.
  setBit(fNz, fSg, 0, 1)
  setBit(fNz, fSg, p - 1, -1)
  setBit(fNz, fSg, p, -1)
  for (let i = 0; i < p; i++) setBit(gNz, gSg, p - 1 - i, input[i])
  setBit(rNz, rSg, 0, 1)
  let delta = 1
  for (let k = 0; k < 2 * p - 1; k++) {
    const swap = negativeMask(-delta) & -(gNz[0] & 1)
    delta ^= swap & (delta ^ -delta)
    delta += 1
    // c = −g0·f0 (after the swap) as masks: non-zero when both are, −1 when their signs agree.
    const fNz0 = fNz[0] ^ (swap & (fNz[0] ^ gNz[0]))
    const gNz0 = gNz[0] ^ (swap & (fNz[0] ^ gNz[0]))
    const fSg0 = fSg[0] ^ (swap & (fSg[0] ^ gSg[0]))
    const gSg0 = gSg[0] ^ (swap & (fSg[0] ^ gSg[0]))
    const cNz = -(gNz0 & fNz0 & 1)
    const cSg = cNz & ~-((gSg0 ^ fSg0) & 1)
    if (kernel === undefined) ternaryStep(fNz, fSg, gNz, gSg, vNz, vSg, rNz, rSg, swap, cNz, cSg)
    else kernel.ternary(swap, cNz, cSg)
  }
  // 1/input = v reversed, times 1/f0 = f0.
  const f0 = (fNz[0] & 1) - 2 * (fSg[0] & 1)
  const inverse = new Int8Array(p)
  for (let i = 0; i < p; i++) {
    const at = p - 1 - i
    const c = ((vNz[at >> 5] >>> (at & 31)) & 1) - 2 * ((vSg[at >> 5] >>> (at & 31)) & 1)
    inverse[i] = f0 * c
  }
  mem?.fill(0, AT.t, AT.t + 8 * 32)
  return { inverse, invertible: delta === 0 }
}

/** One step's word loops of `r3Recip` in JavaScript: v ← x·v, the swap, g += c·f and r += c·v, g ← g/x. */
const ternaryStep = (
  fNz: Int32Array,
  fSg: Int32Array,
  gNz: Int32Array,
  gSg: Int32Array,
  vNz: Int32Array,
  vSg: Int32Array,
  rNz: Int32Array,
  rSg: Int32Array,
  swap: number,
  cNz: number,
  cSg: number
): void => {
  // v ← x·v; bits above index p are dropped after each shift, as the fixed-length array would drop them.
  for (let j = words - 1; j > 0; j--) {
    vNz[j] = (vNz[j] << 1) | (vNz[j - 1] >>> 31)
    vSg[j] = (vSg[j] << 1) | (vSg[j - 1] >>> 31)
  }
  vNz[0] <<= 1
  vSg[0] <<= 1
  vNz[words - 1] &= topMask
  vSg[words - 1] &= topMask
  for (let j = 0; j < words; j++) {
    let t = swap & (fNz[j] ^ gNz[j])
    fNz[j] ^= t
    gNz[j] ^= t
    t = swap & (fSg[j] ^ gSg[j])
    fSg[j] ^= t
    gSg[j] ^= t
    t = swap & (vNz[j] ^ rNz[j])
    vNz[j] ^= t
    rNz[j] ^= t
    t = swap & (vSg[j] ^ rSg[j])
    vSg[j] ^= t
    rSg[j] ^= t
  }
  for (let j = 0; j < words; j++) {
    const cfNz = fNz[j] & cNz
    const cfSg = (fSg[j] ^ cSg) & cfNz
    const nz = addNz(gNz[j], gSg[j], cfNz, cfSg)
    gSg[j] = addSg(gNz[j], gSg[j], cfNz, cfSg)
    gNz[j] = nz
    const cvNz = vNz[j] & cNz
    const cvSg = (vSg[j] ^ cSg) & cvNz
    const rn = addNz(rNz[j], rSg[j], cvNz, cvSg)
    rSg[j] = addSg(rNz[j], rSg[j], cvNz, cvSg)
    rNz[j] = rn
  }
  // g ← g/x (its leading coefficient is now 0).
  for (let j = 0; j < words - 1; j++) {
    gNz[j] = (gNz[j] >>> 1) | (gNz[j + 1] << 31)
    gSg[j] = (gSg[j] >>> 1) | (gSg[j + 1] << 31)
  }
  gNz[words - 1] >>>= 1
  gSg[words - 1] >>>= 1
}

/** The bits of the top word of a bit vector that hold coefficients (p + 1 = 762 = 23·32 + 26). */
const topMask = (1 << ((p + 1) & 31)) - 1
