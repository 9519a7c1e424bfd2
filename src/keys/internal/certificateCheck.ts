/**
 * The validation rules behind `Certificate.validate` (SEC-65, SEC-66, SEC-67). Pure.
 *
 * @since 0.1.0
 */
import * as Algorithms from "../../crypto/Algorithms.js"
import * as Either from "effect/Either"
import type { CryptoBackend } from "../../crypto/Backend.js"
import * as HostKey from "../../crypto/HostKey.js"
import * as Reader from "../../wire/Reader.js"
import type * as Certificate from "../Certificate.js"
import * as CertificateAddress from "../CertificateAddress.js"
import * as KnownHosts from "../KnownHosts.js"
import { bytesEqual } from "../../wire/Bytes.js"

/** @internal */
export interface Refusal {
  readonly reason: Certificate.CertificateError["reason"]
  readonly description: string
}

/** The plain signature algorithms on by default (no ssh-rsa SHA-1, SEC-65 (2)). */
const DEFAULT_CA_ALGORITHMS: ReadonlyArray<string> = Algorithms.DEFAULT_HOST_KEY_ALGORITHMS


const show = (s: string): string => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s)

interface Options {
  readonly forceCommand: string | undefined
  readonly sourceAddress: string | undefined
  readonly verifyRequired: boolean
}

/**
 * PROTOCOL.certkeys critical options, as openssh auth-options.c `cert_option_list`: only the known ones, each
 * holding exactly its value (trailing data refuses); host certificates carry none (sshconnect.c check_host_cert).
 */
const criticalOptions = (cert: Certificate.Certificate): Options | Refusal => {
  let forceCommand: string | undefined
  let sourceAddress: string | undefined
  let verifyRequired = false
  for (const o of cert.criticalOptions) {
    if (cert.type === "host") {
      return { reason: "CriticalOption", description: `host certificate with critical option ${show(o.name)}` }
    }
    const value = (): string | undefined => {
      const v = Reader.run(o.data, (r) => {
        const s = r.string()
        r.end_()
        if (s.includes(0)) throw new Error("NUL")
        return Reader.decodeUtf8(s, o.name)
      })
      return Either.getOrUndefined(v)
    }
    switch (o.name) {
      case "force-command":
        forceCommand = value()
        if (forceCommand === undefined) return { reason: "CriticalOption", description: "malformed force-command" }
        break
      case "source-address":
        sourceAddress = value()
        if (sourceAddress === undefined) return { reason: "CriticalOption", description: "malformed source-address" }
        break
      case "verify-required":
        if (o.data.length !== 0) return { reason: "CriticalOption", description: "verify-required carries data" }
        verifyRequired = true
        break
      default:
        // PROTOCOL.certkeys: an unrecognised critical option refuses the certificate.
        return { reason: "CriticalOption", description: `unsupported critical option ${show(o.name)}` }
    }
  }
  return { forceCommand, sourceAddress, verifyRequired }
}

const principalOk = (cert: Certificate.Certificate, names: ReadonlyArray<string>): boolean =>
  cert.type === "user"
    // SEC-65 (5): user principals by exact string equality, no wildcards (CVE-2026-35414: whole strings only).
    ? cert.principals.some((p) => names.includes(p))
    // openssh sshkey.c sshkey_cert_check_authority with wildcard_pattern for hosts: the principal is a pattern.
    : cert.principals.some((p) => names.some((n) => KnownHosts.matchPattern(n.toLowerCase(), p)))

/** @internal */
export const validate = (
  backend: CryptoBackend,
  cert: Certificate.Certificate,
  now: bigint,
  options: Certificate.ValidateOptions
): Either.Either<Certificate.ValidCertificate, Refusal> => {
  const refuse = (reason: Refusal["reason"], description: string) => Either.left<Refusal>({ reason, description })
  const caFingerprint = HostKey.fingerprintSha256(cert.signatureKey)
  // SEC-67: revocation of the certified key or of its CA beats any allow.
  for (const r of options.revokedKeys ?? []) {
    if (bytesEqual(r, cert.publicKeyBlob)) return refuse("Revoked", "the certified key is revoked")
    if (bytesEqual(r, cert.signatureKey)) return refuse("Revoked", `the CA key ${caFingerprint} is revoked`)
    if (bytesEqual(r, cert.blob)) return refuse("Revoked", "the certificate is revoked")
  }
  if (options.trustedCaKeys !== undefined && !options.trustedCaKeys.some((k) => bytesEqual(k, cert.signatureKey))) {
    return refuse("UntrustedCa", `signed by ${caFingerprint}, which is not a trusted CA`)
  }
  const allowed = options.caSignatureAlgorithms ?? DEFAULT_CA_ALGORITHMS
  if (!allowed.includes(cert.signatureAlgorithm)) {
    return refuse("SignatureAlgorithm", `CA signature algorithm ${show(cert.signatureAlgorithm)} is not allowed`)
  }
  if (!HostKey.verify(backend, cert.signatureAlgorithm, cert.signatureKey, cert.signed, cert.signature)) {
    return refuse("BadSignature", `the CA signature (${cert.signatureAlgorithm}, ${caFingerprint}) does not verify`)
  }
  if (cert.type !== options.type) return refuse("WrongType", `a ${cert.type} certificate cannot be used as a ${options.type} key`)
  // PROTOCOL.certkeys: valid_after <= now < valid_before.
  if (now < cert.validAfter) return refuse("NotYetValid", `valid only from ${timeText(cert.validAfter)}`)
  if (now >= cert.validBefore) return refuse("Expired", `expired at ${timeText(cert.validBefore)}`)
  if (options.principals !== undefined) {
    // SEC-65 (5) (OpenSSH 10.3): an empty principal list is valid for nobody.
    if (cert.principals.length === 0) return refuse("NoPrincipals", "the certificate lists no principals")
    if (!principalOk(cert, options.principals)) {
      return refuse(
        "PrincipalMismatch",
        `${options.principals.map(show).join(", ")} is not among the principals ${cert.principals.map(show).join(", ")}`
      )
    }
  }
  const opts = criticalOptions(cert)
  if ("reason" in opts) return Either.left(opts)
  if (opts.sourceAddress !== undefined) {
    // SEC-66: strict parsing; an empty or malformed list, or an unknown peer, allows nobody.
    const list = CertificateAddress.parseCidrList(opts.sourceAddress)
    if (Either.isLeft(list)) return refuse("SourceAddress", `source-address: ${list.left}`)
    if (options.sourceAddress === undefined) {
      return refuse("SourceAddress", "the certificate restricts source addresses and the peer address is unknown")
    }
    if (!CertificateAddress.matches(list.right, options.sourceAddress)) {
      return refuse("SourceAddress", `${show(options.sourceAddress)} is not in source-address ${show(opts.sourceAddress)}`)
    }
  }
  return Either.right({
    certificate: cert,
    forceCommand: opts.forceCommand,
    sourceAddress: opts.sourceAddress,
    verifyRequired: opts.verifyRequired,
    extensions: cert.extensions.map((e) => e.name),
    caFingerprint
  })
}

const timeText = (t: bigint): string =>
  t >= 0xffff_ffff_ffff_ffffn ? "forever" : t > 8_640_000_000_000n ? `${t}s` : new Date(Number(t) * 1000).toISOString()
