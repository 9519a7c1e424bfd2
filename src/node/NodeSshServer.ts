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
import * as SocketServer from "@effect/platform/SocketServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as SshServer from "../server/SshServer.js"
import { NodeCrypto } from "./NodeCrypto.js"
import * as NodeForward from "./NodeForward.js"
import * as NodeX11 from "./NodeX11.js"
import * as NodeHostKeys from "./NodeHostKeys.js"
import * as NodeTransport from "./NodeTransport.js"

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
  Layer.scoped(
    SocketServer.SocketServer,
    Effect.map(NodeSocketServer.make({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 }), (server) =>
      SocketServer.SocketServer.of({
        address: server.address,
        run: (handler) =>
          server.run((socket) =>
            Effect.zipRight(Effect.zipRight(NodeTransport.setNoDelay, NodeTransport.registerLink(socket)), Effect.flatMap(Effect.serviceOption(NodeSocket.NetSocket), (net) => {
              const address = Option.getOrUndefined(net)?.remoteAddress
              const port = Option.getOrUndefined(net)?.remotePort ?? 0
              return address === undefined
                ? handler(socket)
                : Effect.provideService(handler(socket), SshServer.PeerAddress, { address: unmapped(address), port })
            })))
      }))
  )

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
