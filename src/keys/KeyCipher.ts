/**
 * The ciphers that protect private key files: every cipher `ssh-keygen -Z` accepts for openssh-key-v1
 * (OpenSSH cipher.c: aes128/192/256-ctr, aes128/256-gcm@openssh.com, chacha20-poly1305@openssh.com,
 * aes128/192/256-cbc, rijndael-cbc@lysator.liu.se, 3des-cbc), and CBC with PKCS#7 padding for PEM and PKCS#8.
 *
 * CTR, GCM and ChaCha20-Poly1305 run on the given backend; CBC runs on @noble/ciphers (AES) or crypto/cipher/Des.ts (3DES),
 * as no backend offers it and it is used for key files only.
 *
 * @since 0.1.0
 */
import { cbc } from "@noble/ciphers/aes.js"
import type { SymmetricPrimitives } from "../crypto/Backend.js"
import * as Des from "../crypto/cipher/Des.js"

/**
 * Encrypts or decrypts whole blocks; `undefined` when an AEAD tag does not verify (decrypt only).
 *
 * @since 0.1.0
 * @category models
 */
export type Transform = (
  backend: SymmetricPrimitives,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  tag: Uint8Array
) => Uint8Array | undefined

/**
 * Key, IV, block and tag lengths as OpenSSH cipher.c lists them, and the two directions. `encrypt` returns the
 * ciphertext followed by the tag (of `tagLength` bytes).
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyCipher {
  readonly keyLength: number
  readonly ivLength: number
  readonly blockSize: number
  readonly tagLength: number
  readonly decrypt: Transform
  readonly encrypt: Transform
}

const ctr = (keyLength: number): KeyCipher => {
  const run: Transform = (backend, key, iv, data) => {
    const out = new Uint8Array(data.length)
    backend.aesCtr(key, iv).update(data, out)
    return out
  }
  return { keyLength, ivLength: 16, blockSize: 16, tagLength: 0, decrypt: run, encrypt: run }
}

// OpenSSH uses the 12-byte IV as given for the first (here: only) message, with no AAD.
const gcm = (keyLength: number): KeyCipher => ({
  keyLength,
  ivLength: 12,
  blockSize: 16,
  tagLength: 16,
  decrypt: (backend, key, iv, data, tag) => {
    const sealed = new Uint8Array(data.length + tag.length)
    sealed.set(data)
    sealed.set(tag, data.length)
    return backend.aesGcm(key).open(iv, new Uint8Array(0), sealed)
  },
  encrypt: (backend, key, iv, data) => backend.aesGcm(key).seal(iv, new Uint8Array(0), data)
})

// PROTOCOL.chacha20poly1305 with sequence number 0 and no length: K_2 is the first 32 key bytes; the Poly1305 key
// is its keystream block 0, the data is encrypted from block 1 (cipher-chachapoly.c with aadlen = 0).
const polyKey = (backend: SymmetricPrimitives, k2: Uint8Array): Uint8Array => {
  const block0 = new Uint8Array(64)
  backend.chacha20(k2, new Uint8Array(8), 0, new Uint8Array(64), block0)
  return block0
}

const chachaPoly: KeyCipher = {
  keyLength: 64,
  ivLength: 0,
  blockSize: 8,
  tagLength: 16,
  decrypt: (backend, key, _iv, data, tag) => {
    const k2 = key.subarray(0, 32)
    const block0 = polyKey(backend, k2)
    const ok = backend.timingSafeEqual(backend.poly1305(block0.subarray(0, 32), data), tag)
    block0.fill(0)
    if (!ok) return undefined
    const out = new Uint8Array(data.length)
    backend.chacha20(k2, new Uint8Array(8), 1, data, out)
    return out
  },
  encrypt: (backend, key, _iv, data) => {
    const k2 = key.subarray(0, 32)
    const out = new Uint8Array(data.length + 16)
    backend.chacha20(k2, new Uint8Array(8), 1, data, out.subarray(0, data.length))
    const block0 = polyKey(backend, k2)
    out.set(backend.poly1305(block0.subarray(0, 32), out.subarray(0, data.length)), data.length)
    block0.fill(0)
    return out
  }
}

/**
 * Raw CBC over whole blocks, no padding: AES (16-, 24- or 32-byte key) or 3DES (24-byte key, 8-byte blocks).
 * `undefined` when the lengths do not fit.
 *
 * @since 0.1.0
 * @category ciphers
 */
