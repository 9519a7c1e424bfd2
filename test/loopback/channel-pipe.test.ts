/**
 * `Channel.pipeData` (the tunnels' path: a channel's data into a synchronous sink, no fiber per chunk) against a
 * raw peer driven message by message: the window comes back while the sink has room and is held while it is
 * full (a slow sink slows the sender, SEC-45), a peer that ignores the held window is cut off so the sink never
 * holds more than the window and its grace (SEC-43), data buffered before the pipe starts goes first and in order,
 * EOF ends the pipe, and a sink that closes fails it. And `Channel.sink`, the other way: a write goes out as far
 * as the peer's window allows, in packets of at most its max packet (SEC-44), the rest when WINDOW_ADJUST comes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import type { ByteSink } from "../../src/connection/Channel.js"
import { DEFAULT_MAX_PACKET, DEFAULT_WINDOW } from "../../src/connection/FlowControl.js"
import { next, openChannel } from "../helpers/RawChannel.js"

/** A sink whose room and closing the test decides; it keeps what it is given. */
const testSink = () => {
  const got: Array<Uint8Array> = []
  let room = true
  let closed = false
  let ready: (() => void) | undefined
  const sink: ByteSink = {
    write: (chunk) => {
      got.push(chunk)
      return room
    },
    onReady: (resume) => {
      ready = resume
    },
    isClosed: () => closed
  }
  return {
    sink,
    got,
    bytes: () => got.reduce((n, c) => n + c.length, 0),
    full: () => (room = false),
    drain: () => {
      room = true
      const r = ready
      ready = undefined
      r?.()
    },
    close: () => {
      closed = true
      const r = ready
      ready = undefined
      r?.()
    },
    armed: () => ready !== undefined
  }
}

/** `n` bytes numbered i mod 251, in packets of our max packet. */
const packets = (n: number, from = 0) => {
  const out: Array<Uint8Array> = []
  for (let at = from; at < from + n; at += DEFAULT_MAX_PACKET) {
    const p = new Uint8Array(Math.min(DEFAULT_MAX_PACKET, from + n - at))
    for (let i = 0; i < p.length; i++) p[i] = (at + i) % 251
    out.push(p)
  }
  return out
}

const inOrder = (got: ReadonlyArray<Uint8Array>) => {
  let at = 0
  for (const c of got) {
    for (let i = 0; i < c.length; i++) if (c[i] !== (at + i) % 251) return false
    at += c.length
  }
  return true
}

