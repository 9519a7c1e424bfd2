/**
 * The SFTP version 3 packets (draft-ietf-secsh-filexfer-02 §3–§8, as OpenSSH speaks it) as a discriminated union
 * with a pure codec: `encode(message)` gives the packet body (type byte onwards, without the uint32 length) and
 * `decode(body)` never throws (SEC-09, SEC-52). The OpenSSH extension payloads are in `SftpExtensions.ts`.
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import * as Reader from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Writer from "../wire/Writer.js"
import { type Attributes, readAttrs, writeAttrs } from "./SftpAttrs.js"
import { decodeExtended, encodeExtended, type ExtendedRequest } from "./SftpExtensions.js"
import { dataPacket, dataParts } from "./internal/dataFraming.js"
import * as SftpNames from "./SftpNames.js"

/**
 * filexfer-02 §3: the packet types.
 *
 * @since 0.1.0
 * @category models
 */
export const PacketType = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201
} as const

/**
 * LIM-26 / SEC-52: the largest SFTP packet (OpenSSH `SFTP_MAX_MSG_LENGTH`), both roles.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PACKET_LENGTH = 256 * 1024
/**
 * LIM-28: handle strings are at most 256 bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_HANDLE_LENGTH = 256
/**
 * SEC-57 / SEC-08: entries per NAME reply a client accepts (besides the byte bound).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_NAMES = 4096
/**
 * SEC-57: extension pairs in INIT/VERSION.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_VERSION_EXTENSIONS = 64

/**
 * An extension pair of INIT / VERSION (filexfer-02 §4).
 *
 * @since 0.1.0
 * @category models
 */
export interface Extension {
  readonly name: string
  readonly data: string
}

/**
 * One entry of a NAME reply (filexfer-02 §7): the name, OpenSSH's `ls -l` style longname (display only), attrs.
 *
 * @since 0.1.0
 * @category models
 */
export interface NameEntry {
  readonly filename: string
  readonly longname: string
  readonly attrs: Attributes
}

/**
 * Every SFTP v3 packet. Requests carry the client's `id`; replies echo it.
 *
 * @since 0.1.0
 * @category models
 */
export type SftpMessage =
  | { readonly _tag: "Init"; readonly version: number; readonly extensions: ReadonlyArray<Extension> }
  | { readonly _tag: "Version"; readonly version: number; readonly extensions: ReadonlyArray<Extension> }
  | {
    readonly _tag: "Open"
    readonly id: number
    readonly path: string
    readonly pflags: number
    readonly attrs: Attributes
  }
  | { readonly _tag: "Close"; readonly id: number; readonly handle: Uint8Array }
  | {
    readonly _tag: "Read"
    readonly id: number
    readonly handle: Uint8Array
    readonly offset: bigint
    readonly length: number
  }
  | {
    readonly _tag: "Write"
    readonly id: number
    readonly handle: Uint8Array
    readonly offset: bigint
    readonly data: Uint8Array
  }
  | { readonly _tag: "Lstat"; readonly id: number; readonly path: string }
  | { readonly _tag: "Fstat"; readonly id: number; readonly handle: Uint8Array }
  | { readonly _tag: "Setstat"; readonly id: number; readonly path: string; readonly attrs: Attributes }
  | { readonly _tag: "Fsetstat"; readonly id: number; readonly handle: Uint8Array; readonly attrs: Attributes }
  | { readonly _tag: "Opendir"; readonly id: number; readonly path: string }
  | { readonly _tag: "Readdir"; readonly id: number; readonly handle: Uint8Array }
  | { readonly _tag: "Remove"; readonly id: number; readonly path: string }
  | { readonly _tag: "Mkdir"; readonly id: number; readonly path: string; readonly attrs: Attributes }
  | { readonly _tag: "Rmdir"; readonly id: number; readonly path: string }
  | { readonly _tag: "Realpath"; readonly id: number; readonly path: string }
  | { readonly _tag: "Stat"; readonly id: number; readonly path: string }
  | { readonly _tag: "Rename"; readonly id: number; readonly oldPath: string; readonly newPath: string }
  | { readonly _tag: "Readlink"; readonly id: number; readonly path: string }
  /**
   * filexfer-02 §6.10 names the fields linkpath, targetpath, but OpenSSH sends target first (PROTOCOL §4.1):
   * `target` is what the link points to, `linkPath` the link to create. The wire order is OpenSSH's.
   */
  | { readonly _tag: "Symlink"; readonly id: number; readonly target: string; readonly linkPath: string }
  | { readonly _tag: "Extended"; readonly id: number; readonly request: ExtendedRequest }
  | {
    readonly _tag: "Status"
    readonly id: number
    readonly code: number
    readonly message: string
    readonly language: string
  }
  | { readonly _tag: "Handle"; readonly id: number; readonly handle: Uint8Array }
  | { readonly _tag: "Data"; readonly id: number; readonly data: Uint8Array }
  | { readonly _tag: "Name"; readonly id: number; readonly entries: ReadonlyArray<NameEntry> }
  | { readonly _tag: "Attrs"; readonly id: number; readonly attrs: Attributes }
  | { readonly _tag: "ExtendedReply"; readonly id: number; readonly data: Uint8Array }

