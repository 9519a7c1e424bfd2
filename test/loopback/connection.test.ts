/**
 * The client's connection layer against a hand-driven peer (our server-role transport sending raw connection
 * messages): keepalive on a dead peer, refused unsolicited channels, and the window and reply rules.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Stream } from "effect"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as ConnectionMessages from "../../src/wire/ConnectionMessages.js"
import * as Loopback from "../helpers/Loopback.js"
import * as Receive from "../../src/transport/internal/receive.js"

const setup = (options?: ConnectionMux.ConnectionMuxOptions) =>
  Effect.gen(function*() {
    const { client, server } = yield* Loopback.pair({ backend: NodeCrypto })
    const mux = yield* ConnectionMux.make(client, { username: "test", methods: ["none"] }, options)
    const next = Effect.map(Receive.receive(server), (p) => {
      const d = ConnectionMessages.decode(p)
      assert.isTrue(Either.isRight(d), "the client sent a valid connection message")
      return Either.getOrThrow(d)
    })
    const send = (m: ConnectionMessages.ConnectionMessage) => server.send(ConnectionMessages.encode(m))
    return { client, server, mux, next, send }
  })

/** The peer confirms our next CHANNEL_OPEN with the given window and max packet. */
const acceptOpen = (peer: Effect.Effect.Success<ReturnType<typeof setup>>, window = 1 << 20, maxPacket = 32768) =>
  Effect.gen(function*() {
    const open = yield* peer.next
    assert.strictEqual(open._tag, "ChannelOpen")
    if (open._tag !== "ChannelOpen") return 0
    yield* peer.send({ _tag: "ChannelOpenConfirmation", recipient: open.sender, sender: 77, initialWindow: window, maxPacket, data: new Uint8Array(0) })
    return open.sender
  })

describe("connection layer (client) against a raw peer", () => {
  it.scopedLive("keepalive: a peer that stops answering becomes TransportError Timeout", () =>
    Effect.gen(function*() {
      const peer = yield* setup({ keepalive: { interval: "100 millis", countMax: 2 } })
      // The peer reads nothing and answers nothing from here on.
      const e = yield* Effect.flip(peer.mux.globalRequest("wait@example.com", new Uint8Array(0), true))
      assert.strictEqual(e.reason, "Timeout")
      assert.include(e.description, "keepalive")
    }))

  it.scopedLive("SEC-47: an unsolicited CHANNEL_OPEN is refused with OPEN_FAILURE(1)", () =>
    Effect.gen(function*() {
      const peer = yield* setup()
      yield* peer.send({ _tag: "ChannelOpen", channelType: "x11", sender: 5, initialWindow: 1024, maxPacket: 1024, data: new Uint8Array(0) })
      const reply = yield* peer.next
      assert.strictEqual(reply._tag, "ChannelOpenFailure")
      if (reply._tag === "ChannelOpenFailure") {
        assert.strictEqual(reply.recipient, 5)
        assert.strictEqual(reply.reason, 1)
      }
    }))

  it.scopedLive("SEC-43: data beyond the advertised window (and its 10 % grace) disconnects with code 2", () =>
    Effect.gen(function*() {
      const peer = yield* setup({ window: 64 * 1024, maxPacket: 32 * 1024 })
      const fiber = yield* Effect.fork(peer.mux.open("session"))
      const id = yield* acceptOpen(peer)
      const channel = yield* Fiber.join(fiber)
      const chunk = new Uint8Array(32 * 1024)
      for (let i = 0; i < 3; i++) yield* peer.send({ _tag: "ChannelData", recipient: id, data: chunk })
      const e = yield* Effect.flip(Stream.runDrain(channel.data))
      assert.strictEqual(e._tag, "TransportError")
      const closed = yield* peer.server.closed
      assert.strictEqual(closed.origin, "Remote")
      assert.strictEqual(closed.code, 2)
    }))

  it.scopedLive("SEC-43: a slow consumer returns window only for what it took", () =>
    Effect.gen(function*() {
      const peer = yield* setup({ window: 64 * 1024, maxPacket: 32 * 1024 })
      const fiber = yield* Effect.fork(peer.mux.open("session"))
      const id = yield* acceptOpen(peer)
      const channel = yield* Fiber.join(fiber)
      yield* peer.send({ _tag: "ChannelData", recipient: id, data: new Uint8Array(32 * 1024) })
      yield* peer.send({ _tag: "ChannelData", recipient: id, data: new Uint8Array(32 * 1024) })
      // Nothing is taken yet: no WINDOW_ADJUST may arrive. Take 64 KiB: the window comes back.
      const taken = yield* channel.data.pipe(Stream.take(2), Stream.runCollect)
      assert.strictEqual(taken.length, 2)
      const adjust = yield* peer.next
      assert.strictEqual(adjust._tag, "ChannelWindowAdjust")
      if (adjust._tag === "ChannelWindowAdjust") {
        assert.strictEqual(adjust.recipient, 77)
        assert.strictEqual(adjust.bytes, 64 * 1024)
      }
    }))

  it.scopedLive("SEC-45: a global reply without a request disconnects with code 2", () =>
    Effect.gen(function*() {
      const peer = yield* setup()
      yield* peer.send({ _tag: "RequestSuccess", data: new Uint8Array(0) })
      const closed = yield* peer.server.closed
      assert.strictEqual(closed.code, 2)
    }))

  it.scopedLive("SEC-41: data for a channel that does not exist disconnects with code 2", () =>
    Effect.gen(function*() {
      const peer = yield* setup()
      yield* peer.send({ _tag: "ChannelData", recipient: 9, data: new Uint8Array(1) })
      const closed = yield* peer.server.closed
      assert.strictEqual(closed.code, 2)
    }))

  it.scopedLive("writes wait for the peer's window and continue after WINDOW_ADJUST", () =>
    Effect.gen(function*() {
      const peer = yield* setup()
      const fiber = yield* Effect.fork(peer.mux.open("session"))
      const id = yield* acceptOpen(peer, 1000, 400)
      const channel = yield* Fiber.join(fiber)
      const writer = yield* Effect.fork(channel.write(new Uint8Array(2500)))
      let got = 0
      const sizes: Array<number> = []
      while (got < 1000) {
        const m = yield* peer.next
        if (m._tag === "ChannelData") {
          sizes.push(m.data.length)
          got += m.data.length
        }
      }
      assert.deepStrictEqual(sizes, [400, 400, 200])
      yield* peer.send({ _tag: "ChannelWindowAdjust", recipient: id, bytes: 2000 })
      while (got < 2500) {
        const m = yield* peer.next
        if (m._tag === "ChannelData") got += m.data.length
      }
      yield* Fiber.join(writer)
      assert.strictEqual(got, 2500)
    }))

  it.scopedLive("a channel open the peer never answers fails after the request timeout; the connection stays up", () =>
    Effect.gen(function*() {
      const peer = yield* setup({ requestTimeout: "200 millis" })
      const e = yield* Effect.flip(peer.mux.open("session"))
      assert.strictEqual(e._tag, "ChannelError")
      if (e._tag === "ChannelError") {
        assert.strictEqual(e.reason, "OpenFailed")
        assert.include(e.description, "no answer")
      }
      // The connection is still usable: the next open is confirmed.
      const fiber = yield* Effect.fork(peer.mux.open("session"))
      const first = yield* peer.next
      assert.strictEqual(first._tag, "ChannelOpen")
      yield* acceptOpen(peer)
      const channel = yield* Fiber.join(fiber)
      assert.isAbove(channel.id, -1)
    }))
})
