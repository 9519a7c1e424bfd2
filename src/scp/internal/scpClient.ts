/**
 * The SCP source (sending files) and sink (receiving them) behind `Scp.upload` / `Scp.download`, following
 * OpenSSH's scp.c `source()` and `sink()`, with the sink's checks of SEC-58.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { sanitizePeerText } from "../../SshError.js"
import type { ScpConnection, ScpOptions } from "../Scp.js"
import * as ScpProtocol from "../ScpProtocol.js"
import { ScpError } from "../ScpProtocol.js"
import { Pull } from "./pull.js"

const utf8 = new TextEncoder()
const WRITE_BATCH = 512 * 1024
/** @internal */
export const ZERO = new Uint8Array([0])

const local = (description: string, path: string, cause?: unknown) =>
  new ScpError({ reason: "Local", description, path, ...(cause === undefined ? {} : { cause }) })
const protocol = (description: string) => new ScpError({ reason: "Protocol", description })

/** @internal */
export interface Peer<E> {
  readonly pull: Pull<E>
  readonly write: (data: Uint8Array) => Effect.Effect<void, E>
}

/** Starts the remote scp; its stderr is drained (kept: the last 2 KiB) so it never stalls the channel. */
const start = <E>(connection: ScpConnection<E>, command: string): Effect.Effect<
  { readonly peer: Peer<E>; readonly finish: Effect.Effect<void, ScpError> },
  E,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const proc = yield* connection.exec(command)
    const pull = new Pull(yield* Stream.toPull(proc.stdout))
    let stderr = ""
    const drained = yield* Effect.forkScoped(
      Stream.runForEach(Stream.decodeText(proc.stderr), (s) => Effect.sync(() => (stderr = (stderr + s).slice(-2048)))).pipe(
        Effect.ignore
      )
    )
    const finish = Effect.gen(function*() {
      yield* Effect.ignore(proc.closeStdin)
      const exit = yield* Effect.either(proc.exitStatus)
      yield* drained.await
      const status = Either.isRight(exit) ? exit.right.status : undefined
      if (status !== 0) {
        return yield* new ScpError({
          reason: "Remote",
          description: `the remote scp exited with ${status ?? "no status"}: ${sanitizePeerText(stderr.trim(), 1024)}`
        })
      }
    })
    return { peer: { pull, write: proc.write }, finish }
  })

/** Reads the peer's answer: `\0`, or a warning/error line (scp.c response()). */
/** @internal */
export const ack = <E>(peer: Peer<E>): Effect.Effect<void, E | ScpError> =>
  Effect.flatMap(peer.pull.byte(), (b) => {
    if (b === 0) return Effect.void
    if (b === undefined) return Effect.fail(protocol("the remote scp ended without an answer"))
    if (b === 1 || b === 2) {
      return Effect.flatMap(peer.pull.line(), (line) =>
        Effect.fail(new ScpError({ reason: "Remote", description: sanitizePeerText(line, ScpProtocol.MAX_MESSAGE) })))
    }
    return Effect.flatMap(peer.pull.line(), (line) =>
      Effect.fail(protocol(`unexpected answer ${JSON.stringify(sanitizePeerText(String.fromCharCode(b) + line, 80))}`)))
  })

const send = <E>(peer: Peer<E>, record: ScpProtocol.ScpRecord) =>
  Effect.zipRight(peer.write(utf8.encode(ScpProtocol.encode(record))), ack(peer))

const seconds = (d: Option.Option<Date>) => Option.match(d, { onNone: () => 0, onSome: (x) => Math.floor(x.getTime() / 1000) })

