/**
 * The client's half of agent forwarding on one session channel (OpenSSH PROTOCOL.agent, "agent forwarding";
 * clientloop.c client_request_agent): ask with auth-agent-req@openssh.com, and only once the server said yes,
 * accept its auth-agent@openssh.com channels — while the session's Scope lives, never before (SEC-47).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Channel } from "../../connection/Channel.js"
import type { ChannelAcceptance, ConnectionMux } from "../../connection/ConnectionMux.js"
import type { ChannelError, TransportError } from "../../SshError.js"
import * as ChannelRequests from "../../wire/ChannelRequests.js"

/** The channel type the server opens for each connection to the forwarded agent socket. */
export const AGENT_CHANNEL = "auth-agent@openssh.com"

/**
 * Sends auth-agent-req@openssh.com on `channel` (before exec/shell/subsystem) and, if the server accepts, serves
 * agent channels with `target` until the caller's Scope closes. A refusal is not an error (ssh goes on without the
 * agent): it is logged, and agent channels stay refused.
 */
export const request = (
  mux: ConnectionMux,
  channel: Channel,
  target: { readonly serve: (channel: Channel) => Effect.Effect<void, unknown> }
): Effect.Effect<void, ChannelError | TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const { data, request } = ChannelRequests.encodeRequest({ _tag: "AuthAgentReq" })
    // OpenSSH sends it without want_reply; we ask for the answer so that agent channels are accepted only
    // after the server took the request (SEC-47).
    const accepted = yield* channel.request(request, data, true)
    if (!accepted) return yield* Effect.logInfo("the server refused agent forwarding")
    // A registry entry per session (a stack per channel type): the latest live session's target serves, and the
    // entry goes with this session's Scope.
    yield* mux.handleChannels(AGENT_CHANNEL, (open) =>
      Effect.succeed<ChannelAcceptance>(
        open.data.length === 0
          ? { _tag: "Accept", run: (agentChannel) => Effect.ignore(target.serve(agentChannel)) }
          // The channel carries no type-specific data (PROTOCOL.agent).
          : { _tag: "Reject", reason: 1, description: "malformed auth-agent@openssh.com open" }
      ))
  })
