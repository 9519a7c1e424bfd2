/**
 * SEC-01…SEC-04, SEC-06, SEC-09 and LIM-05/LIM-06 through the Transport: a raw peer (H1) sends packets with wrong
 * lengths, padding, MACs and message numbers to our client and our server, and we check what our side sent back
 * (DISCONNECT and its code) and the TransportError it ended with.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, LogLevel } from "effect"
import * as Ciphers from "../../src/crypto/Ciphers.js"
import type { TransportError } from "../../src/SshError.js"
import * as Transport from "../../src/transport/Transport.js"
import { MessageId } from "../../src/wire/MessageId.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import { algorithmsFor, cipherMacPairs } from "../helpers/CipherMacs.js"
import * as RawPeer from "../helpers/RawPeer.js"
import * as Receive from "../../src/transport/internal/receive.js"

const roles = ["client", "server"] as const
const enc = TransportMessages.encode
const serviceRequest = (name = "ssh-userauth") => enc({ _tag: "ServiceRequest", name })
const u32 = (n: number) => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n >>> 0)
  return b
}

/** A raw peer past the first key exchange with our side, with `cipher` (and `mac`) forced from the raw side. */
const connected = (victim: "client" | "server", cipher?: string, mac?: string, victimOptions?: Partial<Transport.TransportOptions>) =>
  Effect.gen(function*() {
    const peer = yield* RawPeer.make({ victim, victimOptions })
    const t = yield* peer.handshake({
      ...(cipher ? { cipherC2S: [cipher], cipherS2C: [cipher] } : {}),
      // AEAD: an empty MAC list (SEC-16 says that must work).
      ...(cipher ? { macC2S: mac ? [mac] : [], macS2C: mac ? [mac] : [] } : {})
    })
    return { peer, t }
  })

/** Our side closed: returns its DISCONNECT (if any) and its error; checks nothing else was sent after DISCONNECT. */
const ended = (peer: RawPeer.RawPeer) =>
  Effect.gen(function*() {
    const rest = yield* peer.untilClosed
    const d = RawPeer.disconnectOf(rest)
    if (d !== undefined) {
      const types = RawPeer.typesOf(rest)
      assert.strictEqual(types[types.length - 1], MessageId.DISCONNECT, `nothing after DISCONNECT: ${types}`)
    }
    const error = yield* peer.victimError
    return { disconnect: d, error, rest }
  })

/** Our side sent DISCONNECT(code) and ended with a local error of that code and `reason`. */
const expectDisconnect = (peer: RawPeer.RawPeer, code: number, reason?: TransportError["reason"]) =>
  Effect.gen(function*() {
    const { disconnect, error } = yield* ended(peer)
    assert.isDefined(disconnect, `expected DISCONNECT ${code}; our side ended with ${error.reason}: ${error.description}`)
    assert.strictEqual(disconnect!.code, code, `${disconnect!.description} / ${error.reason}: ${error.description}`)
    assert.strictEqual(error.origin, "Local")
    assert.strictEqual(error.code, code)
    if (reason !== undefined) assert.strictEqual(error.reason, reason, error.description)
    return error
  })

/** Nothing that was refused reached the layers above. */
const nothingDelivered = (t: Transport.Transport) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Receive.receive(t))
    assert.isTrue(Exit.isFailure(exit), "a message reached the layers above (our side kept the connection open)")
  })

// Every MAC under one cipher, every cipher under both framings (test/helpers/CipherMacs.ts).
const COMBOS = cipherMacPairs

