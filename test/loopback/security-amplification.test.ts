/**
 * SEC-23: no amplification before authentication or during a key exchange. A raw client past the first key
 * exchange, with our server's authentication running, sends 200 × PING (ping@openssh.com, message 192, 1 KiB of
 * data) before logging in: no PONG (193) ever comes back, and what our side sends in all is a small fraction of
 * what it received (at most one short reply per message). The same PINGs sent while a key exchange is in
 * progress (after the raw side's KEXINIT) get no PONG either.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as ServerAuth from "../../src/auth/ServerAuth.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import { MessageId } from "../../src/wire/MessageId.js"
import * as RawPeer from "../helpers/RawPeer.js"

const ping = () => {
  const data = new Uint8Array(1024).fill(0x61)
  const out = new Uint8Array(1 + 4 + data.length)
  out[0] = MessageId.PING
  new DataView(out.buffer).setUint32(1, data.length)
  out.set(data, 5)
  return out
}

/** Reads what our side sends until it closes or stays quiet for the raw peer's wait. */
const drain = (peer: RawPeer.RawPeer) =>
  Effect.gen(function*() {
    const got: Array<RawPeer.Received> = []
    for (;;) {
      const r = yield* Effect.either(Effect.timeout(peer.next, "1 second"))
      if (r._tag === "Left") return got
      got.push(r.right)
      if (r.right._tag !== "Packet") return got
    }
  })

describe("SEC-23 no amplification pre-auth or during KEX", () => {
  it.scopedLive("200 PINGs before authentication: no PONG, replies far smaller than the input", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "server", backend: NodeCrypto })
      const transport = yield* peer.handshake()
      const auth = yield* Effect.fork(Effect.either(ServerAuth.authenticate(transport, {}, { crypto: NodeCrypto })))
      let sent = 0
      for (let i = 0; i < 200; i++) {
        const p = ping()
        sent += p.length
        yield* Effect.either(peer.send(p))
      }
      const got = yield* drain(peer)
      const packets = got.flatMap((r) => (r._tag === "Packet" ? [r.payload] : []))
      assert.notInclude(packets.map((p) => p[0]), MessageId.PONG)
      const replied = packets.reduce((s, p) => s + p.length, 0)
      assert.isAtMost(packets.length, 200)
      assert.isBelow(replied, sent / 20)
      yield* Fiber.interrupt(auth)
    }))

  it.scopedLive("PINGs during a key exchange get no PONG", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "server", backend: NodeCrypto })
      yield* peer.handshake()
      yield* peer.send(peer.kexInit())
      for (let i = 0; i < 50; i++) yield* Effect.either(peer.send(ping()))
      const got = yield* drain(peer)
      const types = got.flatMap((r) => (r._tag === "Packet" ? [r.payload[0]] : []))
      assert.notInclude(types, MessageId.PONG)
      assert.isAtMost(types.filter((t) => t !== MessageId.KEXINIT).length, 50)
    }))
})
