/**
 * Recursive get and put between an `Sftp` client and a local `SftpFileSystem` (on Node: `NodeSftp.fileSystem("/")`),
 * and copy between two remote paths, with modes and times preserved on request, resumption of partial copies,
 * a symbolic-link policy and progress events. Remote names are checked before anything is written locally
 * (SEC-57): a name must be one path component, so nothing lands outside the target directory; symbolic links
 * inside a tree are skipped unless asked; setuid/setgid/sticky bits are never applied.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { SftpError } from "../SshError.js"
import type { Sftp } from "./Sftp.js"
import { type Attributes, fileType, OpenFlag } from "./SftpAttrs.js"
import type { SftpFileSystem } from "./SftpFileSystem.js"

/**
 * A file's progress: bytes moved so far of `total` (when known).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProgressEvent {
  readonly path: string
  readonly bytes: number
  readonly total: number | undefined
  readonly done: boolean
}

/**
 * How a transfer goes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransferOptions {
  /** Copy directories and what is in them (`-r`). */
  readonly recursive?: boolean | undefined
  /** Set the permission bits (without setuid/setgid/sticky) and times of the source on the copy (`-p`). */
  readonly preserve?: boolean | undefined
  /**
   * Symbolic links met inside a tree: `"skip"` them (the default), `"follow"` them (copy what they point at), or
   * `"copy"` them as links (the same target text; never followed). A link named at the top is always followed.
   */
  readonly symlinks?: SymlinkPolicy | undefined
  /** `symlinks: "follow"` (kept for compatibility; `symlinks` wins when both are given). */
  readonly followSymlinks?: boolean | undefined
  /**
   * Continue a partial copy (OpenSSH reget/reput, `get -a`): a regular file at the destination shorter than the
   * source is completed from its length; one as long is left alone; a longer one fails with `Failure`.
   */
  readonly resume?: boolean | undefined
  /** Called as data moves (e.g. `Queue.offer` into a queue read as a Stream). */
  readonly onProgress?: ((event: ProgressEvent) => Effect.Effect<void>) | undefined
}

/**
 * What to do with a symbolic link inside a tree.
 *
 * @since 0.1.0
 * @category models
 */
export type SymlinkPolicy = "skip" | "follow" | "copy"

const policy = (o: TransferOptions | undefined): SymlinkPolicy =>
  o?.symlinks ?? (o?.followSymlinks === true ? "follow" : "skip")

/**
 * An entry of a remote tree by the link policy: true when it is done with (a link skipped, or recreated by
 * `make(target)`), false when it is to be copied like any other entry.
 */
const linkHandled = (
  sftp: Sftp,
  entry: { readonly attrs: Attributes },
  source: string,
  o: TransferOptions | undefined,
  make: (target: string) => Effect.Effect<void, SftpError>
): Effect.Effect<boolean, SftpError> => {
  if (fileType(entry.attrs) !== "symlink") return Effect.succeed(false)
  const p = policy(o)
  if (p === "follow") return Effect.succeed(false)
  return p === "skip" ? Effect.succeed(true) : Effect.as(Effect.flatMap(sftp.readlink(source), make), true)
}

const tooLarge = (operation: string, path: string) =>
  new SftpError({ code: "Failure", operation, path, description: "cannot resume: the destination is larger than the source" })

const join = (dir: string, name: string) => (dir.endsWith("/") ? dir + name : `${dir}/${name}`)

/**
 * SEC-57: a directory entry from the server may only name one component.
 *
 * @since 0.1.0
 * @category models
 */
export const isSafeName = (name: string): boolean =>
  name !== "" && name !== "." && name !== ".." && !/[/\\\0]/.test(name)

const preserved = (a: Attributes): Attributes => ({
  ...(a.permissions === undefined ? {} : { permissions: a.permissions & 0o777 }),
  ...(a.atime === undefined || a.mtime === undefined ? {} : { atime: a.atime, mtime: a.mtime })
})

