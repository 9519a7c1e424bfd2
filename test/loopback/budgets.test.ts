/**
 * The engine's budgets (DESIGN.md §6), counted, never timed: fibers per idle connection in both roles and per
 * idle channel (a server session channel included), counted with a Supervisor over our SshServer on 127.0.0.1
 * and our SshClient; and one server
 * process holding 1 000 idle authenticated connections.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream, Supervisor } from "effect"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import type { SshConnection } from "../../src/client/SshConnection.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import type * as SshServer from "../../src/server/SshServer.js"
import * as SessionRequests from "../../src/session/SessionRequests.js"
import * as Servers from "../helpers/Servers.js"

const handlers: SshServer.ServerHandlers = {
  auth: { password: ({ password }) => Effect.succeed(Redacted.value(password) === "pw") },
  exec: ({ stdout }) => Effect.as(Stream.run(Stream.make(new TextEncoder().encode("ok\n")), stdout), 0)
}

const connect = (port: number) =>
  SshClient.connect({
    host: "127.0.0.1",
    port,
    username: "u",
    auth: [Auth.password("pw")],
    hostKeys: HostKeyPolicy.insecureAcceptAny
  })

/** Lets every fiber that is about to end end (scheduling, not time: counts are read when nothing moves). */
const settle = (supervisors: ReadonlyArray<Supervisor.Supervisor<ReadonlyArray<unknown>>>) =>
  Effect.gen(function*() {
    let last = ""
    for (let stable = 0; stable < 5;) {
      yield* Effect.sleep("20 millis")
      const now = (yield* Effect.forEach(supervisors, (s) => s.value)).map((f) => f.length).join(",")
      stable = now === last ? stable + 1 : 0
      last = now
    }
  })

describe("engine budgets", () => {
  it.live("≤ 1 fiber per idle connection (both roles), 0 per idle channel (both roles), 0 after a command", () =>
    Effect.gen(function*() {
      const server = yield* Supervisor.track
      const client = yield* Supervisor.track
      yield* Effect.scoped(Effect.gen(function*() {
        const port = yield* Servers.serve(handlers, {}, server)
        yield* settle([server, client])
        const serverBase = (yield* server.value).length
        const n = 10
        const connections: Array<SshConnection> = []
        for (let i = 0; i < n; i++) connections.push(yield* Effect.supervised(connect(port), client))
        yield* settle([server, client])
        const serverPer = ((yield* server.value).length - serverBase) / n
        const clientPer = (yield* client.value).length / n
        assert.isAtMost(serverPer, 1, "server fibers per idle connection")
        assert.isAtMost(clientPer, 1, "client fibers per idle connection")
        console.log(`budgets: server ${serverPer} and client ${clientPer} fibers per idle connection`)
        // A command runs and ends: nothing stays behind.
        const r = yield* Effect.supervised(connections[0]!.run("x"), client)
        assert.strictEqual(r.stdout, "ok\n")
        yield* settle([server, client])
        assert.strictEqual((yield* server.value).length - serverBase, serverPer * n)
        assert.strictEqual((yield* client.value).length, clientPer * n)
        // Idle channels, both roles: none holds a fiber. On the server a session channel is served through
        // Channel.onRequest (session/ServerSession): opened, and given a pty and an environment but no program yet,
        // it waits with no fiber of its own.
        const before = (yield* client.value).length
        const serverBefore = (yield* server.value).length
        const channels = yield* Effect.supervised(
          Effect.forEach(connections, (c) => c.mux.open("session")),
          client
        )
        yield* settle([server, client])
        assert.strictEqual((yield* client.value).length, before, "client fibers per idle channel")
        assert.strictEqual((yield* server.value).length, serverBefore, "server fibers per idle session channel")
        yield* Effect.supervised(
          Effect.forEach(channels, (channel) =>
            Effect.all([
              SessionRequests.send(channel, { _tag: "Env", name: "LANG", value: "C" }, false),
              SessionRequests.required(channel, SessionRequests.pty({}))
            ]), { discard: true }),
          client
        )
        yield* settle([server, client])
        assert.strictEqual((yield* client.value).length, before, "client fibers per idle channel with a pty")
        assert.strictEqual((yield* server.value).length, serverBefore, "server fibers per session with a pty, no program")
        console.log(`budgets: 0 fibers per idle session channel (${n} channels, both roles)`)
      }))
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.live("one server holds 1 000 idle authenticated connections", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      const total = 1000
      let open = 0
      for (let batch = 0; batch < total / 50; batch++) {
        // Below MaxStartups (10:30:100): none is dropped while it authenticates.
        const connections = yield* Effect.all(Array.from({ length: 50 }, () => connect(port)), { concurrency: 8 })
        open += connections.length
      }
      assert.strictEqual(open, total)
      // Every connection is still usable: the last one runs a command.
      const last = yield* connect(port)
      assert.strictEqual((yield* last.run("x")).stdout, "ok\n")
    }).pipe(Effect.scoped, Effect.provide(NodeSsh.layer)), { timeout: 300_000 })
})
