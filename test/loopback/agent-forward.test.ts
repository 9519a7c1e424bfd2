/**
 * The client's agent forwarding over our own transports in memory (SEC-47, SEC-61): auth-agent@openssh.com
 * channels are refused (OPEN_FAILURE 1, the agent never touched) before any session asked, when the server refused
 * the request, and after the session's Scope closed; while a forwarding session lives they reach the agent, and
 * the in-process AgentServer answers them as forwarded connections.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope, Stream } from "effect"
import * as AgentServer from "../../src/agent/AgentServer.js"
import * as SshAgent from "../../src/agent/SshAgent.js"
import * as AgentForwarding from "../../src/client/AgentForwarding.js"
import type { Channel } from "../../src/connection/Channel.js"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as Tunnel from "../../src/forward/Tunnel.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as SshProcess from "../../src/session/SshProcess.js"
import * as Socket from "@effect/platform/Socket"
import * as Loopback from "../helpers/Loopback.js"

/** A server mux whose sessions answer auth-agent-req with `allow` and accept exec; the requests seen are kept. */
const muxes = (allow: boolean, seen: Array<string>) =>
  Effect.gen(function*() {
    const { client, server } = yield* Loopback.pair({ backend: NodeCrypto })
    const a = yield* ConnectionMux.make(client, { username: "test", methods: ["none"] })
    const b = yield* ConnectionMux.make(server, { username: "test", methods: ["none"] }, {
      acceptChannel: (open) =>
        Effect.succeed<ConnectionMux.ChannelAcceptance>(open.channelType !== "session"
          ? { _tag: "Reject", reason: 1, description: "no" }
          : {
            _tag: "Accept",
            run: (channel) =>
              Effect.scoped(Effect.gen(function*() {
                yield* channel.onRequest((req) => {
                  seen.push(req.request)
                  const ok = req.request === "exec" || (req.request === "auth-agent-req@openssh.com" && allow)
                  if (req.reply !== undefined) Effect.runFork(Effect.ignore(req.reply(ok)))
                })
                yield* Stream.runDrain(channel.data)
              }))
          })
    })
    return { a, b }
  })

/** A target that records being used and relays to `agent`. */
const spy = (agent: AgentServer.AgentServer, used: Array<number>): SshProcess.ForwardAgent => ({
  serve: (channel: Channel) => Effect.zipRight(Effect.sync(() => used.push(channel.id)), AgentForwarding.fromAgentServer(agent).serve(channel))
})

const openAgent = (b: ConnectionMux.ConnectionMux) => Effect.flip(b.open("auth-agent@openssh.com"))

describe("agent forwarding, client side (SEC-47)", () => {
  it.scopedLive("agent channels reach the agent only while a session that asked, and was granted, lives", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const { a, b } = yield* muxes(true, seen)
      const agent = yield* AgentServer.make().pipe(Effect.provideService(Crypto, NodeCrypto))
      yield* agent.add(NodeCrypto.generateKey({ type: "ed25519" }), { comment: "fwd@test" })
      const used: Array<number> = []
      // Unsolicited: refused with ADMINISTRATIVELY_PROHIBITED, the agent never touched.
      const before = yield* openAgent(b)
      assert.strictEqual(before._tag === "ChannelError" ? before.openFailure : undefined, 1)
      const scope = yield* Scope.make()
      yield* SshProcess.start(a, { _tag: "Exec", command: "true" }, { forwardAgent: spy(agent, used) }).pipe(Scope.extend(scope))
      assert.deepStrictEqual(seen, ["auth-agent-req@openssh.com", "exec"])
      // The server's side of a forwarded connection: an agent client over the channel.
      const listed = yield* Effect.scoped(Effect.gen(function*() {
        const channel = yield* b.open("auth-agent@openssh.com")
        const client = yield* SshAgent.make.pipe(Effect.provideService(Socket.Socket, Tunnel.toSocket(channel)))
        return yield* client.identities
      }))
      assert.deepStrictEqual(listed.map((i) => i.comment), ["fwd@test"])
      assert.strictEqual(used.length, 1)
      yield* Scope.close(scope, Exit.void)
      const after = yield* openAgent(b)
      assert.strictEqual(after._tag === "ChannelError" ? after.openFailure : undefined, 1)
      assert.strictEqual(used.length, 1)
    }))

  it.scopedLive("a refused auth-agent-req leaves agent channels refused; the process still runs", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const { a, b } = yield* muxes(false, seen)
      const agent = yield* AgentServer.make().pipe(Effect.provideService(Crypto, NodeCrypto))
      const used: Array<number> = []
      yield* SshProcess.start(a, { _tag: "Exec", command: "true" }, { forwardAgent: spy(agent, used) })
      assert.deepStrictEqual(seen, ["auth-agent-req@openssh.com", "exec"])
      const refused = yield* openAgent(b)
      assert.strictEqual(refused._tag === "ChannelError" ? refused.openFailure : undefined, 1)
      assert.strictEqual(used.length, 0)
    }))
})
