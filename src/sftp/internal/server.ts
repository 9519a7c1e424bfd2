/**
 * One SFTP server session (filexfer-02 version 3 plus OpenSSH's extensions) over a byte pipe, on an
 * `SftpFileSystem`. READs and WRITEs are served concurrently, everything else in order (serverSchedule.ts; SEC-52:
 * at most `MAX_IN_FLIGHT`, and channel data is taken only as that capacity frees, so the window is the backpressure).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { SftpError } from "../../SshError.js"
import { type Attributes, OpenFlag, StatusCode } from "../SftpAttrs.js"
import * as SftpExtensions from "../SftpExtensions.js"
import type { SftpFileSystem, SftpFsFile } from "../SftpFileSystem.js"
import { PacketAssembler } from "../SftpFraming.js"
import * as SftpMessages from "../SftpMessages.js"
import { longname } from "./longname.js"
import { normalize, resolve, toPath } from "./serverPaths.js"
import * as Schedule from "./serverSchedule.js"

/** The server's options (see `SftpServer.SftpServerOptions`). */
export interface ServerOptions {
  readonly readOnly?: boolean | undefined
  readonly maxHandles?: number | undefined
  readonly home?: string | undefined
  readonly allowSpecialModeBits?: boolean | undefined
}

/** SEC-56 / LIM-27: READ lengths are clamped to this (OpenSSH `SFTP_MAX_READ_LENGTH`). */
export const MAX_READ = 255 * 1024
/** SEC-56: entries per NAME reply to READDIR. */
export const READDIR_BATCH = 100
/** SEC-53 / LIM-28: open handles per session. */
export const DEFAULT_MAX_HANDLES = 1000

type Handle =
  | { readonly kind: "file"; readonly path: string; readonly file: SftpFsFile; readonly append: boolean }
  | { readonly kind: "dir"; readonly path: string; names: ReadonlyArray<string> | undefined; pos: number }

type Reply = SftpMessages.SftpMessage
/** A reply as a message, or already framed (a DATA packet read straight into `buffer`). */
type Out = Reply | { readonly _tag: "Packet"; readonly bytes: Uint8Array; readonly buffer: Uint8Array }

/** DATA framing: uint32 length, byte 103, uint32 id, uint32 data length (filexfer-02 §7). */
const DATA_HEAD = 13
/** A DATA packet of the largest READ. */
const FULL_PACKET = DATA_HEAD + MAX_READ

const ok = (id: number): Reply => ({ _tag: "Status", id, code: StatusCode.Ok, message: "Success", language: "" })
const status = (id: number, code: number, message: string): Reply => ({ _tag: "Status", id, code, message, language: "" })

/**
 * The buffers READ replies are read into. When the writer is done with a packet's bytes once its write completed
 * (the SSH channel seals them in the write), a session keeps up to MAX_IN_FLIGHT of them for the next READs
 * instead of allocating (and zeroing) 255 KiB per READ, as sftp-server keeps its buffers; they are dropped when a
 * handle is closed (the end of a transfer) and with the session. A buffer only ever serves one session.
 */
class ReplyBuffers {
  #spare: Array<Uint8Array> = []

  constructor(readonly reuse: boolean) {}

  take(size: number): Uint8Array {
    if (!this.reuse) return new Uint8Array(size)
    return this.#spare.pop() ?? new Uint8Array(FULL_PACKET)
  }

