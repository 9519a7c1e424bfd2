/**
 * Poly1305 (RFC 8439 §2.5) on the WebAssembly block kernels of WasmModules.ts: this file clamps the key, feeds
 * the message through the module's memory in chunks, and finishes h mod 2^130 − 5 plus s in JavaScript.
 *
 * Constant time as far as JavaScript and WebAssembly allow: no branch, loop bound or memory index depends on the
 * key or the message, only on the message length; the final reduction selects with masks. (JIT compilers promise
 * nothing about timing; this is the same discipline as @noble/ciphers'.) r, 5·r, h and the SIMD multipliers are
 * wiped from the module's memory after each tag; what stays is public: the last tag and the last message chunk
 * (ciphertext, in chacha20-poly1305).
 *
 * @since 0.1.0
 */
import { LAYOUT, SCALAR_BASE64, SIMD_BASE64 } from "./WasmModules.js"

/**
 * An instantiated kernel module.
 *
 * @since 0.1.0
 * @category models
 */
export interface Kernel {
  readonly mem: Uint8Array
  readonly view: DataView
  /** Absorbs `len` bytes (a multiple of 16) at `start`, one block at a time; hibit 2^24 marks full blocks. */
  readonly blocks: (start: number, len: number, hibit: number) => void
  /** Absorbs `len` full-block bytes (a multiple of 32, ≥ 32) at `start` two blocks at a time (SIMD only). */
  readonly pairs: ((start: number, len: number) => void) | undefined
}

// Below this many bytes the scalar loop is faster than the SIMD kernel's set-up (r², the lane multipliers).
const PAIRS_MIN = 256

const decodeBase64 = (text: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(text)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

const instantiate = (base64: string, simd: boolean): Kernel | undefined => {
  try {
    if (typeof WebAssembly !== "object") return undefined
    const bytes = decodeBase64(base64)
    // A runtime without fixed-width SIMD rejects the module at validation; that is the signal to fall back.
    if (!WebAssembly.validate(bytes)) return undefined
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {})
    const memory = exports["m"]
    const blocks = exports["b"]
    const pairs = exports["v"]
    if (!(memory instanceof WebAssembly.Memory) || typeof blocks !== "function") return undefined
    if (simd && typeof pairs !== "function") return undefined
    return {
      mem: new Uint8Array(memory.buffer),
      view: new DataView(memory.buffer),
      blocks: blocks as Kernel["blocks"],
      pairs: simd ? pairs as Kernel["pairs"] : undefined
    }
  } catch {
    return undefined
  }
}

/**
 * The SIMD module, or undefined where WebAssembly or its fixed-width SIMD is unavailable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const instantiateSimd = (): Kernel | undefined => instantiate(SIMD_BASE64, true)

/**
 * The scalar module, or undefined where WebAssembly is unavailable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const instantiateScalar = (): Kernel | undefined => instantiate(SCALAR_BASE64, false)

const le32 = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0

const { r: R, s: S, h: H, tag: TAG, message: MSG, chunk: CHUNK } = LAYOUT

/** RFC 8439 §2.5.1: clamp r; store it as 26-bit limbs (poly1305-donna-32) with 5·r, and zero h. */
const setKey = (view: DataView, key: Uint8Array): void => {
  const r0 = le32(key, 0) & 0x3ffffff
  const r1 = (le32(key, 3) >>> 2) & 0x3ffff03
  const r2 = (le32(key, 6) >>> 4) & 0x3ffc0ff
  const r3 = (le32(key, 9) >>> 6) & 0x3f03fff
  const r4 = (le32(key, 12) >>> 8) & 0x00fffff
  view.setUint32(R, r0, true)
  view.setUint32(R + 4, r1, true)
  view.setUint32(R + 8, r2, true)
  view.setUint32(R + 12, r3, true)
  view.setUint32(R + 16, r4, true)
  view.setUint32(S, r1 * 5, true)
  view.setUint32(S + 4, r2 * 5, true)
  view.setUint32(S + 8, r3 * 5, true)
  view.setUint32(S + 12, r4 * 5, true)
  for (let i = 0; i < 5; i++) view.setUint32(H + 4 * i, 0, true)
}

/** Absorbs `len` bytes (a multiple of 16) of full blocks at `start` of the message area. */
const run = (k: Kernel, start: number, len: number): void => {
  let done = 0
  if (k.pairs !== undefined && len >= PAIRS_MIN) {
    done = len - (len & 31)
    k.pairs(start, done)
  }
  if (done < len) k.blocks(start + done, len - done, 1 << 24)
}

/**
 * Absorbs `msg` into h: whole chunks through the message area, then the rest in one copy (the whole message
 * when it fits, without a `subarray`), the final partial block padded with 0x01 and zeros.
 */
const absorb = (k: Kernel, msg: Uint8Array): void => {
  const { mem } = k
  const len = msg.length
  let off = 0
  for (; len - off > CHUNK; off += CHUNK) {
    mem.set(msg.subarray(off, off + CHUNK), MSG)
    run(k, MSG, CHUNK)
  }
  mem.set(off === 0 ? msg : msg.subarray(off), MSG)
  absorbRest(k, len - off)
}

