/**
 * SEC-13 f: the Terrapin attack (CVE-2023-48795) through a byte-level man in the middle (H2) between our client
 * and our server: an IGNORE injected S→C before the server's NEWKEYS and the server's first encrypted packet
 * (EXT_INFO) deleted. Strict KEX must make the handshake fail; the same harness against a raw server without
 * strict KEX shows that the attack works where strict KEX is missing (EXT_INFO silently lost).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, LogLevel, Option } from "effect"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as Ciphers from "../../src/crypto/Ciphers.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as Transport from "../../src/transport/Transport.js"
import { MessageId } from "../../src/wire/MessageId.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import { testHostKeys } from "../helpers/Loopback.js"
import * as MemorySocket from "../helpers/MemorySocket.js"
import * as RawPeer from "../helpers/RawPeer.js"
import * as Receive from "../../src/transport/internal/receive.js"

const SUITES = [
  { cipher: "chacha20-poly1305@openssh.com", mac: undefined },
  { cipher: "aes128-ctr", mac: "hmac-sha2-256-etm@openssh.com" }
] as const

/** The size of the first encrypted S→C packet: from its clear length (ETM), or known in advance (chacha20-poly1305). */
const firstPacketBytes = (cipher: string, mac: string | undefined, knownPayload: Uint8Array) => (head: Uint8Array) => {
  const spec = Ciphers.cipherSpec(cipher)!
  if (!spec.aead && mac !== undefined) {
    return 4 + new DataView(head.buffer, head.byteOffset).getUint32(0) + Ciphers.macSpec(mac)!.length
  }
  return RawPeer.sealedLength(knownPayload.length, cipher, mac)
}

