/**
 * SEC-13, SEC-14, SEC-16…SEC-21, LIM-11…LIM-13 through the Transport: a raw peer (H1) runs the key exchange by
 * hand against our client and our server and attacks one step at a time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { MODP_1024, MODP_2048 } from "../../src/crypto/kex/DhGroup.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import * as KexRegistry from "../../src/crypto/KexRegistry.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import type { TransportError } from "../../src/SshError.js"
import type * as Transport from "../../src/transport/Transport.js"
import * as KexMessages from "../../src/wire/KexMessages.js"
import { MessageId } from "../../src/wire/MessageId.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import * as Writer from "../../src/wire/Writer.js"
import { testHostKeys } from "../helpers/Loopback.js"
import * as RawPeer from "../helpers/RawPeer.js"
import * as Receive from "../../src/transport/internal/receive.js"

const roles = ["client", "server"] as const
const enc = TransportMessages.encode
const IGNORE = enc({ _tag: "Ignore", data: new Uint8Array(8) })
const NEWKEYS = enc({ _tag: "NewKeys" })
const serviceRequest = () => enc({ _tag: "ServiceRequest", name: "ssh-userauth" })
const extInfo = (n = 1) =>
  enc({ _tag: "ExtInfo", extensions: Array.from({ length: n }, (_, i) => ({ name: `x${i}@test`, value: new Uint8Array(0) })) })

/** A raw peer after the version exchange. */
const begin = (victim: "client" | "server", o: Omit<RawPeer.RawPeerOptions, "victim"> = {}) =>
  Effect.gen(function*() {
    const peer = yield* RawPeer.make({ victim, ...o })
    yield* peer.exchangeVersions()
    return peer
  })

/** Everything until our side closes; its DISCONNECT, the message numbers it sent, and its error. */
const ended = (peer: RawPeer.RawPeer) =>
  Effect.gen(function*() {
    const rest = yield* peer.untilClosed
    const types = RawPeer.typesOf(rest)
    const d = RawPeer.disconnectOf(rest)
    if (d !== undefined) assert.strictEqual(types[types.length - 1], MessageId.DISCONNECT, `nothing after DISCONNECT: ${types}`)
    return { disconnect: d, types, error: yield* peer.victimError }
  })

const expectDisconnect = (peer: RawPeer.RawPeer, code: number, reason?: TransportError["reason"]) =>
  Effect.gen(function*() {
    const r = yield* ended(peer)
    assert.isDefined(r.disconnect, `expected DISCONNECT ${code}; our side ended with ${r.error.reason}: ${r.error.description}`)
    assert.strictEqual(r.disconnect!.code, code, `${r.disconnect!.description}`)
    assert.strictEqual(r.error.origin, "Local")
    assert.strictEqual(r.error.code, code)
    if (reason !== undefined) assert.strictEqual(r.error.reason, reason, r.error.description)
    return r
  })

/** A message each way works. */
const usable = (peer: RawPeer.RawPeer, t: Transport.Transport) =>
  Effect.gen(function*() {
    yield* peer.send(serviceRequest())
    assert.strictEqual((yield* Receive.receive(t))[0], MessageId.SERVICE_REQUEST)
    yield* t.send(enc({ _tag: "ServiceAccept", name: "ssh-userauth" }))
    yield* peer.expect(MessageId.SERVICE_ACCEPT)
  })

/** Raw server: KEXINITs exchanged and our client's KEX_ECDH_INIT read. */
const serverAtReply = (peer: RawPeer.RawPeer, o: RawPeer.KexInitOverrides = {}) =>
  Effect.gen(function*() {
    yield* peer.sendKexInit(o)
    yield* peer.receiveKexInit
    yield* peer.receiveKexEcdhInit
  })

/** Raw client: KEXINITs exchanged. */
const clientAtInit = (peer: RawPeer.RawPeer, o: RawPeer.KexInitOverrides = {}) =>
  Effect.gen(function*() {
    yield* peer.sendKexInit(o)
    yield* peer.receiveKexInit
  })

