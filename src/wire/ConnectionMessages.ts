/**
 * Connection-protocol messages (RFC 4254 §4, §5), numbers 80–100. The typed payloads of the `tcpip-forward`
 * global requests and of the `direct-tcpip` / `forwarded-tcpip` channel opens are in `ForwardingMessages`;
 * channel-request payloads (`exec`, `pty-req`, …) are in `ChannelRequests`.
 *
 * `decode` takes a whole payload (message number first), dispatches through a table, rejects trailing bytes
 * (SEC-09) and never throws; its byte fields are copies. CHANNEL_DATA is the hot path: `encodeChannelData`
 * allocates once and `decodeChannelData` returns a view into the payload instead of a copy.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Headroom from "./Headroom.js"
import { MessageId } from "./MessageId.js"
import * as Reader from "./Reader.js"
import { WireError } from "./WireError.js"
import * as Writer from "./Writer.js"

/**
 * RFC 4254 §4 SSH_MSG_GLOBAL_REQUEST (80). `data` is the request-specific rest of the payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface GlobalRequest {
  readonly _tag: "GlobalRequest"
  readonly name: string
  readonly wantReply: boolean
  readonly data: Uint8Array
}

/**
 * RFC 4254 §4 SSH_MSG_REQUEST_SUCCESS (81). `data` is response-specific (the bound port of `tcpip-forward`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestSuccess {
  readonly _tag: "RequestSuccess"
  readonly data: Uint8Array
}

/**
 * RFC 4254 §4 SSH_MSG_REQUEST_FAILURE (82).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestFailure {
  readonly _tag: "RequestFailure"
}

/**
 * The sender's side of a channel in CHANNEL_OPEN and OPEN_CONFIRMATION: its channel id, and the window and
 * maximum packet size it grants (RFC 4254 §5.1).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelParams {
  readonly sender: number
  readonly initialWindow: number
  readonly maxPacket: number
}

/**
 * RFC 4254 §5.1 SSH_MSG_CHANNEL_OPEN (90). `data` is the channel-type-specific rest (see `decodeChannelOpenKind`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelOpen extends ChannelParams {
  readonly _tag: "ChannelOpen"
  readonly channelType: string
  readonly data: Uint8Array
}

/**
 * RFC 4254 §5.1 SSH_MSG_CHANNEL_OPEN_CONFIRMATION (91). `data` is type-specific (empty for every type we use).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelOpenConfirmation extends ChannelParams {
  readonly _tag: "ChannelOpenConfirmation"
  readonly recipient: number
  readonly data: Uint8Array
}

/**
 * RFC 4254 §5.1 SSH_MSG_CHANNEL_OPEN_FAILURE (92); `reason` is one of `SshError.OpenFailureReason`. `description` is peer
 * text: sanitise before display (SEC-12).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelOpenFailure {
  readonly _tag: "ChannelOpenFailure"
  readonly recipient: number
  readonly reason: number
  readonly description: string
  readonly language: string
}

/**
 * RFC 4254 §5.2 SSH_MSG_CHANNEL_WINDOW_ADJUST (93).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelWindowAdjust {
  readonly _tag: "ChannelWindowAdjust"
  readonly recipient: number
  readonly bytes: number
}

/**
 * RFC 4254 §5.2 SSH_MSG_CHANNEL_DATA (94).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelData {
  readonly _tag: "ChannelData"
  readonly recipient: number
  readonly data: Uint8Array
}

/**
 * RFC 4254 §5.2 SSH_MSG_CHANNEL_EXTENDED_DATA (95); `dataType` 1 is stderr (`EXTENDED_DATA_STDERR`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelExtendedData {
  readonly _tag: "ChannelExtendedData"
  readonly recipient: number
  readonly dataType: number
  readonly data: Uint8Array
}

/**
 * The messages that carry nothing but the recipient channel: EOF (96) and CLOSE (97) of RFC 4254 §5.3,
 * SUCCESS (99) and FAILURE (100) of RFC 4254 §5.4.
 *
 * @since 0.1.0
 * @category models
 */
export type ChannelSignalTag = "ChannelEof" | "ChannelClose" | "ChannelSuccess" | "ChannelFailure"

/**
 * One of the `ChannelSignalTag` messages.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelSignal<Tag extends ChannelSignalTag = ChannelSignalTag> {
  readonly _tag: Tag
  readonly recipient: number
}

/**
 * RFC 4254 §5.4 SSH_MSG_CHANNEL_REQUEST (98). `data` is the request-specific rest (see `ChannelRequests`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelRequest {
  readonly _tag: "ChannelRequest"
  readonly recipient: number
  readonly request: string
  readonly wantReply: boolean
  readonly data: Uint8Array
}

/**
 * Every connection-protocol message.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionMessage =
  | GlobalRequest
  | RequestSuccess
  | RequestFailure
  | ChannelOpen
  | ChannelOpenConfirmation
  | ChannelOpenFailure
  | ChannelWindowAdjust
  | ChannelData
  | ChannelExtendedData
  | ChannelSignal
  | ChannelRequest

/**
 * RFC 4254 §5.2: SSH_EXTENDED_DATA_STDERR, the only extended data type defined.
 *
 * @since 0.1.0
 * @category constants
 */
