/**
 * How the client decides whether to trust the host key a server presents during key exchange (SEC-20). The
 * transport calls `verify` before any authentication data is sent; any failure, defect or interruption of
 * `verify` means the connection is closed with HOST_KEY_NOT_VERIFIABLE.
 *
 * A policy is a plain value whose type says which services it needs: `HostKeyPolicy<FileSystem | Path>` for the
 * known_hosts policies (they read the files on every `verify`, so edits and `acceptNew` appends are seen by
 * later connections), `HostKeyPolicy<never>` for `pinned` and `insecureAcceptAny`, and the callback's own
 * requirements for `callback`. The connection that uses a policy inherits its requirements.
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Crypto } from "../crypto/Crypto.js"
import * as HostKey from "../crypto/HostKey.js"
import * as Certificate from "../keys/Certificate.js"
import * as KnownHosts from "../keys/KnownHosts.js"
import { HostKeyVerdict, sanitizePeerText, TypeId } from "../SshError.js"
import * as Algorithms from "../crypto/Algorithms.js"
import * as internal from "./internal/knownHostsCheck.js"
import * as Update from "./internal/knownHostsUpdate.js"

/**
 * What the transport knows about the presented host key. `keyType` is the type named inside `blob`
 * (`ssh-rsa` even when the signature algorithm is `rsa-sha2-256`; `ssh-ed25519-cert-v01@openssh.com` for a host
 * certificate); policies re-derive it, and the fingerprint, from `blob`, so a wrong value can only cause a
 * rejection.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyInfo {
  readonly host: string
  readonly port: number
  readonly keyType: string
  readonly blob: Uint8Array
  /**
   * `SHA256:` + unpadded base64, as `ssh-keygen -l` prints it; for a certificate, the fingerprint of the key it
   * certifies (as OpenSSH prints it).
   */
  readonly fingerprint: string
  /** The address actually connected to (for `checkHostIp`), when the dialer knows it. */
  readonly address?: string | undefined
}

/**
 * A host key policy. `verify` succeeds only for a trusted key; every other outcome is a `HostKeyRejected`.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyPolicy<out R = never> {
  readonly verify: (info: HostKeyInfo) => Effect.Effect<void, HostKeyRejected, R>
  /**
   * Host key algorithms to move to the front of the default list for this destination, before the key exchange
   * (used only when the connection does not configure `algorithms.hostKey`). The known_hosts policies prefer the
   * certificate algorithms when an `@cert-authority` line matches the host, as OpenSSH's `order_hostkeyalgs`.
   */
  readonly preferredAlgorithms?: ((host: string, port: number) => Effect.Effect<ReadonlyArray<string>, never, R>) | undefined
  /**
   * Host-key rotation (SEC-71, OpenSSH UpdateHostKeys): called once per connection, after authentication, with
   * the keys the server announced (hostkeys-00@openssh.com). A policy without it ignores announcements.
   */
  readonly updateHostKeys?: ((update: HostKeyUpdate) => Effect.Effect<void, never, R>) | undefined
}

/**
 * A server's announcement of its host keys, as the client hands it to the policy (SEC-71).
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyUpdate {
  readonly host: string
  readonly port: number
  /** The key (or certificate) the server signed this connection's key exchange with. */
  readonly sessionHostKey: Uint8Array
  /** The announced plain keys the client can use, distinct, in the server's order. */
  readonly offered: ReadonlyArray<Uint8Array>
  /**
   * Asks the server to prove it holds `keys` (hostkeys-prove-00@openssh.com) and checks each signature over the
   * session id: per key whether it is proven, or `undefined` when the server refused or any signature is bad.
   */
  readonly prove: (keys: ReadonlyArray<Uint8Array>) => Effect.Effect<ReadonlyArray<boolean> | undefined>
}

/**
 * The services a policy needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Context<P> = P extends HostKeyPolicy<infer R> ? R : never

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

/**
 * Options of the known_hosts policies.
 *
 * @since 0.1.0
 * @category models
 */
