/**
 * Private keys in every common file format, read with the format detected from the content, written as
 * openssh-key-v1 or PKCS#8, and generated through the crypto backend.
 *
 * Read: openssh-key-v1 (`ssh-keygen` default; every `ssh-keygen -Z` cipher), PKCS#1 RSA and SEC1 EC PEM (plain
 * or legacy-encrypted: AES-128/192/256-CBC, DES-EDE3-CBC), PKCS#8 plain or encrypted (PBES2, PBKDF2-HMAC-SHA*,
 * AES-CBC, DES-EDE3-CBC), and PuTTY PPK v2 and v3 (Argon2). Key types: Ed25519, ECDSA P-256/384/521, RSA of at
 * least `minRsaBits` (2 048 by default). Written: openssh-key-v1 (plain, or bcrypt_pbkdf + aes256-ctr with 16
 * rounds, as ssh-keygen), PKCS#8 (plain, or PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC), PKCS#1/SEC1 PEM (plain).
 *
 * Parsers are pure and never throw (SEC-28): failures are a `KeyError` with reason "Passphrase" (missing or
 * wrong), "Unsupported" (a format, type or KDF cost we refuse; LIM-32) or "Parse" (malformed). Passphrases are
 * `Redacted`, and neither they nor key bytes ever appear in an error.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { NistCurve, PrivateKeyMaterial, SymmetricPrimitives } from "../crypto/Backend.js"
import { Crypto } from "../crypto/Crypto.js"
import type { CryptoBackend } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import { PortableCrypto } from "../crypto/portable/PortableCrypto.js"
import type { KeyError } from "../SshError.js"
import * as Armor from "./Armor.js"
import type { ParsedPrivateKey, PrivateKeyOptions } from "./KeyMaterial.js"
import { attempt, orThrow, parseError, toParsed, unsupported } from "./KeyMaterial.js"
import * as OpenSshKey from "./OpenSshKey.js"
import * as PemKey from "./PemKey.js"
import * as Pkcs8 from "./Pkcs8.js"
import * as Ppk from "./Ppk.js"
import * as PublicKey from "./PublicKey.js"

export type {
  /**
   * @since 0.1.0
   * @category models
   */
  ParsedPrivateKey,
  /**
   * @since 0.1.0
   * @category models
   */
  PrivateKeyOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  PrivateKeyType
} from "./KeyMaterial.js"

export {
  /**
   * @since 0.1.0
   * @category constants
   */
  MAX_KEY_FILE_SIZE
} from "./KeyMaterial.js"

/**
 * The file formats `parse` recognises.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyFormat = "openssh" | "pkcs1" | "sec1" | "pkcs8" | "pkcs8-encrypted" | "ppk"

/**
 * Options of `parse`: the passphrase and the limits of `PrivateKeyOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParseOptions extends PrivateKeyOptions {
  readonly passphrase?: Redacted.Redacted<string> | undefined
}

const LABELS: ReadonlyMap<string, KeyFormat> = new Map([
  ["OPENSSH PRIVATE KEY", "openssh"],
  ["RSA PRIVATE KEY", "pkcs1"],
  ["EC PRIVATE KEY", "sec1"],
  ["PRIVATE KEY", "pkcs8"],
  ["ENCRYPTED PRIVATE KEY", "pkcs8-encrypted"]
])

/**
 * The format of a key file from its first line, or a `KeyError` that says what the file is instead.
 *
 * @since 0.1.0
 * @category decoding
 */
export const detectFormat = (text: string): Either.Either<KeyFormat, KeyError> => {
  const first = Armor.firstLine(text)
  if (Ppk.isPpk(first)) return Either.right("ppk")
  const m = /^-----BEGIN ([A-Z0-9 ]{1,64})-----$/.exec(first)
  const format = m === null ? undefined : LABELS.get(m[1]!)
  if (format !== undefined) return Either.right(format)
  if (m?.[1] === "DSA PRIVATE KEY") return Either.left(unsupported("DSA keys; generate an Ed25519 key instead"))
  if (first.startsWith("---- BEGIN SSH2 ") || /^-----BEGIN (RSA )?PUBLIC KEY-----$/.test(first) || /^(ssh|ecdsa)-/.test(first)) {
    return Either.left(parseError("this is a public key; a private key file is needed (use PublicKey.parse)"))
  }
  if (first.startsWith("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY")) {
    return Either.left(unsupported("ssh.com private keys; convert with `ssh-keygen -i -f <keyfile>`"))
  }
  return Either.left(parseError("not a private key file: no recognised BEGIN line or PuTTY header"))
}

