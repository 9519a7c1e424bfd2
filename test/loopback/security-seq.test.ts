/**
 * SEC-07 / LIM-09 through the Transport, with the TST-04 test hooks that move the sequence numbers and the
 * per-key packet limit.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit } from "effect"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as Loopback from "../helpers/Loopback.js"
import * as Receive from "../../src/transport/internal/receive.js"

describe("SEC-07 / LIM-09: sequence numbers", () => {
  for (const role of ["client", "server"] as const) {
    it.scopedLive(`SEC-07: our ${role}'s send sequence number wraps during the initial key exchange → D(2)`, () =>
      Effect.gen(function*() {
        const hook = { testing: { initialSendSeq: 0xffffffff } }
        const exit = yield* Loopback.pair({
          backend: NodeCrypto,
          client: role === "client" ? hook : {},
          server: role === "server" ? hook : {}
        }).pipe(Effect.exit)
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const errors = Chunk.toReadonlyArray(Cause.failures(exit.cause))
          assert.isAbove(errors.length, 0)
          // Ours reports the wrap; the peer, if it failed too, got our DISCONNECT(2).
          const ours = errors.find((e) => e.origin === "Local")
          assert.isDefined(ours)
          assert.strictEqual(ours!.code, 2, ours!.message)
          assert.include(ours!.description, "wrapped")
        }
      }))
  }

  it.scopedLive("SEC-07 / LIM-09: a rekey starts before the per-key packet limit (lowered to 50) is crossed", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Loopback.pair({ backend: NodeCrypto, client: { testing: { packetsPerKey: 50 } } })
      const n = 400
      const sent = Effect.forEach(Array.from({ length: n }, (_, i) => new Uint8Array([94, i & 0xff, i >> 8])), (p) =>
        client.send(p), { discard: true })
      const received = Effect.gen(function*() {
        let got = 0
        while (got < n) {
          for (const m of yield* Receive.receiveAll(server)) {
            assert.deepStrictEqual([...m], [94, got & 0xff, got >> 8])
            got++
          }
        }
      })
      yield* Effect.all([sent, received], { concurrency: 2 })
      assert.isAtLeast((yield* client.stats).kexCount, 1 + Math.floor(n / 51) - 1)
    }))
})
