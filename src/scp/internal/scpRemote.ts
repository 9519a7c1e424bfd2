/**
 * Copies between two remote hosts through this machine, as OpenSSH's scp does by default since 8.7 (`-3`):
 * over SFTP, the source's files stream (pipelined reads) into the target's (pipelined writes), tree by tree; over
 * the legacy protocol (`-O`), `scp -f` on the source and `scp -t` on the target talk to each other through us,
 * records and acknowledgements relayed as they come (the target's scp checks what it receives).
 *
 * Remote globs (`host:*.txt`) are expanded over SFTP as OpenSSH 9's scp does (remote_glob): several matches need
 * a directory target, no match leaves the pattern to fail as a missing file.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Sftp from "../../sftp/Sftp.js"
import * as SftpAttrs from "../../sftp/SftpAttrs.js"
import * as SftpTransfer from "../../sftp/SftpTransfer.js"
import { sanitizePeerText, type SftpError } from "../../SshError.js"
import * as ScpProtocol from "../ScpProtocol.js"

/** What the copy needs of the options (the public `ScpOptions`). */
export interface CopyOptions {
  readonly recursive?: boolean | undefined
  readonly preserve?: boolean | undefined
  readonly onProgress?: ((progress: { readonly path: string; readonly bytes: number; readonly size: number }) => Effect.Effect<void>) | undefined
}

