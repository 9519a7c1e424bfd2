/**
 * The asymmetric half of the portable backend: X25519 and NIST ECDH, Ed25519 and ECDSA on @noble/curves, RSA
 * (PKCS#1 v1.5) and modular exponentiation on `bigint` (DESIGN.md §4). Runs in any JavaScript runtime; the only
 * random source is `crypto.getRandomValues` (SEC-24).
 *
 * BigInt arithmetic is not constant-time. That is acceptable for public-key verification and for ephemeral DH,
 * but RSA signing with long-term keys leaks timing here; the node:crypto backend is the default on Node.
 *
 * @since 0.1.0
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js"
import { p256, p384, p521 } from "@noble/curves/nist.js"
import { sha1 } from "@noble/hashes/legacy.js"
import { sha256, sha512 } from "@noble/hashes/sha2.js"
import type { AgreementKeyPair, AsymmetricPrimitives, NistCurve, PrivateKeyMaterial, PublicKeyMaterial } from "../Backend.js"

type RsaHash = "sha1" | "sha256" | "sha512"
type RsaPrivate = Extract<PrivateKeyMaterial, { type: "rsa" }>
type RsaPublic = Extract<PublicKeyMaterial, { type: "rsa" }>

// RFC 5656 §6.2.1: nistp256 ↔ SHA-256, nistp384 ↔ SHA-384, nistp521 ↔ SHA-512; noble prehashes with exactly these.
const CURVES = { nistp256: p256, nistp384: p384, nistp521: p521 } as const

/** Bytes of one field element (X or Y) per curve. */
const fieldBytes = (curve: NistCurve): number => CURVES[curve].Point.Fp.BYTES

// ---------------------------------------------------------------------------------------------------------------
// bigint helpers
// ---------------------------------------------------------------------------------------------------------------

const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** Big-endian unsigned bytes → bigint (RFC 8017 §4.2 OS2IP). */
const os2ip = (b: Uint8Array): bigint => {
  if (b.length === 0) return 0n
  let hex = ""
  for (let i = 0; i < b.length; i++) hex += HEX[b[i]!]
  return BigInt("0x" + hex)
}

/** bigint → exactly `len` big-endian bytes (RFC 8017 §4.1 I2OSP); throws if it does not fit (our bug). */
const i2osp = (v: bigint, len: number): Uint8Array => {
  let hex = v.toString(16)
  if (hex.length % 2) hex = "0" + hex
  if (hex.length / 2 > len) throw new RangeError("i2osp: integer too large")
  const out = new Uint8Array(len)
  const off = len - hex.length / 2
  for (let i = 0; i < hex.length / 2; i++) out[off + i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

const bitLength = (v: bigint): number => (v === 0n ? 0 : v.toString(2).length)

const randomBytes = (n: number): Uint8Array => {
  const out = new Uint8Array(n)
  // getRandomValues fills at most 65 536 bytes per call.
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)))
  return out
}

/** Constant-time equality for equal-length byte strings (SEC-27). */
const ctEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}

/**
 * base^exponent mod modulus by left-to-right square-and-multiply with a fixed 5-bit window (a table of 32 powers),
 * about 20 % fewer multiplications than the plain binary method on 8192-bit DH.
 */
const modPow = (base: bigint, exponent: bigint, modulus: bigint): bigint => {
  if (modulus <= 0n) throw new RangeError("modPow: modulus must be positive")
  if (exponent < 0n) throw new RangeError("modPow: negative exponent")
  if (modulus === 1n) return 0n
  let b = base % modulus
  if (b < 0n) b += modulus
  const table: Array<bigint> = [1n, b]
  for (let i = 2; i < 32; i++) table.push((table[i - 1]! * b) % modulus)
  const bits = exponent.toString(2)
  let r = 1n
  for (let i = 0; i < bits.length; i += 5) {
    const chunk = bits.slice(i, i + 5)
    for (let k = 0; k < chunk.length; k++) r = (r * r) % modulus
    const idx = parseInt(chunk, 2)
    if (idx !== 0) r = (r * table[idx]!) % modulus
  }
  return r
}

