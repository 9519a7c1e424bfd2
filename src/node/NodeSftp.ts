/**
 * SFTP on Node: a client over a local child process speaking SFTP on its stdio (OpenSSH's
 * `/usr/lib/openssh/sftp-server`, or `ssh -s host sftp`), useful for tests, benchmarks and local access.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Layer from "effect/Layer"
import * as NodeFs from "node:fs"
import type { StatVfs } from "../sftp/SftpExtensions.js"
import { type SftpFileSystem, SftpFileSystem as SftpFileSystemTag } from "../sftp/SftpFileSystem.js"
import * as SftpServer from "../sftp/SftpServer.js"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import type { Readable, Writable } from "node:stream"
import * as Sftp from "../sftp/Sftp.js"
import { SftpError } from "../SshError.js"

/**
 * A byte pipe over a Node readable (the server's output) and writable (its input).
 *
 * @since 0.1.0
 * @category constructors
 */
export const pipeOf = (readable: Readable, writable: Writable): Sftp.SftpPipe => ({
  output: NodeStream.fromReadable<Error, Uint8Array>(() => readable, (e) => e as Error),
  write: (data) =>
    Effect.async<void, Error>((resume) => {
      if (writable.destroyed) return resume(Effect.fail(new Error("the SFTP server's input is closed")))
      // Back-pressure by the writable's high-water mark; write errors end the output stream too.
      if (writable.write(data)) resume(Effect.void)
      else writable.once("drain", () => resume(Effect.void))
    })
})

/**
 * Spawns `command` (no shell) and starts an SFTP client on its stdio, in the caller's Scope; the process is
 * killed when the Scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawnClient = (
  command: string,
  args: ReadonlyArray<string> = [],
  options?: Sftp.SftpOptions
): Effect.Effect<Sftp.Sftp, SftpError, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(command, [...args], { stdio: ["pipe", "pipe", "inherit"] })),
      (c) => Effect.sync(() => c.exitCode === null && c.kill("SIGKILL"))
    )
    child.stdin.on("error", () => {})
    return yield* Sftp.makeFromPipe(pipeOf(child.stdout, child.stdin), options)
  })

/**
 * statvfs of a host path with node:fs `statfs` (statvfs@openssh.com for `SftpServer.fromPlatform`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const statvfs = (hostPath: string): Effect.Effect<StatVfs, SftpError> =>
  Effect.tryPromise({
    try: () => NodeFs.promises.statfs(hostPath, { bigint: true }),
    catch: (e) => new SftpError({ code: "Failure", operation: "statvfs", description: String(e) })
  }).pipe(Effect.map((s): StatVfs => ({
    bsize: s.bsize,
    frsize: s.bsize,
    blocks: s.blocks,
    bfree: s.bfree,
    bavail: s.bavail,
    files: s.files,
    ffree: s.ffree,
    favail: s.ffree,
    fsid: 0n,
    flag: 0n,
    namemax: 255n
  })))

/**
 * An `SftpFileSystem` on the local directory `root` (virtual "/"), with statvfs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fileSystem = (root: string): Effect.Effect<SftpFileSystem, never, FileSystem.FileSystem> =>
  Effect.map(FileSystem.FileSystem, (fs) => SftpServer.fromPlatform(fs, root, { statvfs }))

/**
 * The `SftpFileSystem` service on the local directory `root`, on Node's filesystem.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFileSystem = (root: string): Layer.Layer<SftpFileSystem> =>
  Layer.effect(SftpFileSystemTag, fileSystem(root)).pipe(Layer.provide(NodeFileSystem.layer))

/**
 * A ready "sftp" subsystem handler for `SshServer` on the local directory `root` (default "/", like sshd's
 * internal-sftp; relative paths start at `options.home`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const subsystem = (root = "/", options: SftpServer.SftpServerOptions = {}) =>
(context: SftpServer.SubsystemContext): Effect.Effect<number, unknown> =>
  Effect.flatMap(fileSystem(root), (fs) => SftpServer.handler(fs, options)(context)).pipe(
    Effect.provide(NodeFileSystem.layer)
  )
