/**
 * The channel primitive against a peer that misbehaves, driven message by message from the other end of an
 * in-memory connection: SEC-44 in every channel state (a WINDOW_ADJUST that grows our send window past 2^32−1
 * fails the connection, as OpenSSH's "adjust … overflows remote window" does, also after our EOF and our CLOSE),
 * a peer flooding channel requests is cut off at a bound (no queue fed from the network grows without one), and
 * a fast producer whose stderr nobody reads cannot stall stdout or the exit status (DESIGN.md §6).
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { MAX_QUEUED_REQUESTS } from "../../src/connection/internal/channel.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as SshProcess from "../../src/session/SshProcess.js"
import * as ChannelRequests from "../../src/wire/ChannelRequests.js"
import * as Loopback from "../helpers/Loopback.js"
import { openChannel } from "../helpers/RawChannel.js"

const user = { username: "test", methods: ["none"] }
const MAX_UINT32 = 0xffff_ffff

describe("channel engine: misbehaving peers", () => {
  for (const state of ["open", "after our EOF", "after our CLOSE"] as const) {
    it.scopedLive(`SEC-44: WINDOW_ADJUST overflowing 2^32−1 ${state} fails the connection`, () =>
      Effect.gen(function*() {
        const { channel, client, ourId, send } = yield* openChannel(1000)
        if (state !== "open") yield* channel.eof
        if (state === "after our CLOSE") yield* channel.close
        // In range: counted, the connection stays up.
        yield* send({ _tag: "ChannelWindowAdjust", recipient: ourId, bytes: 10 })
        yield* send({ _tag: "ChannelWindowAdjust", recipient: ourId, bytes: MAX_UINT32 })
        const err = yield* client.closed
        assert.include(err.description, "SEC-44")
        assert.include(err.description, "overflows")
      }))
  }

  it.scopedLive("a peer flooding channel requests nobody takes is cut off at a bound; below it, nothing is lost", () =>
    Effect.gen(function*() {
      const { channel, client, ourId, send } = yield* openChannel(1 << 20)
      const exit = ChannelRequests.encodeRequest({ _tag: "ExitStatus", status: 0 })
      const request = { _tag: "ChannelRequest", recipient: ourId, request: "x-flood", wantReply: false, data: exit.data } as const
      for (let i = 0; i < MAX_QUEUED_REQUESTS; i++) yield* send(request)
      // Below the bound: the connection still delivers, in order, after the requests.
      yield* send({ _tag: "ChannelData", recipient: ourId, data: new Uint8Array([1, 2, 3]) })
      const first = yield* channel.data.pipe(Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(Array.from(Chunk.unsafeGet(first, 0)), [1, 2, 3])
      // One more than the bound: cut off.
      yield* send(request)
      const err = yield* client.closed
      assert.include(err.description, `more than ${MAX_QUEUED_REQUESTS} unprocessed channel requests`)
    }))

  it.scopedLive("requests routed by onRequest are never queued: 10 000 of them do not cut the connection", () =>
    Effect.gen(function*() {
      const { channel, ourId, send } = yield* openChannel(1 << 20)
      let seen = 0
      yield* channel.onRequest(() => {
        seen++
      })
      for (let i = 0; i < 10_000; i++) {
        yield* send({ _tag: "ChannelRequest", recipient: ourId, request: "x-many", wantReply: false, data: new Uint8Array(0) })
      }
      yield* send({ _tag: "ChannelData", recipient: ourId, data: new Uint8Array([9]) })
      const first = yield* channel.data.pipe(Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(Array.from(Chunk.unsafeGet(first, 0)), [9])
      assert.strictEqual(seen, 10_000)
    }))

  it.scopedLive("reading a channel's data a second time after its end fails loudly", () =>
    Effect.gen(function*() {
      const { channel, ourId, send } = yield* openChannel(1 << 20)
      yield* send({ _tag: "ChannelData", recipient: ourId, data: new Uint8Array([1]) })
      yield* send({ _tag: "ChannelEof", recipient: ourId })
      const all = yield* Stream.runCollect(channel.data)
      assert.strictEqual(Chunk.size(all), 1)
      const again = yield* Effect.exit(Stream.runCollect(channel.data))
      assert.isTrue(again._tag === "Failure")
    }))
})

/** A server whose exec writes `mib` MiB to stdout and to stderr as fast as the window allows, then exits 0. */
const producer = (mib: number): ConnectionMux.ConnectionMuxOptions["acceptChannel"] => () =>
  Effect.succeed({
    _tag: "Accept",
    run: (channel) =>
      Effect.gen(function*() {
        const requests = yield* channel.requests.pipe(Stream.toPull)
        const [req] = Chunk.toReadonlyArray(yield* requests)
        if (req?.reply) yield* req.reply(true)
        const block = new Uint8Array(32 * 1024).fill(65)
        yield* Effect.all([
          Effect.repeatN(channel.write(block), mib * 32 - 1),
          Effect.repeatN(channel.writeStderr(block), mib * 32 - 1)
        ], { concurrency: 2 })
        const exit = ChannelRequests.encodeRequest({ _tag: "ExitStatus", status: 0 })
        yield* channel.request(exit.request, exit.data, false)
        yield* channel.eof
      }).pipe(Effect.scoped)
  })