const progress = (o: TransferOptions | undefined, path: string, bytes: number, total: number | undefined, done: boolean) =>
  o?.onProgress === undefined ? Effect.void : o.onProgress({ path, bytes, total, done })

const getFile = (sftp: Sftp, remote: string, local: SftpFileSystem, target: string, a: Attributes, o?: TransferOptions) =>
  Effect.gen(function*() {
    const total = a.size === undefined ? undefined : Number(a.size)
    let offset = 0
    if (o?.resume === true) {
      const have = yield* Effect.option(local.lstat(target))
      if (have._tag === "Some" && fileType(have.value) === "file") offset = Number(have.value.size ?? 0n)
      if (total !== undefined && offset > total) return yield* Effect.fail(tooLarge("get", remote))
    }
    const file = yield* local.open(target, OpenFlag.WRITE | OpenFlag.CREAT | (offset === 0 ? OpenFlag.TRUNC : 0), {})
    yield* sftp.stream(remote, { offset }).pipe(
      // A chunk is one reply's data as it arrived (views of channel packets): written in one call when it can be.
      Stream.runForEachChunk((chunk) =>
        Effect.suspend(() => {
          const at = offset
          let n = 0
          for (const part of chunk) n += part.length
          offset += n
          const written = file.writev !== undefined
            ? file.writev(BigInt(at), Chunk.toReadonlyArray(chunk))
            : Effect.reduce(chunk, at, (pos, part) => Effect.as(file.write(BigInt(pos), part), pos + part.length))
          return Effect.zipRight(written, progress(o, remote, offset, total, false))
        })
      ),
      Effect.ensuring(Effect.ignore(file.close))
    )
    if (o?.preserve === true) yield* local.setstat(target, preserved(a))
    yield* progress(o, remote, offset, total, true)
  })

