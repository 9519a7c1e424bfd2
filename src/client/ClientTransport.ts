/**
 * The client role of the transport with a `HostKeyPolicy` deciding trust in the server's host key (SEC-20):
 * the bridge from the policy (L6) to the transport's verifier (L2).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { TransportError } from "../SshError.js"
import * as Transport from "../transport/Transport.js"
import * as HostKeyPolicy from "./HostKeyPolicy.js"

/**
 * Options of the client transport: the transport's options plus the host, the port and the host key policy.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientTransportOptions<R = FileSystem.FileSystem | Path.Path>
  extends Omit<Transport.TransportOptions, "role" | "verifyHostKey" | "hostKeys">
{
  /** The host name as the user gave it: known_hosts entries are looked up by it. */
  readonly host: string
  readonly port?: number | undefined
  /**
   * Who decides whether the server's host key is trusted. The default is the user's ~/.ssh/known_hosts, strict:
   * an unknown or changed key fails the connection.
   */
  readonly hostKeys?: HostKeyPolicy.HostKeyPolicy<R> | undefined
}

/**
 * Runs the client side of the version exchange and first key exchange over `socket`, checking the host key
 * with the policy before anything else is sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <R = FileSystem.FileSystem | Path.Path>(
  socket: Socket.Socket,
  options: ClientTransportOptions<R>
): Effect.Effect<Transport.Transport, TransportError, Scope.Scope | R> =>
  Effect.gen(function*() {
    const policy = (options.hostKeys ?? HostKeyPolicy.defaultPolicy) as HostKeyPolicy.HostKeyPolicy<R>
    const context = yield* Effect.context<R>()
    const { host, hostKeys: _, port, ...rest } = options
    return yield* Transport.make(socket, {
      ...rest,
      role: "client",
      verifyHostKey: (key) =>
        policy.verify(HostKeyPolicy.makeInfo(host, port ?? 22, key.blob)).pipe(Effect.provide(context))
    })
  })

/**
 * The client transport over the `Socket` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R = FileSystem.FileSystem | Path.Path>(
  options: ClientTransportOptions<R>
): Layer.Layer<Transport.Transport, TransportError, Socket.Socket | R> =>
  Layer.scoped(Transport.Transport, Effect.flatMap(Socket.Socket, (socket) => make(socket, options)))