describe("SEC-01: packet length bounded before buffering", () => {
  for (const victim of roles) {
    it.scopedLive(`SEC-01a: plaintext FF FF FF F0 then one byte every 100 ms → our ${victim} closes ≤ 1 s with D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.exchangeVersions()
        const start = Date.now()
        yield* peer.write(new Uint8Array([0xff, 0xff, 0xff, 0xf0]))
        yield* Effect.gen(function*() {
          for (let i = 0; i < 50; i++) {
            yield* Effect.sleep("100 millis")
            yield* peer.write(new Uint8Array([0x41]))
          }
        }).pipe(Effect.fork)
        yield* peer.receiveKexInit
        yield* expectDisconnect(peer, 2, "PacketTooLarge")
        assert.isBelow(Date.now() - start, 1000)
      }))

    it.scopedLive(`SEC-01b: plaintext packet_length ∈ {0, 1, 4, 262 145, 0x80000000} → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        for (const len of [0, 1, 4, 262_145, 0x80000000]) {
          const peer = yield* RawPeer.make({ victim })
          yield* peer.exchangeVersions()
          yield* peer.write(u32(len))
          yield* peer.receiveKexInit
          yield* expectDisconnect(peer, 2, len < 5 ? "ProtocolViolation" : "PacketTooLarge")
        }
      }))

    for (const [cipher, mac] of [
      ["chacha20-poly1305@openssh.com", undefined],
      ["aes128-gcm@openssh.com", undefined],
      ["aes256-gcm@openssh.com", undefined],
      ["aes128-ctr", "hmac-sha2-256-etm@openssh.com"],
      ["aes256-ctr", "hmac-sha2-512-etm@openssh.com"],
      ["aes128-ctr", "hmac-sha2-256"]
    ] as const) {
      it.scopedLive(`SEC-01c: encrypted length 0x7FFFFFFF under ${cipher}${mac ? ` + ${mac}` : ""} → our ${victim} sends D(2)`, () =>
        Effect.gen(function*() {
          const { peer, t } = yield* connected(victim, cipher, mac)
          // Only the bytes that carry the length; the rest never comes.
          const wire = peer.seal(peer.packet(serviceRequest("x".repeat(40)), { packetLength: 0x7fffffff }))
          yield* peer.write(wire.subarray(0, peer.writer.sealer.lengthAligned ? 16 : 4))
          yield* expectDisconnect(peer, 2, "PacketTooLarge")
          yield* nothingDelivered(t)
        }))
    }

    it.scopedLive(`SEC-01d: IGNORE packets of 35 000 and 262 144 bytes are accepted by our ${victim}`, () =>
      Effect.gen(function*() {
        for (const cipher of ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]) {
          const { peer, t } = yield* connected(victim, cipher)
          // packet_length = 1 + payload + 16 bytes of padding = target (both block sizes divide it).
          for (const target of [35_008, 262_144]) {
            const payload = RawPeer.ignoreOfLength(target - 1 - 16)
            const wire = peer.seal(peer.packet(payload, { padding: 16 }))
            assert.strictEqual(wire.length - 4 - 16, target)
            yield* peer.write(wire)
          }
          // RFC 4253 §6.1's 35 000 bytes in total (length field and tag included): 4 + 34 976 + 16 = 34 996.
          yield* peer.write(peer.seal(peer.packet(RawPeer.ignoreOfLength(34_976 - 17), { padding: 16 })))
          yield* peer.send(serviceRequest())
          assert.strictEqual((yield* Receive.receive(t))[0], 5)
        }
      }))
  }
})

describe("LIM-05: maximum inbound packet", () => {
  it.scopedLive("LIM-05: limits.maxPacket = 40 000 → 40 000 accepted, 40 016 refused with D(2)", () =>
    Effect.gen(function*() {
      const { peer, t } = yield* connected("server", "aes128-gcm@openssh.com", undefined, { limits: { maxPacket: 40_000 } })
      yield* peer.write(peer.seal(peer.packet(RawPeer.ignoreOfLength(40_000 - 17), { padding: 16 })))
      yield* peer.send(serviceRequest())
      assert.strictEqual((yield* Receive.receive(t))[0], 5)
      yield* peer.write(peer.seal(peer.packet(RawPeer.ignoreOfLength(40_016 - 17), { padding: 16 })))
      yield* expectDisconnect(peer, 2, "PacketTooLarge")
    }))

  it.scopedLive("LIM-05: limits.maxPacket below 35 000 is raised to the RFC 4253 floor", () =>
    Effect.gen(function*() {
      const { peer, t } = yield* connected("client", "aes128-gcm@openssh.com", undefined, { limits: { maxPacket: 1000 } })
      yield* peer.write(peer.seal(peer.packet(RawPeer.ignoreOfLength(34_992 - 17), { padding: 16 })))
      yield* peer.send(serviceRequest())
      assert.strictEqual((yield* Receive.receive(t))[0], 5)
      yield* peer.write(peer.seal(peer.packet(RawPeer.ignoreOfLength(35_008 - 17), { padding: 16 })))
      yield* expectDisconnect(peer, 2, "PacketTooLarge")
    }))

  it.scopedLive("LIM-05: limits.maxPacket can be raised (1 MiB accepts a 512 KiB packet)", () =>
    Effect.gen(function*() {
      const { peer, t } = yield* connected("server", "aes128-gcm@openssh.com", undefined, { limits: { maxPacket: 1 << 20 } })
      yield* peer.write(peer.seal(peer.packet(RawPeer.ignoreOfLength(524_288 - 17), { padding: 16 })))
      yield* peer.send(serviceRequest())
      assert.strictEqual((yield* Receive.receive(t))[0], 5)
    }))

  it.scopedLive("LIM-05: by default 262 160 bytes are refused", () =>
    Effect.gen(function*() {
      const { peer } = yield* connected("client", "aes128-gcm@openssh.com")
      yield* peer.write(peer.seal(peer.packet(RawPeer.ignoreOfLength(262_160 - 17), { padding: 16 })))
      yield* expectDisconnect(peer, 2, "PacketTooLarge")
    }))
})

