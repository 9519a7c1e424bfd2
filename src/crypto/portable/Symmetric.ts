/**
 * The symmetric half of the portable backend: hashes, HMAC, AES-CTR/GCM/CBC/ECB, ChaCha20 and randomness on
 * @noble/hashes and @noble/ciphers (3DES-CBC from src/crypto/cipher/Des.ts: noble has no DES), runnable in any JavaScript runtime (DESIGN.md §4). Poly1305 is the
 * project's WebAssembly one (src/crypto/cipher/Poly1305.ts), which falls back to noble's.
 *
 * @since 0.1.0
 */
import { gcm, unsafe as aesUnsafe } from "@noble/ciphers/aes.js"
import { chacha20orig } from "@noble/ciphers/chacha.js"
import { hmac as nobleHmac } from "@noble/hashes/hmac.js"
import { md5, sha1 } from "@noble/hashes/legacy.js"
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js"
import type { Aead, HashAlgorithm, Hasher, StreamCipher, SymmetricPrimitives } from "../Backend.js"
import { chacha20Short, SHORT } from "../cipher/ChaCha20Short.js"
import { tripleDesCbc } from "../cipher/Des.js"
import { poly1305, poly1305Parts } from "../cipher/Poly1305.js"
import { concatBytes } from "../../wire/Bytes.js"

const hashes = { md5, sha1, sha256, sha384, sha512 } as const

// WebCrypto's getRandomValues refuses more than 65 536 bytes per call.
const RANDOM_CHUNK = 65536

const randomBytes = (n: number): Uint8Array => {
  const out = new Uint8Array(n)
  // SEC-24: only the platform CSPRNG.
  for (let off = 0; off < n; off += RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(out.subarray(off, Math.min(n, off + RANDOM_CHUNK)))
  }
  return out
}

const hash = (algorithm: HashAlgorithm): Hasher => {
  const h = hashes[algorithm].create()
  const hasher: Hasher = {
    update: (data) => {
      h.update(data)
      return hasher
    },
    digest: () => h.digest()
  }
  return hasher
}

const hmac = (algorithm: HashAlgorithm, key: Uint8Array, parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const m = nobleHmac.create(hashes[algorithm], key)
  for (const p of parts) m.update(p)
  return m.digest()
}

const ZERO_BLOCK = new Uint8Array(16)

/**
 * Stateful AES-CTR over noble's block function (RFC 4344 §4: a 128-bit big-endian counter). noble's `ctr` is
 * one-shot, so the key is expanded once here and the live counter block advanced by `ctrCounter` in place.
 * Partial blocks keep their unused keystream for the next call.
 */
const aesCtr = (key: Uint8Array, iv: Uint8Array): StreamCipher => {
  const xk = aesUnsafe.expandKeyLE(key)
  const counter = new Uint8Array(16)
  counter.set(iv)
  const ks = new Uint8Array(16) // keystream of the last partial block
  let ksPos = 16
  // Aligned scratch for inputs or outputs that sit at an offset not divisible by 4 (noble needs Uint32 views).
  let scratch = new Uint8Array(0)
  return {
    update(data, out) {
      const n = data.length
      let i = 0
      while (ksPos < 16 && i < n) {
        out[i] = data[i]! ^ ks[ksPos++]!
        i++
      }
      const whole = (n - i) & ~15
      if (whole > 0) {
        const src = data.subarray(i, i + whole)
        const dst = out.subarray(i, i + whole)
        if ((src.byteOffset & 3) === 0 && (dst.byteOffset & 3) === 0) {
          aesUnsafe.ctrCounter(xk, counter, src, dst)
        } else {
          if (scratch.length < whole) scratch = new Uint8Array(whole)
          const s = scratch.subarray(0, whole)
          s.set(src)
          aesUnsafe.ctrCounter(xk, counter, s, s)
          dst.set(s)
        }
        i += whole
      }
      if (i < n) {
        aesUnsafe.ctrCounter(xk, counter, ZERO_BLOCK, ks)
        ksPos = 0
        while (i < n) {
          out[i] = data[i]! ^ ks[ksPos++]!
          i++
        }
      }
    }
  }
}

// noble's AES rounds take the state as four little-endian words.
const wordLE = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
const putLE = (b: Uint8Array, i: number, w: number): void => {
  b[i] = w
  b[i + 1] = w >>> 8
  b[i + 2] = w >>> 16
  b[i + 3] = w >>> 24
}

/**
 * AES-CBC with the chaining value kept across calls (RFC 4253 §6.3), over noble's round function with the key
 * expanded once. noble's `cbc` is one-shot (it expands the key and restarts from the IV on every call).
 */
