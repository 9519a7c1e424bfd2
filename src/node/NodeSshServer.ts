/**
 * An SSH server on a Node TCP listener: the server-role transport (TCP_NODELAY, node:crypto) on every accepted
 * socket, then `SshServer.handleConnection` with your handlers, one Scope per connection.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { SshServer } from "effect-ssh"
 * import { NodeCrypto, NodeSshServer } from "effect-ssh/node"
 *
 * const hostKey = NodeCrypto.generateKey({ type: "ed25519" })
 * SshServer.run({ auth: { password: ({ username }) => Effect.succeed(username === "demo") } }).pipe(
 *   Effect.provide(NodeSshServer.layer({
 *     port: 2222,
 *     hostKeys: [hostKey],
 *     hostKeyFiles: [{ path: "./ssh_host_ecdsa_key", generate: { type: "ecdsa" } }]
 *   })),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as SshServer from "../server/SshServer.js"
import { NodeCrypto } from "./NodeCrypto.js"
import * as NodeForward from "./NodeForward.js"
import * as NodeX11 from "./NodeX11.js"
import * as NodeHostKeys from "./NodeHostKeys.js"
import * as NodeLink from "./NodeLink.js"

/**
 * Where to listen, plus the server configuration (host keys, algorithms, limits).
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeSshServerOptions extends Omit<SshServer.ServerConfig, "hostKeys"> {
  /** Host keys in memory. */
  readonly hostKeys?: SshServer.ServerConfig["hostKeys"] | undefined
  /**
   * Host key files, loaded when the layer is built (a `{ path, generate }` entry is generated and saved when
   * missing). Together with `hostKeys`, at least one key is needed.
   */
  readonly hostKeyFiles?: ReadonlyArray<string | NodeHostKeys.HostKeyFile> | undefined
  /** Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Default 0 (any free port; read it from the address). */
  readonly port?: number | undefined
}

const config = (options: NodeSshServerOptions): Effect.Effect<SshServer.ServerConfig, NodeHostKeys.HostKeyFileError> =>
  Effect.map(NodeHostKeys.loadAll(options.hostKeyFiles ?? []), (fromFiles) => {
    const { host: _host, port: _port, hostKeyFiles: _files, ...rest } = options
    return {
      ...rest,
      hostKeys: [...(options.hostKeys ?? []), ...fromFiles],
      crypto: options.crypto ?? NodeCrypto,
      // Forwarding (off unless enabled) listens and connects with Node sockets.
      forwarding: { net: NodeForward.localNet, xauth: NodeX11.xauth(), ...options.forwarding }
    }
  })

/** `::ffff:127.0.0.1` (an IPv4 client of a dual-stack listener) → `127.0.0.1`, as sshd shows it. */
const unmapped = (address: string) => (address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address)

const ignore = () => {}

/**
 * A platform `Socket` over `conn`, made (NodeSocket.fromDuplex) only when something runs or writes through it:
 * the transport reads and writes `conn` through its native link (NodeLink), so a served connection never does,
 * and keeps none of its closures and latch (issue 10). Only a connection refused before the transport starts
 * (MaxStartups) or a custom handler uses it.
 */
const lazySocket = (conn: Net.Socket): Socket.Socket => {
  let socket: Socket.Socket | undefined
  const get = Effect.suspend(() =>
    socket !== undefined ? Effect.succeed(socket) : Effect.map(
      NodeSocket.fromDuplex(Effect.acquireRelease(Effect.succeed(conn), () => Effect.sync(() => conn.destroySoon()))),
      (s) => (socket = s)
    )
  )
  return {
    [Socket.TypeId]: Socket.TypeId,
    run: (handler, options) => Effect.flatMap(get, (s) => s.run(handler, options)),
    runRaw: (handler, options) => Effect.flatMap(get, (s) => s.runRaw(handler, options)),
    writer: Effect.flatMap(get, (s) => s.writer)
  }
}

/**
 * Listens on TCP and serves each accepted socket in a fiber of its own, forked with the socket's `NetSocket` and
 * `SshServer.PeerAddress` already in its context. Unlike @effect/platform-node's `NodeSocketServer.run`, which
 * provides them around the handler (each `provideService` and its `acquireRelease` stays on the fiber's stack for
 * the connection's life), nothing wraps the handler here: an idle connection's one fiber holds only what the
 * handler left (issue 10: bytes per idle connection). The socket is destroyed when its fiber ends, and every
 * fiber is interrupted when `run` is.
 */
