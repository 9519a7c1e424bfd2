/**
 * SFTP file attributes (draft-ietf-secsh-filexfer-02 §5, version 3): the ATTRS structure with its flag-selected
 * fields, the OPEN flags and the status codes, with a pure codec. Sizes are `bigint` (uint64, SEC-09).
 *
 * @since 0.1.0
 */
import type { Reader } from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import type { Writer } from "../wire/Writer.js"
import { SFTP_STATUS_NAMES } from "../SshError.js"

/**
 * filexfer-02 §5: which ATTRS fields are present.
 *
 * @since 0.1.0
 * @category models
 */
export const AttrFlag = {
  SIZE: 0x00000001,
  UIDGID: 0x00000002,
  PERMISSIONS: 0x00000004,
  ACMODTIME: 0x00000008,
  EXTENDED: 0x80000000
} as const

/**
 * filexfer-02 §6.3: the pflags of SSH_FXP_OPEN.
 *
 * @since 0.1.0
 * @category models
 */
export const OpenFlag = {
  READ: 0x01,
  WRITE: 0x02,
  APPEND: 0x04,
  CREAT: 0x08,
  TRUNC: 0x10,
  EXCL: 0x20
} as const

/**
 * A status code's name (`"NoSuchFile"` …); unknown numbers from a peer map to `"Failure"`.
 *
 * @since 0.1.0
 * @category models
 */
export type StatusName = typeof SFTP_STATUS_NAMES[number]

/**
 * filexfer-02 §7: the status codes of SSH_FXP_STATUS, by name (made from `SshError.SFTP_STATUS_NAMES`, whose
 * order is the code numbers).
 *
 * @since 0.1.0
 * @category models
 */
export const StatusCode: { readonly [K in StatusName]: number } = Object.fromEntries(
  SFTP_STATUS_NAMES.map((name, code) => [name, code])
) as { readonly [K in StatusName]: number }

/**
 * The name of a status code number.
 *
 * @since 0.1.0
 * @category models
 */
export const statusName = (code: number): StatusName => SFTP_STATUS_NAMES[code] ?? "Failure"

/**
 * POSIX file-type bits of `permissions` (st_mode), as OpenSSH sends them.
 *
 * @since 0.1.0
 * @category models
 */
export const FileType = {
  MASK: 0o170000,
  FIFO: 0o010000,
  CHR: 0o020000,
  DIR: 0o040000,
  BLK: 0o060000,
  REG: 0o100000,
  LNK: 0o120000,
  SOCK: 0o140000
} as const

/**
 * An extended attribute pair (filexfer-02 §5 extended_type / extended_data).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExtendedAttr {
  readonly type: string
  readonly data: Uint8Array
}

/**
 * File attributes; absent fields were not sent. Times are seconds since the epoch (uint32 in version 3).
 *
 * @since 0.1.0
 * @category models
 */
export interface Attributes {
  readonly size?: bigint | undefined
  readonly uid?: number | undefined
  readonly gid?: number | undefined
  /** st_mode: the file type bits and the permission bits. */
  readonly permissions?: number | undefined
  readonly atime?: number | undefined
  readonly mtime?: number | undefined
  readonly extended?: ReadonlyArray<ExtendedAttr> | undefined
}

/**
 * SEC-57: extended attribute pairs per ATTRS are bounded.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_EXTENDED_ATTRS = 64

/**
 * Writes ATTRS (filexfer-02 §5). uid/gid and atime/mtime travel in pairs: a missing partner is sent as 0.
 *
 * @since 0.1.0
 * @category encoding
 */
