/**
 * Triple DES (TDEA, keying option 1: three independent keys, encrypt–decrypt–encrypt; NIST SP 800-67) in CBC mode,
 * for the legacy `3des-cbc` cipher (RFC 4253 §6.3) on the portable backend. @noble/ciphers has no DES; node:crypto
 * uses OpenSSL's `des-ede3-cbc` instead of this.
 *
 * Written from FIPS 46-3: the tables below are the standard's, and the combined S-box/P tables and the byte-wise
 * tables for the initial and final permutations are computed from them once, when first needed. The expansion E
 * is not tabulated: the six input bits of S-box i are bits 4i…4i+5 (cyclically, FIPS numbering) of R, which a
 * rotation brings to the top. Not constant time (table lookups): 3des-cbc is off by default and only for reaching
 * old equipment.
 *
 * @since 0.1.0
 */
import type { StreamCipher } from "../Backend.js"

// FIPS 46-3 tables; bit 1 is the most significant bit.
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24,
  16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39,
  31, 23, 15, 7
]
const P = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25]
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36, 63, 55,
  47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4
]
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52, 31, 37, 47, 55, 30,
  40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32
]
const SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1]
const S = [
  "14 4 13 1 2 15 11 8 3 10 6 12 5 9 0 7 0 15 7 4 14 2 13 1 10 6 12 11 9 5 3 8 4 1 14 8 13 6 2 11 15 12 9 7 3 10 5 0 15 12 8 2 4 9 1 7 5 11 3 14 10 0 6 13",
  "15 1 8 14 6 11 3 4 9 7 2 13 12 0 5 10 3 13 4 7 15 2 8 14 12 0 1 10 6 9 11 5 0 14 7 11 10 4 13 1 5 8 12 6 9 3 2 15 13 8 10 1 3 15 4 2 11 6 7 12 0 5 14 9",
  "10 0 9 14 6 3 15 5 1 13 12 7 11 4 2 8 13 7 0 9 3 4 6 10 2 8 5 14 12 11 15 1 13 6 4 9 8 15 3 0 11 1 2 12 5 10 14 7 1 10 13 0 6 9 8 7 4 15 14 3 11 5 2 12",
  "7 13 14 3 0 6 9 10 1 2 8 5 11 12 4 15 13 8 11 5 6 15 0 3 4 7 2 12 1 10 14 9 10 6 9 0 12 11 7 13 15 1 3 14 5 2 8 4 3 15 0 6 10 1 13 8 9 4 5 11 12 7 2 14",
  "2 12 4 1 7 10 11 6 8 5 3 15 13 0 14 9 14 11 2 12 4 7 13 1 5 0 15 10 3 9 8 6 4 2 1 11 10 13 7 8 15 9 12 5 6 3 0 14 11 8 12 7 1 14 2 13 6 15 0 9 10 4 5 3",
  "12 1 10 15 9 2 6 8 0 13 3 4 14 7 5 11 10 15 4 2 7 12 9 5 6 1 13 14 0 11 3 8 9 14 15 5 2 8 12 3 7 0 4 10 1 13 11 6 4 3 2 12 9 5 15 10 11 14 1 7 6 0 8 13",
  "4 11 2 14 15 0 8 13 3 12 9 7 5 10 6 1 13 0 11 7 4 9 1 10 14 3 5 12 2 15 8 6 1 4 11 13 12 3 7 14 10 15 6 8 0 5 9 2 6 11 13 8 1 4 10 7 9 5 0 15 14 2 3 12",
  "13 2 8 4 6 15 11 1 10 9 3 14 5 0 12 7 1 15 13 8 10 3 7 4 12 5 6 11 0 14 9 2 7 11 4 1 9 12 14 2 0 6 10 13 15 3 5 8 2 1 14 7 4 10 8 13 15 12 9 0 3 5 6 11"
].map((row) => row.split(" ").map(Number))

interface Tables {
  /** SP[64·i + x]: P applied to the output of S-box i for the 6-bit input x, placed at bits 4i+1…4i+4. */
  readonly sp: Uint32Array
  /** Byte-wise initial and final permutations: [(8·byte + position)·256 + value] → (high, low) words. */
  readonly ip: Uint32Array
  readonly fp: Uint32Array
}

let tables: Tables | undefined

// A permutation of 64 bits as byte tables: out = ⊕ over input bytes of table[byte position][byte value].
const byteTables = (perm: ReadonlyArray<number>): Uint32Array => {
  const t = new Uint32Array(8 * 256 * 2)
  for (let out = 0; out < 64; out++) {
    const src = perm[out]! - 1
    const pos = src >> 3
    const mask = 0x80 >> (src & 7)
    for (let v = 0; v < 256; v++) {
      if ((v & mask) === 0) continue
      const at = ((pos << 8) | v) * 2 + (out < 32 ? 0 : 1)
      t[at] = (t[at]! | (1 << (31 - (out & 31)))) >>> 0
    }
  }
  return t
}

const getTables = (): Tables => {
  if (tables !== undefined) return tables
  const sp = new Uint32Array(8 * 64)
  for (let i = 0; i < 8; i++) {
    for (let x = 0; x < 64; x++) {
      const row = ((x >> 4) & 2) | (x & 1)
      const s = S[i]![row * 16 + ((x >> 1) & 15)]!
      const before = s << (28 - 4 * i)
      let after = 0
      for (let j = 0; j < 32; j++) if ((before >>> (32 - P[j]!)) & 1) after |= 1 << (31 - j)
      sp[i * 64 + x] = after >>> 0
    }
  }
  const fp = new Array<number>(64)
  IP.forEach((src, out) => (fp[src - 1] = out + 1))
  tables = { sp, ip: byteTables(IP), fp: byteTables(fp) }
  return tables
}

