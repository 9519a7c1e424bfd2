/**
 * The SFTP server: the "sftp" subsystem (filexfer-02 version 3 plus OpenSSH's extensions) on any
 * `SftpFileSystem` — a local directory through `@effect/platform`'s FileSystem (`fromPlatform`), memory
 * (`SftpMemoryFileSystem`), or your own backend. The client sees a virtual tree rooted at "/" that `..`, absolute
 * paths and symbolic links cannot leave (SEC-54); read-only mode refuses every write before the backend is
 * touched (SEC-55); handles are short, opaque and limited (SEC-53); reads are clamped (SEC-56).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SftpMemoryFileSystem, SftpServer, SshServer } from "effect-ssh"
 *
 * const server = SshServer.run({
 *   auth: { password: ({ username, password }) => Effect.succeed(username === "demo" && password === "demo") },
 *   subsystems: { sftp: SftpServer.handler(SftpMemoryFileSystem.make(), { readOnly: false }) }
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { SftpError } from "../SshError.js"
import { concatBytes } from "../wire/Bytes.js"
import { type Attributes, FileType, OpenFlag } from "./SftpAttrs.js"
import type { StatVfs } from "./SftpExtensions.js"
import { SftpFileSystem, type SftpFsFile } from "./SftpFileSystem.js"
import * as internal from "./internal/server.js"
import { MAX_IN_FLIGHT } from "./internal/serverSchedule.js"

/**
 * How the server behaves.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpServerOptions {
  /** Refuse every request that would change the filesystem with PERMISSION_DENIED (SEC-55, `sftp-server -R`). */
  readonly readOnly?: boolean | undefined
  /** Open handles per session (SEC-53, LIM-28; default 1 000). */
  readonly maxHandles?: number | undefined
  /** The starting directory of relative paths and what "~" and home-directory answer (default "/"). */
  readonly home?: string | undefined
  /** Let SETSTAT set setuid, setgid and sticky bits (default false: they are dropped, SEC-55). */
  readonly allowSpecialModeBits?: boolean | undefined
}

/**
 * What a subsystem handler gets: the client's bytes and a Sink back (`SshServer`'s session context has both).
 *
 * @since 0.1.0
 * @category models
 */
export interface SubsystemContext {
  readonly stdin: Stream.Stream<Uint8Array, unknown>
  readonly stdout: Sink.Sink<void, Uint8Array, never, unknown>
  /**
   * Optional: a direct write to the client (`SshServer`'s session context has it: the channel's write, which
   * waits for the window). Replies then go out from the request's own fiber, not through a queue and a writer.
   * It must be done with the bytes when its Effect completes (the channel seals them as it sends): the server
   * reuses the buffers of READ replies.
   */
  readonly write?: ((bytes: Uint8Array) => Effect.Effect<void, unknown>) | undefined
}

