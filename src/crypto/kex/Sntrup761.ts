/**
 * sntrup761: the Streamlined NTRU Prime key encapsulation mechanism with p = 761, q = 4591, w = 286 (NTRU Prime
 * round 3 specification: the "Streamlined NTRU Prime Core" and the KEM built on it; the parameter set and byte
 * formats that OpenSSH's sntrup761.c and SUPERCOP's crypto_kem/sntrup761 use). Written here in TypeScript
 * because no npm package is trusted for it (DESIGN.md §4). Sizes: public key 1158 bytes, secret key 1763,
 * ciphertext 1039, shared secret 32. Checked against the NIST known-answer vector (test/unit/crypto/
 * Sntrup761.test.ts) and against OpenSSH (test/interop).
 *
 * The KEM wraps the core (R/3 and R/q arithmetic in sntrup761/Arith.ts, encodings in sntrup761/Encoding.ts)
 * with the specification's hashing: `Hash_b(x)` is the first 32 bytes of SHA-512(b ‖ x); the ciphertext carries
 * a confirmation hash, and decapsulation re-encrypts and, when the ciphertext does not match, derives the key
 * from the secret ρ instead (implicit rejection) — selected with masks, not a branch.
 *
 * Every random byte comes from the backend (`randomBytes`), as everywhere in this project, so seeded test
 * backends reproduce exchanges; hashing uses the backend's SHA-512.
 *
 * @since 0.1.0
 */
import type { CryptoBackend } from "../Backend.js"
import { P, r3FromRq, r3Mult, round3, rqMult3, rqMultSmall, rqRecip3, W, weightMask } from "./sntrup761/Arith.js"
import {
  roundedDecode,
  roundedEncode,
  rqDecode,
  rqEncode,
  SMALL_BYTES,
  smallDecode,
  smallEncode
} from "./sntrup761/Encoding.js"
import { r3Recip } from "./sntrup761/R3Recip.js"
import { shortFromWords, smallFromWords } from "./sntrup761/Sample.js"

/** Public key bytes: Encode of an R/q element. @since 0.1.0 @category constants */
export const PUBLIC_KEY_BYTES = 1158
/** Ciphertext bytes: rounded R/q element (1007) ‖ confirmation hash (32). @since 0.1.0 @category constants */
export const CIPHERTEXT_BYTES = 1039
/** Secret key bytes: f ‖ 1/g in R/3 ‖ public key ‖ ρ ‖ Hash_4(public key). @since 0.1.0 @category constants */
export const SECRET_KEY_BYTES = 2 * SMALL_BYTES + PUBLIC_KEY_BYTES + SMALL_BYTES + 32
/** Shared secret bytes. @since 0.1.0 @category constants */
export const SHARED_SECRET_BYTES = 32

const ROUNDED_BYTES = CIPHERTEXT_BYTES - 32

/**
 * What the KEM needs from a crypto backend: its random source and SHA-512.
 *
 * @since 0.1.0
 * @category models
 */
export type KemPrimitives = Pick<CryptoBackend, "randomBytes" | "hash">

/**
 * A key pair: the public key and the secret key in the specification's byte format.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyPair {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

/** Spec (hashing) Hash_b: the first 32 bytes of SHA-512(b ‖ parts…). */
const hashPrefix = (prims: KemPrimitives, b: number, ...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const h = prims.hash("sha512").update(Uint8Array.of(b))
  for (const part of parts) h.update(part)
  return h.digest().subarray(0, 32)
}

/** p random 32-bit words, little-endian, as the reference reads them (randombytes into uint32[p]). */
const randomWords = (prims: KemPrimitives): Uint32Array => {
  const bytes = prims.randomBytes(4 * P)
  const words = new Uint32Array(P)
  for (let i = 0; i < P; i++) {
    words[i] = (bytes[4 * i] | (bytes[4 * i + 1] << 8) | (bytes[4 * i + 2] << 16) | (bytes[4 * i + 3] << 24)) >>> 0
  }
  return words
}

/** Spec (KEM) HashConfirm: Hash_2(Hash_3(r) ‖ Hash_4(pk)). */
const hashConfirm = (prims: KemPrimitives, rEnc: Uint8Array, cache: Uint8Array): Uint8Array =>
  hashPrefix(prims, 2, hashPrefix(prims, 3, rEnc), cache)

/** Spec (KEM) HashSession: Hash_b(Hash_3(r) ‖ C), b = 1 for a valid ciphertext, 0 for an implicit rejection. */
const hashSession = (prims: KemPrimitives, b: number, rEnc: Uint8Array, ciphertext: Uint8Array): Uint8Array =>
  hashPrefix(prims, b, hashPrefix(prims, 3, rEnc), ciphertext)