/** a⁻¹ mod m by the extended Euclidean algorithm; undefined when gcd(a, m) ≠ 1. */
const modInverse = (a: bigint, m: bigint): bigint | undefined => {
  let [oldR, r] = [((a % m) + m) % m, m]
  let [oldS, s] = [1n, 0n]
  while (r !== 0n) {
    const q = oldR / r
    ;[oldR, r] = [r, oldR - q * r]
    ;[oldS, s] = [s, oldS - q * s]
  }
  if (oldR !== 1n) return undefined
  return ((oldS % m) + m) % m
}

const gcd = (a: bigint, b: bigint): bigint => {
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

// ---------------------------------------------------------------------------------------------------------------
// RSA (RFC 8017)
// ---------------------------------------------------------------------------------------------------------------

// RFC 8017 §9.2 note 1: the DER of DigestInfo up to the digest, per hash.
const DIGEST_INFO: Record<RsaHash, Uint8Array> = {
  sha1: Uint8Array.of(0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14),
  sha256: Uint8Array.of(
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20
  ),
  sha512: Uint8Array.of(
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40
  )
}

const HASHES: Record<RsaHash, (data: Uint8Array) => Uint8Array> = { sha1, sha256, sha512 }

/** RFC 8017 §9.2 EMSA-PKCS1-v1_5: 0x00 ‖ 0x01 ‖ PS (0xff…, ≥ 8 bytes) ‖ 0x00 ‖ DigestInfo ‖ H; undefined if k is too small. */
const emsaPkcs1 = (hash: RsaHash, data: Uint8Array, k: number): Uint8Array | undefined => {
  const prefix = DIGEST_INFO[hash]
  const h = HASHES[hash](data)
  const tLen = prefix.length + h.length
  if (k < tLen + 11) return undefined
  const em = new Uint8Array(k).fill(0xff)
  em[0] = 0x00
  em[1] = 0x01
  em[k - tLen - 1] = 0x00
  em.set(prefix, k - tLen)
  em.set(h, k - h.length)
  return em
}

const rsaSign = (key: RsaPrivate, hash: RsaHash, data: Uint8Array): Uint8Array => {
  const k = Math.ceil(bitLength(key.n) / 8)
  const em = emsaPkcs1(hash, data, k)
  if (em === undefined) throw new RangeError("rsaSign: modulus too small for the digest")
  const m = os2ip(em)
  // RFC 8017 §5.1.2 RSASP1 with the CRT: m1 = m^dP mod p, m2 = m^dQ mod q, h = qInv·(m1 − m2) mod p, s = m2 + q·h.
  const m1 = modPow(m, key.d % (key.p - 1n), key.p)
  const m2 = modPow(m, key.d % (key.q - 1n), key.q)
  let h = (key.iqmp * (m1 - m2)) % key.p
  if (h < 0n) h += key.p
  let s = m2 + key.q * h
  // Check before releasing: a CRT fault would leak a factor of n (Boneh–DeMillo–Lipton).
  if (modPow(s, key.e, key.n) !== m) s = modPow(m, key.d, key.n)
  return i2osp(s, k)
}

const rsaVerify = (key: RsaPublic, hash: RsaHash, data: Uint8Array, signature: Uint8Array): boolean => {
  const k = Math.ceil(bitLength(key.n) / 8)
  // SEC-25: the caller left-pads short signatures; anything but exactly k bytes is rejected here.
  if (signature.length !== k || key.n <= 0n || key.e <= 1n) return false
  const s = os2ip(signature)
  if (s >= key.n) return false
  const expected = emsaPkcs1(hash, data, k)
  if (expected === undefined) return false
  // SEC-25: verify by re-encoding and comparing, never by parsing the ASN.1 inside the signature.
  return ctEqual(i2osp(modPow(s, key.e, key.n), k), expected)
}

// ---------------------------------------------------------------------------------------------------------------
// RSA key generation (FIPS 186-5 A.1.3 in spirit: random probable primes, Miller-Rabin)
// ---------------------------------------------------------------------------------------------------------------

const SMALL_PRIMES: ReadonlyArray<number> = (() => {
  const out: Array<number> = []
  const sieve = new Uint8Array(4096)
  for (let i = 2; i < sieve.length; i++) {
    if (sieve[i]) continue
    out.push(i)
    for (let j = i * i; j < sieve.length; j += i) sieve[j] = 1
  }
  return out
})()

const randomBelow = (n: bigint): bigint => {
  const bytes = Math.ceil(bitLength(n) / 8) + 8 // 64 extra bits make the modulo bias negligible
  return os2ip(randomBytes(bytes)) % n
}

/** Miller-Rabin with random bases; the error for random candidates is far below 2⁻¹²⁸ at these round counts. */
const isProbablePrime = (n: bigint, rounds: number): boolean => {
  if (n < 4n) return n === 2n || n === 3n
  if ((n & 1n) === 0n) return false
  let d = n - 1n
  let r = 0
  while ((d & 1n) === 0n) {
    d >>= 1n
    r++
  }
  outer: for (let i = 0; i < rounds; i++) {
    const a = 2n + randomBelow(n - 3n)
    let x = modPow(a, d, n)
    if (x === 1n || x === n - 1n) continue
    for (let j = 1; j < r; j++) {
      x = (x * x) % n
      if (x === n - 1n) continue outer
    }
    return false
  }
  return true
}

/** A random prime of exactly `bits` bits with the top two bits set (so p·q has full length) and gcd(e, p−1) = 1. */
const randomPrime = (bits: number, e: bigint): bigint => {
  for (;;) {
    const bytes = randomBytes(Math.ceil(bits / 8))
    let c = os2ip(bytes) & ((1n << BigInt(bits)) - 1n)
    c |= (3n << BigInt(bits - 2)) | 1n
    // Incremental sieve: residues of c mod each small prime, then walk c, c+2, c+4, …
    const residues = SMALL_PRIMES.map((sp) => Number(c % BigInt(sp)))
    for (let delta = 0; delta < 1 << 16; delta += 2) {
      let composite = false
      for (let i = 0; i < SMALL_PRIMES.length; i++) {
        if ((residues[i]! + delta) % SMALL_PRIMES[i]! === 0) {
          composite = true
          break
        }
      }
      if (composite) continue
      const candidate = c + BigInt(delta)
      if (bitLength(candidate) !== bits) break
      if ((candidate - 1n) % e === 0n) continue
      if (isProbablePrime(candidate, 8)) return candidate
    }
  }
}

const generateRsa = (bits: number): RsaPrivate => {
  if (!Number.isInteger(bits) || bits < 1024 || bits > 16384) throw new RangeError(`RSA key size ${bits} unsupported`)
  const e = 65537n
  for (;;) {
    const p = randomPrime(Math.ceil(bits / 2), e)
    const q = randomPrime(Math.floor(bits / 2), e)
    // FIPS 186-5 A.1.3: |p − q| > 2^(nlen/2 − 100).
    const diff = p > q ? p - q : q - p
    if (diff <= 1n << BigInt(Math.floor(bits / 2) - 100)) continue
    const n = p * q
    if (bitLength(n) !== bits) continue
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n)
    const d = modInverse(e, lambda)
    const iqmp = modInverse(q, p)
    if (d === undefined || iqmp === undefined) continue
    return { type: "rsa", n, e, d, p, q, iqmp }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Key agreement
// ---------------------------------------------------------------------------------------------------------------

const isAllZero = (b: Uint8Array): boolean => {
  let acc = 0
  for (let i = 0; i < b.length; i++) acc |= b[i]!
  return acc === 0
}

const x25519Pair = (): AgreementKeyPair => {
  // RFC 7748 §5: any 32 random bytes are a private key (clamped inside the scalar multiplication).
  const secret = randomBytes(32)
  return {
    publicKey: x25519.getPublicKey(secret),
    agree: (peer) => {
      // RFC 8731 §3: exactly 32 bytes. SEC-18: noble throws on the small-order blocklist; the zero check covers
      // the rest (RFC 7748 §6.1).
      if (peer.length !== 32) return undefined
      try {
        const shared = x25519.scalarMult(secret, peer)
        return isAllZero(shared) ? undefined : shared
      } catch {
        return undefined
      }
    }
  }
}

/** RFC 5656 §4 / SEC-18: Q must be uncompressed 0x04 ‖ X ‖ Y of exact length. */
const isUncompressedPoint = (curve: NistCurve, q: Uint8Array): boolean =>
  q.length === 1 + 2 * fieldBytes(curve) && q[0] === 0x04

const ecdhPair = (curve: NistCurve): AgreementKeyPair => {
  const c = CURVES[curve]
  const secret = c.utils.randomSecretKey()
  return {
    publicKey: c.getPublicKey(secret, false),
    agree: (peer) => {
      if (!isUncompressedPoint(curve, peer)) return undefined
      try {
        // fromBytes checks the point is on the curve (SEC 1 §3.2.2); noble cannot decode the point at infinity.
        const point = c.Point.fromBytes(peer)
        point.assertValidity()
        // Compressed output is 0x02/0x03 ‖ X: the X coordinate is what RFC 5656 §4 uses as K.
        const shared = c.getSharedSecret(secret, peer, true).slice(1)
        return isAllZero(shared) ? undefined : shared
      } catch {
        return undefined
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The primitives
// ---------------------------------------------------------------------------------------------------------------

/**
 * The portable asymmetric primitives on @noble/curves and `bigint`.
 *
 * @since 0.1.0
 * @category backends
 */
export const asymmetric: AsymmetricPrimitives = {
  x25519: x25519Pair,
  ecdh: ecdhPair,
  modPow,
  generateKey: (spec) => {
    switch (spec.type) {
      case "ed25519": {
        const seed = randomBytes(32)
        return { type: "ed25519", seed, publicKey: ed25519.getPublicKey(seed) }
      }
      case "ecdsa": {
        const c = CURVES[spec.curve]
        const d = c.utils.randomSecretKey()
        return { type: "ecdsa", curve: spec.curve, d, q: c.getPublicKey(d, false) }
      }
      case "rsa":
        return generateRsa(spec.bits)
    }
  },
  ed25519PublicKey: (seed) => ed25519.getPublicKey(seed),
  ed25519Sign: (key, data) => ed25519.sign(data, key.seed),
  ed25519Verify: (publicKey, data, signature) => {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try {
      // RFC 8032 §5.1.7 strict: S < L and canonical encodings (zip215: false), SEC-25.
      return ed25519.verify(signature, data, publicKey, { zip215: false })
    } catch {
      return false
    }
  },
  ecdsaSign: (key, data) => {
    const c = CURVES[key.curve]
    // RFC 6979 deterministic nonces over the curve's hash (SEC-25); lowS off, as OpenSSL does not normalise.
    const sig = c.Signature.fromBytes(c.sign(data, key.d, { prehash: true, lowS: false, format: "compact" }), "compact")
    return { r: sig.r, s: sig.s }
  },
  ecdsaVerify: (curve, q, data, r, s) => {
    const c = CURVES[curve]
    const n = c.Point.Fn.ORDER
    // SEC-25: 0 < r, s < n.
    if (r <= 0n || r >= n || s <= 0n || s >= n || !isUncompressedPoint(curve, q)) return false
    try {
      const sig = new c.Signature(r, s).toBytes("compact")
      return c.verify(sig, data, q, { prehash: true, lowS: false, format: "compact" })
    } catch {
      return false
    }
  },
  rsaSign,
  rsaVerify: (key, hash, data, signature) => {
    try {
      return rsaVerify(key, hash, data, signature)
    } catch {
      return false
    }
  }
}
