/**
 * An in-memory `SftpFileSystem`: directories, regular files and symbolic links with modes, owners and times.
 * For tests and for servers whose files are not on a disk. Not shared between processes; state lives as long as
 * the value.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SftpError } from "../SshError.js"
import { type Attributes, FileType, OpenFlag } from "./SftpAttrs.js"
import { SftpFileSystem, type SftpFsFile } from "./SftpFileSystem.js"

type Node =
  | { kind: "dir"; children: Map<string, Node>; meta: Meta }
  | { kind: "file"; data: Uint8Array; size: number; meta: Meta }
  | { kind: "link"; target: string; meta: Meta }

interface Meta {
  mode: number
  uid: number
  gid: number
  atime: number
  mtime: number
}

const now = () => Math.floor(Date.now() / 1000)
const meta = (mode: number): Meta => ({ mode, uid: 0, gid: 0, atime: now(), mtime: now() })

const err = (code: SftpError["code"], operation: string, path: string, description: string) =>
  new SftpError({ code, operation, path, description })

const split = (path: string) => path.split("/").filter((p) => p !== "")

const attrsOf = (n: Node): Attributes => {
  const type = n.kind === "dir" ? FileType.DIR : n.kind === "file" ? FileType.REG : FileType.LNK
  return {
    size: BigInt(n.kind === "file" ? n.size : n.kind === "link" ? n.target.length : 0),
    uid: n.meta.uid,
    gid: n.meta.gid,
    permissions: type | (n.meta.mode & 0o7777),
    atime: n.meta.atime,
    mtime: n.meta.mtime
  }
}

const apply = (n: Node, a: Attributes) => {
  if (a.permissions !== undefined) n.meta.mode = a.permissions & 0o7777
  if (a.uid !== undefined) n.meta.uid = a.uid
  if (a.gid !== undefined) n.meta.gid = a.gid
  if (a.atime !== undefined) n.meta.atime = a.atime
  if (a.mtime !== undefined) n.meta.mtime = a.mtime
  if (a.size !== undefined && n.kind === "file") resize(n, Number(a.size))
}

const resize = (f: { data: Uint8Array; size: number }, size: number) => {
  if (size > f.data.length) {
    const next = new Uint8Array(Math.max(size, f.data.length * 2))
    next.set(f.data.subarray(0, f.size))
    f.data = next
  } else if (size < f.size) f.data.fill(0, size, f.size)
  f.size = size
}

/**
 * A fresh, empty in-memory filesystem (a root directory with mode 0755).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): SftpFileSystem => {
  const root: Node = { kind: "dir", children: new Map(), meta: meta(0o755) }

  const lookup = (path: string): Node | undefined => {
    let n: Node = root
    for (const part of split(path)) {
      if (n.kind !== "dir") return undefined
      const next = n.children.get(part)
      if (next === undefined) return undefined
      n = next
    }
    return n
  }
  const parentOf = (path: string, operation: string) => {
    const parts = split(path)
    const name = parts.pop()
    const parent = lookup("/" + parts.join("/"))
    if (name === undefined) return Effect.fail(err("Failure", operation, path, "the root"))
    if (parent === undefined) return Effect.fail(err("NoSuchFile", operation, path, "No such file"))
    if (parent.kind !== "dir") return Effect.fail(err("Failure", operation, path, "Not a directory"))
    return Effect.succeed({ parent, name })
  }
  const get = (path: string, operation: string) => {
    const n = lookup(path)
    return n === undefined ? Effect.fail(err("NoSuchFile", operation, path, "No such file")) : Effect.succeed(n)
  }

  const fileHandle = (path: string, f: Extract<Node, { kind: "file" }>, flags: number): SftpFsFile => ({
    read: (offset, length) =>
      Effect.sync(() => {
        const o = Number(offset)
        return o >= f.size ? new Uint8Array(0) : f.data.slice(o, Math.min(f.size, o + length))
      }),
    write: (offset, data) =>
      Effect.sync(() => {
        const o = flags & OpenFlag.APPEND ? f.size : Number(offset)
        if (o + data.length > f.size) resize(f, o + data.length)
        f.data.set(data, o)
        f.meta.mtime = now()
      }),
    stat: Effect.sync(() => attrsOf(f)),
    setstat: (a) => Effect.sync(() => apply(f, a)),
    sync: Effect.void,
    close: Effect.void
  })

  return {
    open: (path, flags, a) =>
      Effect.gen(function*() {
        const existing = lookup(path)
        if (existing !== undefined) {
          if (flags & OpenFlag.CREAT && flags & OpenFlag.EXCL) return yield* Effect.fail(err("Failure", "open", path, "File exists"))
          if (existing.kind !== "file") return yield* Effect.fail(err("Failure", "open", path, "Not a regular file"))
          if (flags & OpenFlag.TRUNC) resize(existing, 0)
          return fileHandle(path, existing, flags)
        }
        if (!(flags & OpenFlag.CREAT)) return yield* Effect.fail(err("NoSuchFile", "open", path, "No such file"))
        const { name, parent } = yield* parentOf(path, "open")
        const f: Extract<Node, { kind: "file" }> = { kind: "file", data: new Uint8Array(0), size: 0, meta: meta(0o644) }
        apply(f, { ...a, size: undefined })
        parent.children.set(name, f)
        return fileHandle(path, f, flags)
      }),
    readDirectory: (path) =>
      Effect.flatMap(get(path, "opendir"), (n) =>
        n.kind === "dir" ? Effect.succeed([...n.children.keys()]) : Effect.fail(err("Failure", "opendir", path, "Not a directory"))),
    lstat: (path) => Effect.map(get(path, "lstat"), attrsOf),
    setstat: (path, a) => Effect.map(get(path, "setstat"), (n) => apply(n, a)),
    remove: (path) =>
      Effect.gen(function*() {
        const n = yield* get(path, "remove")
        if (n.kind === "dir") return yield* Effect.fail(err("Failure", "remove", path, "Is a directory"))
        const { name, parent } = yield* parentOf(path, "remove")
        parent.children.delete(name)
      }),
    mkdir: (path, a) =>
      Effect.gen(function*() {
        if (lookup(path) !== undefined) return yield* Effect.fail(err("Failure", "mkdir", path, "File exists"))
        const { name, parent } = yield* parentOf(path, "mkdir")
        const d: Node = { kind: "dir", children: new Map(), meta: meta(0o755) }
        apply(d, a)
        parent.children.set(name, d)
      }),
    rmdir: (path) =>
      Effect.gen(function*() {
        const n = yield* get(path, "rmdir")
        if (n.kind !== "dir") return yield* Effect.fail(err("Failure", "rmdir", path, "Not a directory"))
        if (n.children.size > 0) return yield* Effect.fail(err("Failure", "rmdir", path, "Directory not empty"))
        const { name, parent } = yield* parentOf(path, "rmdir")
        parent.children.delete(name)
      }),
    rename: (from, to, overwrite) =>
      Effect.gen(function*() {
        const n = yield* get(from, "rename")
        if (!overwrite && lookup(to) !== undefined) return yield* Effect.fail(err("Failure", "rename", to, "File exists"))
        if ((to + "/").startsWith(from + "/")) return yield* Effect.fail(err("Failure", "rename", to, "Invalid argument"))
        const src = yield* parentOf(from, "rename")
        const dst = yield* parentOf(to, "rename")
        src.parent.children.delete(src.name)
        dst.parent.children.set(dst.name, n)
      }),
    readlink: (path) =>
      Effect.flatMap(get(path, "readlink"), (n) =>
        n.kind === "link" ? Effect.succeed(n.target) : Effect.fail(err("Failure", "readlink", path, "Not a symbolic link"))),
    symlink: (target, linkPath) =>
      Effect.gen(function*() {
        if (lookup(linkPath) !== undefined) return yield* Effect.fail(err("Failure", "symlink", linkPath, "File exists"))
        const { name, parent } = yield* parentOf(linkPath, "symlink")
        parent.children.set(name, { kind: "link", target, meta: meta(0o777) })
      }),
    link: (from, to) =>
      Effect.gen(function*() {
        const n = yield* get(from, "hardlink")
        if (n.kind === "dir") return yield* Effect.fail(err("PermissionDenied", "hardlink", from, "Is a directory"))
        if (lookup(to) !== undefined) return yield* Effect.fail(err("Failure", "hardlink", to, "File exists"))
        const { name, parent } = yield* parentOf(to, "hardlink")
        parent.children.set(name, n)
      }),
    statvfs: () =>
      Effect.succeed({
        bsize: 4096n, frsize: 4096n, blocks: 0n, bfree: 0n, bavail: 0n, files: 0n, ffree: 0n, favail: 0n, fsid: 0n,
        flag: 0n, namemax: 255n
      })
  }
}

/**
 * A fresh in-memory filesystem as the `SftpFileSystem` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SftpFileSystem> = Layer.sync(SftpFileSystem, make)