export interface KnownHostsOptions {
  /** Files to consult, in order; `~` is the HOME directory. Default: `["~/.ssh/known_hosts"]`. */
  readonly files?: ReadonlyArray<string> | undefined
  /** Trust on first use: record the key of an unknown host in the first file. Default false. */
  readonly acceptNew?: boolean | undefined
  /** Write recorded hosts hashed (`|1|…`), as `HashKnownHosts yes` does. Default false. */
  readonly hash?: boolean | undefined
  /**
   * OpenSSH `CheckHostIP`: also check the key recorded for the address connected to (`HostKeyInfo.address`). A
   * different key recorded for the address rejects the connection (reason `Changed`), as strict checking does;
   * with `acceptNew` an unknown address is recorded. Not applied to host certificates, nor when the host name is
   * the address. Default false (OpenSSH's default since 8.5).
   */
  readonly checkHostIp?: boolean | undefined
  /** Signature algorithms accepted from a host certificate's CA (default `Certificate.DEFAULT_CA_SIGNATURE_ALGORITHMS`). */
  readonly caSignatureAlgorithms?: ReadonlyArray<string> | undefined
  /**
   * System-wide files (OpenSSH GlobalKnownHostsFile), consulted after `files` and never written. A host key found
   * only there does not update known_hosts (SEC-71).
   */
  readonly globalFiles?: ReadonlyArray<string> | undefined
  /**
   * OpenSSH UpdateHostKeys (SEC-71): learn the keys a server announces after authentication once it has proved
   * them, and drop recorded keys it no longer has — only when this connection's key is a plain key recorded for
   * the host in `files` (never under a CA, a wildcard or a key recorded for other names). Default, as ssh: on when
   * `files` is not given (the user's ~/.ssh/known_hosts), off otherwise.
   */
  readonly updateHostKeys?: boolean | undefined
}

/**
 * Builds the `HostKeyInfo` for a key blob, deriving its type and SHA-256 fingerprint.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeInfo = (host: string, port: number, blob: Uint8Array, address?: string): HostKeyInfo => ({
  host,
  port,
  blob,
  keyType: Option.getOrElse(KnownHosts.keyTypeOfBlob(blob), () => ""),
  fingerprint: fingerprintOf(blob),
  ...(address === undefined ? {} : { address })
})

/**
 * Trusts the keys listed for the host in known_hosts files, strictly (OpenSSH `StrictHostKeyChecking yes`), and
 * host certificates signed by a CA that an `@cert-authority` line for the host names (SEC-63). A changed key, a
 * revoked key or CA (`@revoked`) or an unreadable file is always rejected. With `acceptNew`, the key of an unknown
 * host is appended to the first file (created with mode 0600) and trusted. The files are read in order and
 * decided on together: a revocation in any file wins.
 *
 * @since 0.1.0
 * @category constructors
 */
export const knownHosts = (
  options: KnownHostsOptions = {}
): HostKeyPolicy<FileSystem.FileSystem | Path.Path> => {
  const userFiles = options.files ?? ["~/.ssh/known_hosts"]
  const files = [...userFiles, ...(options.globalFiles ?? [])]
  // Serialises check-then-append (and rewrites) so that concurrent connections to one host record it once.
  const lock = Effect.unsafeMakeSemaphore(1)
  const updates = options.updateHostKeys ?? options.files === undefined
  return {
    verify: (info) => {
      const run = verifyKnownHosts(files, options, info)
      return options.acceptNew === true ? lock.withPermits(1)(run) : run
    },
    updateHostKeys: updates
      ? (update) => lock.withPermits(1)(updateKnownHosts(userFiles, options, update))
      : undefined,
    preferredAlgorithms: (host, port) =>
      Effect.map(
        loadFiles(files, makeInfo(host, port, new Uint8Array(0))),
        ({ loaded }) => internal.hasCertAuthority(loaded, host, port) ? Algorithms.HOST_KEY_CERT_ALGORITHMS : []
      ).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
  }
}

