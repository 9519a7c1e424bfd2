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

/**
 * −1 when x < 0, else 0 (x an int32).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const negativeMask = (x: number): number => x >> 31
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
export const rqMultSmall = (f: Int16Array, g: Int8Array): Int16Array => Int16Array.from(productOn(Kernel.get(), f, g), freezeQ)

/**
 * `rqMultSmall` in JavaScript only (where WebAssembly does not run; the tests compare both).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const rqMultSmallPortable = (f: Int16Array, g: Int8Array): Int16Array =>
  Int16Array.from(productOn(undefined, f, g), freezeQ)

/**
 * h = f·g in R/3, both small (on the WebAssembly kernel's product where it runs).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const r3Mult = (f: Int8Array, g: Int8Array): Int8Array => Int8Array.from(productOn(Kernel.get(), f, g), freeze3)

/**
 * `r3Mult` in JavaScript only (where WebAssembly does not run; the tests compare both).
 *
 * @since 0.1.0
 * @category arithmetic
 */
export const r3MultPortable = (f: Int8Array, g: Int8Array): Int8Array => Int8Array.from(productOn(undefined, f, g), freeze3)

/**
 * f·g reduced mod x^p − x − 1, its p sums not yet reduced mod q or 3 (below 3·761·2295 < 2^23), computed on the
 * kernel when there is one.
 */
const productOn = (kernel: Kernel.Kernel | undefined, f: Int16Array | Int8Array, g: Int8Array): Int32Array => {
  let fg: Int32Array
  if (kernel === undefined) {
    fg = new Int32Array(2 * p - 1)
    for (let i = 0; i < p; i++) {
      const fi = f[i]
      for (let j = 0; j < p; j++) fg[i + j] += fi * g[j]
    }
  } else {
    const m = kernel.i32
    m.fill(0, AT.mf, AT.end)
    for (let i = 0; i < p; i++) {
      m[AT.mf + i] = f[i]
      m[AT.mg + i] = g[i]
    }
    kernel.product()
    fg = m.slice(AT.mo, AT.mo + 2 * p - 1)
    m.fill(0, AT.mf, AT.end)
  }
  for (let k = 2 * p - 2; k >= p; k--) {
    fg[k - p] += fg[k]
    fg[k - p + 1] += fg[k]
  }
  return fg.subarray(0, p)
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
    // As in R3Recip.ts, with g ← (f0·g − g0·f)/x (no division in the loop); products stay below 2·2295².
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
