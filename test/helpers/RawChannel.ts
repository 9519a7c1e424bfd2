/**
 * Our client's mux on one end of an in-memory connection, and a raw peer on the other that speaks connection
 * messages one by one: for tests that drive a channel message by message (a misbehaving or a slow peer).
 */
import { assert } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as Receive from "../../src/transport/internal/receive.js"
import type * as Transport from "../../src/transport/Transport.js"
import * as ConnectionMessages from "../../src/wire/ConnectionMessages.js"
import * as Loopback from "./Loopback.js"

const user = { username: "test", methods: ["none"] }

/** The raw peer: the next connection message our client sent. */
export const next = (server: Transport.Transport) =>
  Effect.map(Receive.receive(server), (payload) => Either.getOrThrow(ConnectionMessages.decode(payload)))

/** Our client's mux and a session channel it opened, confirmed by the raw peer with `window`. */
export const openChannel = (window: number, options?: ConnectionMux.ConnectionMuxOptions) =>
  Effect.gen(function*() {
    const { client, server } = yield* Loopback.pair({ backend: NodeCrypto })
    const mux = yield* ConnectionMux.make(client, user, options)
    const opening = yield* Effect.fork(mux.open("session"))
    const open = yield* next(server)
    if (open._tag !== "ChannelOpen") return assert.fail(`expected CHANNEL_OPEN, got ${open._tag}`)
    const peerId = 7
    yield* server.send(ConnectionMessages.encode({
      _tag: "ChannelOpenConfirmation",
      recipient: open.sender,
      sender: peerId,
      initialWindow: window,
      maxPacket: 32768,
      data: new Uint8Array(0)
    }))
    const channel = yield* opening
    const send = (m: ConnectionMessages.ConnectionMessage) => server.send(ConnectionMessages.encode(m))
    return { client, server, mux, channel, ourId: open.sender, send, open }
  })
