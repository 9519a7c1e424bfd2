/**
 * PKCS#8 private keys (RFC 5208, RFC 5958 OneAsymmetricKey; `BEGIN PRIVATE KEY`), encrypted PKCS#8
 * (EncryptedPrivateKeyInfo with PBES2, RFC 8018 §6.2: PBKDF2 with HMAC-SHA1/224/256/384/512 and AES-CBC or
 * DES-EDE3-CBC; `BEGIN ENCRYPTED PRIVATE KEY`), and SubjectPublicKeyInfo public keys (RFC 5280 §4.1.2.7;
 * `BEGIN PUBLIC KEY`, as `ssh-keygen -e -m PKCS8` writes). Key algorithms: rsaEncryption (RFC 8017),
 * id-ecPublicKey with P-256/384/521 (RFC 5480), Ed25519 (RFC 8410); Ed448 and others are "Unsupported".
 *
 * PBKDF2 iterations are bounded before any work (LIM-32).
 *
 * @since 0.1.0
 */
import { pbkdf2 } from "@noble/hashes/pbkdf2.js"
import type { CHash } from "@noble/hashes/utils.js"
import { sha1 } from "@noble/hashes/legacy.js"
import { sha224, sha256, sha384, sha512 } from "@noble/hashes/sha2.js"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { PrivateKeyMaterial, PublicKeyMaterial, SymmetricPrimitives } from "../crypto/Backend.js"
import type { KeyError } from "../SshError.js"
import { sanitizePeerText } from "../SshError.js"
import * as Der from "./Der.js"
import { cbcPadded } from "./KeyCipher.js"
import type { Ed25519Derivation, PrivateKeyOptions } from "./KeyMaterial.js"
import {
  attempt,
  DEFAULT_MAX_PBKDF2_ITERATIONS,
  ed25519FromSeed,
  orThrow,
  parseError,
  passphraseRequired,
  unsupported,
  wrongPassphrase
} from "./KeyMaterial.js"
import * as PemKey from "./PemKey.js"

const OID = {
  rsa: "1.2.840.113549.1.1.1",
  ec: "1.2.840.10045.2.1",
  ed25519: "1.3.101.112",
  ed448: "1.3.101.113",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacSha1: "1.2.840.113549.2.7",
  hmacSha256: "1.2.840.113549.2.9",
  aes256Cbc: "2.16.840.1.101.3.4.1.42"
} as const

// Other algorithms a user might meet, named in the "Unsupported" message.
const KNOWN: ReadonlyMap<string, string> = new Map([
  ["1.2.840.10040.4.1", "DSA keys"],
  [OID.ed448, "Ed448 keys (no crypto backend implements Ed448)"],
  ["1.3.101.110", "X25519 keys (key agreement only)"],
  ["1.3.101.111", "X448 keys (key agreement only)"],
  ["1.3.6.1.4.1.11591.4.11", "scrypt-encrypted PKCS#8; re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"]
])

const unknownAlgorithm = (oid: string, what: string): KeyError =>
  unsupported(KNOWN.get(oid) ?? `${what} ${sanitizePeerText(oid, 64)}`)

const HMACS: ReadonlyMap<string, CHash> = new Map<string, CHash>([
  [OID.hmacSha1, sha1],
  ["1.2.840.113549.2.8", sha224],
  [OID.hmacSha256, sha256],
  ["1.2.840.113549.2.10", sha384],
  ["1.2.840.113549.2.11", sha512]
])

const CIPHERS: ReadonlyMap<string, { readonly algorithm: "aes" | "3des"; readonly keyLength: number }> = new Map([
  ["2.16.840.1.101.3.4.1.2", { algorithm: "aes", keyLength: 16 }],
  ["2.16.840.1.101.3.4.1.22", { algorithm: "aes", keyLength: 24 }],
  [OID.aes256Cbc, { algorithm: "aes", keyLength: 32 }],
  ["1.2.840.113549.3.7", { algorithm: "3des", keyLength: 24 }]
])

