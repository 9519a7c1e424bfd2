/**
 * The decision of the known_hosts policies over every consulted file at once, as openssh sshconnect.c
 * `check_host_key` takes it (SEC-62, SEC-63): revocation first (of the key, of a certificate's CA), then a
 * certificate from a CA that an `@cert-authority` line for the host trusts, then the plain key; CheckHostIP
 * compares the key recorded for the address too. Pure: the policy reads the files and applies the verdict.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type { CryptoBackend } from "../../crypto/Backend.js"
import * as HostKey from "../../crypto/HostKey.js"
import * as Certificate from "../../keys/Certificate.js"
import * as KnownHosts from "../../keys/KnownHosts.js"
import type { HostKeyRejected, KnownLine } from "../HostKeyPolicy.js"
import { bytesEqual } from "../../wire/Bytes.js"

/** One parsed file. @internal */
export interface LoadedFile {
  readonly path: string
  readonly entries: ReadonlyArray<KnownHosts.KnownHostsEntry>
}

/** @internal */
export interface CheckInput {
  readonly files: ReadonlyArray<LoadedFile>
  readonly host: string
  readonly port: number
  /** The presented K_S: a plain key or a certificate. */
  readonly blob: Uint8Array
  /** The address connected to, for CheckHostIP; `undefined` when unknown or not wanted. */
  readonly address: string | undefined
  readonly now: bigint
  readonly backend: CryptoBackend
  readonly caSignatureAlgorithms: ReadonlyArray<string> | undefined
}

/** @internal */
export type Verdict =
  | { readonly _tag: "Trusted"; readonly note: string | undefined; readonly recordAddress: boolean }
  | {
    readonly _tag: "Rejected"
    readonly reason: HostKeyRejected["reason"]
    readonly knownLines: ReadonlyArray<KnownLine>
    readonly description: string | undefined
  }
  | {
    /** No line knows the host: trust on first use may record `keyType`/`blob` (the plain key of a certificate). */
    readonly _tag: "Unknown"
    readonly keyType: string
    readonly blob: Uint8Array
    /** Also record the address (CheckHostIP, the address is unknown too). */
    readonly withAddress: boolean
    readonly description: string | undefined
  }


const toLine = (path: string, e: KnownHosts.KnownHostsEntry): KnownLine => ({
  path,
  line: e.line,
  text: e.text,
  keyType: e.keyType,
  fingerprint: HostKey.fingerprintSha256(e.blob)
})

const rejected = (
  reason: HostKeyRejected["reason"],
  knownLines: ReadonlyArray<KnownLine>,
  description?: string
): Verdict => ({ _tag: "Rejected", reason, knownLines, description })

/** The plain-key verdict of one name over all files (SEC-62 precedence: revoked → match → mismatch → unknown). */
const checkName = (files: ReadonlyArray<LoadedFile>, name: string, port: number, keyType: string, blob: Uint8Array) => {
  const revoked: Array<KnownLine> = []
  const known: Array<KnownLine> = []
  let matched = false
  for (const f of files) {
    KnownHosts.CheckResult.$match(KnownHosts.check(f.entries, name, port, keyType, blob), {
      Revoked: ({ entries }) => revoked.push(...entries.map((e) => toLine(f.path, e))),
      Match: () => (matched = true),
      Mismatch: ({ known: lines }) => known.push(...lines.map((e) => toLine(f.path, e))),
      Unknown: () => undefined
    })
  }
  return revoked.length > 0 ? { _tag: "Revoked" as const, lines: revoked }
    : matched ? { _tag: "Match" as const }
    : known.length > 0 ? { _tag: "Mismatch" as const, lines: known }
    : { _tag: "Unknown" as const }
}

/** Lines for the host with `marker` whose key is `blob`. */
const markedLines = (input: CheckInput, marker: KnownHosts.Marker, blobs: ReadonlyArray<Uint8Array>) =>
  input.files.flatMap((f) =>
    KnownHosts.lookup(f.entries, input.host, input.port)
      .filter((e) => e.marker === marker && blobs.some((b) => bytesEqual(b, e.blob)))
      .map((e) => toLine(f.path, e))
  )

/**
 * Whether an `@cert-authority` line matches the host (or its bare name, which `decide` falls back to): the client
 * then prefers certificate algorithms.
 * @internal
 */
export const hasCertAuthority = (files: ReadonlyArray<LoadedFile>, host: string, port: number): boolean =>
  files.some((f) =>
    [port, 22].some((p) => KnownHosts.lookup(f.entries, host, p).some((e) => e.marker === "@cert-authority"))
  )

