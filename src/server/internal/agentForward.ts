/**
 * The server's half of agent forwarding on a session (OpenSSH PROTOCOL.agent; sshd session.c
 * session_auth_agent_req): on auth-agent-req@openssh.com, if the server and the user's key allow it, a private
 * agent socket for this session whose connections each open an auth-agent@openssh.com channel to the client.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Restrictions } from "../../auth/ServerAuth.js"
import type { ServerOptions } from "../../client/AgentForwarding.js"
import type { ConnectionMux } from "../../connection/ConnectionMux.js"
import * as Tunnel from "../../forward/Tunnel.js"

/** The channel type of a forwarded agent connection. */
const AGENT_CHANNEL = "auth-agent@openssh.com"

/**
 * Answers one auth-agent-req@openssh.com: the socket path for SSH_AUTH_SOCK, or undefined to refuse. Refused
 * without `options` (deny by default), with authorized_keys no-agent-forwarding / restrict or a certificate
 * without permit-agent-forwarding (SEC-48, SEC-64), when `allow` says no or fails, and a second time on the same
 * session (`current` set). The socket lives in the caller's Scope: the session's.
 */
export const request = (context: {
  readonly username: string
  readonly restrictions: Restrictions
  readonly mux: ConnectionMux
  readonly options: ServerOptions | undefined
  readonly current: string | undefined
}): Effect.Effect<string | undefined, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { current, mux, options, restrictions, username } = context
    if (options === undefined || current !== undefined || restrictions.agentForwarding === false) return undefined
    const allowed = options.allow === undefined ? true : yield* Effect.orElseSucceed(options.allow(username), () => false)
    if (!allowed) return undefined
    const path = yield* options.listen((connection) =>
      Effect.scoped(
        Effect.flatMap(mux.open(AGENT_CHANNEL), (channel) => Tunnel.bridge(connection, channel))
      ).pipe(Effect.catchAll((e) => Effect.logDebug("forwarded agent channel refused by the client", e)))
    ).pipe(Effect.catchAll((cause) => Effect.as(Effect.logWarning("cannot make the agent socket", cause), undefined)))
    return path
  })