describe("SEC-13: strict KEX", () => {
  for (const victim of roles) {
    it.scopedLive(`SEC-13a: [strict] IGNORE before the KEXINIT → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.send(IGNORE)
        yield* peer.sendKexInit()
        yield* peer.receiveKexInit
        const r = yield* expectDisconnect(peer, 2, "ProtocolViolation")
        assert.include(r.error.description, "strict KEX")
      }))

    it.scopedLive(`SEC-13c: [strict] message 49 during the key exchange → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.sendKexInit()
        yield* peer.receiveKexInit
        yield* peer.send(new Uint8Array([49, 0, 0, 0, 0]))
        yield* expectDisconnect(peer, 2)
      }))

    it.scopedLive(`SEC-13 (2): [strict] DEBUG, UNIMPLEMENTED, PING and unknown numbers during the key exchange → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        for (const payload of [
          enc({ _tag: "Debug", alwaysDisplay: false, message: "x", language: "" }),
          enc({ _tag: "Unimplemented", seq: 0 }),
          new Uint8Array([MessageId.PING, 0, 0, 0, 0]),
          new Uint8Array([150]),
          new Uint8Array([8])
        ]) {
          const peer = yield* begin(victim)
          yield* peer.sendKexInit()
          yield* peer.receiveKexInit
          yield* peer.send(payload)
          const r = yield* expectDisconnect(peer, 2)
          assert.notInclude(r.types, MessageId.UNIMPLEMENTED)
        }
      }))

    it.scopedLive(`SEC-13e: a peer without strict KEX may send IGNORE during the key exchange (our ${victim})`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.send(IGNORE)
        yield* peer.sendKexInit({ strict: false })
        yield* peer.send(IGNORE)
        yield* peer.receiveKexInit
        if (peer.role === "client") {
          yield* peer.sendKexEcdhInit()
          yield* peer.send(IGNORE)
          yield* peer.receiveKexEcdhReply
        } else {
          yield* peer.receiveKexEcdhInit
          yield* peer.send(IGNORE, peer.kexEcdhReply())
        }
        yield* peer.send(IGNORE)
        yield* peer.sendNewKeys
        yield* peer.receiveNewKeys
        assert.isFalse(peer.strict)
        yield* usable(peer, yield* peer.transport)
      }))

    it.scopedLive(`SEC-13 (3): [strict] sequence numbers restart at 0 after every NEWKEYS (our ${victim})`, () =>
      Effect.gen(function*() {
        const fresh = yield* begin(victim)
        yield* fresh.kex()
        const t = yield* fresh.transport
        assert.isTrue(fresh.strict)
        for (let round = 0; round < 3; round++) {
          // The first packet after NEWKEYS has sequence number 0 on both sides.
          assert.strictEqual(fresh.writer.seq, 0)
          yield* fresh.send(new Uint8Array([150]))
          const u = TransportMessages.decode(yield* fresh.expect(MessageId.UNIMPLEMENTED))
          assert.deepStrictEqual(u._tag === "Right" && u.right._tag === "Unimplemented" ? u.right.seq : -1, 0)
          yield* usable(fresh, t)
          yield* fresh.kex()
        }
        assert.strictEqual((yield* t.stats).kexCount, 4)
      }))

    it.scopedLive(`SEC-13h: the strict pseudo-algorithm only in a rekey KEXINIT does not switch strict mode on (our ${victim})`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.kex({ strict: false })
        const t = yield* peer.transport
        // The rekey KEXINIT names strict KEX; an IGNORE during the rekey must stay acceptable, and no sequence
        // number may be reset (the raw peer does not reset: a reset on our side breaks the MACs).
        yield* peer.sendKexInit({ strict: true })
        yield* peer.send(IGNORE)
        yield* peer.receiveKexInit
        if (peer.role === "client") {
          yield* peer.sendKexEcdhInit()
          yield* peer.receiveKexEcdhReply
        } else {
          yield* peer.receiveKexEcdhInit
          yield* peer.send(peer.kexEcdhReply())
        }
        yield* peer.sendNewKeys
        yield* peer.receiveNewKeys
        assert.isFalse(peer.strict)
        yield* usable(peer, t)
        yield* usable(peer, t)
      }))
  }

  it.scopedLive("SEC-13b: [strict] S→C IGNORE just before KEX_ECDH_REPLY → our client sends D(2), no NEWKEYS", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* serverAtReply(peer)
      yield* peer.send(IGNORE, peer.kexEcdhReply())
      const r = yield* expectDisconnect(peer, 2)
      assert.notInclude(r.types, MessageId.NEWKEYS)
    }))

  it.scopedLive("SEC-13d: [strict] EXT_INFO before NEWKEYS → our client sends D(2)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* serverAtReply(peer)
      yield* peer.send(peer.kexEcdhReply(), extInfo())
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-13d: [strict] EXT_INFO before NEWKEYS → our server sends D(2)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("server")
      yield* clientAtInit(peer, { extInfo: true })
      yield* peer.sendKexEcdhInit()
      yield* peer.receiveKexEcdhReply
      yield* peer.send(extInfo())
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-13: the IETF name kex-strict-s switches strict mode on in our client", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* serverAtReply(peer, { strict: false, kex: ["curve25519-sha256", "kex-strict-s"] })
      yield* peer.send(IGNORE, peer.kexEcdhReply())
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-13: the IETF name kex-strict-c switches strict mode on in our server", () =>
    Effect.gen(function*() {
      const peer = yield* begin("server")
      yield* peer.send(IGNORE)
      yield* peer.sendKexInit({ strict: false, kex: ["curve25519-sha256", "kex-strict-c"] })
      yield* peer.receiveKexInit
      yield* expectDisconnect(peer, 2)
    }))

  for (const victim of roles) {
    it.scopedLive(`SEC-13: our ${victim}'s first KEXINIT carries the strict marker, its rekey KEXINIT does not`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.kex()
        const first = RawPeer.decodeKexInit(peer.peerInit!)
        assert.include(first.kex, victim === "client" ? "kex-strict-c-v00@openssh.com" : "kex-strict-s-v00@openssh.com")
        const t = yield* peer.transport
        yield* Effect.fork(t.rekey)
        yield* peer.kex({ theirsFirst: true })
        const second = RawPeer.decodeKexInit(peer.peerInit!)
        assert.notInclude(second.kex, "kex-strict-c-v00@openssh.com")
        assert.notInclude(second.kex, "kex-strict-s-v00@openssh.com")
        assert.notInclude(second.kex, "ext-info-c")
        yield* usable(peer, t)
      }))
  }
})

