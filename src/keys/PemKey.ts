/**
 * The "traditional" OpenSSL PEM private keys that `ssh-keygen -m PEM` writes: PKCS#1 RSAPrivateKey (RFC 8017
 * App. A.1.2, `BEGIN RSA PRIVATE KEY`) and SEC1 ECPrivateKey (RFC 5915 §3, `BEGIN EC PRIVATE KEY`), plain or with
 * legacy encryption (RFC 1421 headers `Proc-Type: 4,ENCRYPTED` and `DEK-Info: <cipher>,<hex IV>`, key from
 * OpenSSL's EVP_BytesToKey with MD5 and one iteration over passphrase ‖ the first 8 IV bytes).
 *
 * @since 0.1.0
 */
import { bytesToNumberBE } from "@noble/curves/utils.js"
import { md5 } from "@noble/hashes/legacy.js"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { NistCurve, PrivateKeyMaterial } from "../crypto/Backend.js"
import type { KeyError } from "../SshError.js"
import { sanitizePeerText } from "../SshError.js"
import type { Armored } from "./Armor.js"
import { header } from "./Armor.js"
import * as Der from "./Der.js"
import { cbcPadded } from "./KeyCipher.js"
import {
  ecdsaFromScalar,
  orThrow,
  parseError,
  passphraseRequired,
  rsaFromPrimes,
  SCALAR_BYTES,
  unsupported,
  wrongPassphrase
} from "./KeyMaterial.js"

/**
 * Named-curve OIDs (RFC 5480 §2.1.1.1).
 *
 * @since 0.1.0
 * @category constants
 */
export const CURVE_OIDS: ReadonlyMap<string, NistCurve> = new Map([
  ["1.2.840.10045.3.1.7", "nistp256"],
  ["1.3.132.0.34", "nistp384"],
  ["1.3.132.0.35", "nistp521"]
])

/**
 * The OID of a curve.
 *
 * @since 0.1.0
 * @category constants
 */
export const curveOid = (curve: NistCurve): string => [...CURVE_OIDS].find(([, c]) => c === curve)![0]

/**
 * Reads a PKCS#1 RSAPrivateKey (two primes; version 1 multi-prime keys are "Unsupported").
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeRsa = (der: Uint8Array): Either.Either<PrivateKeyMaterial, KeyError> =>
  Der.decode(der, "RSAPrivateKey", (top) => {
    const r = top.seq("RSAPrivateKey")
    const version = r.small("version", 1)
    if (version !== 0) throw unsupported("multi-prime RSA keys")
    const [n, e, d, p, q] = ["n", "e", "d", "p", "q"].map((w) => r.uint(w)) as [bigint, bigint, bigint, bigint, bigint]
    r.uint("dP")
    r.uint("dQ")
    const qInv = r.uint("qInv")
    r.end_("RSAPrivateKey")
    top.end_("RSAPrivateKey")
    const key = rsaFromPrimes(n, e, d, p, q)
    if (key.type === "rsa" && key.iqmp !== qInv) throw parseError("RSAPrivateKey coefficient is not q⁻¹ mod p")
    return key
  })

/**
 * A PKCS#1 RSAPrivateKey.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeRsa = (key: Extract<PrivateKeyMaterial, { type: "rsa" }>): Uint8Array =>
  Der.seq(
    Der.int(0),
    Der.int(key.n),
    Der.int(key.e),
    Der.int(key.d),
    Der.int(key.p),
    Der.int(key.q),
    Der.int(key.d % (key.p - 1n)),
    Der.int(key.d % (key.q - 1n)),
    Der.int(key.iqmp)
  )

/**
 * Reads a SEC1 ECPrivateKey. The curve comes from its `[0]` parameters or, inside PKCS#8, from `curve`; the
 * `[1]` public key, when present, must be the scalar's point.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeEc = (der: Uint8Array, curve?: NistCurve): Either.Either<PrivateKeyMaterial, KeyError> =>
  Der.decode(der, "ECPrivateKey", (top) => {
    const r = top.seq("ECPrivateKey")
    if (r.small("version", 1) !== 1) throw parseError("ECPrivateKey version is not 1")
    const d = r.octets("privateKey")
    const params = r.context(0, "parameters")
    let named = curve
    if (params !== undefined) {
      const oid = params.oid("namedCurve")
      params.end_("parameters")
      const c = CURVE_OIDS.get(oid)
      if (c === undefined) throw unsupported(`elliptic curve ${sanitizePeerText(oid, 64)} (supported: P-256, P-384, P-521)`)
      if (named !== undefined && named !== c) throw parseError("ECPrivateKey names another curve than its algorithm")
      named = c
    }
    if (named === undefined) throw parseError("ECPrivateKey without a named curve")
    const pub = r.context(1, "publicKey")
    let q: Uint8Array | undefined
    if (pub !== undefined) {
      q = pub.bits("publicKey")
      pub.end_("publicKey")
    }
    r.end_("ECPrivateKey")
    top.end_("ECPrivateKey")
    // RFC 5915 §3: ceiling(log2(n)/8) octets; some writers drop leading zeros, so shorter is accepted.
    if (d.length === 0 || d.length > SCALAR_BYTES[named]) throw parseError(`ECPrivateKey scalar of ${d.length} bytes`)
    return ecdsaFromScalar(named, bytesToNumberBE(d), q)
  })

/**
 * A SEC1 ECPrivateKey, with the curve parameters (PEM) or without them (inside PKCS#8, RFC 5915 §3), and the
 * public key.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeEc = (key: Extract<PrivateKeyMaterial, { type: "ecdsa" }>, withParameters: boolean): Uint8Array =>
  Der.seq(
    Der.int(1),
    Der.octets(key.d),
    ...(withParameters ? [Der.context(0, Der.oid(curveOid(key.curve)))] : []),
    Der.context(1, Der.bits(key.q))
  )

// ---- legacy PEM encryption (RFC 1421 §4.6.1.3; OpenSSL PEM_read_bio / EVP_BytesToKey) ----

const DEK_CIPHERS: ReadonlyMap<string, { readonly algorithm: "aes" | "3des"; readonly keyLength: number }> = new Map([
  ["AES-128-CBC", { algorithm: "aes", keyLength: 16 }],
  ["AES-192-CBC", { algorithm: "aes", keyLength: 24 }],
  ["AES-256-CBC", { algorithm: "aes", keyLength: 32 }],
  ["DES-EDE3-CBC", { algorithm: "3des", keyLength: 24 }]
])

/**
 * OpenSSL's EVP_BytesToKey with MD5 and one iteration: D₁ = MD5(pass ‖ salt), Dᵢ = MD5(Dᵢ₋₁ ‖ pass ‖ salt),
 * concatenated to `length` bytes. A weak KDF, kept for reading old files only.
 *
 * @since 0.1.0
 * @category kdf
 */