describe("SEC-13f: Terrapin", () => {
  for (const { cipher, mac } of SUITES) {
    it.scopedLive(`SEC-13f: Terrapin MitM between our client and our server (${cipher}${mac ? ` + ${mac}` : ""}) → the handshake fails`, () =>
      Effect.gen(function*() {
        const [clientEnd, proxyClientSide] = yield* MemorySocket.pair()
        const [proxyServerSide, serverEnd] = yield* MemorySocket.pair()
        // Our server's EXT_INFO announces the host key algorithms it offers: one here, so its size is known.
        const extInfo = TransportMessages.encodeServerSigAlgs(["ssh-ed25519"])
        const report = yield* RawPeer.terrapinProxy(proxyClientSide, proxyServerSide, {
          firstEncryptedPacketBytes: firstPacketBytes(cipher, mac, extInfo)
        })
        const algorithms = { cipher: [cipher], ...(mac ? { mac: [mac] } : {}) }
        const client = yield* Transport.make(clientEnd, { role: "client", verifyHostKey: () => Effect.void, algorithms }).pipe(
          Effect.provideService(Crypto, NodeCrypto),
          Effect.forkScoped
        )
        const server = yield* Transport.make(serverEnd, {
          role: "server",
          hostKeys: testHostKeys(),
          algorithms: { ...algorithms, hostKey: ["ssh-ed25519"] }
        }).pipe(Effect.provideService(Crypto, NodeCrypto), Effect.forkScoped)
        const clientExit = yield* Fiber.await(client).pipe(Effect.timeout(RawPeer.WAIT), Effect.orDie)
        const serverExit = yield* Fiber.await(server).pipe(Effect.timeout(RawPeer.WAIT), Effect.orDie)
        assert.isTrue(report.injected, "the proxy injected its IGNORE")
        assert.isTrue(Exit.isFailure(clientExit), "our client must not complete the handshake")
        // Our server may have completed its side (our client's NEWKEYS went out before it read the IGNORE), but
        // then its connection ends with our client's DISCONNECT(2).
        if (Exit.isSuccess(serverExit)) {
          const e = yield* serverExit.value.closed.pipe(Effect.timeout(RawPeer.WAIT), Effect.orDie)
          assert.strictEqual(e.origin, "Remote")
          assert.strictEqual(e.code, 2)
          assert.isTrue(Exit.isFailure(yield* Effect.exit(Receive.receive(serverExit.value))))
        }
        if (Exit.isFailure(clientExit)) {
          const e = clientExit.cause._tag === "Fail" ? clientExit.cause.error : undefined
          assert.strictEqual(e?.reason, "ProtocolViolation")
          assert.strictEqual(e?.code, 2)
          assert.include(e?.description ?? "", "strict KEX")
        }
      }))

    it.scopedLive(`SEC-13f sanity: the same MitM against a server without strict KEX ${mac ? "realigns the sequence numbers (the MAC verifies; only the CTR keystream gives it away)" : "silently deletes EXT_INFO"} (${cipher})`, () =>
      Effect.gen(function*() {
        const extInfo = TransportMessages.encodeServerSigAlgs(["ssh-ed25519", "rsa-sha2-512"])
        let report: RawPeer.TerrapinReport | undefined
        const peer = yield* RawPeer.make({
          victim: "client",
          interpose: (victimSide, peerSide) =>
            Effect.asVoid(Effect.map(
              RawPeer.terrapinProxy(victimSide, peerSide, { firstEncryptedPacketBytes: firstPacketBytes(cipher, mac, extInfo) }),
              (r) => {
                report = r
              }
            ))
        })
        yield* peer.exchangeVersions()
        yield* peer.kex({ strict: false, cipherC2S: [cipher], cipherS2C: [cipher], macC2S: mac ? [mac] : [], macS2C: mac ? [mac] : [] })
        const t = yield* peer.transport
        yield* peer.send(extInfo, TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" }))
        // With AES-CTR every later packet decrypts to garbage; enough of them that one surely fails its padding.
        if (mac !== undefined) {
          yield* peer.send(...Array.from({ length: 30 }, () => TransportMessages.encode({ _tag: "Ignore", data: new Uint8Array(40) })))
        }
        // The client got the message after EXT_INFO intact: the deletion went unnoticed…
        const got = yield* Effect.race(Effect.map(Receive.receive(t), (m) => ({ m })), Effect.map(t.closed, (e) => ({ e }))).pipe(
          Effect.timeoutFail({ duration: RawPeer.WAIT, onTimeout: () => `nothing arrived; proxy ${JSON.stringify(report)}` }),
          Effect.orDie
        )
        assert.isTrue(report?.injected)
        assert.isAbove(report?.droppedBytes ?? 0, 0)
        if (mac !== undefined) {
          // AES-CTR: the deleted packet leaves the keystream behind, so what follows decrypts to garbage; but the
          // MAC (over the sequence number) verified, which is what the attack needs from the harness.
          if ("e" in got) assert.notInclude(got.e.description, "message authentication code")
          return
        }
        assert.isTrue("m" in got, "e" in got ? got.e.message : "")
        assert.strictEqual("m" in got ? got.m[0] : -1, MessageId.SERVICE_ACCEPT)
        // …and the extension negotiation was silently downgraded.
        assert.deepStrictEqual(yield* t.serverSigAlgs, Option.none())
      }))
  }

  it.scopedLive("SEC-13f control: without the MitM the same non-strict server's EXT_INFO arrives", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "client" })
      yield* peer.exchangeVersions()
      yield* peer.kex({ strict: false })
      const t = yield* peer.transport
      yield* peer.send(TransportMessages.encodeServerSigAlgs(["ssh-ed25519"]), TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" }))
      assert.strictEqual((yield* Receive.receive(t))[0], MessageId.SERVICE_ACCEPT)
      assert.deepStrictEqual(yield* t.serverSigAlgs, Option.some(["ssh-ed25519"]))
    }))

  it.scopedLive("SEC-13f: our client logs that a peer lacks strict KEX", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) => {
        logs.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
      })
      const peer = yield* RawPeer.make({ victim: "client" }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      yield* peer.exchangeVersions()
      yield* peer.kex({ strict: false })
      yield* peer.transport
      assert.isTrue(
        logs.some((l) => /strict/i.test(l)),
        `no log line mentions strict KEX; logged: ${JSON.stringify(logs)}`
      )
    }))
})