describe("SEC-14: KEX state machine", () => {
  it.scopedLive("SEC-14: NEWKEYS before KEX_ECDH_REPLY → our client sends D(2)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* serverAtReply(peer)
      yield* peer.send(NEWKEYS)
      const r = yield* expectDisconnect(peer, 2)
      assert.notInclude(r.types, MessageId.NEWKEYS)
    }))

  it.scopedLive("SEC-14: NEWKEYS before KEX_ECDH_INIT → our server sends D(2)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("server")
      yield* clientAtInit(peer)
      yield* peer.send(NEWKEYS)
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-14: our client receives KEXDH_INIT → D(2)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* serverAtReply(peer)
      yield* peer.send(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: NodeCrypto.x25519().publicKey }))
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-14: our server receives KEX_ECDH_REPLY → D(2), no reply", () =>
    Effect.gen(function*() {
      const peer = yield* begin("server")
      yield* clientAtInit(peer)
      const blob = HostKey.encodePublicKey(HostKey.publicKeyOf(testHostKeys()[0]!))
      yield* peer.send(KexMessages.encode({ _tag: "KexEcdhReply", hostKey: blob, serverValue: new Uint8Array(32).fill(9), signature: new Uint8Array(8) }))
      const r = yield* expectDisconnect(peer, 2)
      assert.notInclude(r.types, MessageId.KEXDH_REPLY)
    }))

  for (const victim of roles) {
    it.scopedLive(`SEC-14: a second KEXINIT in one exchange → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* clientAtInit(peer)
        yield* peer.send(peer.kexInit())
        yield* expectDisconnect(peer, 2)
      }))

    it.scopedLive(`SEC-14: a second KEXINIT during a rekey → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.kex()
        yield* peer.transport
        yield* peer.sendKexInit()
        yield* peer.receiveKexInit
        yield* peer.send(peer.kexInit())
        yield* expectDisconnect(peer, 2)
      }))

    it.scopedLive(`SEC-14: during a rekey, after its KEXINIT, the peer sends CHANNEL_DATA → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.kex()
        const t = yield* peer.transport
        yield* peer.sendKexInit()
        yield* peer.send(new Uint8Array([MessageId.CHANNEL_DATA, 0, 0, 0, 0, 0, 0, 0, 1, 0x41]))
        yield* expectDisconnect(peer, 2)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(Receive.receive(t))), "the CHANNEL_DATA reached the layers above")
      }))

    it.scopedLive(`SEC-14: during a rekey, after its KEXINIT, the peer sends SERVICE_REQUEST → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.kex()
        yield* peer.transport
        yield* peer.sendKexInit()
        yield* peer.send(serviceRequest())
        yield* expectDisconnect(peer, 2)
      }))

    it.scopedLive(`SEC-14: KEX messages after completion → our ${victim} sends D(2)`, () =>
      Effect.gen(function*() {
        for (const type of [30, 31, 33, 34, 49, 21]) {
          const peer = yield* begin(victim)
          yield* peer.kex()
          yield* peer.transport
          yield* peer.send(new Uint8Array([type, 0, 0, 0, 0]))
          yield* expectDisconnect(peer, 2)
        }
      }))
  }

  it.scopedLive("SEC-14: a stray KEX_ECDH_REPLY after completion → our client sends D(2)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* peer.receiveKexInit
      yield* peer.sendKexInit()
      yield* peer.receiveKexEcdhInit
      const reply = peer.kexEcdhReply()
      yield* peer.send(reply)
      yield* peer.sendNewKeys
      yield* peer.receiveNewKeys
      yield* peer.transport
      yield* peer.send(reply)
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-14: DH-GEX REQUEST twice → our server sends D(2)", () =>
    Effect.gen(function*() {
      const gex = "diffie-hellman-group-exchange-sha256"
      const peer = yield* begin("server", { victimOptions: { algorithms: { kex: [gex] } } })
      yield* clientAtInit(peer, { kex: [gex] })
      const req = KexMessages.encode({ _tag: "GexRequest", min: 2048, n: 3072, max: 8192 })
      yield* peer.send(req)
      yield* peer.expect(MessageId.KEX_DH_GEX_GROUP)
      yield* peer.send(req)
      yield* expectDisconnect(peer, 2)
    }))

  for (const phase of ["initial", "rekey"] as const) {
    it.scopedLive(`SEC-14: first_kex_packet_follows with a wrong guess, then the right exchange → our server completes (${phase})`, () =>
      Effect.gen(function*() {
        const peer = yield* begin("server")
        if (phase === "rekey") yield* peer.kex()
        // Our server prefers curve25519; the raw client prefers nistp256 and guesses: the guess is wrong.
        yield* peer.sendKexInit({ kex: ["ecdh-sha2-nistp256", "curve25519-sha256"], firstKexPacketFollows: true })
        yield* peer.send(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: NodeCrypto.ecdh("nistp256").publicKey }))
        yield* peer.receiveKexInit
        yield* peer.sendKexEcdhInit()
        const reply = yield* peer.receiveKexEcdhReply
        assert.isDefined(reply)
        assert.strictEqual(peer.negotiated?.kex, "ecdh-sha2-nistp256")
        yield* peer.sendNewKeys
        yield* peer.receiveNewKeys
        const t = yield* peer.transport
        yield* usable(peer, t)
        assert.strictEqual((yield* t.stats).kexCount, phase === "initial" ? 1 : 2)
      }))
  }

  it.scopedLive("SEC-14: first_kex_packet_follows with a right guess: the guessed packet is used", () =>
    Effect.gen(function*() {
      // Both sides prefer curve25519-sha256 and ssh-ed25519: the raw client guesses before it sees our KEXINIT.
      const peer = yield* begin("server", { victimOptions: { algorithms: { kex: ["curve25519-sha256"] } } })
      yield* peer.sendKexInit({ firstKexPacketFollows: true })
      const guess = KexRegistry.kexMethod("curve25519-sha256")
      assert.isTrue(guess?._tag === "Ephemeral")
      if (guess?._tag !== "Ephemeral") return
      peer.kexClient = guess.exchange.client(NodeCrypto)
      peer.clientValue = peer.kexClient.clientValue
      yield* peer.send(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: peer.clientValue }))
      yield* peer.receiveKexInit
      assert.strictEqual(peer.negotiate().kex, "curve25519-sha256")
      yield* peer.receiveKexEcdhReply
      yield* peer.sendNewKeys
      yield* peer.receiveNewKeys
      yield* usable(peer, yield* peer.transport)
    }))
})