const utf8 = new TextDecoder("utf-8", { fatal: false })

/**
 * Parses (and, given the passphrase, decrypts) a private key file in any supported format, detected from its
 * content. Bytes are read as text unless they are DER (a binary PKCS#8, PKCS#1 or SEC1 key). Fails with a
 * `KeyError`: "Passphrase" when the key is encrypted and no passphrase was given, or it is wrong; "Unsupported" for
 * DSA, Ed448 and other key types, KDF costs over the limits (LIM-32), RSA keys below `minRsaBits`; "Parse" for
 * anything malformed.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (input: string | Uint8Array, options?: ParseOptions): Either.Either<ParsedPrivateKey, KeyError> =>
  attempt(() => {
    if (typeof input !== "string") {
      if (input.length > 0 && input[0] === 0x30) return parseDer(input, options)
      return orThrow(parse(utf8.decode(input), options))
    }
    const format = orThrow(detectFormat(input))
    const passphrase = options?.passphrase
    if (format === "ppk") return orThrow(Ppk.decode(input, passphrase, options))
    const armored = orThrow(Armor.dearmor(input))
    switch (format) {
      case "openssh":
        return orThrow(OpenSshKey.decode(armored.body, passphrase, options))
      case "pkcs1":
      case "sec1": {
        const der = PemKey.decryptBody(armored, passphrase)
        const decoded = format === "pkcs1" ? PemKey.decodeRsa(der) : PemKey.decodeEc(der)
        return toParsed(PemKey.afterDecrypt(der !== armored.body, decoded), "", options)
      }
      case "pkcs8":
        return toParsed(orThrow(Pkcs8.decode(armored.body, options?.backend)), "", options)
      case "pkcs8-encrypted":
        return toParsed(orThrow(Pkcs8.decrypt(armored.body, passphrase, options)), "", options)
    }
  })

/**
 * Binary DER: PKCS#8 first (the common form), then encrypted PKCS#8, PKCS#1 and SEC1; the PKCS#8 error if none
 * fits.
 */
const parseDer = (der: Uint8Array, options: ParseOptions | undefined): ParsedPrivateKey => {
  const pkcs8 = Pkcs8.decode(der, options?.backend)
  if (Either.isRight(pkcs8)) return toParsed(pkcs8.right, "", options)
  if (pkcs8.left.reason === "Unsupported") throw pkcs8.left
  const encrypted = Pkcs8.decrypt(der, options?.passphrase, options)
  if (Either.isRight(encrypted) || encrypted.left.reason !== "Parse") return toParsed(orThrow(encrypted), "", options)
  const other = Either.orElse(PemKey.decodeRsa(der), () => PemKey.decodeEc(der))
  return toParsed(Either.isRight(other) ? other.right : orThrow(pkcs8), "", options)
}

/**
 * `parse` for text with the passphrase as its own argument (the signature the auth and CLI code use).
 *
 * @since 0.1.0
 * @category decoding
 */
export const parsePrivateKey = (
  text: string,
  passphrase?: Redacted.Redacted<string>,
  options?: PrivateKeyOptions
): Either.Either<ParsedPrivateKey, KeyError> => parse(text, { ...options, passphrase })

// ---- writing ----

/**
 * The formats `encode` writes: openssh-key-v1, PKCS#8, or the traditional PEM of the key type (PKCS#1 for RSA,
 * SEC1 for ECDSA; unencrypted only, as it has no modern encryption).
 *
 * @since 0.1.0
 * @category models
 */
export type EncodeFormat = "openssh" | "pkcs8" | "pem"

/**
 * Options of `encode`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EncodeOptions {
  /** Default "openssh". */
  readonly format?: EncodeFormat | undefined
  /** Stored in openssh-key-v1 files (the other formats have no comment). */
  readonly comment?: string | undefined
  /** Encrypts the key when given and non-empty. */
  readonly passphrase?: Redacted.Redacted<string> | undefined
  /** openssh-key-v1 cipher; default aes256-ctr. */
  readonly cipher?: string | undefined
  /** openssh-key-v1 bcrypt_pbkdf rounds; default 16. */
  readonly rounds?: number | undefined
  /** PKCS#8 PBKDF2 iterations; default 100 000. */
  readonly iterations?: number | undefined
  /** Randomness and ciphers; default `PortableCrypto`. */
  readonly backend?: SymmetricPrimitives | undefined
}

