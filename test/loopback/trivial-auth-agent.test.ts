/**
 * SEC-39 (asyncssh CVE-2023-46446, the "rogue session" attack) with agent forwarding: a server that lets the
 * client in after a request that proved nothing (its `none` handler says yes) must not get the client's agent.
 * With `rejectTrivialAuth` the login itself ends in DISCONNECT 14; without it, a session asking for the agent fails
 * before auth-agent-req@openssh.com is sent, so the server never sees the request and never opens an agent channel.
 * A real login (a password the server checks) still forwards.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import * as AgentServer from "../../src/agent/AgentServer.js"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as AgentForwarding from "../../src/client/AgentForwarding.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as Transport from "../../src/transport/Transport.js"
import * as Loopback from "../helpers/Loopback.js"
import * as MemorySocket from "../helpers/MemorySocket.js"

/** A server whose `none` handler lets everybody in (rogue), or that wants the password "pw"; it records agent requests. */
const start = (rogue: boolean, agentRequests: Array<string>) =>
  Effect.gen(function*() {
    const [a, b] = yield* MemorySocket.pair()
    const handlers: SshServer.ServerHandlers = {
      auth: rogue
        ? { none: () => Effect.succeed(true) }
        : { password: ({ password }) => Effect.succeed(Redacted.value(password) === "pw") },
      agentForwarding: {
        listen: () => Effect.sync(() => "/nonexistent/agent.sock"),
        allow: (username) => Effect.sync(() => {
          agentRequests.push(username)
          return true
        })
      },
      exec: ({ stdout }) => Effect.as(Stream.run(Stream.make(new TextEncoder().encode("ran")), stdout), 0)
    }
    yield* Transport.make(b, { role: "server", hostKeys: Loopback.testHostKeys() }).pipe(
      Effect.flatMap((t) => SshServer.handleConnection(t, handlers)),
      Effect.scoped,
      Effect.ignore,
      Effect.forkScoped
    )
    return a
  })

const agent = AgentServer.make().pipe(Effect.provideService(Crypto, NodeCrypto))

describe("SEC-39: trivial authentication and agent forwarding", () => {
  it.scopedLive("SEC-39: rejectTrivialAuth ends a login granted after `none` with DISCONNECT 14", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const socket = yield* start(true, seen)
      const e = yield* Effect.flip(SshClient.connectOver(socket, {
        host: "memory",
        username: "alice",
        auth: [Auth.password(Redacted.make("pw"))],
        hostKeys: HostKeyPolicy.insecureAcceptAny,
        rejectTrivialAuth: true
      }))
      assert.strictEqual(e._tag, "TransportError")
      assert.strictEqual(e._tag === "TransportError" ? e.code : undefined, 14)
      assert.deepStrictEqual(seen, [])
    }).pipe(Effect.provideService(Crypto, NodeCrypto), Effect.provide(NodeContext.layer)))

  it.scopedLive("SEC-39: without it, a session asking for the agent on a trivially granted login fails; the server never sees the request", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const socket = yield* start(true, seen)
      const ssh = yield* SshClient.connectOver(socket, {
        host: "memory",
        username: "alice",
        auth: [Auth.password(Redacted.make("pw"))],
        hostKeys: HostKeyPolicy.insecureAcceptAny
      })
      assert.strictEqual(ssh.authenticated.trivial, true)
      const forwardAgent = AgentForwarding.fromAgentServer(yield* agent)
      const e = yield* Effect.flip(Effect.scoped(ssh.exec("true", { forwardAgent })))
      assert.strictEqual(e._tag, "ChannelError")
      assert.match(e.message, /SEC-39/)
      assert.deepStrictEqual(seen, [])
      // The connection itself is usable: a session without the agent runs.
      assert.strictEqual((yield* ssh.run("x")).stdout, "ran")
    }).pipe(Effect.provideService(Crypto, NodeCrypto), Effect.provide(NodeContext.layer)))

  it.scopedLive("SEC-39: after a real login the agent request reaches the server", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const socket = yield* start(false, seen)
      const ssh = yield* SshClient.connectOver(socket, {
        host: "memory",
        username: "alice",
        auth: [Auth.password(Redacted.make("pw"))],
        hostKeys: HostKeyPolicy.insecureAcceptAny,
        rejectTrivialAuth: true
      })
      assert.notStrictEqual(ssh.authenticated.trivial, true)
      const forwardAgent = AgentForwarding.fromAgentServer(yield* agent)
      const r = yield* ssh.run("true", { forwardAgent })
      assert.strictEqual(r.stdout, "ran")
      assert.deepStrictEqual(seen, ["alice"])
    }).pipe(Effect.provideService(Crypto, NodeCrypto), Effect.provide(NodeContext.layer)))
})
