/**
 * OpenSSH certificates (PROTOCOL.certkeys, draft-miller-ssh-cert): decoding the `*-cert-v01@openssh.com` blobs,
 * issuing user and host certificates with a CA key, and validating them (SEC-65, SEC-66) with a reason for every
 * refusal. Decoding never throws; validation reads the time from Effect's `Clock` (so `TestClock` drives it) in
 * `check`, or takes it as an argument in the pure `validate`.
 *
 * @example
 * ```ts
 * const cert = yield* Certificate.sign({
 *   key: userPublicKey, caKey, type: "user", keyId: "alice@laptop", principals: ["alice"],
 *   validAfter: new Date("2025-01-01"), validBefore: new Date("2026-01-01")
 * })
 * const verdict = yield* Certificate.check(cert, { type: "user", principals: ["alice"], trustedCaKeys: [caBlob] })
 * ```
 *
 * @since 0.1.0
 */
import * as Algorithms from "../crypto/Algorithms.js"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { CryptoBackend, PrivateKeyMaterial, PublicKeyMaterial } from "../crypto/Backend.js"
import { Crypto } from "../crypto/Crypto.js"
import * as HostKey from "../crypto/HostKey.js"
import * as Reader from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Writer from "../wire/Writer.js"
import * as KnownHosts from "./KnownHosts.js"
import * as internal from "./internal/certificateCheck.js"

/**
 * The use a certificate is issued for (PROTOCOL.certkeys `SSH_CERT_TYPE_USER` 1, `SSH_CERT_TYPE_HOST` 2).
 *
 * @since 0.1.0
 * @category models
 */
export type CertificateType = "user" | "host"

/**
 * One critical option or extension: its name and its raw data (a `string` holding zero or more values).
 *
 * @since 0.1.0
 * @category models
 */
export interface CertificateOption {
  readonly name: string
  readonly data: Uint8Array
}

/**
 * A decoded certificate. Nothing in it is trusted until `validate` or `check` said so.
 *
 * @since 0.1.0
 * @category models
 */
export interface Certificate {
  /** The whole blob, as sent on the wire and stored base64-encoded in `*-cert.pub` files. */
  readonly blob: Uint8Array
  /** The certificate key type: `ssh-ed25519-cert-v01@openssh.com`, `ssh-rsa-cert-v01@openssh.com` … */
  readonly certType: string
  /** The plain type of the certified key: `ssh-ed25519`, `ssh-rsa` … */
  readonly keyType: string
  readonly nonce: Uint8Array
  /** The certified key. */
  readonly publicKey: PublicKeyMaterial
  /** The certified key as a plain public-key blob (RFC 4253 §6.6). */
  readonly publicKeyBlob: Uint8Array
  readonly serial: bigint
  readonly type: CertificateType
  readonly keyId: string
  /** Valid principals: user names or host names (host names may hold `*`/`?` wildcards). */
  readonly principals: ReadonlyArray<string>
  /** Seconds since the epoch; valid from this instant on. */
  readonly validAfter: bigint
  /** Seconds since the epoch; valid strictly before this instant; 2^64−1 is forever. */
  readonly validBefore: bigint
  readonly criticalOptions: ReadonlyArray<CertificateOption>
  readonly extensions: ReadonlyArray<CertificateOption>
  readonly reserved: Uint8Array
  /** The CA's public key blob (a plain key, never a certificate). */
  readonly signatureKey: Uint8Array
  /** The algorithm named in the CA's signature (`ssh-ed25519`, `rsa-sha2-512` …). */
  readonly signatureAlgorithm: string
  /** The CA's signature blob. */
  readonly signature: Uint8Array
  /** The bytes the CA signed: the blob up to and including the signature key. */
  readonly signed: Uint8Array
}

/**
 * Why a certificate was refused.
 *
 * @since 0.1.0
 * @category errors
 */
export class CertificateError extends Data.TaggedError("CertificateError")<{
  readonly reason:
    | "Malformed"
    | "UntrustedCa"
    | "SignatureAlgorithm"
    | "BadSignature"
    | "WrongType"
    | "NotYetValid"
    | "Expired"
    | "NoPrincipals"
    | "PrincipalMismatch"
    | "CriticalOption"
    | "SourceAddress"
    | "Revoked"
    | "InvalidRequest"
  readonly description: string
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `certificate refused (${this.reason}): ${this.description}`
  }
}