/**
 * Reads a PrivateKeyInfo / OneAsymmetricKey; `backend` checks an Ed25519 key's public half (portably without).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (der: Uint8Array, backend?: Partial<Ed25519Derivation>): Either.Either<PrivateKeyMaterial, KeyError> =>
  Der.decode(der, "PrivateKeyInfo", (top) => {
    const r = top.seq("PrivateKeyInfo")
    r.small("version", 1)
    const alg = r.seq("privateKeyAlgorithm")
    const oid = alg.oid("algorithm")
    const inner = r.octets("privateKey")
    // RFC 5958: [0] attributes, [1] publicKey (IMPLICIT BIT STRING, so primitive 0x81); both optional.
    r.context(0, "attributes")
    let publicKey: Uint8Array | undefined
    if (r.peek() === 0x81) {
      const bits = r.element(0x81, "publicKey")
      if (bits.length === 0 || bits[0] !== 0) throw parseError("publicKey BIT STRING with unused bits")
      publicKey = bits.subarray(1)
    }
    r.end_("PrivateKeyInfo")
    top.end_("PrivateKeyInfo")
    if (oid === OID.rsa) {
      if (!alg.done) alg.null_("parameters")
      alg.end_("privateKeyAlgorithm")
      return orThrow(PemKey.decodeRsa(inner))
    }
    if (oid === OID.ec) {
      const curveOid = alg.oid("namedCurve")
      alg.end_("privateKeyAlgorithm")
      const curve = PemKey.CURVE_OIDS.get(curveOid)
      if (curve === undefined) throw unsupported(`elliptic curve ${sanitizePeerText(curveOid, 64)}`)
      return orThrow(PemKey.decodeEc(inner, curve))
    }
    if (oid === OID.ed25519) {
      // RFC 8410 §3: no parameters; §7: CurvePrivateKey ::= OCTET STRING (the 32-byte seed).
      alg.end_("privateKeyAlgorithm")
      const seed = orThrow(Der.decode(inner, "CurvePrivateKey", (c) => {
        const s = c.octets("CurvePrivateKey")
        c.end_("CurvePrivateKey")
        return s
      }))
      return ed25519FromSeed(seed, publicKey, backend)
    }
    throw unknownAlgorithm(oid, "private key algorithm")
  })

/**
 * A PrivateKeyInfo (version 0, as OpenSSL writes it).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (key: PrivateKeyMaterial): Uint8Array => {
  switch (key.type) {
    case "rsa":
      return Der.seq(Der.int(0), Der.seq(Der.oid(OID.rsa), Der.null_()), Der.octets(PemKey.encodeRsa(key)))
    case "ecdsa":
      return Der.seq(
        Der.int(0),
        Der.seq(Der.oid(OID.ec), Der.oid(PemKey.curveOid(key.curve))),
        Der.octets(PemKey.encodeEc(key, false))
      )
    case "ed25519":
      return Der.seq(Der.int(0), Der.seq(Der.oid(OID.ed25519)), Der.octets(Der.octets(key.seed)))
  }
}

// ---- EncryptedPrivateKeyInfo / PBES2 (RFC 8018 §6.2, App. A.2, A.4) ----

interface Pbes2 {
  readonly salt: Uint8Array
  readonly iterations: number
  readonly keyLength: number | undefined
  readonly hmac: CHash
  readonly cipher: { readonly algorithm: "aes" | "3des"; readonly keyLength: number }
  readonly iv: Uint8Array
}

const readPbes2 = (r: Der.DerReader, maxIterations: number): Pbes2 => {
  const alg = r.seq("encryptionAlgorithm")
  const oid = alg.oid("algorithm")
  if (oid !== OID.pbes2) throw unknownAlgorithm(oid, "PKCS#8 encryption (only PBES2 is supported)")
  const params = alg.seq("PBES2-params")
  alg.end_("encryptionAlgorithm")
  const kdf = params.seq("keyDerivationFunc")
  const kdfOid = kdf.oid("keyDerivationFunc")
  if (kdfOid !== OID.pbkdf2) throw unknownAlgorithm(kdfOid, "PBES2 key derivation")
  const p = kdf.seq("PBKDF2-params")
  kdf.end_("keyDerivationFunc")
  const salt = p.octets("salt")
  // LIM-32: refuse before deriving anything.
  const count = p.uint("iterationCount")
  if (count < 1n || count > BigInt(maxIterations)) {
    throw unsupported(`PBKDF2 iteration count ${count} outside 1..${maxIterations} (LIM-32)`)
  }
  const iterations = Number(count)
  const keyLength = p.peek() === Der.Tag.Integer ? p.small("keyLength", 64) : undefined
  let hmac: CHash = sha1
  if (!p.done) {
    const prf = p.seq("prf")
    const prfOid = prf.oid("prf")
    if (!prf.done) prf.null_("prf parameters")
    prf.end_("prf")
    const h = HMACS.get(prfOid)
    if (h === undefined) throw unknownAlgorithm(prfOid, "PBKDF2 PRF")
    hmac = h
  }
  p.end_("PBKDF2-params")
  const enc = params.seq("encryptionScheme")
  params.end_("PBES2-params")
  const encOid = enc.oid("encryptionScheme")
  const cipher = CIPHERS.get(encOid)
  if (cipher === undefined) throw unknownAlgorithm(encOid, "PBES2 cipher (supported: AES-CBC, DES-EDE3-CBC)")
  const iv = enc.octets("iv")
  enc.end_("encryptionScheme")
  if (keyLength !== undefined && keyLength !== cipher.keyLength) throw parseError("PBKDF2 keyLength does not fit the cipher")
  if (iv.length !== (cipher.algorithm === "aes" ? 16 : 8)) throw parseError("PBES2 IV of the wrong length")
  return { salt, iterations, keyLength, hmac, cipher, iv }
}

/**
 * Reads an EncryptedPrivateKeyInfo and decrypts it with the passphrase: the PrivateKeyInfo inside.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decrypt = (
  der: Uint8Array,
  passphrase: Redacted.Redacted<string> | undefined,
  options?: PrivateKeyOptions
): Either.Either<PrivateKeyMaterial, KeyError> =>
  attempt(() => {
    const max = options?.maxPbkdf2Iterations ?? DEFAULT_MAX_PBKDF2_ITERATIONS
    const { data, pbes2 } = orThrow(Der.decode(der, "EncryptedPrivateKeyInfo", (top) => {
      const r = top.seq("EncryptedPrivateKeyInfo")
      const pbes2 = readPbes2(r, max)
      const data = r.octets("encryptedData")
      r.end_("EncryptedPrivateKeyInfo")
      top.end_("EncryptedPrivateKeyInfo")
      return { data, pbes2 }
    }))
    const secret = passphrase === undefined ? "" : Redacted.value(passphrase)
    if (secret === "") throw passphraseRequired()
    const password = new TextEncoder().encode(secret)
    const key = pbkdf2(pbes2.hmac, password, pbes2.salt, { c: pbes2.iterations, dkLen: pbes2.cipher.keyLength })
    password.fill(0)
    const plain = cbcPadded(pbes2.cipher.algorithm, key, pbes2.iv, data, "decrypt")
    key.fill(0)
    if (plain === undefined) throw wrongPassphrase()
    return PemKey.afterDecrypt(true, decode(plain, options?.backend))
  })

/**
 * Options of `encrypt`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EncryptOptions {
  /** PBKDF2 iterations; default 100 000 (OpenSSL writes 2 048, which is weak for a password). */
  readonly iterations?: number | undefined
  /** Randomness for the salt and IV. */
  readonly backend: Pick<SymmetricPrimitives, "randomBytes">
}

