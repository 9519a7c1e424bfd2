/**
 * Transport-layer messages (RFC 4253 §7, §10, §11; RFC 8308): DISCONNECT, IGNORE, UNIMPLEMENTED, DEBUG,
 * SERVICE_REQUEST/ACCEPT, EXT_INFO, KEXINIT and NEWKEYS.
 *
 * `decode` takes a whole payload (message number first), dispatches on the number through a table, rejects
 * trailing bytes (SEC-09) and never throws. Byte fields of decoded messages are copies: they never alias the
 * payload, so the packet layer may reuse its buffers.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { MessageId } from "./MessageId.js"
import * as Reader from "./Reader.js"
import { WireError } from "./WireError.js"
import * as Writer from "./Writer.js"

/**
 * RFC 4253 §11.1: the peer closes the connection. `description` is peer text: sanitise before display (SEC-12).
 *
 * @since 0.1.0
 * @category models
 */
export interface Disconnect {
  readonly _tag: "Disconnect"
  readonly code: number
  readonly description: string
  readonly language: string
}

/**
 * RFC 4253 §11.2: ignored data (also used as traffic padding).
 *
 * @since 0.1.0
 * @category models
 */
export interface Ignore {
  readonly _tag: "Ignore"
  readonly data: Uint8Array
}

/**
 * RFC 4253 §11.4: the peer did not implement the packet with sequence number `seq`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Unimplemented {
  readonly _tag: "Unimplemented"
  readonly seq: number
}

/**
 * RFC 4253 §11.3: debugging text. `message` is peer text: sanitise before display (SEC-12).
 *
 * @since 0.1.0
 * @category models
 */
export interface Debug {
  readonly _tag: "Debug"
  readonly alwaysDisplay: boolean
  readonly message: string
  readonly language: string
}

/**
 * RFC 4253 §10: the client asks for a service (`"ssh-userauth"`, `"ssh-connection"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceRequest {
  readonly _tag: "ServiceRequest"
  readonly name: string
}

/**
 * RFC 4253 §10: the server accepts a service request.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceAccept {
  readonly _tag: "ServiceAccept"
  readonly name: string
}

/**
 * One RFC 8308 §2.3 extension: a name and its undecoded value (each value has its own syntax).
 *
 * @since 0.1.0
 * @category models
 */
export interface Extension {
  readonly name: string
  readonly value: Uint8Array
}

/**
 * RFC 8308 §2.3 SSH_MSG_EXT_INFO. At most `MAX_EXTENSIONS` entries (SEC-21, LIM-13).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExtInfo {
  readonly _tag: "ExtInfo"
  readonly extensions: ReadonlyArray<Extension>
}

/**
 * RFC 4253 §7.1 SSH_MSG_KEXINIT. Name-lists obey the SEC-16 / LIM-12 syntax and bounds.
 *
 * @since 0.1.0
 * @category models
 */
export interface KexInit {
  readonly _tag: "KexInit"
  /** 16 random bytes. */
  readonly cookie: Uint8Array
  readonly kex: ReadonlyArray<string>
  readonly hostKey: ReadonlyArray<string>
  readonly cipherC2S: ReadonlyArray<string>
  readonly cipherS2C: ReadonlyArray<string>
  readonly macC2S: ReadonlyArray<string>
  readonly macS2C: ReadonlyArray<string>
  readonly compressionC2S: ReadonlyArray<string>
  readonly compressionS2C: ReadonlyArray<string>
  readonly languageC2S: ReadonlyArray<string>
  readonly languageS2C: ReadonlyArray<string>
  readonly firstKexPacketFollows: boolean
  /** RFC 4253 §7.1: reserved for future extension; ignored on receipt (SEC-16). */
  readonly reserved: number
}

