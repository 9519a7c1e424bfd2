/**
 * Host key and signature algorithms: the public-key blobs and signature blobs of ssh-ed25519 (RFC 8709),
 * ecdsa-sha2-nistp256/384/521 (RFC 5656 §3.1), rsa-sha2-256/512 (RFC 8332) and ssh-rsa (RFC 4253 §6.6), on top of
 * the raw primitives of a `CryptoBackend`, plus OpenSSH's SHA256 and MD5 fingerprints. Certificate algorithms
 * (`*-cert-v01@openssh.com`, PROTOCOL.certkeys) sign and verify with the certified key under the plain algorithm;
 * validating the certificate itself is `keys/Certificate.ts`'s job.
 *
 * `verify` never throws: any malformed key or signature is `false` (SEC-10, SEC-19, SEC-25).
 *
 * @since 0.1.0
 */
import { p256, p384, p521 } from "@noble/curves/nist.js"
import { md5 } from "@noble/hashes/legacy.js"
import { sha256 } from "@noble/hashes/sha2.js"
import * as Either from "effect/Either"
import * as Reader from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Writer from "../wire/Writer.js"
import type { HostKeyAlgorithmName, HostKeyCertAlgorithmName } from "./Algorithms.js"
import type { CryptoBackend, NistCurve, PrivateKeyMaterial, PublicKeyMaterial } from "./Backend.js"

/**
 * A decoded public key: the key type named in the blob and its material.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedPublicKey {
  readonly keyType: string
  readonly material: PublicKeyMaterial
}

/**
 * Options for decoding and verifying.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyOptions {
  /** Smallest RSA modulus accepted, in bits (LIM-15); default 2048, never below 1024. */
  readonly minRsaBits?: number | undefined
}

/**
 * The default smallest RSA modulus we accept (SEC-25, LIM-15).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MIN_RSA_BITS = 2048

/**
 * The largest RSA modulus we accept (OpenSSH `SSHBUF_MAX_BIGNUM`, LIM-15).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_RSA_BITS = 16384

/** OpenSSH's floor (`SSH_RSA_MINIMUM_MODULUS_SIZE`): a configured minimum below this is raised to it. */
const RSA_FLOOR_BITS = 1024

const CURVES = { nistp256: p256, nistp384: p384, nistp521: p521 } as const
const FIELD_BYTES: Record<NistCurve, number> = { nistp256: 32, nistp384: 48, nistp521: 66 }

// Maps, not object literals: names come from the wire, and "constructor" or "__proto__" must not match anything.
const ECDSA_TYPES: ReadonlyMap<string, NistCurve> = new Map([
  ["ecdsa-sha2-nistp256", "nistp256"],
  ["ecdsa-sha2-nistp384", "nistp384"],
  ["ecdsa-sha2-nistp521", "nistp521"]
])

// RFC 8332 §3 and RFC 4253 §6.6: the hash behind each RSA signature algorithm.
const RSA_HASH: ReadonlyMap<string, "sha1" | "sha256" | "sha512"> = new Map([
  ["rsa-sha2-512", "sha512"],
  ["rsa-sha2-256", "sha256"],
  ["ssh-rsa", "sha1"]
])

// PROTOCOL.certkeys: each certificate algorithm, the plain signature algorithm it signs with, and the
// certificate key type inside its blob (the rsa-sha2-*-cert names never appear inside a blob).
const CERT_ALGORITHMS: ReadonlyMap<string, { readonly signature: string; readonly certType: string; readonly plainType: string }> =
  new Map([
    ["ssh-ed25519-cert-v01@openssh.com", { signature: "ssh-ed25519", certType: "ssh-ed25519-cert-v01@openssh.com", plainType: "ssh-ed25519" }],
    ...(["nistp256", "nistp384", "nistp521"] as const).map((c) =>
      [`ecdsa-sha2-${c}-cert-v01@openssh.com`, {
        signature: `ecdsa-sha2-${c}`,
        certType: `ecdsa-sha2-${c}-cert-v01@openssh.com`,
        plainType: `ecdsa-sha2-${c}`
      }] as const
    ),
    ["rsa-sha2-512-cert-v01@openssh.com", { signature: "rsa-sha2-512", certType: "ssh-rsa-cert-v01@openssh.com", plainType: "ssh-rsa" }],
    ["rsa-sha2-256-cert-v01@openssh.com", { signature: "rsa-sha2-256", certType: "ssh-rsa-cert-v01@openssh.com", plainType: "ssh-rsa" }],
    ["ssh-rsa-cert-v01@openssh.com", { signature: "ssh-rsa", certType: "ssh-rsa-cert-v01@openssh.com", plainType: "ssh-rsa" }]
  ])

