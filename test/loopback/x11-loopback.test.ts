/**
 * The client's X11 channel handling over a loopback connection (SEC-47, SEC-27): an `x11` channel without a live
 * x11-req is refused with OPEN_FAILURE(1); one whose setup carries another cookie is closed before anything
 * reaches the display; the right fake cookie reaches the display rewritten with the real one, and data flows
 * back; with the single-connection flag a second channel is refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as net from "node:net"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import * as X11 from "../../src/forward/X11.js"
import * as X11Client from "../../src/forward/X11Client.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeForward from "../../src/node/NodeForward.js"
import * as Loopback from "../helpers/Loopback.js"

const enc = new TextEncoder()
const setup = (cookie: Uint8Array) => {
  const out = new Uint8Array(12 + 20 + 16)
  out.set([0x6c, 0, 11, 0, 0, 0, 18, 0, 16, 0, 0, 0])
  out.set(enc.encode(X11.MIT_MAGIC_COOKIE), 12)
  out.set(cookie, 32)
  return out
}

/** A TCP listener standing in for the display: it records what each connection sends and answers "ok". */
const display = Effect.acquireRelease(
  Effect.async<{ server: net.Server; port: number; received: Array<Buffer> }>((resume) => {
    const received: Array<Buffer> = []
    const server = net.createServer((s) => {
      const chunks: Array<Buffer> = []
      s.on("data", (d: Buffer) => {
        chunks.push(d)
        if (Buffer.concat(chunks).length >= 48) {
          received.push(Buffer.concat(chunks))
          s.end("ok")
        }
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, port: (server.address() as net.AddressInfo).port, received })))
  }),
  ({ server }) => Effect.sync(() => server.close())
)

const pair = Effect.gen(function*() {
  const { client, server } = yield* Loopback.pair({ backend: NodeCrypto })
  const clientMux = yield* ConnectionMux.make(client, { username: "t", methods: ["none"] })
  const serverMux = yield* ConnectionMux.make(server, { username: "t", methods: ["none"] })
  return { forwards: yield* X11Client.make(clientMux), serverMux }
})

const openX11 = (mux: ConnectionMux.ConnectionMux) => mux.open("x11", X11.encodeOpen({ address: "127.0.0.1", port: 5555 }))

describe("X11 channels at the client", () => {
  it.scopedLive("SEC-47: x11 without a live x11-req is refused with OPEN_FAILURE(1)", () =>
    Effect.gen(function*() {
      const { forwards, serverMux } = yield* pair
      const e = yield* Effect.flip(Effect.scoped(openX11(serverMux)))
      assert.strictEqual(e._tag, "ChannelError")
      if (e._tag === "ChannelError") assert.strictEqual(e.openFailure, 1)
      assert.strictEqual(yield* forwards.refused, 1)
    }))

  it.scopedLive("SEC-27: a forged cookie never reaches the display; the fake one arrives as the real one; single connection", () =>
    Effect.gen(function*() {
      const d = yield* display
      const { forwards, serverMux } = yield* pair
      const real = new Uint8Array(16).fill(0x5a)
      const fake = X11.fromHex(yield* forwards.register({
        display: { endpoint: { _tag: "Tcp", host: "127.0.0.1", port: d.port }, number: 0, screen: 0 },
        protocol: X11.MIT_MAGIC_COOKIE,
        realCookie: real,
        singleConnection: true,
        net: NodeForward.localNet
      }))
      assert.notDeepEqual(fake, real)
      // Forged: the channel is accepted, then closed once the setup is read; the display saw nothing.
      const forged = yield* Effect.gen(function*() {
        const ch = yield* openX11(serverMux)
        yield* ch.write(setup(new Uint8Array(16).fill(0x5a)))
        return Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(ch.data)))
      }).pipe(Effect.scoped)
      assert.strictEqual(forged.length, 0)
      assert.strictEqual(d.received.length, 0)
      assert.strictEqual(yield* forwards.refused, 1)
      // The fake cookie, split over two writes: the display gets the setup with the real cookie, "ok" comes back.
      const reply = yield* Effect.gen(function*() {
        const ch = yield* openX11(serverMux)
        const s = setup(fake)
        yield* ch.write(s.subarray(0, 20))
        yield* ch.write(s.subarray(20))
        return Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(ch.data))).toString()
      }).pipe(Effect.scoped)
      assert.strictEqual(reply, "ok")
      assert.deepStrictEqual(new Uint8Array(d.received[0]!), setup(real))
      // Single connection: the forward is used up.
      const e = yield* Effect.flip(Effect.scoped(openX11(serverMux)))
      if (e._tag === "ChannelError") assert.strictEqual(e.openFailure, 1)
      else assert.fail("expected a ChannelError")
    }))
})