/**
 * An EncryptedPrivateKeyInfo: PBES2 with PBKDF2-HMAC-SHA256 (16-byte salt) and AES-256-CBC.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encrypt = (key: PrivateKeyMaterial, passphrase: Redacted.Redacted<string>, options: EncryptOptions): Uint8Array => {
  const iterations = options.iterations ?? 100_000
  const salt = options.backend.randomBytes(16)
  const iv = options.backend.randomBytes(16)
  const password = new TextEncoder().encode(Redacted.value(passphrase))
  const k = pbkdf2(sha256, password, salt, { c: iterations, dkLen: 32 })
  password.fill(0)
  const plain = encode(key)
  const data = cbcPadded("aes", k, iv, plain, "encrypt")!
  k.fill(0)
  plain.fill(0)
  return Der.seq(
    Der.seq(
      Der.oid(OID.pbes2),
      Der.seq(
        Der.seq(Der.oid(OID.pbkdf2), Der.seq(Der.octets(salt), Der.int(iterations), Der.seq(Der.oid(OID.hmacSha256), Der.null_()))),
        Der.seq(Der.oid(OID.aes256Cbc), Der.octets(iv))
      )
    ),
    Der.octets(data)
  )
}

// ---- SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) ----

/**
 * Reads a SubjectPublicKeyInfo.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodePublic = (der: Uint8Array): Either.Either<PublicKeyMaterial, KeyError> =>
  Der.decode(der, "SubjectPublicKeyInfo", (top) => {
    const r = top.seq("SubjectPublicKeyInfo")
    const alg = r.seq("algorithm")
    const oid = alg.oid("algorithm")
    const key = r.bits("subjectPublicKey")
    r.end_("SubjectPublicKeyInfo")
    top.end_("SubjectPublicKeyInfo")
    if (oid === OID.rsa) {
      if (!alg.done) alg.null_("parameters")
      return orThrow(decodeRsaPublic(key))
    }
    if (oid === OID.ec) {
      const curve = PemKey.CURVE_OIDS.get(alg.oid("namedCurve"))
      alg.end_("algorithm")
      if (curve === undefined) throw unsupported("elliptic curve")
      return { type: "ecdsa", curve, q: key.slice() }
    }
    alg.end_("algorithm")
    if (oid === OID.ed25519) return { type: "ed25519", publicKey: key.slice() }
    throw unknownAlgorithm(oid, "public key algorithm")
  })

/**
 * Reads a PKCS#1 RSAPublicKey (`BEGIN RSA PUBLIC KEY`, `ssh-keygen -e -m PEM`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeRsaPublic = (der: Uint8Array): Either.Either<PublicKeyMaterial, KeyError> =>
  Der.decode(der, "RSAPublicKey", (top) => {
    const r = top.seq("RSAPublicKey")
    const n = r.uint("modulus")
    const e = r.uint("publicExponent")
    r.end_("RSAPublicKey")
    top.end_("RSAPublicKey")
    return { type: "rsa", n, e }
  })

/**
 * A SubjectPublicKeyInfo.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodePublic = (key: PublicKeyMaterial): Uint8Array => {
  switch (key.type) {
    case "rsa":
      return Der.seq(Der.seq(Der.oid(OID.rsa), Der.null_()), Der.bits(Der.seq(Der.int(key.n), Der.int(key.e))))
    case "ecdsa":
      return Der.seq(Der.seq(Der.oid(OID.ec), Der.oid(PemKey.curveOid(key.curve))), Der.bits(key.q))
    case "ed25519":
      return Der.seq(Der.seq(Der.oid(OID.ed25519)), Der.bits(key.publicKey))
  }
}
