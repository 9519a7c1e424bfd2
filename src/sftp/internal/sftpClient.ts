/**
 * The operations of the `Sftp` client over one session (filexfer-02 §6 plus the OpenSSH extensions).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { SftpError } from "../../SshError.js"
import type * as Sftp from "../Sftp.js"
import { type Attributes, fileType, OpenFlag, StatusCode } from "../SftpAttrs.js"
import * as SftpExtensions from "../SftpExtensions.js"
import type * as SftpMessages from "../SftpMessages.js"
import type { ClientSession } from "./clientSession.js"
import { unexpected } from "./clientSession.js"
import * as Pipelined from "./pipelined.js"
import * as Tree from "./tree.js"

type Msg = SftpMessages.SftpMessage
type MakeRequest = (id: number) => Msg

/** OpenSSH sftp's default when the server reports no limits (sftp.c `-B 32768`). */
const DEFAULT_BLOCK = 32 * 1024
/** Our cap on one READ/WRITE (LIM-27: OpenSSH's sftp-server reports 255 KiB). */
const MAX_BLOCK = 255 * 1024
/** Requests in flight per transfer (LIM-29). */
const DEFAULT_REQUESTS = 64

const MODES: Readonly<Record<Sftp.OpenMode, number>> = {
  r: OpenFlag.READ,
  "r+": OpenFlag.READ | OpenFlag.WRITE,
  w: OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC,
  "w+": OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC,
  a: OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.APPEND,
  "a+": OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.APPEND,
  x: OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL,
  "x+": OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL
}

const toNumber = (v: bigint | undefined) => (v === undefined ? undefined : Number(v))

