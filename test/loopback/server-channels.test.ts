/**
 * The connection layer in the server role: channels the peer opens, decided by `acceptChannel` (deny by
 * default), with their requests answered by the handler — our client's SshProcess on the other end.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as SshProcess from "../../src/session/SshProcess.js"
import * as ChannelRequests from "../../src/wire/ChannelRequests.js"
import * as Loopback from "../helpers/Loopback.js"

const user = { username: "test", methods: ["none"] }

/** A server that runs a tiny echo service for `exec` requests. */
const echoServer: ConnectionMux.ConnectionMuxOptions["acceptChannel"] = (open) =>
  Effect.succeed(
    open.channelType !== "session"
      ? { _tag: "Reject", reason: 3, description: `unknown channel type ${open.channelType}` }
      : {
        _tag: "Accept",
        run: (channel) =>
          Effect.gen(function*() {
            const requests = yield* channel.requests.pipe(Stream.toPull)
            for (;;) {
              const [req] = Chunk.toReadonlyArray(yield* requests)
              if (req === undefined) return
              const d = ChannelRequests.decodeRequest(req.request, req.data)
              if (d._tag === "Right" && d.right._tag === "Exec") {
                if (req.reply) yield* req.reply(true)
                yield* channel.write(new TextEncoder().encode(`you ran: ${new TextDecoder().decode(d.right.command)}\n`))
                yield* channel.writeStderr(new TextEncoder().encode("a note on stderr\n"))
                const exit = ChannelRequests.encodeRequest({ _tag: "ExitStatus", status: 5 })
                yield* channel.request(exit.request, exit.data, false)
                yield* channel.eof
                return
              }
              if (req.reply) yield* req.reply(false)
            }
          }).pipe(Effect.scoped)
      }
  )

const setup = (acceptChannel: ConnectionMux.ConnectionMuxOptions["acceptChannel"]) =>
  Effect.gen(function*() {
    const { client, server } = yield* Loopback.pair({ backend: NodeCrypto })
    yield* ConnectionMux.make(server, user, { acceptChannel })
    return yield* ConnectionMux.make(client, user)
  })

const text = (s: Stream.Stream<Uint8Array, unknown>) =>
  s.pipe(Stream.decodeText(), Stream.runCollect, Effect.map((c) => Chunk.join(c, "")))

describe("connection layer, server role", () => {
  it.scopedLive("an accepted session runs exec: stdout, stderr, exit status, close", () =>
    Effect.gen(function*() {
      const mux = yield* setup(echoServer)
      const p = yield* SshProcess.start(mux, { _tag: "Exec", command: "hello" })
      const [out, err] = yield* Effect.all([text(p.stdout), text(p.stderr)], { concurrency: 2 })
      assert.strictEqual(out, "you ran: hello\n")
      assert.strictEqual(err, "a note on stderr\n")
      assert.deepStrictEqual(yield* p.exitStatus, { status: 5 })
    }))

  it.scopedLive("a request the handler refuses is a ChannelError RequestFailed on the client", () =>
    Effect.gen(function*() {
      const mux = yield* setup(echoServer)
      const e = yield* Effect.flip(SshProcess.start(mux, { _tag: "Subsystem", name: "sftp" }))
      assert.strictEqual(e._tag, "ChannelError")
      if (e._tag === "ChannelError") assert.strictEqual(e.reason, "RequestFailed")
    }))

  it.scopedLive("a rejected channel type reaches the client as OPEN_FAILURE with its reason", () =>
    Effect.gen(function*() {
      const mux = yield* setup(echoServer)
      const e = yield* Effect.flip(Effect.scoped(mux.open("direct-tcpip")))
      assert.strictEqual(e._tag, "ChannelError")
      if (e._tag === "ChannelError") {
        assert.strictEqual(e.reason, "OpenFailed")
        assert.strictEqual(e.openFailure, 3)
      }
    }))

  it.scopedLive("deny by default: a handler that dies refuses the channel (SEC-10)", () =>
    Effect.gen(function*() {
      const mux = yield* setup(() => Effect.die("boom"))
      const e = yield* Effect.flip(Effect.scoped(mux.open("session")))
      assert.strictEqual(e._tag, "ChannelError")
      if (e._tag === "ChannelError") assert.strictEqual(e.openFailure, 1)
      assert.strictEqual(yield* mux.channelCount, 0)
    }))
})
