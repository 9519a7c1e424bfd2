/**
 * What every private-key format shares: the parsed-key model, the options that bound the work a key file may
 * ask for (LIM-32), the consistency checks every decoded key passes whatever its format, and the `KeyError`
 * constructors with messages that say what to do.
 *
 * @since 0.1.0
 */
import { ed25519 } from "@noble/curves/ed25519.js"
import { p256, p384, p521 } from "@noble/curves/nist.js"
import { equalBytes, numberToBytesBE } from "@noble/curves/utils.js"
import * as Either from "effect/Either"
import type { CryptoBackend, NistCurve, PrivateKeyMaterial, SymmetricPrimitives } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import { KeyError, sanitizePeerText } from "../SshError.js"
import { WireError } from "../wire/WireError.js"

/**
 * The key types we can use, by their SSH names.
 *
 * @since 0.1.0
 * @category models
 */
export type PrivateKeyType =
  | "ssh-ed25519"
  | "ecdsa-sha2-nistp256"
  | "ecdsa-sha2-nistp384"
  | "ecdsa-sha2-nistp521"
  | "ssh-rsa"

/**
 * A decrypted private key with its public-key blob and comment (empty when the format has none).
 *
 * @since 0.1.0
 * @category models
 */
export interface ParsedPrivateKey {
  readonly type: PrivateKeyType
  readonly material: PrivateKeyMaterial
  /** The public-key blob (RFC 4253 §6.6), byte-for-byte as in the key's `.pub` file. */
  readonly publicKey: Uint8Array
  readonly comment: string
}

/**
 * Options of the private key parsers. The KDF bounds apply before the passphrase is used (LIM-32).
 *
 * @since 0.1.0
 * @category models
 */
export interface PrivateKeyOptions {
  /**
   * The ciphers that decrypt openssh-key-v1 keys (CTR, GCM, ChaCha20-Poly1305), and the Ed25519 derivation that
   * checks an ed25519 key's public half (node:crypto's takes well under a millisecond where the portable one
   * takes tens on a cold start); default `PortableCrypto`.
   */
  readonly backend?: (SymmetricPrimitives & Partial<Ed25519Derivation>) | undefined
  /** Most bcrypt KDF rounds accepted (LIM-32); default `Bcrypt.DEFAULT_MAX_ROUNDS` (2 048). */
  readonly maxKdfRounds?: number | undefined
  /** Most PBKDF2 iterations accepted (PKCS#8, LIM-32); default `DEFAULT_MAX_PBKDF2_ITERATIONS`. */
  readonly maxPbkdf2Iterations?: number | undefined
  /** Most Argon2 memory accepted in KiB (PPK v3, LIM-32); default `DEFAULT_MAX_ARGON2_MEMORY_KIB`. */
  readonly maxArgon2MemoryKiB?: number | undefined
  /** Most Argon2 passes accepted (PPK v3, LIM-32); default `DEFAULT_MAX_ARGON2_PASSES`. */
  readonly maxArgon2Passes?: number | undefined
  /** Smallest RSA modulus accepted, in bits; default `HostKey.DEFAULT_MIN_RSA_BITS` (2 048), never below 1 024. */
  readonly minRsaBits?: number | undefined
}

/**
 * The default bound on PBKDF2 iterations (LIM-32). OpenSSL and node:crypto write 2 048; OWASP's 2023 advice for
 * PBKDF2-HMAC-SHA256 is 600 000. One million HMAC-SHA256 pairs take about a second in portable JavaScript.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_PBKDF2_ITERATIONS = 1_000_000

/**
 * The default bound on Argon2 memory, in KiB (LIM-32): 256 MiB. puttygen writes 8 192 KiB by default.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_ARGON2_MEMORY_KIB = 256 * 1024

/**
 * The default bound on Argon2 passes (LIM-32). puttygen picks passes to take about 100 ms in C (often 8–30).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_ARGON2_PASSES = 64

/**
 * The largest key file accepted, in characters or bytes (OpenSSH authfile.c `MAX_KEY_FILE_SIZE`).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_KEY_FILE_SIZE = 1024 * 1024

/**
 * A malformed key file.
 *
 * @since 0.1.0
 * @category errors
 */