export const EXTENDED_DATA_STDERR = 1

/**
 * Channel types (RFC 4254 §6.1, §6.3.2, §7.2).
 *
 * @since 0.1.0
 * @category constants
 */
export const ChannelType = {
  SESSION: "session",
  X11: "x11",
  DIRECT_TCPIP: "direct-tcpip",
  FORWARDED_TCPIP: "forwarded-tcpip"
} as const

/**
 * Global request names (RFC 4254 §7.1; OpenSSH `keepalive@openssh.com`, which expects a FAILURE reply).
 *
 * @since 0.1.0
 * @category constants
 */
export const GlobalRequestName = {
  TCPIP_FORWARD: "tcpip-forward",
  CANCEL_TCPIP_FORWARD: "cancel-tcpip-forward",
  KEEPALIVE: "keepalive@openssh.com"
} as const

/**
 * SEC-09: host names and addresses in forwarding payloads are at most 1 024 bytes of UTF-8 without controls.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_HOST_LENGTH = 1024

// ---------------------------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------------------------

const recipientOnly: Record<ChannelSignalTag, number> = {
  ChannelEof: MessageId.CHANNEL_EOF,
  ChannelClose: MessageId.CHANNEL_CLOSE,
  ChannelSuccess: MessageId.CHANNEL_SUCCESS,
  ChannelFailure: MessageId.CHANNEL_FAILURE
}

/**
 * Encodes a connection message as a packet payload (message number first).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (msg: ConnectionMessage): Uint8Array => {
  if (msg._tag === "ChannelData") return encodeChannelData(msg.recipient, msg.data)
  return Writer.build((w) => {
    switch (msg._tag) {
      case "GlobalRequest":
        w.byte(MessageId.GLOBAL_REQUEST).string(msg.name).boolean(msg.wantReply).raw(msg.data)
        return
      case "RequestSuccess":
        w.byte(MessageId.REQUEST_SUCCESS).raw(msg.data)
        return
      case "RequestFailure":
        w.byte(MessageId.REQUEST_FAILURE)
        return
      case "ChannelOpen":
        w.byte(MessageId.CHANNEL_OPEN).string(msg.channelType).uint32(msg.sender).uint32(msg.initialWindow)
          .uint32(msg.maxPacket).raw(msg.data)
        return
      case "ChannelOpenConfirmation":
        w.byte(MessageId.CHANNEL_OPEN_CONFIRMATION).uint32(msg.recipient).uint32(msg.sender)
          .uint32(msg.initialWindow).uint32(msg.maxPacket).raw(msg.data)
        return
      case "ChannelOpenFailure":
        w.byte(MessageId.CHANNEL_OPEN_FAILURE).uint32(msg.recipient).uint32(msg.reason).string(msg.description)
          .string(msg.language)
        return
      case "ChannelWindowAdjust":
        w.byte(MessageId.CHANNEL_WINDOW_ADJUST).uint32(msg.recipient).uint32(msg.bytes)
        return
      case "ChannelExtendedData":
        w.byte(MessageId.CHANNEL_EXTENDED_DATA).uint32(msg.recipient).uint32(msg.dataType).string(msg.data)
        return
      case "ChannelRequest":
        w.byte(MessageId.CHANNEL_REQUEST).uint32(msg.recipient).string(msg.request).boolean(msg.wantReply)
          .raw(msg.data)
        return
      default:
        w.byte(recipientOnly[msg._tag]).uint32(msg.recipient)
    }
  })
}

// Big-endian uint32 without a DataView (one allocation per CHANNEL_DATA); `>>>` keeps values ≥ 2^31 unsigned.
const putU32 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = v >>> 24
  b[at + 1] = v >>> 16
  b[at + 2] = v >>> 8
  b[at + 3] = v
}

/**
 * The CHANNEL_DATA payload (byte 94 ‖ uint32 recipient ‖ string data) built with a single allocation: the hot
 * path of every channel write.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeChannelData = (recipient: number, data: Uint8Array): Uint8Array => {
  // With room for the packet framing around it: the packet writer frames it in place (Headroom.ts).
  const out = Headroom.alloc(9 + data.length)
  out[0] = MessageId.CHANNEL_DATA
  putU32(out, 1, recipient)
  putU32(out, 5, data.length)
  out.set(data, 9)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------------------------

type Decoder = (r: Reader.Reader) => ConnectionMessage

const utf8 = Reader.decodeUtf8

// RFC 4251 §5: a `string` holding ISO-10646 UTF-8 text.
const text = (r: Reader.Reader): string => utf8(r.string(), "string")

const rest = (r: Reader.Reader): Uint8Array => r.raw(r.remaining).slice()

const params = (r: Reader.Reader): ChannelParams => ({
  sender: r.uint32(),
  initialWindow: r.uint32(),
  maxPacket: r.uint32()
})

const signal = (tag: ChannelSignalTag): Decoder => (r) => ({ _tag: tag, recipient: r.uint32() })

// The dispatch table; object literal fields evaluate in order, which is wire order.
const DECODERS: ReadonlyMap<number, Decoder> = new Map<number, Decoder>([
  [MessageId.GLOBAL_REQUEST, (r) => ({
    _tag: "GlobalRequest",
    name: r.ascii(),
    wantReply: r.boolean(),
    data: rest(r)
  })],
  [MessageId.REQUEST_SUCCESS, (r) => ({ _tag: "RequestSuccess", data: rest(r) })],
  [MessageId.REQUEST_FAILURE, () => ({ _tag: "RequestFailure" })],
  [MessageId.CHANNEL_OPEN, (r) => ({ _tag: "ChannelOpen", channelType: r.ascii(), ...params(r), data: rest(r) })],
  [MessageId.CHANNEL_OPEN_CONFIRMATION, (r) => ({
    _tag: "ChannelOpenConfirmation",
    recipient: r.uint32(),
    ...params(r),
    data: rest(r)
  })],
  [MessageId.CHANNEL_OPEN_FAILURE, (r) => ({
    _tag: "ChannelOpenFailure",
    recipient: r.uint32(),
    reason: r.uint32(),
    description: text(r),
    language: text(r)
  })],
  [MessageId.CHANNEL_WINDOW_ADJUST, (r) => ({ _tag: "ChannelWindowAdjust", recipient: r.uint32(), bytes: r.uint32() })],
  [MessageId.CHANNEL_DATA, (r) => ({ _tag: "ChannelData", recipient: r.uint32(), data: r.string().slice() })],
  [MessageId.CHANNEL_EXTENDED_DATA, (r) => ({
    _tag: "ChannelExtendedData",
    recipient: r.uint32(),
    dataType: r.uint32(),
    data: r.string().slice()
  })],
  [MessageId.CHANNEL_EOF, signal("ChannelEof")],
  [MessageId.CHANNEL_CLOSE, signal("ChannelClose")],
  [MessageId.CHANNEL_REQUEST, (r) => ({
    _tag: "ChannelRequest",
    recipient: r.uint32(),
    request: r.ascii(),
    wantReply: r.boolean(),
    data: rest(r)
  })],
  [MessageId.CHANNEL_SUCCESS, signal("ChannelSuccess")],
  [MessageId.CHANNEL_FAILURE, signal("ChannelFailure")]
])

/**
 * True when `n` is a message number this module decodes (80–82, 90–100).
 *
 * @since 0.1.0
 * @category guards
 */
