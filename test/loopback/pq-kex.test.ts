/**
 * SEC-18 on the wire for the post-quantum hybrids: a raw peer (test/helpers/RawPeer.ts) sends client or server
 * values of the wrong length, with an all-zero X25519 part, an ML-KEM key failing the modulus check, or a
 * forged KEM ciphertext; our side must end the connection with DISCONNECT 3 (KEY_EXCHANGE_FAILED) and never
 * answer or switch keys. The unit-level checks are in test/unit/crypto/PqKex.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import type { TransportError } from "../../src/SshError.js"
import * as KexMessages from "../../src/wire/KexMessages.js"
import { MessageId } from "../../src/wire/MessageId.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import { backends } from "../helpers/Backends.js"
import * as Loopback from "../helpers/Loopback.js"
import * as RawPeer from "../helpers/RawPeer.js"
import * as Receive from "../../src/transport/internal/receive.js"

const begin = (victim: "client" | "server") =>
  Effect.gen(function*() {
    const peer = yield* RawPeer.make({ victim })
    yield* peer.exchangeVersions()
    return peer
  })

/** Our side's DISCONNECT (code 3, reason KexFailed) and the message numbers it sent before it. */
const expectKexFailed = (peer: RawPeer.RawPeer) =>
  Effect.gen(function*() {
    const rest = yield* peer.untilClosed
    const types = RawPeer.typesOf(rest)
    const d = RawPeer.disconnectOf(rest)
    const error: TransportError = yield* peer.victimError
    assert.isDefined(d, `expected DISCONNECT 3; our side ended with ${error.reason}: ${error.description}`)
    assert.strictEqual(d!.code, 3, d!.description)
    assert.strictEqual(error.reason, "KexFailed", error.description)
    return types
  })

const x25519 = () => NodeCrypto.x25519().publicKey
const join = (...parts: ReadonlyArray<Uint8Array>) => Uint8Array.from(parts.flatMap((p) => [...p]))

const HYBRIDS = [
  { name: "mlkem768x25519-sha256", pk: 1184, ct: 1088 },
  { name: "sntrup761x25519-sha512", pk: 1158, ct: 1039 },
  { name: "sntrup761x25519-sha512@openssh.com", pk: 1158, ct: 1039 }
] as const

for (const h of HYBRIDS) {
  describe(`SEC-18: ${h.name} values on the wire`, () => {
    const clientValues: ReadonlyArray<readonly [string, () => Uint8Array]> = [
      [`${h.pk + 31} bytes`, () => new Uint8Array(h.pk + 31).fill(7)],
      [`${h.pk + 33} bytes`, () => new Uint8Array(h.pk + 33).fill(7)],
      ["the KEM key alone", () => new Uint8Array(h.pk).fill(7)],
      ["an all-zero X25519 part", () => join(new Uint8Array(h.pk).fill(7), new Uint8Array(32))],
      ...(h.name.startsWith("mlkem") ?
        [["an ML-KEM key failing the FIPS 203 modulus check", () =>
          join(new Uint8Array(h.pk).fill(0xff), x25519())] as const, ["1215 bytes", () => new Uint8Array(1215).fill(7)] as const] :
        [])
    ]
    for (const [what, value] of clientValues) {
      it.scopedLive(`SEC-18: our server receives C_INIT with ${what} → D(3), no reply`, () =>
        Effect.gen(function*() {
          const peer = yield* begin("server")
          yield* peer.sendKexInit({ kex: [h.name] })
          yield* peer.receiveKexInit
          yield* peer.send(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: value() }))
          const types = yield* expectKexFailed(peer)
          assert.notInclude(types, MessageId.KEXDH_REPLY)
        }))
    }

    const serverValues: ReadonlyArray<readonly [string, (good: Uint8Array) => Uint8Array]> = [
      [`${h.ct + 31} bytes`, (good) => good.subarray(1)],
      [`${h.ct + 33} bytes`, (good) => join(good, Uint8Array.of(0))],
      ["an all-zero X25519 part", (good) => join(good.subarray(0, h.ct), new Uint8Array(32))],
      // The KEM rejects implicitly: our client derives an unrelated K, so the signature on H cannot verify.
      ["a forged KEM ciphertext (one bit flipped)", (good) => {
        const bad = good.slice()
        bad[10] = bad[10]! ^ 1
        return bad
      }]
    ]
    for (const [what, edit] of serverValues) {
      it.scopedLive(`SEC-18: our client receives S_REPLY with ${what}, validly signed → D(3), no NEWKEYS`, () =>
        Effect.gen(function*() {
          const peer = yield* begin("client")
          yield* peer.sendKexInit({ kex: [h.name] })
          yield* peer.receiveKexInit
          yield* peer.receiveKexEcdhInit
          assert.strictEqual(peer.clientValue!.length, h.pk + 32)
          const good = KexMessages.decode("ecdh", peer.kexEcdhReply())
          assert(good._tag === "Right" && good.right._tag === "KexEcdhReply")
          yield* peer.send(peer.kexEcdhReply({ serverValue: edit(good.right.serverValue) }))
          const types = yield* expectKexFailed(peer)
          assert.notInclude(types, MessageId.NEWKEYS)
        }))
    }

    it.scopedLive("a raw peer completes the exchange with our client and our server (the harness itself works)", () =>
      Effect.gen(function*() {
        for (const victim of ["client", "server"] as const) {
          const peer = yield* RawPeer.make({ victim })
          const t = yield* peer.handshake({ kex: [h.name] })
          assert.strictEqual((yield* t.negotiated).kex, h.name)
        }
      }))
  })
}

describe("post-quantum hybrids across backends: our client ↔ our server with default lists, rekeyed", () => {
  // Same-backend pairs for every method are in transport.test.ts; here the two ends use different backends, and
  // neither names a kex: the defaults must pick mlkem768x25519-sha256 and keep it across rekeys in both directions.
  for (const [client, server] of [[backends[0]!, backends[1]!], [backends[1]!, backends[0]!]] as const) {
    it.scopedLive(`client on ${client.name}, server on ${server.name}`, () =>
      Effect.gen(function*() {
        const { client: c, server: s } = yield* Loopback.pair({ backend: client, serverBackend: server })
        assert.strictEqual((yield* c.negotiated).kex, "mlkem768x25519-sha256")
        // A message each way after each rekey: the exchange has completed when it arrives under the new keys.
        const roundTrip = Effect.gen(function*() {
          yield* c.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" }))
          assert.strictEqual((yield* Receive.receive(s))[0], MessageId.SERVICE_REQUEST)
          yield* s.send(TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" }))
          assert.strictEqual((yield* Receive.receive(c))[0], MessageId.SERVICE_ACCEPT)
        })
        yield* c.rekey
        yield* roundTrip
        yield* s.rekey
        yield* roundTrip
        assert.strictEqual((yield* c.negotiated).kex, "mlkem768x25519-sha256")
        assert.isAtLeast((yield* c.stats).kexCount, 3)
        assert.isAtLeast((yield* s.stats).kexCount, 3)
        assert.deepStrictEqual(c.sessionId, s.sessionId)
      }))
  }
})