// The certificate key types that appear inside blobs, and the plain type each certifies.
const CERT_KEY_TYPES: ReadonlyMap<string, string> = new Map([
  ["ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519"],
  ["ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp256"],
  ["ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp384"],
  ["ecdsa-sha2-nistp521-cert-v01@openssh.com", "ecdsa-sha2-nistp521"],
  ["ssh-rsa-cert-v01@openssh.com", "ssh-rsa"]
])

/**
 * A host key (or client key) with its OpenSSH certificate: the private key signs, the certificate blob is what the
 * peer sees (`ssh-keygen -s ca -h` output, base64-decoded).
 *
 * @since 0.1.0
 * @category models
 */
export interface CertifiedKey {
  readonly key: PrivateKeyMaterial
  /** The `*-cert-v01@openssh.com` blob; its certified key must be the public half of `key`. */
  readonly certificate: Uint8Array
}

/**
 * Whether `algorithm` is a certificate algorithm (`*-cert-v01@openssh.com`) we implement.
 *
 * @since 0.1.0
 * @category accessors
 */
export const isCertAlgorithm = (algorithm: string): boolean => CERT_ALGORITHMS.has(algorithm)

/**
 * The plain signature algorithm behind an algorithm name: `rsa-sha2-512-cert-v01@openssh.com` → `rsa-sha2-512`;
 * a plain name is returned as it is.
 *
 * @since 0.1.0
 * @category accessors
 */
export const signatureAlgorithm = (algorithm: string): string => CERT_ALGORITHMS.get(algorithm)?.signature ?? algorithm

/**
 * The plain key type a certificate key type certifies (`ssh-rsa-cert-v01@openssh.com` → `ssh-rsa`), or
 * `undefined` when `keyType` is not a certificate type.
 *
 * @since 0.1.0
 * @category accessors
 */
export const certifiedKeyType = (keyType: string): string | undefined => CERT_KEY_TYPES.get(keyType)

/**
 * The certificate algorithms a key can be used with, strongest first.
 *
 * @since 0.1.0
 * @category accessors
 */
export const certAlgorithmsForKey = (
  material: PublicKeyMaterial | PrivateKeyMaterial
): ReadonlyArray<HostKeyCertAlgorithmName> => {
  switch (material.type) {
    case "ed25519":
      return ["ssh-ed25519-cert-v01@openssh.com"]
    case "ecdsa":
      return [`ecdsa-sha2-${material.curve}-cert-v01@openssh.com`]
    case "rsa":
      return ["rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com"]
  }
}

const bitLength = (v: bigint): number => (v <= 0n ? 0 : v.toString(2).length)

const invalid = (description: string): WireError => new WireError({ reason: "Invalid", description })

/** RFC 5656 §3.1 / SEC-18: Q is 0x04 ‖ X ‖ Y of exact length and on the curve. */
const isValidPoint = (curve: NistCurve, q: Uint8Array): boolean => {
  if (q.length !== 1 + 2 * FIELD_BYTES[curve] || q[0] !== 0x04) return false
  try {
    CURVES[curve].Point.fromBytes(q).assertValidity()
    return true
  } catch {
    return false
  }
}