/**
 * Serves one SFTP session on `fs` over a byte pipe until the client ends it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (
  fs: SftpFileSystem,
  input: Stream.Stream<Uint8Array, unknown>,
  write: (bytes: Uint8Array) => Effect.Effect<void, unknown>,
  options: SftpServerOptions = {}
): Effect.Effect<void, unknown> => internal.serve(fs, options, input, write)

/**
 * A session handler for `SshServer`'s `subsystems: { sftp: … }`; the session exits 0 when the client ends it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = (fs: SftpFileSystem, options: SftpServerOptions = {}) => (context: SubsystemContext): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    if (context.write !== undefined) {
      // SEC-56: the channel's window is the backpressure; at most MAX_IN_FLIGHT replies are being written.
      yield* internal.serve(fs, options, context.stdin, context.write, true)
      return 0
    }
    // Replies go out through a bounded queue to the session's Sink, so a slow client slows the server (SEC-56:
    // with the requests in flight, at most twice MAX_IN_FLIGHT replies of ≤ 256 KiB are held per session).
    const out = yield* Queue.bounded<Uint8Array>(MAX_IN_FLIGHT)
    const writer = yield* Stream.fromQueue(out).pipe(Stream.run(context.stdout), Effect.fork)
    yield* internal.serve(fs, options, context.stdin, (b) => Queue.offer(out, b))
    yield* Queue.shutdown(out)
    yield* writer.await
    return 0
  }).pipe(Effect.scoped)

/**
 * `handler` with the filesystem taken from the `SftpFileSystem` service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handlerFromContext = (options: SftpServerOptions = {}) =>
  Effect.map(SftpFileSystem, (fs) => handler(fs, options))

const fsError = (operation: string, path: string) => (e: unknown): SftpError => {
  const reason = typeof e === "object" && e !== null && "reason" in e ? String(e.reason) : ""
  const code = reason === "NotFound" ? "NoSuchFile" : reason === "PermissionDenied" ? "PermissionDenied" : "Failure"
  return new SftpError({ code, operation, path, description: code === "Failure" ? "Failure" : "" })
}

const infoToAttrs = (i: FileSystem.File.Info): Attributes => ({
  size: i.size,
  uid: Option.getOrElse(i.uid, () => 0),
  gid: Option.getOrElse(i.gid, () => 0),
  permissions: i.mode,
  atime: Math.floor(Option.getOrElse(Option.map(i.atime, (d) => d.getTime()), () => 0) / 1000),
  mtime: Math.floor(Option.getOrElse(Option.map(i.mtime, (d) => d.getTime()), () => 0) / 1000)
})

/** The platform's open flag for SSH_FXF_* flags (filexfer-02 §6.3); CREAT without TRUNC is two steps. */
const platformFlag = (flags: number): FileSystem.OpenFlag => {
  const read = (flags & OpenFlag.READ) !== 0
  if (flags & OpenFlag.APPEND) return flags & OpenFlag.EXCL ? (read ? "ax+" : "ax") : read ? "a+" : "a"
  if (flags & OpenFlag.CREAT && flags & OpenFlag.EXCL) return read ? "wx+" : "wx"
  if (flags & OpenFlag.CREAT && flags & OpenFlag.TRUNC) return read ? "w+" : "w"
  if (flags & OpenFlag.WRITE) return "r+"
  return "r"
}