const aesCbc = (key: Uint8Array, iv: Uint8Array, direction: "encrypt" | "decrypt"): StreamCipher => {
  if (iv.length !== 16) throw new RangeError(`AES-CBC needs a 16-byte IV, got ${iv.length}`)
  const decrypt = direction === "decrypt"
  const xk = decrypt ? aesUnsafe.expandKeyDecLE(key) : aesUnsafe.expandKeyLE(key)
  let c0 = wordLE(iv, 0)
  let c1 = wordLE(iv, 4)
  let c2 = wordLE(iv, 8)
  let c3 = wordLE(iv, 12)
  return {
    update(data, out) {
      if (data.length % 16 !== 0) throw new RangeError("AES-CBC takes whole 16-byte blocks")
      for (let i = 0; i < data.length; i += 16) {
        const w0 = wordLE(data, i)
        const w1 = wordLE(data, i + 4)
        const w2 = wordLE(data, i + 8)
        const w3 = wordLE(data, i + 12)
        if (decrypt) {
          const p = aesUnsafe.decrypt(xk, w0, w1, w2, w3)
          putLE(out, i, p.s0 ^ c0)
          putLE(out, i + 4, p.s1 ^ c1)
          putLE(out, i + 8, p.s2 ^ c2)
          putLE(out, i + 12, p.s3 ^ c3)
          c0 = w0
          c1 = w1
          c2 = w2
          c3 = w3
        } else {
          const e = aesUnsafe.encrypt(xk, w0 ^ c0, w1 ^ c1, w2 ^ c2, w3 ^ c3)
          c0 = e.s0
          c1 = e.s1
          c2 = e.s2
          c3 = e.s3
          putLE(out, i, c0)
          putLE(out, i + 4, c1)
          putLE(out, i + 8, c2)
          putLE(out, i + 12, c3)
        }
      }
    }
  }
}

const cbc = (cipher: "aes" | "3des", key: Uint8Array, iv: Uint8Array, direction: "encrypt" | "decrypt"): StreamCipher =>
  cipher === "3des" ? tripleDesCbc(key, iv, direction) : aesCbc(key, iv, direction)

const aesEcb = (key: Uint8Array): StreamCipher => {
  const xk = aesUnsafe.expandKeyLE(key)
  return {
    update(data, out) {
      if (data.length % 16 !== 0) throw new RangeError("AES-ECB takes whole 16-byte blocks")
      for (let i = 0; i < data.length; i += 16) {
        const e = aesUnsafe.encrypt(xk, wordLE(data, i), wordLE(data, i + 4), wordLE(data, i + 8), wordLE(data, i + 12))
        putLE(out, i, e.s0)
        putLE(out, i + 4, e.s1)
        putLE(out, i + 8, e.s2)
        putLE(out, i + 12, e.s3)
      }
    }
  }
}

const aesGcm = (key: Uint8Array): Aead => {
  const k = key.slice()
  return {
    seal: (nonce, aad, plaintext) => gcm(k, nonce, aad).encrypt(plaintext),
    open: (nonce, aad, ciphertextAndTag) => {
      if (ciphertextAndTag.length < 16) return undefined
      try {
        return gcm(k, nonce, aad).decrypt(ciphertextAndTag)
      } catch {
        return undefined
      }
    }
  }
}

// Short inputs (chacha20-poly1305's length and Poly1305 key blocks) skip noble's per-call set-up.
const chacha20 = (key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array, out: Uint8Array): void => {
  if (data.length <= SHORT) chacha20Short(key, nonce, counter, data, out)
  else chacha20orig(key, nonce, data, out, counter)
}

// The pieces are joined once into the output, which is then encrypted in place (noble writes into a given array).
const chacha20Parts = (
  key: Uint8Array,
  nonce: Uint8Array,
  counter: number,
  parts: ReadonlyArray<Uint8Array>
): ReadonlyArray<Uint8Array> => {
  const out = concatBytes(parts)
  chacha20(key, nonce, counter, out, out)
  return [out]
}

// SEC-27: the time taken depends only on the length.
const timingSafeEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/**
 * Hashes, MACs, ciphers and randomness on @noble/hashes and @noble/ciphers.
 *
 * @since 0.1.0
 * @category backends
 */
export const symmetric: SymmetricPrimitives = {
  randomBytes,
  hash,
  hmac,
  aesCtr,
  aesGcm,
  cbc,
  aesEcb,
  chacha20,
  chacha20Parts,
  poly1305,
  poly1305Parts,
  timingSafeEqual
}
