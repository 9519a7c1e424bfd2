/**
 * The OpenSSH SFTP extensions (OpenSSH PROTOCOL §4.3–§4.12): the payloads of SSH_FXP_EXTENDED requests and of
 * their SSH_FXP_EXTENDED_REPLY answers, with a pure codec. Unknown extensions keep their raw bytes.
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import * as Reader from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Writer from "../wire/Writer.js"
import { type Attributes, readAttrs, writeAttrs } from "./SftpAttrs.js"
import * as SftpNames from "./SftpNames.js"

/**
 * The extension names we speak, as OpenSSH's sftp-server advertises them in VERSION.
 *
 * @since 0.1.0
 * @category models
 */
export const ExtensionName = {
  PosixRename: "posix-rename@openssh.com",
  Statvfs: "statvfs@openssh.com",
  Fstatvfs: "fstatvfs@openssh.com",
  Hardlink: "hardlink@openssh.com",
  Fsync: "fsync@openssh.com",
  Lsetstat: "lsetstat@openssh.com",
  Limits: "limits@openssh.com",
  ExpandPath: "expand-path@openssh.com",
  CopyData: "copy-data",
  HomeDirectory: "home-directory",
  UsersGroupsById: "users-groups-by-id@openssh.com"
} as const

/**
 * An SSH_FXP_EXTENDED request body.
 *
 * @since 0.1.0
 * @category models
 */
export type ExtendedRequest =
  | { readonly _tag: "PosixRename"; readonly oldPath: string; readonly newPath: string }
  | { readonly _tag: "Statvfs"; readonly path: string }
  | { readonly _tag: "Fstatvfs"; readonly handle: Uint8Array }
  | { readonly _tag: "Hardlink"; readonly oldPath: string; readonly newPath: string }
  | { readonly _tag: "Fsync"; readonly handle: Uint8Array }
  | { readonly _tag: "Lsetstat"; readonly path: string; readonly attrs: Attributes }
  | { readonly _tag: "Limits" }
  | { readonly _tag: "ExpandPath"; readonly path: string }
  | {
    readonly _tag: "CopyData"
    readonly readHandle: Uint8Array
    readonly readOffset: bigint
    readonly length: bigint
    readonly writeHandle: Uint8Array
    readonly writeOffset: bigint
  }
  | { readonly _tag: "HomeDirectory"; readonly username: string }
  | { readonly _tag: "UsersGroupsById"; readonly uids: ReadonlyArray<number>; readonly gids: ReadonlyArray<number> }
  | { readonly _tag: "Unknown"; readonly name: string; readonly data: Uint8Array }

/**
 * statvfs@openssh.com's reply (PROTOCOL §4.4): the fields of statvfs(3).
 *
 * @since 0.1.0
 * @category models
 */
export interface StatVfs {
  readonly bsize: bigint
  readonly frsize: bigint
  readonly blocks: bigint
  readonly bfree: bigint
  readonly bavail: bigint
  readonly files: bigint
  readonly ffree: bigint
  readonly favail: bigint
  readonly fsid: bigint
  readonly flag: bigint
  readonly namemax: bigint
}

/**
 * limits@openssh.com's reply (PROTOCOL §4.8); 0 means "no limit" for open handles.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly maxPacketLength: bigint
  readonly maxReadLength: bigint
  readonly maxWriteLength: bigint
  readonly maxOpenHandles: bigint
}

/**
 * users-groups-by-id@openssh.com's reply (PROTOCOL §4.11): names in request order, "" where unknown.
 *
 * @since 0.1.0
 * @category models
 */
export interface UsersGroups {
  readonly users: ReadonlyArray<string>
  readonly groups: ReadonlyArray<string>
}

