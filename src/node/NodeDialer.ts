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

/**
 * Connects a Node socket (TCP or UNIX path) eagerly and scoped: `onError` turns a failed connect into the
 * caller's typed error; once connected, later socket errors are left to whoever reads it. The one connect helper
 * of src/node (NodeDialer, NodeForward, NodeAgent).
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectNet = <E>(
  options: Net.NetConnectOpts,
  onError: (cause: Error) => E
): Effect.Effect<Net.Socket, E, Scope.Scope> => Effect.suspend(() => awaitNet(Net.createConnection(options), undefined, onError))

/** Waits for `socket` to connect (it may have already, or failed with `earlier`); scoped like `connectNet`. */
const awaitNet = <E>(
  socket: Net.Socket,
  earlier: Error | undefined,
  onError: (cause: Error) => E
): Effect.Effect<Net.Socket, E, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, E>((resume) => {
      if (earlier !== undefined || socket.destroyed) {
        return resume(Effect.fail(onError(earlier ?? new Error("socket closed before use"))))
      }
      const connected = () => {
        socket.off("error", failed)
        // Errors before the reader starts would otherwise be unhandled; reading reports them.
        socket.on("error", () => {})
        resume(Effect.succeed(socket))
      }
      const failed = (cause: Error) => resume(Effect.fail(onError(cause)))
      socket.once("error", failed)
      if (socket.readyState === "open") connected()
      else socket.once("connect", connected)
      return Effect.sync(() => socket.destroy())
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/**
 * Opens the TCP connection eagerly (or takes `pending`): refused or unreachable is `ConnectFailed` at once. A
 * socket we open reads into the transport's own buffer (`reads`, NodeLink.Reads); a pending one was created
 * without it and goes through `data` events.
 */
const open = (
  host: string,
  port: number,
  timeout: Duration.DurationInput | undefined,
  reads: NodeLink.Reads,
  pending?: { readonly socket: Net.Socket; readonly error: Error | undefined }
) =>
  (pending === undefined
    ? connectNet({ host, port, noDelay: true, onread: reads.onread }, (cause) => connectFailed(host, port, cause))
    : awaitNet(pending.socket, pending.error, (cause) => connectFailed(host, port, cause))).pipe(
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
  )

/**
 * Dials `host:port` and returns the platform Socket, with the native link (pause, cork/uncork) registered for
 * the transport (NodeLink), and the address connected to. The one way to dial TCP: `NodeTransport.dial` uses it.
 * With `pending`, a socket already being connected to `host:port` is used instead of a new one (the CLI opens
 * its connection before its code is loaded: cli/Preconnect.ts), with the same errors and timeout.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialNet = (
  host: string,
  port: number,
  timeout?: Duration.DurationInput,
  pending?: { readonly socket: Net.Socket; readonly error: Error | undefined }
): Effect.Effect<{ readonly socket: Socket.Socket; readonly address: string | undefined }, TransportError, Scope.Scope> =>
  Effect.suspend(() => {
    // The transport reads a socket we open straight into its own buffer (NodeLink.Reads), not through `data` events.
    const reads = new NodeLink.Reads()
    return Effect.flatMap(open(host, port, timeout, reads, pending), (net) =>
      Effect.map(
        NodeSocket.fromDuplex(Effect.succeed(net)),
        (socket) => ({
          socket: NodeLink.register(socket, net, pending === undefined ? reads : undefined),
          address: net.remoteAddress
        })
      ))
  })

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