/**
 * Decodes a public-key blob (K_S, or a key from authorized_keys and known_hosts) and checks it: ssh-ed25519 keys
 * are 32 bytes (RFC 8709 §4); ECDSA keys name the curve of their type and are valid uncompressed points
 * (RFC 5656 §3.1); RSA keys have an odd e ≥ 3 and a modulus of `minRsaBits`..16384 bits (SEC-25, LIM-15).
 * Trailing bytes are rejected.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodePublicKey = (
  blob: Uint8Array,
  options?: HostKeyOptions
): Either.Either<DecodedPublicKey, WireError> =>
  Reader.run(blob, (r): DecodedPublicKey => {
    const keyType = r.ascii()
    const material = readKeyFields(r, keyType, options)
    r.end_()
    return { keyType, material }
  })

/**
 * Reads the key fields that follow the key type in a public-key blob, or after the nonce in a certificate
 * (PROTOCOL.certkeys: the same fields in the same order), with the checks of `decodePublicKey`. Throws a
 * `WireError`: for decoders run under `Reader.run`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readKeyFields = (r: Reader.Reader, keyType: string, options?: HostKeyOptions): PublicKeyMaterial => {
  if (keyType === "ssh-ed25519") {
    const publicKey = r.string()
    if (publicKey.length !== 32) throw invalid(`ssh-ed25519 key of ${publicKey.length} bytes, expected 32`)
    return { type: "ed25519", publicKey: publicKey.slice() }
  }
  const curve = ECDSA_TYPES.get(keyType)
  if (curve !== undefined) {
    const identifier = r.ascii()
    const q = r.string()
    // RFC 5656 §3.1: the curve identifier must be the one the key type names (SEC-25).
    if (identifier !== curve) throw invalid(`${keyType} key names curve ${identifier}`)
    if (!isValidPoint(curve, q)) throw invalid(`${keyType} key is not a valid uncompressed point`)
    return { type: "ecdsa", curve, q: q.slice() }
  }
  if (keyType === "ssh-rsa") {
    const e = r.mpint()
    const n = r.mpint()
    const bits = bitLength(n)
    const min = Math.max(RSA_FLOOR_BITS, options?.minRsaBits ?? DEFAULT_MIN_RSA_BITS)
    if (bits < min || bits > MAX_RSA_BITS) throw invalid(`ssh-rsa modulus of ${bits} bits, allowed ${min}..${MAX_RSA_BITS}`)
    if ((n & 1n) === 0n) throw invalid("ssh-rsa modulus is even")
    if (e < 3n || (e & 1n) === 0n || e >= n) throw invalid("ssh-rsa exponent must be odd, at least 3 and below n")
    return { type: "rsa", n, e }
  }
  throw invalid(`unsupported public key type ${keyType}`)
}

/**
 * The key a certificate blob certifies, read from its head (type, nonce, key fields) without validating the rest:
 * what a signature made under a certificate algorithm is checked with. The certificate as a whole is checked by
 * `Certificate.decode` and `Certificate.validate`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeCertifiedKey = (
  blob: Uint8Array,
  options?: HostKeyOptions
): Either.Either<DecodedPublicKey, WireError> =>
  Reader.run(blob, (r): DecodedPublicKey => {
    const certType = r.ascii()
    const keyType = CERT_KEY_TYPES.get(certType)
    if (keyType === undefined) throw invalid(`${certType} is not a certificate type`)
    r.string()
    return { keyType: certType, material: readKeyFields(r, keyType, options) }
  })

/**
 * The SSH key type of some key material: `ssh-ed25519`, `ecdsa-sha2-<curve>` or `ssh-rsa`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const keyTypeOf = (material: PublicKeyMaterial | PrivateKeyMaterial): string =>
  material.type === "ed25519" ? "ssh-ed25519" : material.type === "ecdsa" ? `ecdsa-sha2-${material.curve}` : "ssh-rsa"

/**
 * Encodes a public-key blob (RFC 8709 §4, RFC 5656 §3.1, RFC 4253 §6.6).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodePublicKey = (material: PublicKeyMaterial): Uint8Array =>
  Writer.build((w) => {
    w.string(keyTypeOf(material))
    switch (material.type) {
      case "ed25519":
        w.string(material.publicKey)
        break
      case "ecdsa":
        w.string(material.curve).string(material.q)
        break
      case "rsa":
        w.mpint(material.e).mpint(material.n)
        break
    }
  })

/**
 * The public half of a private key.
 *
 * @since 0.1.0
 * @category constructors
 */
