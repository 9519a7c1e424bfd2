/**
 * The asymmetric half of the node:crypto (OpenSSL) backend: X25519, NIST ECDH, Ed25519, ECDSA, RSA and modular
 * exponentiation (DESIGN.md §4). It computes exactly what the portable backend computes; both pass the same tests.
 *
 * X25519 and Ed25519 keys travel through DER (SPKI / PKCS#8 with fixed prefixes), never JWK: Node 20 can
 * deadlock for good when garbage collection meets a JWK export of these key types (DESIGN.md §4). RSA and EC keys
 * are imported from JWK, which is not affected.
 *
 * @since 0.1.0
 */
import * as NodeCrypto from "node:crypto"
import { MODP_1024, MODP_2048, MODP_3072, MODP_4096, MODP_6144, MODP_8192 } from "../crypto/kex/DhGroup.js"
import type {
  AgreementKeyPair,
  AsymmetricPrimitives,
  NistCurve,
  PrivateKeyMaterial,
  PublicKeyMaterial
} from "../crypto/Backend.js"

type EcPrivate = Extract<PrivateKeyMaterial, { type: "ecdsa" }>
type RsaPrivate = Extract<PrivateKeyMaterial, { type: "rsa" }>
type RsaPublic = Extract<PublicKeyMaterial, { type: "rsa" }>

// RFC 8410 §4 (SPKI) and §7 (PKCS#8 OneAsymmetricKey) DER, up to the 32 raw key bytes.
const X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex")
const ED25519_SPKI = Buffer.from("302a300506032b6570032100", "hex")
const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex")

interface CurveInfo {
  readonly openssl: string
  readonly jwk: string
  readonly hash: string
  readonly bytes: number
  readonly order: bigint
}

