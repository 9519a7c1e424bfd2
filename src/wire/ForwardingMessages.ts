/**
 * The typed payloads of RFC 4254 §7: the `tcpip-forward` / `cancel-tcpip-forward` global requests (§7.1) and the
 * `direct-tcpip` / `forwarded-tcpip` channel opens (§7.2). Decoders never throw and reject trailing bytes.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import {
  type ChannelOpen,
  type ChannelParams,
  ChannelType,
  type GlobalRequest,
  GlobalRequestName,
  MAX_HOST_LENGTH
} from "./ConnectionMessages.js"
import * as Reader from "./Reader.js"
import { WireError } from "./WireError.js"
import * as Writer from "./Writer.js"

const utf8 = Reader.decodeUtf8



// SEC-09: UTF-8, bounded, no NUL or other control character.
const host = (r: Reader.Reader): string => {
  const b = r.string()
  if (b.length > MAX_HOST_LENGTH) {
    throw new WireError({ reason: "TooLarge", description: `host of ${b.length} bytes (max ${MAX_HOST_LENGTH})` })
  }
  for (let i = 0; i < b.length; i++) {
    if (b[i]! < 0x20 || b[i] === 0x7f) throw new WireError({ reason: "Invalid", description: "control byte in host" })
  }
  return utf8(b, "host")
}

const port = (r: Reader.Reader): number => {
  const p = r.uint32()
  if (p > 0xffff) throw new WireError({ reason: "Invalid", description: `port ${p} is over 65535` })
  return p
}

const runData = <A>(data: Uint8Array, f: (r: Reader.Reader) => A): Either.Either<A, WireError> =>
  Reader.run(data, (r) => {
    const a = f(r)
    r.end_()
    return a
  })

/**
 * The `tcpip-forward` / `cancel-tcpip-forward` request data (RFC 4254 §7.1): address to bind and port (0 = the
 * server picks one).
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpipForward {
  readonly address: string
  readonly port: number
}

/**
 * Encodes `tcpip-forward` request data (string address ‖ uint32 port).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeTcpipForward = (f: TcpipForward): Uint8Array =>
  Writer.build((w) => w.string(f.address).uint32(f.port))

/**
 * Decodes `tcpip-forward` / `cancel-tcpip-forward` request data; the port must be ≤ 65 535.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeTcpipForward = (data: Uint8Array): Either.Either<TcpipForward, WireError> =>
  runData(data, (r) => ({ address: host(r), port: port(r) }))

/**
 * A `tcpip-forward` or `cancel-tcpip-forward` GLOBAL_REQUEST (RFC 4254 §7.1), with want-reply set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tcpipForwardRequest = (
  name: typeof GlobalRequestName.TCPIP_FORWARD | typeof GlobalRequestName.CANCEL_TCPIP_FORWARD,
  f: TcpipForward
): GlobalRequest => ({ _tag: "GlobalRequest", name, wantReply: true, data: encodeTcpipForward(f) })

/**
 * The REQUEST_SUCCESS data of a `tcpip-forward` that asked for port 0: the port the server bound (RFC 4254 §7.1).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeTcpipForwardReply = (boundPort: number): Uint8Array => Writer.build((w) => w.uint32(boundPort))

/**
 * Decodes the REQUEST_SUCCESS data of a `tcpip-forward`: `None` when empty (a fixed port was requested), else
 * the bound port (≤ 65 535).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeTcpipForwardReply = (data: Uint8Array): Either.Either<Option.Option<number>, WireError> =>
  runData(data, (r) => r.remaining === 0 ? Option.none() : Option.some(port(r)))

/**
 * The extra data of `direct-tcpip` (host and port to connect to) and `forwarded-tcpip` (address and port that
 * were connected) channel opens, with the originator's address and port (RFC 4254 §7.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpipChannel {
  readonly host: string
  readonly port: number
  readonly originatorAddress: string
  readonly originatorPort: number
}

/**
 * The typed form of a CHANNEL_OPEN's `channelType` and `data`; `Other` keeps a type this module does not decode.
 *
 * @since 0.1.0
 * @category models
 */
export type ChannelOpenKind =
  | { readonly _tag: "Session" }
  | { readonly _tag: "DirectTcpip"; readonly target: TcpipChannel }
  | { readonly _tag: "ForwardedTcpip"; readonly target: TcpipChannel }
  | { readonly _tag: "Other"; readonly channelType: string; readonly data: Uint8Array }

/**
 * Encodes `direct-tcpip` / `forwarded-tcpip` open data (RFC 4254 §7.2).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeTcpipChannel = (t: TcpipChannel): Uint8Array =>
  Writer.build((w) => w.string(t.host).uint32(t.port).string(t.originatorAddress).uint32(t.originatorPort))

/**
 * Decodes `direct-tcpip` / `forwarded-tcpip` open data; hosts obey `MAX_HOST_LENGTH`, ports are ≤ 65 535.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeTcpipChannel = (data: Uint8Array): Either.Either<TcpipChannel, WireError> =>
  runData(data, (r) => ({ host: host(r), port: port(r), originatorAddress: host(r), originatorPort: port(r) }))

/**
 * Builds a CHANNEL_OPEN from our channel parameters and a typed channel kind.
 *
 * @since 0.1.0
 * @category constructors
 */
export const channelOpen = (params: ChannelParams, kind: ChannelOpenKind): ChannelOpen => {
  const open = (channelType: string, data: Uint8Array): ChannelOpen => ({
    _tag: "ChannelOpen",
    channelType,
    ...params,
    data
  })
  switch (kind._tag) {
    case "Session":
      return open(ChannelType.SESSION, new Uint8Array(0))
    case "DirectTcpip":
      return open(ChannelType.DIRECT_TCPIP, encodeTcpipChannel(kind.target))
    case "ForwardedTcpip":
      return open(ChannelType.FORWARDED_TCPIP, encodeTcpipChannel(kind.target))
    case "Other":
      return open(kind.channelType, kind.data)
  }
}

/**
 * The typed kind of a received CHANNEL_OPEN. Fails when a known type carries malformed or extra data
 * (`session` carries none); unknown types decode as `Other`, for an UNKNOWN_CHANNEL_TYPE reply.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeChannelOpenKind = (open: ChannelOpen): Either.Either<ChannelOpenKind, WireError> => {
  switch (open.channelType) {
    case ChannelType.SESSION:
      return runData(open.data, () => ({ _tag: "Session" }))
    case ChannelType.DIRECT_TCPIP:
      return Either.map(decodeTcpipChannel(open.data), (target) => ({ _tag: "DirectTcpip", target }))
    case ChannelType.FORWARDED_TCPIP:
      return Either.map(decodeTcpipChannel(open.data), (target) => ({ _tag: "ForwardedTcpip", target }))
    default:
      return Either.right({ _tag: "Other", channelType: open.channelType, data: open.data.slice() })
  }
}