export const bytesToKey = (password: Uint8Array, salt: Uint8Array, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  let prev = new Uint8Array(0)
  for (let at = 0; at < length; at += 16) {
    const input = new Uint8Array(prev.length + password.length + salt.length)
    input.set(prev)
    input.set(password, prev.length)
    input.set(salt, prev.length + password.length)
    prev = md5(input)
    input.fill(0)
    out.set(prev.subarray(0, Math.min(16, length - at)), at)
  }
  prev.fill(0)
  return out
}

const hexBytes = (hex: string): Uint8Array | undefined =>
  /^([0-9a-fA-F]{2})+$/.test(hex) ? Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)) : undefined

/**
 * The DER body of a PEM block, decrypted when its headers say `Proc-Type: 4,ENCRYPTED`. A wrong passphrase is
 * detected by the CBC padding and, failing that, by the DER that follows.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decryptBody = (armored: Armored, passphrase: Redacted.Redacted<string> | undefined): Uint8Array => {
  const procType = header(armored, "Proc-Type")
  if (procType === undefined) return armored.body
  if (procType.replace(/\s/g, "") !== "4,ENCRYPTED") throw parseError("Proc-Type header is not 4,ENCRYPTED")
  const dek = header(armored, "DEK-Info")
  if (dek === undefined) throw parseError("an encrypted PEM key without a DEK-Info header")
  const [name = "", ivHex = ""] = dek.split(",").map((s) => s.trim())
  const cipher = DEK_CIPHERS.get(name.toUpperCase())
  if (cipher === undefined) {
    throw unsupported(
      `PEM encryption ${sanitizePeerText(name, 32)} (supported: ${[...DEK_CIPHERS.keys()].join(", ")}); ` +
        "re-encrypt with `ssh-keygen -p -f <keyfile>`"
    )
  }
  const iv = hexBytes(ivHex)
  const blockSize = cipher.algorithm === "aes" ? 16 : 8
  if (iv === undefined || iv.length !== blockSize) throw parseError("DEK-Info IV of the wrong length")
  const secret = passphrase === undefined ? "" : Redacted.value(passphrase)
  if (secret === "") throw passphraseRequired()
  const password = new TextEncoder().encode(secret)
  const key = bytesToKey(password, iv.subarray(0, 8), cipher.keyLength)
  password.fill(0)
  const plain = cbcPadded(cipher.algorithm, key, iv, armored.body, "decrypt")
  key.fill(0)
  if (plain === undefined) throw wrongPassphrase()
  return plain
}

/**
 * Decodes a decrypted body as `decode` would, turning a structural failure after decryption into a wrong
 * passphrase (a wrong key passes the padding check about once in 256 tries and then yields garbage).
 *
 * @since 0.1.0
 * @category decoding
 */
export const afterDecrypt = <A>(encrypted: boolean, result: Either.Either<A, KeyError>): A =>
  encrypted && Either.isLeft(result) && result.left.reason === "Parse" ? orThrow(Either.left(wrongPassphrase())) : orThrow(result)