describe("SEC-02 / LIM-06: padding and alignment", () => {
  for (const victim of roles) {
    it.scopedLive(`SEC-02: plaintext padding_length = 3 → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.exchangeVersions()
        yield* peer.write(RawPeer.plainPacket(new Uint8Array([2, 0, 0, 0, 3, 1, 2, 3]), { padding: 3 }))
        yield* peer.receiveKexInit
        yield* expectDisconnect(peer, 2, "ProtocolViolation")
      }))

    it.scopedLive(`SEC-02: plaintext padding_length = packet_length − 1 (empty payload) → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.exchangeVersions()
        yield* peer.write(RawPeer.plainPacket(new Uint8Array(0), { padding: 11 }))
        yield* peer.receiveKexInit
        yield* expectDisconnect(peer, 2, "ProtocolViolation")
      }))

    it.scopedLive(`SEC-02: padding_length = 255 with packet_length = 16 under aes-gcm → our ${victim} closes as on a MAC failure`, () =>
      Effect.gen(function*() {
        const { peer, t } = yield* connected(victim, "aes128-gcm@openssh.com")
        yield* peer.write(peer.seal(RawPeer.plainPacket(new Uint8Array(11).fill(5), { padding: 4, paddingLength: 255, lengthAligned: false, blockSize: 16 })))
        // SEC-04: no padding oracle: the same reason and code as a bad MAC.
        yield* expectDisconnect(peer, 5, "MacMismatch")
        yield* nothingDelivered(t)
      }))

    it.scopedLive(`SEC-02: padding_length = packet_length − 1 under aes-ctr + hmac → our ${victim} closes as on a MAC failure`, () =>
      Effect.gen(function*() {
        const { peer, t } = yield* connected(victim, "aes128-ctr", "hmac-sha2-256")
        yield* peer.write(peer.seal(peer.packet(new Uint8Array(0), { padding: 27 })))
        yield* expectDisconnect(peer, 5, "MacMismatch")
        yield* nothingDelivered(t)
      }))

    it.scopedLive(`SEC-02: packet_length = 13 under aes-ctr (misaligned) → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        for (const mac of ["hmac-sha2-256", "hmac-sha2-256-etm@openssh.com"]) {
          const { peer, t } = yield* connected(victim, "aes128-ctr", mac)
          const wire = peer.seal(RawPeer.plainPacket(new Uint8Array(8).fill(5), { padding: 4, packetLength: 13, blockSize: 1 }))
          yield* peer.write(wire.subarray(0, 16))
          yield* expectDisconnect(peer, 2, "ProtocolViolation")
          yield* nothingDelivered(t)
        }
      }))

    it.scopedLive(`SEC-02 / SEC-24: 1 000 packets of our ${victim}: padding ≥ 4, aligned, random`, () =>
      Effect.gen(function*() {
        for (const [cipher, mac] of [["aes128-gcm@openssh.com", undefined], ["chacha20-poly1305@openssh.com", undefined], ["aes128-ctr", "hmac-sha2-256"], ["aes256-ctr", "hmac-sha2-512-etm@openssh.com"]] as const) {
          const { peer, t } = yield* connected(victim, cipher, mac)
          peer.capture = true
          const payload = enc({ _tag: "Ignore", data: new Uint8Array(27) })
          for (let i = 0; i < 1000; i++) yield* t.send(payload)
          for (let i = 0; i < 1000; i++) yield* peer.expect(MessageId.IGNORE)
          const spec = Ciphers.cipherSpec(cipher)!
          const aligned = !spec.aead && !Ciphers.macSpec(mac!)!.etm
          const block = Math.max(8, spec.blockSize)
          const paddings = new Set<string>()
          assert.strictEqual(peer.captured.length, 1000)
          for (const { plain } of peer.captured) {
            const padLen = plain[0]!
            assert.isAtLeast(padLen, 4)
            assert.strictEqual((aligned ? plain.length + 4 : plain.length) % block, 0)
            paddings.add(Array.from(plain.subarray(plain.length - padLen)).join(","))
          }
          assert.strictEqual(paddings.size, 1000, "identical payloads, different padding")
        }
      }))
  }
})

describe("SEC-03 / SEC-04: authenticate before use; uniform MAC failure", () => {
  for (const victim of roles) {
    it.scopedLive(`SEC-03: aes-gcm packet with packet_length = 0 and a valid tag → our ${victim} closes without an exception`, () =>
      Effect.gen(function*() {
        const { peer, t } = yield* connected(victim, "aes128-gcm@openssh.com")
        yield* peer.write(peer.seal(new Uint8Array(4)))
        yield* expectDisconnect(peer, 2, "ProtocolViolation")
        yield* nothingDelivered(t)
      }))

    it.scopedLive(`SEC-03: chacha20-poly1305 with a valid length and a flipped tag → our ${victim} closes before any handler`, () =>
      Effect.gen(function*() {
        const { peer, t } = yield* connected(victim, "chacha20-poly1305@openssh.com")
        const wire = peer.seal(peer.packet(serviceRequest()))
        wire[wire.length - 3]! ^= 0x40
        yield* peer.write(wire)
        yield* expectDisconnect(peer, 5, "MacMismatch")
        yield* nothingDelivered(t)
      }))
  }

  for (const [cipher, mac] of COMBOS) {
    it.scopedLive(`SEC-04: flipped bits under ${cipher}${mac ? ` + ${mac}` : ""} → MAC error (code 5) or closed, never delivered`, () =>
      Effect.gen(function*() {
        const spec = Ciphers.cipherSpec(cipher)!
        const etmOrAead = spec.aead || Ciphers.macSpec(mac!)!.etm
        const payload = serviceRequest("x".repeat(100))
        const size = RawPeer.sealedLength(payload.length, cipher, mac)
        for (const [victim, offset] of [["server", 1], ["client", 20], ["server", 60], ["client", size - 1]] as const) {
          // Legacy names are off by default: our side names the pair too.
          const { peer, t } = yield* connected(victim, cipher, mac, { algorithms: algorithmsFor([cipher, mac]) })
          const wire = peer.seal(peer.packet(payload))
          assert.strictEqual(wire.length, size)
          wire[offset]! ^= 0x04
          yield* peer.write(wire)
          // If a flipped length made the packet look longer, give our side the bytes it waits for.
          yield* peer.write(new Uint8Array(300_000))
          const { disconnect, error } = yield* ended(peer)
          const lengthBytes = etmOrAead ? 4 : spec.blockSize
          if (offset >= lengthBytes) {
            assert.strictEqual(error.reason, "MacMismatch", `offset ${offset}: ${error.description}`)
            if (disconnect !== undefined) assert.strictEqual(disconnect.code, 5)
          } else {
            assert.include(["MacMismatch", "PacketTooLarge", "ProtocolViolation"], error.reason)
          }
          yield* nothingDelivered(t)
        }
      }))
  }
})

describe("SEC-06: message numbers", () => {
  for (const victim of roles) {
    it.scopedLive(`SEC-06: message number 0 after the key exchange → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const { peer, t } = yield* connected(victim)
        yield* peer.send(new Uint8Array([0, 1, 2, 3]))
        yield* expectDisconnect(peer, 2, "ProtocolViolation")
        yield* nothingDelivered(t)
      }))

    it.scopedLive(`SEC-06: unknown numbers (128, 150, 191, 192, 255, 8) → UNIMPLEMENTED with the right sequence number; our ${victim} stays usable`, () =>
      Effect.gen(function*() {
        const { peer, t } = yield* connected(victim)
        // Some traffic first, so that the sequence numbers are not trivially 0.
        for (let i = 0; i < 3; i++) yield* peer.send(enc({ _tag: "Ignore", data: new Uint8Array(i) }))
        for (const type of [150, 128, 191, 192, 255, 8]) {
          const seq = peer.writer.seq
          yield* peer.send(new Uint8Array([type, 0, 0, 0, 0]))
          const reply = TransportMessages.decode(yield* peer.expect(MessageId.UNIMPLEMENTED))
          assert.isTrue(reply._tag === "Right" && reply.right._tag === "Unimplemented")
          assert.strictEqual(reply._tag === "Right" && reply.right._tag === "Unimplemented" ? reply.right.seq : -1, seq, `type ${type}`)
        }
        yield* peer.send(serviceRequest())
        assert.strictEqual((yield* Receive.receive(t))[0], 5)
        yield* t.send(enc({ _tag: "ServiceAccept", name: "ssh-userauth" }))
        yield* peer.expect(MessageId.SERVICE_ACCEPT)
      }))

    it.scopedLive(`SEC-06: 100 000 × IGNORE(1 KiB) → our ${victim} stays usable`, () =>
      Effect.gen(function*() {
        const { peer, t } = yield* connected(victim, "aes128-gcm@openssh.com")
        const ignore = enc({ _tag: "Ignore", data: new Uint8Array(1024) })
        const batch = Array.from({ length: 500 }, () => ignore)
        const heapBefore = process.memoryUsage().heapUsed
        // 200 rounds of 500 IGNOREs and a SERVICE_REQUEST that must come through (so at most one batch is in flight).
        for (let i = 0; i < 200; i++) {
          yield* peer.send(...batch, serviceRequest())
          assert.strictEqual((yield* Receive.receive(t))[0], 5)
        }
        // Generous: 100 MB went through; nothing of it may stay.
        assert.isBelow(process.memoryUsage().heapUsed - heapBefore, 64 * 1024 * 1024)
        assert.isAtLeast((yield* t.stats).packetsIn, 100_200)
      }), { timeout: 60_000 })

    it.scopedLive(`SEC-06 / SEC-12: DEBUG(always_display, 200 KiB with ESC) → our ${victim} logs it escaped and capped`, () =>
      Effect.gen(function*() {
        const logs: Array<string> = []
        const logger = Logger.make(({ message }) => {
          logs.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
        })
        const { peer, t } = yield* connected(victim).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        const message = "\x1b]0;pwn\x07\x1b[2J%s%s%j" + "A".repeat(200 * 1024)
        yield* peer.send(enc({ _tag: "Debug", alwaysDisplay: true, message, language: "" }))
        yield* peer.send(serviceRequest())
        assert.strictEqual((yield* Receive.receive(t))[0], 5)
        const debug = logs.filter((l) => l.includes("pwn"))
        assert.isAtLeast(debug.length, 1, `logged: ${logs.map((l) => l.slice(0, 60)).join(" | ")}`)
        for (const l of logs) {
          assert.notInclude(l, "\x1b")
          assert.notInclude(l, "\x07")
          assert.isAtMost(l.length, 1024)
        }
      }))

    it.scopedLive(`SEC-12: the peer's DISCONNECT text reaches our ${victim}'s error escaped and capped`, () =>
      Effect.gen(function*() {
        const { peer } = yield* connected(victim)
        const description = "\x1b]0;pwn\x07%s%s%j\x9b" + "B".repeat(200 * 1024)
        yield* peer.send(enc({ _tag: "Disconnect", code: 11, description, language: "" }))
        const { error } = yield* ended(peer)
        assert.strictEqual(error.origin, "Remote")
        assert.strictEqual(error.code, 11)
        assert.isAtMost(error.description.length, 520)
        assert.include(error.description, "pwn")
        for (const c of ["\x1b", "\x07", "\x9b"]) {
          assert.notInclude(error.description, c)
          assert.notInclude(error.message, c)
        }
      }))

    it.scopedLive(`SEC-06: DISCONNECT is processed even during strict KEX (our ${victim})`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.exchangeVersions()
        yield* peer.sendKexInit()
        yield* peer.receiveKexInit
        yield* peer.send(enc({ _tag: "Disconnect", code: 11, description: "bye", language: "" }))
        const { disconnect, error } = yield* ended(peer)
        assert.isUndefined(disconnect, "no DISCONNECT in answer to a DISCONNECT")
        assert.strictEqual(error.origin, "Remote")
        assert.strictEqual(error.reason, "Disconnected")
        assert.strictEqual(error.code, 11)
      }))
  }
})