/**
 * `knownHosts` with trust on first use (OpenSSH `StrictHostKeyChecking accept-new`): an unknown host's key is
 * recorded and trusted; a changed key is still rejected.
 *
 * @since 0.1.0
 * @category constructors
 */
export const acceptNew = (
  options: Omit<KnownHostsOptions, "acceptNew"> = {}
): HostKeyPolicy<FileSystem.FileSystem | Path.Path> => knownHosts({ ...options, acceptNew: true })

/**
 * The default policy: `~/.ssh/known_hosts`, strict.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPolicy: HostKeyPolicy<FileSystem.FileSystem | Path.Path> = knownHosts()

/**
 * Trusts exactly the keys whose SHA-256 fingerprint is listed, written as `ssh-keygen -lf` prints them
 * (`SHA256:` + unpadded base64). Strings are compared exactly.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pinned = (fingerprints: ReadonlyArray<string>): HostKeyPolicy => {
  const allowed = new Set(fingerprints)
  return {
    verify: (info) =>
      Effect.suspend(() => {
        const facts = factsOf(info)
        return allowed.has(facts.fingerprint) ? Effect.void : Effect.fail(
          reject(facts, "NotPinned", {
            description: allowed.size === 0
              ? "no fingerprints are pinned"
              : `pinned: ${[...allowed].map((f) => sanitizePeerText(f, 80)).join(", ")}`
          })
        )
      })
  }
}

/**
 * Asks `f`. Only a result of exactly `true` trusts the key; `false`, a failure, a defect or an interruption is
 * a rejection with reason `Refused` (fail closed, SEC-10, SEC-20).
 *
 * @since 0.1.0
 * @category constructors
 */
export const callback = <E, R>(f: (info: HostKeyInfo) => Effect.Effect<boolean, E, R>): HostKeyPolicy<R> => ({
  verify: (info) => {
    const facts = factsOf(info)
    return Effect.suspend(() => f(info)).pipe(
      Effect.catchAllCause((cause) =>
        Effect.fail(reject(facts, "Refused", { description: "the callback failed", cause: Cause.squash(cause) }))
      ),
      Effect.flatMap((ok) =>
        ok === true
          ? Effect.void
          : Effect.fail(reject(facts, "Refused", { description: "the callback returned false" }))
      )
    )
  }
})

/**
 * INSECURE: trusts every host key, so anyone on the network path can impersonate the server and read or alter
 * everything, passwords included. For throwaway tests against a local server only; logs a warning each time.
 *
 * @since 0.1.0
 * @category constructors
 */
export const insecureAcceptAny: HostKeyPolicy = {
  verify: (info) =>
    Effect.logWarning(
      `insecureAcceptAny: trusted the host key of ${target(info.host, info.port)} without verification`
    ).pipe(Effect.annotateLogs({ module: "HostKeyPolicy", fingerprint: HostKey.fingerprintSha256(info.blob) }))
}

/**
 * Tries the policies in order and trusts the key as soon as one does. `Changed` and `Revoked` verdicts are
 * final (a later policy cannot override them); if all reject, the first rejection is reported. No policies
 * means rejection.
 *
 * @since 0.1.0
 * @category combinators
 */
export const any = <const P extends ReadonlyArray<HostKeyPolicy<unknown>>>(
  ...policies: P
): HostKeyPolicy<Context<P[number]>> => ({
  verify: (info) => {
    const go = (i: number, first: HostKeyRejected | undefined): Effect.Effect<void, HostKeyRejected, unknown> =>
      i === policies.length
        ? Effect.fail(first ?? reject(factsOf(info), "Refused", { description: "no host key policy was given" }))
        : policies[i]!.verify(info).pipe(
          Effect.catchAll((e) =>
            e.reason === "Changed" || e.reason === "Revoked" ? Effect.fail(e) : go(i + 1, first ?? e)
          )
        )
    return go(0, undefined) as Effect.Effect<void, HostKeyRejected, Context<P[number]>>
  },
  preferredAlgorithms: (host, port) => {
    const first = policies.find((p) => p.preferredAlgorithms !== undefined)
    const prefer = first?.preferredAlgorithms?.(host, port) ?? Effect.succeed([])
    return prefer as Effect.Effect<ReadonlyArray<string>, never, Context<P[number]>>
  }
})

