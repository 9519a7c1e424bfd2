/**
 * One SSH channel (RFC 4254 §5) as the layers above see it: inbound data as Streams whose consumption drives
 * the window we advertise, outbound writes that wait for the peer's window, requests, EOF and CLOSE. A channel
 * is opened in a Scope and closed when the Scope closes.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { ChannelError, TransportError } from "../SshError.js"

/**
 * A channel request from the peer (RFC 4254 §5.4). Requests that want a reply are answered by the connection
 * layer (FAILURE unless a handler said otherwise) so the peer is never left waiting.
 *
 * @since 0.1.0
 * @category models
 */
export interface IncomingRequest {
  readonly request: string
  readonly wantReply: boolean
  readonly data: Uint8Array
  /**
   * On a channel the peer opened (server role), the answer to a request that wants one: SUCCESS or FAILURE,
   * sent once (RFC 4254 §5.4). Absent where the connection layer answers by itself.
   */
  readonly reply?: ((ok: boolean) => Effect.Effect<void, TransportError>) | undefined
}

/**
 * A synchronous destination of channel data (`Channel.pipeData`): a socket's write side, for instance.
 *
 * @since 0.1.0
 * @category models
 */
export interface ByteSink {
  /**
   * Takes one chunk, which is the sink's to keep (it is never reused); `false` when the sink now holds as much as
   * it should (it takes further chunks all the same: the window the peer has left bounds them).
   */
  readonly write: (chunk: Uint8Array) => boolean
  /** Calls `resume` once, when the sink has room again or has closed. */
  readonly onReady: (resume: () => void) => void
  /** Whether the destination is gone (nothing written now arrives). */
  readonly isClosed: () => boolean
}

/**
 * An open channel: inbound Streams, outbound writes, requests, EOF and CLOSE.
 *
 * @since 0.1.0
 * @category models
 */
export interface Channel {
  /** Our channel number. */
  readonly id: number
  readonly channelType: string
  /**
   * CHANNEL_DATA from the peer; ends at the peer's EOF or CLOSE. A single consumer: taking data returns window
   * to the peer (WINDOW_ADJUST), so a slow consumer slows the sender (DESIGN.md §6).
   */
  readonly data: Stream.Stream<Uint8Array, ChannelError | TransportError>
  /**
   * `data` into a synchronous `ByteSink`, without a fiber or an Effect per chunk (the fast path of tunnels): each
   * chunk is handed to the sink in the turn it arrives, and its window returned while the sink has room — once it
   * is full, when it says it has room again — so a slow sink slows the sender and holds at most a window. Ends at
   * the peer's EOF or CLOSE; fails with the connection, or with a `ChannelError` "Closed" when the sink closes
   * first. The same single consumer as `data`.
   */
  readonly pipeData: (sink: ByteSink) => Effect.Effect<void, ChannelError | TransportError>
  /**
   * CHANNEL_EXTENDED_DATA of type 1 (stderr, RFC 4254 §5.2). While nobody subscribes, its window is returned at
   * once (so `data` and the channel's requests never stall behind it) and up to one window is kept for a later
   * reader; while subscribed, the same rules as `data`.
   */
  readonly stderr: Stream.Stream<Uint8Array, ChannelError | TransportError>
  /**
   * Requests from the peer (exit-status, exit-signal, …); ends when the channel closes. Requests wait here for a
   * consumer up to a bound (a peer that floods them is cut off), unless `onRequest` routes them.
   */
  readonly requests: Stream.Stream<IncomingRequest, TransportError>
  /**
   * Routes the peer's requests to `handler`, synchronously as they arrive (queued ones first), instead of
   * `requests`, while the Scope lives: no fiber, no queue.
   */
  readonly onRequest: (handler: (request: IncomingRequest) => void) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Writing as a synchronous `ByteSink` (the fast path of tunnels; not mixed with `write`): each chunk goes out in
   * the caller's turn as far as the peer's window and the socket allow, the rest when WINDOW_ADJUST or the
   * socket's room comes; `write` returns `false` while anything waits — a caller stops producing then (a paused
   * socket) until `onReady`, so at most the chunks it gave before it stopped wait here. `isClosed` once our EOF
   * or CLOSE went out, the peer's CLOSE came, or the connection failed.
   */
  readonly sink: ByteSink
  /** Sends data, split by the peer's max packet, waiting for window as needed. */
  readonly write: (data: Uint8Array) => Effect.Effect<void, ChannelError | TransportError>
  /** Sends extended data (type 1, stderr). */
  readonly writeStderr: (data: Uint8Array) => Effect.Effect<void, ChannelError | TransportError>
  /** Sends CHANNEL_EOF (once). */
  readonly eof: Effect.Effect<void, TransportError>
  /**
   * Sends a channel request; with `wantReply`, waits for SUCCESS (true) or FAILURE (false).
   */
  readonly request: (
    request: string,
    data: Uint8Array,
    wantReply: boolean
  ) => Effect.Effect<boolean, ChannelError | TransportError>
  /** Sends CHANNEL_CLOSE (once); the channel is gone when the peer's CLOSE arrives. */
  readonly close: Effect.Effect<void, TransportError>
  /** Waits until both sides have closed the channel. */
  readonly closed: Effect.Effect<void, TransportError>
}
