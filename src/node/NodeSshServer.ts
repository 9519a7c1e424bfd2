/**
 * An SSH server on a Node TCP listener: the server-role transport (TCP_NODELAY, node:crypto) on every accepted
 * socket, then `SshServer.handleConnection` with your handlers, one Scope per connection.
 *
 * @since 0.1.0
 */
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as SshServer from "../server/SshServer.js"
import type { AlgorithmOptions } from "../transport/Transport.js"
import * as NodeTransport from "./NodeTransport.js"

/**
 * Where to listen and which host keys to present.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeSshServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Default 0 (any free port; read it from the returned address). */
  readonly port?: number | undefined
  readonly hostKeys: ReadonlyArray<PrivateKeyMaterial>
  readonly algorithms?: AlgorithmOptions | undefined
}

/**
 * Starts listening; connections are served until the Scope closes. Returns the bound address.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (
  options: NodeSshServerOptions,
  handlers: SshServer.ServerHandlers
): Effect.Effect<SocketServer.Address, SocketServer.SocketServerError, Scope.Scope> =>
  NodeTransport.serve(
    { host: options.host, port: options.port, hostKeys: options.hostKeys, algorithms: options.algorithms },
    (transport) =>
      SshServer.handleConnection(transport, handlers).pipe(
        Effect.catchAllCause((cause) => Effect.logDebug("connection ended", cause))
      )
  )