/** Spec (KEM) Hide: C = Encode(Round(h·r)) ‖ HashConfirm(r, pk), with r's encoding alongside. */
const hide = (prims: KemPrimitives, r: Int8Array, publicKey: Uint8Array, cache: Uint8Array) => {
  const rEnc = smallEncode(r)
  const c = round3(rqMultSmall(rqDecode(publicKey), r))
  const ciphertext = new Uint8Array(CIPHERTEXT_BYTES)
  ciphertext.set(roundedEncode(c))
  ciphertext.set(hashConfirm(prims, rEnc, cache), ROUNDED_BYTES)
  return { ciphertext, rEnc }
}

/**
 * Generates a key pair (spec: Core KeyGen and KEM KeyGen′): g small and invertible in R/3 (retried otherwise), f short,
 * h = g/(3f) in R/q; the secret key keeps f, 1/g, the public key, a random ρ for implicit rejection and
 * Hash_4(public key).
 *
 * @since 0.1.0
 * @category constructors
 */
export const keyPair = (prims: KemPrimitives): KeyPair => {
  let g = smallFromWords(randomWords(prims))
  let gr = r3Recip(g)
  // Only whether a candidate g was invertible is revealed by this loop (the specification declassifies it).
  while (!gr.invertible) {
    g = smallFromWords(randomWords(prims))
    gr = r3Recip(g)
  }
  const f = shortFromWords(randomWords(prims))
  const publicKey = rqEncode(rqMultSmall(rqRecip3(f), g))
  const secretKey = new Uint8Array(SECRET_KEY_BYTES)
  let at = 0
  for (const part of [smallEncode(f), smallEncode(gr.inverse), publicKey, prims.randomBytes(SMALL_BYTES)]) {
    secretKey.set(part, at)
    at += part.length
  }
  secretKey.set(hashPrefix(prims, 4, publicKey), at)
  return { publicKey, secretKey }
}

/**
 * Encapsulates to a public key: a fresh short r, the ciphertext and the 32-byte shared secret; `undefined` when
 * the public key is not exactly 1158 bytes (any bytes of that length decode to some key, as the specification
 * defines Decode on all inputs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const encapsulate = (
  prims: KemPrimitives,
  publicKey: Uint8Array
): { readonly ciphertext: Uint8Array; readonly sharedSecret: Uint8Array } | undefined => {
  if (publicKey.length !== PUBLIC_KEY_BYTES) return undefined
  const cache = hashPrefix(prims, 4, publicKey)
  const r = shortFromWords(randomWords(prims))
  const { ciphertext, rEnc } = hide(prims, r, publicKey, cache)
  return { ciphertext, sharedSecret: hashSession(prims, 1, rEnc, ciphertext) }
}

/**
 * Decapsulates (spec: Core Decrypt and KEM Decap): recovers r, re-encrypts it, and derives the key from r when the
 * ciphertext matches or from ρ when it does not (implicit rejection, so a forged ciphertext yields an
 * unrelated key instead of an error). `undefined` only for wrong lengths. No branch or index depends on the
 * secret key or on whether the ciphertext was valid.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decapsulate = (prims: KemPrimitives, ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array | undefined => {
  if (ciphertext.length !== CIPHERTEXT_BYTES || secretKey.length !== SECRET_KEY_BYTES) return undefined
  const f = smallDecode(secretKey.subarray(0, SMALL_BYTES))
  const gInverse = smallDecode(secretKey.subarray(SMALL_BYTES, 2 * SMALL_BYTES))
  const publicKey = secretKey.subarray(2 * SMALL_BYTES, 2 * SMALL_BYTES + PUBLIC_KEY_BYTES)
  const rho = secretKey.subarray(2 * SMALL_BYTES + PUBLIC_KEY_BYTES, 3 * SMALL_BYTES + PUBLIC_KEY_BYTES)
  const cache = secretKey.subarray(3 * SMALL_BYTES + PUBLIC_KEY_BYTES)

  // Spec, Core Decrypt: e = 3fc in R/3, r' = e/g; if r' does not have weight w, use (1,…,1,0,…,0) instead.
  const c = roundedDecode(ciphertext.subarray(0, ROUNDED_BYTES))
  const ev = r3Mult(r3FromRq(rqMult3(rqMultSmall(c, f))), gInverse)
  const bad = weightMask(ev)
  const r = new Int8Array(P)
  for (let i = 0; i < W; i++) r[i] = ((ev[i] ^ 1) & ~bad) ^ 1
  for (let i = W; i < P; i++) r[i] = ev[i] & ~bad

  const { ciphertext: again, rEnc } = hide(prims, r, publicKey, cache)
  let diff = 0
  for (let i = 0; i < CIPHERTEXT_BYTES; i++) diff |= ciphertext[i] ^ again[i]
  // 0 when the ciphertexts are equal, −1 otherwise: (diff − 1) >> 8 is −1 only for diff = 0.
  const mismatch = (((diff - 1) >> 8) & 1) - 1
  for (let i = 0; i < SMALL_BYTES; i++) rEnc[i] ^= mismatch & (rEnc[i] ^ rho[i])
  return hashSession(prims, 1 + mismatch, rEnc, ciphertext)
}