/** scp.c source(): T (with -p), then C and the contents, or D … E for a directory (with -r). */
/** @internal */
export const sendPath = <E>(
  peer: Peer<E>,
  file: string,
  options: ScpOptions,
  fs: FileSystem.FileSystem,
  path: Path.Path
): Effect.Effect<void, E | ScpError> =>
  Effect.gen(function*() {
    const info = yield* Effect.mapError(fs.stat(file), (e) => local(e.message, file, e))
    const name = path.basename(file)
    if (!ScpProtocol.isSafeName(name)) return yield* new ScpError({ reason: "BadPath", description: "unsendable name", path: file })
    if (options.preserve === true) yield* send(peer, { _tag: "Times", mtime: seconds(info.mtime), atime: seconds(info.atime) })
    const mode = info.mode & 0o777
    if (info.type === "Directory") {
      if (options.recursive !== true) return yield* local("is a directory (copy it recursively)", file)
      yield* send(peer, { _tag: "Directory", mode, name })
      const entries = yield* Effect.mapError(fs.readDirectory(file), (e) => local(e.message, file, e))
      for (const entry of entries.sort()) yield* sendPath(peer, path.join(file, entry), options, fs, path)
      return yield* send(peer, { _tag: "EndDirectory" })
    }
    if (info.type !== "File") return yield* local("not a regular file", file)
    const size = Number(info.size)
    yield* send(peer, { _tag: "File", mode, size, name })
    let sent = 0
    yield* fs.stream(file, { chunkSize: 32 * 1024 }).pipe(
      Stream.mapError((e) => local(e.message, file, e)),
      Stream.runForEach((chunk) => {
        const part = chunk.subarray(0, Math.max(0, size - sent))
        sent += part.length
        return Effect.zipRight(
          peer.write(part),
          options.onProgress ? options.onProgress({ path: file, bytes: sent, size }) : Effect.void
        )
      })
    )
    // The file shrank while being sent: the peer still expects `size` bytes (scp.c pads, and reports it).
    if (sent < size) {
      yield* peer.write(new Uint8Array(size - sent))
      yield* peer.write(new Uint8Array([2]))
      return yield* local("the file shrank while it was sent", file)
    }
    yield* peer.write(ZERO)
    yield* ack(peer)
  })

/** @internal */
export const upload = <E>(
  connection: ScpConnection<E>,
  sources: ReadonlyArray<string>,
  target: string,
  options: ScpOptions,
  fs: FileSystem.FileSystem,
  path: Path.Path
): Effect.Effect<void, E | ScpError, Scope.Scope> =>
  Effect.gen(function*() {
    const command = ScpProtocol.command({
      role: "sink",
      path: target,
      recursive: options.recursive,
      preserve: options.preserve,
      targetIsDirectory: sources.length > 1
    })
    if (Either.isLeft(command)) return yield* command.left
    const { finish, peer } = yield* start(connection, command.right)
    yield* ack(peer)
    for (const source of sources) yield* sendPath(peer, source, options, fs, path)
    yield* finish
  })

/** The last component of a remote path, as the name the source must send first (CVE-2019-6111). */
const requestedName = (source: string): string => source.split("/").filter((p) => p !== "").pop() ?? source