describe("SEC-09: trailing bytes after a transport message", () => {
  const plus = (p: Uint8Array, extra = 1) => {
    const out = new Uint8Array(p.length + extra)
    out.set(p)
    return out
  }

  for (const victim of roles) {
    it.scopedLive(`SEC-09: KEXINIT with a trailing byte → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.exchangeVersions()
        yield* peer.send(plus(peer.kexInit()))
        yield* peer.receiveKexInit
        yield* expectDisconnect(peer, 2)
      }))

    it.scopedLive(`SEC-09: NEWKEYS with a trailing byte → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.exchangeVersions()
        yield* peer.sendKexInit()
        yield* peer.receiveKexInit
        if (peer.role === "client") {
          yield* peer.sendKexEcdhInit()
          yield* peer.receiveKexEcdhReply
        } else {
          yield* peer.receiveKexEcdhInit
          yield* peer.send(peer.kexEcdhReply())
        }
        yield* peer.send(new Uint8Array([MessageId.NEWKEYS, 0]))
        yield* expectDisconnect(peer, 2)
      }))

    it.scopedLive(`SEC-09: EXT_INFO with a trailing byte → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.handshake()
        yield* peer.send(plus(TransportMessages.encodeServerSigAlgs(["ssh-ed25519"])))
        yield* expectDisconnect(peer, 2)
      }))

    for (const [name, payload] of [
      ["IGNORE", enc({ _tag: "Ignore", data: new Uint8Array(5) })],
      ["UNIMPLEMENTED", enc({ _tag: "Unimplemented", seq: 3 })],
      ["DEBUG", enc({ _tag: "Debug", alwaysDisplay: false, message: "hi", language: "" })]
    ] as const) {
      it.scopedLive(`SEC-09: ${name} with a trailing byte → our ${victim} sends D(2)`, () =>
        Effect.gen(function*() {
          const { peer, t } = yield* connected(victim)
          yield* peer.send(plus(payload))
          yield* peer.send(serviceRequest())
          // Fails at once if our side ignored the bad message and delivered the next one.
          yield* nothingDelivered(t)
          yield* expectDisconnect(peer, 2)
        }))

      it.scopedLive(`SEC-09: a truncated ${name} → our ${victim} sends D(2)`, () =>
        Effect.gen(function*() {
          const { peer, t } = yield* connected(victim)
          yield* peer.send(payload.subarray(0, payload.length - 1))
          yield* peer.send(serviceRequest())
          yield* nothingDelivered(t)
          yield* expectDisconnect(peer, 2)
        }))
    }
  }

  it.scopedLive("SEC-09: KEX_ECDH_INIT with a trailing byte → our server sends D(2), no reply", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "server" })
      yield* peer.exchangeVersions()
      yield* peer.sendKexInit()
      yield* peer.receiveKexInit
      peer.negotiate()
      yield* peer.send(plus(new Uint8Array([30, 0, 0, 0, 32, ...new Uint8Array(32).fill(9)])))
      const { disconnect, rest } = yield* ended(peer)
      assert.strictEqual(disconnect?.code, 2)
      assert.notInclude(RawPeer.typesOf(rest), MessageId.KEXDH_REPLY)
    }))

  it.scopedLive("SEC-09: KEX_ECDH_REPLY with a trailing byte → our client sends D(2), no NEWKEYS", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "client" })
      yield* peer.exchangeVersions()
      yield* peer.sendKexInit()
      yield* peer.receiveKexInit
      yield* peer.receiveKexEcdhInit
      yield* peer.send(plus(peer.kexEcdhReply()))
      const { disconnect, rest } = yield* ended(peer)
      assert.strictEqual(disconnect?.code, 2)
      assert.notInclude(RawPeer.typesOf(rest), MessageId.NEWKEYS)
    }))
})
