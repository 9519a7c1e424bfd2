/**
 * Polynomial arithmetic of Streamlined NTRU Prime 761 (NTRU Prime round 3 specification, "Streamlined NTRU
 * Prime Core"): the rings R/3 = Z3[x]/(x^p − x − 1) and R/q = Zq[x]/(x^p − x − 1) with p = 761, q = 4591,
 * coefficients kept centred (F3 in {−1, 0, 1}, Fq in [−(q−1)/2, (q−1)/2]).
 *
 * Constant-time habits (the specification asks for them wherever secrets are involved): no branch and no
 * array index depends on a secret; choices are made with arithmetic masks (0 or −1) and reductions use
 * multiplications and shifts instead of `%`. JavaScript cannot guarantee constant time — the JIT may compile
 * a mask into a branch, and number representations (Smi vs heap double) can change under it — so this is the
 * best a portable implementation can do, not a proof.
 *
 * Sizes: products of a Fq polynomial and a small polynomial stay below 3·761·2295 < 2^23 before reduction, so
 * all intermediate values are exact in 32-bit integer arithmetic; no BigInt anywhere.
 *
 * @since 0.1.0
 */

import * as Kernel from "./Kernel.js"

const AT = Kernel.AT

// The parameters as module-private constants: V8 loads exported module bindings through a cell on every use
// and does not fold them into the hot loops (measured: rqRecip3 took twice as long reading an exported P and Q).
const p = 761
const q = 4591
const w = 286

/** The degree p of x^p − x − 1. @since 0.1.0 @category constants */
export const P = p
/** The modulus q. @since 0.1.0 @category constants */
export const Q = q
/** The weight w of short polynomials (exactly w non-zero coefficients). @since 0.1.0 @category constants */
export const W = w
/** (q − 1) / 2, the bound of centred Fq values. @since 0.1.0 @category constants */
export const Q12 = 2295

/**
 * Reduces an integer with |x| < 2^26 to its centred representative in [−Q12, Q12], by three Barrett steps
 * with the rounded reciprocals ⌊2^16/q⌉ = 14, ⌊2^20/q⌉ = 228 and ⌊2^28/q⌉ = 58470 (each step shrinks |x|, the
 * last one rounds to nearest). Every product stays inside int32, so `>>` is an exact floor division.
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const freezeQ = (x: number): number => {
  x -= q * ((14 * x) >> 16)
  x -= q * ((228 * x) >> 20)
  return x - q * ((58470 * x + 0x8000000) >> 28)
}

/**
 * Reduces an integer with |x| < 16384 to {−1, 0, 1}: x − 3·round(x/3), with 10923/32768 standing in for 1/3
 * (its error x/98304 stays below 1/6 in that range, so the rounding is exact).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const freeze3 = (x: number): number => x - 3 * ((10923 * x + 16384) >> 15)

/** −1 when x < 0, else 0 (x an int32). */
const negativeMask = (x: number): number => x >> 31
/** −1 when x ≠ 0, else 0 (x an int32 other than −2^31). */
const nonzeroMask = (x: number): number => (x | -x) >> 31

/**
 * h = f·g in R/q, f in Fq and g small (coefficients in {−1, 0, 1}). Schoolbook: 761² multiply-adds (on the
 * WebAssembly kernel where it runs, four per instruction), then the reduction x^p = x + 1 folds each coefficient
 * k ≥ p onto k − p and k − p + 1.
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const rqMultSmall = (f: Int16Array, g: Int8Array): Int16Array => {
  const kernel = Kernel.get()
  if (kernel === undefined) return rqMultSmallPortable(f, g)
  const m = kernel.i32
  m.fill(0, AT.mf, AT.end)
  for (let i = 0; i < p; i++) {
    m[AT.mf + i] = f[i]
    m[AT.mg + i] = g[i]
  }
  kernel.product()
  const h = reduceProduct(m.slice(AT.mo, AT.mo + 2 * p - 1))
  m.fill(0, AT.mf, AT.end)
  return h
}

/**
 * `rqMultSmall` in JavaScript only (where WebAssembly does not run; the tests compare both).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const rqMultSmallPortable = (f: Int16Array, g: Int8Array): Int16Array => {
  const fg = new Int32Array(2 * p - 1)
  for (let i = 0; i < p; i++) {
    const fi = f[i]
    for (let j = 0; j < p; j++) fg[i + j] += fi * g[j]
  }
  return reduceProduct(fg)
}

/** The 2p − 1 sums of a product, reduced mod x^p − x − 1 and then mod q (`fg` is overwritten). */
const reduceProduct = (fg: Int32Array): Int16Array => {
  for (let k = 2 * p - 2; k >= p; k--) {
    fg[k - p] += fg[k]
    fg[k - p + 1] += fg[k]
  }
  const h = new Int16Array(p)
  for (let i = 0; i < p; i++) h[i] = freezeQ(fg[i])
  return h
}

