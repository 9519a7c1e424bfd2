/**
 * SFTP on Node: the disk `SftpFileSystem` (node:fs, positional I/O, O_NOFOLLOW, byte names), a ready "sftp"
 * subsystem on it, and a client over a local child process speaking SFTP on its stdio (OpenSSH's
 * `/usr/lib/openssh/sftp-server`, or `ssh -s host sftp`), useful for tests, benchmarks and local access.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import type { Readable, Writable } from "node:stream"
import * as Sftp from "../sftp/Sftp.js"
import { type Attributes, FileType, OpenFlag } from "../sftp/SftpAttrs.js"
import type { StatVfs } from "../sftp/SftpExtensions.js"
import { type SftpFileSystem, SftpFileSystem as SftpFileSystemTag, type SftpFsFile } from "../sftp/SftpFileSystem.js"
import * as SftpNames from "../sftp/SftpNames.js"
import * as SftpServer from "../sftp/SftpServer.js"
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
export const statvfs = (hostPath: string | Uint8Array): Effect.Effect<StatVfs, SftpError> =>
  Effect.tryPromise({
    try: () => NodeFs.promises.statfs(typeof hostPath === "string" ? hostPath : Buffer.from(hostPath), { bigint: true }),
    catch: () => new SftpError({ code: "Failure", operation: "statvfs", description: "Failure" })
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

const C = NodeFs.constants

/** openssh:sftp-server.c errno_to_portable, with texts that never name a host path (SEC-54). */
const errnoCode = (code: string | undefined): SftpError["code"] =>
  code === "ENOENT" || code === "ENOTDIR" || code === "EBADF" || code === "ELOOP" ? "NoSuchFile" :
  code === "EPERM" || code === "EACCES" || code === "EFAULT" ? "PermissionDenied" :
  code === "ENAMETOOLONG" || code === "EINVAL" ? "BadMessage" :
  code === "ENOSYS" || code === "EOPNOTSUPP" ? "OpUnsupported" : "Failure"
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EEXIST: "File exists",
  ENOTEMPTY: "Directory not empty",
  EISDIR: "Is a directory",
  ENOSPC: "No space left on device",
  EXDEV: "Invalid cross-device link",
  EROFS: "Read-only file system",
  EBUSY: "Device or resource busy"
}
const diskError = (operation: string, path: string) => (e: NodeJS.ErrnoException): SftpError => {
  const code = errnoCode(e.code)
  const text = code === "NoSuchFile" ? "No such file" : code === "PermissionDenied" ? "Permission denied" :
    code === "OpUnsupported" ? "Operation unsupported" : ERRNO_TEXT[e.code ?? ""] ?? "Failure"
  return new SftpError({ code, operation, path, description: text })
}

/** A node:fs callback call as an Effect. */
const io = <A>(
  operation: string,
  path: string,
  call: (done: (e: NodeJS.ErrnoException | null, a: A) => void) => void
): Effect.Effect<A, SftpError> =>
  Effect.async<A, SftpError>((resume) => {
    call((e, a) => resume(e === null ? Effect.succeed(a) : Effect.fail(diskError(operation, path)(e))))
  })
const io0 = (operation: string, path: string, call: (done: (e: NodeJS.ErrnoException | null) => void) => void) =>
  io<void>(operation, path, (done) => call((e) => done(e, undefined)))

const statAttrs = (st: NodeFs.BigIntStats): Attributes => ({
  size: st.size,
  uid: Number(st.uid),
  gid: Number(st.gid),
  permissions: Number(st.mode),
  atime: Number(st.atimeMs / 1000n),
  mtime: Number(st.mtimeMs / 1000n)
})

/** SSH_FXF_* (filexfer-02 §6.3) to open(2) flags, always with O_NOFOLLOW (SEC-54). */
const openFlags = (flags: number): number =>
  ((flags & OpenFlag.READ) && (flags & OpenFlag.WRITE) ? C.O_RDWR : flags & (OpenFlag.WRITE | OpenFlag.APPEND) ? C.O_WRONLY : C.O_RDONLY) |
  (flags & OpenFlag.APPEND ? C.O_APPEND : 0) | (flags & OpenFlag.CREAT ? C.O_CREAT : 0) |
  (flags & OpenFlag.TRUNC ? C.O_TRUNC : 0) | (flags & OpenFlag.EXCL ? C.O_EXCL : 0) | C.O_NOFOLLOW