describe("SEC-16 / LIM-12: KEXINIT contents and negotiation", () => {
  for (const victim of roles) {
    it.scopedLive(`SEC-16: a kex list of 3 000 names × 64 chars → our ${victim} sends D(2) promptly`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        const names = Array.from({ length: 3000 }, (_, i) => `n${i}`.padEnd(64, "x"))
        const start = Date.now()
        yield* peer.send(peer.kexInit({ kex: names, strict: false }))
        yield* peer.receiveKexInit
        yield* expectDisconnect(peer, 2)
        assert.isBelow(Date.now() - start, 1000)
      }))

    for (const [what, kex] of [
      ["a 65-char name", ["curve25519-sha256", "a".repeat(65)]],
      ["`a,,b`", ["curve25519-sha256", "a", "", "b"]],
      ["a control char", ["curve25519-sha256", "a\x01b"]],
      ["129 names (LIM-12)", ["curve25519-sha256", ...Array.from({ length: 128 }, (_, i) => `z${i}`)]]
    ] as const) {
      it.scopedLive(`SEC-16: ${what} in a name-list → our ${victim} sends D(2)`, () =>
        Effect.gen(function*() {
          const peer = yield* begin(victim)
          yield* peer.send(peer.kexInit({ kex: [...kex], strict: false }))
          yield* peer.receiveKexInit
          yield* expectDisconnect(peer, 2)
        }))
    }

    it.scopedLive(`SEC-16: no common cipher → our ${victim} sends D(3) naming both lists`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* clientAtInit(peer, { cipherC2S: ["aes256-cbc", "3des-cbc"], cipherS2C: ["aes256-cbc", "3des-cbc"] })
        const r = yield* expectDisconnect(peer, 3, "NoCommonAlgorithm")
        for (const name of ["aes256-cbc", "3des-cbc", "aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]) {
          assert.include(r.error.description, name)
        }
        assert.include(r.disconnect!.description, "aes256-cbc")
      }))

    it.scopedLive(`SEC-16: AEAD negotiated with empty MAC lists → our ${victim} connects`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.kex({ cipherC2S: ["chacha20-poly1305@openssh.com"], cipherS2C: ["aes256-gcm@openssh.com"], macC2S: [], macS2C: [] })
        const t = yield* peer.transport
        const n = yield* t.negotiated
        assert.strictEqual(n.macC2S, undefined)
        assert.strictEqual(n.macS2C, undefined)
        yield* usable(peer, t)
      }))

    it.scopedLive(`SEC-16: the reserved field is ignored (our ${victim})`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim)
        yield* peer.kex({ reserved: 0xffffffff })
        yield* usable(peer, yield* peer.transport)
      }))
  }

  it.scopedLive("SEC-16: the host key algorithm must match a key our server holds → D(3)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("server", { victimOptions: { hostKeys: [testHostKeys()[0]!] } })
      yield* clientAtInit(peer, { hostKey: ["ecdsa-sha2-nistp256", "rsa-sha2-512"] })
      assert.deepStrictEqual(RawPeer.decodeKexInit(peer.peerInit!).hostKey, ["ssh-ed25519"])
      yield* expectDisconnect(peer, 3, "NoCommonAlgorithm")
    }))
})