  give(buffer: Uint8Array): void {
    if (this.reuse && buffer.length === FULL_PACKET && this.#spare.length < Schedule.MAX_IN_FLIGHT) this.#spare.push(buffer)
  }

  drop(): void {
    this.#spare.length = 0
  }
}

/** Reads into a DATA packet: the bytes land where they are sent from (no copy on our side). */
const readPacket = (
  id: number,
  length: number,
  readInto: (into: Uint8Array) => Effect.Effect<number, SftpError>,
  buffers: ReplyBuffers
): Effect.Effect<Out, SftpError> => {
  const buffer = buffers.take(DATA_HEAD + length)
  return Effect.matchEffect(readInto(buffer.subarray(DATA_HEAD, DATA_HEAD + length)), {
    onFailure: (e) => {
      buffers.give(buffer)
      return Effect.fail(e)
    },
    onSuccess: (n): Effect.Effect<Out> => {
      if (n === 0) {
        buffers.give(buffer)
        return Effect.succeed(status(id, StatusCode.Eof, "End of file"))
      }
      const view = new DataView(buffer.buffer, buffer.byteOffset)
      view.setUint32(0, DATA_HEAD - 4 + n)
      buffer[4] = SftpMessages.PacketType.DATA
      view.setUint32(5, id)
      view.setUint32(9, n)
      return Effect.succeed({ _tag: "Packet", bytes: buffer.subarray(0, DATA_HEAD + n), buffer })
    }
  })
}

const errorReply = (id: number, e: SftpError): Reply =>
  status(id, StatusCode[e.code], e.code === "NoSuchFile" ? "No such file" : e.description)

const denied = (operation: string) =>
  new SftpError({ code: "PermissionDenied", operation, description: "Permission denied (read-only)" })

const WRITE_FLAGS = OpenFlag.WRITE | OpenFlag.APPEND | OpenFlag.CREAT | OpenFlag.TRUNC | OpenFlag.EXCL

const EXTENSIONS = (fs: SftpFileSystem): ReadonlyArray<SftpMessages.Extension> => [
  { name: SftpExtensions.ExtensionName.PosixRename, data: "1" },
  ...(fs.statvfs === undefined ? [] : [
    { name: SftpExtensions.ExtensionName.Statvfs, data: "2" },
    { name: SftpExtensions.ExtensionName.Fstatvfs, data: "2" }
  ]),
  { name: SftpExtensions.ExtensionName.Hardlink, data: "1" },
  { name: SftpExtensions.ExtensionName.Fsync, data: "1" },
  { name: SftpExtensions.ExtensionName.Lsetstat, data: "1" },
  { name: SftpExtensions.ExtensionName.Limits, data: "1" },
  { name: SftpExtensions.ExtensionName.ExpandPath, data: "1" },
  { name: SftpExtensions.ExtensionName.CopyData, data: "1" },
  { name: SftpExtensions.ExtensionName.HomeDirectory, data: "1" },
  { name: SftpExtensions.ExtensionName.UsersGroupsById, data: "1" }
]

/** Serves one session until the input ends or the client breaks the framing (then the session ends). */
export const serve = (
  fs: SftpFileSystem,
  options: ServerOptions,
  input: Stream.Stream<Uint8Array, unknown>,
  writePacket: (bytes: Uint8Array) => Effect.Effect<void, unknown>,
  /** `writePacket` is done with the bytes when its Effect completes: READ buffers may then be reused. */
  writeConsumes = false
): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    const buffers = new ReplyBuffers(writeConsumes)
    // Replies are written from concurrent requests: one packet at a time (a write may wait for the window midway).
    const writing = yield* Effect.makeSemaphore(1)
    const write = (bytes: Uint8Array) => writing.withPermits(1)(writePacket(bytes))
    const maxHandles = options.maxHandles ?? DEFAULT_MAX_HANDLES
    const readOnly = options.readOnly === true
    const home = normalize(options.home ?? "/") ?? []
    const handles = new Map<string, Handle>()
    let nextHandle = 0
    let initialised = false
    const assembler = new PacketAssembler()
    const key = (h: Uint8Array) => Array.from(h).join(",")
    const tooMany = new SftpError({ code: "Failure", operation: "open", description: "too many open handles" })

    const addHandle = (h: Handle): Effect.Effect<Uint8Array, SftpError> => {
      if (handles.size >= maxHandles) return Effect.fail(tooMany)
      const bytes = new Uint8Array(4)
      new DataView(bytes.buffer).setUint32(0, nextHandle++)
      handles.set(key(bytes), h)
      return Effect.succeed(bytes)
    }
    const getHandle = <K extends Handle["kind"]>(h: Uint8Array, kind: K, operation: string) => {
      const found = handles.get(key(h))
      return found !== undefined && found.kind === kind
        ? Effect.succeed(found as Extract<Handle, { kind: K }>)
        : Effect.fail(new SftpError({ code: "Failure", operation, description: "invalid handle" }))
    }
    const path = (p: string, operation: string, followFinal = true) => resolve(fs, p, home, followFinal, operation)
    const guard = (operation: string) => (readOnly ? Effect.fail(denied(operation)) : Effect.void)
    const clean = (a: Attributes): Attributes =>
      options.allowSpecialModeBits === true || a.permissions === undefined ? a : { ...a, permissions: a.permissions & 0o777 }

