/**
 * OpenSSH private keys in the openssh-key-v1 format (PROTOCOL.key; `-----BEGIN OPENSSH PRIVATE KEY-----`), the
 * format `ssh-keygen` writes by default, unencrypted or encrypted (bcrypt_pbkdf plus aes*-ctr, aes*-gcm or
 * chacha20-poly1305), for ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa keys.
 *
 * Pure and synchronous: `parsePrivateKey` returns an `Either` and never throws on any input (SEC-28). KDF rounds
 * are bounded before any work is done (LIM-32), every field is checked as OpenSSH sshkey.c checks it, and the
 * private key must be the one the header's public key names. Passphrases are `Redacted`; neither they nor key
 * bytes ever appear in an error.
 *
 * @since 0.1.0
 */
import { ed25519 } from "@noble/curves/ed25519.js"
import { p256, p384, p521 } from "@noble/curves/nist.js"
import { equalBytes as equal, numberToBytesBE } from "@noble/curves/utils.js"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import { identity } from "effect/Function"
import * as Redacted from "effect/Redacted"
import type { NistCurve, PrivateKeyMaterial, SymmetricPrimitives } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import { PortableCrypto } from "../crypto/portable/PortableCrypto.js"
import { KeyError, sanitizePeerText } from "../SshError.js"
import * as Reader from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Bcrypt from "./Bcrypt.js"

/**
 * The key types an openssh-key-v1 file may hold that we can use.
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
 * A decrypted private key with its public-key blob and comment.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParsedPrivateKey {
  readonly type: PrivateKeyType
  readonly material: PrivateKeyMaterial
  /** The public-key blob (RFC 4253 §6.6), byte-for-byte the one in the file's header and in its `.pub` file. */
  readonly publicKey: Uint8Array
  readonly comment: string
}

/**
 * Options of `parsePrivateKey`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrivateKeyOptions {
  /** The ciphers that decrypt an encrypted key; default `PortableCrypto`. */
  readonly backend?: SymmetricPrimitives | undefined
  /** Most bcrypt KDF rounds accepted (LIM-32); default `Bcrypt.DEFAULT_MAX_ROUNDS` (2 048). */
  readonly maxKdfRounds?: number | undefined
  /** Smallest RSA modulus accepted, in bits; default `HostKey.DEFAULT_MIN_RSA_BITS` (2 048), never below 1 024. */
  readonly minRsaBits?: number | undefined
}

/**
 * The largest key file accepted, in characters (OpenSSH authfile.c `MAX_KEY_FILE_SIZE`).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_KEY_FILE_SIZE = 1024 * 1024

/**
 * Parses (and, given the passphrase, decrypts) an OpenSSH private key file. Fails with a `KeyError`:
 * "Passphrase" when the key is encrypted and no (or an empty) passphrase was given, or the passphrase is wrong;
 * "Unsupported" for other formats (PEM, PKCS#8, PuTTY), other key types, CBC or unknown ciphers, files with
 * several keys, KDF rounds above `maxKdfRounds`, RSA keys below `minRsaBits`; "Parse" for anything malformed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parsePrivateKey = (
  text: string,
  passphrase?: Redacted.Redacted<string>,
  options?: PrivateKeyOptions
): Either.Either<ParsedPrivateKey, KeyError> => {
  try {
    return Either.right(parseBinary(dearmor(text), passphrase, options))
  } catch (e) {
    if (e instanceof KeyError) return Either.left(e)
    if (e instanceof WireError) return Either.left(parseError(e.description))
    // A bug of ours, never key bytes: report only the kind of exception (errors carry no secrets, STYLE.md §7.5).
    return Either.left(parseError(`malformed key (${e instanceof Error ? e.name : typeof e})`))
  }
}

// ---- armor (sshkey.c sshkey_parse_private2) ----

const BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----"
const END = "-----END OPENSSH PRIVATE KEY-----"
// The first lines of the formats that the keys issue adds later, so that users get a hint instead of "not a key".
const OTHER_FORMATS = /^(-----BEGIN (RSA |DSA |EC |ENCRYPTED )?PRIVATE KEY-----|---- BEGIN SSH2 |PuTTY-User-Key-File-)/

/** The binary inside the armor. Lines may end in CRLF and carry surrounding blanks; nothing else is tolerated. */
const dearmor = (text: string): Uint8Array => {
  if (text.length > MAX_KEY_FILE_SIZE) throw parseError(`key file of ${text.length} characters exceeds 1 MiB`)
  const lines = text.split("\n").map((l) => l.trim())
  let start = 0
  while (start < lines.length && lines[start] === "") start++
  const first = lines[start] ?? ""
  if (first !== BEGIN) {
    if (OTHER_FORMATS.test(first)) {
      throw unsupported("only OpenSSH-format private keys are supported yet; convert with `ssh-keygen -p -f <keyfile>`")
    }
    throw parseError(`not an OpenSSH private key: the first line is not ${BEGIN}`)
  }
  const end = lines.indexOf(END, start + 1)
  if (end < 0) throw parseError(`no ${END} line`)
  if (lines.slice(end + 1).some((l) => l !== "")) throw parseError(`text after the ${END} line`)
  const decoded = Encoding.decodeBase64(lines.slice(start + 1, end).join(""))
  // The DecodeException holds the input: it is not kept as the cause.
  if (Either.isLeft(decoded)) throw parseError("the key body is not valid base64")
  return decoded.right
}