const makeSocketServer = (options: {
  readonly host?: string | undefined
  readonly port?: number | undefined
}): Effect.Effect<SocketServer.SocketServer["Type"], SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const server = Net.createServer()
    const failed = yield* Deferred.make<never, SocketServer.SocketServerError>()
    const pending: Array<Net.Socket> = []
    let onConnection: (conn: Net.Socket) => void = (conn) => void pending.push(conn)
    server.on("connection", (conn) => onConnection(conn))
    yield* Effect.addFinalizer(() => Effect.async<void>((resume) => void server.close(() => resume(Effect.void))))
    yield* Effect.async<void, SocketServer.SocketServerError>((resume) => {
      server.once("error", (cause) => resume(Effect.fail(new SocketServer.SocketServerError({ reason: "Open", cause }))))
      server.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 }, () => {
        server.removeAllListeners("error")
        server.on("error", (cause) => Deferred.unsafeDone(failed, Exit.fail(new SocketServer.SocketServerError({ reason: "Unknown", cause }))))
        resume(Effect.void)
      })
    })
    const bound = server.address()
    const address: SocketServer.Address = typeof bound === "string" || bound === null
      ? { _tag: "UnixAddress", path: String(bound) }
      : { _tag: "TcpAddress", hostname: bound.address, port: bound.port }

    const run = <R, E, _>(handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>) =>
      Effect.flatMap(Effect.runtime<R>(), (runtime) => {
        const fibers = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
        const serveOne = (conn: Net.Socket) => {
          // An error before the transport's link listens must not be an unhandled 'error' event.
          conn.on("error", ignore)
          conn.setNoDelay(true)
          let context = Context.add(runtime.context, NodeSocket.NetSocket, conn)
          if (conn.remoteAddress !== undefined) {
            context = Context.add(context, SshServer.PeerAddress, { address: unmapped(conn.remoteAddress), port: conn.remotePort ?? 0 })
          }
          const fiber = Runtime.runFork(Runtime.make({ context, fiberRefs: runtime.fiberRefs, runtimeFlags: runtime.runtimeFlags }))(
            Effect.suspend(() => handler(NodeLink.register(lazySocket(conn), conn)))
          )
          fibers.add(fiber)
          fiber.addObserver(() => {
            fibers.delete(fiber)
            if (!conn.destroyed) conn.destroySoon()
          })
        }
        return Effect.async<never>(() => {
          const previous = onConnection
          onConnection = serveOne
          for (const conn of pending.splice(0)) serveOne(conn)
          return Effect.suspend(() => {
            onConnection = previous
            return Fiber.interruptAll([...fibers])
          })
        }).pipe(Effect.raceFirst(Deferred.await(failed)))
      })
    return SocketServer.SocketServer.of({ address, run })
  })

/**
 * A TCP `SocketServer` whose sockets have TCP_NODELAY set (DESIGN.md §6) and whose connection handlers see
 * the client's address as `SshServer.PeerAddress`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSocketServer = (options: {
  readonly host?: string | undefined
  readonly port?: number | undefined
}): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, makeSocketServer(options))

/**
 * The TCP listener and the server configuration for `SshServer.run`, on node:crypto unless `crypto` names
 * another backend. The listener closes with the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: NodeSshServerOptions
): Layer.Layer<
  SocketServer.SocketServer | SshServer.SshServerConfig,
  SocketServer.SocketServerError | NodeHostKeys.HostKeyFileError
> =>
  Layer.merge(
    layerSocketServer(options),
    Layer.effect(SshServer.SshServerConfig, config(options))
  )

/**
 * Starts listening and serves connections with `handlers` until the Scope closes. Returns the bound address.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (
  options: NodeSshServerOptions,
  handlers: SshServer.ServerHandlers
): Effect.Effect<SocketServer.Address, SocketServer.SocketServerError | NodeHostKeys.HostKeyFileError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(layer(options))
    const server = Context.get(context, SocketServer.SocketServer)
    yield* SshServer.run(handlers).pipe(Effect.provide(context), Effect.forkScoped)
    return server.address
  })