/**
 * Writes a private key file (text ending in a newline). Fails with "Unsupported" for an encrypted "pem" or
 * ed25519 "pem" (use "pkcs8"), or an unknown cipher.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (
  key: PrivateKeyMaterial | ParsedPrivateKey,
  options?: EncodeOptions
): Either.Either<string, KeyError> =>
  attempt(() => {
    const material = "material" in key ? key.material : key
    const comment = options?.comment ?? ("material" in key ? key.comment : "")
    const backend = options?.backend ?? PortableCrypto
    const passphrase = options?.passphrase
    const encrypted = passphrase !== undefined && Redacted.value(passphrase) !== ""
    switch (options?.format ?? "openssh") {
      case "openssh": {
        const body = orThrow(OpenSshKey.encode(material, { ...options, comment, backend }))
        return Armor.armor(OpenSshKey.LABEL, body, 70)
      }
      case "pkcs8":
        return encrypted
          ? Armor.armor("ENCRYPTED PRIVATE KEY", Pkcs8.encrypt(material, passphrase!, { iterations: options?.iterations, backend }))
          : Armor.armor("PRIVATE KEY", Pkcs8.encode(material))
      case "pem":
        if (encrypted) throw unsupported("encrypted traditional PEM (its KDF is weak); write pkcs8 or openssh instead")
        if (material.type === "rsa") return Armor.armor("RSA PRIVATE KEY", PemKey.encodeRsa(material))
        if (material.type === "ecdsa") return Armor.armor("EC PRIVATE KEY", PemKey.encodeEc(material, true))
        throw unsupported("Ed25519 keys have no traditional PEM form; write pkcs8 or openssh instead")
    }
  })

// ---- generation and accessors ----

/**
 * What to generate: RSA bits default to 3 072 (ssh-keygen's default) and must be 2 048..16 384; the ECDSA curve
 * defaults to nistp256.
 *
 * @since 0.1.0
 * @category models
 */
export type GenerateSpec =
  | { readonly type: "ed25519" }
  | { readonly type: "ecdsa"; readonly curve?: NistCurve | undefined }
  | { readonly type: "rsa"; readonly bits?: number | undefined }

/**
 * Generates a key pair with the given backend. Fails with "Unsupported" for RSA sizes outside 2 048..16 384 or
 * not a multiple of 8.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateWith = (backend: CryptoBackend, spec: GenerateSpec): Either.Either<PrivateKeyMaterial, KeyError> => {
  if (spec.type === "ed25519") return Either.right(backend.generateKey({ type: "ed25519" }))
  if (spec.type === "ecdsa") return Either.right(backend.generateKey({ type: "ecdsa", curve: spec.curve ?? "nistp256" }))
  const bits = spec.bits ?? 3072
  if (!Number.isInteger(bits) || bits < 2048 || bits > HostKey.MAX_RSA_BITS || bits % 8 !== 0) {
    return Either.left(unsupported(`RSA key size ${bits}: use a multiple of 8 in 2048..${HostKey.MAX_RSA_BITS}`))
  }
  return Either.right(backend.generateKey({ type: "rsa", bits }))
}

/**
 * Generates a key pair with the `Crypto` backend in the context (portable @noble unless a layer provides
 * node:crypto). Portable RSA generation searches primes in JavaScript bigints: expect seconds for 3 072 bits.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = Effect.fn("PrivateKey.generate")(function*(spec: GenerateSpec) {
  const backend = yield* Crypto
  return yield* generateWith(backend, spec)
})

/**
 * The public key of a private key, with a comment.
 *
 * @since 0.1.0
 * @category accessors
 */
export const publicKey = (key: PrivateKeyMaterial | ParsedPrivateKey, comment?: string): PublicKey.PublicKey => {
  const material = "material" in key ? key.material : key
  return PublicKey.fromMaterial(HostKey.publicKeyOf(material), comment ?? ("material" in key ? key.comment : ""))
}