describe("SEC-17 / SEC-18: key exchange values on the wire", () => {
  const p25519 = () => {
    const p = new Uint8Array(32).fill(0xff)
    p[0] = 0xed
    p[31] = 0x7f
    return p
  }
  const x25519Bad: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["32 zero bytes (the russh PoC)", new Uint8Array(32)],
    ["u = 1", Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0))],
    ["u = p", p25519()],
    ["u = p + 1", Uint8Array.from(p25519(), (b, i) => (i === 0 ? 0xee : b))],
    ["31 bytes", new Uint8Array(31).fill(9)],
    ["33 bytes", new Uint8Array(33).fill(9)],
    // A small-order point from libsodium's blocklist (order 8).
    ["a small-order point", Uint8Array.from(Buffer.from("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", "hex"))]
  ]

  for (const [what, value] of x25519Bad) {
    it.scopedLive(`SEC-18: our server receives KEX_ECDH_INIT with ${what} → D(3), no KEX_ECDH_REPLY`, () =>
      Effect.gen(function*() {
        const peer = yield* begin("server")
        yield* clientAtInit(peer)
        yield* peer.send(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: value }))
        const r = yield* expectDisconnect(peer, 3, "KexFailed")
        assert.notInclude(r.types, MessageId.KEXDH_REPLY)
      }))

    it.scopedLive(`SEC-18: our client receives Q_S = ${what} with a valid signature → D(3), no NEWKEYS`, () =>
      Effect.gen(function*() {
        const peer = yield* begin("client")
        yield* serverAtReply(peer)
        yield* peer.send(peer.kexEcdhReply({ serverValue: value }))
        const r = yield* expectDisconnect(peer, 3, "KexFailed")
        assert.notInclude(r.types, MessageId.NEWKEYS)
      }))
  }

  it.scopedLive("SEC-18: P-256 point with y+1, compressed 02‖X, or the wrong length → our server sends D(3)", () =>
    Effect.gen(function*() {
      const kex = "ecdh-sha2-nistp256"
      const good = NodeCrypto.ecdh("nistp256").publicKey
      const yPlus1 = good.slice()
      yPlus1[64] = (yPlus1[64]! + 1) & 0xff
      const compressed = Uint8Array.from([2 + (good[64]! & 1), ...good.subarray(1, 33)])
      for (const value of [yPlus1, compressed, good.subarray(0, 64), new Uint8Array(65)]) {
        const peer = yield* begin("server")
        yield* clientAtInit(peer, { kex: [kex] })
        yield* peer.send(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: value }))
        yield* expectDisconnect(peer, 3)
      }
    }))

  it.scopedLive("SEC-17: DH e ∈ {0, 1, p−1, p, p+1} for group14-sha256 → our server sends D(3)", () =>
    Effect.gen(function*() {
      const kex = "diffie-hellman-group14-sha256"
      const p = MODP_2048.p
      for (const e of [0n, 1n, p - 1n, p, p + 1n]) {
        const peer = yield* begin("server", { victimOptions: { algorithms: { kex: [kex] } } })
        yield* clientAtInit(peer, { kex: [kex] })
        yield* peer.send(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: Writer.mpintBytes(e) }))
        yield* expectDisconnect(peer, 3)
      }
    }))

  for (const [what, group] of [
    ["a 1024-bit group", { p: MODP_1024.p, g: 2n }],
    ["g = 1", { p: MODP_2048.p, g: 1n }],
    ["g = p − 1", { p: MODP_2048.p, g: MODP_2048.p - 1n }]
  ] as const) {
    it.scopedLive(`SEC-17 / LIM-14: DH-GEX GROUP with ${what} → our client sends D(3)`, () =>
      Effect.gen(function*() {
        const kex = "diffie-hellman-group-exchange-sha256"
        const peer = yield* begin("client", { victimOptions: { algorithms: { kex: [kex] } } })
        yield* peer.sendKexInit({ kex: [kex] })
        yield* peer.receiveKexInit
        yield* peer.expect(MessageId.KEX_DH_GEX_REQUEST)
        yield* peer.send(KexMessages.encode({ _tag: "GexGroup", p: group.p, g: group.g }))
        const r = yield* expectDisconnect(peer, 3)
        assert.notInclude(r.types, MessageId.KEX_DH_GEX_INIT)
      }))
  }
})