/**
 * Downloads `remote` to `target` on `local`; a directory needs `recursive`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const get = (
  sftp: Sftp,
  remote: string,
  local: SftpFileSystem,
  target: string,
  options?: TransferOptions
): Effect.Effect<void, SftpError> =>
  Effect.gen(function*() {
    const a = yield* sftp.stat(remote)
    if (fileType(a) !== "directory") return yield* getFile(sftp, remote, local, target, a, options)
    if (options?.recursive !== true) {
      return yield* Effect.fail(new SftpError({ code: "Failure", operation: "get", path: remote, description: "is a directory (use recursive)" }))
    }
    yield* local.mkdir(target, {}).pipe(Effect.catchIf((e) => e.code === "Failure", () => Effect.void))
    const entries = yield* Stream.runCollect(sftp.readdir(remote))
    for (const e of entries) {
      if (e.filename === "." || e.filename === "..") continue
      if (!isSafeName(e.filename)) {
        yield* Effect.logWarning("sftp get: skipped an entry whose name is not one path component (SEC-57)").pipe(
          Effect.annotateLogs({ directory: remote, name: JSON.stringify(e.filename).slice(0, 200) })
        )
        continue
      }
      const from = join(remote, e.filename)
      if (yield* linkHandled(sftp, e, from, options, (t) => local.symlink(t, join(target, e.filename)))) continue
      yield* get(sftp, from, local, join(target, e.filename), options)
    }
    if (options?.preserve === true) yield* local.setstat(target, preserved(a))
  })

const putFile = (sftp: Sftp, local: SftpFileSystem, source: string, remote: string, a: Attributes, o?: TransferOptions) =>
  Effect.gen(function*() {
    const total = a.size === undefined ? undefined : Number(a.size)
    let offset = 0
    if (o?.resume === true) {
      const have = yield* Effect.option(sftp.lstat(remote))
      if (have._tag === "Some" && fileType(have.value) === "file") offset = Number(have.value.size ?? 0n)
      if (total !== undefined && offset > total) return yield* Effect.fail(tooLarge("put", remote))
    }
    const file = yield* local.open(source, OpenFlag.READ, {})
    const chunk = 256 * 1024
    const start = offset
    const data = Stream.repeatEffectOption(
      Effect.flatMap(Effect.suspend(() => file.read(BigInt(offset), chunk)), (bytes) => {
        if (bytes.length === 0) return Effect.fail(undefined)
        offset += bytes.length
        return Effect.as(progress(o, source, offset, total, false), bytes)
      }).pipe(Effect.mapError((e) => (e === undefined ? Option.none() : Option.some(e))))
    )
    yield* data.pipe(Stream.run(sftp.sink(remote, start > 0 ? { offset: start } : {})), Effect.ensuring(Effect.ignore(file.close)))
    if (o?.preserve === true) yield* sftp.setstat(remote, preserved(a))
    yield* progress(o, source, offset, total, true)
  })

/**
 * Uploads `source` on `local` to `remote`; a directory needs `recursive`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const put = (
  sftp: Sftp,
  local: SftpFileSystem,
  source: string,
  remote: string,
  options?: TransferOptions
): Effect.Effect<void, SftpError> =>
  Effect.gen(function*() {
    const a = yield* local.lstat(source)
    const type = fileType(a)
    if (type === "symlink") {
      const p = policy(options)
      if (p === "skip") return
      const target = yield* local.readlink(source)
      if (p === "copy") return yield* sftp.symlink(target, remote)
      return yield* put(sftp, local, target.startsWith("/") ? target : join(source.slice(0, source.lastIndexOf("/")) || "/", target), remote, options)
    }
    if (type !== "directory") return yield* putFile(sftp, local, source, remote, a, options)
    if (options?.recursive !== true) {
      return yield* Effect.fail(new SftpError({ code: "Failure", operation: "put", path: source, description: "is a directory (use recursive)" }))
    }
    if (!(yield* sftp.isdir(remote))) yield* sftp.mkdir(remote)
    for (const name of yield* local.readDirectory(source)) {
      yield* put(sftp, local, join(source, name), join(remote, name), options)
    }
    if (options?.preserve === true) yield* sftp.setstat(remote, preserved(a))
  })

const copyFile = (sftp: Sftp, from: string, to: string, a: Attributes, o?: TransferOptions) =>
  Effect.gen(function*() {
    const total = a.size === undefined ? undefined : Number(a.size)
    let bytes = 0
    // copy-data (OpenSSH 9) copies on the server: the data never crosses the network.
    if (sftp.extensions.has("copy-data")) {
      yield* sftp.remoteCopy(from, to)
      bytes = total ?? 0
    } else {
      yield* sftp.stream(from).pipe(
        Stream.tap((c) =>
          Effect.suspend(() => {
            bytes += c.length
            return progress(o, from, bytes, total, false)
          })
        ),
        Stream.run(sftp.sink(to))
      )
    }
    if (o?.preserve === true) yield* sftp.setstat(to, preserved(a))
    yield* progress(o, from, bytes, total, true)
  })

/**
 * Copies `from` to `to` on the server (asyncssh `copy`): with copy-data when the server offers it, else through
 * this client; a directory needs `recursive`; `symlinks` and `preserve` as for get/put (`resume` is not used).
 *
 * @since 0.1.0
 * @category constructors
 */
export const copy = (sftp: Sftp, from: string, to: string, options?: TransferOptions): Effect.Effect<void, SftpError> =>
  Effect.gen(function*() {
    const a = yield* sftp.stat(from)
    if (fileType(a) !== "directory") return yield* copyFile(sftp, from, to, a, options)
    if (options?.recursive !== true) {
      return yield* Effect.fail(new SftpError({ code: "Failure", operation: "copy", path: from, description: "is a directory (use recursive)" }))
    }
    yield* sftp.makedirs(to, { existOk: true })
    const entries = yield* Stream.runCollect(sftp.readdir(from))
    for (const e of entries) {
      if (e.filename === "." || e.filename === ".." || !isSafeName(e.filename)) continue
      const source = join(from, e.filename)
      if (yield* linkHandled(sftp, e, source, options, (t) => sftp.symlink(t, join(to, e.filename)))) continue
      yield* copy(sftp, source, join(to, e.filename), options)
    }
    if (options?.preserve === true) yield* sftp.setstat(to, preserved(a))
  })
