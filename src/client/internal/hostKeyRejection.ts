/**
 * Why a host key was not trusted: the `HostKeyRejected` error the host key policies fail with (re-exported by
 * `HostKeyPolicy`), the facts it carries (derived from the key blob, never from the caller) and the message that
 * tells the user what to do, as OpenSSH's warnings do.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as HostKey from "../../crypto/HostKey.js"
import * as Certificate from "../../keys/Certificate.js"
import * as KnownHosts from "../../keys/KnownHosts.js"
import { HostKeyVerdict, sanitizePeerText, TypeId } from "../../SshError.js"
import type { HostKeyInfo } from "../HostKeyPolicy.js"

/**
 * A known_hosts line involved in a rejection.
 *
 * @since 0.1.0
 * @category models
 */
export const KnownLine = Schema.Struct({
  path: Schema.String,
  line: Schema.Number,
  text: Schema.String,
  keyType: Schema.String,
  fingerprint: Schema.String
})

/**
 * A known_hosts line involved in a rejection (the type of the `KnownLine` schema).
 *
 * @since 0.1.0
 * @category models
 */
export type KnownLine = typeof KnownLine.Type

/**
 * The host key was not trusted. `Unknown`: no known_hosts line for the host; `Changed`: the host is known with
 * other keys; `Revoked`: the key is marked `@revoked`; `NotPinned`: not among the pinned fingerprints;
 * `Refused`: the callback said no, failed or died; `Unverifiable`: known_hosts could not be read or written,
 * so the key could not be checked (fail closed, SEC-20); `CertificateRejected`: a host certificate signed by a CA
 * trusted for the host is not valid for it (SEC-63: wrong principal, expired, wrong type …) and its key is not
 * known on its own.
 *
 * @since 0.1.0
 * @category errors
 */
export class HostKeyRejected extends Schema.TaggedError<HostKeyRejected>("effect-ssh/HostKeyRejected")(
  "HostKeyRejected",
  {
    reason: HostKeyVerdict,
    host: Schema.String,
    port: Schema.Number,
    keyType: Schema.String,
    fingerprint: Schema.String,
    knownLines: Schema.Array(KnownLine),
    /** The known_hosts files that were consulted, after `~` expansion. */
    files: Schema.Array(Schema.String),
    description: Schema.optional(Schema.String),
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return rejectionMessage(this)
  }
}

/** The key type and fingerprint come from the blob itself, never from the caller's claims. */
export const factsOf = (info: HostKeyInfo): HostKeyInfo => ({
  host: info.host,
  port: info.port,
  blob: info.blob,
  keyType: Option.getOrElse(KnownHosts.keyTypeOfBlob(info.blob), () => info.keyType),
  fingerprint: fingerprintOf(info.blob),
  ...(info.address === undefined ? {} : { address: info.address })
})

/** As OpenSSH (sshkey_fingerprint hashes the plain key): a certificate has the fingerprint of the key it certifies. */
export const fingerprintOf = (blob: Uint8Array): string => {
  const type = KnownHosts.keyTypeOfBlob(blob)
  if (Option.isSome(type) && HostKey.certifiedKeyType(type.value) !== undefined) {
    const cert = Certificate.decode(blob)
    if (Either.isRight(cert)) return HostKey.fingerprintSha256(cert.right.publicKeyBlob)
  }
  return HostKey.fingerprintSha256(blob)
}

/** @internal */
export const reject = (
  facts: HostKeyInfo,
  reason: HostKeyRejected["reason"],
  extra: {
    readonly knownLines?: ReadonlyArray<KnownLine>
    readonly files?: ReadonlyArray<string>
    readonly description?: string
    readonly cause?: unknown
  } = {}
): HostKeyRejected =>
  new HostKeyRejected({
    reason,
    host: facts.host,
    port: facts.port,
    keyType: facts.keyType,
    fingerprint: facts.fingerprint,
    knownLines: extra.knownLines ?? [],
    files: extra.files ?? [],
    ...(extra.description !== undefined ? { description: extra.description } : {}),
    ...(extra.cause !== undefined ? { cause: extra.cause } : {})
  })

/** `host`, or `[host]:port` off port 22, as known_hosts and ssh's messages write a destination. */
export const target = (host: string, port: number): string => port === 22 || port === 0 ? host : `[${host}]:${port}`

const rejectionMessage = (e: HostKeyRejected): string => {
  const host = sanitizePeerText(e.host, 256)
  const where = target(host, e.port)
  const key = `${e.keyType} key ${e.fingerprint}`
  const file = e.files[0] === undefined ? "~/.ssh/known_hosts" : shellQuote(e.files[0])
  const lines = e.knownLines.map((l) =>
    `  ${sanitizePeerText(l.path, 256)}:${l.line}: ${l.keyType} ${l.fingerprint}\n    ${sanitizePeerText(l.text, 512)}`
  )
  const detail = [e.description, e.cause === undefined ? undefined : causeText(e.cause)].filter((s) => s).join(": ")
  switch (e.reason) {
    case "Unknown":
      return `Host key for ${where} is not known. Its ${e.keyType} fingerprint is ${e.fingerprint}. Add it with ` +
        `\`ssh-keyscan ${e.port === 22 ? "" : `-p ${e.port} `}${shellQuote(host)} >> ${file}\` ` +
        "after checking it, or use " +
        `HostKeyPolicy.acceptNew() (searched: ${e.files.length > 0 ? e.files.join(", ") : "no files"}).`
    case "Changed": {
      const sameType = e.knownLines.some((l) => l.keyType === e.keyType)
      return [
        `WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for ${where}!`,
        "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY (a man-in-the-middle attack),",
        "or the host key has just been changed.",
        `The remote host sent the ${key}.`,
        "known_hosts holds for this host:",
        ...lines,
        ...(sameType ? [] : [
          `(No ${e.keyType} key is known for this host: the server may just have offered another key type.)`
        ]),
        `If the new key is legitimate, remove the old entries with \`ssh-keygen -R ${shellQuote(where)} -f ${file}\` ` +
        "and add the new one; otherwise do not connect."
      ].join("\n")
    }
    case "Revoked":
      return [`Host key for ${where} (${key}) is marked @revoked; it must never be trusted:`, ...lines].join("\n")
    case "NotPinned":
      return `Host key for ${where} (${key}) is not one of the pinned fingerprints${detail ? ` (${detail})` : ""}.`
    case "Refused":
      return `Host key for ${where} (${key}) was refused by the host key callback${detail ? `: ${detail}` : ""}.`
    case "Unverifiable":
      return `Host key for ${where} (${key}) could not be verified, so it was rejected${detail ? `: ${detail}` : ""}.`
    case "CertificateRejected":
      return [
        `Host certificate for ${where} (${key}) is signed by a CA trusted for this host, but is not valid for it` +
        `${detail ? `: ${detail}` : ""}.`,
        "Trusted by:",
        ...lines
      ].join("\n")
  }
}

/** The commands in messages are meant to be pasted into a shell, so anything unusual is single-quoted. */
const shellQuote = (s: string): string => /^[\w.:@/+=-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`

const causeText = (cause: unknown): string =>
  sanitizePeerText(cause instanceof Error ? cause.message : String(cause), 512)