describe("SEC-19: exchange hash and host-key signature", () => {
  it.scopedLive("SEC-19: the server signs H with ssh-rsa while rsa-sha2-512 was negotiated → our client sends D(3)", () =>
    Effect.gen(function*() {
      const rsa = testHostKeys()[4]!
      const peer = yield* begin("client", { hostKey: rsa })
      yield* serverAtReply(peer)
      assert.strictEqual(peer.negotiated?.hostKey, "rsa-sha2-512")
      yield* peer.send(peer.kexEcdhReply({ signWith: { algorithm: "ssh-rsa", key: rsa } }))
      const r = yield* expectDisconnect(peer, 3, "KexFailed")
      assert.notInclude(r.types, MessageId.NEWKEYS)
    }))

  it.scopedLive("SEC-19: rsa-sha2-256 signature while rsa-sha2-512 was negotiated → our client sends D(3)", () =>
    Effect.gen(function*() {
      const rsa = testHostKeys()[4]!
      const peer = yield* begin("client", { hostKey: rsa })
      yield* serverAtReply(peer)
      yield* peer.send(peer.kexEcdhReply({ signWith: { algorithm: "rsa-sha2-256", key: rsa } }))
      yield* expectDisconnect(peer, 3, "KexFailed")
    }))

  it.scopedLive("SEC-19: K_S is an ECDSA key while ssh-ed25519 was negotiated → our client sends D(3)", () =>
    Effect.gen(function*() {
      const ecdsa = testHostKeys()[1]!
      const peer = yield* begin("client")
      yield* serverAtReply(peer)
      assert.strictEqual(peer.negotiated?.hostKey, "ssh-ed25519")
      yield* peer.send(peer.kexEcdhReply({
        hostKeyBlob: HostKey.encodePublicKey(HostKey.publicKeyOf(ecdsa)),
        signWith: { algorithm: "ecdsa-sha2-nistp256", key: ecdsa }
      }))
      yield* expectDisconnect(peer, 3, "KexFailed")
    }))

  it.scopedLive("SEC-19: one flipped bit in the signature → our client sends D(3)", () =>
    Effect.gen(function*() {
      for (const key of [testHostKeys()[0]!, testHostKeys()[1]!, testHostKeys()[4]!]) {
        const peer = yield* begin("client", { hostKey: key })
        yield* serverAtReply(peer)
        yield* peer.send(peer.kexEcdhReply({
          editSignature: (s) => {
            const out = s.slice()
            out[out.length - 7]! ^= 0x20
            return out
          }
        }))
        yield* expectDisconnect(peer, 3, "KexFailed")
      }
    }))

  it.scopedLive("SEC-19: a valid signature by another key than K_S → our client sends D(3)", () =>
    Effect.gen(function*() {
      const other = NodeCrypto.generateKey({ type: "ed25519" })
      const peer = yield* begin("client")
      yield* serverAtReply(peer)
      yield* peer.send(peer.kexEcdhReply({ signWith: { algorithm: "ssh-ed25519", key: other } }))
      yield* expectDisconnect(peer, 3, "KexFailed")
    }))

  it.scopedLive("SEC-19: the session id is H of the first exchange and never changes", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* peer.kex()
      const t = yield* peer.transport
      assert.deepStrictEqual(t.sessionId, peer.sessionId)
      yield* peer.kex()
      assert.notDeepEqual(peer.h, peer.sessionId)
      assert.deepStrictEqual(t.sessionId, peer.sessionId)
      yield* usable(peer, t)
    }))
})