/** Builds the client over a started session. */
export const makeClient = (session: ClientSession, defaults: Sftp.SftpOptions = {}): Sftp.Sftp => {
  const serverRead = toNumber(session.limits?.maxReadLength)
  const serverWrite = toNumber(session.limits?.maxWriteLength)
  const readBlock = Math.max(1, Math.min(defaults.blockSize ?? serverRead ?? DEFAULT_BLOCK, serverRead ?? MAX_BLOCK, MAX_BLOCK))
  const writeBlock = Math.max(1, Math.min(defaults.blockSize ?? serverWrite ?? DEFAULT_BLOCK, serverWrite ?? MAX_BLOCK, MAX_BLOCK))
  const requests = Math.max(1, defaults.requests ?? DEFAULT_REQUESTS)
  const pipeline = (o: Sftp.TransferOptions | undefined, block: number): Pipelined.PipelineOptions => ({
    blockSize: Math.max(1, Math.min(o?.blockSize ?? block, block)),
    requests: Math.max(1, o?.requests ?? requests)
  })

  const call = (operation: string, path: string | undefined, make: MakeRequest) =>
    Effect.mapError(session.request(make), (e) => path === undefined ? e : new SftpError({ ...e, operation, path }))

  const status = (operation: string, path: string | undefined, make: MakeRequest): Effect.Effect<void, SftpError> =>
    Effect.flatMap(call(operation, path, make), (m) =>
      m._tag === "Status" && m.code === StatusCode.Ok ? Effect.void : Effect.fail(unexpected(m, operation, path)))

  const attrs = (operation: string, path: string | undefined, make: MakeRequest) =>
    Effect.flatMap(call(operation, path, make), (m) =>
      m._tag === "Attrs" ? Effect.succeed(m.attrs) : Effect.fail(unexpected(m, operation, path)))

  const name = (operation: string, path: string, make: MakeRequest) =>
    Effect.flatMap(call(operation, path, make), (m) =>
      m._tag === "Name" && m.entries.length === 1 ? Effect.succeed(m.entries[0]!.filename) :
      Effect.fail(m._tag === "Name" ? new SftpError({ code: "BadMessage", operation, path, description: `${m.entries.length} names` }) : unexpected(m, operation, path)))

  const requireExtension = (ext: string, operation: string, path?: string) =>
    session.extensions.has(ext) ? Effect.void : Effect.fail(new SftpError({
      code: "OpUnsupported",
      operation,
      ...(path === undefined ? {} : { path }),
      description: `the server does not offer ${ext}`
    }))

  const extended = (operation: string, path: string | undefined, request: SftpExtensions.ExtendedRequest) =>
    Effect.zipRight(
      requireExtension(SftpExtensions.nameOf(request), operation, path),
      call(operation, path, (id) => ({ _tag: "Extended", id, request }))
    )

  const extendedStatus = (operation: string, path: string | undefined, request: SftpExtensions.ExtendedRequest) =>
    Effect.flatMap(extended(operation, path, request), (m) =>
      m._tag === "Status" && m.code === StatusCode.Ok ? Effect.void : Effect.fail(unexpected(m, operation, path)))

  const extendedReply = <A>(
    operation: string,
    path: string | undefined,
    request: SftpExtensions.ExtendedRequest,
    decode: (data: Uint8Array) => Either.Either<A, { readonly description: string }>
  ) =>
    Effect.flatMap(extended(operation, path, request), (m) => {
      if (m._tag !== "ExtendedReply") return Effect.fail(unexpected(m, operation, path))
      const d = decode(m.data)
      return Either.isRight(d) ? Effect.succeed(d.right) : Effect.fail(
        new SftpError({ code: "BadMessage", operation, ...(path === undefined ? {} : { path }), description: d.left.description })
      )
    })

  const closeHandle = (handle: Uint8Array, path: string) => status("close", path, (id) => ({ _tag: "Close", id, handle }))

  const openHandle = (path: string, pflags: number, a: Attributes) =>
    Effect.flatMap(call("open", path, (id) => ({ _tag: "Open", id, path, pflags, attrs: a })), (m) =>
      m._tag === "Handle" ? Effect.succeed(m.handle) : Effect.fail(unexpected(m, "open", path)))

  const fileOf = (path: string, handle: Uint8Array): Sftp.SftpFile => ({
    path,
    handle,
    read: (length, offset) =>
      Effect.flatMap(
        call("read", path, (id) => ({ _tag: "Read", id, handle, offset: BigInt(offset), length })),
        (m) =>
          m._tag === "Data" ? Effect.succeed(m.data) :
          m._tag === "Status" && m.code === StatusCode.Eof ? Effect.succeed(new Uint8Array(0)) :
          Effect.fail(unexpected(m, "read", path))
      ),
    write: (data, offset) => status("write", path, (id) => ({ _tag: "Write", id, handle, offset: BigInt(offset), data })),
    stat: attrs("fstat", path, (id) => ({ _tag: "Fstat", id, handle })),
    setstat: (a) => status("fsetstat", path, (id) => ({ _tag: "Fsetstat", id, handle, attrs: a })),
    fsync: extendedStatus("fsync", path, { _tag: "Fsync", handle }),
    statvfs: extendedReply("fstatvfs", path, { _tag: "Fstatvfs", handle }, SftpExtensions.decodeStatVfs),
    stream: (o) => Pipelined.readStream(session, handle, path, o?.offset ?? 0, o?.length, pipeline(o, readBlock)),
    sink: (o) => Pipelined.writeSink(session, handle, path, o?.offset ?? 0, pipeline(o, writeBlock)),
    close: closeHandle(handle, path)
  })

  const open = (path: string, mode: Sftp.OpenMode | number = "r", a: Attributes = {}) =>
    Effect.map(
      Effect.acquireRelease(openHandle(path, typeof mode === "number" ? mode : MODES[mode], a), (h) =>
        Effect.ignore(closeHandle(h, path))),
      (h) => fileOf(path, h)
    )

  const stat = (path: string) => attrs("stat", path, (id) => ({ _tag: "Stat", id, path }))
  const lstat = (path: string) => attrs("lstat", path, (id) => ({ _tag: "Lstat", id, path }))

  const readdirChunks = (path: string): Stream.Stream<SftpMessages.NameEntry, SftpError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const handle = yield* Effect.acquireRelease(
        Effect.flatMap(call("opendir", path, (id) => ({ _tag: "Opendir", id, path })), (m) =>
          m._tag === "Handle" ? Effect.succeed(m.handle) : Effect.fail(unexpected(m, "opendir", path))),
        (h) => Effect.ignore(closeHandle(h, path))
      )
      return Stream.paginateEffect(true, () =>
        Effect.flatMap(call("readdir", path, (id) => ({ _tag: "Readdir", id, handle })), (m) =>
          m._tag === "Name" ? Effect.succeed([m.entries, Option.some(true)] as [ReadonlyArray<SftpMessages.NameEntry>, Option.Option<boolean>]) :
          m._tag === "Status" && m.code === StatusCode.Eof ? Effect.succeed([[], Option.none()] as [ReadonlyArray<SftpMessages.NameEntry>, Option.Option<boolean>]) :
          Effect.fail(unexpected(m, "readdir", path))))
        .pipe(Stream.mapConcat((entries) => entries))
    }))

  const exists = (path: string) =>
    stat(path).pipe(
      Effect.as(true),
      Effect.catchIf((e) => e.code === "NoSuchFile", () => Effect.succeed(false))
    )
  const isType = (t: "directory" | "file") => (path: string) =>
    stat(path).pipe(
      Effect.map((a) => fileType(a) === t),
      Effect.catchIf((e) => e.code === "NoSuchFile" || e.code === "PermissionDenied", () => Effect.succeed(false))
    )

  const self: Sftp.Sftp = {
    version: session.version,
    extensions: session.extensions,
    limits: session.limits,
    open,
    stat,
    lstat,
    setstat: (path, a) => status("setstat", path, (id) => ({ _tag: "Setstat", id, path, attrs: a })),
    lsetstat: (path, a) => extendedStatus("lsetstat", path, { _tag: "Lsetstat", path, attrs: a }),
    chmod: (path, mode) => self.setstat(path, { permissions: mode }),
    chown: (path, uid, gid) => self.setstat(path, { uid, gid }),
    utime: (path, atime, mtime) => self.setstat(path, { atime, mtime }),
    truncate: (path, size) => self.setstat(path, { size: BigInt(size) }),
    readdir: readdirChunks,
    listdir: (path) =>
      readdirChunks(path).pipe(
        Stream.map((e) => e.filename),
        Stream.filter((n) => n !== "." && n !== ".."),
        Stream.runCollect,
        Effect.map((c) => Array.from(c).sort())
      ),
    mkdir: (path, a = {}) => status("mkdir", path, (id) => ({ _tag: "Mkdir", id, path, attrs: a })),
    rmdir: (path) => status("rmdir", path, (id) => ({ _tag: "Rmdir", id, path })),
    remove: (path) => status("remove", path, (id) => ({ _tag: "Remove", id, path })),
    rename: (oldPath, newPath) => status("rename", oldPath, (id) => ({ _tag: "Rename", id, oldPath, newPath })),
    posixRename: (oldPath, newPath) => extendedStatus("posix-rename", oldPath, { _tag: "PosixRename", oldPath, newPath }),
    symlink: (target, linkPath) => status("symlink", linkPath, (id) => ({ _tag: "Symlink", id, target, linkPath })),
    link: (oldPath, newPath) => extendedStatus("hardlink", oldPath, { _tag: "Hardlink", oldPath, newPath }),
    readlink: (path) => name("readlink", path, (id) => ({ _tag: "Readlink", id, path })),
    realpath: (path) => name("realpath", path, (id) => ({ _tag: "Realpath", id, path })),
    expandPath: (path) =>
      Effect.flatMap(extended("expand-path", path, { _tag: "ExpandPath", path }), (m) =>
        m._tag === "Name" && m.entries.length === 1 ? Effect.succeed(m.entries[0]!.filename) : Effect.fail(unexpected(m, "expand-path", path))),
    homeDirectory: (username = "") =>
      Effect.flatMap(extended("home-directory", username, { _tag: "HomeDirectory", username }), (m) =>
        m._tag === "Name" && m.entries.length === 1 ? Effect.succeed(m.entries[0]!.filename) : Effect.fail(unexpected(m, "home-directory", username))),
    statvfs: (path) => extendedReply("statvfs", path, { _tag: "Statvfs", path }, SftpExtensions.decodeStatVfs),
    usersGroupsById: (uids, gids) =>
      extendedReply("users-groups-by-id", undefined, { _tag: "UsersGroupsById", uids, gids }, SftpExtensions.decodeUsersGroups),
    idsByName: (names, o) =>
      Effect.gen(function*() {
        let uid: number | undefined
        let gid: number | undefined
        const done = () => (names.user === undefined || uid !== undefined) && (names.group === undefined || gid !== undefined)
        const ask = (ids: ReadonlyArray<number>) =>
          Effect.map(self.usersGroupsById(names.user === undefined ? [] : ids, names.group === undefined ? [] : ids), (r) => {
            ids.forEach((id, i) => {
              if (uid === undefined && names.user !== undefined && r.users[i] === names.user) uid = id
              if (gid === undefined && names.group !== undefined && r.groups[i] === names.group) gid = id
            })
          })
        const candidates = (o?.candidates ?? []).slice(0, SftpExtensions.MAX_IDS)
        if (candidates.length > 0) yield* ask(candidates)
        const upTo = o?.upTo ?? 65_536
        for (let from = 0; from < upTo && !done(); from += SftpExtensions.MAX_IDS) {
          yield* ask(Array.from({ length: Math.min(SftpExtensions.MAX_IDS, upTo - from) }, (_, i) => from + i))
        }
        const missing = names.user !== undefined && uid === undefined ? `user "${names.user}"` :
          names.group !== undefined && gid === undefined ? `group "${names.group}"` : undefined
        if (missing !== undefined) {
          return yield* Effect.fail(new SftpError({ code: "Failure", operation: "users-groups-by-id", description: `the server has no ${missing}` }))
        }
        return { uid, gid }
      }),
    remoteCopy: (from, to, o) =>
      Effect.scoped(Effect.gen(function*() {
        const src = yield* open(from, "r")
        const dst = yield* open(to, o?.overwrite === false ? "x" : "w")
        yield* extendedStatus("copy-data", from, {
          _tag: "CopyData",
          readHandle: src.handle,
          readOffset: 0n,
          length: 0n,
          writeHandle: dst.handle,
          writeOffset: 0n
        })
      })),
    exists,
    isdir: isType("directory"),
    isfile: isType("file"),
    stream: (path, o) => Stream.unwrapScoped(Effect.map(open(path, "r"), (f) => f.stream(o))),
    sink: (path, o) =>
      Sink.unwrapScoped(Effect.map(open(path, o?.append === true ? "a" : o?.offset !== undefined ? "r+" : "w", o?.attrs ?? {}), (f) =>
        f.sink(o))),
    readFile: (path) =>
      Stream.runCollect(self.stream(path)).pipe(Effect.map((chunks) => {
        let n = 0
        for (const c of chunks) n += c.length
        const out = new Uint8Array(n)
        let p = 0
        for (const c of chunks) {
          out.set(c, p)
          p += c.length
        }
        return out
      })),
    writeFile: (path, data, o) => Effect.asVoid(Stream.run(Stream.make(data), self.sink(path, o))),
    makedirs: (path, o) => Tree.makedirs(self, path, o),
    rmtree: (path) => Tree.rmtree(self, path),
    glob: (pattern) => Tree.glob(self, pattern),
    walk: (path) => Tree.walk(self, path)
  }
  return self
}