// ---------------------------------------------------------------------------------------------------------------
// internals

/** The key type and fingerprint come from the blob itself, never from the caller's claims. */
const factsOf = (info: HostKeyInfo): HostKeyInfo => ({
  host: info.host,
  port: info.port,
  blob: info.blob,
  keyType: Option.getOrElse(KnownHosts.keyTypeOfBlob(info.blob), () => info.keyType),
  fingerprint: fingerprintOf(info.blob),
  ...(info.address === undefined ? {} : { address: info.address })
})

/** As OpenSSH (sshkey_fingerprint hashes the plain key): a certificate has the fingerprint of the key it certifies. */
const fingerprintOf = (blob: Uint8Array): string => {
  const type = KnownHosts.keyTypeOfBlob(blob)
  if (Option.isSome(type) && HostKey.certifiedKeyType(type.value) !== undefined) {
    const cert = Certificate.decode(blob)
    if (Either.isRight(cert)) return HostKey.fingerprintSha256(cert.right.publicKeyBlob)
  }
  return HostKey.fingerprintSha256(blob)
}

const reject = (
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

/** Reads and parses the files in order; a missing file is empty, any other read error is fatal (SEC-20). */
const loadFiles = (files: ReadonlyArray<string>, facts: HostKeyInfo) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const paths: Array<string> = []
    for (const file of files) paths.push(yield* expandHome(file, path, facts))
    const loaded: Array<internal.LoadedFile> = []
    const texts: Array<string> = []
    for (const file of paths) {
      const text = yield* fs.readFileString(file).pipe(
        Effect.catchIf(isNotFound, () => Effect.succeed("")),
        Effect.catchAll((cause) =>
          Effect.fail(reject(facts, "Unverifiable", { files: paths, description: `cannot read ${file}`, cause }))
        )
      )
      texts.push(text)
      const parsed = KnownHosts.parse(text)
      for (const w of parsed.warnings) yield* Effect.logDebug(`${file}:${w.line}: ${w.reason}; line ignored`)
      loaded.push({ path: file, entries: parsed.entries })
    }
    return { paths, loaded, texts, fs, path }
  })