/**
 * SEC-65: OpenSSH's `SSHKEY_CERT_MAX_PRINCIPALS`.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PRINCIPALS = 256

/**
 * `valid_before` of a certificate that never expires.
 *
 * @since 0.1.0
 * @category constants
 */
export const FOREVER = 0xffff_ffff_ffff_ffffn

/**
 * The CA signature algorithms accepted by default (OpenSSH `CASignatureAlgorithms`): no `ssh-rsa` (SHA-1).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_CA_SIGNATURE_ALGORITHMS: ReadonlyArray<string> = Algorithms.DEFAULT_HOST_KEY_ALGORITHMS

/**
 * The extensions `ssh-keygen -s` writes into a user certificate by default.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_USER_EXTENSIONS: Readonly<Record<string, true>> = {
  "permit-X11-forwarding": true,
  "permit-agent-forwarding": true,
  "permit-port-forwarding": true,
  "permit-pty": true,
  "permit-user-rc": true
}

const malformed = (description: string) => new WireError({ reason: "Invalid", description })
const utf8 = new TextEncoder()

/**
 * Decodes a certificate blob. The CA key must be a plain key: a certificate-typed signature key is refused by
 * its declared type before anything else is parsed (SEC-65 (2), no recursion). Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (blob: Uint8Array): Either.Either<Certificate, CertificateError> =>
  Reader.run(blob, (r): Certificate => {
    const certType = r.ascii()
    const keyType = HostKey.certifiedKeyType(certType)
    if (keyType === undefined) throw malformed(`${certType.slice(0, 64)} is not a certificate type`)
    const nonce = r.string().slice()
    const publicKey = HostKey.readKeyFields(r, keyType)
    const serial = r.uint64()
    const typeCode = r.uint32()
    if (typeCode !== 1 && typeCode !== 2) throw malformed(`unknown certificate type ${typeCode}`)
    const keyId = cstring(r.string(), "key id")
    const principals = readPrincipals(r.string())
    const validAfter = r.uint64()
    const validBefore = r.uint64()
    const criticalOptions = readOptions(r.string(), "critical option")
    const extensions = readOptions(r.string(), "extension")
    const reserved = r.string().slice()
    const signatureKey = r.string().slice()
    const caType = Reader.run(signatureKey, (k) => k.ascii())
    if (Either.isLeft(caType)) throw malformed("the CA key has no key type")
    if (HostKey.certifiedKeyType(caType.right) !== undefined) throw malformed("the CA key is itself a certificate")
    if (Either.isLeft(HostKey.decodePublicKey(signatureKey))) throw malformed(`unusable ${caType.right} CA key`)
    const signedEnd = r.pos
    const signature = r.string().slice()
    r.end_()
    const sigAlgorithm = Reader.run(signature, (s) => s.ascii())
    if (Either.isLeft(sigAlgorithm)) throw malformed("the CA signature names no algorithm")
    return {
      blob: blob.slice(),
      certType,
      keyType,
      nonce,
      publicKey,
      publicKeyBlob: HostKey.encodePublicKey(publicKey),
      serial,
      type: typeCode === 1 ? "user" : "host",
      keyId,
      principals,
      validAfter,
      validBefore,
      criticalOptions,
      extensions,
      reserved,
      signatureKey,
      signatureAlgorithm: sigAlgorithm.right,
      signature,
      signed: blob.slice(0, signedEnd)
    }
  }).pipe(Either.mapLeft((e) => new CertificateError({ reason: "Malformed", description: e.description })))

/**
 * Decodes the text of a `*-cert.pub` file or an authorized_keys-style line: `type base64 [comment]`. The type
 * field must name the type inside the blob.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromText = (text: string): Either.Either<Certificate, CertificateError> => {
  const fields = text.trim().split(/[ \t]+/)
  const blob = fields.length >= 2 ? KnownHosts.fromBase64(fields[1]!) : undefined
  if (blob === undefined) return Either.left(new CertificateError({ reason: "Malformed", description: "not a certificate line" }))
  return Either.flatMap(decode(blob), (cert) =>
    cert.certType === fields[0]
      ? Either.right(cert)
      : Either.left(new CertificateError({ reason: "Malformed", description: `type field ${fields[0]} names another type` })))
}

/**
 * The one-line text form `ssh-keygen` writes to `*-cert.pub`: `type base64 [comment]`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toText = (cert: Certificate, comment?: string): string =>
  `${cert.certType} ${KnownHosts.toBase64(cert.blob)}${comment ? ` ${comment}` : ""}`

/**
 * What to certify and how (the arguments of `ssh-keygen -s ca -I keyId -n principals -V validity -O … [-h]`).
 * Option values: a string is one `string` value (`force-command`, `source-address`), `true` an empty flag.
 *
 * @since 0.1.0
 * @category models
 */
