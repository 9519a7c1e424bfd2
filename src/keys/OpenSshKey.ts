/**
 * OpenSSH private keys in the openssh-key-v1 format (PROTOCOL.key; `-----BEGIN OPENSSH PRIVATE KEY-----`), the
 * format `ssh-keygen` writes by default: read unencrypted or encrypted with bcrypt_pbkdf and any cipher
 * `ssh-keygen -Z` accepts; written unencrypted or encrypted (default aes256-ctr, 16 rounds, as ssh-keygen).
 *
 * KDF rounds are bounded before any work is done (LIM-32), every field is checked as OpenSSH sshkey.c checks it,
 * and the private key must be the one the header's public key names.
 *
 * @since 0.1.0
 */
import { bytesToNumberBE, equalBytes as equal } from "@noble/curves/utils.js"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { NistCurve, PrivateKeyMaterial, SymmetricPrimitives } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import { PortableCrypto } from "../crypto/portable/PortableCrypto.js"
import type { KeyError } from "../SshError.js"
import { sanitizePeerText } from "../SshError.js"
import * as Reader from "../wire/Reader.js"
import * as Writer from "../wire/Writer.js"
import * as Bcrypt from "./Bcrypt.js"
import type { KeyCipher } from "./KeyCipher.js"
import { OPENSSH_CIPHERS } from "./KeyCipher.js"
import type { ParsedPrivateKey, PrivateKeyOptions, PrivateKeyType } from "./KeyMaterial.js"
import {
  attempt,
  ecdsaFromScalar,
  ed25519FromSeed,
  keyTypeFromName,
  orThrow,
  parseError,
  passphraseRequired,
  rsaFromPrimes,
  toParsed,
  unsupported,
  unsupportedType,
  wrongPassphrase
} from "./KeyMaterial.js"

/**
 * The armor label of openssh-key-v1 files.
 *
 * @since 0.1.0
 * @category constants
 */
export const LABEL = "OPENSSH PRIVATE KEY"

const MAGIC = new TextEncoder().encode("openssh-key-v1\0")

type Secret = Redacted.Redacted<string> | undefined
type Options = PrivateKeyOptions | undefined

/**
 * Decodes (and, given the passphrase, decrypts) the binary inside the armor.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array, passphrase: Secret, options?: Options): Either.Either<ParsedPrivateKey, KeyError> =>
  attempt(() => {
    const r = new Reader.Reader(bytes)
    // PROTOCOL.key §1: byte[] AUTH_MAGIC = "openssh-key-v1" and its NUL.
    if (!equal(r.raw(Math.min(MAGIC.length, r.remaining)), MAGIC)) throw parseError("no openssh-key-v1 magic")
    const cipherName = r.ascii()
    const kdfName = r.ascii()
    const kdfOptions = r.string()
    const count = r.uint32()
    // Everything that can make us refuse the file is checked before the passphrase is needed or the KDF runs.
    const cipher = OPENSSH_CIPHERS.get(cipherName)
    if (cipher === undefined) throw unsupported(`unknown cipher ${sanitizePeerText(cipherName, 64)}`)
    const kdf = kdfFor(kdfName, cipherName, kdfOptions, options)
    // sshkey.c private2_decrypt: "only one key supported at present".
    if (count !== 1) throw count === 0 ? parseError("the file holds no key") : unsupported(`a file of ${count} keys`)
    const publicKey = r.string()
    const encrypted = r.string()
    // The AEAD tag (aes-gcm, chacha20-poly1305) follows the string, outside it (sshkey.c private2_decrypt).
    const tag = r.raw(cipher.tagLength)
    r.end_()
    const type = checkPublicKey(publicKey)
    if (encrypted.length < cipher.blockSize || encrypted.length % cipher.blockSize !== 0) {
      throw parseError(`private section of ${encrypted.length} bytes, not a multiple of ${cipher.blockSize}`)
    }
    const plain = decrypt(cipher, kdf, encrypted, tag, passphrase, options)
    try {
      return privateSection(plain, cipherName !== "none", type, publicKey, options)
    } finally {
      if (plain !== encrypted) plain.fill(0)
    }
  })

interface Kdf {
  readonly salt: Uint8Array
  readonly rounds: number
}

/** PROTOCOL.key §2 and §5: kdfname "bcrypt" with string salt ‖ uint32 rounds, or "none" with no options. */
const kdfFor = (kdfName: string, cipherName: string, kdfOptions: Uint8Array, options: Options): Kdf | undefined => {
  if (kdfName === "none") {
    // sshkey.c: a cipher without a KDF is an invalid format.
    if (cipherName !== "none") throw parseError(`cipher ${cipherName} without a KDF`)
    if (kdfOptions.length !== 0) throw parseError("KDF none with KDF options")
    return undefined
  }
  if (kdfName !== "bcrypt") throw unsupported(`unknown KDF ${sanitizePeerText(kdfName, 64)}`)
  const k = new Reader.Reader(kdfOptions)
  const kdf: Kdf = { salt: k.string(), rounds: k.uint32() }
  k.end_()
  // LIM-32 / SEC-28: refuse an expensive key before asking for its passphrase; Bcrypt.pbkdf checks again.
  orThrow(Bcrypt.checkRounds(kdf.rounds, { maxRounds: options?.maxKdfRounds }))
  if (kdf.salt.length === 0) throw parseError("bcrypt KDF with an empty salt")
  return kdf
}