describe("Channel.pipeData", () => {
  it.scopedLive("SEC-45: the window returns while the sink has room, is held while it is full, and returns at once when it drains", () =>
    Effect.gen(function*() {
      const { channel, server, ourId, send } = yield* openChannel(1 << 20)
      const t = testSink()
      const pipe = yield* Effect.fork(channel.pipeData(t.sink))
      // With room: the whole window, in 32 KiB packets; it comes back at half the window at a time.
      for (const p of packets(DEFAULT_WINDOW)) yield* send({ _tag: "ChannelData", recipient: ourId, data: p })
      let returned = 0
      while (returned < DEFAULT_WINDOW) {
        const m = yield* next(server)
        if (m._tag !== "ChannelWindowAdjust") return assert.fail(`expected WINDOW_ADJUST, got ${m._tag}`)
        returned += m.bytes
      }
      assert.strictEqual(returned, DEFAULT_WINDOW)
      assert.strictEqual(t.bytes(), DEFAULT_WINDOW)
      // Full: the sink takes the next window's data (the peer may send it) but none of it is credited …
      t.full()
      for (const p of packets(DEFAULT_WINDOW, DEFAULT_WINDOW)) yield* send({ _tag: "ChannelData", recipient: ourId, data: p })
      yield* send({ _tag: "ChannelRequest", recipient: ourId, request: "keepalive@openssh.com", wantReply: true, data: new Uint8Array(0) })
      const reply = yield* next(server)
      assert.strictEqual(reply._tag, "ChannelFailure", "nothing but the keepalive's answer while the sink is full")
      assert.strictEqual(t.bytes(), 2 * DEFAULT_WINDOW)
      assert.isTrue(t.armed())
      // … until it drains: then all of it at once.
      t.drain()
      const adjust = yield* next(server)
      assert.deepStrictEqual(adjust, { _tag: "ChannelWindowAdjust", recipient: 7, bytes: DEFAULT_WINDOW })
      // EOF ends the pipe, after every byte, in order.
      yield* send({ _tag: "ChannelEof", recipient: ourId })
      yield* Fiber.join(pipe)
      assert.isTrue(inOrder(t.got))
      assert.strictEqual(t.bytes(), 2 * DEFAULT_WINDOW)
    }))

  it.scopedLive("SEC-43: a peer that ignores the window held for a full sink is cut off; the sink holds at most the window and its grace", () =>
    Effect.gen(function*() {
      const { channel, client, ourId, send } = yield* openChannel(1 << 20)
      const t = testSink()
      t.full()
      yield* Effect.fork(channel.pipeData(t.sink))
      const grace = Math.floor(DEFAULT_WINDOW / 10)
      for (const p of packets(DEFAULT_WINDOW + grace + DEFAULT_MAX_PACKET)) {
        yield* send({ _tag: "ChannelData", recipient: ourId, data: p })
      }
      const err = yield* client.closed
      assert.include(err.description, "SEC-43")
      assert.isAtMost(t.bytes(), DEFAULT_WINDOW + grace)
    }))

  it.scopedLive("data that arrived before the pipe starts goes first, in order; a sink that closes fails the pipe", () =>
    Effect.gen(function*() {
      const { channel, server, ourId, send } = yield* openChannel(1 << 20)
      const early = packets(3 * DEFAULT_MAX_PACKET)
      for (const p of early) yield* send({ _tag: "ChannelData", recipient: ourId, data: p })
      // The keepalive's answer comes after the client dispatched the data before it.
      yield* send({ _tag: "ChannelRequest", recipient: ourId, request: "keepalive@openssh.com", wantReply: true, data: new Uint8Array(0) })
      assert.strictEqual((yield* next(server))._tag, "ChannelFailure")
      const t = testSink()
      const pipe = yield* Effect.fork(channel.pipeData(t.sink))
      yield* Effect.yieldNow()
      assert.strictEqual(t.bytes(), early.length * DEFAULT_MAX_PACKET)
      for (const p of packets(DEFAULT_MAX_PACKET, 3 * DEFAULT_MAX_PACKET)) yield* send({ _tag: "ChannelData", recipient: ourId, data: p })
      t.full()
      for (const p of packets(DEFAULT_MAX_PACKET, 4 * DEFAULT_MAX_PACKET)) yield* send({ _tag: "ChannelData", recipient: ourId, data: p })
      yield* send({ _tag: "ChannelRequest", recipient: ourId, request: "keepalive@openssh.com", wantReply: true, data: new Uint8Array(0) })
      assert.strictEqual((yield* next(server))._tag, "ChannelFailure")
      assert.isTrue(inOrder(t.got))
      assert.strictEqual(t.bytes(), 5 * DEFAULT_MAX_PACKET)
      t.close()
      const exit = yield* Fiber.await(pipe)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(String(exit.cause), "the destination of the channel's data closed")
      // Only the pipe failed: the channel lives on.
      yield* channel.write(new Uint8Array([1]))
      const data = yield* next(server)
      assert.strictEqual(data._tag, "ChannelData")
    }))

  it.scopedLive("SEC-44: Channel.sink sends as far as the peer's window allows, in max-packet chunks, and the rest on WINDOW_ADJUST", () =>
    Effect.gen(function*() {
      const { channel, server, ourId, send } = yield* openChannel(40_000)
      const data = packets(100 * 1024).reduce((all, p, i) => (all.set(p, i * DEFAULT_MAX_PACKET), all), new Uint8Array(100 * 1024))
      let ready = 0
      assert.isFalse(channel.sink.write(data), "more than the window: the rest waits")
      channel.sink.onReady(() => ready++)
      const sent: Array<number> = []
      const got: Array<Uint8Array> = []
      const take = (n: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < n; i++) {
            const m = yield* next(server)
            if (m._tag !== "ChannelData") return assert.fail(`expected CHANNEL_DATA, got ${m._tag}`)
            sent.push(m.data.length)
            got.push(m.data)
          }
        })
      yield* take(2)
      assert.deepStrictEqual(sent, [32768, 40_000 - 32768])
      assert.strictEqual(ready, 0)
      yield* send({ _tag: "ChannelWindowAdjust", recipient: ourId, bytes: 1 << 20 })
      yield* take(2)
      assert.deepStrictEqual(sent.slice(2), [32768, 100 * 1024 - 40_000 - 32768])
      assert.strictEqual(ready, 1)
      assert.isTrue(inOrder(got))
      // Within the window: all of it at once.
      assert.isTrue(channel.sink.write(new Uint8Array(10)))
      yield* take(1)
      // After our EOF nothing more is sent.
      yield* channel.eof
      assert.isTrue(channel.sink.isClosed())
      assert.isFalse(channel.sink.write(new Uint8Array(10)))
      assert.strictEqual((yield* next(server))._tag, "ChannelEof")
    }))
})
