/**
 * The server side of legacy SCP, without a local `scp` binary: an exec request of `scp -t …` (the client
 * uploads) or `scp -f …` (the client downloads) is served in-process, confined to a root directory as an SFTP
 * server would be. Use it from an `SshServer` exec handler:
 *
 * ```ts
 * exec: (session) => ScpServer.isScpCommand(session.command) ? ScpServer.run(session, { root: "/srv/files" }) : …
 * ```
 *
 * The command is never given to a shell (SEC-69): it is split into words as a POSIX shell would (quotes and
 * backslashes), and a command with unquoted shell syntax (`;`, `|`, `$`, backquotes …) is refused. Received
 * records are checked as the client's sink checks them (SEC-58); every path stays under `root` (absolute paths are
 * taken relative to it, `..` may not climb out, and symbolic links are resolved before the check).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Queue from "effect/Queue"
import type * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { type Peer, receive, sendPath, ZERO } from "./internal/scpClient.js"
import { Pull } from "./internal/pull.js"
import type { ScpOptions } from "./Scp.js"
import { ScpError } from "./ScpProtocol.js"
import * as ScpProtocol from "./ScpProtocol.js"

/**
 * What the server side needs of a session (`SshServer`'s exec context is one).
 *
 * @since 0.1.0
 * @category models
 */
export interface ScpSession<E> {
  readonly command: string
  readonly stdin: Stream.Stream<Uint8Array, E>
  readonly stdout: Sink.Sink<void, Uint8Array, never, E>
}

/**
 * Options of the server side.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScpServerOptions {
  /** The directory every path is confined to. */
  readonly root: string
  /** Refuse uploads (`scp -t`). */
  readonly readOnly?: boolean | undefined
}

/**
 * A parsed `scp -t|-f` command.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScpCommand {
  readonly role: "sink" | "source"
  readonly recursive: boolean
  readonly preserve: boolean
  readonly targetIsDirectory: boolean
  readonly paths: ReadonlyArray<string>
}

/**
 * Splits a command line into words as a POSIX shell would (single and double quotes, backslashes); `undefined` when
 * it holds unquoted shell syntax or an unterminated quote.
 *
 * @since 0.1.0
 * @category parsing
 */
