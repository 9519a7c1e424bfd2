/**
 * Agent forwarding (OpenSSH PROTOCOL.agent, "agent forwarding"; `ssh -A`), both roles.
 *
 * Client: a session started with `forwardAgent` sends auth-agent-req@openssh.com; each auth-agent@openssh.com
 * channel the server then opens is handed to a `ForwardAgent` — `fromAgentServer` answers it with an in-process
 * `AgentServer`, `toLocal` relays it to a local agent socket (`NodeAgent.forwarding()` does so for SSH_AUTH_SOCK).
 *
 * Server: `ServerOptions` in `ServerHandlers.agentForwarding` (`NodeAgent.serverForwarding()` on Node) makes, for
 * each session that asks and may (authorized_keys `no-agent-forwarding` / `restrict` and certificates without
 * permit-agent-forwarding refuse), a private agent socket whose connections open auth-agent@openssh.com channels
 * back to the client; the session's processes find it in SSH_AUTH_SOCK, and it is removed with the session.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as AgentProtocol from "../agent/AgentProtocol.js"
import type * as AgentServer from "../agent/AgentServer.js"
import type { Endpoint, LocalConnection, LocalNet } from "../forward/LocalNet.js"
import * as Tunnel from "../forward/Tunnel.js"
import type * as SshProcess from "../session/SshProcess.js"

/**
 * Answers forwarded agent channels with an agent in this process. Its connections are marked forwarded, so they
 * can never load smartcard providers and record forwarding session bindings (SEC-61).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromAgentServer = (agent: AgentServer.AgentServer): SshProcess.ForwardAgent => ({
  serve: (channel) => agent.serve(Tunnel.toSocket(channel), { forwarded: true })
})

/**
 * Relays each forwarded agent channel to a local agent at `endpoint` (a UNIX socket, usually), connecting once
 * per channel as ssh does; EOF travels each way. `endpoint` may be an Effect, evaluated per channel (e.g. read
 * SSH_AUTH_SOCK then); if it fails or the agent cannot be reached, that channel is closed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toLocal = <E>(
  net: LocalNet,
  endpoint: Endpoint | Effect.Effect<Endpoint, E>
): SshProcess.ForwardAgent => ({
  serve: (channel, session) =>
    Effect.scoped(
      Effect.flatMap(
        Effect.isEffect(endpoint) ? endpoint : Effect.succeed(endpoint),
        (to) =>
          Effect.flatMap(net.connect(to), (local) =>
            session === undefined
              ? Tunnel.bridge(local, channel)
              : Effect.flatMap(bindForwarded(local, session), (bound) => Tunnel.bridge(bound, channel)))
      )
    )
})

/** The longest agent reply to session-bind we wait for: SUCCESS, FAILURE or EXTENSION_FAILURE are one byte. */
const MAX_BIND_REPLY = 1024

/**
 * As ssh's client_request_agent (clientloop.c): before relaying, tell the local agent, on this connection, that
 * what follows comes forwarded through `session` (session-bind@openssh.com with is_forwarding set), so that a key
 * added with destination constraints (`ssh-add -h`) is used only as its constraints allow; without it the agent
 * takes the connection for local use. A refusal (an agent without the extension) is ignored, as ssh does.
 * The reply is read here, so the forwarded client never sees it.
 */
const bindForwarded = (
  local: LocalConnection,
  session: SshProcess.AgentSessionBinding
): Effect.Effect<LocalConnection, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    yield* local.write(AgentProtocol.encodeRequest(AgentProtocol.encodeSessionBind({ ...session, forwarding: true })))
    const [reply, rest] = yield* Stream.peel(
      local.input,
      Sink.fold(new Uint8Array(0), (got: Uint8Array) => !frameComplete(got), (got, chunk: Uint8Array) => {
        const joined = new Uint8Array(got.length + chunk.length)
        joined.set(got)
        joined.set(chunk, got.length)
        return joined
      })
    )
    // The agent speaks only when asked: anything past its one reply frame is a broken agent, not data to relay.
    if (!frameComplete(reply) || reply.length !== 4 + frameLength(reply)) {
      return yield* Effect.fail(new Error("the local agent answered session-bind with a malformed reply"))
    }
    if (reply[4] !== AgentProtocol.MessageNumber.SUCCESS) yield* Effect.logDebug("the local agent refused session-bind")
    // The rest of the input comes through what was peeled (so not `pipeTo`, which reads the socket itself).
    return { ...local, input: rest, pipeTo: undefined }
  })

const frameLength = (b: Uint8Array) => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0
const frameComplete = (b: Uint8Array) =>
  b.length >= 4 && (frameLength(b) > MAX_BIND_REPLY || b.length >= 4 + frameLength(b))

/**
 * The server's agent forwarding. Absent from `ServerHandlers`, every auth-agent-req@openssh.com is refused
 * (deny by default, SEC-48).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** sshd's AllowAgentForwarding, per user (default: allowed). A failure refuses. */
  readonly allow?: ((username: string) => Effect.Effect<boolean, unknown>) | undefined
  /**
   * Makes one session's agent socket: listens (privately: a 0700 directory, a 0600 socket, as sshd does), runs
   * `onConnection` for each process that connects, and returns the path for SSH_AUTH_SOCK; everything, the file
   * included, goes when the Scope (the session's) closes.
   */
  readonly listen: (
    onConnection: (connection: LocalConnection) => Effect.Effect<void>
  ) => Effect.Effect<string, unknown, Scope.Scope>
}