/**
 * SEC-08: ids per users-groups-by-id request or reply.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_IDS = 1024

const STATVFS_FIELDS = [
  "bsize",
  "frsize",
  "blocks",
  "bfree",
  "bavail",
  "files",
  "ffree",
  "favail",
  "fsid",
  "flag",
  "namemax"
] as const

const NAME_OF: Record<Exclude<ExtendedRequest["_tag"], "Unknown">, string> = {
  PosixRename: ExtensionName.PosixRename,
  Statvfs: ExtensionName.Statvfs,
  Fstatvfs: ExtensionName.Fstatvfs,
  Hardlink: ExtensionName.Hardlink,
  Fsync: ExtensionName.Fsync,
  Lsetstat: ExtensionName.Lsetstat,
  Limits: ExtensionName.Limits,
  ExpandPath: ExtensionName.ExpandPath,
  CopyData: ExtensionName.CopyData,
  HomeDirectory: ExtensionName.HomeDirectory,
  UsersGroupsById: ExtensionName.UsersGroupsById
}

/**
 * The extension name a request is sent under.
 *
 * @since 0.1.0
 * @category models
 */
export const nameOf = (req: ExtendedRequest): string => req._tag === "Unknown" ? req.name : NAME_OF[req._tag]

const uint32List = (ids: ReadonlyArray<number>) =>
  Writer.build((w) => {
    for (const id of ids) w.uint32(id)
  })

/**
 * Writes the extension name and its fields (after the request id).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeExtended = (w: Writer.Writer, req: ExtendedRequest): void => {
  w.string(nameOf(req))
  switch (req._tag) {
    case "PosixRename":
    case "Hardlink":
      w.string(SftpNames.encode(req.oldPath)).string(SftpNames.encode(req.newPath))
      return
    case "Statvfs":
    case "ExpandPath":
      w.string(SftpNames.encode(req.path))
      return
    case "Fstatvfs":
    case "Fsync":
      w.string(req.handle)
      return
    case "Lsetstat":
      w.string(SftpNames.encode(req.path))
      return writeAttrs(w, req.attrs)
    case "Limits":
      return
    case "CopyData":
      w.string(req.readHandle).uint64(req.readOffset).uint64(req.length).string(req.writeHandle).uint64(req.writeOffset)
      return
    case "HomeDirectory":
      w.string(SftpNames.encode(req.username))
      return
    case "UsersGroupsById":
      w.string(uint32List(req.uids)).string(uint32List(req.gids))
      return
    case "Unknown":
      w.raw(req.data)
      return
  }
}

const readIds = (r: Reader.Reader): ReadonlyArray<number> => {
  const b = r.string()
  if (b.length % 4 !== 0 || b.length / 4 > MAX_IDS) {
    throw new WireError({ reason: "Invalid", description: `id list of ${b.length} bytes` })
  }
  const inner = new Reader.Reader(b)
  const out: Array<number> = []
  while (inner.remaining > 0) out.push(inner.uint32())
  return out
}

const handle = (r: Reader.Reader): Uint8Array => {
  const h = r.string()
  if (h.length > 256) throw new WireError({ reason: "TooLarge", description: `handle of ${h.length} bytes` })
  return h.slice()
}

/** A path or user name: bytes kept losslessly (SftpNames). */
const name = (r: Reader.Reader): string => SftpNames.decode(r.string())