    const nameReply = (id: number, p: string): Reply => ({
      _tag: "Name",
      id,
      entries: [{ filename: p, longname: p, attrs: {} }]
    })

    const closeAll = Effect.suspend(() => {
      const all = [...handles.values()]
      handles.clear()
      return Effect.forEach(all, (h) => (h.kind === "file" ? Effect.ignore(h.file.close) : Effect.void), { discard: true })
    })

    const readdir = (id: number, h: Extract<Handle, { kind: "dir" }>) =>
      Effect.gen(function*() {
        if (h.names === undefined) h.names = [".", "..", ...(yield* fs.readDirectory(h.path))]
        if (h.pos >= h.names.length) return status(id, StatusCode.Eof, "End of file")
        const batch = h.names.slice(h.pos, h.pos + READDIR_BATCH)
        h.pos += batch.length
        const entries = yield* Effect.forEach(batch, (name) =>
          fs.lstat(name === "." || name === ".." ? h.path : toPath([...(normalize(h.path) ?? []), name])).pipe(
            Effect.map((attrs): SftpMessages.NameEntry => ({ filename: name, longname: longname(name, attrs), attrs })),
            Effect.orElseSucceed((): SftpMessages.NameEntry => ({ filename: name, longname: name, attrs: {} }))
          ))
        return { _tag: "Name", id, entries } satisfies Reply
      })

    const extended = (id: number, req: SftpExtensions.ExtendedRequest): Effect.Effect<Reply, SftpError> =>
      Effect.gen(function*() {
        switch (req._tag) {
          case "PosixRename":
            yield* guard("posix-rename")
            yield* fs.rename(yield* path(req.oldPath, "posix-rename", false), yield* path(req.newPath, "posix-rename", false), true)
            return ok(id)
          case "Hardlink":
            yield* guard("hardlink")
            yield* fs.link(yield* path(req.oldPath, "hardlink", false), yield* path(req.newPath, "hardlink", false))
            return ok(id)
          case "Lsetstat":
            yield* guard("lsetstat")
            yield* fs.setstat(yield* path(req.path, "lsetstat", false), clean(req.attrs))
            return ok(id)
          case "Fsync": {
            const h = yield* getHandle(req.handle, "file", "fsync")
            yield* h.file.sync
            return ok(id)
          }
          case "Statvfs":
          case "Fstatvfs": {
            if (fs.statvfs === undefined) return status(id, StatusCode.OpUnsupported, "Operation unsupported")
            const p = req._tag === "Statvfs" ? yield* path(req.path, "statvfs") : (yield* getHandle(req.handle, "file", "fstatvfs")).path
            return { _tag: "ExtendedReply", id, data: SftpExtensions.encodeStatVfs(yield* fs.statvfs(p)) } satisfies Reply
          }
          case "Limits":
            return {
              _tag: "ExtendedReply",
              id,
              data: SftpExtensions.encodeLimits({
                maxPacketLength: BigInt(SftpMessages.MAX_PACKET_LENGTH),
                maxReadLength: BigInt(MAX_READ),
                maxWriteLength: BigInt(MAX_READ),
                maxOpenHandles: BigInt(maxHandles)
              })
            } satisfies Reply
          case "ExpandPath": {
            const p = req.path === "~" ? "" : req.path.startsWith("~/") ? req.path.slice(2) : req.path
            return nameReply(id, yield* path(p === "" ? "." : p, "expand-path"))
          }
          case "HomeDirectory":
            return nameReply(id, toPath(home))
          case "UsersGroupsById":
            // Virtual trees have no account database: every name is unknown ("").
            return {
              _tag: "ExtendedReply",
              id,
              data: SftpExtensions.encodeUsersGroups({ users: req.uids.map(() => ""), groups: req.gids.map(() => "") })
            } satisfies Reply
          case "CopyData": {
            yield* guard("copy-data")
            const from = yield* getHandle(req.readHandle, "file", "copy-data")
            const to = yield* getHandle(req.writeHandle, "file", "copy-data")
            let copied = 0n
            while (req.length === 0n || copied < req.length) {
              const want = req.length === 0n ? MAX_READ : Number(req.length - copied < BigInt(MAX_READ) ? req.length - copied : BigInt(MAX_READ))
              const data = yield* from.file.read(req.readOffset + copied, want)
              if (data.length === 0) break
              yield* to.file.write(req.writeOffset + copied, data)
              copied += BigInt(data.length)
            }
            return ok(id)
          }
          case "Unknown":
            return status(id, StatusCode.OpUnsupported, "Operation unsupported")
        }
      })