// RFC 5656 §6.2.1 hashes; SEC 2 §2.4.2, §2.5.1, §2.6.1 group orders.
const CURVES: Record<NistCurve, CurveInfo> = {
  nistp256: {
    openssl: "prime256v1",
    jwk: "P-256",
    hash: "sha256",
    bytes: 32,
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
  },
  nistp384: {
    openssl: "secp384r1",
    jwk: "P-384",
    hash: "sha384",
    bytes: 48,
    order:
      0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n
  },
  nistp521: {
    openssl: "secp521r1",
    jwk: "P-521",
    hash: "sha512",
    bytes: 66,
    order:
      0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

const toBigint = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt("0x" + Buffer.from(b).toString("hex")))

/** Minimal big-endian bytes of a non-negative bigint (empty for 0). */
const fromBigint = (v: bigint): Buffer => {
  if (v === 0n) return Buffer.alloc(0)
  let hex = v.toString(16)
  if (hex.length % 2) hex = "0" + hex
  return Buffer.from(hex, "hex")
}

/** Left-pads (or fails if too long) to exactly `len` bytes. */
const fixed = (b: Uint8Array, len: number): Uint8Array => {
  if (b.length === len) return new Uint8Array(b)
  if (b.length > len) throw new RangeError("value longer than its fixed size")
  const out = new Uint8Array(len)
  out.set(b, len - b.length)
  return out
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString("base64url")
const unb64u = (s: string | undefined): Uint8Array => new Uint8Array(Buffer.from(s ?? "", "base64url"))

const isAllZero = (b: Uint8Array): boolean => {
  let acc = 0
  for (let i = 0; i < b.length; i++) acc |= b[i]!
  return acc === 0
}

const rawTail = (der: Buffer): Uint8Array => new Uint8Array(der.subarray(der.length - 32))

// ---------------------------------------------------------------------------------------------------------------
// Key agreement
// ---------------------------------------------------------------------------------------------------------------

const x25519Pair = (): AgreementKeyPair => {
  const { privateKey, publicKey } = NodeCrypto.generateKeyPairSync("x25519")
  return {
    publicKey: rawTail(publicKey.export({ format: "der", type: "spki" })),
    agree: (peer) => {
      // RFC 8731 §3: exactly 32 bytes. OpenSSL refuses an all-zero result (small-order peer); so do we (SEC-18).
      if (peer.length !== 32) return undefined
      try {
        const peerKey = NodeCrypto.createPublicKey({
          key: Buffer.concat([X25519_SPKI, peer]),
          format: "der",
          type: "spki"
        })
        const shared = new Uint8Array(NodeCrypto.diffieHellman({ privateKey, publicKey: peerKey }))
        return shared.length !== 32 || isAllZero(shared) ? undefined : shared
      } catch {
        return undefined
      }
    }
  }
}

const isUncompressedPoint = (curve: NistCurve, q: Uint8Array): boolean =>
  q.length === 1 + 2 * CURVES[curve].bytes && q[0] === 0x04

const ecdhPair = (curve: NistCurve): AgreementKeyPair => {
  const info = CURVES[curve]
  const ecdh = NodeCrypto.createECDH(info.openssl)
  const publicKey = new Uint8Array(ecdh.generateKeys())
  return {
    publicKey,
    agree: (peer) => {
      // RFC 5656 §4 / SEC-18: uncompressed, exact length; OpenSSL's oct2point rejects points off the curve.
      if (!isUncompressedPoint(curve, peer)) return undefined
      try {
        const shared = fixed(ecdh.computeSecret(peer), info.bytes)
        return isAllZero(shared) ? undefined : shared
      } catch {
        return undefined
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Key objects (cached per material object: importing costs more than an Ed25519 signature)
// ---------------------------------------------------------------------------------------------------------------

const privateKeys = new WeakMap<object, NodeCrypto.KeyObject>()

const cachedPrivate = (key: PrivateKeyMaterial, make: () => NodeCrypto.KeyObject): NodeCrypto.KeyObject => {
  let k = privateKeys.get(key)
  if (k === undefined) {
    k = make()
    privateKeys.set(key, k)
  }
  return k
}

// Public keys repeat (a server's host key, a user's auth keys): keep the last few imports, by content.
const publicKeys = new Map<string, NodeCrypto.KeyObject>()
const MAX_CACHED_PUBLIC_KEYS = 64

const cachedPublic = (id: string, make: () => NodeCrypto.KeyObject): NodeCrypto.KeyObject => {
  let k = publicKeys.get(id)
  if (k === undefined) {
    k = make()
    if (publicKeys.size >= MAX_CACHED_PUBLIC_KEYS) publicKeys.delete(publicKeys.keys().next().value!)
    publicKeys.set(id, k)
  }
  return k
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

const ecJwk = (curve: NistCurve, q: Uint8Array) => {
  const n = CURVES[curve].bytes
  return { kty: "EC", crv: CURVES[curve].jwk, x: b64u(q.subarray(1, 1 + n)), y: b64u(q.subarray(1 + n)) }
}

const ecPrivateKey = (key: EcPrivate): NodeCrypto.KeyObject =>
  cachedPrivate(key, () =>
    NodeCrypto.createPrivateKey({
      key: { ...ecJwk(key.curve, key.q), d: b64u(fixed(key.d, CURVES[key.curve].bytes)) },
      format: "jwk"
    }))

const rsaPrivateKey = (key: RsaPrivate): NodeCrypto.KeyObject =>
  cachedPrivate(key, () =>
    NodeCrypto.createPrivateKey({
      key: {
        kty: "RSA",
        n: b64u(fromBigint(key.n)),
        e: b64u(fromBigint(key.e)),
        d: b64u(fromBigint(key.d)),
        p: b64u(fromBigint(key.p)),
        q: b64u(fromBigint(key.q)),
        dp: b64u(fromBigint(key.d % (key.p - 1n))),
        dq: b64u(fromBigint(key.d % (key.q - 1n))),
        qi: b64u(fromBigint(key.iqmp))
      },
      format: "jwk"
    }))

const rsaPublicKey = (key: RsaPublic): NodeCrypto.KeyObject =>
  cachedPublic(`rsa:${key.n.toString(16)}:${key.e.toString(16)}`, () =>
    NodeCrypto.createPublicKey({
      key: { kty: "RSA", n: b64u(fromBigint(key.n)), e: b64u(fromBigint(key.e)) },
      format: "jwk"
    }))

// ---------------------------------------------------------------------------------------------------------------
// Modular exponentiation
// ---------------------------------------------------------------------------------------------------------------

/** Square-and-multiply on bigint, for what OpenSSL's DH will not take. */
const modPowBigint = (base: bigint, exponent: bigint, modulus: bigint): bigint => {
  if (modulus <= 0n) throw new RangeError("modPow: modulus must be positive")
  if (exponent < 0n) throw new RangeError("modPow: negative exponent")
  if (modulus === 1n) return 0n
  let b = base % modulus
  if (b < 0n) b += modulus
  let r = 1n
  let e = exponent
  while (e > 0n) {
    if (e & 1n) r = (r * b) % modulus
    b = (b * b) % modulus
    e >>= 1n
  }
  return r
}

/**
 * The RFC 2409/3526 groups, for which OpenSSL's constant-time Montgomery exponentiation behind
 * `DiffieHellman.computeSecret` is ~5× faster than bigint (8192-bit group, 512-bit exponent: 7.6 ms vs 40 ms
 * measured on Node 20.20). Any other modulus (a DH-GEX group from a server's moduli file) goes to bigint:
 * `createDiffieHellman` runs OpenSSL's safe-prime check on an unknown prime, measured at 2.5 s for 3 072 bits.
 */
const OPENSSL_GROUP_PRIMES = new Set([MODP_1024, MODP_2048, MODP_3072, MODP_4096, MODP_6144, MODP_8192].map((g) => g.p))
// Made on first use: creating all six costs ~45 ms, which every process importing this module (the CLI's
// start-up included) paid whether or not it ever ran a finite-field key exchange.
const OPENSSL_GROUPS = new Map<bigint, NodeCrypto.DiffieHellman>()
const opensslGroup = (modulus: bigint): NodeCrypto.DiffieHellman | undefined => {
  if (!OPENSSL_GROUP_PRIMES.has(modulus)) return undefined
  let dh = OPENSSL_GROUPS.get(modulus)
  if (dh === undefined) {
    dh = NodeCrypto.createDiffieHellman(fromBigint(modulus), Buffer.of(2))
    OPENSSL_GROUPS.set(modulus, dh)
  }
  return dh
}

/** base^exponent mod modulus; OpenSSL refuses values outside 1 < base < p−1, and those fall back to bigint. */
const modPow = (base: bigint, exponent: bigint, modulus: bigint): bigint => {
  const dh = opensslGroup(modulus)
  if (dh !== undefined && base > 1n && base < modulus - 1n && exponent > 1n) {
    try {
      dh.setPrivateKey(fromBigint(exponent))
      return toBigint(dh.computeSecret(fromBigint(base)))
    } catch {
      // fall through to bigint
    }
  }
  return modPowBigint(base, exponent, modulus)
}

// ---------------------------------------------------------------------------------------------------------------
// Key generation
// ---------------------------------------------------------------------------------------------------------------

const generateKey: AsymmetricPrimitives["generateKey"] = (spec) => {
  switch (spec.type) {
    case "ed25519": {
      const { privateKey, publicKey } = NodeCrypto.generateKeyPairSync("ed25519")
      return {
        type: "ed25519",
        seed: rawTail(privateKey.export({ format: "der", type: "pkcs8" })),
        publicKey: rawTail(publicKey.export({ format: "der", type: "spki" }))
      }
    }
    case "ecdsa": {
      const info = CURVES[spec.curve]
      const { privateKey } = NodeCrypto.generateKeyPairSync("ec", { namedCurve: info.openssl })
      const jwk = privateKey.export({ format: "jwk" })
      const q = new Uint8Array(1 + 2 * info.bytes)
      q[0] = 0x04
      q.set(fixed(unb64u(jwk.x), info.bytes), 1)
      q.set(fixed(unb64u(jwk.y), info.bytes), 1 + info.bytes)
      return { type: "ecdsa", curve: spec.curve, d: fixed(unb64u(jwk.d), info.bytes), q }
    }
    case "rsa": {
      const { privateKey } = NodeCrypto.generateKeyPairSync("rsa", { modulusLength: spec.bits, publicExponent: 65537 })
      const jwk = privateKey.export({ format: "jwk" })
      const big = (s: string | undefined) => toBigint(unb64u(s))
      return {
        type: "rsa",
        n: big(jwk.n),
        e: big(jwk.e),
        d: big(jwk.d),
        p: big(jwk.p),
        q: big(jwk.q),
        iqmp: big(jwk.qi)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The primitives
// ---------------------------------------------------------------------------------------------------------------

/**
 * The node:crypto asymmetric primitives.
 *
 * @since 0.1.0
 * @category backends
 */
export const asymmetric: AsymmetricPrimitives = {
  x25519: x25519Pair,
  ecdh: ecdhPair,
  modPow,
  generateKey,
  ed25519PublicKey: (seed) => {
    // Through DER both ways (never JWK, see above); not cached: the seed is a secret and this runs once per file.
    const privateKey = NodeCrypto.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: "der", type: "pkcs8" })
    return rawTail(NodeCrypto.createPublicKey(privateKey).export({ format: "der", type: "spki" }))
  },
  ed25519Sign: (key, data) => {
    const k = cachedPrivate(key, () =>
      NodeCrypto.createPrivateKey({
        key: Buffer.concat([ED25519_PKCS8, key.seed]),
        format: "der",
        type: "pkcs8"
      }))
    return new Uint8Array(NodeCrypto.sign(null, data, k))
  },
  ed25519Verify: (publicKey, data, signature) => {
    // RFC 8032 §5.1.7: OpenSSL checks S < L (SEC-25).
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try {
      const k = cachedPublic(`ed25519:${hexOf(publicKey)}`, () =>
        NodeCrypto.createPublicKey({
          key: Buffer.concat([ED25519_SPKI, publicKey]),
          format: "der",
          type: "spki"
        }))
      return NodeCrypto.verify(null, data, k, signature)
    } catch {
      return false
    }
  },
  ecdsaSign: (key, data) => {
    const info = CURVES[key.curve]
    // OpenSSL nonces (random, from its DRBG): SEC-25 allows platform nonces.
    const sig = NodeCrypto.sign(info.hash, data, { key: ecPrivateKey(key), dsaEncoding: "ieee-p1363" })
    return { r: toBigint(sig.subarray(0, info.bytes)), s: toBigint(sig.subarray(info.bytes)) }
  },
  ecdsaVerify: (curve, q, data, r, s) => {
    const info = CURVES[curve]
    // SEC-25: 0 < r, s < n; Q uncompressed and (createPublicKey checks) on the curve.
    if (r <= 0n || r >= info.order || s <= 0n || s >= info.order || !isUncompressedPoint(curve, q)) return false
    try {
      const key = cachedPublic(`${curve}:${hexOf(q)}`, () => NodeCrypto.createPublicKey({ key: ecJwk(curve, q), format: "jwk" }))
      const sig = Buffer.concat([fixed(fromBigint(r), info.bytes), fixed(fromBigint(s), info.bytes)])
      return NodeCrypto.verify(info.hash, data, { key, dsaEncoding: "ieee-p1363" }, sig)
    } catch {
      return false
    }
  },
  rsaSign: (key, hash, data) => {
    const k = Math.ceil(key.n.toString(2).length / 8)
    const sig = NodeCrypto.sign(hash, data, { key: rsaPrivateKey(key), padding: NodeCrypto.constants.RSA_PKCS1_PADDING })
    return fixed(sig, k)
  },
  rsaVerify: (key, hash, data, signature) => {
    const k = Math.ceil(key.n.toString(2).length / 8)
    // SEC-25: exactly the modulus length (the caller left-pads short ones). OpenSSL re-encodes the DigestInfo
    // and compares, rather than trusting the ASN.1 in the signature.
    if (signature.length !== k || key.n <= 0n || key.e <= 1n) return false
    try {
      return NodeCrypto.verify(
        hash,
        data,
        { key: rsaPublicKey(key), padding: NodeCrypto.constants.RSA_PKCS1_PADDING },
        signature
      )
    } catch {
      return false
    }
  }
}