export const shellWords = (line: string): ReadonlyArray<string> | undefined => {
  const words: Array<string> = []
  let word: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === " " || c === "\t") {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) return undefined
      word = (word ?? "") + line.slice(i + 1, end)
      i = end
    } else if (c === "\"") {
      let s = ""
      let j = i + 1
      for (; j < line.length && line[j] !== "\""; j++) {
        if (line[j] === "\\" && j + 1 < line.length && "\\\"$`\n".includes(line[j + 1]!)) s += line[++j]
        else if (line[j] === "$" || line[j] === "`") return undefined
        else s += line[j]
      }
      if (j >= line.length) return undefined
      word = (word ?? "") + s
      i = j
    } else if (c === "\\") {
      if (i + 1 >= line.length) return undefined
      word = (word ?? "") + line[++i]
    } else if (/[;&|<>()$`*?[\]{}~#\n\r\0!]/.test(c)) return undefined
    else word = (word ?? "") + c
  }
  if (word !== undefined) words.push(word)
  return words
}

/**
 * Parses `scp [-v] [-r] [-p] [-d] -t|-f [--] path…` (what OpenSSH's scp sends in legacy mode).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseCommand = (line: string): ScpCommand | undefined => {
  const words = shellWords(line)
  if (words === undefined || words[0] !== "scp") return undefined
  let role: "sink" | "source" | undefined
  const flags = new Set<string>()
  let i = 1
  for (; i < words.length; i++) {
    const w = words[i]!
    if (w === "--") {
      i++
      break
    }
    if (!w.startsWith("-") || w === "-") break
    for (const c of w.slice(1)) {
      if (c === "t" || c === "f") {
        if (role !== undefined) return undefined
        role = c === "t" ? "sink" : "source"
      } else if ("rpdvq".includes(c)) flags.add(c)
      else return undefined
    }
  }
  const paths = words.slice(i)
  if (role === undefined || paths.length === 0 || (role === "sink" && paths.length !== 1)) return undefined
  return { role, recursive: flags.has("r"), preserve: flags.has("p"), targetIsDirectory: flags.has("d"), paths }
}

/**
 * Whether an exec command asks for SCP (`scp … -t|-f …`), so that `run` should serve it.
 *
 * @since 0.1.0
 * @category parsing
 */
export const isScpCommand = (command: string): boolean => /^\s*scp\s/.test(command)

/** The real path of `wanted` (or of its nearest existing ancestor) must lie under the real root. */
const confine = (fs: FileSystem.FileSystem, path: Path.Path, root: string, requested: string) =>
  Effect.gen(function*() {
    const realRoot = yield* Effect.mapError(fs.realPath(root), (e) => new ScpError({ reason: "Local", description: e.message, path: root }))
    const wanted = path.resolve(realRoot, "." + path.sep + requested)
    let probe = wanted
    let rest = ""
    for (;;) {
      const real = yield* Effect.either(fs.realPath(probe))
      if (Either.isRight(real)) {
        const full = rest === "" ? real.right : path.join(real.right, rest)
        const rel = path.relative(realRoot, full)
        if (rel.startsWith("..") || path.isAbsolute(rel)) break
        return full
      }
      const parent = path.dirname(probe)
      if (parent === probe) break
      rest = rest === "" ? path.basename(probe) : path.join(path.basename(probe), rest)
      probe = parent
    }
    return yield* new ScpError({ reason: "BadPath", description: "outside the served directory", path: requested })
  })

const END = Symbol("end")

/**
 * Serves one `scp -t|-f` exec session confined to `options.root`; returns the exit status (0, or 1 after an error
 * was sent to the client as scp does, `\x02message`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <E>(
  session: ScpSession<E>,
  options: ScpServerOptions
): Effect.Effect<number, never, FileSystem.FileSystem | Path.Path> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const out = yield* Queue.bounded<Uint8Array | typeof END>(16)
    const writer = yield* Effect.forkScoped(
      Stream.fromQueue(out).pipe(
        Stream.takeWhile((x): x is Uint8Array => x !== END),
        Stream.run(session.stdout),
        Effect.ignore
      )
    )
    const peer: Peer<E> = { pull: new Pull(yield* Stream.toPull(session.stdin)), write: (b) => Queue.offer(out, b) }
    const done = (code: number) => Effect.zipRight(Queue.offer(out, END), Effect.as(writer.await, code))
    const command = parseCommand(session.command)
    const work: Effect.Effect<void, E | ScpError> = Effect.gen(function*() {
      if (command === undefined) return yield* new ScpError({ reason: "BadPath", description: "unsupported scp command" })
      const scpOptions: ScpOptions = { recursive: command.recursive, preserve: command.preserve }
      if (command.role === "sink") {
        if (options.readOnly === true) return yield* new ScpError({ reason: "Local", description: "read-only" })
        const target = yield* confine(fs, path, options.root, command.paths[0]!)
        const isDir = yield* fs.stat(target).pipe(Effect.map((i) => i.type === "Directory"), Effect.orElseSucceed(() => false))
        if (command.targetIsDirectory && !isDir) {
          return yield* new ScpError({ reason: "Local", description: "target is not a directory", path: command.paths[0]! })
        }
        yield* peer.write(ZERO)
        yield* receive(peer, target, isDir, () => true, scpOptions, fs, path)
        return
      }
      // scp.c source(): the sink speaks first.
      const first = yield* peer.pull.byte()
      if (first !== 0) return
      for (const p of command.paths) yield* sendPath(peer, yield* confine(fs, path, options.root, p), scpOptions, fs, path)
    })
    const result = yield* Effect.either(work)
    if (Either.isRight(result)) return yield* done(0)
    const e = result.left
    const message = e instanceof ScpError ? e.description : "transfer failed"
    yield* Effect.logDebug(`scp ${session.command}: ${message}`)
    yield* Effect.ignore(peer.write(new TextEncoder().encode(ScpProtocol.encode({ _tag: "Error", message: `scp: ${message}` }))))
    return yield* done(1)
  }))
