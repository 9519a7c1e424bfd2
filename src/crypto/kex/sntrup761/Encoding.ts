/**
 * Byte encodings of Streamlined NTRU Prime 761 (NTRU Prime round 3 specification, "Encoding"):
 *
 * - `Encode`/`Decode`: the specification's mixed-radix encoding of a list of integers 0 ≤ R[i] < M[i], which
 *   merges neighbours pairwise (R[i] + M[i]·R[i+1] with radix M[i]·M[i+1]) and emits low bytes whenever a
 *   radix reaches 2^14, recursively. Public keys (R/q, M = q) take 1158 bytes; rounded ciphertexts (multiples
 *   of 3, M = (q + 2)/3) take 1007.
 * - small polynomials: four coefficients + 1 per byte, two bits each (191 bytes).
 *
 * `encode` uses only multiplications and shifts by public amounts, so it is safe on secret data (decapsulation
 * re-encrypts a secret). `decode` divides, but it only reads public data (public keys and ciphertexts), and
 * it accepts every byte string of the right length, reducing out-of-range values modulo M as the specification
 * does.
 *
 * @since 0.1.0
 */
import { P, Q, Q12 } from "./Arith.js"

// Local copies: hot loops read module-private constants faster than imported bindings (see Arith.ts).
const p = P
const q12 = Q12

/** Radix 2^14: the bound below which a merged radix is kept instead of emitting a byte (spec, Encoding). */
const LIMIT = 16384

const encodeInto = (out: Array<number>, R: ArrayLike<number>, M: ArrayLike<number>): void => {
  const n = M.length
  if (n === 1) {
    let r = R[0]!
    for (let m = M[0]!; m > 1; m = (m + 255) >>> 8) {
      out.push(r & 255)
      r >>>= 8
    }
    return
  }
  const half = (n + 1) >> 1
  const R2 = new Uint32Array(half)
  const M2 = new Uint32Array(half)
  for (let i = 0; i + 1 < n; i += 2) {
    const m0 = M[i]!
    let r = R[i]! + R[i + 1]! * m0
    let m = m0 * M[i + 1]!
    while (m >= LIMIT) {
      out.push(r & 255)
      r >>>= 8
      m = (m + 255) >>> 8
    }
    R2[i >> 1] = r
    M2[i >> 1] = m
  }
  if ((n & 1) === 1) {
    R2[half - 1] = R[n - 1]!
    M2[half - 1] = M[n - 1]!
  }
  encodeInto(out, R2, M2)
}

/**
 * The specification's Encode: the bytes of 0 ≤ R[i] < M[i] (every M[i] < 2^14).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (R: ArrayLike<number>, M: ArrayLike<number>): Uint8Array => {
  const out: Array<number> = []
  encodeInto(out, R, M)
  return Uint8Array.from(out)
}

/**
 * The specification's Decode, the inverse of `encode` on valid input; any bytes give values 0 ≤ R[i] < M[i].
 * `bytes` must have exactly the length `encode` produces for `M` (callers check lengths first); a missing byte
 * reads as 0.
 *
 * @since 0.1.0
 * @category encoding
 */
