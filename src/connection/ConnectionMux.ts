/**
 * The connection layer (RFC 4254) for one authenticated connection: the channel table, channel opens, global
 * requests, and the dispatch of every connection message. It requires `Authenticated`, so it cannot exist
 * before user authentication succeeded (SEC-29).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Authenticated } from "../auth/Authenticated.js"
import * as AuthenticatedTag from "../auth/Authenticated.js"
import type { ChannelError, TransportError } from "../SshError.js"
import * as Transport from "../transport/Transport.js"
import type { Channel } from "./Channel.js"
import * as internal from "./internal/mux.js"

/**
 * Window, packet and channel limits, and keepalive, for the connection layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionMuxOptions {
  /** Window we advertise per channel (default 2 MiB, LIM-20). */
  readonly window?: number | undefined
  /** Largest data packet we accept (default 32 KiB). */
  readonly maxPacket?: number | undefined
  /** Channels open at once (default 1 024, LIM-22). */
  readonly maxChannels?: number | undefined
  /**
   * Send keepalive@openssh.com every `interval`; after `countMax` unanswered ones the connection fails with a
   * `TransportError` of reason "Timeout" (OpenSSH ServerAliveInterval/ServerAliveCountMax). Off by default.
   */
  readonly keepalive?: { readonly interval: Duration.DurationInput; readonly countMax?: number | undefined } | undefined
  /**
   * How long a channel open or a channel request may wait for the server's answer before it fails with a
   * `ChannelError` (the connection stays up). No limit by default.
   */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /**
   * Decides on channels the peer opens (the server role; RFC 4254 §5.1). Without it every CHANNEL_OPEN is refused
   * (SEC-47). A failure or defect refuses too (deny by default). An accepted channel runs `run` and is closed
   * when it ends; requests that want a reply carry `reply` for the handler to answer.
   */
  /**
   * Global-request handlers in place before the first message is dispatched (a request that arrives right behind
   * USERAUTH_SUCCESS, such as hostkeys-00@openssh.com, would otherwise find no handler yet). Like
   * `handleGlobalRequests`, for the life of the connection.
   */
  readonly globalRequests?:
    | Readonly<Record<string, (request: { readonly name: string; readonly data: Uint8Array; readonly wantReply: boolean }) => Effect.Effect<GlobalRequestReply, unknown>>>
    | undefined
  readonly acceptChannel?:
    | ((open: { readonly channelType: string; readonly data: Uint8Array }) => Effect.Effect<ChannelAcceptance, unknown>)
    | undefined
}

/**
 * The answer to a CHANNEL_OPEN from the peer.
 *
 * @since 0.1.0
 * @category models
 */
export type ChannelAcceptance =
  | { readonly _tag: "Accept"; readonly run: (channel: Channel) => Effect.Effect<void, unknown> }
  | {
    /**
     * Serves the channel without holding a fiber while it is idle: `attach` runs once, when the channel is
     * confirmed, in the channel's own Scope (closed when both CLOSEs are exchanged or the connection ends, which
     * interrupts whatever was forked into it). It installs what serves the channel (`onRequest`, fibers forked in
     * the Scope) and returns; the channel stays open until someone calls `close` or the peer closes it. A
     * failing or dying `attach` closes the channel.
     */
    readonly _tag: "Attach"
    readonly attach: (channel: Channel) => Effect.Effect<void, unknown, Scope.Scope>
  }
  | { readonly _tag: "Reject"; readonly reason: number; readonly description: string }

/**
 * The answer to a global request from the peer (RFC 4254 §4).
 *
 * @since 0.1.0
 * @category models
 */
export type GlobalRequestReply =
  | { readonly _tag: "Success"; readonly data?: Uint8Array | undefined }
  | { readonly _tag: "Failure" }

/**
 * The connection layer of one authenticated connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionMux {
  /** Opens a channel (RFC 4254 §5.1) in the caller's Scope; closing the Scope sends CHANNEL_CLOSE. */
  readonly open: (
    channelType: string,
    extra?: Uint8Array
  ) => Effect.Effect<Channel, ChannelError | TransportError, Scope.Scope>
  /**
   * Sends a global request (RFC 4254 §4). With `wantReply`: `Some(data)` on REQUEST_SUCCESS, `None` on
   * REQUEST_FAILURE.
   */
  readonly globalRequest: (
    name: string,
    data: Uint8Array,
    wantReply: boolean
  ) => Effect.Effect<Option.Option<Uint8Array>, TransportError>
  /** The number of open channels. */
  readonly channelCount: Effect.Effect<number>
  /**
   * Handles the peer's CHANNEL_OPEN of `channelType` while the caller's Scope lives (replaces an earlier handler
   * of the same type; removed when the Scope closes). Falls back to the `acceptChannel` option, then refuses
   * (deny by default, SEC-47). A failing or dying handler refuses the open.
   */
  readonly handleChannels: (
    channelType: string,
    handler: (open: { readonly channelType: string; readonly data: Uint8Array }) => Effect.Effect<ChannelAcceptance, unknown>
  ) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Handles the peer's global requests named `name` while the Scope lives; unhandled ones get REQUEST_FAILURE
   * when they want a reply. A failing or dying handler answers Failure. Replies go out in the order the requests
   * came (RFC 4254 §4).
   */
  readonly handleGlobalRequests: (
    name: string,
    handler: (
      request: { readonly name: string; readonly data: Uint8Array; readonly wantReply: boolean }
    ) => Effect.Effect<GlobalRequestReply, unknown>
  ) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * The ConnectionMux service.
 *
 * @since 0.1.0
 * @category tags
 */
export const ConnectionMux: Context.Tag<ConnectionMux, ConnectionMux> = Context.GenericTag<ConnectionMux>(
  "effect-ssh/ConnectionMux"
)

/**
 * Starts the connection layer over an authenticated transport; it runs until the Scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  transport: Transport.Transport,
  authenticated: Authenticated,
  options?: ConnectionMuxOptions
): Effect.Effect<ConnectionMux, never, Scope.Scope> => internal.make(transport, authenticated, options ?? {})

/**
 * The connection layer over the Transport and Authenticated services in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: ConnectionMuxOptions
): Layer.Layer<ConnectionMux, never, Transport.Transport | Authenticated> =>
  Layer.scoped(
    ConnectionMux,
    Effect.flatMap(
      Effect.all([Transport.Transport, AuthenticatedTag.Authenticated]),
      ([transport, authenticated]) => make(transport, authenticated, options)
    )
  )
