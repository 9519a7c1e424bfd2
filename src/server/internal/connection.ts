/**
 * The server's connection handling: ServerAuth, then a ConnectionMux that accepts session channels (served by
 * session/ServerSession, RFC 4254 §6) and the forwarding the policy allows.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ServerAuth from "../../auth/ServerAuth.js"
import * as ConnectionMux from "../../connection/ConnectionMux.js"
import * as ServerSession from "../../session/ServerSession.js"
import type * as Transport from "../../transport/Transport.js"
import type { ServerHandlers } from "../SshServer.js"
import * as Forward from "./forward.js"

/** @internal */
export const handleConnection = (
  transport: Transport.Transport,
  handlers: ServerHandlers,
  onAuthenticated?: Effect.Effect<void>,
  remoteAddress?: string
) =>
  Effect.gen(function*() {
    const authenticated = yield* ServerAuth.authenticate(transport, handlers.auth, {
      ...handlers.authOptions,
      remoteAddress: remoteAddress ?? handlers.authOptions?.remoteAddress
    })
    if (onAuthenticated !== undefined) yield* onAuthenticated
    let sessions = 0
    const maxSessions = handlers.maxSessions ?? 10
    const mux: ConnectionMux.ConnectionMux = yield* ConnectionMux.make(transport, authenticated, {
      keepalive: handlers.keepalive,
      acceptChannel: (open) =>
        Effect.sync((): ConnectionMux.ChannelAcceptance => {
          if (open.channelType !== "session") {
            return { _tag: "Reject", reason: 1, description: `${open.channelType} channels are not served` }
          }
          // SEC-42: RFC 4254 §5.1 SSH_OPEN_RESOURCE_SHORTAGE (4).
          if (sessions >= maxSessions) return { _tag: "Reject", reason: 4, description: "too many sessions (MaxSessions)" }
          sessions++
          const serve = ServerSession.serve({ ...authenticated, remoteAddress, mux }, handlers)
          return {
            // No fiber while the session is idle: its requests are routed as they arrive (DESIGN.md §6).
            _tag: "Attach",
            attach: (channel) => Effect.zipRight(Effect.addFinalizer(() => Effect.sync(() => sessions--)), serve(channel))
          }
        })
    })
    yield* Forward.install(mux, handlers.forwarding, authenticated)
    yield* transport.closed
  })
