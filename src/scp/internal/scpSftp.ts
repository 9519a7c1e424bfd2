/**
 * SCP over SFTP, OpenSSH 9's default (scp.c's sftp mode): the same operands and semantics as the legacy
 * protocol — a target directory receives sources by their base name, several sources need one, recursive and
 * preserve as `-r`/`-p` — carried by the SFTP client's recursive transfers (SftpTransfer.get/put). Remote names
 * are checked before any local write (SEC-57 in SftpTransfer.get; the base name of `source` here), so nothing lands
 * outside the local target, as the legacy receiver guarantees (SEC-58).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Sftp from "../../sftp/Sftp.js"
import * as SftpServer from "../../sftp/SftpServer.js"
import * as SftpTransfer from "../../sftp/SftpTransfer.js"
import { ScpError } from "../ScpProtocol.js"
import * as ScpRemote from "./scpRemote.js"

/** What the SFTP mode needs of the options (the public `ScpOptions`). */
export interface SftpModeOptions {
  readonly recursive?: boolean | undefined
  readonly preserve?: boolean | undefined
  readonly onProgress?: ((progress: { readonly path: string; readonly bytes: number; readonly size: number }) => Effect.Effect<void>) | undefined
}

const remoteError = ScpRemote.remoteError

const localError = (file: string) => (e: { readonly message: string }) =>
  new ScpError({ reason: "Local", description: `${file}: ${e.message}`, path: file, cause: e })

const transferOptions = (o: SftpModeOptions): SftpTransfer.TransferOptions => ({
  recursive: o.recursive,
  preserve: o.preserve,
  // Links inside a tree are not followed (a link loop on the server could recurse without end).
  followSymlinks: false,
  onProgress: o.onProgress === undefined
    ? undefined
    : (event) => o.onProgress!({ path: event.path, bytes: event.bytes, size: event.total ?? event.bytes })
})

const join = (dir: string, name: string) => (dir.endsWith("/") ? dir + name : `${dir}/${name}`)

/** Uploads `sources` to `target` over an SFTP session opened on `opener`. */
export const upload = (
  opener: Sftp.SubsystemOpener,
  sources: ReadonlyArray<string>,
  target: string,
  options: SftpModeOptions,
  fs: FileSystem.FileSystem,
  path: Path.Path
): Effect.Effect<void, ScpError, Scope.Scope> =>
  Effect.gen(function*() {
    const sftp = yield* Sftp.make(opener).pipe(Effect.mapError(remoteError))
    const local = SftpServer.fromPlatform(fs, "/")
    const targetIsDir = yield* Effect.orElseSucceed(sftp.isdir(target), () => false)
    if (sources.length > 1 && !targetIsDir) {
      return yield* new ScpError({ reason: "Remote", description: `${target}: Not a directory`, path: target })
    }
    for (const source of sources) {
      // Command-line operands are followed as scp does; the links inside a tree are not.
      const real = yield* fs.realPath(path.resolve(source)).pipe(Effect.mapError(localError(source)))
      const dest = targetIsDir ? join(target, path.basename(path.resolve(source))) : target
      yield* SftpTransfer.put(sftp, local, real, dest, transferOptions(options)).pipe(Effect.mapError(remoteError))
    }
  })

/**
 * Downloads `source` — or each match of its glob (`*.txt`, expanded on the server as OpenSSH 9's scp does) — into
 * (or as) the local `target` over an SFTP session opened on `opener`.
 */
export const download = (
  opener: Sftp.SubsystemOpener,
  source: string,
  target: string,
  options: SftpModeOptions,
  fs: FileSystem.FileSystem,
  path: Path.Path
): Effect.Effect<void, ScpError, Scope.Scope> =>
  Effect.gen(function*() {
    const sftp = yield* Sftp.make(opener).pipe(Effect.mapError(remoteError))
    const local = SftpServer.fromPlatform(fs, "/")
    const info = yield* Effect.option(fs.stat(target))
    const into = info._tag === "Some" && info.value.type === "Directory"
    const sources = yield* ScpRemote.expand(sftp, source)
    const pairs = ScpRemote.placements(sources, target, into, "Local")
    if (Either.isLeft(pairs)) return yield* pairs.left
    for (const [from, dest] of pairs.right) {
      yield* SftpTransfer.get(sftp, from, local, path.resolve(dest), transferOptions(options)).pipe(Effect.mapError(remoteError))
    }
  })
