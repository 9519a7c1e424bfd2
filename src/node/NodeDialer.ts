/**
 * The TCP `Dialer` on Node: connects eagerly (so that a refused or unreachable host is a typed error at once),
 * with TCP_NODELAY (DESIGN.md §6).
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Net from "node:net"
import type * as Socket from "@effect/platform/Socket"
import type * as Scope from "effect/Scope"
import * as NodeLink from "./NodeLink.js"
import { Dialer } from "../client/Dialer.js"
import { DisconnectReason, TransportError } from "../SshError.js"

const connectFailed = (host: string, port: number, cause: unknown) =>
  new TransportError({
    reason: "ConnectFailed",
    origin: "Local",
    code: DisconnectReason.ConnectionLost,
    description: cause instanceof Error ? cause.message : String(cause),
    host,
    port,
    cause
  })

/** Opens the TCP connection eagerly: refused or unreachable is `ConnectFailed` at once. */
const open = (host: string, port: number, timeout: Duration.DurationInput | undefined) =>
    Effect.acquireRelease(
      Effect.async<Net.Socket, TransportError>((resume) => {
        const socket = Net.createConnection({ host, port, noDelay: true })
        const onError = (cause: Error) => resume(Effect.fail(connectFailed(host, port, cause)))
        socket.once("error", onError)
        socket.once("connect", () => {
          socket.off("error", onError)
          // Errors before the transport starts reading would otherwise be unhandled; reading reports them.
          socket.on("error", () => {})
          resume(Effect.succeed(socket))
        })
        return Effect.sync(() => socket.destroy())
      }).pipe(
        Effect.timeoutFail({
          duration: timeout ?? Duration.seconds(30),
          onTimeout: () =>
            new TransportError({
              reason: "Timeout",
              origin: "Local",
              code: DisconnectReason.ConnectionLost,
              timeout: "Connect",
              description: `the TCP connection was not established within ${Duration.format(timeout ?? Duration.seconds(30))}`,
              host,
              port
            })
        })
      ),
      (socket) => Effect.sync(() => socket.destroy())
    )

/**
 * Dials `host:port` and returns the platform Socket, with the native link (pause, cork/uncork) registered for
 * the transport (NodeLink), and the address connected to. The one way to dial TCP: `NodeTransport.dial` uses it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialNet = (
  host: string,
  port: number,
  timeout?: Duration.DurationInput
): Effect.Effect<{ readonly socket: Socket.Socket; readonly address: string | undefined }, TransportError, Scope.Scope> =>
  Effect.flatMap(open(host, port, timeout), (net) =>
    Effect.map(
      NodeSocket.fromDuplex(Effect.succeed(net)),
      (socket) => ({ socket: NodeLink.register(socket, net), address: net.remoteAddress })
    ))

/**
 * The Node TCP dialer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialer: Dialer = {
  dial: (host, port, timeout) =>
    Effect.map(dialNet(host, port, timeout), ({ socket }) => socket),
  dialAddress: dialNet
}

/**
 * Provides the Node TCP dialer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Dialer> = Layer.succeed(Dialer, dialer)
