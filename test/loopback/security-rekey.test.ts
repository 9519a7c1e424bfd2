/**
 * SEC-15 and SEC-22 (with LIM-10/LIM-11) through the Transport: a raw peer that never answers a rekey, a raw peer
 * that rekeys every few packets mid-transfer, and our client ↔ our server rekeying every 16 bytes.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Exit, Fiber } from "effect"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import type * as Transport from "../../src/transport/Transport.js"
import { MessageId } from "../../src/wire/MessageId.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import { backends } from "../helpers/Backends.js"
import * as Loopback from "../helpers/Loopback.js"
import * as RawPeer from "../helpers/RawPeer.js"
import * as Receive from "../../src/transport/internal/receive.js"

const roles = ["client", "server"] as const
const AEAD = new Set(["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"])

/** `count` CHANNEL_DATA-like payloads of pseudo-random sizes and contents, reproducible from `seed`. */
const payloads = (seed: number, count: number, maxSize: number): ReadonlyArray<Uint8Array> => {
  let x = seed >>> 0
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0)
  return Array.from({ length: count }, () => {
    const p = new Uint8Array(1 + (next() % maxSize))
    p[0] = MessageId.CHANNEL_DATA
    for (let i = 1; i < p.length; i++) p[i] = next() & 0xff
    return p
  })
}

const digest = (ps: ReadonlyArray<Uint8Array>) => {
  const h = sha256.create()
  for (const p of ps) h.update(p)
  return h.digest()
}

/** Sends `ps` from `from` while `to` receives them; checks they arrive intact and in order. */
const transfer = (from: Transport.Transport, to: Transport.Transport, ps: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function*() {
    const send = Effect.forEach(ps, (p) => from.send(p), { discard: true })
    const receive = Effect.gen(function*() {
      const got: Array<Uint8Array> = []
      while (got.length < ps.length) got.push(...(yield* Receive.receiveAll(to)))
      return got
    })
    const [, got] = yield* Effect.all([send, receive], { concurrency: 2 })
    assert.strictEqual(got.length, ps.length)
    assert.deepStrictEqual(digest(got), digest(ps))
  })

describe("SEC-15: bounded buffering across (re)KEX; KEX timeout", () => {
  for (const victim of roles) {
    it.scopedLive(`SEC-15: the peer never answers our rekey KEXINIT while the app writes → our ${victim} suspends the writes and closes at the rekey timeout`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim, victimOptions: { timeouts: { rekey: "500 millis" } } })
        const t = yield* peer.handshake()
        const rekey = yield* Effect.fork(t.rekey)
        yield* peer.receiveKexInit
        const started = Date.now()
        // The app writes 100 MiB in 32 KiB messages; count what the transport accepts.
        let accepted = 0
        const data = new Uint8Array(32 * 1024 + 1)
        data[0] = MessageId.CHANNEL_DATA
        const writer = yield* Effect.fork(Effect.gen(function*() {
          for (let i = 0; i < 3200; i++) {
            yield* t.send(data)
            accepted++
          }
        }))
        const rest = yield* peer.untilClosed
        const error = yield* peer.victimError
        assert.strictEqual(error.reason, "Timeout", error.description)
        assert.isBelow(Date.now() - started, 3000)
        // SEC-15: ≤ 64 packets or ≤ 2 MiB wait; nothing grows further. RFC 4253 §7.1: nothing but KEX messages
        // (and DISCONNECT) after our KEXINIT.
        assert.isAtMost(accepted, 64)
        assert.isAtMost(accepted * data.length, 2 * 1024 * 1024)
        assert.deepStrictEqual(RawPeer.typesOf(rest).filter((x) => x !== MessageId.DISCONNECT), [])
        assert.isTrue(Exit.isFailure(yield* Fiber.await(writer)), "the suspended writer fails once the connection is gone")
        assert.isTrue(Exit.isFailure(yield* Fiber.await(rekey)))
      }))

    it.scopedLive(`SEC-15 / LIM-11: the peer starts a rekey and stops after its KEXINIT → our ${victim} closes at the rekey timeout`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim, victimOptions: { timeouts: { rekey: "400 millis" } } })
        const t = yield* peer.handshake()
        yield* peer.sendKexInit()
        yield* peer.receiveKexInit
        const started = Date.now()
        const data = new Uint8Array(1025)
        data[0] = MessageId.CHANNEL_DATA
        let accepted = 0
        yield* Effect.fork(Effect.gen(function*() {
          for (let i = 0; i < 1000; i++) {
            yield* t.send(data)
            accepted++
          }
        }))
        const rest = yield* peer.untilClosed
        const error = yield* peer.victimError
        assert.strictEqual(error.reason, "Timeout", error.description)
        assert.isBelow(Date.now() - started, 3000)
        assert.isAtMost(accepted, 64)
        // RFC 4253 §7.1: only transport messages (no 5, 6, 7) from our KEXINIT on.
        assert.deepStrictEqual(RawPeer.typesOf(rest).filter((x) => x >= 50 || (x >= 5 && x <= 7)), [])
      }))
  }

  it.scopedLive("SEC-15: 1 000 consecutive rekeys (rekey limit 16 bytes) → data intact, heap flat", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Loopback.pair({ backend: backends[1]!, client: { rekey: { bytes: 16 } } })
      const ps = payloads(7, 1000, 64)
      const heapBefore = process.memoryUsage().heapUsed
      yield* transfer(client, server, ps)
      const stats = yield* client.stats
      assert.isAtLeast(stats.kexCount, 900)
      assert.isBelow(process.memoryUsage().heapUsed - heapBefore, 64 * 1024 * 1024)
    }), { timeout: 60_000 })
})

