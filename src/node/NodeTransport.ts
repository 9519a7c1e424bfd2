/**
 * The transport over Node TCP sockets, with TCP_NODELAY on every socket in both roles (DESIGN.md §6: without
 * it, handshakes and request/response traffic stall on Nagle's algorithm).
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Socket from "@effect/platform/Socket"
import * as SocketError from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as ClientTransport from "../client/ClientTransport.js"
import { NodeCompression } from "./NodeCompression.js"
import { NodeCrypto } from "./NodeCrypto.js"
import * as NodeDialer from "./NodeDialer.js"
import * as NodeLink from "./NodeLink.js"
import * as RunInternal from "../server/internal/run.js"
import * as Startups from "../server/internal/startups.js"
import type * as SshServer from "../server/SshServer.js"
import type { TransportError } from "../SshError.js"
import * as Transport from "../transport/Transport.js"

/**
 * Opens a TCP connection with TCP_NODELAY set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dial = (options: {
  readonly host: string
  readonly port?: number | undefined
  readonly timeout?: Duration.DurationInput | undefined
}): Effect.Effect<Socket.Socket, Socket.SocketError, Scope.Scope> =>
  NodeDialer.dialNet(options.host, options.port ?? 22, options.timeout).pipe(
    Effect.map(({ socket }) => socket),
    Effect.mapError((cause) => new SocketError.SocketGenericError({ reason: "Open", cause }))
  )

/**
 * A client transport to `host:port` over TCP, with the host key policy of the options (default: the user's
 * known_hosts, strict), on node:crypto and node:zlib unless `crypto` / `compression` name other backends.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = <R = FileSystem.FileSystem | Path.Path>(
  options: ClientTransport.ClientTransportOptions<R> & { readonly connectTimeout?: Duration.DurationInput | undefined }
): Effect.Effect<Transport.Transport, TransportError | Socket.SocketError, Scope.Scope | R> =>
  Effect.flatMap(dial({ host: options.host, port: options.port, timeout: options.connectTimeout }), (socket) =>
    ClientTransport.make(socket, {
      ...options,
      crypto: options.crypto ?? NodeCrypto,
      compression: options.compression ?? NodeCompression
    }))

/**
 * A client transport to `host:port` over TCP as a layer; the connection lives as long as the layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = <R = FileSystem.FileSystem | Path.Path>(
  options: ClientTransport.ClientTransportOptions<R> & { readonly connectTimeout?: Duration.DurationInput | undefined }
): Layer.Layer<Transport.Transport, TransportError | Socket.SocketError, R> => Layer.scoped(Transport.Transport, connect(options))

/**
 * Sets TCP_NODELAY on the Node socket behind the current connection, when there is one.
 *
 * @since 0.1.0
 * @category utils
 */
export const setNoDelay: Effect.Effect<void> = Effect.serviceOption(NodeSocket.NetSocket).pipe(
  Effect.map(Option.map((socket) => socket.setNoDelay(true))),
  Effect.asVoid
)

/**
 * Registers the native link (NodeLink) for a platform Socket accepted by a Node `SocketServer`, when the Node
 * socket behind it is in context.
 *
 * @since 0.1.0
 * @category utils
 */
export const registerLink = (socket: Socket.Socket): Effect.Effect<void> =>
  Effect.serviceOption(NodeSocket.NetSocket).pipe(
    Effect.map(Option.map((net) => NodeLink.register(socket, net))),
    Effect.asVoid
  )

/**
 * Listens on TCP and runs the server role of the transport (on node:crypto and node:zlib unless `crypto` /
 * `compression` name other backends) on every accepted socket, then `handler` with the established transport.
 * Each connection lives in its own Scope, closed when the handler ends or fails. Returns the bound address;
 * serving stops when the enclosing Scope closes.
 *
 * Connections are served the way `SshServer.run` serves them, behind the same MaxStartups gate (LIM-19,
 * SEC-38; default 10:30:100): a connection counts as unauthenticated until `handler` runs its second argument
 * (`(t, authenticated) => SshServer.handleConnection(t, handlers, { onAuthenticated: authenticated })`) or ends,
 * and refused ones are closed before our version string is sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <E, R>(
  options: Omit<Transport.TransportOptions, "role"> & {
    readonly host?: string | undefined
    readonly port?: number | undefined
    readonly maxStartups?: SshServer.MaxStartups | undefined
  },
  handler: (transport: Transport.Transport, authenticated: Effect.Effect<void>) => Effect.Effect<unknown, E, R>
): Effect.Effect<SocketServer.Address, SocketServer.SocketServerError, Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const { host, maxStartups, port, ...transportOptions } = options
    const invalid = Startups.validate(maxStartups ?? Startups.DEFAULT)
    if (invalid !== undefined) return yield* Effect.dieMessage(invalid)
    const gate = RunInternal.makeGate(maxStartups ?? Startups.DEFAULT)
    const server = yield* NodeSocketServer.make({ host: host ?? "127.0.0.1", port: port ?? 0 })
    yield* server.run((socket) =>
      Effect.zipRight(
        Effect.zipRight(setNoDelay, registerLink(socket)),
        RunInternal.serveTransport(socket, {
          ...transportOptions,
          crypto: transportOptions.crypto ?? NodeCrypto,
          compression: transportOptions.compression ?? NodeCompression
        }, gate, handler)
      )
    ).pipe(Effect.forkScoped)
    return server.address
  })