/**
 * RFC 4253 §7.3 SSH_MSG_NEWKEYS: the sender switches to the new keys after this message.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewKeys {
  readonly _tag: "NewKeys"
}

/**
 * Every transport-layer message.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportMessage =
  | Disconnect
  | Ignore
  | Unimplemented
  | Debug
  | ServiceRequest
  | ServiceAccept
  | ExtInfo
  | KexInit
  | NewKeys

/**
 * LIM-13 / SEC-21: at most 1 024 extensions per EXT_INFO (RFC 8308 sets no limit; libssh2 CVE-2026-55199 looped
 * on `nr-extensions = 0xFFFFFFFF`).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_EXTENSIONS = 1024

/**
 * RFC 4253 §7.1: the cookie is exactly 16 bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const COOKIE_LENGTH = 16

/**
 * The RFC 8308 §3.1 extension name of the signature algorithms a server accepts.
 *
 * @since 0.1.0
 * @category constants
 */
export const SERVER_SIG_ALGS = "server-sig-algs"

// ---------------------------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------------------------

/**
 * Encodes a transport message as a packet payload (message number first).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (msg: TransportMessage): Uint8Array =>
  Writer.build((w) => {
    switch (msg._tag) {
      case "Disconnect":
        // RFC 4253 §11.1: reason code, description (UTF-8), language tag.
        w.byte(MessageId.DISCONNECT).uint32(msg.code).string(msg.description).string(msg.language)
        return
      case "Ignore":
        w.byte(MessageId.IGNORE).string(msg.data)
        return
      case "Unimplemented":
        w.byte(MessageId.UNIMPLEMENTED).uint32(msg.seq)
        return
      case "Debug":
        w.byte(MessageId.DEBUG).boolean(msg.alwaysDisplay).string(msg.message).string(msg.language)
        return
      case "ServiceRequest":
        w.byte(MessageId.SERVICE_REQUEST).string(msg.name)
        return
      case "ServiceAccept":
        w.byte(MessageId.SERVICE_ACCEPT).string(msg.name)
        return
      case "ExtInfo":
        // RFC 8308 §2.3: nr-extensions, then (name, value) pairs.
        w.byte(MessageId.EXT_INFO).uint32(msg.extensions.length)
        for (const e of msg.extensions) w.string(e.name).string(e.value)
        return
      case "KexInit":
        w.byte(MessageId.KEXINIT).raw(msg.cookie)
          .nameList(msg.kex).nameList(msg.hostKey)
          .nameList(msg.cipherC2S).nameList(msg.cipherS2C)
          .nameList(msg.macC2S).nameList(msg.macS2C)
          .nameList(msg.compressionC2S).nameList(msg.compressionS2C)
          .nameList(msg.languageC2S).nameList(msg.languageS2C)
          .boolean(msg.firstKexPacketFollows).uint32(msg.reserved)
        return
      case "NewKeys":
        w.byte(MessageId.NEWKEYS)
        return
    }
  })

/**
 * The value of a `server-sig-algs` extension (RFC 8308 §3.1): the names as a comma-separated list.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverSigAlgsExtension = (algorithms: ReadonlyArray<string>): Extension => ({
  name: SERVER_SIG_ALGS,
  value: new TextEncoder().encode(algorithms.join(","))
})

/**
 * An EXT_INFO that announces `server-sig-algs` (RFC 8308 §3.1), followed by any other extensions.
 *
 * @since 0.1.0
 * @category constructors
 */
export const extInfoWithServerSigAlgs = (
  algorithms: ReadonlyArray<string>,
  others: ReadonlyArray<Extension> = []
): ExtInfo => ({ _tag: "ExtInfo", extensions: [serverSigAlgsExtension(algorithms), ...others] })