/**
 * The tags of the union.
 *
 * @since 0.1.0
 * @category models
 */
export type SftpMessageTag = SftpMessage["_tag"]

const writeExtensions = (w: Writer.Writer, exts: ReadonlyArray<Extension>) => {
  for (const e of exts) w.string(e.name).string(e.data)
}

/**
 * A WRITE packet of `length` bytes whose data is `parts`, as buffers to send in order: the framing and the first
 * `firstPacket` bytes of the packet in one new buffer (a channel packet's worth is copied), then the rest of the
 * data as views of `parts` (not copied). filexfer-02 §6.4.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeWriteParts = dataParts.bind(null, PacketType.WRITE)

/**
 * Encodes a packet with its uint32 length prefix, ready to write to the channel. WRITE and DATA are framed in one
 * allocation (no copy of the payload beyond the one into the packet).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodePacket = (m: SftpMessage): Uint8Array => {
  if (m._tag === "Write") return dataPacket(PacketType.WRITE, m.id, m.handle, m.offset, m.data)
  if (m._tag === "Data") return dataPacket(PacketType.DATA, m.id, undefined, 0n, m.data)
  const body = encode(m)
  const out = new Uint8Array(body.length + 4)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

/**
 * Encodes a packet body: the type byte and the fields (filexfer-02 §3), without the length prefix.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (m: SftpMessage): Uint8Array =>
  Writer.build((w) => {
    switch (m._tag) {
      case "Init":
        w.byte(PacketType.INIT).uint32(m.version)
        return writeExtensions(w, m.extensions)
      case "Version":
        w.byte(PacketType.VERSION).uint32(m.version)
        return writeExtensions(w, m.extensions)
      case "Open":
        w.byte(PacketType.OPEN).uint32(m.id).string(SftpNames.encode(m.path)).uint32(m.pflags)
        return writeAttrs(w, m.attrs)
      case "Close":
        w.byte(PacketType.CLOSE).uint32(m.id).string(m.handle)
        return
      case "Read":
        w.byte(PacketType.READ).uint32(m.id).string(m.handle).uint64(m.offset).uint32(m.length)
        return
      case "Write":
        w.byte(PacketType.WRITE).uint32(m.id).string(m.handle).uint64(m.offset).string(m.data)
        return
      case "Lstat":
      case "Opendir":
      case "Remove":
      case "Rmdir":
      case "Realpath":
      case "Stat":
      case "Readlink":
        w.byte(PATH_TYPES[m._tag]).uint32(m.id).string(SftpNames.encode(m.path))
        return
      case "Fstat":
        w.byte(PacketType.FSTAT).uint32(m.id).string(m.handle)
        return
      case "Readdir":
        w.byte(PacketType.READDIR).uint32(m.id).string(m.handle)
        return
      case "Setstat":
      case "Mkdir":
        w.byte(m._tag === "Setstat" ? PacketType.SETSTAT : PacketType.MKDIR).uint32(m.id).string(SftpNames.encode(m.path))
        return writeAttrs(w, m.attrs)
      case "Fsetstat":
        w.byte(PacketType.FSETSTAT).uint32(m.id).string(m.handle)
        return writeAttrs(w, m.attrs)
      case "Rename":
        w.byte(PacketType.RENAME).uint32(m.id).string(SftpNames.encode(m.oldPath)).string(SftpNames.encode(m.newPath))
        return
      case "Symlink":
        w.byte(PacketType.SYMLINK).uint32(m.id).string(SftpNames.encode(m.target)).string(SftpNames.encode(m.linkPath))
        return
      case "Extended":
        w.byte(PacketType.EXTENDED).uint32(m.id)
        return encodeExtended(w, m.request)
      case "Status":
        w.byte(PacketType.STATUS).uint32(m.id).uint32(m.code).string(SftpNames.encode(m.message)).string(SftpNames.encode(m.language))
        return
      case "Handle":
        w.byte(PacketType.HANDLE).uint32(m.id).string(m.handle)
        return
      case "Data":
        w.byte(PacketType.DATA).uint32(m.id).string(m.data)
        return
      case "Name":
        w.byte(PacketType.NAME).uint32(m.id).uint32(m.entries.length)
        for (const e of m.entries) {
          w.string(SftpNames.encode(e.filename)).string(SftpNames.encode(e.longname))
          writeAttrs(w, e.attrs)
        }
        return
      case "Attrs":
        w.byte(PacketType.ATTRS).uint32(m.id)
        return writeAttrs(w, m.attrs)
      case "ExtendedReply":
        w.byte(PacketType.EXTENDED_REPLY).uint32(m.id).raw(m.data)
        return
    }
  }, m._tag === "Write" || m._tag === "Data" ? m.data.length + 64 : 256)

const PATH_TYPES = {
  Lstat: PacketType.LSTAT,
  Opendir: PacketType.OPENDIR,
  Remove: PacketType.REMOVE,
  Rmdir: PacketType.RMDIR,
  Realpath: PacketType.REALPATH,
  Stat: PacketType.STAT,
  Readlink: PacketType.READLINK
} as const

/** A path, name, link target or message: bytes kept losslessly (SftpNames; never a BadMessage for non-UTF-8). */
const name = (r: Reader.Reader): string => SftpNames.decode(r.string())