const DECODERS: Readonly<Record<string, (r: Reader.Reader) => ExtendedRequest>> = {
  [ExtensionName.PosixRename]: (r) => ({ _tag: "PosixRename", oldPath: name(r), newPath: name(r) }),
  [ExtensionName.Statvfs]: (r) => ({ _tag: "Statvfs", path: name(r) }),
  [ExtensionName.Fstatvfs]: (r) => ({ _tag: "Fstatvfs", handle: handle(r) }),
  [ExtensionName.Hardlink]: (r) => ({ _tag: "Hardlink", oldPath: name(r), newPath: name(r) }),
  [ExtensionName.Fsync]: (r) => ({ _tag: "Fsync", handle: handle(r) }),
  [ExtensionName.Lsetstat]: (r) => ({ _tag: "Lsetstat", path: name(r), attrs: readAttrs(r) }),
  [ExtensionName.Limits]: () => ({ _tag: "Limits" }),
  [ExtensionName.ExpandPath]: (r) => ({ _tag: "ExpandPath", path: name(r) }),
  [ExtensionName.CopyData]: (r) => ({
    _tag: "CopyData",
    readHandle: handle(r),
    readOffset: r.uint64(),
    length: r.uint64(),
    writeHandle: handle(r),
    writeOffset: r.uint64()
  }),
  [ExtensionName.HomeDirectory]: (r) => ({ _tag: "HomeDirectory", username: name(r) }),
  [ExtensionName.UsersGroupsById]: (r) => ({ _tag: "UsersGroupsById", uids: readIds(r), gids: readIds(r) })
}

/**
 * Reads an extension name and its fields (the rest of the packet is consumed).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeExtended = (r: Reader.Reader): ExtendedRequest => {
  const name = r.utf8()
  const decoder = Object.hasOwn(DECODERS, name) ? DECODERS[name] : undefined
  if (decoder === undefined) return { _tag: "Unknown", name, data: r.raw(r.remaining).slice() }
  return decoder(r)
}

/**
 * Encodes a statvfs@openssh.com reply body.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeStatVfs = (s: StatVfs): Uint8Array =>
  Writer.build((w) => {
    for (const f of STATVFS_FIELDS) w.uint64(s[f])
  })

/**
 * Decodes a statvfs@openssh.com reply body.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeStatVfs = (data: Uint8Array): Either.Either<StatVfs, WireError> =>
  Reader.run(data, (r) => {
    const out: Record<string, bigint> = {}
    for (const f of STATVFS_FIELDS) out[f] = r.uint64()
    r.end_()
    return {
      bsize: out.bsize!,
      frsize: out.frsize!,
      blocks: out.blocks!,
      bfree: out.bfree!,
      bavail: out.bavail!,
      files: out.files!,
      ffree: out.ffree!,
      favail: out.favail!,
      fsid: out.fsid!,
      flag: out.flag!,
      namemax: out.namemax!
    }
  })

/**
 * Encodes a limits@openssh.com reply body.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeLimits = (l: Limits): Uint8Array =>
  Writer.build((w) => {
    w.uint64(l.maxPacketLength).uint64(l.maxReadLength).uint64(l.maxWriteLength).uint64(l.maxOpenHandles)
  })

/**
 * Decodes a limits@openssh.com reply body.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeLimits = (data: Uint8Array): Either.Either<Limits, WireError> =>
  Reader.run(data, (r) => {
    const l = { maxPacketLength: r.uint64(), maxReadLength: r.uint64(), maxWriteLength: r.uint64(), maxOpenHandles: r.uint64() }
    r.end_()
    return l
  })

const nameList = (names: ReadonlyArray<string>) =>
  Writer.build((w) => {
    for (const n of names) w.string(SftpNames.encode(n))
  })

const readNames = (r: Reader.Reader): ReadonlyArray<string> => {
  const inner = new Reader.Reader(r.string())
  const out: Array<string> = []
  while (inner.remaining > 0) {
    if (out.length === MAX_IDS) throw new WireError({ reason: "TooLarge", description: "too many names" })
    out.push(SftpNames.decode(inner.string()))
  }
  return out
}

/**
 * Encodes a users-groups-by-id@openssh.com reply body.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeUsersGroups = (u: UsersGroups): Uint8Array =>
  Writer.build((w) => {
    w.string(nameList(u.users)).string(nameList(u.groups))
  })

/**
 * Decodes a users-groups-by-id@openssh.com reply body.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeUsersGroups = (data: Uint8Array): Either.Either<UsersGroups, WireError> =>
  Reader.run(data, (r) => {
    const u = { users: readNames(r), groups: readNames(r) }
    r.end_()
    return u
  })