/**
 * The payload of an EXT_INFO that announces `server-sig-algs` (RFC 8308 §3.1), followed by any other extensions.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeServerSigAlgs = (
  algorithms: ReadonlyArray<string>,
  others: ReadonlyArray<Extension> = []
): Uint8Array => encode(extInfoWithServerSigAlgs(algorithms, others))

// ---------------------------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------------------------

type Decoder = (r: Reader.Reader) => TransportMessage

const decodeExtInfo = (r: Reader.Reader): ExtInfo => {
  const count = r.uint32()
  // SEC-08 / LIM-13: bound the count before looping; each entry takes at least two 4-byte lengths.
  if (count > MAX_EXTENSIONS) {
    throw new WireError({ reason: "TooLarge", description: `EXT_INFO has ${count} extensions (max ${MAX_EXTENSIONS})` })
  }
  if (count * 8 > r.remaining) {
    throw new WireError({ reason: "Truncated", description: `EXT_INFO declares ${count} extensions in ${r.remaining} bytes` })
  }
  const extensions: Array<Extension> = []
  for (let i = 0; i < count; i++) {
    const name = r.ascii()
    extensions.push({ name, value: r.string().slice() })
  }
  return { _tag: "ExtInfo", extensions }
}

const decodeKexInit = (r: Reader.Reader): KexInit => ({
  _tag: "KexInit",
  cookie: r.raw(COOKIE_LENGTH).slice(),
  kex: r.nameList(),
  hostKey: r.nameList(),
  cipherC2S: r.nameList(),
  cipherS2C: r.nameList(),
  macC2S: r.nameList(),
  macS2C: r.nameList(),
  compressionC2S: r.nameList(),
  compressionS2C: r.nameList(),
  languageC2S: r.nameList(),
  languageS2C: r.nameList(),
  firstKexPacketFollows: r.boolean(),
  reserved: r.uint32()
})

// The dispatch table (indexed by message number); object literal fields evaluate in order, which is wire order.
const DECODERS: ReadonlyMap<number, Decoder> = new Map<number, Decoder>([
  [MessageId.DISCONNECT, (r) => ({ _tag: "Disconnect", code: r.uint32(), description: r.utf8(), language: r.utf8() })],
  [MessageId.IGNORE, (r) => ({ _tag: "Ignore", data: r.string().slice() })],
  [MessageId.UNIMPLEMENTED, (r) => ({ _tag: "Unimplemented", seq: r.uint32() })],
  [
    MessageId.DEBUG,
    (r) => ({ _tag: "Debug", alwaysDisplay: r.boolean(), message: r.utf8(), language: r.utf8() })
  ],
  [MessageId.SERVICE_REQUEST, (r) => ({ _tag: "ServiceRequest", name: r.ascii() })],
  [MessageId.SERVICE_ACCEPT, (r) => ({ _tag: "ServiceAccept", name: r.ascii() })],
  [MessageId.EXT_INFO, decodeExtInfo],
  [MessageId.KEXINIT, decodeKexInit],
  [MessageId.NEWKEYS, () => ({ _tag: "NewKeys" })]
])

/**
 * True when `n` is a message number this module decodes; the transport uses it to route a payload before decoding.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTransportMessageId = (n: number): boolean => DECODERS.has(n)

/**
 * Decodes a transport-message payload. Fails with a `WireError` on a number this module does not handle
 * (`Invalid`), malformed or truncated fields, or trailing bytes (SEC-09). Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (payload: Uint8Array): Either.Either<TransportMessage, WireError> =>
  Reader.run(payload, (r) => {
    const id = r.byte()
    const decoder = DECODERS.get(id)
    if (decoder === undefined) {
      throw new WireError({ reason: "Invalid", description: `message ${id} is not a transport message` })
    }
    const msg = decoder(r)
    r.end_()
    return msg
  })

/**
 * Parses a `server-sig-algs` value (RFC 8308 §3.1) as a name-list with the SEC-16 / LIM-12 bounds. Fails on a
 * malformed value.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeServerSigAlgs = (value: Uint8Array): Either.Either<ReadonlyArray<string>, WireError> =>
  // Re-wrapping the value as an SSH string lets Reader.nameList apply exactly the KEXINIT rules.
  Reader.run(Writer.build((w) => w.string(value), value.length + 4), (r) => r.nameList())

/**
 * The algorithms of the first `server-sig-algs` extension of an EXT_INFO, or `undefined` when there is none or
 * its value is malformed (SEC-21: a bad value never widens anything; callers fall back to their own list).
 *
 * @since 0.1.0
 * @category accessors
 */
export const serverSigAlgs = (ext: ExtInfo): ReadonlyArray<string> | undefined => {
  const entry = ext.extensions.find((e) => e.name === SERVER_SIG_ALGS)
  if (entry === undefined) return undefined
  const parsed = decodeServerSigAlgs(entry.value)
  return Either.getOrUndefined(parsed)
}