describe("SEC-22: rekeying", () => {
  for (const bytes of [16, 1024, 128 * 1024, 256 * 1024]) {
    it.scopedLive(`SEC-22: rekey every ${bytes} bytes, 300 KiB each way at once: data intact (rekey.sh)`, () =>
      Effect.gen(function*() {
        const { client, server } = yield* Loopback.pair({
          backend: backends[1]!,
          client: { rekey: { bytes } },
          server: { rekey: { bytes } }
        })
        const up = payloads(1, bytes === 16 ? 150 : 300, 2048)
        const down = payloads(2, bytes === 16 ? 150 : 300, 2048)
        yield* Effect.all([transfer(client, server, up), transfer(server, client, down)], { concurrency: 2 })
        const kex = (yield* client.stats).kexCount
        assert.isAtLeast(kex, 2, "NEWKEYS sent at least once after the first exchange")
        if (bytes === 16) assert.isAtLeast(kex, 100)
      }), { timeout: 60_000 })
  }

  for (const cipher of Algorithms.CIPHERS) {
    const macs = AEAD.has(cipher) ? [undefined] : ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512"]
    for (const mac of macs) {
      it.scopedLive(`SEC-22: rekey every 1 KiB under ${cipher}${mac ? ` + ${mac}` : ""}: data intact`, () =>
        Effect.gen(function*() {
          // Both sides name the pair: the legacy ciphers are off by default.
          const algorithms = { cipher: [cipher], ...(mac ? { mac: [mac] } : {}) }
          const { client, server } = yield* Loopback.pair({
            backend: backends[1]!,
            client: { rekey: { bytes: 1024 }, algorithms },
            server: { algorithms }
          })
          yield* Effect.all([transfer(client, server, payloads(3, 100, 1024)), transfer(server, client, payloads(4, 100, 1024))], {
            concurrency: 2
          })
          assert.isAtLeast((yield* server.stats).kexCount, 10)
        }))
    }
  }

  for (const kex of ["curve25519-sha256", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256", "diffie-hellman-group-exchange-sha256"]) {
    it.scopedLive(`SEC-22: rekey every 16 KiB with ${kex}: data intact`, () =>
      Effect.gen(function*() {
        const { client, server } = yield* Loopback.pair({
          backend: backends[1]!,
          client: { rekey: { bytes: 16 * 1024 }, algorithms: { kex: [kex] } },
          server: { algorithms: { kex: [kex] } }
        })
        yield* transfer(client, server, payloads(5, 60, 2048))
        assert.isAtLeast((yield* client.stats).kexCount, 3)
      }), { timeout: 60_000 })
  }

  it.scopedLive("SEC-22 / LIM-10: time-based rekey with a short interval on an idle connection", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Loopback.pair({ backend: backends[1]!, client: { rekey: { interval: "100 millis" } } })
      yield* Effect.sleep("650 millis")
      assert.isAtLeast((yield* client.stats).kexCount, 3)
      assert.isAtLeast((yield* server.stats).kexCount, 3)
      yield* transfer(client, server, payloads(6, 20, 512))
      yield* transfer(server, client, payloads(7, 20, 512))
      assert.deepStrictEqual(client.sessionId, server.sessionId)
    }))

  for (const victim of roles) {
    it.scopedLive(`SEC-22: the peer rekeys every 10 packets while our ${victim} sends: data intact`, () =>
      Effect.gen(function*() {
        // The raw peer reads only as fast as it takes packets, so our side's writes wait on the socket.
        // (Capacity 4: MemorySocket needs room for its own "close" markers when the scope ends.)
        const peer = yield* RawPeer.make({ victim, capacity: 4, readAhead: 2 })
        const t = yield* peer.handshake()
        // 50 MiB in 32 KiB messages: far more than our side queues, so the rekeys fall in the middle of the writes.
        const ps = payloads(8, 1600, 32 * 1024)
        const got: Array<Uint8Array> = []
        // Data our side sent before it saw a KEXINIT of ours: the rekey started in the middle of the transfer.
        let inFlight = 0
        peer.onOther = (p) => {
          inFlight++
          got.push(p)
        }
        const sender = yield* Effect.fork(Effect.forEach(ps, (p) => t.send(p), { discard: true }))
        let rekeys = 0
        let since = 0
        while (got.length < ps.length) {
          const r = yield* peer.next
          assert.strictEqual(r._tag, "Packet")
          if (r._tag !== "Packet") return
          got.push(r.payload)
          if (++since === 10 && got.length < ps.length) {
            yield* peer.kex()
            rekeys++
            since = 0
          }
        }
        yield* Fiber.join(sender)
        assert.strictEqual(got.length, ps.length)
        assert.deepStrictEqual(digest(got), digest(ps))
        assert.isAtLeast(rekeys, 2)
        assert.isAbove(inFlight, 0, "some rekey met data in flight")
        // …and the other direction works after all that.
        yield* peer.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" }))
        assert.strictEqual((yield* Receive.receive(t))[0], MessageId.SERVICE_REQUEST)
        assert.strictEqual((yield* t.stats).kexCount, 1 + rekeys)
        // End cleanly, reading everything (the small socket queues must not be left full).
        yield* t.disconnect(11, "done")
        yield* peer.untilClosed
      }), { timeout: 60_000 })
  }
})