const verifyKnownHosts = Effect.fn("HostKeyPolicy.knownHosts")(function*(
  files: ReadonlyArray<string>,
  options: KnownHostsOptions,
  info: HostKeyInfo
) {
  const facts = factsOf(info)
  const { fs, loaded, path, paths, texts } = yield* loadFiles(files, facts)
  const fail = (reason: HostKeyRejected["reason"], extra: Parameters<typeof reject>[2] = {}) =>
    Effect.fail(reject(facts, reason, { files: paths, ...extra }))
  const verdict = internal.decide({
    files: loaded,
    host: facts.host,
    port: facts.port,
    blob: facts.blob,
    address: options.checkHostIp === true ? info.address : undefined,
    now: BigInt(Math.floor((yield* Clock.currentTimeMillis) / 1000)),
    backend: yield* Crypto,
    caSignatureAlgorithms: options.caSignatureAlgorithms
  })
  const toRecord: Array<{ readonly name: string; readonly keyType: string; readonly blob: Uint8Array }> = []
  switch (verdict._tag) {
    case "Rejected":
      return yield* fail(verdict.reason, {
        knownLines: verdict.knownLines,
        ...(verdict.description === undefined ? {} : { description: verdict.description })
      })
    case "Trusted":
      if (verdict.note !== undefined) yield* Effect.logDebug(`${target(facts.host, facts.port)}: ${verdict.note}`)
      if (!verdict.recordAddress) return
      if (options.acceptNew !== true) {
        return yield* Effect.logInfo(`the host key for the address ${info.address} is not in the list of known hosts`)
      }
      toRecord.push({ name: info.address!, keyType: facts.keyType, blob: facts.blob })
      break
    case "Unknown":
      if (options.acceptNew !== true || paths.length === 0) {
        return yield* fail("Unknown", verdict.description === undefined ? {} : { description: verdict.description })
      }
      if (verdict.keyType === "") {
        return yield* fail("Unverifiable", { description: "the host key blob does not name its key type" })
      }
      toRecord.push({ name: facts.host, keyType: verdict.keyType, blob: verdict.blob })
      if (verdict.withAddress) toRecord.push({ name: info.address!, keyType: verdict.keyType, blob: verdict.blob })
  }
  const lines: Array<string> = []
  for (const r of toRecord) {
    const salt = options.hash === true ? yield* randomSalt : undefined
    const line = KnownHosts.formatLine(r.name, facts.port, r.keyType, r.blob, salt === undefined ? { hash: false } : { hash: true, salt })
    if (Either.isLeft(line)) return yield* fail("Unverifiable", { description: line.left })
    lines.push(line.right)
  }
  const file = paths[0]!
  const existing = texts[0]!
  const separator = existing.length > 0 && !existing.endsWith("\n") ? "\n" : ""
  yield* fs.makeDirectory(path.dirname(file), { recursive: true, mode: 0o700 }).pipe(
    // A single append write with O_APPEND; mode 0600 applies from creation, never chmod afterwards (SEC-28).
    Effect.zipRight(fs.writeFileString(file, `${separator}${lines.join("\n")}\n`, { flag: "a", mode: 0o600 })),
    Effect.catchAll((cause) => fail("Unverifiable", { description: `cannot record the new key in ${file}`, cause }))
  )
  for (const r of toRecord) {
    yield* Effect.logInfo(
      `Permanently added ${target(r.name, facts.port)} (${r.keyType} ${facts.fingerprint}) to ${file}`
    )
  }
})

const updateKnownHosts = (files: ReadonlyArray<string>, options: KnownHostsOptions, update: HostKeyUpdate) =>
  Effect.gen(function*() {
    const { paths, texts } = yield* loadFiles(files, makeInfo(update.host, update.port, update.sessionHostKey))
    const fs = yield* FileSystem.FileSystem
    const user: Array<Update.UserFile> = []
    for (const [i, file] of paths.entries()) {
      user.push({ path: file, text: texts[i]!, exists: yield* Effect.orElseSucceed(fs.exists(file), () => false) })
    }
    yield* Update.apply(user, update, {
      hash: options.hash === true,
      backend: yield* Crypto,
      now: BigInt(Math.floor((yield* Clock.currentTimeMillis) / 1000)),
      caSignatureAlgorithms: options.caSignatureAlgorithms
    })
  }).pipe(Effect.catchAll((e) => Effect.logWarning(`UpdateHostKeys: ${e.message}`)))

const expandHome = (file: string, path: Path.Path, facts: HostKeyInfo): Effect.Effect<string, HostKeyRejected> => {
  if (file !== "~" && !file.startsWith("~/")) return Effect.succeed(file)
  return Config.string("HOME").pipe(
    Config.orElse(() => Config.string("USERPROFILE")),
    Effect.map((home) => path.join(home, file.slice(1))),
    Effect.mapError((cause) =>
      reject(facts, "Unverifiable", { description: `HOME is not set, so ${file} cannot be located`, cause })
    )
  )
}

const isNotFound = (e: PlatformError.PlatformError): boolean => e._tag === "SystemError" && e.reason === "NotFound"

/** Salt bytes come from the connection's crypto backend, so seeded test backends make them reproducible. */
const randomSalt: Effect.Effect<Uint8Array> = Effect.map(Crypto, (backend) => backend.randomBytes(20))

const target = (host: string, port: number): string => port === 22 || port === 0 ? host : `[${host}]:${port}`

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