export const parseError = (description: string): KeyError => new KeyError({ reason: "Parse", description })

/**
 * A key file we understand but cannot use.
 *
 * @since 0.1.0
 * @category errors
 */
export const unsupported = (description: string): KeyError => new KeyError({ reason: "Unsupported", description })

/**
 * The passphrase did not decrypt the key.
 *
 * @since 0.1.0
 * @category errors
 */
export const wrongPassphrase = (): KeyError =>
  new KeyError({
    reason: "Passphrase",
    description: "wrong passphrase (the private key does not decrypt); check the passphrase and try again"
  })

/**
 * The key is encrypted and no passphrase was given.
 *
 * @since 0.1.0
 * @category errors
 */
export const passphraseRequired = (): KeyError =>
  new KeyError({ reason: "Passphrase", description: "the private key is encrypted: a passphrase is required" })

/**
 * Runs a parser that throws `KeyError`s, as an `Either`. Any other exception is a bug of ours, reported by kind
 * only, never with key bytes (STYLE.md §7.5).
 *
 * @since 0.1.0
 * @category constructors
 */
export const attempt = <A>(f: () => A): Either.Either<A, KeyError> => {
  try {
    return Either.right(f())
  } catch (e) {
    if (e instanceof KeyError) return Either.left(e)
    if (e instanceof WireError) return Either.left(parseError(e.description))
    return Either.left(parseError(`malformed key (${e instanceof Error ? e.name : typeof e})`))
  }
}

/**
 * The value of an `Either`, or its `KeyError` thrown (inside `attempt`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const orThrow = <A>(e: Either.Either<A, KeyError>): A => {
  if (Either.isLeft(e)) throw e.left
  return e.right
}

/** @internal */
export const CURVES = { nistp256: p256, nistp384: p384, nistp521: p521 } as const

/**
 * The byte length of a curve's scalars and coordinates.
 *
 * @since 0.1.0
 * @category constants
 */
export const SCALAR_BYTES: Record<NistCurve, number> = { nistp256: 32, nistp384: 48, nistp521: 66 }

/**
 * An ECDSA key from its scalar; the point is computed, and compared with `q` when the file has one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ecdsaFromScalar = (curve: NistCurve, scalar: bigint, q?: Uint8Array): PrivateKeyMaterial => {
  if (scalar <= 0n || scalar >= CURVES[curve].Point.Fn.ORDER) throw parseError(`ecdsa ${curve} scalar out of range`)
  const d = numberToBytesBE(scalar, SCALAR_BYTES[curve])
  const computed = CURVES[curve].getPublicKey(d, false)
  if (q !== undefined && !equalBytes(computed, q)) throw parseError(`ecdsa ${curve} scalar does not give its point`)
  return { type: "ecdsa", curve, d, q: computed }
}

/**
 * What deriving an Ed25519 public key needs from a crypto backend.
 *
 * @since 0.1.0
 * @category models
 */
export type Ed25519Derivation = Pick<CryptoBackend, "ed25519PublicKey">