/** A glob (`*`, `?`, `[…]`) as a whole-name RegExp, for the names a wildcard source may send. */
const globMatcher = (glob: string): ((name: string) => boolean) => {
  if (!/[*?[]/.test(glob)) return (name) => name === glob
  const re = new RegExp(
    "^" + glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$",
    "s"
  )
  return (name) => re.test(name)
}

/** @internal */
export const download = <E>(
  connection: ScpConnection<E>,
  source: string,
  target: string,
  options: ScpOptions,
  fs: FileSystem.FileSystem,
  path: Path.Path
): Effect.Effect<void, E | ScpError, Scope.Scope> =>
  Effect.gen(function*() {
    const command = ScpProtocol.command({ role: "source", path: source, recursive: options.recursive, preserve: options.preserve })
    if (Either.isLeft(command)) return yield* command.left
    const targetIsDir = yield* fs.stat(target).pipe(
      Effect.map((i) => i.type === "Directory"),
      Effect.orElseSucceed(() => false)
    )
    const matches = globMatcher(requestedName(source))
    const started = yield* start(connection, command.right)
    // scp.c's source reports a missing file as a warning line and exits 1: the warnings explain the failure.
    const warnings: Array<string> = []
    const finish = Effect.mapError(started.finish, (e) =>
      warnings.length === 0 ? e : new ScpError({ reason: "Remote", description: warnings.join("; ") }))
    yield* started.peer.write(ZERO)
    const files = yield* receive(started.peer, target, targetIsDir, matches, options, fs, path, warnings)
    if (files === 0) return yield* finish.pipe(Effect.zipRight(Effect.fail(protocol("nothing was sent"))))
    yield* finish
  })

/**
 * scp.c sink(): records until the peer's end of stream, each answered with `\0`, files written under `target`
 * (SEC-58). Returns how many top-level files and directories arrived.
 *
 * @internal
 */
export const receive = <E>(
  peer: Peer<E>,
  target: string,
  targetIsDir: boolean,
  matches: (name: string) => boolean,
  options: ScpOptions,
  fs: FileSystem.FileSystem,
  path: Path.Path,
  warnings: Array<string> = []
): Effect.Effect<number, E | ScpError> =>
  Effect.gen(function*() {
    const stack: Array<{ readonly dir: string; readonly times: { mtime: number; atime: number } | undefined }> = []
    let times: { mtime: number; atime: number } | undefined
    let files = 0
    for (;;) {
      const first = yield* peer.pull.byte()
      if (first === undefined) break
      const line = String.fromCharCode(first) + (yield* peer.pull.line())
      const decoded = ScpProtocol.decode(line)
      if (Either.isLeft(decoded)) return yield* decoded.left
      const record = decoded.right
      switch (record._tag) {
        case "Warning":
          warnings.push(record.message)
          if (options.onWarning) yield* options.onWarning(record.message)
          continue
        case "Error":
          return yield* new ScpError({ reason: "Remote", description: record.message })
        case "Times":
          times = { mtime: record.mtime, atime: record.atime }
          yield* peer.write(ZERO)
          continue
        case "EndDirectory": {
          const top = stack.pop()
          if (top === undefined) return yield* protocol("E without a directory to end")
          if (options.preserve === true && top.times !== undefined) {
            yield* Effect.ignore(fs.utimes(top.dir, top.times.atime, top.times.mtime))
          }
          yield* peer.write(ZERO)
          continue
        }
        case "Directory":
        case "File": {
          // SEC-58: at the top, only the name asked for (or matching the glob asked for); below, any safe name.
          if (stack.length === 0 && !matches(record.name)) {
            return yield* protocol(`filename does not match request: ${JSON.stringify(record.name)}`)
          }
          if (stack.length === 0 && files > 0 && !targetIsDir) return yield* protocol("several files for one target file")
          const dest = stack.length > 0
            ? path.join(stack[stack.length - 1]!.dir, record.name)
            : targetIsDir
            ? path.join(target, record.name)
            : target
          const recordTimes = times
          times = undefined
          if (stack.length === 0) files++
          if (record._tag === "Directory") {
            if (options.recursive !== true) return yield* protocol("a directory sent to a non-recursive copy")
            const existing = yield* Effect.either(fs.stat(dest))
            if (Either.isLeft(existing)) {
              yield* Effect.mapError(fs.makeDirectory(dest, { mode: record.mode | 0o700 }), (e) => local(e.message, dest, e))
            } else if (existing.right.type !== "Directory") return yield* local("exists and is not a directory", dest)
            stack.push({ dir: dest, times: recordTimes })
            yield* peer.write(ZERO)
            continue
          }
          yield* peer.write(ZERO)
          yield* receiveFile(peer, dest, record, options, fs)
          if (options.preserve === true && recordTimes !== undefined) {
            yield* Effect.mapError(fs.utimes(dest, recordTimes.atime, recordTimes.mtime), (e) => local(e.message, dest, e))
          }
          yield* peer.write(ZERO)
          continue
        }
      }
    }
    if (stack.length > 0) return yield* protocol("the source ended inside a directory")
    return files
  })

/** The contents of one `C` record into `dest`, then the source's `\0`; the mode is set as scp does. */
const receiveFile = <E>(
  peer: Peer<E>,
  dest: string,
  record: Extract<ScpProtocol.ScpRecord, { _tag: "File" }>,
  options: ScpOptions,
  fs: FileSystem.FileSystem
): Effect.Effect<void, E | ScpError> =>
  Effect.scoped(Effect.gen(function*() {
    const file = yield* Effect.mapError(fs.open(dest, { flag: "w", mode: record.mode }), (e) => local(e.message, dest, e))
    let received = 0
    // Writes are batched (one write per 512 KiB rather than per 32 KiB packet).
    const batch = new Uint8Array(Math.min(record.size, WRITE_BATCH))
    let filled = 0
    const flush = Effect.suspend(() => {
      const part = batch.subarray(0, filled)
      filled = 0
      return part.length === 0 ? Effect.void : Effect.mapError(file.writeAll(part), (e) => local(e.message, dest, e))
    })
    yield* peer.pull.bytes(record.size, (chunk) =>
      Effect.suspend(() => {
        const write = filled + chunk.length > batch.length ? flush : Effect.void
        return Effect.zipRight(write, Effect.suspend(() => {
          if (chunk.length >= batch.length) {
            return Effect.mapError(file.writeAll(chunk), (e) => local(e.message, dest, e))
          }
          batch.set(chunk, filled)
          filled += chunk.length
          return Effect.void
        }))
      }).pipe(Effect.zipRight(Effect.suspend(() => {
        received += chunk.length
        return options.onProgress ? options.onProgress({ path: dest, bytes: received, size: record.size }) : Effect.void
      }))))
    yield* flush
    yield* ack(peer)
    // scp.c: an existing file keeps its mode unless -p; a new one gets the record's (umask applied at open).
    if (options.preserve === true) yield* Effect.mapError(fs.chmod(dest, record.mode), (e) => local(e.message, dest, e))
  }))