/**
 * h = f·g in R/3, both small.
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const r3Mult = (f: Int8Array, g: Int8Array): Int8Array => {
  const fg = new Int16Array(2 * p - 1)
  for (let i = 0; i < p; i++) {
    const fi = f[i]
    for (let j = 0; j < p; j++) fg[i + j] += fi * g[j]
  }
  for (let k = 2 * p - 2; k >= p; k--) {
    fg[k - p] += fg[k]
    fg[k - p + 1] += fg[k]
  }
  const h = new Int8Array(p)
  for (let i = 0; i < p; i++) h[i] = freeze3(fg[i])
  return h
}

/**
 * The start of the constant-time extended gcd ("divsteps", Bernstein–Yang, as the NTRU Prime specification
 * uses it for reciprocals): f = x^p − x − 1 and g = the input, both written in reverse (index 0 holds the
 * leading coefficient); v and r track the Bézout coefficient of g. After 2p − 1 steps δ = 0 exactly when the
 * input is invertible, and the reciprocal is v (reversed) divided by f's constant.
 *
 * Lengths used by the steps depend only on the step number, never on data: before step k the degree bounds of
 * f and g add up to 2p − 1 − k (each step lowers one of them by one), so both fit in min(p, 2p − 1 − k) + 1
 * entries; v and r have degree at most k + 1. Int32Array everywhere keeps the loops monomorphic (mixing
 * Int8Array and Int16Array in one helper made V8 three times slower here), and each step makes one pass over
 * (f, g) and one over (v, r), swapping, updating and shifting together (about 17% faster than separate loops).
 */
const divstepStart = (input: Int8Array) => {
  const f = new Int32Array(p + 1)
  const g = new Int32Array(p + 1)
  f[0] = 1
  f[p - 1] = -1
  f[p] = -1
  for (let i = 0; i < p; i++) g[p - 1 - i] = input[i]
  return { f, g, v: new Int32Array(p + 1), r: new Int32Array(p + 1) }
}

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

/** a^(q−2) = 1/a in Fq (Fermat), by square-and-multiply over the public exponent. */
const fqRecip = (a: number): number => {
  let result = 1
  let base = a
  for (let e = q - 2; e > 0; e >>>= 1) {
    // The exponent is a public constant: branching on its bits reveals nothing.
    if ((e & 1) === 1) result = freezeQ(result * base)
    base = freezeQ(base * base)
  }
  return result
}