export const isConnectionMessageId = (n: number): boolean => DECODERS.has(n)

/**
 * Decodes a connection-message payload; byte fields are copies. Fails with a `WireError` on another number,
 * malformed or truncated fields, or trailing bytes (SEC-09). Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (payload: Uint8Array): Either.Either<ConnectionMessage, WireError> =>
  Reader.run(payload, (r) => {
    const id = r.byte()
    const decoder = DECODERS.get(id)
    if (decoder === undefined) {
      throw new WireError({ reason: "Invalid", description: `message ${id} is not a connection message` })
    }
    const msg = decoder(r)
    r.end_()
    return msg
  })

const u32 = (b: Uint8Array, at: number): number =>
  b[at]! * 0x1000000 + b[at + 1]! * 0x10000 + b[at + 2]! * 0x100 + b[at + 3]!

/**
 * Decodes a CHANNEL_DATA payload without copying: `data` is a **view** (`subarray`) of `payload`, valid only as
 * long as the caller does not reuse that buffer. Copy it before keeping it past the next packet. Fails on
 * another number, truncation or trailing bytes (SEC-09); never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeChannelData = (payload: Uint8Array): Either.Either<ChannelData, WireError> => {
  if (payload.length > 0 && payload[0] !== MessageId.CHANNEL_DATA) {
    return Either.left(new WireError({ reason: "Invalid", description: `message ${payload[0]} is not CHANNEL_DATA` }))
  }
  if (payload.length < 9) {
    return Either.left(new WireError({ reason: "Truncated", description: `CHANNEL_DATA of ${payload.length} bytes` }))
  }
  const length = u32(payload, 5)
  if (length !== payload.length - 9) {
    return Either.left(new WireError({
      reason: length > payload.length - 9 ? "Truncated" : "TrailingBytes",
      description: `CHANNEL_DATA declares ${length} bytes, carries ${payload.length - 9}`
    }))
  }
  return Either.right({ _tag: "ChannelData", recipient: u32(payload, 1), data: payload.subarray(9) })
}
