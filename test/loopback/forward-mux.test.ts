/**
 * The channel and global-request registry of ConnectionMux (shared contract 1): `handleChannels` and
 * `handleGlobalRequests`, both roles over our transports in memory. These tests pin the contract the forwarding
 * code is built on, whichever implementation of the mux is in place.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Option, Scope, Stream } from "effect"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as Loopback from "../helpers/Loopback.js"

const text = new TextEncoder()
const untext = new TextDecoder()

const muxes = (serverOptions?: ConnectionMux.ConnectionMuxOptions) =>
  Effect.gen(function*() {
    const { client, server } = yield* Loopback.pair({ backend: NodeCrypto })
    const a = yield* ConnectionMux.make(client, { username: "test", methods: ["none"] })
    const b = yield* ConnectionMux.make(server, { username: "test", methods: ["none"] }, serverOptions)
    return { a, b }
  })

const echo: ConnectionMux.ChannelAcceptance = {
  _tag: "Accept",
  run: (channel) => Stream.runForEach(channel.data, (d) => channel.write(d))
}

const roundTrip = (mux: ConnectionMux.ConnectionMux, channelType: string) =>
  Effect.gen(function*() {
    const ch = yield* mux.open(channelType, text.encode("extra"))
    yield* ch.write(text.encode("ping"))
    yield* ch.eof
    const got = yield* Stream.runCollect(ch.data)
    return untext.decode(Chunk.reduce(got, new Uint8Array(0), (acc, c) => new Uint8Array([...acc, ...c])))
  }).pipe(Effect.scoped)

describe("ConnectionMux.handleChannels", () => {
  it.scopedLive("serves its channel type while its Scope lives, then refuses again (deny by default)", () =>
    Effect.gen(function*() {
      const { a, b } = yield* muxes()
      const seen: Array<string> = []
      const scope = yield* Scope.make()
      yield* b.handleChannels("x-echo@test", (open) =>
        Effect.sync(() => {
          seen.push(`${open.channelType}:${untext.decode(open.data)}`)
          return echo
        })).pipe(Scope.extend(scope))
      assert.strictEqual(yield* roundTrip(a, "x-echo@test"), "ping")
      assert.deepStrictEqual(seen, ["x-echo@test:extra"])
      // Another type is refused with ADMINISTRATIVELY_PROHIBITED (no acceptChannel fallback here).
      const other = yield* Effect.flip(roundTrip(a, "x-other@test"))
      assert.strictEqual(other._tag, "ChannelError")
      if (other._tag === "ChannelError") assert.strictEqual(other.openFailure, 1)
      yield* Scope.close(scope, Exit.void)
      const after = yield* Effect.flip(roundTrip(a, "x-echo@test"))
      assert.strictEqual(after._tag, "ChannelError")
      assert.strictEqual(yield* b.channelCount, 0)
    }))

  it.scopedLive("a later handler replaces an earlier one; a failing or dying handler refuses the open", () =>
    Effect.gen(function*() {
      const { a, b } = yield* muxes()
      yield* b.handleChannels("t", () => Effect.succeed({ _tag: "Reject", reason: 4, description: "first" } as const))
      yield* b.handleChannels("t", () => Effect.succeed(echo))
      assert.strictEqual(yield* roundTrip(a, "t"), "ping")
      yield* b.handleChannels("fails", () => Effect.fail("no"))
      yield* b.handleChannels("dies", () => Effect.die("boom"))
      for (const t of ["fails", "dies"]) {
        const e = yield* Effect.flip(roundTrip(a, t))
        assert.strictEqual(e._tag, "ChannelError")
        if (e._tag === "ChannelError") assert.strictEqual(e.reason, "OpenFailed")
      }
      assert.strictEqual(yield* b.channelCount, 0)
    }))

  it.scopedLive("falls back to the acceptChannel option for types without a handler", () =>
    Effect.gen(function*() {
      const { a, b } = yield* muxes({ acceptChannel: () => Effect.succeed(echo) })
      yield* b.handleChannels("t", () => Effect.succeed({ _tag: "Reject", reason: 2, description: "handler" } as const))
      assert.strictEqual(yield* roundTrip(a, "anything"), "ping")
      const e = yield* Effect.flip(roundTrip(a, "t"))
      if (e._tag === "ChannelError") assert.strictEqual(e.openFailure, 2)
      else assert.fail("expected a ChannelError")
    }))

  it.scopedLive("works in the client role too (a channel the server opens)", () =>
    Effect.gen(function*() {
      const { a, b } = yield* muxes()
      yield* a.handleChannels("forwarded-tcpip", () => Effect.succeed(echo))
      assert.strictEqual(yield* roundTrip(b, "forwarded-tcpip"), "ping")
    }))
})

describe("ConnectionMux.handleGlobalRequests", () => {
  it.scopedLive("answers with the handler's reply; unhandled, failing and dying ones get REQUEST_FAILURE", () =>
    Effect.gen(function*() {
      const { a, b } = yield* muxes()
      const seen: Array<string> = []
      const scope = yield* Scope.make()
      yield* b.handleGlobalRequests("x@test", (r) =>
        Effect.sync(() => {
          seen.push(`${r.name}:${untext.decode(r.data)}:${r.wantReply}`)
          return { _tag: "Success", data: text.encode("ok") } as const
        })).pipe(Scope.extend(scope))
      yield* b.handleGlobalRequests("fails@test", () => Effect.fail("no"))
      yield* b.handleGlobalRequests("dies@test", () => Effect.die("boom"))
      const ok = yield* a.globalRequest("x@test", text.encode("d"), true)
      assert.deepStrictEqual(Option.map(ok, (d) => untext.decode(d)), Option.some("ok"))
      assert.isTrue(Option.isNone(yield* a.globalRequest("unknown@test", new Uint8Array(0), true)))
      assert.isTrue(Option.isNone(yield* a.globalRequest("fails@test", new Uint8Array(0), true)))
      assert.isTrue(Option.isNone(yield* a.globalRequest("dies@test", new Uint8Array(0), true)))
      // Without want-reply the handler still runs, and nothing is sent back.
      yield* a.globalRequest("x@test", text.encode("quiet"), false)
      assert.isTrue(Option.isSome(yield* a.globalRequest("x@test", text.encode("e"), true)))
      assert.deepStrictEqual(seen, ["x@test:d:true", "x@test:quiet:false", "x@test:e:true"])
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Option.isNone(yield* a.globalRequest("x@test", new Uint8Array(0), true)))
    }))

  it.scopedLive("RFC 4254 §4: replies keep the order of the requests when a handler is slow", () =>
    Effect.gen(function*() {
      const { a, b } = yield* muxes()
      yield* b.handleGlobalRequests("slow@test", () =>
        Effect.as(Effect.sleep("150 millis"), { _tag: "Success", data: text.encode("slow") } as const))
      yield* b.handleGlobalRequests("fast@test", () => Effect.succeed({ _tag: "Success", data: text.encode("fast") } as const))
      const [slow, fast, none] = yield* Effect.all([
        a.globalRequest("slow@test", new Uint8Array(0), true),
        a.globalRequest("fast@test", new Uint8Array(0), true),
        a.globalRequest("nobody@test", new Uint8Array(0), true)
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual(Option.map(slow, (d) => untext.decode(d)), Option.some("slow"))
      assert.deepStrictEqual(Option.map(fast, (d) => untext.decode(d)), Option.some("fast"))
      assert.isTrue(Option.isNone(none))
    }))
})