// ---- the outer structure (PROTOCOL.key §1, §2, §5) ----

const MAGIC = new TextEncoder().encode("openssh-key-v1\0")

type Secret = Redacted.Redacted<string> | undefined
type Options = PrivateKeyOptions | undefined

const parseBinary = (bytes: Uint8Array, passphrase: Secret, options: Options): ParsedPrivateKey => {
  const r = new Reader.Reader(bytes)
  // PROTOCOL.key §1: byte[] AUTH_MAGIC = "openssh-key-v1" and its NUL.
  if (!equal(r.raw(Math.min(MAGIC.length, r.remaining)), MAGIC)) throw parseError("no openssh-key-v1 magic")
  const cipherName = r.ascii()
  const kdfName = r.ascii()
  const kdfOptions = r.string()
  const count = r.uint32()
  // Everything that can make us refuse the file is checked before the passphrase is needed or the KDF runs.
  const cipher = cipherFor(cipherName)
  const kdf = kdfFor(kdfName, cipherName, kdfOptions, options)
  // sshkey.c private2_decrypt: "only one key supported at present".
  if (count !== 1) throw count === 0 ? parseError("the file holds no key") : unsupported(`a file of ${count} keys`)
  const publicKey = r.string()
  const encrypted = r.string()
  // The AEAD tag (aes-gcm, chacha20-poly1305) follows the string, outside it (sshkey.c private2_decrypt).
  const tag = r.raw(cipher.tagLength)
  r.end_()
  const type = checkPublicKey(publicKey, options)
  if (encrypted.length < cipher.blockSize || encrypted.length % cipher.blockSize !== 0) {
    throw parseError(`private section of ${encrypted.length} bytes, not a multiple of ${cipher.blockSize}`)
  }
  const plain = decrypt(cipher, kdf, encrypted, tag, passphrase, options)
  try {
    return parsePrivateSection(plain, cipherName !== "none", type, publicKey)
  } finally {
    plain.fill(0)
  }
}

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
  Either.getOrThrowWith(Bcrypt.checkRounds(kdf.rounds, { maxRounds: options?.maxKdfRounds }), identity)
  if (kdf.salt.length === 0) throw parseError("bcrypt KDF with an empty salt")
  return kdf
}

/** The public key type, checked: one we support, and a valid key of it (HostKey.decodePublicKey). */
const checkPublicKey = (blob: Uint8Array, options: Options): PrivateKeyType => {
  const keyType = Either.getOrThrowWith(Reader.run(blob, (r) => r.ascii()), (e) => parseError(e.description))
  const type = KEY_TYPES.find((t) => t === keyType)
  if (type === undefined) {
    throw unsupported(`key type ${sanitizePeerText(keyType, 64)} (supported: ${KEY_TYPES.join(", ")})`)
  }
  const decoded = HostKey.decodePublicKey(blob, { minRsaBits: 1024 })
  if (Either.isLeft(decoded)) throw parseError(`public key: ${decoded.left.description}`)
  const material = decoded.right.material
  const minRsaBits = options?.minRsaBits ?? HostKey.DEFAULT_MIN_RSA_BITS
  const bits = material.type === "rsa" ? material.n.toString(2).length : Infinity
  if (bits < minRsaBits) throw unsupported(`RSA key of ${bits} bits, below minRsaBits ${minRsaBits}`)
  return type
}

const KEY_TYPES: ReadonlyArray<PrivateKeyType> =
  ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"]

// ---- decryption (PROTOCOL.key §4; sshkey.c private2_decrypt, cipher.c) ----

/** The plaintext, or `undefined` when an AEAD tag does not verify. */
type Decrypt = (
  backend: SymmetricPrimitives, key: Uint8Array, iv: Uint8Array, data: Uint8Array, tag: Uint8Array
) => Uint8Array | undefined

