/**
 * SEC-05 and SEC-22 for the legacy CBC ciphers, through the Transport with a raw peer (H1): CBC and 3DES are never
 * offered unless named; under CBC with an encrypt-and-MAC MAC, a bad length and a bad MAC both end the connection
 * with the same MAC error after the same amount of input (the packet limit), so the point of closing reveals no
 * decrypted length (CVE-2008-5161); with -etm the length is in clear and a bad MAC ends it at once. Under CBC
 * every packet we send follows an IGNORE of random content (no predictable IV).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as NodeCrypto from "node:crypto"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import * as Ciphers from "../../src/crypto/Ciphers.js"
import type * as Transport from "../../src/transport/Transport.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import * as Writer from "../../src/wire/Writer.js"
import { algorithmsFor } from "../helpers/CipherMacs.js"
import * as RawPeer from "../helpers/RawPeer.js"

const roles = ["client", "server"] as const
const LIMIT = 262_144 // our default packet limit (SEC-01)
const serviceRequest = () => TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" })

const connected = (victim: "client" | "server", cipher: string, mac: string) =>
  Effect.gen(function*() {
    // Legacy names are off by default: our side names the pair (one option) and the raw peer offers only it.
    const peer = yield* RawPeer.make({ victim, victimOptions: { algorithms: algorithmsFor([cipher, mac]) } })
    const t = yield* peer.handshake({ cipherC2S: [cipher], cipherS2C: [cipher], macC2S: [mac], macS2C: [mac] })
    return { peer, t }
  })

/** Still open: `closed` does not complete within a short while. */
const stillOpen = (t: Transport.Transport) =>
  Effect.gen(function*() {
    const c = yield* Effect.timeoutOption(t.closed, "300 millis")
    assert.isTrue(Option.isNone(c), Option.isSome(c) ? `closed early: ${c.value.reason}: ${c.value.description}` : "")
  })

const random = (n: number) => Uint8Array.from(NodeCrypto.randomBytes(n))

/** Writes `n` bytes in 16 KiB chunks. */
const feed = (peer: RawPeer.RawPeer, bytes: Uint8Array) =>
  Effect.gen(function*() {
    for (let off = 0; off < bytes.length; off += 16384) yield* peer.write(bytes.subarray(off, off + 16384))
  })

describe("SEC-05: CBC", () => {
  it("SEC-05 / SEC-26: the defaults offer no CBC, no 3DES, no MD5 and no truncated MAC", () => {
    for (const c of Algorithms.defaults.cipher) assert.notMatch(c, /cbc|3des|arcfour|blowfish/)
    for (const m of Algorithms.defaults.mac) assert.notMatch(m, /md5|-96/)
    for (const c of Algorithms.LEGACY_CIPHERS) assert.include(Algorithms.CIPHERS, c)
    for (const m of Algorithms.LEGACY_MACS) assert.include(Algorithms.MACS, m)
  })

  it("SEC-22: 3des-cbc (64-bit blocks) rekeys after 64 MiB at most; 128-bit-block ciphers keep the setting", () => {
    assert.strictEqual(Ciphers.rekeyLimit(2 ** 30, "3des-cbc"), 64 * 2 ** 20)
    assert.strictEqual(Ciphers.rekeyLimit(2 ** 20, "3des-cbc"), 2 ** 20)
    for (const c of ["aes128-cbc", "aes256-ctr", "aes128-gcm@openssh.com"]) assert.strictEqual(Ciphers.rekeyLimit(2 ** 30, c), 2 ** 30)
    // RFC 4344 §3.2: 2^32 blocks of 16 bytes.
    assert.strictEqual(Ciphers.rekeyLimit(2 ** 40, "aes128-cbc"), 2 ** 36)
  })

  for (const victim of roles) {
    for (const [cipher, mac] of [["aes128-cbc", "hmac-sha1"], ["3des-cbc", "hmac-sha2-256"], ["aes256-cbc", "umac-64@openssh.com"]]) {
      it.scopedLive(`SEC-05: random bytes after KEX under ${cipher} + ${mac} → our ${victim} reads the packet limit, then D(5)`, () =>
        Effect.gen(function*() {
          const { peer, t } = yield* connected(victim, cipher!, mac!)
          yield* feed(peer, random(LIMIT - 16384))
          yield* stillOpen(t)
          yield* feed(peer, random(32768))
          const error = yield* peer.victimError
          assert.strictEqual(error.reason, "MacMismatch", error.description)
          assert.strictEqual(error.code, 5)
        }))
    }

    it.scopedLive(`SEC-05: a packet with a bad MAC under aes128-cbc + hmac-sha1 → our ${victim} also waits for the packet limit`, () =>
      Effect.gen(function*() {
        const { peer, t } = yield* connected(victim, "aes128-cbc", "hmac-sha1")
        const wire = peer.seal(peer.packet(serviceRequest()))
        wire[wire.length - 1]! ^= 1
        yield* peer.write(wire)
        yield* feed(peer, random(LIMIT - wire.length - 16384))
        yield* stillOpen(t)
        yield* feed(peer, random(32768))
        const error = yield* peer.victimError
        assert.strictEqual(error.reason, "MacMismatch", error.description)
      }))

    it.scopedLive(`SEC-05: under CBC our ${victim} sends an IGNORE of random content before every packet; not under CTR`, () =>
      Effect.gen(function*() {
        for (const [cipher, mac, prefixed] of [["aes128-cbc", "hmac-sha1-etm@openssh.com", true], ["3des-cbc", "hmac-sha1", true], ["aes128-ctr", "hmac-sha1", false]] as const) {
          const { peer, t } = yield* connected(victim, cipher, mac)
          // A global request (RFC 4254 §4) is legal from either side once the transport is up.
          const request = Writer.build((w) => w.byte(80).string("effect-ssh-test@example.com").boolean(false))
          // The first packet under new keys has the secret IV from key derivation and goes without (it may have
          // to be EXT_INFO, RFC 8308 §2.4): read up to our first message.
          yield* t.send(request)
          for (let r = yield* peer.next; !(r._tag === "Packet" && r.payload[0] === 80); r = yield* peer.next) {
            assert.strictEqual(r._tag, "Packet")
          }
          const ignores = new Set<string>()
          for (let i = 0; i < 10; i++) {
            yield* t.send(request)
            let r = yield* peer.next
            if (prefixed) {
              assert(r._tag === "Packet" && r.payload[0] === 2, `${cipher}: expected IGNORE first`)
              ignores.add(Buffer.from(r.payload).toString("hex"))
              r = yield* peer.next
            }
            assert(r._tag === "Packet" && r.payload[0] === 80, `${cipher}: expected our message`)
          }
          if (prefixed) assert.isAtLeast(ignores.size, 9, "IGNORE contents are random")
        }
      }))

    it.scopedLive(`SEC-05: with -etm the length is in clear: a bad MAC under aes128-cbc ends our ${victim} at once`, () =>
      Effect.gen(function*() {
        const { peer } = yield* connected(victim, "aes128-cbc", "hmac-sha1-etm@openssh.com")
        const wire = peer.seal(peer.packet(serviceRequest()))
        wire[wire.length - 1]! ^= 1
        yield* peer.write(wire)
        const error = yield* peer.victimError
        assert.strictEqual(error.reason, "MacMismatch", error.description)
      }))
  }
})