export interface SignOptions {
  /** The key to certify: public or private material, or a public-key blob. */
  readonly key: PublicKeyMaterial | PrivateKeyMaterial | Uint8Array
  readonly caKey: PrivateKeyMaterial
  readonly type: CertificateType
  readonly keyId: string
  /** User names or host names; an empty list is valid for nobody (SEC-65 (5)). */
  readonly principals?: ReadonlyArray<string> | undefined
  /** Default: the epoch (valid from the beginning). */
  readonly validAfter?: Date | bigint | undefined
  /** Default: forever. */
  readonly validBefore?: Date | bigint | undefined
  readonly criticalOptions?: Readonly<Record<string, string | true>> | undefined
  /** Default for user certificates: `DEFAULT_USER_EXTENSIONS`; none for host certificates. */
  readonly extensions?: Readonly<Record<string, string | true>> | undefined
  readonly serial?: bigint | undefined
  /** Default: 32 random bytes from the backend. */
  readonly nonce?: Uint8Array | undefined
  /** The CA's signature algorithm; default: the strongest for the CA key (rsa-sha2-512 for RSA). */
  readonly signatureAlgorithm?: string | undefined
}

/**
 * Issues a certificate with `backend`: encodes the fields, signs them with the CA key and decodes the result.
 * `Left` ("InvalidRequest") for options no certificate can carry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const signWith = (backend: CryptoBackend, options: SignOptions): Either.Either<Certificate, CertificateError> => {
  const invalid = (description: string) => Either.left(new CertificateError({ reason: "InvalidRequest", description }))
  let pub: PublicKeyMaterial
  if (options.key instanceof Uint8Array) {
    const key = HostKey.decodePublicKey(options.key)
    if (Either.isLeft(key)) return invalid(`the key to certify: ${key.left.description}`)
    pub = key.right.material
  } else {
    pub = toPublic(options.key)
  }
  const principals = options.principals ?? []
  if (principals.length > MAX_PRINCIPALS) return invalid(`more than ${MAX_PRINCIPALS} principals`)
  if ([options.keyId, ...principals].some((s) => s.includes("\0"))) return invalid("a key id or principal holds NUL")
  const algorithm = options.signatureAlgorithm ?? HostKey.algorithmsForKey(options.caKey)[0]!
  if (HostKey.keyTypeForAlgorithm(algorithm) !== HostKey.keyTypeOf(options.caKey)) {
    return invalid(`signature algorithm ${algorithm} does not fit the CA key`)
  }
  const certType = HostKey.keyTypeForAlgorithm(HostKey.certAlgorithmsForKey(pub)[0]!)!
  const seconds = (t: Date | bigint | undefined, fallback: bigint) =>
    t === undefined ? fallback : typeof t === "bigint" ? t : BigInt(Math.floor(t.getTime() / 1000))
  const validAfter = seconds(options.validAfter, 0n)
  const validBefore = seconds(options.validBefore, FOREVER)
  if (validAfter < 0n || validBefore > FOREVER || validAfter >= validBefore) return invalid("empty validity interval")
  const extensions = options.extensions ?? (options.type === "user" ? DEFAULT_USER_EXTENSIONS : {})
  const keyFields = HostKey.encodePublicKey(pub)
  const keyType = HostKey.keyTypeOf(pub)
  const body = Writer.build((w) => {
    w.string(certType).string(options.nonce ?? backend.randomBytes(32))
    // PROTOCOL.certkeys: the key fields of the plain blob, after the nonce.
    w.raw(keyFields.subarray(4 + utf8.encode(keyType).length))
    w.uint64(options.serial ?? 0n).uint32(options.type === "user" ? 1 : 2).string(options.keyId)
    w.string(Writer.build((p) => principals.forEach((n) => p.string(n))))
    w.uint64(validAfter).uint64(validBefore)
    w.string(encodeOptions(options.criticalOptions ?? {})).string(encodeOptions(extensions))
    w.string(new Uint8Array(0))
    w.string(HostKey.encodePublicKey(HostKey.publicKeyOf(options.caKey)))
  })
  const signature = HostKey.sign(backend, algorithm, options.caKey, body)
  return decode(Writer.build((w) => w.raw(body).string(signature)))
}

/**
 * Issues a certificate with the `Crypto` backend in context (see `signWith`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const sign = (options: SignOptions): Effect.Effect<Certificate, CertificateError> =>
  Effect.flatMap(Crypto, (backend) => signWith(backend, options))

/**
 * What a certificate is checked against.
 *
 * @since 0.1.0
 * @category models
 */
