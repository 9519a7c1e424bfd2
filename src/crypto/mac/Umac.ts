/**
 * UMAC (RFC 4418) with AES-128 as its block cipher, for `umac-64@openssh.com` and `umac-128@openssh.com`.
 *
 * Tag = UHASH(K, M) ⊕ PDF(K, Nonce). UHASH has three layers per 32-bit "stream" (one stream per 4 tag bytes):
 * L1 (NH over 1 KiB chunks, Toeplitz-shifted keys), L2 (a polynomial hash mod 2^64 − 59, switching to mod
 * 2^128 − 159 past 2^24 bytes of message), L3 (an inner product mod 2^36 − 5). The AES block function comes from
 * the crypto backend (`aesEcb`), so both backends share this code.
 *
 * NH dominates the cost. It runs on 32-bit words in `Int32Array`s, with `Math.imul` for the exact low half of
 * its 64-bit sums and a double for the rest (see `nh`), so there is no BigInt in the inner loop. The polynomial
 * layer runs once per KiB per stream and uses BigInt.
 *
 * @since 0.1.0
 */
import type { StreamCipher } from "../Backend.js"

/**
 * A UMAC instance with a fixed key and tag length.
 *
 * @since 0.1.0
 * @category models
 */
export interface Umac {
  /** Tag length in bytes: 4, 8, 12 or 16 (UMAC-32/64/96/128). */
  readonly length: number
  /** The tag of `message` under `nonce` (1 to 16 bytes, RFC 4418 §3.1). */
  tag(message: Uint8Array, nonce: Uint8Array): Uint8Array
}

const L1_KEY = 1024
const P36 = 2 ** 36 - 5
const P64 = 2n ** 64n - 59n
const P128 = 2n ** 128n - 159n
const MASK64 = 0x01ffffff01ffffffn
const MASK128 = 0x01ffffff01ffffff01ffffff01ffffffn
const TWO32 = 2 ** 32
// RFC 4418 §5.3: L2 switches to POLY-128 after 2^17 bytes of L1 output, i.e. 2^14 chunks.
const POLY64_CHUNKS = 2 ** 14

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

const readBE32 = (b: Uint8Array, i: number): number =>
  ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0

const readBE64 = (b: Uint8Array, i: number): bigint => (BigInt(readBE32(b, i)) << 32n) | BigInt(readBE32(b, i + 4))

/** RFC 4418 §3.2.1 KDF: AES(K, uint64(index) ‖ uint64(i)) for i = 1, 2, …, truncated to `bytes`. */
const kdf = (aes: StreamCipher, index: number, bytes: number): Uint8Array => {
  const blocks = Math.ceil(bytes / 16)
  const input = new Uint8Array(blocks * 16)
  for (let i = 0; i < blocks; i++) {
    input[i * 16 + 7] = index
    new DataView(input.buffer).setUint32(i * 16 + 12, i + 1)
  }
  const out = new Uint8Array(blocks * 16)
  aes.update(input, out)
  return out.subarray(0, bytes)
}

const MAX64 = 2n ** 64n - 2n ** 32n
const MAX128 = 2n ** 128n - 2n ** 96n

/**
 * One POLY step (RFC 4418 §5.3): y·k + m mod p. A word at or above `maxWord` cannot be hashed as is: the marker
 * p − 1 goes in first, then the word minus the offset 2^bits − p.
 */
const poly = (y: bigint, k: bigint, m: bigint, p: bigint, maxWord: bigint, offset: bigint): bigint => {
  if (m >= maxWord) {
    y = (k * y + (p - 1n)) % p
    return (k * y + (m - offset)) % p
  }
  return (k * y + m) % p
}
const poly64 = (y: bigint, k: bigint, m: bigint): bigint => poly(y, k, m, P64, MAX64, 59n)
const poly128 = (y: bigint, k: bigint, m: bigint): bigint => poly(y, k, m, P128, MAX128, 159n)