/**
 * An Ed25519 key from its 32-byte seed; the public key is computed (by `backend` when it can, else portably), and
 * compared with `publicKey` when given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ed25519FromSeed = (
  seed: Uint8Array,
  publicKey?: Uint8Array,
  backend?: Partial<Ed25519Derivation>
): PrivateKeyMaterial => {
  if (seed.length !== 32) throw parseError(`ssh-ed25519 seed of ${seed.length} bytes, expected 32`)
  const computed = backend?.ed25519PublicKey?.(seed) ?? ed25519.getPublicKey(seed)
  if (publicKey !== undefined && !equalBytes(computed, publicKey)) {
    throw parseError("ssh-ed25519 seed does not give its public key")
  }
  return { type: "ed25519", seed: seed.slice(), publicKey: computed }
}

/**
 * An RSA key from n, e, d, p, q, checked (p·q = n, d = e⁻¹ mod p−1 and q−1); q⁻¹ mod p is computed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rsaFromPrimes = (n: bigint, e: bigint, d: bigint, p: bigint, q: bigint): PrivateKeyMaterial => {
  if (p < 3n || q < 3n || p * q !== n) throw parseError("ssh-rsa p·q is not n")
  const ed = e * d
  if (d <= 0n || ed % (p - 1n) !== 1n || ed % (q - 1n) !== 1n) throw parseError("ssh-rsa d is not e⁻¹")
  return { type: "rsa", n, e, d, p, q, iqmp: modInverse(q, p) }
}

const modInverse = (a: bigint, m: bigint): bigint => {
  let [r0, r1, s0, s1] = [m, ((a % m) + m) % m, 0n, 1n]
  while (r1 !== 0n) {
    const k = r0 / r1
    ;[r0, r1, s0, s1] = [r1, r0 - k * r1, s1, s0 - k * s1]
  }
  if (r0 !== 1n) throw parseError("ssh-rsa primes are not coprime")
  return ((s0 % m) + m) % m
}

const KEY_TYPES: ReadonlyArray<PrivateKeyType> = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa"
]

/**
 * Our key type for an SSH key type name, or `undefined`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const keyTypeFromName = (name: string): PrivateKeyType | undefined => KEY_TYPES.find((t) => t === name)

/**
 * The SSH key type names we support, for messages.
 *
 * @since 0.1.0
 * @category constants
 */
export const SUPPORTED_TYPES = KEY_TYPES.join(", ")

/**
 * The "Unsupported" error for a key type we cannot use, saying why for the ones users meet.
 *
 * @since 0.1.0
 * @category errors
 */
export const unsupportedType = (name: string): KeyError =>
  unsupported(
    name === "ssh-ed448"
      ? "ssh-ed448 keys: no crypto backend implements Ed448; use an Ed25519 key"
      : name === "ssh-dss"
      ? "ssh-dss (DSA) keys are obsolete; generate an Ed25519 key"
      : `key type ${sanitizePeerText(name, 64)} (supported: ${SUPPORTED_TYPES})`
  )

/**
 * Refuses RSA keys below `minRsaBits` (default 2 048; SEC-25, LIM-15). This is where every parsed private key
 * is checked, whatever its format.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkRsaSize = (material: PrivateKeyMaterial, options: PrivateKeyOptions | undefined): void => {
  if (material.type !== "rsa") return
  const bits = material.n.toString(2).length
  const min = Math.max(1024, options?.minRsaBits ?? HostKey.DEFAULT_MIN_RSA_BITS)
  if (bits < min) {
    throw unsupported(`RSA key of ${bits} bits is below the minimum of ${min}; generate a new key of 3072 bits`)
  }
  if (bits > HostKey.MAX_RSA_BITS) throw unsupported(`RSA key of ${bits} bits exceeds ${HostKey.MAX_RSA_BITS}`)
}

/**
 * The parsed key for checked material: its public blob (which decodes as a valid public key), type and comment.
 * RSA keys below `minRsaBits` are refused here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toParsed = (
  material: PrivateKeyMaterial,
  comment: string,
  options: PrivateKeyOptions | undefined
): ParsedPrivateKey => {
  checkRsaSize(material, options)
  const publicKey = HostKey.encodePublicKey(HostKey.publicKeyOf(material))
  const decoded = HostKey.decodePublicKey(publicKey, { minRsaBits: 1024 })
  if (Either.isLeft(decoded)) throw parseError(`public key: ${decoded.left.description}`)
  const type = keyTypeFromName(HostKey.keyTypeOf(material))
  if (type === undefined) throw unsupported(`key type ${HostKey.keyTypeOf(material)}`)
  return { type, material, publicKey, comment }
}