const hasMagic = (s: string) => /[*?[]/.test(s)
const baseName = (p: string): string => p.replace(/\/+$/, "").split("/").pop() ?? ""
const join = (dir: string, name: string) => (dir.endsWith("/") ? dir + name : `${dir}/${name}`)

/** An SFTP failure of the remote side as an ScpError. */
export const remoteError = (e: SftpError) =>
  new ScpProtocol.ScpError({
    reason: "Remote",
    description: e.path === undefined ? e.message : `${e.path}: ${e.description}`,
    path: e.path,
    cause: e
  })

/**
 * The remote paths a source operand names: itself, or the matches of its glob (sorted, as glob(3)); a pattern
 * that matches nothing stays itself (GLOB_NOCHECK), so that it fails as a missing file.
 */
export const expand = (sftp: Sftp.Sftp, source: string): Effect.Effect<ReadonlyArray<string>, ScpProtocol.ScpError> =>
  hasMagic(source)
    ? Effect.map(Effect.mapError(sftp.glob(source), remoteError), (found) => (found.length === 0 ? [source] : found))
    : Effect.succeed([source])

/**
 * Where each of `sources` goes under `target` — into it by base name when it is a directory (each base name one
 * safe component, SEC-57/58), else as it; several sources need a directory (scp: "not a directory").
 */
export const placements = (
  sources: ReadonlyArray<string>,
  target: string,
  targetIsDir: boolean,
  side: "Local" | "Remote" = "Remote"
): Either.Either<ReadonlyArray<readonly [string, string]>, ScpProtocol.ScpError> => {
  if (sources.length > 1 && !targetIsDir) {
    return Either.left(new ScpProtocol.ScpError({ reason: side, description: `${target}: Not a directory`, path: target }))
  }
  const out: Array<readonly [string, string]> = []
  for (const source of sources) {
    if (!targetIsDir) {
      out.push([source, target])
      continue
    }
    const name = baseName(source)
    if (!SftpTransfer.isSafeName(name)) {
      return Either.left(new ScpProtocol.ScpError({ reason: "BadPath", description: `${source}: not a file name to copy into ${target}`, path: source }))
    }
    out.push([source, join(target, name)])
  }
  return Either.right(out)
}

const preserved = (a: SftpAttrs.Attributes): SftpAttrs.Attributes => ({
  ...(a.permissions === undefined ? {} : { permissions: a.permissions & 0o777 }),
  ...(a.atime === undefined || a.mtime === undefined ? {} : { atime: a.atime, mtime: a.mtime })
})

/** One file or tree from `from` to `to`. Links inside a tree are not followed (scp's sftp mode skips them). */
const copyTree = (
  from: Sftp.Sftp,
  source: string,
  to: Sftp.Sftp,
  target: string,
  o: CopyOptions
): Effect.Effect<void, SftpError | ScpProtocol.ScpError> =>
  Effect.gen(function*() {
    const a = yield* from.stat(source)
    const type = SftpAttrs.fileType(a)
    if (type === "directory") {
      if (o.recursive !== true) {
        return yield* new ScpProtocol.ScpError({ reason: "Remote", description: `${source}: not a regular file (use -r)`, path: source })
      }
      yield* to.mkdir(target).pipe(Effect.catchIf((e) => e.code === "Failure", () => Effect.void))
      const entries = yield* Stream.runCollect(from.readdir(source))
      for (const e of entries) {
        if (e.filename === "." || e.filename === "..") continue
        // SEC-57: a name from the source server is one component, or it is skipped.
        if (!SftpTransfer.isSafeName(e.filename)) continue
        if (SftpAttrs.fileType(e.attrs) === "symlink") continue
        yield* copyTree(from, join(source, e.filename), to, join(target, e.filename), o)
      }
    } else if (type === "file" || type === "unknown") {
      const size = a.size === undefined ? 0 : Number(a.size)
      let bytes = 0
      yield* from.stream(source).pipe(
        Stream.tap((chunk) => {
          bytes += chunk.length
          return o.onProgress === undefined ? Effect.void : o.onProgress({ path: source, bytes, size })
        }),
        Stream.run(to.sink(target))
      )
      if (size === 0 && o.onProgress !== undefined) yield* o.onProgress({ path: source, bytes: 0, size: 0 })
    } else {
      return yield* new ScpProtocol.ScpError({ reason: "Remote", description: `${source}: not a regular file`, path: source })
    }
    if (o.preserve === true) yield* to.setstat(target, preserved(a))
  })

/** Copies `source` (globs expanded) on `from` to `target` on `to`, both over SFTP. */
export const copySftp = (
  from: Sftp.Sftp,
  source: string,
  to: Sftp.Sftp,
  target: string,
  options: CopyOptions
): Effect.Effect<void, ScpProtocol.ScpError> =>
  Effect.gen(function*() {
    const sources = yield* expand(from, source)
    const targetIsDir = yield* Effect.orElseSucceed(to.isdir(target), () => false)
    const pairs = placements(sources, target, targetIsDir)
    if (Either.isLeft(pairs)) return yield* pairs.left
    for (const [src, dest] of pairs.right) {
      yield* copyTree(from, src, to, dest, options).pipe(
        Effect.mapError((e) => (e._tag === "ScpError" ? e : remoteError(e)))
      )
    }
  })

/** What the legacy relay needs of a remote process. */
export interface RelayProcess<E> {
  readonly stdout: Stream.Stream<Uint8Array, E>
  readonly stderr: Stream.Stream<Uint8Array, E>
  readonly write: (data: Uint8Array) => Effect.Effect<void, E>
  readonly closeStdin: Effect.Effect<void, unknown>
  readonly exitStatus: Effect.Effect<{ readonly status?: number | undefined }, unknown>
}

const decoder = new TextDecoder()

/**
 * The legacy `-3` copy: `scp -f` on the source host and `scp -t` on the target host (each command quoted, SEC-59),
 * their stdout relayed to each other's stdin until both end. Fails with the first remote scp's complaint when
 * either exits non-zero.
 */
export const relayLegacy = <E>(
  exec: {
    readonly from: (command: string) => Effect.Effect<RelayProcess<E>, E, Scope.Scope>
    readonly to: (command: string) => Effect.Effect<RelayProcess<E>, E, Scope.Scope>
  },
  source: string,
  target: string,
  options: CopyOptions & { readonly targetIsDirectory?: boolean | undefined }
): Effect.Effect<void, E | ScpProtocol.ScpError> =>
  Effect.gen(function*() {
    const flags = { recursive: options.recursive, preserve: options.preserve }
    const sourceCommand = ScpProtocol.command({ role: "source", path: source, ...flags })
    const sinkCommand = ScpProtocol.command({ role: "sink", path: target, ...flags, targetIsDirectory: options.targetIsDirectory })
    if (Either.isLeft(sourceCommand)) return yield* sourceCommand.left
    if (Either.isLeft(sinkCommand)) return yield* sinkCommand.left
    // The sink speaks first (its ready ack), which starts the source: so the sink is started first.
    const sink = yield* exec.to(sinkCommand.right)
    const src = yield* exec.from(sourceCommand.right)
    let complaint = ""
    const keep = (chunk: Uint8Array) => Effect.sync(() => (complaint = (complaint + decoder.decode(chunk)).slice(-1024)))
    yield* Effect.all([
      // The source's complaints are protocol messages (\x01 / \x02 + text) to the sink, which as a remote scp
      // does not print them: keep those, for the error.
      Stream.runForEach(src.stdout, (chunk) =>
        Effect.zipRight(chunk[0] === 1 || chunk[0] === 2 ? keep(chunk.subarray(1)) : Effect.void, sink.write(chunk))
      ).pipe(Effect.ensuring(Effect.ignore(sink.closeStdin))),
      Stream.runForEach(sink.stdout, src.write).pipe(Effect.ensuring(Effect.ignore(src.closeStdin))),
      Stream.runForEach(src.stderr, keep),
      Stream.runForEach(sink.stderr, keep)
    ], { concurrency: "unbounded", discard: true })
    const [a, b] = yield* Effect.all([Effect.orElseSucceed(src.exitStatus, () => ({ status: 1 })), Effect.orElseSucceed(sink.exitStatus, () => ({ status: 1 }))])
    if ((a.status ?? 1) !== 0 || (b.status ?? 1) !== 0) {
      return yield* new ScpProtocol.ScpError({
        reason: "Remote",
        description: sanitizePeerText(complaint.trim()) || `remote scp exited with ${a.status ?? "no status"}/${b.status ?? "no status"}`
      })
    }
  }).pipe(Effect.scoped)
