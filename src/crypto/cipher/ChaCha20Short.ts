/**
 * ChaCha20, original variant (64-bit nonce, 64-bit block counter; draft-agl-tls-chacha20poly1305 §2, as
 * chacha20-poly1305@openssh.com uses it), in plain TypeScript for short inputs. chacha20-poly1305 encrypts every
 * packet's 4-byte length under K_1 and derives every Poly1305 key from a 64-byte block of K_2: one block each.
 * Through node:crypto each costs a `createCipheriv` (≈ 4 µs, more than the whole Poly1305 of a 1 KiB packet),
 * through @noble/ciphers ≈ 2.5 µs of set-up; this function computes a block in a fraction of that. Backends call
 * it for inputs of at most `SHORT` bytes and keep their own ChaCha20 for bulk.
 *
 * Constant time: additions, rotations and xors only; no branch or index depends on the key or the data.
 *
 * @since 0.1.0
 */

/**
 * Inputs up to this length are faster here than through a backend's bulk ChaCha20.
 *
 * @since 0.1.0
 * @category constants
 */
export const SHORT = 64

const le32 = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)

const block = new Int32Array(16)
const stream = new Uint8Array(block.buffer)
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** The keystream block `counter` of (key, nonce) into `block` (little-endian words). */
const keystream = (key: Uint8Array, nonce: Uint8Array, counter: number): void => {
  const j0 = 0x61707865, j1 = 0x3320646e, j2 = 0x79622d32, j3 = 0x6b206574 // "expand 32-byte k"
  const j4 = le32(key, 0), j5 = le32(key, 4), j6 = le32(key, 8), j7 = le32(key, 12)
  const j8 = le32(key, 16), j9 = le32(key, 20), j10 = le32(key, 24), j11 = le32(key, 28)
  const j12 = counter | 0, j13 = Math.floor(counter / 0x100000000) | 0
  const j14 = le32(nonce, 0), j15 = le32(nonce, 4)
  let x0 = j0, x1 = j1, x2 = j2, x3 = j3, x4 = j4, x5 = j5, x6 = j6, x7 = j7
  let x8 = j8, x9 = j9, x10 = j10, x11 = j11, x12 = j12, x13 = j13, x14 = j14, x15 = j15
  let t: number
  for (let i = 0; i < 10; i++) {
    // Column round, then diagonal round: QUARTERROUND(a, b, c, d) of RFC 8439 §2.1, written out.
    x0 = (x0 + x4) | 0; t = x12 ^ x0; x12 = (t << 16) | (t >>> 16)
    x8 = (x8 + x12) | 0; t = x4 ^ x8; x4 = (t << 12) | (t >>> 20)
    x0 = (x0 + x4) | 0; t = x12 ^ x0; x12 = (t << 8) | (t >>> 24)
    x8 = (x8 + x12) | 0; t = x4 ^ x8; x4 = (t << 7) | (t >>> 25)
    x1 = (x1 + x5) | 0; t = x13 ^ x1; x13 = (t << 16) | (t >>> 16)
    x9 = (x9 + x13) | 0; t = x5 ^ x9; x5 = (t << 12) | (t >>> 20)
    x1 = (x1 + x5) | 0; t = x13 ^ x1; x13 = (t << 8) | (t >>> 24)
    x9 = (x9 + x13) | 0; t = x5 ^ x9; x5 = (t << 7) | (t >>> 25)
    x2 = (x2 + x6) | 0; t = x14 ^ x2; x14 = (t << 16) | (t >>> 16)
    x10 = (x10 + x14) | 0; t = x6 ^ x10; x6 = (t << 12) | (t >>> 20)
    x2 = (x2 + x6) | 0; t = x14 ^ x2; x14 = (t << 8) | (t >>> 24)
    x10 = (x10 + x14) | 0; t = x6 ^ x10; x6 = (t << 7) | (t >>> 25)
    x3 = (x3 + x7) | 0; t = x15 ^ x3; x15 = (t << 16) | (t >>> 16)
    x11 = (x11 + x15) | 0; t = x7 ^ x11; x7 = (t << 12) | (t >>> 20)
    x3 = (x3 + x7) | 0; t = x15 ^ x3; x15 = (t << 8) | (t >>> 24)
    x11 = (x11 + x15) | 0; t = x7 ^ x11; x7 = (t << 7) | (t >>> 25)
    x0 = (x0 + x5) | 0; t = x15 ^ x0; x15 = (t << 16) | (t >>> 16)
    x10 = (x10 + x15) | 0; t = x5 ^ x10; x5 = (t << 12) | (t >>> 20)
    x0 = (x0 + x5) | 0; t = x15 ^ x0; x15 = (t << 8) | (t >>> 24)
    x10 = (x10 + x15) | 0; t = x5 ^ x10; x5 = (t << 7) | (t >>> 25)
    x1 = (x1 + x6) | 0; t = x12 ^ x1; x12 = (t << 16) | (t >>> 16)
    x11 = (x11 + x12) | 0; t = x6 ^ x11; x6 = (t << 12) | (t >>> 20)
    x1 = (x1 + x6) | 0; t = x12 ^ x1; x12 = (t << 8) | (t >>> 24)
    x11 = (x11 + x12) | 0; t = x6 ^ x11; x6 = (t << 7) | (t >>> 25)
    x2 = (x2 + x7) | 0; t = x13 ^ x2; x13 = (t << 16) | (t >>> 16)
    x8 = (x8 + x13) | 0; t = x7 ^ x8; x7 = (t << 12) | (t >>> 20)
    x2 = (x2 + x7) | 0; t = x13 ^ x2; x13 = (t << 8) | (t >>> 24)
    x8 = (x8 + x13) | 0; t = x7 ^ x8; x7 = (t << 7) | (t >>> 25)
    x3 = (x3 + x4) | 0; t = x14 ^ x3; x14 = (t << 16) | (t >>> 16)
    x9 = (x9 + x14) | 0; t = x4 ^ x9; x4 = (t << 12) | (t >>> 20)
    x3 = (x3 + x4) | 0; t = x14 ^ x3; x14 = (t << 8) | (t >>> 24)
    x9 = (x9 + x14) | 0; t = x4 ^ x9; x4 = (t << 7) | (t >>> 25)
  }
  block[0] = x0 + j0; block[1] = x1 + j1; block[2] = x2 + j2; block[3] = x3 + j3
  block[4] = x4 + j4; block[5] = x5 + j5; block[6] = x6 + j6; block[7] = x7 + j7
  block[8] = x8 + j8; block[9] = x9 + j9; block[10] = x10 + j10; block[11] = x11 + j11
  block[12] = x12 + j12; block[13] = x13 + j13; block[14] = x14 + j14; block[15] = x15 + j15
  // The keystream is the words little-endian; on a big-endian host, swap them in place.
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < 16; i++) {
      const w = block[i]!
      block[i] = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)
    }
  }
}

/**
 * `out` = `data` xor the ChaCha20 keystream of (key, nonce) from block `counter`; `out` may be `data`. Any length
 * works; it is meant for at most `SHORT` bytes. The keystream block is wiped after use.
 *
 * @since 0.1.0
 * @category constructors
 */
export const chacha20Short = (key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array, out: Uint8Array): void => {
  for (let off = 0, ctr = counter; off < data.length; off += 64, ctr++) {
    keystream(key, nonce, ctr)
    const n = Math.min(64, data.length - off)
    for (let i = 0; i < n; i++) out[off + i] = data[off + i]! ^ stream[i]!
  }
  block.fill(0)
}