describe("SEC-20: host-key verification fails closed (client)", () => {
  const failing: ReadonlyArray<readonly [string, Transport.TransportOptions["verifyHostKey"]]> = [
    ["fails", () => Effect.fail("unknown host")],
    ["dies", () => Effect.die(new Error("known_hosts unreadable"))],
    ["is interrupted", () => Effect.interrupt],
    ["throws", () => {
      throw new Error("boom")
    }]
  ]

  for (const [what, verifyHostKey] of failing) {
    it.scopedLive(`SEC-20: the verifier ${what} → our client sends D(9) and nothing else`, () =>
      Effect.gen(function*() {
        const peer = yield* begin("client", { victimOptions: { verifyHostKey } })
        yield* serverAtReply(peer)
        yield* peer.send(peer.kexEcdhReply(), NEWKEYS)
        const r = yield* expectDisconnect(peer, 9, "HostKeyRejected")
        assert.deepStrictEqual(r.types, [MessageId.DISCONNECT])
      }))
  }

  it.scopedLive("SEC-20: the verifier still pending at the handshake timeout → closed with D(9), nothing else", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client", { victimOptions: { verifyHostKey: () => Effect.never, timeouts: { handshake: "300 millis" } } })
      yield* serverAtReply(peer)
      yield* peer.send(peer.kexEcdhReply(), NEWKEYS)
      const r = yield* ended(peer)
      assert.notInclude(r.types, MessageId.NEWKEYS)
      assert.strictEqual(r.disconnect?.code, 9, `${r.error.reason} ${r.error.code}: ${r.error.description}`)
    }))

  it.scopedLive("SEC-20: the verifier sees the server's host key and algorithm", () =>
    Effect.gen(function*() {
      const seen: Array<Transport.PresentedHostKey> = []
      const peer = yield* begin("client", { victimOptions: { verifyHostKey: (k) => Effect.sync(() => void seen.push(k)) } })
      yield* peer.kex()
      yield* peer.transport
      assert.strictEqual(seen.length, 1)
      assert.strictEqual(seen[0]!.algorithm, "ssh-ed25519")
      assert.deepStrictEqual(seen[0]!.blob, HostKey.encodePublicKey(HostKey.publicKeyOf(testHostKeys()[0]!)))
    }))

  it.scopedLive("SEC-20: a different host key in a rekey → our client sends D(9)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* peer.kex()
      yield* peer.transport
      const other = NodeCrypto.generateKey({ type: "ed25519" })
      yield* serverAtReply(peer)
      yield* peer.send(peer.kexEcdhReply({
        hostKeyBlob: HostKey.encodePublicKey(HostKey.publicKeyOf(other)),
        signWith: { algorithm: "ssh-ed25519", key: other }
      }))
      const r = yield* ended(peer)
      assert.strictEqual(r.disconnect?.code, 9)
      assert.notInclude(r.types, MessageId.NEWKEYS)
    }))
})

