/**
 * One tunnelled connection: a `direct-tcpip` (RFC 4254 §7.2) or `direct-streamlocal@openssh.com` (OpenSSH
 * PROTOCOL §2.4) channel, seen as a Stream and a Sink, as an `@effect/platform` `Socket` (so anything that takes
 * a Socket runs through SSH, e.g. a jump host's transport), and bridged to a local connection.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { Channel } from "../connection/Channel.js"
import type { ConnectionMux } from "../connection/ConnectionMux.js"
import type { ChannelError, TransportError } from "../SshError.js"
import * as ForwardingMessages from "../wire/ForwardingMessages.js"
import { ForwardError } from "./ForwardError.js"
import type { Endpoint, LocalConnection } from "./LocalNet.js"
import * as StreamLocal from "./StreamLocal.js"

/**
 * An open tunnel: the channel's bytes as a Stream, a Sink that writes and then sends EOF, and a Socket view.
 * It closes with the Scope it was opened in.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tunnel {
  readonly channel: Channel
  /** Bytes from the far end; ends at its EOF. A single consumer (shared with `socket`). */
  readonly stream: Stream.Stream<Uint8Array, ChannelError | TransportError>
  /** Writes every chunk, then sends EOF when the stream it runs ends. */
  readonly sink: Sink.Sink<void, Uint8Array, never, ChannelError | TransportError>
  /** The channel as an `@effect/platform` Socket (run once; its writer's release sends EOF). */
  readonly socket: Socket.Socket
}

/**
 * Where a tunnelled connection comes from, sent with `direct-tcpip` (RFC 4254 §7.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface Originator {
  readonly host: string
  readonly port: number
}

const toForwardError = (what: string) => (e: ChannelError | TransportError): ForwardError =>
  new ForwardError({
    reason: e._tag === "ChannelError" && e.reason === "OpenFailed" ? "ConnectFailed" : "Closed",
    description: `${what}: ${e.message}`,
    cause: e
  })

const encoder = new TextEncoder()

/**
 * A channel as an `@effect/platform` Socket. `run` delivers the channel's data in order, one handler at a time
 * (so a slow handler holds back the SSH window), and returns at the peer's EOF; the writer sends data, and EOF on
 * a `CloseEvent` or when its Scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toSocket = (channel: Channel): Socket.Socket => {
  const run = <_, E, R>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.zipRight(
      options?.onOpen ?? Effect.void,
      channel.data.pipe(
        Stream.mapError((cause) => new Socket.SocketGenericError({ reason: "Read", cause })),
        Stream.runForEach((chunk) => {
          const r = handler(chunk)
          return Effect.isEffect(r) ? Effect.asVoid(r) : Effect.void
        })
      )
    )
  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Socket.isCloseEvent(chunk)
      ? Effect.ignore(channel.eof)
      : Effect.mapError(
        channel.write(typeof chunk === "string" ? encoder.encode(chunk) : chunk),
        (cause) => new Socket.SocketGenericError({ reason: "Write", cause })
      )
  return {
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: run,
    writer: Effect.acquireRelease(Effect.succeed(write), () => Effect.ignore(channel.eof))
  }
}

/**
 * A channel seen as a Tunnel.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromChannel = (channel: Channel): Tunnel => ({
  channel,
  stream: channel.data,
  sink: Sink.forEach((chunk: Uint8Array) => channel.write(chunk)).pipe(
    Sink.zipLeft(Sink.fromEffect(channel.eof))
  ),
  socket: toSocket(channel)
})

/**
 * Opens `direct-tcpip` to `host:port` as seen from the server (RFC 4254 §7.2). A refusal is a ForwardError of
 * reason `ConnectFailed` carrying the server's reason; the SSH connection is unaffected.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openTcp = (
  mux: ConnectionMux,
  host: string,
  port: number,
  originator: Originator = { host: "127.0.0.1", port: 0 }
): Effect.Effect<Tunnel, ForwardError, Scope.Scope> =>
  mux.open(
    "direct-tcpip",
    ForwardingMessages.encodeTcpipChannel({
      host,
      port,
      originatorAddress: originator.host,
      originatorPort: originator.port
    })
  ).pipe(Effect.mapError(toForwardError(`direct-tcpip to ${host}:${port}`)), Effect.map(fromChannel))

/**
 * Opens `direct-streamlocal@openssh.com` to a UNIX socket on the server (OpenSSH PROTOCOL §2.4).
 *
 * @since 0.1.0
 * @category constructors
 */
export const openUnix = (
  mux: ConnectionMux,
  path: string
): Effect.Effect<Tunnel, ForwardError, Scope.Scope> =>
  mux.open(StreamLocal.Names.DIRECT, StreamLocal.encodeDirect(path)).pipe(
    Effect.mapError(toForwardError(`direct-streamlocal to ${path}`)),
    Effect.map(fromChannel)
  )

/**
 * Opens a tunnel to an endpoint on the server's side.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (
  mux: ConnectionMux,
  to: Endpoint,
  originator?: Originator
): Effect.Effect<Tunnel, ForwardError, Scope.Scope> =>
  to._tag === "Tcp" ? openTcp(mux, to.host, to.port, originator) : openUnix(mux, to.path)

/**
 * Copies bytes both ways between a local connection and a channel until both directions have ended, passing
 * EOF along each way (half-close). A failure on either side ends both; nothing is raised, the caller closes.
 *
 * @since 0.1.0
 * @category combinators
 */
export const bridge = (
  local: LocalConnection,
  channel: Channel,
  initial?: Uint8Array,
  /** The channel's data still to deliver, when the caller has read the first of it itself (X11 setup). */
  channelData?: Stream.Stream<Uint8Array, ChannelError | TransportError>
): Effect.Effect<void> =>
  Effect.all([
    Effect.zipRight(
      initial !== undefined && initial.length > 0 ? channel.write(initial) : Effect.void,
      // A connection that can hand its input over synchronously gives it to the channel's sink in the turn it is
      // read (no fiber, no Effect per chunk), paused while the channel's window or the socket is short.
      local.pipeTo !== undefined
        ? local.pipeTo(channel.sink)
        : Stream.runForEach(local.input, (chunk) => channel.write(chunk))
    ).pipe(Effect.zipRight(channel.eof)),
    // A connection that takes synchronous writes gets the channel's data in the turn it arrives (no fiber and no
    // Effect per chunk); its window comes back as the connection has room.
    (channelData === undefined && local.sink !== undefined
      ? channel.pipeData(local.sink)
      : Stream.runForEach(channelData ?? channel.data, local.write)).pipe(Effect.ensuring(local.end))
  ], { concurrency: 2, discard: true }).pipe(Effect.ignore)
