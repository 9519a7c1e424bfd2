/**
 * Recursive get and put between an `Sftp` client and a local `SftpFileSystem` (on Node: `NodeSftp.fileSystem("/")`),
 * with modes and times preserved on request and progress events. Remote names are checked before anything is
 * written locally (SEC-57): a name must be one path component, so nothing lands outside the target directory;
 * symbolic links are not followed unless asked; setuid/setgid/sticky bits are never applied.
 *
 * @since 0.1.0
 */
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
  /** Follow symbolic links met inside a tree (default: skip them). */
  readonly followSymlinks?: boolean | undefined
  /** Called as data moves (e.g. `Queue.offer` into a queue read as a Stream). */
  readonly onProgress?: ((event: ProgressEvent) => Effect.Effect<void>) | undefined
}

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
    const file = yield* local.open(target, OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC, {})
    let offset = 0
    yield* sftp.stream(remote).pipe(
      Stream.runForEach((chunk) =>
        Effect.zipRight(
          file.write(BigInt(offset), chunk),
          Effect.suspend(() => {
            offset += chunk.length
            return progress(o, remote, offset, total, false)
          })
        )
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
      const type = fileType(e.attrs)
      if (type === "symlink" && options?.followSymlinks !== true) continue
      yield* get(sftp, join(remote, e.filename), local, join(target, e.filename), options)
    }
    if (options?.preserve === true) yield* local.setstat(target, preserved(a))
  })

const putFile = (sftp: Sftp, local: SftpFileSystem, source: string, remote: string, a: Attributes, o?: TransferOptions) =>
  Effect.gen(function*() {
    const total = a.size === undefined ? undefined : Number(a.size)
    const file = yield* local.open(source, OpenFlag.READ, {})
    const chunk = 256 * 1024
    let offset = 0
    const data = Stream.repeatEffectOption(
      Effect.flatMap(Effect.suspend(() => file.read(BigInt(offset), chunk)), (bytes) => {
        if (bytes.length === 0) return Effect.fail(undefined)
        offset += bytes.length
        return Effect.as(progress(o, source, offset, total, false), bytes)
      }).pipe(Effect.mapError((e) => (e === undefined ? Option.none() : Option.some(e))))
    )
    yield* data.pipe(Stream.run(sftp.sink(remote)), Effect.ensuring(Effect.ignore(file.close)))
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
      if (options?.followSymlinks !== true) return
      return yield* put(sftp, local, yield* local.readlink(source).pipe(Effect.map((t) => t.startsWith("/") ? t : join(source.slice(0, source.lastIndexOf("/")) || "/", t))), remote, options)
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