export const writeAttrs = (w: Writer, a: Attributes): void => {
  let flags = 0
  if (a.size !== undefined) flags |= AttrFlag.SIZE
  if (a.uid !== undefined || a.gid !== undefined) flags |= AttrFlag.UIDGID
  if (a.permissions !== undefined) flags |= AttrFlag.PERMISSIONS
  if (a.atime !== undefined || a.mtime !== undefined) flags |= AttrFlag.ACMODTIME
  if (a.extended !== undefined && a.extended.length > 0) flags |= AttrFlag.EXTENDED
  w.uint32(flags >>> 0)
  if (a.size !== undefined) w.uint64(a.size)
  if (flags & AttrFlag.UIDGID) w.uint32(a.uid ?? 0).uint32(a.gid ?? 0)
  if (a.permissions !== undefined) w.uint32(a.permissions)
  if (flags & AttrFlag.ACMODTIME) w.uint32(a.atime ?? 0).uint32(a.mtime ?? 0)
  if (flags & AttrFlag.EXTENDED) {
    w.uint32(a.extended!.length)
    for (const e of a.extended!) w.string(e.type).string(e.data)
  }
}

/**
 * Reads ATTRS (filexfer-02 §5); unknown flag bits are an error (a v3 peer sends none), the extended count is
 * bounded by the remaining bytes and `MAX_EXTENDED_ATTRS` (SEC-08, SEC-57).
 *
 * @since 0.1.0
 * @category decoding
 */
export const readAttrs = (r: Reader): Attributes => {
  const flags = r.uint32()
  if ((flags & ~(AttrFlag.SIZE | AttrFlag.UIDGID | AttrFlag.PERMISSIONS | AttrFlag.ACMODTIME | AttrFlag.EXTENDED)) !== 0) {
    throw new WireError({ reason: "Invalid", description: `unknown ATTRS flags 0x${(flags >>> 0).toString(16)}` })
  }
  const out: {
    size?: bigint
    uid?: number
    gid?: number
    permissions?: number
    atime?: number
    mtime?: number
    extended?: ReadonlyArray<ExtendedAttr>
  } = {}
  if (flags & AttrFlag.SIZE) out.size = r.uint64()
  if (flags & AttrFlag.UIDGID) {
    out.uid = r.uint32()
    out.gid = r.uint32()
  }
  if (flags & AttrFlag.PERMISSIONS) out.permissions = r.uint32()
  if (flags & AttrFlag.ACMODTIME) {
    out.atime = r.uint32()
    out.mtime = r.uint32()
  }
  if (flags & AttrFlag.EXTENDED) {
    const n = r.uint32()
    if (n > MAX_EXTENDED_ATTRS || n * 8 > r.remaining) {
      throw new WireError({ reason: "TooLarge", description: `ATTRS extended count ${n}` })
    }
    const ext: Array<ExtendedAttr> = []
    for (let i = 0; i < n; i++) ext.push({ type: r.utf8(), data: r.string().slice() })
    out.extended = ext
  }
  return out
}

/**
 * Whether attributes describe a directory, a regular file or a symbolic link (from `permissions`).
 *
 * @since 0.1.0
 * @category models
 */
export const fileType = (a: Attributes): "directory" | "file" | "symlink" | "other" | "unknown" => {
  if (a.permissions === undefined) return "unknown"
  switch (a.permissions & FileType.MASK) {
    case FileType.DIR:
      return "directory"
    case FileType.REG:
      return "file"
    case FileType.LNK:
      return "symlink"
    default:
      return "other"
  }
}

const TYPE_CHARS: Readonly<Record<number, string>> = {
  [FileType.DIR]: "d",
  [FileType.LNK]: "l",
  [FileType.CHR]: "c",
  [FileType.BLK]: "b",
  [FileType.FIFO]: "p",
  [FileType.SOCK]: "s",
  [FileType.REG]: "-"
}

/**
 * `drwxr-xr-x` from st_mode, as strmode(3) and `ls -l` write it (setuid/setgid/sticky as s/S and t/T).
 *
 * @since 0.1.0
 * @category models
 */
export const modeString = (mode: number): string => {
  const rwx = (bits: number, special: number, ch: string) =>
    (bits & 4 ? "r" : "-") + (bits & 2 ? "w" : "-") + (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? "x" : "-")
  return (TYPE_CHARS[mode & FileType.MASK] ?? "?") + rwx((mode >> 6) & 7, mode & 0o4000, "s") +
    rwx((mode >> 3) & 7, mode & 0o2000, "s") + rwx(mode & 7, mode & 0o1000, "t")
}