/** The 16 round keys of one DES key, each as eight 6-bit S-box inputs, in encryption order (FIPS 46-3 key schedule). */
const schedule = (key: Uint8Array): Uint8Array => {
  const bit = (n: number) => (key[(n - 1) >> 3]! >> (7 - ((n - 1) & 7))) & 1
  const cd = PC1.map(bit)
  const c = cd.slice(0, 28)
  const d = cd.slice(28)
  const out = new Uint8Array(16 * 8)
  for (let round = 0; round < 16; round++) {
    for (let s = 0; s < SHIFTS[round]!; s++) {
      c.push(c.shift()!)
      d.push(d.shift()!)
    }
    const both = [...c, ...d]
    for (let i = 0; i < 8; i++) {
      let v = 0
      for (let j = 0; j < 6; j++) v = (v << 1) | both[PC2[i * 6 + j]! - 1]!
      out[round * 8 + i] = v
    }
  }
  return out
}

const permute = (t: Uint32Array, b: Uint8Array, off: number, out: Uint32Array): void => {
  let hi = 0
  let lo = 0
  for (let p = 0; p < 8; p++) {
    const at = ((p << 8) | b[off + p]!) * 2
    hi |= t[at]!
    lo |= t[at + 1]!
  }
  out[0] = hi >>> 0
  out[1] = lo >>> 0
}

/**
 * 16 rounds on (l, r) with the given round keys, forwards or backwards; the result is (R16, L16), already swapped,
 * which is what the next DES of the triple takes after the final and initial permutations cancel.
 */
const rounds = (sp: Uint32Array, keys: Uint8Array, backwards: boolean, lr: Uint32Array): void => {
  let l = lr[0]!
  let r = lr[1]!
  for (let n = 0; n < 16; n++) {
    const k = (backwards ? 15 - n : n) * 8
    // E(R) ⊕ K through the S-boxes and P: the six bits of S-box i start at bit 4i of R (bit 0 being bit 32).
    const f = sp[((((r >>> 1) | (r << 31)) >>> 26) ^ keys[k]!)]! |
      sp[64 + ((((r << 3) | (r >>> 29)) >>> 26) ^ keys[k + 1]!)]! |
      sp[128 + ((((r << 7) | (r >>> 25)) >>> 26) ^ keys[k + 2]!)]! |
      sp[192 + ((((r << 11) | (r >>> 21)) >>> 26) ^ keys[k + 3]!)]! |
      sp[256 + ((((r << 15) | (r >>> 17)) >>> 26) ^ keys[k + 4]!)]! |
      sp[320 + ((((r << 19) | (r >>> 13)) >>> 26) ^ keys[k + 5]!)]! |
      sp[384 + ((((r << 23) | (r >>> 9)) >>> 26) ^ keys[k + 6]!)]! |
      sp[448 + ((((r << 27) | (r >>> 5)) >>> 26) ^ keys[k + 7]!)]!
    const t = r
    r = (l ^ f) >>> 0
    l = t
  }
  lr[0] = r
  lr[1] = l
}

/**
 * 3DES-EDE in CBC mode with a 24-byte key (K1 ‖ K2 ‖ K3) and an 8-byte IV, the chaining value kept between calls
 * (RFC 4253 §6.3). `update` takes whole 8-byte blocks; a trailing partial block is a caller bug and throws.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tripleDesCbc = (key: Uint8Array, iv: Uint8Array, direction: "encrypt" | "decrypt"): StreamCipher => {
  if (key.length !== 24) throw new RangeError(`3DES needs a 24-byte key, got ${key.length}`)
  if (iv.length !== 8) throw new RangeError(`3DES-CBC needs an 8-byte IV, got ${iv.length}`)
  const { fp, ip, sp } = getTables()
  const k1 = schedule(key.subarray(0, 8))
  const k2 = schedule(key.subarray(8, 16))
  const k3 = schedule(key.subarray(16, 24))
  const decrypt = direction === "decrypt"
  const chain = new Uint8Array(iv) // a copy: Buffer.prototype.slice would share the caller's memory
  const block = new Uint8Array(8)
  const lr = new Uint32Array(2)
  const outWords = new Uint8Array(8)
  const toBytes = (w: Uint32Array, out: Uint8Array) => {
    out[0] = w[0]! >>> 24
    out[1] = w[0]! >>> 16
    out[2] = w[0]! >>> 8
    out[3] = w[0]!
    out[4] = w[1]! >>> 24
    out[5] = w[1]! >>> 16
    out[6] = w[1]! >>> 8
    out[7] = w[1]!
  }
  return {
    update(data, out) {
      if (data.length % 8 !== 0) throw new RangeError("3DES-CBC takes whole 8-byte blocks")
      for (let off = 0; off < data.length; off += 8) {
        if (decrypt) {
          block.set(data.subarray(off, off + 8))
          permute(ip, block, 0, lr)
          rounds(sp, k3, true, lr)
          rounds(sp, k2, false, lr)
          rounds(sp, k1, true, lr)
          toBytes(lr, outWords)
          permute(fp, outWords, 0, lr)
          toBytes(lr, outWords)
          for (let i = 0; i < 8; i++) out[off + i] = outWords[i]! ^ chain[i]!
          chain.set(block)
        } else {
          for (let i = 0; i < 8; i++) block[i] = data[off + i]! ^ chain[i]!
          permute(ip, block, 0, lr)
          rounds(sp, k1, false, lr)
          rounds(sp, k2, true, lr)
          rounds(sp, k3, false, lr)
          toBytes(lr, outWords)
          permute(fp, outWords, 0, lr)
          toBytes(lr, chain)
          out.set(chain, off)
        }
      }
    }
  }
}