export const publicKeyOf = (key: PrivateKeyMaterial): PublicKeyMaterial => {
  switch (key.type) {
    case "ed25519":
      return { type: "ed25519", publicKey: key.publicKey }
    case "ecdsa":
      return { type: "ecdsa", curve: key.curve, q: key.q }
    case "rsa":
      return { type: "rsa", n: key.n, e: key.e }
  }
}

/**
 * The key type a signature algorithm uses: rsa-sha2-256, rsa-sha2-512 and ssh-rsa all sign with `ssh-rsa` keys
 * (RFC 8332 §3); a certificate algorithm uses the certificate type in its blob (`rsa-sha2-512-cert-v01@openssh.com`
 * → `ssh-rsa-cert-v01@openssh.com`); the others are their own key type. `undefined` for an algorithm we do not
 * implement.
 *
 * @since 0.1.0
 * @category accessors
 */
export const keyTypeForAlgorithm = (algorithm: string): string | undefined => {
  const cert = CERT_ALGORITHMS.get(algorithm)
  if (cert !== undefined) return cert.certType
  if (algorithm === "ssh-ed25519" || ECDSA_TYPES.has(algorithm)) return algorithm
  if (RSA_HASH.has(algorithm)) return "ssh-rsa"
  return undefined
}

/**
 * The signature algorithms a key can be used with, strongest first (RFC 8332 §3 for RSA).
 *
 * @since 0.1.0
 * @category accessors
 */
export const algorithmsForKey = (material: PublicKeyMaterial | PrivateKeyMaterial): ReadonlyArray<HostKeyAlgorithmName> => {
  switch (material.type) {
    case "ed25519":
      return ["ssh-ed25519"]
    case "ecdsa":
      return [`ecdsa-sha2-${material.curve}`]
    case "rsa":
      return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
  }
}

/**
 * Signs `data` and returns the signature blob `string algorithm ‖ string signature`: 64 bytes for Ed25519
 * (RFC 8709 §6), `mpint r ‖ mpint s` for ECDSA (RFC 5656 §3.1.2), the modulus-length PKCS#1 v1.5 signature for
 * RSA (RFC 8332 §3). A certificate algorithm signs under its plain algorithm, with the certified key. An algorithm
 * that does not fit the key is our own bug and throws.
 *
 * @since 0.1.0
 * @category signing
 */
export const sign = (backend: CryptoBackend, requested: string, key: PrivateKeyMaterial, data: Uint8Array): Uint8Array => {
  // PROTOCOL.certkeys: a certificate algorithm signs with the certified key under the plain algorithm.
  const algorithm = signatureAlgorithm(requested)
  if (keyTypeForAlgorithm(algorithm) !== keyTypeOf(key)) {
    throw new Error(`HostKey.sign: algorithm ${algorithm} does not fit a ${keyTypeOf(key)} key`)
  }
  let signature: Uint8Array
  switch (key.type) {
    case "ed25519":
      signature = backend.ed25519Sign(key, data)
      break
    case "ecdsa": {
      const { r, s } = backend.ecdsaSign(key, data)
      signature = Writer.build((w) => w.mpint(r).mpint(s))
      break
    }
    case "rsa": {
      // RFC 8332 §3: the signature is encoded with the length of the modulus (leading zeros kept).
      const k = Math.ceil(bitLength(key.n) / 8)
      const raw = backend.rsaSign(key, RSA_HASH.get(algorithm)!, data)
      signature = leftPad(raw, k) ?? raw
      break
    }
  }
  return Writer.build((w) => w.string(algorithm).string(signature))
}

/** Left-pads to `len` bytes; `undefined` when longer. */
const leftPad = (b: Uint8Array, len: number): Uint8Array | undefined => {
  if (b.length > len) return undefined
  if (b.length === len) return b
  const out = new Uint8Array(len)
  out.set(b, len - b.length)
  return out
}

/** The algorithm name and the signature bytes of a signature blob; throws WireError when malformed. */
const decodeSignature = (r: Reader.Reader): { readonly algorithm: string; readonly signature: Uint8Array } => {
  const algorithm = r.ascii()
  const signature = r.string()
  r.end_()
  return { algorithm, signature }
}