    const handle = (m: SftpMessages.SftpMessage): Effect.Effect<Out, SftpError> | undefined => {
      switch (m._tag) {
        case "Open":
          return Effect.gen(function*() {
            if (m.pflags & WRITE_FLAGS) yield* guard("open")
            const p = yield* path(m.path, "open")
            // SEC-53: refuse before the backend opens anything.
            if (handles.size >= maxHandles) return yield* Effect.fail(tooMany)
            const file = yield* fs.open(p, m.pflags, clean(m.attrs))
            return { _tag: "Handle", id: m.id, handle: yield* addHandle({ kind: "file", path: p, file, append: (m.pflags & OpenFlag.APPEND) !== 0 }) } satisfies Reply
          })
        case "Opendir":
          return Effect.gen(function*() {
            const p = yield* path(m.path, "opendir")
            const attrs = yield* fs.lstat(p)
            if (((attrs.permissions ?? 0) & 0o170000) !== 0o040000) {
              return yield* Effect.fail(new SftpError({ code: "Failure", operation: "opendir", description: "Not a directory" }))
            }
            return { _tag: "Handle", id: m.id, handle: yield* addHandle({ kind: "dir", path: p, names: undefined, pos: 0 }) } satisfies Reply
          })
        case "Close":
          return Effect.gen(function*() {
            const h = handles.get(key(m.handle))
            if (h === undefined) return status(m.id, StatusCode.Failure, "invalid handle")
            handles.delete(key(m.handle))
            buffers.drop()
            if (h.kind === "file") yield* h.file.close
            return ok(m.id)
          })
        case "Read":
          return Effect.gen(function*() {
            const h = yield* getHandle(m.handle, "file", "read")
            const length = Math.min(m.length, MAX_READ)
            const into = h.file.readInto
            if (into !== undefined) return yield* readPacket(m.id, length, (buffer) => into(m.offset, buffer), buffers)
            const data = yield* h.file.read(m.offset, length)
            return data.length === 0 ? status(m.id, StatusCode.Eof, "End of file") : { _tag: "Data", id: m.id, data } satisfies Reply
          })
        case "Write":
          return Effect.gen(function*() {
            const h = yield* getHandle(m.handle, "file", "write")
            yield* h.file.write(m.offset, m.data)
            return ok(m.id)
          })
        case "Stat":
        case "Lstat":
          return Effect.map(Effect.flatMap(path(m.path, "stat", m._tag === "Stat"), fs.lstat), (attrs): Reply => ({ _tag: "Attrs", id: m.id, attrs }))
        case "Fstat":
          return Effect.map(Effect.flatMap(getHandle(m.handle, "file", "fstat"), (h) => h.file.stat), (attrs): Reply => ({ _tag: "Attrs", id: m.id, attrs }))
        case "Setstat":
          return guard("setstat").pipe(Effect.zipRight(path(m.path, "setstat")), Effect.flatMap((p) => fs.setstat(p, clean(m.attrs))), Effect.as(ok(m.id)))
        case "Fsetstat":
          return guard("fsetstat").pipe(Effect.zipRight(getHandle(m.handle, "file", "fsetstat")), Effect.flatMap((h) => h.file.setstat(clean(m.attrs))), Effect.as(ok(m.id)))
        case "Readdir":
          return Effect.flatMap(getHandle(m.handle, "dir", "readdir"), (h) => readdir(m.id, h))
        case "Remove":
          return guard("remove").pipe(Effect.zipRight(path(m.path, "remove", false)), Effect.flatMap(fs.remove), Effect.as(ok(m.id)))
        case "Mkdir":
          return guard("mkdir").pipe(Effect.zipRight(path(m.path, "mkdir", false)), Effect.flatMap((p) => fs.mkdir(p, clean(m.attrs))), Effect.as(ok(m.id)))
        case "Rmdir":
          return guard("rmdir").pipe(Effect.zipRight(path(m.path, "rmdir", false)), Effect.flatMap(fs.rmdir), Effect.as(ok(m.id)))
        case "Realpath":
          return Effect.map(path(m.path, "realpath"), (p) => nameReply(m.id, p))
        case "Rename":
          return Effect.gen(function*() {
            yield* guard("rename")
            yield* fs.rename(yield* path(m.oldPath, "rename", false), yield* path(m.newPath, "rename", false), false)
            return ok(m.id)
          })
        case "Readlink":
          return Effect.gen(function*() {
            const target = yield* fs.readlink(yield* path(m.path, "readlink", false))
            return nameReply(m.id, target)
          })
        case "Symlink":
          return Effect.gen(function*() {
            yield* guard("symlink")
            if (m.target.includes("\0")) return yield* Effect.fail(new SftpError({ code: "Failure", operation: "symlink", description: "bad target" }))
            yield* fs.symlink(m.target, yield* path(m.linkPath, "symlink", false))
            return ok(m.id)
          })
        case "Extended":
          return extended(m.id, m.request)
        default:
          return undefined
      }
    }

