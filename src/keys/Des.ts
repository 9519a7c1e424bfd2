/**
 * DES and triple DES (FIPS 46-3; EDE with three keys, NIST SP 800-67) in CBC mode, for reading old key files
 * only: `3des-cbc` openssh-key-v1 keys (`ssh-keygen -Z 3des-cbc`), `DEK-Info: DES-EDE3-CBC` PEM keys and PBES2
 * `des-ede3-cbc` PKCS#8 keys. No backend offers DES, and these files are small, so a plain bit-array
 * implementation is enough; it is never used on connections.
 *
 * @since 0.1.0
 */

const table = (s: string): ReadonlyArray<number> => s.trim().split(/\s+/).map(Number)

// FIPS 46-3 tables, 1-based bit positions, bit 1 the most significant bit of the first byte.
const IP = table(`58 50 42 34 26 18 10 2 60 52 44 36 28 20 12 4 62 54 46 38 30 22 14 6 64 56 48 40 32 24 16 8
  57 49 41 33 25 17 9 1 59 51 43 35 27 19 11 3 61 53 45 37 29 21 13 5 63 55 47 39 31 23 15 7`)
const FP = table(`40 8 48 16 56 24 64 32 39 7 47 15 55 23 63 31 38 6 46 14 54 22 62 30 37 5 45 13 53 21 61 29
  36 4 44 12 52 20 60 28 35 3 43 11 51 19 59 27 34 2 42 10 50 18 58 26 33 1 41 9 49 17 57 25`)
const E = table(`32 1 2 3 4 5 4 5 6 7 8 9 8 9 10 11 12 13 12 13 14 15 16 17 16 17 18 19 20 21 20 21 22 23 24 25
  24 25 26 27 28 29 28 29 30 31 32 1`)
const P = table(`16 7 20 21 29 12 28 17 1 15 23 26 5 18 31 10 2 8 24 14 32 27 3 9 19 13 30 6 22 11 4 25`)
const PC1 = table(`57 49 41 33 25 17 9 1 58 50 42 34 26 18 10 2 59 51 43 35 27 19 11 3 60 52 44 36
  63 55 47 39 31 23 15 7 62 54 46 38 30 22 14 6 61 53 45 37 29 21 13 5 28 20 12 4`)
const PC2 = table(`14 17 11 24 1 5 3 28 15 6 21 10 23 19 12 4 26 8 16 7 27 20 13 2
  41 52 31 37 47 55 30 40 51 45 33 48 44 49 39 56 34 53 46 42 50 36 29 32`)
const SHIFTS = table(`1 1 2 2 2 2 2 2 1 2 2 2 2 2 2 1`)
const S = [
  `14 4 13 1 2 15 11 8 3 10 6 12 5 9 0 7 0 15 7 4 14 2 13 1 10 6 12 11 9 5 3 8
   4 1 14 8 13 6 2 11 15 12 9 7 3 10 5 0 15 12 8 2 4 9 1 7 5 11 3 14 10 0 6 13`,
  `15 1 8 14 6 11 3 4 9 7 2 13 12 0 5 10 3 13 4 7 15 2 8 14 12 0 1 10 6 9 11 5
   0 14 7 11 10 4 13 1 5 8 12 6 9 3 2 15 13 8 10 1 3 15 4 2 11 6 7 12 0 5 14 9`,
  `10 0 9 14 6 3 15 5 1 13 12 7 11 4 2 8 13 7 0 9 3 4 6 10 2 8 5 14 12 11 15 1
   13 6 4 9 8 15 3 0 11 1 2 12 5 10 14 7 1 10 13 0 6 9 8 7 4 15 14 3 11 5 2 12`,
  `7 13 14 3 0 6 9 10 1 2 8 5 11 12 4 15 13 8 11 5 6 15 0 3 4 7 2 12 1 10 14 9
   10 6 9 0 12 11 7 13 15 1 3 14 5 2 8 4 3 15 0 6 10 1 13 8 9 4 5 11 12 7 2 14`,
  `2 12 4 1 7 10 11 6 8 5 3 15 13 0 14 9 14 11 2 12 4 7 13 1 5 0 15 10 3 9 8 6
   4 2 1 11 10 13 7 8 15 9 12 5 6 3 0 14 11 8 12 7 1 14 2 13 6 15 0 9 10 4 5 3`,
  `12 1 10 15 9 2 6 8 0 13 3 4 14 7 5 11 10 15 4 2 7 12 9 5 6 1 13 14 0 11 3 8
   9 14 15 5 2 8 12 3 7 0 4 10 1 13 11 6 4 3 2 12 9 5 15 10 11 14 1 7 6 0 8 13`,
  `4 11 2 14 15 0 8 13 3 12 9 7 5 10 6 1 13 0 11 7 4 9 1 10 14 3 5 12 2 15 8 6
   1 4 11 13 12 3 7 14 10 15 6 8 0 5 9 2 6 11 13 8 1 4 10 7 9 5 0 15 14 2 3 12`,
  `13 2 8 4 6 15 11 1 10 9 3 14 5 0 12 7 1 15 13 8 10 3 7 4 12 5 6 11 0 14 9 2
   7 11 4 1 9 12 14 2 0 6 10 13 15 3 5 8 2 1 14 7 4 10 8 13 15 12 9 0 3 5 6 11`
].map(table)