const verifyDecoded = (
  backend: CryptoBackend,
  algorithm: string,
  material: PublicKeyMaterial,
  data: Uint8Array,
  signature: Uint8Array
): boolean => {
  switch (material.type) {
    case "ed25519":
      // RFC 8709 §6 / SEC-25: exactly 64 bytes; the backends verify strictly (S < L).
      return signature.length === 64 && backend.ed25519Verify(material.publicKey, data, signature)
    case "ecdsa": {
      // RFC 5656 §3.1.2: string(mpint r ‖ mpint s), nothing after.
      const parsed = Reader.run(signature, (r) => {
        const rs = { r: r.mpint(), s: r.mpint() }
        r.end_()
        return rs
      })
      if (Either.isLeft(parsed)) return false
      const { r, s } = parsed.right
      const n = CURVES[material.curve].Point.Fn.ORDER
      // SEC-25: 0 < r, s < n.
      if (r <= 0n || r >= n || s <= 0n || s >= n) return false
      return backend.ecdsaVerify(material.curve, material.q, data, r, s)
    }
    case "rsa": {
      // SEC-25 (as OpenSSH ssh-rsa.c): shorter than the modulus is left-padded, longer is rejected.
      const padded = leftPad(signature, Math.ceil(bitLength(material.n) / 8))
      const hash = RSA_HASH.get(algorithm)
      return padded !== undefined && hash !== undefined && backend.rsaVerify(material, hash, data, padded)
    }
  }
}

/**
 * Verifies a signature blob over `data` with a public-key blob under the negotiated `algorithm`. False — never an
 * exception — when the key or signature is malformed, the key type does not fit the algorithm, the algorithm
 * named inside the signature blob is not exactly `algorithm` (no ssh-rsa signature when rsa-sha2-512 was
 * negotiated), or the signature does not verify (SEC-19, SEC-25). Under a certificate algorithm the blob is a
 * certificate, and the signature is checked with the key it certifies; the certificate is not validated here.
 *
 * @since 0.1.0
 * @category verifying
 */
export const verify = (
  backend: CryptoBackend,
  algorithm: string,
  publicKeyBlob: Uint8Array,
  data: Uint8Array,
  signatureBlob: Uint8Array,
  options?: HostKeyOptions
): boolean => {
  try {
    const keyType = keyTypeForAlgorithm(algorithm)
    if (keyType === undefined) return false
    const key = isCertAlgorithm(algorithm)
      ? decodeCertifiedKey(publicKeyBlob, options)
      : decodePublicKey(publicKeyBlob, options)
    if (Either.isLeft(key) || key.right.keyType !== keyType) return false
    // PROTOCOL.certkeys: under a certificate algorithm the signature names the plain one (rsa-sha2-512-cert… →
    // rsa-sha2-512), and is made by the certified key.
    const plain = signatureAlgorithm(algorithm)
    const sig = Reader.run(signatureBlob, decodeSignature)
    if (Either.isLeft(sig) || sig.right.algorithm !== plain) return false
    return verifyDecoded(backend, plain, key.right.material, data, sig.right.signature)
  } catch {
    return false
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Standard base64 (RFC 4648 §4) without padding, as OpenSSH prints fingerprints. */
const base64Unpadded = (b: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0)
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!
    if (i + 1 < b.length) out += B64[(n >> 6) & 63]!
    if (i + 2 < b.length) out += B64[n & 63]!
  }
  return out
}

/**
 * The SHA-256 fingerprint of a public-key blob as `ssh-keygen -l` prints it: `SHA256:` and the unpadded base64
 * of the digest.
 *
 * @since 0.1.0
 * @category fingerprints
 */
export const fingerprintSha256 = (blob: Uint8Array): string => "SHA256:" + base64Unpadded(sha256(blob))

/**
 * The legacy MD5 fingerprint of a public-key blob as `ssh-keygen -l -E md5` prints it: `MD5:` and colon-separated
 * hex pairs.
 *
 * @since 0.1.0
 * @category fingerprints
 */
export const fingerprintMd5 = (blob: Uint8Array): string =>
  "MD5:" + Array.from(md5(blob), (b) => b.toString(16).padStart(2, "0")).join(":")
