/**
 * How a client reaches a server: `(host, port)` to a scoped `Socket`. Node provides a TCP dialer
 * (`effect-ssh/node`); tests and jump hosts provide their own.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { TransportError } from "../SshError.js"

/**
 * Opens the socket a client connection runs over.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dialer {
  /**
   * Connects to `host:port`. Fails with a `TransportError` of reason "ConnectFailed" (refused, unreachable,
   * unknown host) or "Timeout".
   */
  readonly dial: (
    host: string,
    port: number,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<Socket.Socket, TransportError, Scope.Scope>
  /**
   * `dial`, also returning the address actually connected to (for a HostKeyPolicy's `checkHostIp`), for dialers
   * that know it.
   */
  readonly dialAddress?: (
    host: string,
    port: number,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<{ readonly socket: Socket.Socket; readonly address: string | undefined }, TransportError, Scope.Scope>
}

/**
 * The Dialer service.
 *
 * @since 0.1.0
 * @category tags
 */
export const Dialer: Context.Tag<Dialer, Dialer> = Context.GenericTag<Dialer>("effect-ssh/Dialer")
