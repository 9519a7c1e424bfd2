/**
 * What forwarding needs from the machine it runs on: listening on and connecting to TCP addresses and UNIX
 * sockets, as scoped resources with back-pressured byte streams. `effect-ssh/node` provides it
 * (`NodeForward.layer`); tests and in-process services may provide their own.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { ByteSink } from "../connection/Channel.js"
import type { ForwardError } from "./ForwardError.js"

/**
 * A TCP address (host name or IP literal, without brackets) or a UNIX socket path.
 *
 * @since 0.1.0
 * @category models
 */
export type Endpoint =
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string }

/**
 * A TCP endpoint.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tcp = (host: string, port: number): Endpoint => ({ _tag: "Tcp", host, port })

/**
 * A UNIX socket endpoint.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unix = (path: string): Endpoint => ({ _tag: "Unix", path })

/**
 * One local stream connection: bytes in (ending at the peer's EOF), bytes out, and a half-close.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalConnection {
  /** What the peer sends; ends at its EOF. A single consumer; reading drives back-pressure. */
  readonly input: Stream.Stream<Uint8Array, ForwardError>
  /** Writes bytes; waits while the peer is not reading. */
  readonly write: (data: Uint8Array) => Effect.Effect<void, ForwardError>
  /**
   * The same writes, synchronous, when the connection can take them that way (Node sockets): a tunnel then pipes
   * the channel's data into it without a fiber or an Effect per chunk (`Channel.pipeData`).
   */
  readonly sink?: ByteSink | undefined
  /**
   * `input` into a synchronous `ByteSink` (a channel's `sink`), when the connection can give it that way: each
   * chunk handed over in the turn it is read, reading paused while the sink is full. Ends after the peer's EOF
   * once the sink took everything; fails when the connection fails or the sink closes first. Instead of `input`,
   * never together with it.
   */
  readonly pipeTo?: ((sink: ByteSink) => Effect.Effect<void, ForwardError>) | undefined
  /** Sends EOF (half-close); reading goes on. */
  readonly end: Effect.Effect<void>
  /** The peer's address, when known (the originator of a TCP connection). */
  readonly peer: Endpoint | undefined
}

/**
 * Options of `LocalNet.listen`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  /**
   * The user a UNIX socket is created for: a server running as root makes it theirs (SEC-48), so only they (and
   * whom their permissions allow) may connect.
   */
  readonly owner?: string | undefined
}

/**
 * Listening and connecting on the local machine.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalNet {
  /**
   * Listens on `endpoint` (TCP port 0 picks a free port) and runs `onConnection` for each accepted connection in
   * its own fiber. The listener, every handler and every accepted connection end when the Scope closes; a
   * connection is also closed when its handler returns. Returns the bound address.
   */
  readonly listen: (
    endpoint: Endpoint,
    onConnection: (connection: LocalConnection) => Effect.Effect<void>,
    options?: ListenOptions
  ) => Effect.Effect<Endpoint, ForwardError, Scope.Scope>
  /** Connects to `endpoint`; the connection closes with the Scope. */
  readonly connect: (endpoint: Endpoint) => Effect.Effect<LocalConnection, ForwardError, Scope.Scope>
  /**
   * The machine's host name, as others reach it (gethostname): the host of an X11 display a server offers on
   * every address (sshd with X11UseLocalhost no). Without it such a display is named `localhost`.
   */
  readonly hostname?: (() => string) | undefined
}

/**
 * The LocalNet service.
 *
 * @since 0.1.0
 * @category tags
 */
export const LocalNet: Context.Tag<LocalNet, LocalNet> = Context.GenericTag<LocalNet>("effect-ssh/LocalNet")