/**
 * A UMAC with a 16-byte AES-128 key and a tag of `length` bytes (4, 8, 12 or 16), given the backend's raw AES
 * block function. All subkeys are derived here, once (RFC 4418 §3.2, §5.1).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUmac = (aesEcb: (key: Uint8Array) => StreamCipher, key: Uint8Array, length: number): Umac => {
  if (key.length !== 16) throw new RangeError(`UMAC needs a 16-byte key, got ${key.length}`)
  if (length !== 4 && length !== 8 && length !== 12 && length !== 16) throw new RangeError(`UMAC tag length ${length}`)
  const streams = length / 4
  const aes = aesEcb(key)

  // L1: NH key words are big-endian (RFC 4418 §5.2.2 reads keys with str2uint); stream i starts 16·i bytes in.
  // NH runs streams in pairs: an odd count (UMAC-32/96) gets one more stream's key, computed and ignored (the KDF
  // output for an index is one stream, so the longer key starts with the shorter one).
  const paired = streams + (streams & 1)
  const l1Bytes = kdf(aes, 1, L1_KEY + (paired - 1) * 16)
  const nhKey = new Int32Array(l1Bytes.length / 4)
  for (let i = 0; i < nhKey.length; i++) nhKey[i] = readBE32(l1Bytes, i * 4)
  const l2 = kdf(aes, 2, streams * 24)
  const l3a = kdf(aes, 3, streams * 64)
  const l3b = kdf(aes, 4, streams * 4)
  const polyKey64: Array<bigint> = []
  const polyKey128: Array<bigint> = []
  const ipKeys = new Float64Array(streams * 8)
  const ipTrans = new Uint32Array(streams)
  for (let s = 0; s < streams; s++) {
    polyKey64.push(readBE64(l2, s * 24) & MASK64)
    polyKey128.push(((readBE64(l2, s * 24 + 8) << 64n) | readBE64(l2, s * 24 + 16)) & MASK128)
    for (let j = 0; j < 8; j++) ipKeys[s * 8 + j] = Number(readBE64(l3a, s * 64 + j * 8) % BigInt(P36))
    ipTrans[s] = readBE32(l3b, s * 4)
  }

  // PDF (RFC 4418 §3.3): AES under K' = KDF(K, 0, 16) of the nonce with its low index bits cleared; cached.
  const pdfAes = aesEcb(kdf(aes, 0, 16))
  const indexMask = length === 4 ? 3 : length === 8 ? 1 : 0
  const pdfIn = new Uint8Array(16)
  const pdfOut = new Uint8Array(16)
  let pdfValid = false

  const pad = (nonce: Uint8Array): Uint8Array => {
    if (nonce.length < 1 || nonce.length > 16) throw new RangeError(`UMAC nonce of ${nonce.length} bytes`)
    const last = nonce.length - 1
    const index = nonce[last]! & indexMask
    let same = pdfValid
    for (let i = 0; i < 16; i++) {
      const b = i < last ? nonce[i]! : i === last ? nonce[i]! & ~indexMask : 0
      if (pdfIn[i] !== b) {
        same = false
        pdfIn[i] = b
      }
    }
    if (!same) {
      pdfAes.update(pdfIn, pdfOut)
      pdfValid = true
    }
    return pdfOut.subarray(index * length, index * length + length)
  }

  // Scratch: message words (when the message is not 4-byte aligned) and the zero-padded final block.
  let words = new Int32Array(0)
  const tail = new Int32Array(8)
  const tailBytes = new Uint8Array(tail.buffer)
  const nhHi = new Uint32Array(paired)
  const nhLo = new Uint32Array(paired)

  /**
   * NH (RFC 4418 §5.2.2) of `blocks` whole 32-byte blocks of `m` from word `from`, then the zero-padded `last`
   * block if any, plus the bit length: one 64-bit value per stream, into nhHi/nhLo.
   *
   * The sum of a chunk's 128 products x·y (x, y < 2^32) is kept twice: its low 32 bits exactly, wrapping, from
   * `Math.imul`; and the whole sum approximately, in a double. The double is off by less than 2^26 (each product
   * and each addition rounds by at most 2^18 at magnitudes below 2^71), while (sum − low bits) is an exact
   * multiple of 2^32, so rounding (double − low bits) / 2^32 gives the high part exactly. No BigInt, and two
   * multiplications per product.
   */
  const nh = (m: Int32Array, from: number, blocks: number, last: Int32Array | undefined, bits: number): void => {
    // Streams go in pairs (2 for UMAC-64, 4 for UMAC-128), sharing the message loads: stream s + 1 uses the key
    // four words further on (the Toeplitz shift of RFC 4418 §5.1).
    for (let s = 0; s < streams; s += 2) {
      let approxA = 0
      let lowA = 0
      let approxB = 0
      let lowB = 0
      let k = s * 4
      const end = from + blocks * 8
      for (let i = from; i < end; i += 8, k += 8) {
        const m0 = m[i]!
        const m1 = m[i + 1]!
        const m2 = m[i + 2]!
        const m3 = m[i + 3]!
        const m4 = m[i + 4]!
        const m5 = m[i + 5]!
        const m6 = m[i + 6]!
        const m7 = m[i + 7]!
        const k4 = nhKey[k + 4]!
        const k5 = nhKey[k + 5]!
        const k6 = nhKey[k + 6]!
        const k7 = nhKey[k + 7]!
        const a0 = (m0 + nhKey[k]!) >>> 0
        const a1 = (m1 + nhKey[k + 1]!) >>> 0
        const a2 = (m2 + nhKey[k + 2]!) >>> 0
        const a3 = (m3 + nhKey[k + 3]!) >>> 0
        const a4 = (m4 + k4) >>> 0
        const a5 = (m5 + k5) >>> 0
        const a6 = (m6 + k6) >>> 0
        const a7 = (m7 + k7) >>> 0
        approxA += a0 * a4 + a1 * a5 + a2 * a6 + a3 * a7
        lowA = (lowA + Math.imul(a0, a4) + Math.imul(a1, a5) + Math.imul(a2, a6) + Math.imul(a3, a7)) | 0
        const b0 = (m0 + k4) >>> 0
        const b1 = (m1 + k5) >>> 0
        const b2 = (m2 + k6) >>> 0
        const b3 = (m3 + k7) >>> 0
        const b4 = (m4 + nhKey[k + 8]!) >>> 0
        const b5 = (m5 + nhKey[k + 9]!) >>> 0
        const b6 = (m6 + nhKey[k + 10]!) >>> 0
        const b7 = (m7 + nhKey[k + 11]!) >>> 0
        approxB += b0 * b4 + b1 * b5 + b2 * b6 + b3 * b7
        lowB = (lowB + Math.imul(b0, b4) + Math.imul(b1, b5) + Math.imul(b2, b6) + Math.imul(b3, b7)) | 0
      }
      if (last !== undefined) {
        for (let j = 0; j < 4; j++) {
          const xa = (last[j]! + nhKey[k + j]!) >>> 0
          const ya = (last[j + 4]! + nhKey[k + j + 4]!) >>> 0
          approxA += xa * ya
          lowA = (lowA + Math.imul(xa, ya)) | 0
          const xb = (last[j]! + nhKey[k + j + 4]!) >>> 0
          const yb = (last[j + 4]! + nhKey[k + j + 8]!) >>> 0
          approxB += xb * yb
          lowB = (lowB + Math.imul(xb, yb)) | 0
        }
      }
      finish(s, approxA, lowA, bits)
      finish(s + 1, approxB, lowB, bits)
    }
  }

  // (sum − low bits) is a multiple of 2^32 and `approx` is within 2^26 of the sum: rounding recovers the high half.
  const finish = (s: number, approx: number, low: number, bits: number): void => {
    const lowBits = low >>> 0
    const high = Math.round((approx - lowBits) / TWO32)
    const withLength = lowBits + bits
    nhLo[s] = withLength >>> 0
    nhHi[s] = (high + (withLength >= TWO32 ? 1 : 0)) >>> 0
  }

  /** L3 (RFC 4418 §5.4) of the 16-byte big-endian value (w0, w1, w2, w3) for stream s. */
  const l3 = (s: number, w0: number, w1: number, w2: number, w3: number): number => {
    let y = 0
    const k = s * 8
    y = (y + (w0 >>> 16) * ipKeys[k]!) % P36
    y = (y + (w0 & 0xffff) * ipKeys[k + 1]!) % P36
    y = (y + (w1 >>> 16) * ipKeys[k + 2]!) % P36
    y = (y + (w1 & 0xffff) * ipKeys[k + 3]!) % P36
    y = (y + (w2 >>> 16) * ipKeys[k + 4]!) % P36
    y = (y + (w2 & 0xffff) * ipKeys[k + 5]!) % P36
    y = (y + (w3 >>> 16) * ipKeys[k + 6]!) % P36
    y = (y + (w3 & 0xffff) * ipKeys[k + 7]!) % P36
    return ((y % TWO32) ^ ipTrans[s]!) >>> 0
  }

  const uhash = (message: Uint8Array, out: Uint8Array): void => {
    const len = message.length
    const fullBlocks = len >>> 5
    let m: Int32Array
    if (LITTLE_ENDIAN && (message.byteOffset & 3) === 0) {
      m = new Int32Array(message.buffer, message.byteOffset, fullBlocks * 8)
    } else {
      if (words.length < fullBlocks * 8) words = new Int32Array(fullBlocks * 8)
      const dv = new DataView(message.buffer, message.byteOffset, message.byteLength)
      for (let i = 0; i < fullBlocks * 8; i++) words[i] = dv.getInt32(i * 4, true)
      m = words
    }
    // The final partial block, zero-padded to 32 bytes (an empty message hashes one block of zeros).
    const rest = len & 31
    let last: Int32Array | undefined
    if (rest > 0 || len === 0) {
      tail.fill(0)
      tailBytes.set(message.subarray(len - rest))
      if (!LITTLE_ENDIAN) {
        const dv = new DataView(tail.buffer)
        for (let i = 0; i < 8; i++) tail[i] = dv.getInt32(i * 4, true)
      }
      last = tail
    }
    const o = new DataView(out.buffer, out.byteOffset, out.byteLength)
    if (len <= L1_KEY) {
      // RFC 4418 §5.1: a message of at most one chunk skips L2; L3 sees zeros(8) ‖ NH.
      nh(m, 0, fullBlocks, last, len * 8)
      for (let s = 0; s < streams; s++) o.setUint32(s * 4, l3(s, 0, 0, nhHi[s]!, nhLo[s]!))
      return
    }
    const chunks = Math.ceil(len / L1_KEY)
    const y64 = new Array<bigint>(streams).fill(1n)
    const y128 = new Array<bigint>(streams).fill(1n)
    const half = new Array<bigint>(streams).fill(0n)
    for (let c = 0; c < chunks; c++) {
      const isLast = c === chunks - 1
      const blocks = isLast ? fullBlocks - c * 32 : 32
      nh(m, c * 256, blocks, isLast ? last : undefined, (isLast ? len - c * L1_KEY : L1_KEY) * 8)
      for (let s = 0; s < streams; s++) {
        const v = (BigInt(nhHi[s]!) << 32n) | BigInt(nhLo[s]!)
        if (c < POLY64_CHUNKS) {
          y64[s] = poly64(y64[s]!, polyKey64[s]!, v)
        } else {
          // RFC 4418 §5.3: POLY-128 over uint2str(y64, 16) ‖ the remaining L1 output, 16 bytes at a time.
          if (c === POLY64_CHUNKS) y128[s] = poly128(1n, polyKey128[s]!, y64[s]!)
          if ((c - POLY64_CHUNKS) % 2 === 0) half[s] = v
          else y128[s] = poly128(y128[s]!, polyKey128[s]!, (half[s]! << 64n) | v)
        }
      }
    }
    for (let s = 0; s < streams; s++) {
      let y = y64[s]!
      if (chunks > POLY64_CHUNKS) {
        // Append 0x80 and zero-pad to a 16-byte word.
        const odd = (chunks - POLY64_CHUNKS) % 2 === 1
        const word = odd ? (half[s]! << 64n) | (0x80n << 56n) : 0x80n << 120n
        y = poly128(y128[s]!, polyKey128[s]!, word)
      }
      const w = (i: bigint) => Number((y >> i) & 0xffffffffn)
      o.setUint32(s * 4, l3(s, w(96n), w(64n), w(32n), w(0n)))
    }
  }

  return {
    length,
    tag(message, nonce) {
      const out = new Uint8Array(length)
      uhash(message, out)
      const p = pad(nonce)
      for (let i = 0; i < length; i++) out[i]! ^= p[i]!
      return out
    }
  }
}