describe("SEC-21 / LIM-13: EXT_INFO", () => {
  /** Raw server through NEWKEYS; our client has not read anything after it yet. */
  const afterNewKeys = () =>
    Effect.gen(function*() {
      const peer = yield* begin("client")
      yield* peer.kex()
      const t = yield* peer.transport
      return { peer, t }
    })

  it.scopedLive("SEC-21: EXT_INFO as the first message after NEWKEYS → our client takes server-sig-algs", () =>
    Effect.gen(function*() {
      const { peer, t } = yield* afterNewKeys()
      yield* peer.send(TransportMessages.encodeServerSigAlgs(["ssh-ed25519", "rsa-sha2-256"]))
      yield* usable(peer, t)
      assert.deepStrictEqual(yield* t.serverSigAlgs, Option.some(["ssh-ed25519", "rsa-sha2-256"]))
    }))

  it.scopedLive("LIM-13: EXT_INFO with 1 024 entries is taken; nr = 1 025 → our client sends D(2)", () =>
    Effect.gen(function*() {
      const ok = yield* afterNewKeys()
      yield* ok.peer.send(extInfo(1024))
      yield* usable(ok.peer, ok.t)
      const { peer } = yield* afterNewKeys()
      yield* peer.send(extInfo(1025))
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-08 / LIM-13: EXT_INFO nr = 0xFFFFFFFF with an empty body → our client closes at once", () =>
    Effect.gen(function*() {
      const { peer } = yield* afterNewKeys()
      const start = Date.now()
      yield* peer.send(new Uint8Array([MessageId.EXT_INFO, 0xff, 0xff, 0xff, 0xff]))
      yield* expectDisconnect(peer, 2)
      assert.isBelow(Date.now() - start, 2000)
    }))

  it.scopedLive("LIM-13: EXT_INFO at a wrong position (after another message) → our client sends D(2)", () =>
    Effect.gen(function*() {
      const { peer } = yield* afterNewKeys()
      yield* peer.send(IGNORE, extInfo())
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("LIM-13: a second and a third EXT_INFO → our client sends D(2)", () =>
    Effect.gen(function*() {
      const { peer } = yield* afterNewKeys()
      yield* peer.send(extInfo(), extInfo(), extInfo())
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-21: EXT_INFO right after a rekey's NEWKEYS → our client sends D(2)", () =>
    Effect.gen(function*() {
      const { peer } = yield* afterNewKeys()
      yield* peer.send(IGNORE)
      yield* peer.kex()
      yield* peer.send(extInfo())
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-21: our server takes one EXT_INFO from the client after its NEWKEYS; a second → D(2)", () =>
    Effect.gen(function*() {
      const peer = yield* begin("server")
      yield* peer.kex({ extInfo: true })
      const t = yield* peer.transport
      // Our server's own EXT_INFO (the client sent ext-info-c).
      const ext = TransportMessages.decode(yield* peer.expect(MessageId.EXT_INFO))
      assert.isTrue(ext._tag === "Right" && ext.right._tag === "ExtInfo" && TransportMessages.serverSigAlgs(ext.right) !== undefined)
      yield* peer.send(extInfo())
      yield* usable(peer, t)
      yield* peer.send(extInfo())
      yield* expectDisconnect(peer, 2)
    }))

  it.scopedLive("SEC-21: our server sends no EXT_INFO to a client that did not ask, and none after a rekey with ext-info-c", () =>
    Effect.gen(function*() {
      const peer = yield* begin("server")
      yield* peer.kex({ extInfo: false })
      const t = yield* peer.transport
      yield* usable(peer, t)
      yield* peer.kex({ extInfo: true })
      yield* usable(peer, t)
      // Had our server sent EXT_INFO, `usable` would have met it instead of SERVICE_ACCEPT.
      const asked = yield* begin("server")
      yield* asked.kex({ extInfo: true })
      yield* asked.expect(MessageId.EXT_INFO)
      const t2 = yield* asked.transport
      yield* asked.kex({ extInfo: true })
      yield* usable(asked, t2)
    }))
})

describe("LIM-11: key exchange completion time", () => {
  for (const victim of roles) {
    it.scopedLive(`LIM-11: a peer that never sends its KEXINIT → our ${victim} closes at the handshake timeout`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim, { victimOptions: { timeouts: { handshake: "300 millis" } } })
        const start = Date.now()
        yield* peer.receiveKexInit
        const r = yield* ended(peer)
        assert.strictEqual(r.error.reason, "Timeout")
        assert.isBelow(Date.now() - start, 2000)
      }))

    it.scopedLive(`LIM-11: a peer that stops in the middle of the first exchange → our ${victim} closes at the handshake timeout`, () =>
      Effect.gen(function*() {
        const peer = yield* begin(victim, { victimOptions: { timeouts: { handshake: "300 millis" } } })
        yield* peer.sendKexInit()
        yield* peer.receiveKexInit
        const r = yield* ended(peer)
        assert.strictEqual(r.error.reason, "Timeout")
      }))
  }
})
