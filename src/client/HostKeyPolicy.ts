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
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Crypto } from "../crypto/Crypto.js"
import * as KnownHosts from "../keys/KnownHosts.js"
import { sanitizePeerText, TypeId } from "../SshError.js"

/**
 * What the transport knows about the presented host key. `keyType` is the type named inside `blob`
 * (`ssh-rsa` even when the signature algorithm is `rsa-sha2-256`); policies re-derive it, and the
 * fingerprint, from `blob`, so a wrong value can only cause a rejection.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyInfo {
  readonly host: string
  readonly port: number
  readonly keyType: string
  readonly blob: Uint8Array
  /** `SHA256:` + unpadded base64, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string
}

/**
 * A host key policy. `verify` succeeds only for a trusted key; every other outcome is a `HostKeyRejected`.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyPolicy<out R = never> {
  readonly verify: (info: HostKeyInfo) => Effect.Effect<void, HostKeyRejected, R>
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
 * so the key could not be checked (fail closed, SEC-20).
 *
 * @since 0.1.0
 * @category errors
 */
export class HostKeyRejected extends Schema.TaggedError<HostKeyRejected>("effect-ssh/HostKeyRejected")(
  "HostKeyRejected",
  {
    reason: Schema.Literal("Unknown", "Changed", "NotPinned", "Refused", "Revoked", "Unverifiable"),
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
}

/**
 * Builds the `HostKeyInfo` for a key blob, deriving its type and SHA-256 fingerprint.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeInfo = (host: string, port: number, blob: Uint8Array): HostKeyInfo => ({
  host,
  port,
  blob,
  keyType: Option.getOrElse(KnownHosts.keyTypeOfBlob(blob), () => ""),
  fingerprint: KnownHosts.fingerprintSha256(blob)
})

/**
 * Trusts the keys listed for the host in known_hosts files, strictly (OpenSSH `StrictHostKeyChecking yes`). A
 * changed key, a revoked key or an unreadable file is always rejected. With `acceptNew`, the key of an unknown
 * host is appended to the first file (created with mode 0600) and trusted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const knownHosts = (
  options: KnownHostsOptions = {}
): HostKeyPolicy<FileSystem.FileSystem | Path.Path> => {
  const files = options.files ?? ["~/.ssh/known_hosts"]
  // Serialises check-then-append so that concurrent first connections to one host record it once.
  const lock = Effect.unsafeMakeSemaphore(1)
  return {
    verify: (info) => {
      const run = verifyKnownHosts(files, options, info)
      return options.acceptNew === true ? lock.withPermits(1)(run) : run
    }
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
    ).pipe(Effect.annotateLogs({ module: "HostKeyPolicy", fingerprint: KnownHosts.fingerprintSha256(info.blob) }))
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
  fingerprint: KnownHosts.fingerprintSha256(info.blob)
})

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

const verifyKnownHosts = Effect.fn("HostKeyPolicy.knownHosts")(function*(
  files: ReadonlyArray<string>,
  options: KnownHostsOptions,
  info: HostKeyInfo
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const facts = factsOf(info)
  const paths: Array<string> = []
  for (const file of files) paths.push(yield* expandHome(file, path, facts))
  const fail = (reason: HostKeyRejected["reason"], extra: Parameters<typeof reject>[2] = {}) =>
    Effect.fail(reject(facts, reason, { files: paths, ...extra }))

  const texts: Array<string> = []
  const revoked: Array<KnownLine> = []
  const known: Array<KnownLine> = []
  let matched = false
  for (const file of paths) {
    const text = yield* fs.readFileString(file).pipe(
      Effect.catchIf(isNotFound, () => Effect.succeed("")),
      Effect.catchAll((cause) => fail("Unverifiable", { description: `cannot read ${file}`, cause }))
    )
    texts.push(text)
    const parsed = KnownHosts.parse(text)
    for (const w of parsed.warnings) {
      yield* Effect.logDebug(`${file}:${w.line}: ${w.reason}; line ignored`)
    }
    const verdict = KnownHosts.check(parsed.entries, facts.host, facts.port, facts.keyType, facts.blob)
    const toLine = (e: KnownHosts.KnownHostsEntry): KnownLine => ({
      path: file,
      line: e.line,
      text: e.text,
      keyType: e.keyType,
      fingerprint: KnownHosts.fingerprintSha256(e.blob)
    })
    KnownHosts.CheckResult.$match(verdict, {
      Revoked: ({ entries }) => revoked.push(...entries.map(toLine)),
      Match: () => (matched = true),
      Mismatch: ({ known: lines }) => known.push(...lines.map(toLine)),
      Unknown: () => undefined
    })
  }
  // SEC-62 precedence across all files: revoked anywhere beats a match anywhere.
  if (revoked.length > 0) return yield* fail("Revoked", { knownLines: revoked })
  if (matched) return
  if (known.length > 0) return yield* fail("Changed", { knownLines: known })
  if (options.acceptNew !== true || paths.length === 0) return yield* fail("Unknown")
  if (Option.isNone(KnownHosts.keyTypeOfBlob(facts.blob))) {
    return yield* fail("Unverifiable", { description: "the host key blob does not name its key type" })
  }

  const salt = options.hash === true ? yield* randomSalt : undefined
  const line = KnownHosts.formatLine(
    facts.host,
    facts.port,
    facts.keyType,
    facts.blob,
    salt === undefined ? { hash: false } : { hash: true, salt }
  )
  if (Either.isLeft(line)) return yield* fail("Unverifiable", { description: line.left })
  const file = paths[0]!
  const existing = texts[0]!
  const separator = existing.length > 0 && !existing.endsWith("\n") ? "\n" : ""
  yield* fs.makeDirectory(path.dirname(file), { recursive: true, mode: 0o700 }).pipe(
    // A single append write with O_APPEND; mode 0600 applies from creation, never chmod afterwards (SEC-28).
    Effect.zipRight(fs.writeFileString(file, `${separator}${line.right}\n`, { flag: "a", mode: 0o600 })),
    Effect.catchAll((cause) => fail("Unverifiable", { description: `cannot record the new key in ${file}`, cause }))
  )
  yield* Effect.logInfo(
    `Permanently added ${target(facts.host, facts.port)} (${facts.keyType} ${facts.fingerprint}) to ${file}`
  )
})

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
  }
}

/** The commands in messages are meant to be pasted into a shell, so anything unusual is single-quoted. */
const shellQuote = (s: string): string => /^[\w.:@/+=-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`

const causeText = (cause: unknown): string =>
  sanitizePeerText(cause instanceof Error ? cause.message : String(cause), 512)