    /** READ and WRITE run concurrently unless their ranges of one file conflict (serverSchedule.ts). */
    const footprint = (m: SftpMessages.SftpMessage): Schedule.Footprint | undefined => {
      if (m._tag !== "Read" && m._tag !== "Write") return undefined
      const h = handles.get(key(m.handle))
      if (h === undefined || h.kind !== "file") return undefined
      const length = m._tag === "Read" ? Math.min(m.length, MAX_READ) : m.data.length
      // APPEND (OpenSSH's reput opens with it): each write lands at the end whatever its offset (Linux pwrite(2)
      // ignores the offset under O_APPEND), so the writes of such a handle touch the whole file and run in order.
      if (m._tag === "Write" && h.append) return { file: h.path, start: 0n, end: 2n ** 64n, write: true }
      return { file: h.path, start: m.offset, end: m.offset + BigInt(length), write: m._tag === "Write" }
    }

    const onPacket = (body: Uint8Array): Effect.Effect<boolean, unknown> => {
      const d = SftpMessages.decode(body)
      if (!initialised) {
        if (Either.isLeft(d) || d.right._tag !== "Init") return Effect.succeed(false)
        initialised = true
        return Effect.as(write(SftpMessages.encodePacket({ _tag: "Version", version: 3, extensions: EXTENSIONS(fs) })), true)
      }
      const id = SftpMessages.peekId(body)
      if (Either.isLeft(d)) {
        // A request type we do not know is OP_UNSUPPORTED (SEC-52); a known one we cannot parse is BAD_MESSAGE.
        if (id === undefined) return Effect.succeed(false)
        const known = body[0]! >= SftpMessages.PacketType.OPEN && body[0]! <= SftpMessages.PacketType.SYMLINK || body[0] === SftpMessages.PacketType.EXTENDED
        const reply = status(id, known ? StatusCode.BadMessage : StatusCode.OpUnsupported, known ? "Bad message" : "Operation unsupported")
        return Effect.as(schedule.run(undefined, write(SftpMessages.encodePacket(reply))), true)
      }
      // A second INIT, or a reply type sent as a request: the client is confused; end the session (SEC-52).
      const run = handle(d.right)
      if (run === undefined) return Effect.succeed(false)
      const respond = run.pipe(
        Effect.catchAll((e) => Effect.succeed(errorReply(id ?? 0, e))),
        Effect.flatMap((reply) =>
          reply._tag === "Packet"
            ? Effect.ensuring(write(reply.bytes), Effect.sync(() => buffers.give(reply.buffer)))
            : write(SftpMessages.encodePacket(reply))
        )
      )
      return Effect.as(schedule.run(footprint(d.right), respond), true)
    }

    const schedule = yield* Schedule.make
    yield* input.pipe(
      Stream.mapEffect((chunk) =>
        Effect.gen(function*() {
          const r = assembler.push(chunk)
          if (Either.isLeft(r)) return false
          for (const body of r.right) {
            if (!(yield* onPacket(body)) || schedule.failure() !== undefined) return false
          }
          return true
        })
      ),
      Stream.takeWhile((go) => go),
      Stream.runDrain,
      // Every request started is answered (or its reply fails) before the handles go.
      Effect.ensuring(schedule.drain),
      // SEC-53: the session's end closes every handle it left open.
      Effect.ensuring(closeAll)
    )
  }).pipe(Effect.scoped)