/** Key, IV, block and tag lengths as OpenSSH cipher.c lists them. */
interface KeyCipher {
  readonly keyLength: number
  readonly ivLength: number
  readonly blockSize: number
  readonly tagLength: number
  readonly decrypt: Decrypt
}

const ctr = (keyLength: number): KeyCipher => ({
  keyLength, ivLength: 16, blockSize: 16, tagLength: 0,
  decrypt: (backend, key, iv, data) => {
    const out = new Uint8Array(data.length)
    backend.aesCtr(key, iv).update(data, out)
    return out
  }
})

// OpenSSH uses the 12-byte IV as given for the first (here: only) message, with no AAD.
const gcm = (keyLength: number): KeyCipher => ({
  keyLength, ivLength: 12, blockSize: 16, tagLength: 16,
  decrypt: (backend, key, iv, data, tag) => {
    const sealed = new Uint8Array(data.length + tag.length)
    sealed.set(data)
    sealed.set(tag, data.length)
    return backend.aesGcm(key).open(iv, new Uint8Array(0), sealed)
  }
})

// PROTOCOL.chacha20poly1305 with sequence number 0 and no length: K_2 is the first 32 key bytes; the Poly1305 key
// is its keystream block 0, the data is encrypted from block 1 (cipher-chachapoly.c with aadlen = 0).
const chachaPoly: KeyCipher = {
  keyLength: 64, ivLength: 0, blockSize: 8, tagLength: 16,
  decrypt: (backend, key, _iv, data, tag) => {
    const k2 = key.subarray(0, 32)
    const nonce = new Uint8Array(8)
    const block0 = new Uint8Array(64)
    backend.chacha20(k2, nonce, 0, new Uint8Array(64), block0)
    const ok = backend.timingSafeEqual(backend.poly1305(block0.subarray(0, 32), data), tag)
    block0.fill(0)
    if (!ok) return undefined
    const out = new Uint8Array(data.length)
    backend.chacha20(k2, nonce, 1, data, out)
    return out
  }
}

// Maps, not object literals: a name from the file such as "__proto__" must find nothing.
const CIPHERS: ReadonlyMap<string, KeyCipher> = new Map([
  ["none", { keyLength: 0, ivLength: 0, blockSize: 8, tagLength: 0, decrypt: (_b, _k, _i, data) => data }],
  ["aes128-ctr", ctr(16)],
  ["aes192-ctr", ctr(24)],
  ["aes256-ctr", ctr(32)],
  ["aes128-gcm@openssh.com", gcm(16)],
  ["aes256-gcm@openssh.com", gcm(32)],
  ["chacha20-poly1305@openssh.com", chachaPoly]
])

// `ssh-keygen -Z` accepts these too; no backend offers a CBC primitive, so they are refused with a remedy.
const CBC_CIPHERS: ReadonlySet<string> =
  new Set(["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc", "rijndael-cbc@lysator.liu.se"])

const cipherFor = (name: string): KeyCipher => {
  const cipher = CIPHERS.get(name)
  if (cipher !== undefined) return cipher
  throw unsupported(
    CBC_CIPHERS.has(name)
      ? `private keys encrypted with ${name} are not supported; ` +
        "re-encrypt the key with `ssh-keygen -p -Z aes256-ctr -f <keyfile>`"
      : `unknown cipher ${sanitizePeerText(name, 64)}`
  )
}

const wrongPassphrase = (): KeyError =>
  new KeyError({ reason: "Passphrase", description: "wrong passphrase (the private key does not decrypt)" })

const decrypt = (
  cipher: KeyCipher, kdf: Kdf | undefined, data: Uint8Array, tag: Uint8Array, passphrase: Secret, options: Options
): Uint8Array => {
  if (kdf === undefined) return data
  const secret = passphrase === undefined ? "" : Redacted.value(passphrase)
  // sshkey.c: a KDF other than "none" needs a non-empty passphrase.
  if (secret.length === 0) {
    throw new KeyError({ reason: "Passphrase", description: "the private key is encrypted: a passphrase is required" })
  }
  // `ssh-keygen -Z none -N …` writes cipher "none" with KDF "bcrypt": nothing to derive, as OpenSSH loads it.
  if (cipher.keyLength + cipher.ivLength === 0) return data
  const password = new TextEncoder().encode(secret)
  const derived = Bcrypt.pbkdf(password, kdf.salt, kdf.rounds, cipher.keyLength + cipher.ivLength, {
    maxRounds: options?.maxKdfRounds
  })
  password.fill(0)
  if (Either.isLeft(derived)) throw derived.left
  const key = derived.right
  try {
    const backend = options?.backend ?? PortableCrypto
    const iv = key.subarray(cipher.keyLength)
    const plain = cipher.decrypt(backend, key.subarray(0, cipher.keyLength), iv, data, tag)
    // sshkey.c: an AEAD integrity failure here means a wrong passphrase.
    if (plain === undefined) throw wrongPassphrase()
    return plain
  } finally {
    key.fill(0)
  }
}