type Bits = ReadonlyArray<number>

const toBits = (b: Uint8Array): Array<number> => {
  const out: Array<number> = []
  for (const byte of b) for (let i = 7; i >= 0; i--) out.push((byte >> i) & 1)
  return out
}

const fromBits = (bits: Bits, out: Uint8Array, at: number): void => {
  for (let i = 0; i < bits.length / 8; i++) {
    let v = 0
    for (let j = 0; j < 8; j++) v = (v << 1) | bits[8 * i + j]!
    out[at + i] = v
  }
}

const permute = (bits: Bits, t: Bits): Array<number> => t.map((i) => bits[i - 1]!)

/** The 16 round keys of one 8-byte DES key (the parity bits are ignored, as PC-1 drops them). */
const schedule = (key: Uint8Array): ReadonlyArray<Bits> => {
  const cd = permute(toBits(key), PC1)
  let c = cd.slice(0, 28)
  let d = cd.slice(28)
  return SHIFTS.map((n) => {
    c = [...c.slice(n), ...c.slice(0, n)]
    d = [...d.slice(n), ...d.slice(0, n)]
    return permute([...c, ...d], PC2)
  })
}

const feistel = (r: Bits, k: Bits): Array<number> => {
  const x = permute(r, E).map((b, i) => b ^ k[i]!)
  const out: Array<number> = []
  for (let s = 0; s < 8; s++) {
    const g = x.slice(6 * s, 6 * s + 6)
    const v = S[s]![(g[0]! << 5) | (g[5]! << 4) | (g[1]! << 3) | (g[2]! << 2) | (g[3]! << 1) | g[4]!]!
    out.push((v >> 3) & 1, (v >> 2) & 1, (v >> 1) & 1, v & 1)
  }
  return permute(out, P)
}

/** One block through DES with the given round keys (reversed for decryption). */
const block = (bits: Bits, keys: ReadonlyArray<Bits>): Array<number> => {
  const x = permute(bits, IP)
  let l = x.slice(0, 32)
  let r = x.slice(32)
  for (const k of keys) {
    const f = feistel(r, k)
    ;[l, r] = [r, l.map((b, i) => b ^ f[i]!)]
  }
  return permute([...r, ...l], FP)
}

/**
 * Triple DES (EDE, keying option 1: three independent 8-byte keys in `key`) in CBC mode without padding, over
 * whole 8-byte blocks. `undefined` when the key is not 24 bytes, the IV not 8, or the data not whole blocks.
 *
 * @since 0.1.0
 * @category ciphers
 */
export const tripleDesCbc = (
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  direction: "encrypt" | "decrypt"
): Uint8Array | undefined => {
  if (key.length !== 24 || iv.length !== 8 || data.length % 8 !== 0) return undefined
  const [k1, k2, k3] = [0, 8, 16].map((at) => schedule(key.subarray(at, at + 8))) as [Bits[], Bits[], Bits[]]
  const rev = (k: ReadonlyArray<Bits>) => [...k].reverse()
  const out = new Uint8Array(data.length)
  let chain = toBits(iv)
  for (let at = 0; at < data.length; at += 8) {
    const input = toBits(data.subarray(at, at + 8))
    if (direction === "encrypt") {
      const x = input.map((b, i) => b ^ chain[i]!)
      chain = block(block(block(x, k1), rev(k2)), k3)
      fromBits(chain, out, at)
    } else {
      const x = block(block(block(input, rev(k3)), k2), rev(k1))
      fromBits(x.map((b, i) => b ^ chain[i]!), out, at)
      chain = input
    }
  }
  return out
}
