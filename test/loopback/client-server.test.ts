/**
 * The whole stack, our client ↔ our server over an in-memory socket pair: SshClient.connectOver against
 * SshServer.handleConnection — auth, exec, stdin, exit status and refusals — on both crypto backends.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as Transport from "../../src/transport/Transport.js"
import { backends } from "../helpers/Backends.js"
import * as Loopback from "../helpers/Loopback.js"
import * as MemorySocket from "../helpers/MemorySocket.js"

const userKey = Loopback.testHostKeys()[0]!
const userBlob = HostKey.encodePublicKey(HostKey.publicKeyOf(userKey))
const encoder = new TextEncoder()

const handlers: SshServer.ServerHandlers = {
  auth: {
    publicKey: ({ key }) => Effect.succeed(key.blob.length === userBlob.length && key.blob.every((b, i) => b === userBlob[i]))
  },
  exec: ({ command, stdin, stdout }) =>
    command === "cat"
      ? Effect.as(Stream.run(stdin, stdout), 0)
      : Effect.as(Stream.run(Stream.make(encoder.encode(`ran ${command}`)), stdout), command.length)
}

for (const backend of backends) {
  describe(`our client ↔ our server (${backend.name})`, () => {
    it.scopedLive("connect, run, stdin round trip, refusals", () =>
      Effect.gen(function*() {
        const [a, b] = yield* MemorySocket.pair()
        const server = Transport.make(b, { role: "server", hostKeys: Loopback.testHostKeys() }).pipe(
          Effect.flatMap((t) => SshServer.handleConnection(t, handlers)),
          Effect.scoped,
          Effect.provideService(Crypto, backend),
          Effect.ignore
        )
        yield* Effect.forkScoped(server)
        const ssh = yield* SshClient.connectOver(a, {
          host: "memory",
          username: "alice",
          auth: [Auth.privateKey(userKey)],
          hostKeys: HostKeyPolicy.insecureAcceptAny
        }).pipe(Effect.provideService(Crypto, backend))
        const r = yield* ssh.run("hello")
        assert.deepStrictEqual(r, { stdout: "ran hello", stderr: "", exitCode: 5, signal: undefined })
        const echoed = yield* Effect.scoped(Effect.gen(function*() {
          const p = yield* ssh.exec("cat")
          const input = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff)
          const [, out] = yield* Effect.all([
            Stream.run(Stream.make(input.subarray(0, 1 << 20), input.subarray(1 << 20)), p.stdin),
            p.stdout.pipe(Stream.runFold(0, (n, c) => n + c.length))
          ], { concurrency: 2 })
          return [out, (yield* p.exitStatus).status] as const
        }))
        assert.deepStrictEqual(echoed, [3 * 1024 * 1024, 0])
        // No shell handler: refused (deny by default).
        const e = yield* Effect.flip(Effect.scoped(ssh.shell({})))
        assert.strictEqual(e._tag, "ChannelError")
      }).pipe(Effect.provide(NodeContext.layer)), { timeout: 120_000 })

    it.scopedLive("a key the server does not know: AuthError", () =>
      Effect.gen(function*() {
        const [a, b] = yield* MemorySocket.pair()
        yield* Transport.make(b, { role: "server", hostKeys: Loopback.testHostKeys() }).pipe(
          Effect.flatMap((t) => SshServer.handleConnection(t, handlers)),
          Effect.scoped,
          Effect.provideService(Crypto, backend),
          Effect.ignore,
          Effect.forkScoped
        )
        const e = yield* Effect.flip(SshClient.connectOver(a, {
          host: "memory",
          username: "alice",
          auth: [Auth.privateKey(Loopback.testHostKeys()[1]!)],
          hostKeys: HostKeyPolicy.insecureAcceptAny
        }).pipe(Effect.provideService(Crypto, backend)))
        assert.strictEqual(e._tag, "AuthError")
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scopedLive("sessions: pty, env, window-change, signal, stderr, exit-signal, subsystem, several at once", () =>
      Effect.gen(function*() {
        const [a, b] = yield* MemorySocket.pair()
        const sessions: SshServer.ServerHandlers = {
          ...handlers,
          exec: (ctx) =>
            Effect.gen(function*() {
              if (ctx.command === "die") return { signal: "KILL" }
              const size = ctx.pty === undefined ? yield* Effect.succeed(undefined) : yield* Stream.runHead(ctx.windowChanges)
              const signal = ctx.pty === undefined ? undefined : yield* Stream.runHead(ctx.signals)
              const report = JSON.stringify({ term: ctx.pty?.term, env: ctx.env, size, signal, command: ctx.command })
              yield* Stream.run(Stream.make(encoder.encode(report)), ctx.stdout)
              yield* Stream.run(Stream.make(encoder.encode("err")), ctx.stderr)
              return 7
            }),
          subsystems: { echo: ({ stdin, stdout }) => Effect.as(Stream.run(stdin, stdout), 0) }
        }
        yield* Transport.make(b, { role: "server", hostKeys: Loopback.testHostKeys() }).pipe(
          Effect.flatMap((t) => SshServer.handleConnection(t, sessions)),
          Effect.scoped,
          Effect.provideService(Crypto, backend),
          Effect.ignore,
          Effect.forkScoped
        )
        const ssh = yield* SshClient.connectOver(a, {
          host: "memory",
          username: "alice",
          auth: [Auth.privateKey(userKey)],
          hostKeys: HostKeyPolicy.insecureAcceptAny
        }).pipe(Effect.provideService(Crypto, backend))
        const withPty = Effect.scoped(Effect.gen(function*() {
          const p = yield* ssh.exec("report", { env: { LANG: "C" }, pty: { term: "xterm", cols: 80, rows: 24 } })
          yield* p.resize({ cols: 100, rows: 30 })
          yield* p.signal("INT")
          const [out, err] = yield* Effect.all([
            p.stdout.pipe(Stream.decodeText(), Stream.mkString),
            p.stderr.pipe(Stream.decodeText(), Stream.mkString)
          ], { concurrency: 2 })
          return { out: JSON.parse(out) as unknown, err, status: yield* p.exitStatus }
        }))
        const killed = Effect.scoped(Effect.flatMap(ssh.exec("die"), (p) => p.exitStatus))
        const sub = Effect.scoped(Effect.gen(function*() {
          const p = yield* ssh.subsystem("echo")
          const [, out] = yield* Effect.all([
            Stream.run(Stream.make(encoder.encode("ping")), p.stdin),
            p.stdout.pipe(Stream.decodeText(), Stream.mkString)
          ], { concurrency: 2 })
          return out
        }))
        const [r, k, s] = yield* Effect.all([withPty, killed, sub], { concurrency: 3 })
        assert.deepStrictEqual(r.out, {
          term: "xterm",
          env: { LANG: "C" },
          size: { _id: "Option", _tag: "Some", value: { cols: 100, rows: 30, widthPx: 0, heightPx: 0 } },
          signal: { _id: "Option", _tag: "Some", value: "INT" },
          command: "report"
        })
        assert.strictEqual(r.err, "err")
        assert.strictEqual(r.status.status, 7)
        assert.strictEqual(k.signal, "KILL")
        assert.strictEqual(s, "ping")
        // A subsystem nobody registered is refused (SEC-70).
        const refused = yield* Effect.flip(Effect.scoped(ssh.subsystem("echo ")))
        assert.strictEqual(refused._tag, "ChannelError")
      }).pipe(Effect.provide(NodeContext.layer)), { timeout: 120_000 })
  })
}