describe("channel engine: streaming defaults that cannot deadlock", () => {
  it.scopedLive("a slow stdout reader and a never-read stderr: memory stays bounded and exitStatus resolves", () =>
    Effect.gen(function*() {
      const mib = 64
      const { client, server } = yield* Loopback.pair({ backend: NodeCrypto })
      yield* ConnectionMux.make(server, user, { acceptChannel: producer(mib) })
      const mux = yield* ConnectionMux.make(client, user)
      const p = yield* SshProcess.start(mux, { _tag: "Exec", command: "produce" })
      const base = process.memoryUsage().arrayBuffers
      let peak = 0
      let bytes = 0
      yield* p.stdout.pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            bytes += chunk.length
            peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)
          }).pipe(Effect.zipLeft(Effect.yieldNow()))
        )
      )
      assert.strictEqual(bytes, mib * 1024 * 1024)
      const status = yield* p.exitStatus
      assert.strictEqual(status.status, 0)
      // 64 MiB of stderr went by unread: what is kept of it is bounded by one window (2 MiB), not by the output;
      // a buffer that kept it all would hold more than 64 MiB at the end (the figure includes garbage not yet
      // collected, so the bound is loose).
      assert.isBelow(peak, 60 * 1024 * 1024)
    }), { timeout: 120_000 })
})

describe("channel engine: gathered sealing", () => {
  for (const cipher of ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]) {
    it.scopedLive(`${cipher} on node:crypto: 8 MiB of channel data each way arrive intact`, () =>
      Effect.gen(function*() {
        const algorithms = { cipher: [cipher] }
        const { client, server } = yield* Loopback.pair({
          backend: NodeCrypto,
          client: { algorithms },
          server: { algorithms }
        })
        const echo: ConnectionMux.ConnectionMuxOptions["acceptChannel"] = () =>
          Effect.succeed({
            _tag: "Accept",
            run: (channel) => Effect.zipRight(Stream.runForEach(channel.data, channel.write), channel.eof)
          })
        yield* ConnectionMux.make(server, user, { acceptChannel: echo })
        const mux = yield* ConnectionMux.make(client, user)
        const channel = yield* mux.open("session")
        const block = new Uint8Array(100_003)
        for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff
        const rounds = 84
        let sum = 0
        for (let r = 0; r < rounds; r++) for (const b of block) sum = (sum + b) >>> 0
        const writer = Effect.zipRight(Effect.repeatN(channel.write(block), rounds - 1), channel.eof)
        const reader = Stream.runFold(channel.data, { bytes: 0, sum: 0 }, (acc, chunk) => {
          let s = acc.sum
          for (const b of chunk) s = (s + b) >>> 0
          return { bytes: acc.bytes + chunk.length, sum: s }
        })
        const [, got] = yield* Effect.all([writer, reader], { concurrency: 2 })
        assert.strictEqual(got.bytes, rounds * block.length)
        assert.strictEqual(got.sum, sum)
        assert.strictEqual((yield* client.negotiated).cipherC2S, cipher)
      }), { timeout: 120_000 })
  }
})