export const cbcRaw = (
  algorithm: "aes" | "3des",
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  direction: "encrypt" | "decrypt"
): Uint8Array | undefined => {
  if (algorithm === "3des") {
    if (key.length !== 24 || iv.length !== 8 || data.length % 8 !== 0) return undefined
    const out = new Uint8Array(data.length)
    Des.tripleDesCbc(key, iv, direction).update(data, out)
    return out
  }
  if (iv.length !== 16 || data.length % 16 !== 0 || ![16, 24, 32].includes(key.length)) return undefined
  const c = cbc(key, iv, { disablePadding: true })
  return direction === "encrypt" ? c.encrypt(data) : c.decrypt(data)
}

const cbcCipher = (algorithm: "aes" | "3des", keyLength: number): KeyCipher => {
  const blockSize = algorithm === "aes" ? 16 : 8
  return {
    keyLength,
    ivLength: blockSize,
    blockSize,
    tagLength: 0,
    decrypt: (_b, key, iv, data) => cbcRaw(algorithm, key, iv, data, "decrypt"),
    encrypt: (_b, key, iv, data) => cbcRaw(algorithm, key, iv, data, "encrypt")
  }
}

const identity: Transform = (_b, _k, _i, data) => data

/**
 * The openssh-key-v1 ciphers by name. A Map, not an object literal: a name from a file such as "__proto__"
 * must find nothing.
 *
 * @since 0.1.0
 * @category constants
 */
export const OPENSSH_CIPHERS: ReadonlyMap<string, KeyCipher> = new Map([
  ["none", { keyLength: 0, ivLength: 0, blockSize: 8, tagLength: 0, decrypt: identity, encrypt: identity }],
  ["aes128-ctr", ctr(16)],
  ["aes192-ctr", ctr(24)],
  ["aes256-ctr", ctr(32)],
  ["aes128-gcm@openssh.com", gcm(16)],
  ["aes256-gcm@openssh.com", gcm(32)],
  ["chacha20-poly1305@openssh.com", chachaPoly],
  ["aes128-cbc", cbcCipher("aes", 16)],
  ["aes192-cbc", cbcCipher("aes", 24)],
  ["aes256-cbc", cbcCipher("aes", 32)],
  ["rijndael-cbc@lysator.liu.se", cbcCipher("aes", 32)],
  ["3des-cbc", cbcCipher("3des", 24)]
])

/**
 * CBC with PKCS#7 padding (RFC 8018 §6.1.1 step 4, RFC 1423 §1.1), as PEM and PKCS#8 files use it. Decryption
 * returns `undefined` when the padding is wrong, which almost always means a wrong passphrase.
 *
 * @since 0.1.0
 * @category ciphers
 */
export const cbcPadded = (
  algorithm: "aes" | "3des",
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  direction: "encrypt" | "decrypt"
): Uint8Array | undefined => {
  const blockSize = algorithm === "aes" ? 16 : 8
  if (direction === "encrypt") {
    const pad = blockSize - (data.length % blockSize)
    const padded = new Uint8Array(data.length + pad)
    padded.set(data)
    padded.fill(pad, data.length)
    const out = cbcRaw(algorithm, key, iv, padded, "encrypt")
    padded.fill(0)
    return out
  }
  if (data.length === 0) return undefined
  const plain = cbcRaw(algorithm, key, iv, data, "decrypt")
  if (plain === undefined) return undefined
  const pad = plain[plain.length - 1]!
  let ok = pad >= 1 && pad <= blockSize
  for (let i = 0; ok && i < pad; i++) ok = plain[plain.length - 1 - i] === pad
  if (!ok) {
    plain.fill(0)
    return undefined
  }
  return plain.subarray(0, plain.length - pad)
}