// ---- the private section (PROTOCOL.key §3; sshkey.c sshkey_private_deserialize) ----

const utf8 = new TextDecoder("utf-8")

const parsePrivateSection = (plain: Uint8Array, encrypted: boolean, type: PrivateKeyType, publicKey: Uint8Array) => {
  const r = new Reader.Reader(plain)
  // PROTOCOL.key §3: both check-ints hold the same random value, so a wrong key shows as a mismatch.
  if (r.uint32() !== r.uint32()) throw encrypted ? wrongPassphrase() : parseError("the check-ints differ")
  const keyType = r.ascii()
  if (keyType !== type) throw parseError(`a ${sanitizePeerText(keyType, 64)} private key under a ${type} public key`)
  const material = readMaterial(r, type)
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
  return { type, material, publicKey: publicKey.slice(), comment }
}

const CURVES = { nistp256: p256, nistp384: p384, nistp521: p521 } as const
const SCALAR_BYTES: Record<NistCurve, number> = { nistp256: 32, nistp384: 48, nistp521: 66 }
const ECDSA_CURVES = {
  "ecdsa-sha2-nistp256": "nistp256",
  "ecdsa-sha2-nistp384": "nistp384",
  "ecdsa-sha2-nistp521": "nistp521"
} as const

const readMaterial = (r: Reader.Reader, type: PrivateKeyType): PrivateKeyMaterial => {
  switch (type) {
    case "ssh-ed25519": {
      // string ENC(A) ‖ string k ‖ ENC(A): the 32-byte seed followed by the public key (PROTOCOL.key §3 "as for
      // SSH agent", draft-miller-ssh-agent §4.2.3).
      const pk = r.string()
      const sk = r.string()
      if (pk.length !== 32 || sk.length !== 64) throw parseError("ssh-ed25519 key of the wrong length")
      if (!equal(sk.subarray(32), pk)) throw parseError("ssh-ed25519 private key does not end with its public key")
      const seed = sk.slice(0, 32)
      if (!equal(ed25519.getPublicKey(seed), pk)) throw parseError("ssh-ed25519 seed does not give its public key")
      return { type: "ed25519", seed, publicKey: pk.slice() }
    }
    case "ssh-rsa": {
      // OpenSSH's order: n, e, d, iqmp, p, q (sshkey.c ssh_rsa_deserialize_private).
      const [n, e, d, iqmp, p, q] = [r.mpint(), r.mpint(), r.mpint(), r.mpint(), r.mpint(), r.mpint()]
      if (p < 3n || q < 3n || p * q !== n) throw parseError("ssh-rsa p·q is not n")
      if ((iqmp * q) % p !== 1n) throw parseError("ssh-rsa iqmp is not q⁻¹ mod p")
      const ed = e * d
      if (d <= 0n || ed % (p - 1n) !== 1n || ed % (q - 1n) !== 1n) throw parseError("ssh-rsa d is not e⁻¹")
      return { type: "rsa", n, e, d, p, q, iqmp }
    }
    default: {
      // string curve ‖ string Q ‖ mpint d (RFC 5656 §3.1 names; sshkey.c ssh_ecdsa_deserialize_private).
      const curve = ECDSA_CURVES[type]
      if (r.ascii() !== curve) throw parseError(`${type} private key names another curve`)
      const q = r.string()
      const scalar = r.mpint()
      if (scalar <= 0n || scalar >= CURVES[curve].Point.Fn.ORDER) throw parseError(`${type} scalar out of range`)
      const d = numberToBytesBE(scalar, SCALAR_BYTES[curve])
      if (!equal(CURVES[curve].getPublicKey(d, false), q)) throw parseError(`${type} scalar does not give its point`)
      return { type: "ecdsa", curve, d, q: q.slice() }
    }
  }
}

// ---- helpers ----

const parseError = (description: string): KeyError => new KeyError({ reason: "Parse", description })
const unsupported = (description: string): KeyError => new KeyError({ reason: "Unsupported", description })
