/**
 * One way to serve (issue 10): `NodeTransport.serve`, the transport-level listener, applies the MaxStartups gate
 * that `SshServer.run` and `effect-ssh serve` apply (LIM-19, SEC-38), through the same code
 * (server/internal/run.ts `serveTransport`): past the limit a silent connection is closed before our version
 * string is sent, and a connection that authenticated no longer counts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import * as net from "node:net"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import type { SshConnection } from "../../src/client/SshConnection.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as NodeTransport from "../../src/node/NodeTransport.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as Loopback from "../helpers/Loopback.js"

const handlers: SshServer.ServerHandlers = {
  auth: { password: ({ password }) => Effect.succeed(Redacted.value(password) === "pw") },
  exec: ({ stdout }) => Effect.as(Stream.run(Stream.make(new TextEncoder().encode("ok\n")), stdout), 0)
}

interface Silent {
  readonly socket: net.Socket
  greeted: boolean
  closed: boolean
}

/** A TCP connection that never says anything: it only learns whether it was greeted or closed. */
const silent = (port: number) =>
  Effect.async<Silent>((resume) => {
    const socket = net.connect(port, "127.0.0.1")
    const s: Silent = { socket, greeted: false, closed: false }
    socket.on("connect", () => resume(Effect.succeed(s)))
    socket.on("data", () => (s.greeted = true))
    socket.on("error", () => {})
    socket.on("close", () => (s.closed = true))
  })

/** Polls `condition` every 20 ms for at most 10 s (a bound that only catches a hang, never measures speed). */
const eventually = (condition: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && !condition(); i++) yield* Effect.sleep("20 millis")
    return condition()
  })

describe("NodeTransport.serve", () => {
  it.live("LIM-19/SEC-38: MaxStartups refuses a silent connection past the limit before the version string; authenticated ones do not count", () =>
    Effect.gen(function*() {
      const address = yield* NodeTransport.serve(
        { hostKeys: Loopback.testHostKeys(), maxStartups: { start: 2, rate: 100, full: 2 } },
        (t, authenticated) => SshServer.handleConnection(t, handlers, { onAuthenticated: authenticated })
      )
      assert.strictEqual(address._tag, "TcpAddress")
      const port = address._tag === "TcpAddress" ? address.port : 0
      const sockets: Array<Silent> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => sockets.forEach((s) => s.socket.destroy())))
      // Two unauthenticated connections are admitted (greeted with our version string) …
      sockets.push(yield* silent(port), yield* silent(port))
      assert.isTrue(yield* eventually(() => sockets.every((s) => s.greeted)), "the first two are greeted")
      // … the third is closed without a byte.
      const third = yield* silent(port)
      sockets.push(third)
      assert.isTrue(yield* eventually(() => third.closed), "the third is closed")
      assert.isFalse(third.greeted, "the refused connection got no version string")
      // The two silent ones leave; two clients log in and stay: authenticated, they no longer count.
      sockets[0]!.socket.destroy()
      sockets[1]!.socket.destroy()
      const connect = SshClient.connect({
        host: "127.0.0.1",
        port,
        username: "u",
        auth: [Auth.password("pw")],
        hostKeys: HostKeyPolicy.insecureAcceptAny
      })
      let logins: ReadonlyArray<SshConnection> = []
      for (let i = 0; i < 50 && logins.length === 0; i++) {
        // The server notices the two departures in its own time: retry while they are still counted.
        logins = yield* Effect.all([connect, connect]).pipe(Effect.orElseSucceed(() => []))
        if (logins.length === 0) yield* Effect.sleep("20 millis")
      }
      assert.strictEqual(logins.length, 2)
      assert.strictEqual((yield* logins[1]!.run("x")).stdout, "ok\n")
      const fourth = yield* silent(port)
      sockets.push(fourth)
      assert.isTrue(yield* eventually(() => fourth.greeted), "with two authenticated connections, a new one is greeted")
    }).pipe(Effect.scoped, Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})