/**
 * An `SftpFileSystem` on a directory `root` of the platform's FileSystem: virtual "/" is `root`. Symbolic links
 * on disk are read with their targets taken inside the virtual tree; links the server creates store the host
 * path, and reading them back gives the virtual one (SEC-54: host paths never leak).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPlatform = (
  fs: FileSystem.FileSystem,
  root: string,
  options?: {
    /** statvfs of a host path (the platform FileSystem has none; `NodeSftp.fileSystem` passes node:fs statfs). */
    readonly statvfs?: ((hostPath: string) => Effect.Effect<StatVfs, SftpError>) | undefined
  }
): SftpFileSystem => {
  const base = root.replace(/\/+$/, "")
  const host = (p: string) => base + (p === "/" ? "" : p)
  const lstat = (p: string) =>
    fs.readLink(host(p)).pipe(
      Effect.map((target): Attributes => ({ size: BigInt(new TextEncoder().encode(target).length), permissions: FileType.LNK | 0o777 })),
      Effect.orElse(() => Effect.map(fs.stat(host(p)), infoToAttrs)),
      Effect.mapError(fsError("lstat", p))
    )
  const setstat = (p: string, a: Attributes) =>
    Effect.gen(function*() {
      const h = host(p)
      if (a.size !== undefined) yield* fs.truncate(h, a.size)
      if (a.permissions !== undefined) yield* fs.chmod(h, a.permissions & 0o7777)
      if (a.uid !== undefined && a.gid !== undefined) yield* fs.chown(h, a.uid, a.gid)
      if (a.atime !== undefined && a.mtime !== undefined) yield* fs.utimes(h, new Date(a.atime * 1000), new Date(a.mtime * 1000)) // Node reads a number as seconds
    }).pipe(Effect.mapError(fsError("setstat", p)))
  const open = (p: string, flags: number, a: Attributes) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const h = host(p)
      const mode = a.permissions === undefined ? 0o644 : a.permissions & 0o7777
      let flag = platformFlag(flags)
      // CREAT without TRUNC or EXCL: create when missing, keep the contents otherwise.
      if (flags & OpenFlag.CREAT && !(flags & (OpenFlag.TRUNC | OpenFlag.EXCL | OpenFlag.APPEND))) {
        if (!(yield* fs.exists(h))) flag = flags & OpenFlag.READ ? "wx+" : "wx"
      }
      const file = yield* fs.open(h, { flag, mode }).pipe(Scope.extend(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
      // The platform File reads and writes at a position it keeps: a seek and its read run as one, one at a time.
      const positioned = (yield* Effect.makeSemaphore(1)).withPermits(1)
      const handle: SftpFsFile = {
        read: (offset, length) =>
          positioned(Effect.flatMap(file.seek(offset, "start"), () => file.readAlloc(length))).pipe(
            Effect.map(Option.getOrElse(() => new Uint8Array(0))),
            Effect.mapError(fsError("read", p))
          ),
        write: (offset, data) =>
          positioned(Effect.flatMap(file.seek(offset, "start"), () => file.writeAll(data))).pipe(Effect.mapError(fsError("write", p))),
        // A download's reply arrives in channel-packet parts: one write of them joined (one copy) costs less than
        // a seek and a write on the thread pool per part.
        writev: (offset, parts) =>
          positioned(Effect.flatMap(file.seek(offset, "start"), () => file.writeAll(parts.length === 1 ? parts[0]! : concatBytes(parts))))
            .pipe(Effect.mapError(fsError("write", p))),
        stat: Effect.mapError(Effect.map(file.stat, infoToAttrs), fsError("fstat", p)),
        setstat: (attrs) => setstat(p, attrs),
        sync: Effect.mapError(file.sync, fsError("fsync", p)),
        close: Scope.close(scope, Exit.void)
      }
      return handle
    }).pipe(Effect.mapError((e) => (e instanceof SftpError ? e : fsError("open", p)(e))))
  const stripRoot = (target: string) =>
    target === base ? "/" : target.startsWith(base + "/") ? target.slice(base.length) : target
  return {
    open,
    readDirectory: (p) => Effect.mapError(fs.readDirectory(host(p)), fsError("opendir", p)),
    lstat,
    setstat,
    remove: (p) =>
      Effect.flatMap(lstat(p), (a) =>
        ((a.permissions ?? 0) & FileType.MASK) === FileType.DIR
          ? Effect.fail(new SftpError({ code: "Failure", operation: "remove", path: p, description: "Is a directory" }))
          : Effect.mapError(fs.remove(host(p)), fsError("remove", p))),
    mkdir: (p, a) => Effect.mapError(fs.makeDirectory(host(p), { mode: a.permissions === undefined ? 0o755 : a.permissions & 0o7777 }), fsError("mkdir", p)),
    rmdir: (p) =>
      Effect.flatMap(Effect.mapError(fs.readDirectory(host(p)), fsError("rmdir", p)), (names) =>
        names.length > 0
          ? Effect.fail(new SftpError({ code: "Failure", operation: "rmdir", path: p, description: "Directory not empty" }))
          : Effect.mapError(fs.remove(host(p), { recursive: true }), fsError("rmdir", p))),
    rename: (from, to, overwrite) =>
      Effect.gen(function*() {
        if (!overwrite && (yield* Effect.orElseSucceed(Effect.as(lstat(to), true), () => false))) {
          return yield* Effect.fail(new SftpError({ code: "Failure", operation: "rename", path: to, description: "File exists" }))
        }
        yield* Effect.mapError(fs.rename(host(from), host(to)), fsError("rename", from))
      }),
    readlink: (p) => Effect.map(Effect.mapError(fs.readLink(host(p)), fsError("readlink", p)), stripRoot),
    symlink: (target, linkPath) =>
      Effect.mapError(fs.symlink(target.startsWith("/") ? host(target) : target, host(linkPath)), fsError("symlink", linkPath)),
    link: (from, to) => Effect.mapError(fs.link(host(from), host(to)), fsError("hardlink", from)),
    statvfs: options?.statvfs === undefined ? undefined : (p) => options.statvfs!(host(p))
  }
}

/**
 * The `SftpFileSystem` service on directory `root` of the platform's FileSystem.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFileSystem = (root: string): Layer.Layer<SftpFileSystem, never, FileSystem.FileSystem> =>
  Layer.effect(SftpFileSystem, Effect.map(FileSystem.FileSystem, (fs) => fromPlatform(fs, root)))