export interface ValidateOptions {
  /** The use: a host key must be a host certificate, a login a user certificate (SEC-65 (3)). */
  readonly type: CertificateType
  /**
   * Acceptable names: for user certificates, exact user names (one must equal a certificate principal); for host
   * certificates, the destination host name (matched against principals that may hold wildcards). `undefined`
   * skips the principal check (the caller decides with its own list); an empty certificate list never matches.
   */
  readonly principals?: ReadonlyArray<string> | undefined
  /** CA public-key blobs trusted for this use; `undefined` skips the check (the caller matched the CA itself). */
  readonly trustedCaKeys?: ReadonlyArray<Uint8Array> | undefined
  /** Revoked key blobs: the certified key, or the CA (SEC-67). */
  readonly revokedKeys?: ReadonlyArray<Uint8Array> | undefined
  /** Default `DEFAULT_CA_SIGNATURE_ALGORITHMS`. */
  readonly caSignatureAlgorithms?: ReadonlyArray<string> | undefined
  /**
   * The real peer address, for `source-address` (SEC-66). When it is unknown, a certificate that carries
   * `source-address` is refused.
   */
  readonly sourceAddress?: string | undefined
}

/**
 * A certificate that passed validation, with its critical options read out.
 *
 * @since 0.1.0
 * @category models
 */
export interface ValidCertificate {
  readonly certificate: Certificate
  /** `force-command`: the command that replaces whatever the client asks to run (SEC-66). */
  readonly forceCommand: string | undefined
  /** `source-address`, as written in the certificate. */
  readonly sourceAddress: string | undefined
  /** `verify-required`: FIDO user verification is required. */
  readonly verifyRequired: boolean
  /** Names of the extensions (`permit-pty` …). */
  readonly extensions: ReadonlyArray<string>
  /** The SHA256 fingerprint of the CA key. */
  readonly caFingerprint: string
}

/**
 * Validates a certificate at `now` (seconds since the epoch), in SEC-65 order: revocation, CA trust, CA signature
 * algorithm and signature over the signed part, type, validity window (`valid_after ≤ now < valid_before`),
 * principals, critical options (only `force-command`, `source-address` and `verify-required` are known; any other,
 * a duplicate or trailing data refuses), and `source-address` against the peer. Pure.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (
  backend: CryptoBackend,
  cert: Certificate,
  now: bigint,
  options: ValidateOptions
): Either.Either<ValidCertificate, CertificateError> =>
  Either.mapLeft(internal.validate(backend, cert, now, options), (e) => new CertificateError(e))

/**
 * `validate` with the time from Effect's `Clock` (so `TestClock` drives it) and the `Crypto` backend in context.
 * Accepts a decoded certificate or a blob.
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (
  cert: Certificate | Uint8Array,
  options: ValidateOptions
): Effect.Effect<ValidCertificate, CertificateError> =>
  Effect.gen(function*() {
    const decoded = cert instanceof Uint8Array ? yield* decode(cert) : cert
    const millis = yield* Clock.currentTimeMillis
    const backend = yield* Crypto
    return yield* validate(backend, decoded, BigInt(Math.floor(millis / 1000)), options)
  })

/**
 * The authorization step after `validate` (sshd's TrustedUserCAKeys / authorized_keys `cert-authority` with
 * `principals=`): the CA must be one of `trustedCaKeys` and one certificate principal must equal one of
 * `principals` exactly (no wildcards; an empty certificate list matches nothing, SEC-65 (5)). For the
 * authorized_keys parser and `ServerAuth` handlers.
 *
 * @since 0.1.0
 * @category validation
 */