/** The public key type, checked: one we support, and a valid key of it (HostKey.decodePublicKey). */
const checkPublicKey = (blob: Uint8Array): PrivateKeyType => {
  const keyType = orThrow(Either.mapLeft(Reader.run(blob, (r) => r.ascii()), (e) => parseError(e.description)))
  const type = keyTypeFromName(keyType)
  if (type === undefined) throw unsupportedType(keyType)
  const decoded = HostKey.decodePublicKey(blob, { minRsaBits: 1024 })
  if (Either.isLeft(decoded)) throw parseError(`public key: ${decoded.left.description}`)
  return type
}

const decrypt = (
  cipher: KeyCipher,
  kdf: Kdf | undefined,
  data: Uint8Array,
  tag: Uint8Array,
  passphrase: Secret,
  options: Options
): Uint8Array => {
  if (kdf === undefined) return data
  const secret = passphrase === undefined ? "" : Redacted.value(passphrase)
  // sshkey.c: a KDF other than "none" needs a non-empty passphrase.
  if (secret.length === 0) throw passphraseRequired()
  // `ssh-keygen -Z none -N …` writes cipher "none" with KDF "bcrypt": nothing to derive, as OpenSSH loads it.
  if (cipher.keyLength + cipher.ivLength === 0) return data
  const password = new TextEncoder().encode(secret)
  const derived = Bcrypt.pbkdf(password, kdf.salt, kdf.rounds, cipher.keyLength + cipher.ivLength, {
    maxRounds: options?.maxKdfRounds
  })
  password.fill(0)
  const key = orThrow(derived)
  try {
    const backend = options?.backend ?? PortableCrypto
    const plain = cipher.decrypt(backend, key.subarray(0, cipher.keyLength), key.subarray(cipher.keyLength), data, tag)
    // sshkey.c: an AEAD integrity failure here means a wrong passphrase.
    if (plain === undefined) throw wrongPassphrase()
    return plain
  } finally {
    key.fill(0)
  }
}

// ---- the private section (PROTOCOL.key §3; sshkey.c sshkey_private_deserialize) ----

const utf8 = new TextDecoder("utf-8")

const privateSection = (
  plain: Uint8Array,
  encrypted: boolean,
  type: PrivateKeyType,
  publicKey: Uint8Array,
  options: Options
): ParsedPrivateKey => {
  const r = new Reader.Reader(plain)
  // PROTOCOL.key §3: both check-ints hold the same random value, so a wrong key shows as a mismatch.
  if (r.uint32() !== r.uint32()) throw encrypted ? wrongPassphrase() : parseError("the check-ints differ")
  const keyType = r.ascii()
  if (keyType !== type) throw parseError(`a ${sanitizePeerText(keyType, 64)} private key under a ${type} public key`)
  const material = readMaterial(r, type, options)
  // The private key must be the one the header names (and the one a server will check signatures with).
  if (!equal(HostKey.encodePublicKey(HostKey.publicKeyOf(material)), publicKey)) {
    throw parseError("the private key does not match the public key in the header")
  }
  // OpenSSH comments are bytes; decoded leniently, since a bad comment should not make a key unusable.
  const comment = utf8.decode(r.string())
  // PROTOCOL.key §3: padding 1, 2, 3, … (sshkey.c private2_check_padding: modulo 256).
  for (let i = 1; r.remaining > 0; i++) {
    if (r.byte() !== (i & 0xff)) throw parseError("bad padding after the private key")
  }
  return toParsed(material, comment, options)
}

const ECDSA_CURVES: ReadonlyMap<string, NistCurve> = new Map([
  ["ecdsa-sha2-nistp256", "nistp256"],
  ["ecdsa-sha2-nistp384", "nistp384"],
  ["ecdsa-sha2-nistp521", "nistp521"]
])