const handle = (r: Reader.Reader): Uint8Array => {
  const h = r.string()
  // LIM-28 / SEC-53: handles longer than 256 bytes are refused.
  if (h.length > MAX_HANDLE_LENGTH) throw new WireError({ reason: "TooLarge", description: `handle of ${h.length} bytes` })
  return h.slice()
}

const readExtensions = (r: Reader.Reader): ReadonlyArray<Extension> => {
  const out: Array<Extension> = []
  while (r.remaining > 0) {
    if (out.length === MAX_VERSION_EXTENSIONS) {
      throw new WireError({ reason: "TooLarge", description: "too many SFTP extensions" })
    }
    out.push({ name: r.utf8(), data: r.utf8() })
  }
  return out
}

type Decoder = (r: Reader.Reader) => SftpMessage

const pathOnly = <T extends keyof typeof PATH_TYPES>(tag: T): Decoder => (r) =>
  ({ _tag: tag, id: r.uint32(), path: name(r) }) as SftpMessage

/** Decoders by packet type (STYLE.md §5: a table, not an if-chain). */
const DECODERS: Readonly<Record<number, Decoder>> = {
  [PacketType.INIT]: (r) => ({ _tag: "Init", version: r.uint32(), extensions: readExtensions(r) }),
  [PacketType.VERSION]: (r) => ({ _tag: "Version", version: r.uint32(), extensions: readExtensions(r) }),
  [PacketType.OPEN]: (r) => ({ _tag: "Open", id: r.uint32(), path: name(r), pflags: r.uint32(), attrs: readAttrs(r) }),
  [PacketType.CLOSE]: (r) => ({ _tag: "Close", id: r.uint32(), handle: handle(r) }),
  [PacketType.READ]: (r) => ({ _tag: "Read", id: r.uint32(), handle: handle(r), offset: r.uint64(), length: r.uint32() }),
  [PacketType.WRITE]: (r) => ({ _tag: "Write", id: r.uint32(), handle: handle(r), offset: r.uint64(), data: r.string() }),
  [PacketType.LSTAT]: pathOnly("Lstat"),
  [PacketType.FSTAT]: (r) => ({ _tag: "Fstat", id: r.uint32(), handle: handle(r) }),
  [PacketType.SETSTAT]: (r) => ({ _tag: "Setstat", id: r.uint32(), path: name(r), attrs: readAttrs(r) }),
  [PacketType.FSETSTAT]: (r) => ({ _tag: "Fsetstat", id: r.uint32(), handle: handle(r), attrs: readAttrs(r) }),
  [PacketType.OPENDIR]: pathOnly("Opendir"),
  [PacketType.READDIR]: (r) => ({ _tag: "Readdir", id: r.uint32(), handle: handle(r) }),
  [PacketType.REMOVE]: pathOnly("Remove"),
  [PacketType.MKDIR]: (r) => ({ _tag: "Mkdir", id: r.uint32(), path: name(r), attrs: readAttrs(r) }),
  [PacketType.RMDIR]: pathOnly("Rmdir"),
  [PacketType.REALPATH]: pathOnly("Realpath"),
  [PacketType.STAT]: pathOnly("Stat"),
  [PacketType.RENAME]: (r) => ({ _tag: "Rename", id: r.uint32(), oldPath: name(r), newPath: name(r) }),
  [PacketType.READLINK]: pathOnly("Readlink"),
  [PacketType.SYMLINK]: (r) => ({ _tag: "Symlink", id: r.uint32(), target: name(r), linkPath: name(r) }),
  [PacketType.EXTENDED]: (r) => ({ _tag: "Extended", id: r.uint32(), request: decodeExtended(r) }),
  // filexfer-02 §7: message and language tag; some old servers omit both, which we accept.
  [PacketType.STATUS]: (r) => {
    const id = r.uint32()
    const code = r.uint32()
    const message = r.remaining > 0 ? name(r) : ""
    const language = r.remaining > 0 ? name(r) : ""
    return { _tag: "Status", id, code, message, language }
  },
  [PacketType.HANDLE]: (r) => ({ _tag: "Handle", id: r.uint32(), handle: handle(r) }),
  [PacketType.DATA]: (r) => ({ _tag: "Data", id: r.uint32(), data: r.string() }),
  [PacketType.NAME]: (r) => {
    const id = r.uint32()
    const count = r.uint32()
    // SEC-08 / SEC-57: a count is checked against a cap and the bytes left (12 = two empty strings + flags).
    if (count > MAX_NAMES || count * 12 > r.remaining) {
      throw new WireError({ reason: "TooLarge", description: `NAME count ${count} exceeds what the packet holds` })
    }
    const entries: Array<NameEntry> = []
    for (let i = 0; i < count; i++) entries.push({ filename: name(r), longname: name(r), attrs: readAttrs(r) })
    return { _tag: "Name", id, entries }
  },
  [PacketType.ATTRS]: (r) => ({ _tag: "Attrs", id: r.uint32(), attrs: readAttrs(r) }),
  [PacketType.EXTENDED_REPLY]: (r) => ({ _tag: "ExtendedReply", id: r.uint32(), data: r.raw(r.remaining).slice() })
}

/**
 * Decodes a packet body (type byte onwards). Never throws: malformed, truncated or trailing bytes give a
 * `WireError` (SEC-09). Byte fields of DATA and WRITE are views into `body` (no copy): copy them to keep them.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (body: Uint8Array): Either.Either<SftpMessage, WireError> =>
  Reader.run(body, (r) => {
    const type = r.byte()
    const decoder = DECODERS[type]
    if (decoder === undefined) throw new WireError({ reason: "Invalid", description: `SFTP packet type ${type}` })
    const m = decoder(r)
    r.end_()
    return m
  })

/**
 * The request id of a packet body without decoding the rest (for the BAD_MESSAGE / OP_UNSUPPORTED reply to a
 * request that cannot be decoded); undefined for INIT/VERSION or a body shorter than 5 bytes.
 *
 * @since 0.1.0
 * @category decoding
 */
export const peekId = (body: Uint8Array): number | undefined =>
  body.length >= 5 && body[0] !== PacketType.INIT && body[0] !== PacketType.VERSION
    ? new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1)
    : undefined