/**
 * 1/(3·input) in R/q for a small input, which is invertible whenever it is non-zero (x^p − x − 1 is
 * irreducible modulo q). Used by key generation: h = g / (3f). The divsteps' scalar part runs here and their
 * vector part on the WebAssembly kernel (four coefficients per instruction, and no JIT warm-up: this runs once
 * per connection, mostly in a cold process), or all of it in `rqRecip3Portable` where the kernel cannot run.
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const rqRecip3 = (input: Int8Array): Int16Array => {
  const kernel = Kernel.get()
  if (kernel === undefined) return rqRecip3Portable(input)
  const m = kernel.i32
  m.fill(0, 0, AT.mf)
  // As divstepStart: f = x^p − x − 1 and g = the input, both reversed.
  m[AT.f] = 1
  m[AT.f + p - 1] = -1
  m[AT.f + p] = -1
  for (let i = 0; i < p; i++) m[AT.g + p - 1 - i] = input[i]
  m[AT.r] = fqRecip(3)
  let delta = 1
  for (let k = 0; k < 2 * p - 1; k++) {
    const fLen = Math.min(p, 2 * p - 1 - k) + 1
    const vLen = Math.min(k + 2, p + 1)
    const g0 = m[AT.g]
    const swap = negativeMask(-delta) & nonzeroMask(g0)
    delta ^= swap & (delta ^ -delta)
    delta += 1
    const s0 = swap & (m[AT.f] ^ g0)
    const f0 = m[AT.f] ^ s0
    m[AT.f] = f0
    kernel.step(fLen, vLen, swap, f0, g0 ^ s0)
    m[AT.g + fLen - 1] = 0
  }
  const scale = fqRecip(m[AT.f])
  const out = new Int16Array(p)
  for (let i = 0; i < p; i++) out[i] = freezeQ(scale * m[AT.v + p - 1 - i])
  m.fill(0, 0, AT.mf)
  return out
}

/**
 * `rqRecip3` in JavaScript only (where WebAssembly does not run; the tests compare both).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const rqRecip3Portable = (input: Int8Array): Int16Array => {
  const { f, g, r, v } = divstepStart(input)
  r[0] = fqRecip(3)
  let delta = 1
  for (let k = 0; k < 2 * p - 1; k++) {
    const fLen = Math.min(p, 2 * p - 1 - k) + 1
    const vLen = Math.min(k + 2, p + 1)
    const swap = negativeMask(-delta) & nonzeroMask(g[0])
    delta ^= swap & (delta ^ -delta)
    delta += 1
    const s0 = swap & (f[0] ^ g[0])
    const f0 = f[0] ^ s0
    const g0 = g[0] ^ s0
    f[0] = f0
    // As in r3Recip, with g ← (f0·g − g0·f)/x (no division in the loop); products stay below 2·2295².
    for (let i = 1; i < fLen; i++) {
      const t = swap & (f[i] ^ g[i])
      const fi = f[i] ^ t
      f[i] = fi
      g[i - 1] = freezeQ(f0 * (g[i] ^ t) - g0 * fi)
    }
    g[fLen - 1] = 0
    for (let i = vLen - 1; i >= 0; i--) {
      const vOld = i > 0 ? v[i - 1] : 0
      const t = swap & (vOld ^ r[i])
      const vi = vOld ^ t
      v[i] = vi
      r[i] = freezeQ(f0 * (r[i] ^ t) - g0 * vi)
    }
  }
  const scale = fqRecip(f[0])
  const out = new Int16Array(p)
  for (let i = 0; i < p; i++) out[i] = freezeQ(scale * v[p - 1 - i])
  return out
}

/**
 * Round: each coefficient to the nearest multiple of 3 (spec, Core Encrypt: c = Round(h·r)).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const round3 = (a: Int16Array): Int16Array => {
  const out = new Int16Array(p)
  for (let i = 0; i < p; i++) out[i] = a[i] - freeze3(a[i])
  return out
}

/**
 * 3·a in R/q.
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const rqMult3 = (a: Int16Array): Int16Array => {
  const out = new Int16Array(p)
  for (let i = 0; i < p; i++) out[i] = freezeQ(3 * a[i])
  return out
}

/**
 * R/3 image of an R/q element (each centred coefficient reduced modulo 3).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const r3FromRq = (a: Int16Array): Int8Array => {
  const out = new Int8Array(p)
  for (let i = 0; i < p; i++) out[i] = freeze3(a[i])
  return out
}

/**
 * −1 when the small polynomial does not have weight w, else 0 (counted without branches: r & 1 is 1 for ±1).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const weightMask = (r: Int8Array): number => {
  let weight = 0
  for (let i = 0; i < p; i++) weight += r[i] & 1
  return nonzeroMask(weight - w)
}