/** Absorbs the `n` bytes at the start of the message area: full blocks, then the last partial block padded. */
const absorbRest = (k: Kernel, n: number): void => {
  const full = n - (n & 15)
  if (full > 0) run(k, MSG, full)
  if (full < n) {
    // RFC 8439 §2.5.1: the last partial block gets a 0x01 byte after it and no 2^128 bit.
    k.mem[MSG + n] = 1
    for (let i = n + 1; i < full + 16; i++) k.mem[MSG + i] = 0
    k.blocks(MSG + full, 16, 0)
  }
}

/**
 * Absorbs the concatenation of `parts` into h, as `absorb` would the joined message: parts are copied one after
 * another into the message area (which is all the copying there is: the same as for one message), a full area
 * is absorbed at once, and the last partial block is padded.
 */
const absorbParts = (k: Kernel, parts: ReadonlyArray<Uint8Array>): void => {
  const { mem } = k
  let fill = 0
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]!
    let off = 0
    while (off < part.length) {
      const take = Math.min(CHUNK - fill, part.length - off)
      mem.set(take === part.length ? part : part.subarray(off, off + take), MSG + fill)
      fill += take
      off += take
      if (fill === CHUNK) {
        run(k, MSG, CHUNK)
        fill = 0
      }
    }
  }
  absorbRest(k, fill)
}

/**
 * h mod 2^130 − 5 (a full carry, then a masked select of h or h + 5 − 2^130), plus s, mod 2^128, written to
 * the tag slot of the memory (a `DataView` over a fresh 16-byte array would cost more than the whole tag).
 */
const finish = (view: DataView, key: Uint8Array): void => {
  let h0 = view.getUint32(H, true)
  let h1 = view.getUint32(H + 4, true)
  let h2 = view.getUint32(H + 8, true)
  let h3 = view.getUint32(H + 12, true)
  let h4 = view.getUint32(H + 16, true)
  let c = h1 >>> 26
  h1 &= 0x3ffffff
  h2 += c
  c = h2 >>> 26
  h2 &= 0x3ffffff
  h3 += c
  c = h3 >>> 26
  h3 &= 0x3ffffff
  h4 += c
  c = h4 >>> 26
  h4 &= 0x3ffffff
  h0 += c * 5
  c = h0 >>> 26
  h0 &= 0x3ffffff
  h1 += c
  let g0 = h0 + 5
  c = g0 >>> 26
  g0 &= 0x3ffffff
  let g1 = h1 + c
  c = g1 >>> 26
  g1 &= 0x3ffffff
  let g2 = h2 + c
  c = g2 >>> 26
  g2 &= 0x3ffffff
  let g3 = h3 + c
  c = g3 >>> 26
  g3 &= 0x3ffffff
  const g4 = (h4 + c - (1 << 26)) | 0
  const mask = (g4 >>> 31) - 1 // all ones when h ≥ p
  h0 = (h0 & ~mask) | (g0 & mask)
  h1 = (h1 & ~mask) | (g1 & mask)
  h2 = (h2 & ~mask) | (g2 & mask)
  h3 = (h3 & ~mask) | (g3 & mask)
  h4 = (h4 & ~mask) | (g4 & mask)
  const w0 = (h0 | (h1 << 26)) >>> 0
  const w1 = ((h1 >>> 6) | (h2 << 20)) >>> 0
  const w2 = ((h2 >>> 12) | (h3 << 14)) >>> 0
  const w3 = ((h3 >>> 18) | (h4 << 8)) >>> 0
  // (h + s) mod 2^128 word by word; the carry into the next word is f / 2^32 rounded down (0 or 1), no branch.
  let f = w0 + le32(key, 16)
  view.setUint32(TAG + 0, f >>> 0, true)
  f = w1 + le32(key, 20) + Math.floor(f / 0x100000000)
  view.setUint32(TAG + 4, f >>> 0, true)
  f = w2 + le32(key, 24) + Math.floor(f / 0x100000000)
  view.setUint32(TAG + 8, f >>> 0, true)
  f = w3 + le32(key, 28) + Math.floor(f / 0x100000000)
  view.setUint32(TAG + 12, f >>> 0, true)
}

/**
 * The Poly1305 tag of `msg` under the 32-byte one-time `key`, computed on `kernel`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wasmPoly1305 = (kernel: Kernel, key: Uint8Array, msg: Uint8Array): Uint8Array => {
  const { mem, view } = kernel
  setKey(view, key)
  absorb(kernel, msg)
  finish(view, key)
  // Wipe r, 5·r and h (the SIMD kernel wipes its own table of multipliers).
  for (let i = 0; i < H + 20; i += 4) view.setUint32(i, 0, true)
  return mem.slice(TAG, TAG + 16)
}

/**
 * The Poly1305 tag of the concatenation of `parts` (chacha20-poly1305's encrypted length and the ciphertext of
 * each piece of a gathered packet), without joining them first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wasmPoly1305Parts = (kernel: Kernel, key: Uint8Array, parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const { mem, view } = kernel
  setKey(view, key)
  absorbParts(kernel, parts)
  finish(view, key)
  for (let i = 0; i < H + 20; i += 4) view.setUint32(i, 0, true)
  return mem.slice(TAG, TAG + 16)
}