export const decode = (bytes: Uint8Array, M: ArrayLike<number>): Uint32Array => {
  let pos = 0
  const byte = (): number => (pos < bytes.length ? bytes[pos++]! : (pos++, 0))
  const go = (M: ArrayLike<number>): Uint32Array => {
    const n = M.length
    if (n === 1) {
      const m = M[0]!
      if (m === 1) return Uint32Array.of(0)
      if (m <= 256) return Uint32Array.of(byte() % m)
      const lo = byte()
      return Uint32Array.of((lo + (byte() << 8)) % m)
    }
    const half = (n + 1) >> 1
    const M2 = new Uint32Array(half)
    const bottomR = new Uint32Array(n >> 1)
    const bottomT = new Uint32Array(n >> 1)
    for (let i = 0; i + 1 < n; i += 2) {
      const m = M[i]! * M[i + 1]!
      if (m > 256 * (LIMIT - 1)) {
        // Two bytes were emitted for this pair.
        const lo = byte()
        bottomR[i >> 1] = lo + 256 * byte()
        bottomT[i >> 1] = 65536
        M2[i >> 1] = (((m + 255) >>> 8) + 255) >>> 8
      } else if (m >= LIMIT) {
        bottomR[i >> 1] = byte()
        bottomT[i >> 1] = 256
        M2[i >> 1] = (m + 255) >>> 8
      } else {
        bottomT[i >> 1] = 1
        M2[i >> 1] = m
      }
    }
    if ((n & 1) === 1) M2[half - 1] = M[n - 1]!
    const R2 = go(M2)
    const out = new Uint32Array(n)
    for (let i = 0; i + 1 < n; i += 2) {
      const r = bottomR[i >> 1] + bottomT[i >> 1] * R2[i >> 1]
      const m0 = M[i]!
      out[i] = r % m0
      out[i + 1] = Math.floor(r / m0) % M[i + 1]!
    }
    if ((n & 1) === 1) out[n - 1] = R2[half - 1]
    return out
  }
  return go(M)
}

const Q_RADIX = new Uint32Array(P).fill(Q)
const ROUNDED_RADIX = new Uint32Array(P).fill((Q + 2) / 3)

/**
 * Bytes of a public key: an R/q element (1158 bytes).
 *
 * @since 0.1.0
 * @category encoding
 */
export const rqEncode = (r: Int16Array): Uint8Array => {
  const R = new Uint32Array(P)
  for (let i = 0; i < p; i++) R[i] = r[i] + q12
  return encode(R, Q_RADIX)
}

/**
 * The R/q element of a public key's bytes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const rqDecode = (bytes: Uint8Array): Int16Array => {
  const R = decode(bytes, Q_RADIX)
  const r = new Int16Array(P)
  for (let i = 0; i < p; i++) r[i] = R[i] - q12
  return r
}

/**
 * Bytes of a rounded R/q element (every coefficient a multiple of 3, so only (c + Q12)/3 is sent; 1007 bytes).
 *
 * @since 0.1.0
 * @category encoding
 */
export const roundedEncode = (r: Int16Array): Uint8Array => {
  const R = new Uint32Array(P)
  // (c + Q12) / 3 exactly, by multiplication: 10923/32768 ≈ 1/3 is exact for multiples of 3 below 2^14.
  for (let i = 0; i < p; i++) R[i] = ((r[i] + q12) * 10923) >>> 15
  return encode(R, ROUNDED_RADIX)
}

/**
 * The rounded R/q element of a ciphertext's first 1007 bytes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const roundedDecode = (bytes: Uint8Array): Int16Array => {
  const R = decode(bytes, ROUNDED_RADIX)
  const r = new Int16Array(P)
  for (let i = 0; i < p; i++) r[i] = R[i] * 3 - q12
  return r
}

/** Bytes of a small polynomial: (p + 3)/4 = 191. @since 0.1.0 @category constants */
export const SMALL_BYTES = (P + 3) >> 2

/**
 * Bytes of a small polynomial: coefficient + 1 in two bits, four per byte, lowest first.
 *
 * @since 0.1.0
 * @category encoding
 */
export const smallEncode = (f: Int8Array): Uint8Array => {
  const out = new Uint8Array(SMALL_BYTES)
  for (let i = 0; i < p; i++) out[i >> 2] |= (f[i] + 1) << (2 * (i & 3))
  return out
}

/**
 * The small polynomial of 191 bytes. Only our own secret keys are decoded, so the bit pair 11 (which would
 * give 2) never occurs.
 *
 * @since 0.1.0
 * @category encoding
 */
export const smallDecode = (bytes: Uint8Array): Int8Array => {
  const f = new Int8Array(P)
  for (let i = 0; i < p; i++) f[i] = ((bytes[i >> 2] >> (2 * (i & 3))) & 3) - 1
  return f
}