/**
 * openssh sshconnect.c check_host_key, HOST_NEW on a port other than 22: "checking without port identifier" — a
 * key (or CA) recorded for the bare host name is trusted for its other ports too, read-only. Only a trusting
 * answer is taken; anything else leaves the verdict for `[host]:port`.
 * @internal
 */
export const decide = (input: CheckInput): Verdict => {
  const verdict = decideAt(input)
  if (verdict._tag !== "Unknown" || input.port === 22 || input.port === 0) return verdict
  const bare = decideAt({ ...input, port: 22, address: undefined })
  return bare._tag === "Trusted"
    ? { _tag: "Trusted", note: `found a matching key without port (${bare.note ?? "plain key"})`, recordAddress: false }
    : verdict
}

const decideAt = (input: CheckInput): Verdict => {
  const presentedType = KnownHosts.keyTypeOfBlob(input.blob)
  if (presentedType._tag === "Some" && HostKey.certifiedKeyType(presentedType.value) !== undefined) {
    return decideCertificate(input)
  }
  return decidePlain(input, presentedType._tag === "Some" ? presentedType.value : "", input.blob, undefined)
}

const decideCertificate = (input: CheckInput): Verdict => {
  const decoded = Certificate.decode(input.blob)
  if (Either.isLeft(decoded)) return rejected("Unverifiable", [], `the host certificate is malformed: ${decoded.left.description}`)
  const cert = decoded.right
  // SEC-62/SEC-67: a revoked certified key, CA or certificate refuses before anything else.
  const revoked = markedLines(input, "@revoked", [cert.publicKeyBlob, cert.signatureKey, cert.blob])
  if (revoked.length > 0) return rejected("Revoked", revoked, "the host certificate, its key or its CA is marked @revoked")
  // SEC-63: only a CA trusted through an @cert-authority line whose patterns match this host.
  const cas = markedLines(input, "@cert-authority", [cert.signatureKey])
  if (cas.length > 0) {
    const valid = Certificate.validate(input.backend, cert, input.now, {
      type: "host",
      principals: [input.host],
      caSignatureAlgorithms: input.caSignatureAlgorithms
    })
    if (Either.isRight(valid)) {
      return { _tag: "Trusted", note: `host certificate "${cert.keyId}" signed by CA ${valid.right.caFingerprint}`, recordAddress: false }
    }
    // OpenSSH falls back to the plain key here; so do we, but a certificate that a trusted CA signed and that is
    // invalid is never trusted on first use (SEC-63).
    const plain = checkName(input.files, input.host, input.port, cert.keyType, cert.publicKeyBlob)
    if (plain._tag === "Match") return { _tag: "Trusted", note: "the certified key itself is known", recordAddress: false }
    return rejected("CertificateRejected", cas, valid.left.message)
  }
  // openssh sshconnect.c: "No matching CA found. Retry with plain key" — the certified key is checked as a plain
  // key, and is trusted only if it is itself known (SEC-63).
  return decidePlain(
    input,
    cert.keyType,
    cert.publicKeyBlob,
    `no @cert-authority line for this host trusts its CA ${HostKey.fingerprintSha256(cert.signatureKey)}`
  )
}

const decidePlain = (input: CheckInput, keyType: string, blob: Uint8Array, note: string | undefined): Verdict => {
  const host = checkName(input.files, input.host, input.port, keyType, blob)
  // openssh sshconnect.c: CheckHostIP is skipped for certificates and when the host name is the address.
  const address = note === undefined && input.address !== undefined &&
      input.address.toLowerCase() !== input.host.toLowerCase()
    ? input.address
    : undefined
  const ip = address === undefined ? undefined : checkName(input.files, address, input.port, keyType, blob)
  if (host._tag === "Revoked") return rejected("Revoked", host.lines)
  if (ip?._tag === "Revoked") return rejected("Revoked", ip.lines, `the key recorded for the address ${address} is @revoked`)
  if (host._tag === "Mismatch") return rejected("Changed", host.lines, note)
  if (ip?._tag === "Mismatch") {
    // openssh sshconnect.c: "the host key for … differs from the key for the IP address"; strict checking exits.
    return rejected("Changed", ip.lines, `the ${keyType} host key for ${input.host} differs from the key for the IP address ${address}`)
  }
  if (host._tag === "Match") return { _tag: "Trusted", note, recordAddress: ip?._tag === "Unknown" }
  return { _tag: "Unknown", keyType, blob, withAddress: ip?._tag === "Unknown", description: note }
}