const readMaterial = (r: Reader.Reader, type: PrivateKeyType, options: Options): PrivateKeyMaterial => {
  if (type === "ssh-ed25519") {
    // string ENC(A) ‖ string k ‖ ENC(A): the 32-byte seed followed by the public key (PROTOCOL.key §3 "as for
    // SSH agent", draft-miller-ssh-agent §4.2.3).
    const pk = r.string()
    const sk = r.string()
    if (pk.length !== 32 || sk.length !== 64) throw parseError("ssh-ed25519 key of the wrong length")
    if (!equal(sk.subarray(32), pk)) throw parseError("ssh-ed25519 private key does not end with its public key")
    return ed25519FromSeed(sk.subarray(0, 32), pk, options?.backend)
  }
  if (type === "ssh-rsa") {
    // OpenSSH's order: n, e, d, iqmp, p, q (sshkey.c ssh_rsa_deserialize_private).
    const [n, e, d, iqmp, p, q] = [r.mpint(), r.mpint(), r.mpint(), r.mpint(), r.mpint(), r.mpint()]
    const key = rsaFromPrimes(n, e, d, p, q)
    if (key.type === "rsa" && key.iqmp !== iqmp) throw parseError("ssh-rsa iqmp is not q⁻¹ mod p")
    return key
  }
  // string curve ‖ string Q ‖ mpint d (RFC 5656 §3.1 names; sshkey.c ssh_ecdsa_deserialize_private).
  const curve = ECDSA_CURVES.get(type)!
  if (r.ascii() !== curve) throw parseError(`${type} private key names another curve`)
  const q = r.string()
  return ecdsaFromScalar(curve, r.mpint(), q)
}

// ---- writing (PROTOCOL.key; sshkey.c sshkey_private_to_blob2) ----

/**
 * Options of `encode`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EncodeOptions {
  readonly comment?: string | undefined
  /** Encrypts the key when given and non-empty. */
  readonly passphrase?: Redacted.Redacted<string> | undefined
  /** The cipher of an encrypted key; default `aes256-ctr` (ssh-keygen's default). */
  readonly cipher?: string | undefined
  /** bcrypt_pbkdf rounds; default 16 (ssh-keygen's default, `-a`). */
  readonly rounds?: number | undefined
  /** Randomness (check-ints, salt) and the CTR/GCM/ChaCha ciphers; default `PortableCrypto`. */
  readonly backend?: SymmetricPrimitives | undefined
}

/**
 * The private part of a key in the openssh-key-v1 layout (the same as the agent protocol's).
 *
 * @since 0.1.0
 * @category encoding
 */
export const writeMaterial = (w: Writer.Writer, key: PrivateKeyMaterial): void => {
  w.string(HostKey.keyTypeOf(key))
  switch (key.type) {
    case "ed25519": {
      const secret = new Uint8Array(64)
      secret.set(key.seed, 0)
      secret.set(key.publicKey, 32)
      w.string(key.publicKey).string(secret)
      secret.fill(0)
      break
    }
    case "ecdsa":
      w.string(key.curve).string(key.q).mpint(bytesToNumberBE(key.d))
      break
    case "rsa":
      w.mpint(key.n).mpint(key.e).mpint(key.d).mpint(key.iqmp).mpint(key.p).mpint(key.q)
      break
  }
}

/**
 * A private key as an openssh-key-v1 binary (to be armored with `LABEL`, 70 columns), as `ssh-keygen` writes it:
 * random check-ints, the comment, padding 1, 2, 3, …; with a passphrase, bcrypt_pbkdf over a random 16-byte salt.
 * Fails with "Unsupported" for an unknown cipher, "Passphrase"/"Unsupported" for rounds below 1.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (key: PrivateKeyMaterial, options?: EncodeOptions): Either.Either<Uint8Array, KeyError> =>
  attempt(() => {
    const backend = options?.backend ?? PortableCrypto
    const secret = options?.passphrase === undefined ? "" : Redacted.value(options.passphrase)
    const cipherName = secret === "" ? "none" : options?.cipher ?? "aes256-ctr"
    const cipher = OPENSSH_CIPHERS.get(cipherName)
    if (cipher === undefined) throw unsupported(`unknown cipher ${cipherName}`)
    const rounds = options?.rounds ?? 16
    const salt = backend.randomBytes(16)
    const check = new DataView(backend.randomBytes(4).buffer).getUint32(0)
    const plain = Writer.build((w) => {
      w.uint32(check).uint32(check)
      writeMaterial(w, key)
      w.string(options?.comment ?? "")
      // PROTOCOL.key §3: padding 1, 2, 3, … to the cipher's block size.
      for (let i = 1; w.pos % cipher.blockSize !== 0; i++) w.byte(i)
    })
    let sealed = plain
    if (secret !== "") {
      const password = new TextEncoder().encode(secret)
      const derived = orThrow(
        Bcrypt.pbkdf(password, salt, rounds, cipher.keyLength + cipher.ivLength, { maxRounds: rounds })
      )
      password.fill(0)
      sealed = cipher.encrypt(backend, derived.subarray(0, cipher.keyLength), derived.subarray(cipher.keyLength), plain, new Uint8Array(0))!
      derived.fill(0)
      plain.fill(0)
    }
    const body = sealed.subarray(0, sealed.length - cipher.tagLength)
    return Writer.build((w) => {
      w.raw(MAGIC)
      w.string(cipherName).string(secret === "" ? "none" : "bcrypt")
      w.string(secret === "" ? new Uint8Array(0) : Writer.build((k) => k.string(salt).uint32(rounds)))
      w.uint32(1)
      w.string(HostKey.encodePublicKey(HostKey.publicKeyOf(key)))
      w.string(body)
      w.raw(sealed.subarray(body.length))
    })
  })