/**
 * An `SftpFileSystem` on the local directory `root` (virtual "/") with node:fs, with statvfs. Reads and writes are
 * positional (pread/pwrite: concurrent requests on one file need no shared position) and READ replies are read
 * straight into the packet that carries them. Names are bytes (`SftpNames`: non-UTF-8 names work). SEC-54: the
 * server resolves links inside the virtual tree first; here the last component is opened with O_NOFOLLOW and
 * links themselves are changed with lchown/lutimes, so a link swapped in after resolution is not followed there.
 * What remains: a directory higher up swapped for a link between resolution and use (Node has no openat2
 * RESOLVE_BENEATH), and chmod, which Linux cannot apply without following (no lchmod).
 *
 * @since 0.1.0
 * @category constructors
 */
export const diskFileSystem = (root: string): SftpFileSystem => {
  const base = Buffer.from(root.replace(/\/+$/, ""))
  const host = (p: string): Buffer =>
    p === "/" ? (base.length === 0 ? Buffer.from("/") : base) : Buffer.concat([base, SftpNames.encode(p)])
  const lstatRaw = (p: string, operation = "lstat") =>
    io<NodeFs.BigIntStats>(operation, p, (done) => NodeFs.lstat(host(p), { bigint: true }, done))
  const isLink = (st: NodeFs.BigIntStats) => (Number(st.mode) & FileType.MASK) === FileType.LNK

  const fileOf = (p: string, fd: number): SftpFsFile => {
    let closed = false
    const readInto = (offset: bigint, into: Uint8Array) =>
      io<number>("read", p, (done) => NodeFs.read(fd, into, 0, into.length, offset, done))
    const setFd = (a: Attributes) =>
      Effect.gen(function*() {
        if (a.size !== undefined) yield* io0("fsetstat", p, (done) => NodeFs.ftruncate(fd, Number(a.size), done))
        if (a.permissions !== undefined) yield* io0("fsetstat", p, (done) => NodeFs.fchmod(fd, a.permissions! & 0o7777, done))
        if (a.uid !== undefined && a.gid !== undefined) yield* io0("fsetstat", p, (done) => NodeFs.fchown(fd, a.uid!, a.gid!, done))
        if (a.atime !== undefined && a.mtime !== undefined) yield* io0("fsetstat", p, (done) => NodeFs.futimes(fd, a.atime!, a.mtime!, done))
      })
    const writeAll = (offset: bigint, data: Uint8Array): Effect.Effect<void, SftpError> =>
      Effect.flatMap(
        io<number>("write", p, (done) => NodeFs.write(fd, data, 0, data.length, Number(offset), done)),
        (n) => (n >= data.length ? Effect.void : writeAll(offset + BigInt(n), data.subarray(n)))
      )
    const writev = (offset: bigint, parts: ReadonlyArray<Uint8Array>): Effect.Effect<void, SftpError> => {
      const total = parts.reduce((n, b) => n + b.length, 0)
      return Effect.flatMap(
        io<number>("write", p, (done) => NodeFs.writev(fd, parts, Number(offset), done)),
        (n) => {
          if (n >= total) return Effect.void
          // A short writev: the rest, part by part.
          const rest: Array<Uint8Array> = []
          let skip = n
          for (const b of parts) {
            if (skip >= b.length) skip -= b.length
            else {
              rest.push(b.subarray(skip))
              skip = 0
            }
          }
          return Effect.reduce(rest, offset + BigInt(n), (at, b) => Effect.as(writeAll(at, b), at + BigInt(b.length)))
        }
      )
    }
    return {
      readInto,
      writev,
      read: (offset, length) => {
        const buffer = new Uint8Array(length)
        return Effect.map(readInto(offset, buffer), (n) => buffer.subarray(0, n))
      },
      write: writeAll,
      stat: Effect.map(io<NodeFs.BigIntStats>("fstat", p, (done) => NodeFs.fstat(fd, { bigint: true }, done)), statAttrs),
      setstat: setFd,
      sync: io0("fsync", p, (done) => NodeFs.fsync(fd, done)),
      close: Effect.suspend(() => {
        if (closed) return Effect.void
        closed = true
        return io0("close", p, (done) => NodeFs.close(fd, done))
      })
    }
  }

  return {
    open: (p, flags, a) =>
      Effect.map(
        io<number>("open", p, (done) => NodeFs.open(host(p), openFlags(flags), a.permissions === undefined ? 0o644 : a.permissions & 0o7777, done)),
        (fd) => fileOf(p, fd)
      ),
    readDirectory: (p) =>
      Effect.map(
        io<Array<Buffer>>("opendir", p, (done) => NodeFs.readdir(host(p), { encoding: "buffer" }, done)),
        (names) => names.map((n) => SftpNames.decode(n))
      ),
    lstat: (p) => Effect.map(lstatRaw(p), statAttrs),
    setstat: (p, a) =>
      Effect.gen(function*() {
        const h = host(p)
        const link = isLink(yield* lstatRaw(p, "setstat"))
        if (link && (a.size !== undefined || a.permissions !== undefined)) {
          return yield* Effect.fail(new SftpError({ code: "OpUnsupported", operation: "setstat", path: p, description: "Operation unsupported on a symbolic link" }))
        }
        if (a.size !== undefined) {
          const fd = yield* io<number>("setstat", p, (done) => NodeFs.open(h, C.O_WRONLY | C.O_NOFOLLOW, done))
          yield* io0("setstat", p, (done) => NodeFs.ftruncate(fd, Number(a.size), done)).pipe(
            Effect.ensuring(io0("setstat", p, (done) => NodeFs.close(fd, done)).pipe(Effect.ignore))
          )
        }
        if (a.permissions !== undefined) yield* io0("setstat", p, (done) => NodeFs.chmod(h, a.permissions! & 0o7777, done))
        if (a.uid !== undefined && a.gid !== undefined) yield* io0("setstat", p, (done) => NodeFs.lchown(h, a.uid!, a.gid!, done))
        if (a.atime !== undefined && a.mtime !== undefined) yield* io0("setstat", p, (done) => NodeFs.lutimes(h, a.atime!, a.mtime!, done))
      }),
    remove: (p) => io0("remove", p, (done) => NodeFs.unlink(host(p), done)),
    mkdir: (p, a) => io0("mkdir", p, (done) => NodeFs.mkdir(host(p), { mode: a.permissions === undefined ? 0o755 : a.permissions & 0o7777 }, done)),
    // rmdir(2) itself refuses a non-empty directory (ENOTEMPTY) and a link (ENOTDIR): no check-then-remove race.
    rmdir: (p) => io0("rmdir", p, (done) => NodeFs.rmdir(host(p), done)),
    rename: (from, to, overwrite) =>
      Effect.gen(function*() {
        if (overwrite) return yield* io0("rename", from, (done) => NodeFs.rename(host(from), host(to), done))
        // filexfer-02 §6.5: fail when `to` exists. As sftp-server does: link then unlink is atomic for files;
        // a directory cannot be hard-linked, so it is checked, then renamed.
        const st = yield* lstatRaw(from, "rename")
        if ((Number(st.mode) & FileType.MASK) !== FileType.DIR) {
          yield* io0("rename", to, (done) => NodeFs.link(host(from), host(to), done))
          return yield* io0("rename", from, (done) => NodeFs.unlink(host(from), done))
        }
        if (yield* Effect.orElseSucceed(Effect.as(lstatRaw(to), true), () => false)) {
          return yield* Effect.fail(new SftpError({ code: "Failure", operation: "rename", path: to, description: "File exists" }))
        }
        yield* io0("rename", from, (done) => NodeFs.rename(host(from), host(to), done))
      }),
    readlink: (p) =>
      Effect.map(io<Buffer>("readlink", p, (done) => NodeFs.readlink(host(p), { encoding: "buffer" }, done)), (target) => {
        // SEC-54: a target inside the root reads back as its virtual path; the host prefix never leaves.
        if (base.length > 0 && target.equals(base)) return "/"
        if (base.length > 0 && target.length > base.length && target[base.length] === 0x2f && target.subarray(0, base.length).equals(base)) {
          return SftpNames.decode(target.subarray(base.length))
        }
        return SftpNames.decode(target)
      }),
    symlink: (target, linkPath) =>
      io0("symlink", linkPath, (done) =>
        NodeFs.symlink(target.startsWith("/") ? host(target) : Buffer.from(SftpNames.encode(target)), host(linkPath), done)),
    link: (from, to) => io0("hardlink", from, (done) => NodeFs.link(host(from), host(to), done)),
    statvfs: (p) => statvfs(host(p))
  }
}

/**
 * An `SftpFileSystem` on the local directory `root` (virtual "/"): `diskFileSystem(root)`, as an Effect (as it
 * was when it needed the platform FileSystem).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fileSystem = (root: string): Effect.Effect<SftpFileSystem> => Effect.sync(() => diskFileSystem(root))

/**
 * The `SftpFileSystem` service on the local directory `root`, on Node's filesystem.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFileSystem = (root: string): Layer.Layer<SftpFileSystem> => Layer.sync(SftpFileSystemTag, () => diskFileSystem(root))

/**
 * A ready "sftp" subsystem handler for `SshServer` on the local directory `root` (default "/", like sshd's
 * internal-sftp; relative paths start at `options.home`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const subsystem = (root = "/", options: SftpServer.SftpServerOptions = {}) =>
(context: SftpServer.SubsystemContext): Effect.Effect<number, unknown> =>
  SftpServer.handler(diskFileSystem(root), options)(context)
