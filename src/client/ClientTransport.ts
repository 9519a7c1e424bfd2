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
import * as Algorithms from "../crypto/Algorithms.js"
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
  /** The address actually connected to, when known: handed to the policy for `checkHostIp`. */
  readonly hostAddress?: string | undefined
}

/**
 * Runs the client side of the version exchange and first key exchange over `socket`, checking the host key
 * with the policy before anything else is sent. Unless `algorithms.hostKey` is set, the policy may move some host
 * key algorithms first (certificates when known_hosts has an `@cert-authority` line for the host).
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
    const { host, hostAddress, hostKeys: _, port, ...rest } = options
    let algorithms = rest.algorithms
    if (algorithms?.hostKey === undefined && policy.preferredAlgorithms !== undefined) {
      const preferred = yield* policy.preferredAlgorithms(host, port ?? 22)
      if (preferred.length > 0) algorithms = { ...algorithms, hostKey: preferFirst(preferred) }
    }
    return yield* Transport.make(socket, {
      ...rest,
      algorithms,
      role: "client",
      verifyHostKey: (key) =>
        policy.verify(HostKeyPolicy.makeInfo(host, port ?? 22, key.blob, hostAddress)).pipe(Effect.provide(context))
    })
  })

/** openssh sshconnect2.c order_hostkeyalgs: the preferred defaults first, the other defaults after, in order. */
const preferFirst = (preferred: ReadonlyArray<string>): ReadonlyArray<string> => {
  const defaults = Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS
  const first = defaults.filter((a) => preferred.includes(a))
  return [...first, ...defaults.filter((a) => !first.includes(a))]
}

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
