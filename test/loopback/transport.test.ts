import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect } from "effect"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import type * as Transport from "../../src/transport/Transport.js"
import { backends } from "../helpers/Backends.js"
import { algorithmsFor, cipherMacPairs } from "../helpers/CipherMacs.js"
import * as Loopback from "../helpers/Loopback.js"
import * as Receive from "../../src/transport/internal/receive.js"


/** A SERVICE_REQUEST from the client answered by a SERVICE_ACCEPT: both directions carry data under the keys. */
const serviceRoundTrip = (client: Transport.Transport, server: Transport.Transport) =>
  Effect.gen(function*() {
    yield* client.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" }))
    const req = TransportMessages.decode(yield* Receive.receive(server))
    assert.isTrue(req._tag === "Right" && req.right._tag === "ServiceRequest" && req.right.name === "ssh-userauth")
    yield* server.send(TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" }))
    const acc = TransportMessages.decode(yield* Receive.receive(client))
    assert.isTrue(acc._tag === "Right" && acc.right._tag === "ServiceAccept")
  })

const exercise = (client: Transport.Transport, server: Transport.Transport) =>
  Effect.gen(function*() {
    yield* serviceRoundTrip(client, server)
    yield* client.rekey
    yield* serviceRoundTrip(client, server)
    yield* server.rekey
    yield* serviceRoundTrip(client, server)
    assert.isAtLeast((yield* client.stats).kexCount, 3)
    assert.isAtLeast((yield* server.stats).kexCount, 3)
    assert.deepStrictEqual(client.sessionId, server.sessionId)
  })

for (const backend of backends) {
  describe(`loopback transport (${backend.name})`, () => {
    for (const kex of Algorithms.KEX) {
      it.scopedLive(`kex ${kex}`, () =>
        Effect.gen(function*() {
          const { client, server } = yield* Loopback.pair({
            backend,
            client: { algorithms: { kex: [kex] } },
            // The SHA-1 methods are off by default (SEC-17): the server names them explicitly too.
            server: { algorithms: { kex: [kex] } }
          })
          assert.strictEqual((yield* client.negotiated).kex, kex)
          assert.strictEqual((yield* server.negotiated).kex, kex)
          yield* exercise(client, server)
        }))
    }
    // Every MAC under one cipher, every cipher under both framings (test/helpers/CipherMacs.ts).
    for (const [cipher, mac] of cipherMacPairs) {
      {
        it.scopedLive(`cipher ${cipher}${mac ? ` mac ${mac}` : ""}`, () =>
          Effect.gen(function*() {
            // Both sides name the pair: the legacy ciphers and MACs are off by default.
            const { client, server } = yield* Loopback.pair({
              backend,
              client: { algorithms: algorithmsFor([cipher, mac]) },
              server: { algorithms: algorithmsFor([cipher, mac]) }
            })
            const n = yield* client.negotiated
            assert.strictEqual(n.cipherC2S, cipher)
            assert.strictEqual(n.cipherS2C, cipher)
            assert.strictEqual(n.macC2S, mac)
            assert.strictEqual(n.macS2C, mac)
            yield* exercise(client, server)
          }))
      }
    }
    for (const hostKey of Algorithms.HOST_KEY_ALGORITHMS) {
      it.scopedLive(`host key ${hostKey}`, () =>
        Effect.gen(function*() {
          const { client, server } = yield* Loopback.pair({
            backend,
            client: { algorithms: { hostKey: [hostKey] } },
            server: { algorithms: { hostKey: Algorithms.HOST_KEY_ALGORITHMS } }
          })
          assert.strictEqual((yield* client.negotiated).hostKey, hostKey)
          yield* exercise(client, server)
        }))
    }

    it.scopedLive("64 MiB through the transport with a rekey every 1 MiB, no byte lost or changed", () =>
      Effect.gen(function*() {
        const { client, server } = yield* Loopback.pair({ backend, client: { rekey: { bytes: 1024 * 1024 } } })
        const total = 64 * 1024 * 1024
        const chunk = 32 * 1024
        const sent = sha256.create()
        const producer = Effect.gen(function*() {
          let seed = 1
          for (let off = 0; off < total; off += chunk) {
            const payload = new Uint8Array(chunk + 1)
            payload[0] = 94
            for (let i = 1; i < payload.length; i += 4096) payload[i] = (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff
            sent.update(payload.subarray(1))
            yield* client.send(payload)
          }
        })
        const consumer = Effect.gen(function*() {
          const got = sha256.create()
          let received = 0
          while (received < total) {
            for (const m of yield* Receive.receiveAll(server)) {
              assert.strictEqual(m[0], 94)
              got.update(m.subarray(1))
              received += m.length - 1
            }
          }
          return got.digest()
        })
        const [, digest] = yield* Effect.all([producer, consumer], { concurrency: 2 })
        assert.deepStrictEqual(digest, sent.digest())
        const stats = yield* client.stats
        assert.isAtLeast(stats.kexCount, 60)
      }), { timeout: 240_000 })
  })
}

describe("loopback transport across backends", () => {
  it.scopedLive("client on portable, server on node:crypto, and back", () =>
    Effect.gen(function*() {
      const [a, b] = backends
      for (const [c, s] of [[a!, b!], [b!, a!]] as const) {
        for (const kex of ["curve25519-sha256", "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256"]) {
          const { client, server } = yield* Loopback.pair({ backend: c, serverBackend: s, client: { algorithms: { kex: [kex] } } })
          yield* exercise(client, server)
        }
      }
    }))
})
