/**
 * The server's connection handling: ServerAuth, then a ConnectionMux that accepts session channels (served by
 * session/ServerSession, RFC 4254 §6) and the forwarding the policy allows.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ServerAuth from "../../auth/ServerAuth.js"
import * as ConnectionMux from "../../connection/ConnectionMux.js"
import * as X11Server from "../../forward/X11Server.js"
import * as ServerSession from "../../session/ServerSession.js"
import type { TransportError } from "../../SshError.js"
import type * as Transport from "../../transport/Transport.js"
import type * as ChannelRequests from "../../wire/ChannelRequests.js"
import type { ServerConfig, ServerHandlers } from "../SshServer.js"
import * as AgentForward from "./agentForward.js"
import * as Forward from "./forward.js"
import * as HostKeys from "./hostKeys.js"
import * as Idle from "./idle.js"

/**
 * The session requests the server serves beyond RFC 4254's core, before the program: x11-req (RFC 4254 §6.3.1,
 * one display per session, SEC-48) and auth-agent-req@openssh.com (OpenSSH PROTOCOL.agent: a private agent socket,
 * once per session). Each lives in the session's Scope.
 */
const extraRequest = (handlers: ServerHandlers) =>
(
  s: ServerSession.Session,
  r: ChannelRequests.ChannelRequestPayload
): Effect.Effect<boolean, never, Scope.Scope> => {
  switch (r._tag) {
    case "X11Req":
      if (s.serverEnv.DISPLAY !== undefined) return Effect.succeed(false)
      return Effect.map(X11Server.request({ options: handlers.forwarding, ...s.owner, request: r }), (set) => {
        if (set === undefined) return false
        Object.assign(s.serverEnv, set)
        return true
      })
    case "AuthAgentReq":
      return Effect.map(
        AgentForward.request({ ...s.owner, options: handlers.agentForwarding, current: s.agentSocket }),
        (path) => {
          if (path === undefined) return false
          s.agentSocket = path
          s.serverEnv.SSH_AUTH_SOCK = path
          return true
        }
      )
    default:
      return Effect.succeed(false)
  }
}

/** The session programs of one set of handlers, made once per server rather than once per connection. */
const programsCache = new WeakMap<ServerHandlers, ServerSession.SessionPrograms>()
const programsOf = (handlers: ServerHandlers): ServerSession.SessionPrograms => {
  let p = programsCache.get(handlers)
  if (p === undefined) {
    p = { ...handlers, extraRequest: extraRequest(handlers) }
    programsCache.set(handlers, p)
  }
  return p
}

/**
 * Authenticates, installs the connection layer, then waits for the end of the connection. The set-up is a
 * generator that finishes before the wait: an idle connection's fiber holds none of its frames or locals, only
 * what the installed handlers close over (issue 10: bytes per idle connection).
 *
 * @internal
 */
export const handleConnection = (
  transport: Transport.Transport,
  handlers: ServerHandlers,
  onAuthenticated?: Effect.Effect<void>,
  remoteAddress?: string,
  hostKeys?: Pick<ServerConfig, "hostKeys" | "crypto">
): Effect.Effect<TransportError, unknown, Scope.Scope> =>
  Effect.zipRight(setUp(transport, handlers, onAuthenticated, remoteAddress, hostKeys), transport.closed)

const setUp = (
  transport: Transport.Transport,
  handlers: ServerHandlers,
  onAuthenticated: Effect.Effect<void> | undefined,
  remoteAddress: string | undefined,
  hostKeys: Pick<ServerConfig, "hostKeys" | "crypto"> | undefined
) =>
  Effect.gen(function*() {
    const authenticated = yield* ServerAuth.authenticate(transport, handlers.auth, {
      ...handlers.authOptions,
      remoteAddress: remoteAddress ?? handlers.authOptions?.remoteAddress
    })
    if (onAuthenticated !== undefined) yield* onAuthenticated
    // What the connection keeps of the authentication: who, and the restrictions (not the factors, keys and
    // fingerprints it was proven with), so that an idle connection holds no more (issue 10).
    const owner = { username: authenticated.username, restrictions: authenticated.restrictions, remoteAddress }
    const programs = programsOf(handlers)
    let sessions = 0
    const maxSessions = handlers.maxSessions ?? 10
    // LIM-25: ChannelTimeout for forwarding, X11 and agent channels (sessions time themselves, by their type).
    const mux: ConnectionMux.ConnectionMux = Idle.withChannelTimeouts(yield* ConnectionMux.make(transport, authenticated, {
      keepalive: handlers.keepalive,
      acceptChannel: (open) =>
        Effect.sync((): ConnectionMux.ChannelAcceptance => {
          if (open.channelType !== "session") {
            return { _tag: "Reject", reason: 1, description: `${open.channelType}: administratively prohibited` }
          }
          // SEC-42: RFC 4254 §5.1 SSH_OPEN_RESOURCE_SHORTAGE (4).
          if (sessions >= maxSessions) return { _tag: "Reject", reason: 4, description: "too many sessions (MaxSessions)" }
          sessions++
          const serve = ServerSession.serve({ ...owner, mux }, programs)
          return {
            // No fiber while the session is idle: its requests are routed as they arrive (DESIGN.md §6).
            _tag: "Attach",
            attach: (channel) => Effect.zipRight(Effect.addFinalizer(() => Effect.sync(() => sessions--)), serve(channel))
          }
        })
    }), handlers.channelTimeouts)
    yield* Forward.install(mux, handlers.forwarding, owner)
    if (handlers.unusedConnectionTimeout !== undefined) yield* Idle.watchUnused(mux, transport, handlers.unusedConnectionTimeout)
    // SEC-71: hostkeys-00@openssh.com after authentication, and proofs on request.
    if (hostKeys !== undefined) yield* HostKeys.install(mux, transport, hostKeys.hostKeys, hostKeys.crypto)
  })
