/**
 * ProxyJump: the first hop is dialed, every later hop and the target are reached through the previous hop's
 * `direct-tcpip` channel seen as a Socket (RFC 4254 §7.2). Every connection and tunnel lives in the caller's
 * Scope and closes in reverse order: the target first, the first hop last.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Tunnel from "../../forward/Tunnel.js"
import { DisconnectReason, TransportError } from "../../SshError.js"
import type { SshClientOptions } from "../SshClient.js"
import type { SshConnection } from "../SshConnection.js"

/** @internal */
export const connectVia = <E, R>(
  options: SshClientOptions,
  direct: (hop: SshClientOptions) => Effect.Effect<SshConnection, E, R>,
  over: (socket: Socket.Socket, hop: SshClientOptions) => Effect.Effect<SshConnection, E, R>
): Effect.Effect<SshConnection, E | TransportError, R | Scope.Scope> =>
  Effect.gen(function*() {
    const [first, ...rest] = options.via ?? []
    if (first === undefined) return yield* direct(options)
    let previous = yield* direct({ ...first, via: undefined })
    for (const hop of [...rest, options]) {
      const port = hop.port ?? 22
      const tunnel = yield* Tunnel.openTcp(previous.mux, hop.host, port).pipe(
        Effect.mapError((e) =>
          new TransportError({
            reason: "ConnectFailed",
            origin: "Local",
            code: DisconnectReason.ConnectionLost,
            description: `cannot reach ${hop.host} port ${port} through the jump host: ${e.description}`,
            cause: e
          })
        )
      )
      previous = yield* over(tunnel.socket, { ...hop, via: undefined })
    }
    return previous
  })
