/**
 * SCP file transfers, over SFTP by default as OpenSSH 9's scp (the server's sftp subsystem, through the SFTP
 * client's recursive transfers), or over the legacy protocol with `protocol: "scp"` (scp -O): `upload` runs
 * `scp -t` on the server and sends local files, `download` runs `scp -f` and receives them — recursive, with times and modes preserved on request, reporting
 * progress. Any connection with an `exec` (an `SshConnection`) will do.
 *
 * The receiving side is strict (SEC-58): every record is checked, names are single components, the first name
 * must be the one asked for (CVE-2019-6111), directories only when recursive and balanced, and every write stays
 * under the target. The remote command quotes its path and puts it after `--` (SEC-59).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import * as Sftp from "../sftp/Sftp.js"
import * as internal from "./internal/scpClient.js"
import * as remote from "./internal/scpRemote.js"
import * as sftpMode from "./internal/scpSftp.js"
import { ScpError } from "./ScpProtocol.js"

/**
 * What SCP needs of a remote process (`SshProcess` is one).
 *
 * @since 0.1.0
 * @category models
 */
export interface ScpProcess<E> {
  readonly stdout: Stream.Stream<Uint8Array, E>
  readonly stderr: Stream.Stream<Uint8Array, E>
  readonly stdin: Sink.Sink<void, Uint8Array, never, E>
  readonly write: (data: Uint8Array) => Effect.Effect<void, E>
  readonly closeStdin: Effect.Effect<void, unknown>
  readonly exitStatus: Effect.Effect<{ readonly status?: number | undefined }, unknown>
}

/**
 * What SCP needs of a connection (`SshConnection` is one).
 *
 * @since 0.1.0
 * @category models
 */
export interface ScpConnection<E> {
  readonly exec: (command: string) => Effect.Effect<ScpProcess<E>, E, Scope.Scope>
  /** The "sftp" subsystem, for `protocol: "sftp"` (`SshConnection` has it). */
  readonly subsystem?: Sftp.SubsystemOpener["subsystem"] | undefined
}

/**
 * A progress report: `bytes` of `size` of the file at `path` (local) have been sent or received.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly path: string
  readonly bytes: number
  readonly size: number
}

/**
 * Options of `upload` and `download`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScpOptions {
  /**
   * "sftp" (the default, as OpenSSH 9's scp): the transfer runs over the server's sftp subsystem; "scp": the
   * legacy `scp -t`/`scp -f` protocol (scp -O), for servers without SFTP.
   */
  readonly protocol?: "sftp" | "scp" | undefined
  /** Copy directories and their contents (`scp -r`). */
  readonly recursive?: boolean | undefined
  /** Keep modification and access times and modes (`scp -p`); setuid/setgid/sticky bits are never kept. */
  readonly preserve?: boolean | undefined
  /** Called as data moves. */
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void>) | undefined
  /** Called with each warning the remote scp sends (escaped, SEC-58). */
  readonly onWarning?: ((message: string) => Effect.Effect<void>) | undefined
}

const sftpOpener = <E>(
  connection: ScpConnection<E>,
  options: ScpOptions | undefined
): Effect.Effect<Sftp.SubsystemOpener | undefined, ScpError> => {
  if (options?.protocol === "scp") return Effect.succeed(undefined)
  const subsystem = connection.subsystem
  return subsystem === undefined
    ? Effect.fail(new ScpError({ reason: "Protocol", description: "the connection has no sftp subsystem (use protocol: \"scp\")" }))
    : Effect.succeed({ subsystem })
}

/**
 * Copies local `sources` to `target` on the server (`scp -t`). With several sources, `target` must be a
 * directory. Fails with `ScpError` (the remote's message, or the local error).
 *
 * @since 0.1.0
 * @category transfers
 */
export const upload = <E>(
  connection: ScpConnection<E>,
  sources: ReadonlyArray<string>,
  target: string,
  options?: ScpOptions
): Effect.Effect<void, ScpError | E, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const opener = yield* sftpOpener(connection, options)
    if (opener !== undefined) return yield* sftpMode.upload(opener, sources, target, options ?? {}, fs, path)
    return yield* internal.upload(connection, sources, target, options ?? {}, fs, path)
  }).pipe(Effect.scoped, Effect.withSpan("Scp.upload"))

/**
 * Copies `source` on the server to the local `target` (`scp -f`): into `target` if it is a directory, else as
 * `target`. Fails with `ScpError` on any protocol violation (nothing is written outside `target`).
 *
 * @since 0.1.0
 * @category transfers
 */
export const download = <E>(
  connection: ScpConnection<E>,
  source: string,
  target: string,
  options?: ScpOptions
): Effect.Effect<void, ScpError | E, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const opener = yield* sftpOpener(connection, options)
    if (opener !== undefined) return yield* sftpMode.download(opener, source, target, options ?? {}, fs, path)
    return yield* internal.download(connection, source, target, options ?? {}, fs, path)
  }).pipe(Effect.scoped, Effect.withSpan("Scp.download"))

/**
 * Copies `source` on one server to `target` on another through this machine, as OpenSSH's scp does by default
 * (`scp -3`): over SFTP both sides (globs in `source` expanded on its server), or with `protocol: "scp"` by
 * relaying `scp -f` on the source to `scp -t` on the target. Nothing is written locally.
 *
 * @since 0.1.0
 * @category transfers
 */
export const copy = <E1, E2>(
  from: ScpConnection<E1>,
  source: string,
  to: ScpConnection<E2>,
  target: string,
  options?: ScpOptions
): Effect.Effect<void, ScpError | E1 | E2> =>
  Effect.gen(function*() {
    const fromOpener = yield* sftpOpener(from, options)
    const toOpener = yield* sftpOpener(to, options)
    if (fromOpener !== undefined && toOpener !== undefined) {
      const mapError = Effect.mapError(remote.remoteError)
      const a = yield* mapError(Sftp.make(fromOpener))
      const b = yield* mapError(Sftp.make(toOpener))
      return yield* remote.copySftp(a, source, b, target, options ?? {})
    }
    return yield* remote.relayLegacy<E1 | E2>({ from: from.exec, to: to.exec }, source, target, options ?? {})
  }).pipe(Effect.scoped, Effect.withSpan("Scp.copy"))