export const authorize = (
  valid: ValidCertificate,
  options: { readonly trustedCaKeys: ReadonlyArray<Uint8Array>; readonly principals: ReadonlyArray<string> }
): Either.Either<ValidCertificate, CertificateError> => {
  const cert = valid.certificate
  const caOk = options.trustedCaKeys.some((k) => k.length === cert.signatureKey.length && k.every((b, i) => b === cert.signatureKey[i]))
  if (!caOk) {
    return Either.left(new CertificateError({ reason: "UntrustedCa", description: `CA ${valid.caFingerprint} is not trusted` }))
  }
  if (cert.principals.length === 0) {
    return Either.left(new CertificateError({ reason: "NoPrincipals", description: "the certificate lists no principals" }))
  }
  if (!cert.principals.some((p) => options.principals.includes(p))) {
    return Either.left(new CertificateError({ reason: "PrincipalMismatch", description: "no certificate principal is allowed" }))
  }
  return Either.right(valid)
}

/**
 * Whether a certificate certifies the public half of `key` (the pairing of a private key with its `-cert.pub`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const certifies = (cert: Certificate, key: PrivateKeyMaterial | PublicKeyMaterial): boolean => {
  const blob = HostKey.encodePublicKey(toPublic(key))
  return blob.length === cert.publicKeyBlob.length && blob.every((b, i) => b === cert.publicKeyBlob[i])
}

// ---------------------------------------------------------------------------------------------------------------
// internals

const toPublic = (key: PublicKeyMaterial | PrivateKeyMaterial): PublicKeyMaterial =>
  "d" in key || "seed" in key ? HostKey.publicKeyOf(key) : key

/** OpenSSH reads these with `sshbuf_get_cstring`: no NUL inside; we also require UTF-8. */
const cstring = (bytes: Uint8Array, what: string): string => {
  if (bytes.includes(0)) throw malformed(`${what} holds NUL`)
  return Reader.decodeUtf8(bytes, what)
}

const readPrincipals = (bytes: Uint8Array): ReadonlyArray<string> => {
  const r = new Reader.Reader(bytes)
  const out: Array<string> = []
  while (r.remaining > 0) {
    // SEC-65: at most 256, counted before decoding more.
    if (out.length === MAX_PRINCIPALS) throw malformed(`more than ${MAX_PRINCIPALS} principals`)
    out.push(cstring(r.string(), "principal"))
  }
  return out
}

/** A sequence of `string name, string data`; each name at most once (PROTOCOL.certkeys). */
const readOptions = (bytes: Uint8Array, what: string): ReadonlyArray<CertificateOption> => {
  const r = new Reader.Reader(bytes)
  const out: Array<CertificateOption> = []
  const seen = new Set<string>()
  while (r.remaining > 0) {
    const name = cstring(r.string(), `${what} name`)
    const data = r.string().slice()
    if (seen.has(name)) throw malformed(`${what} ${JSON.stringify(name.slice(0, 64))} appears twice`)
    seen.add(name)
    out.push({ name, data })
  }
  return out
}

/** PROTOCOL.certkeys: options sorted by name; a string value is wrapped in its own `string`. */
const encodeOptions = (options: Readonly<Record<string, string | true>>): Uint8Array =>
  Writer.build((w) => {
    for (const name of Object.keys(options).sort()) {
      const value = options[name]!
      w.string(name).string(value === true ? new Uint8Array(0) : Writer.build((v) => v.string(value)))
    }
  })
