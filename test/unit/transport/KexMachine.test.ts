/**
 * SEC-06, SEC-07, SEC-10, SEC-13, SEC-14, SEC-16…SEC-19, SEC-21 and LIM-12/LIM-13 at the lowest layer: the pure
 * KexMachine, driven by scripted message sequences (h11 ConnectionPair style). `End` plays the shell of
 * transport.ts (gate, then receive; sequence numbers; the host key verdict) without any packet encryption.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Algorithms from "../../../src/crypto/Algorithms.js"
import type { PrivateKeyMaterial } from "../../../src/crypto/Backend.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import {
  isKexFailure,
  type KexConfig,
  type KexFailure,
  KexMachine,
  type KexOutput,
  type ServerHostKey
} from "../../../src/transport/KexMachine.js"
import { MODP_2048 } from "../../../src/crypto/kex/DhGroup.js"
import * as KexMessages from "../../../src/wire/KexMessages.js"
import { MessageId } from "../../../src/wire/MessageId.js"
import * as TransportMessages from "../../../src/wire/TransportMessages.js"
import * as Writer from "../../../src/wire/Writer.js"
import { testHostKeys } from "../../helpers/Loopback.js"
import { decodeKexInit } from "../../helpers/RawPeer.js"

const serverKey = (key: PrivateKeyMaterial): ServerHostKey => {
  const pub = HostKey.publicKeyOf(key)
  return { key, blob: HostKey.encodePublicKey(pub), algorithms: HostKey.algorithmsForKey(pub) }
}

// The scripts below send X25519 values by hand (ecdhInit), so curve25519-sha256 leads both sides' lists here;
// the post-quantum hybrids that lead DEFAULT_KEX have their own tests (test/unit/crypto/PqKex.test.ts).
const algorithms = { ...Algorithms.defaults, kex: ["curve25519-sha256", ...Algorithms.DEFAULT_KEX.filter((k) => k !== "curve25519-sha256")] }

const config = (role: "client" | "server", o: Partial<KexConfig> = {}): KexConfig => ({
  role,
  backend: NodeCrypto,
  algorithms,
  clientVersion: "SSH-2.0-client",
  serverVersion: "SSH-2.0-server",
  hostKeys: role === "server" ? testHostKeys().map(serverKey) : undefined,
  ...o
})

const enc = TransportMessages.encode
const IGNORE = enc({ _tag: "Ignore", data: new Uint8Array(3) })
const NEWKEYS = enc({ _tag: "NewKeys" })
const UPPER = new Set([5, 6])

/** One side as the shell sees it: its machine, sequence numbers, what it sent and what it received. */
class End {
  sendSeq = 0
  recvSeq = 0
  readonly sent: Array<Uint8Array> = []
  readonly delivered: Array<Uint8Array> = []
  readonly outputs: Array<KexOutput> = []
  failure: KexFailure | undefined
  constructor(readonly m: KexMachine) {}

  start(): this {
    this.apply(this.m.initiate())
    return this
  }

  apply(outs: ReadonlyArray<KexOutput> | KexFailure): void {
    if (isKexFailure(outs)) {
      this.failure ??= outs
      return
    }
    for (const o of outs) {
      this.outputs.push(o)
      switch (o._tag) {
        case "Send":
          this.sent.push(o.payload)
          this.sendSeq = (this.sendSeq + 1) >>> 0
          break
        case "SendNewKeys":
          this.sent.push(NEWKEYS)
          this.sendSeq = o.resetSeq ? 0 : (this.sendSeq + 1) >>> 0
          break
        case "InstallOpener":
          if (o.resetSeq) this.recvSeq = 0
          break
        case "VerifyHostKey":
          this.apply(this.m.hostKeyAccepted())
          break
        default:
          break
      }
    }
  }

  /** The shell's inbound path: gate, then the machine for transport messages. */
  receive(payload: Uint8Array, seq = this.recvSeq): KexFailure | undefined {
    this.recvSeq = (seq + 1) >>> 0
    const type = payload[0]!
    const g = this.m.gate(type)
    if (g !== undefined) {
      this.failure ??= g
      return g
    }
    if (type >= 50 || UPPER.has(type)) {
      this.delivered.push(payload)
      return undefined
    }
    if (type === MessageId.KEXINIT || type === MessageId.NEWKEYS || type === MessageId.EXT_INFO || (type >= 30 && type <= 49)) {
      const before = this.failure
      this.apply(this.m.receive(payload, seq))
      return this.failure === before ? undefined : this.failure
    }
    return undefined
  }

  /** Takes what this end has sent so far. */
  take(): Array<Uint8Array> {
    return this.sent.splice(0)
  }
}

/** Moves messages both ways until nothing moves or a side fails. */
const pump = (a: End, b: End): void => {
  for (let i = 0; i < 100; i++) {
    const ab = a.take()
    const ba = b.take()
    if (ab.length === 0 && ba.length === 0) return
    for (const p of ab) if (b.receive(p) !== undefined) return
    for (const p of ba) if (a.receive(p) !== undefined) return
  }
}

const pair = (c: Partial<KexConfig> = {}, s: Partial<KexConfig> = {}) => {
  const client = new End(new KexMachine(config("client", c)))
  const server = new End(new KexMachine(config("server", s)))
  return { client, server }
}

/** A KEXINIT from `m`'s defaults with some lists replaced. */
const kexInitLike = (
  role: "client" | "server",
  o: Partial<Omit<TransportMessages.KexInit, "_tag">> & { readonly strict?: boolean; readonly extInfo?: boolean } = {}
): Uint8Array => {
  const base = decodeKexInit(sendPayload(new KexMachine(config(role)).initiate()))
  const markers = [
    ...(o.extInfo === false ? [] : [role === "client" ? "ext-info-c" : "ext-info-s"]),
    ...(o.strict === false ? [] : [role === "client" ? "kex-strict-c-v00@openssh.com" : "kex-strict-s-v00@openssh.com"])
  ]
  const { strict: _s, extInfo: _e, ...rest } = o
  return enc({ ...base, kex: [...base.kex.filter((n) => !n.startsWith("kex-strict") && !n.startsWith("ext-info")), ...markers], ...rest })
}

const sendPayload = (outs: ReadonlyArray<KexOutput>): Uint8Array => {
  const o = outs[0]!
  if (o._tag !== "Send") throw new Error("expected Send")
  return o.payload
}

/** A fresh client X25519 value in KEX_ECDH_INIT. */
const ecdhInit = () => KexMessages.encode({ _tag: "KexEcdhInit", clientValue: NodeCrypto.x25519().publicKey })

/** Drives a server End through an exchange with a hand-made client (the server checks nothing the client signs). */
const serverExchange = (s: End, init: Uint8Array): void => {
  assert.isUndefined(s.receive(init))
  assert.isUndefined(s.receive(ecdhInit()))
  assert.isUndefined(s.receive(NEWKEYS))
}

const isViolation = (f: KexFailure | undefined, code = 2): boolean => f !== undefined && f.code === code

/** Client and server through the first exchange. */
const connected = (c: Partial<KexConfig> = {}, s: Partial<KexConfig> = {}) => {
  const p = pair(c, s)
  p.client.start()
  p.server.start()
  pump(p.client, p.server)
  assert.isUndefined(p.client.failure, p.client.failure?.description)
  assert.isUndefined(p.server.failure, p.server.failure?.description)
  assert.strictEqual(p.client.m.completed, 1)
  assert.strictEqual(p.server.m.completed, 1)
  return p
}

describe("KexMachine: the first exchange and rekeys", () => {
  it("client and server complete, agree on H and keep the session id across rekeys", () => {
    const { client, server } = connected()
    const id = client.m.sessionId
    assert.deepStrictEqual(id, server.m.sessionId)
    assert.isTrue(client.m.strict && server.m.strict)
    for (let i = 0; i < 3; i++) {
      ;(i % 2 === 0 ? client : server).apply((i % 2 === 0 ? client : server).m.initiate())
      pump(client, server)
      assert.isUndefined(client.failure ?? server.failure)
    }
    assert.strictEqual(client.m.completed, 4)
    assert.deepStrictEqual(client.m.sessionId, id)
    assert.deepStrictEqual(server.m.sessionId, id)
  })
})

describe("KexMachine: SEC-06 message numbers", () => {
  it("SEC-06: message number 0 → D(2), before, during and after the key exchange", () => {
    const before = new KexMachine(config("server"))
    assert.isTrue(isViolation(before.gate(0)))
    const { client, server } = connected()
    assert.isTrue(isViolation(client.m.gate(0)))
    assert.isTrue(isViolation(server.m.gate(0)))
  })

  it("SEC-06: after the exchange, unknown numbers (128–191, 192–255) pass the gate (the shell answers UNIMPLEMENTED)", () => {
    const { server } = connected()
    for (const t of [8, 19, 22, 29, 128, 150, 191, 192, 193, 255]) assert.isUndefined(server.m.gate(t), String(t))
  })

  it("SEC-06: DISCONNECT always passes the gate, even during strict KEX", () => {
    const { client, server } = pair()
    server.start()
    client.start()
    server.receive(client.take()[0]!)
    assert.isTrue(server.m.strict)
    assert.isUndefined(server.m.gate(MessageId.DISCONNECT))
  })
})

describe("KexMachine: SEC-13 strict KEX", () => {
  it("SEC-13: our first KEXINIT carries the strict and ext-info markers; a rekey KEXINIT does not", () => {
    const { client, server } = connected()
    const firstC = decodeKexInit(client.outputs.flatMap((o) => (o._tag === "Send" && o.payload[0] === 20 ? [o.payload] : []))[0]!)
    const firstS = decodeKexInit(server.outputs.flatMap((o) => (o._tag === "Send" && o.payload[0] === 20 ? [o.payload] : []))[0]!)
    assert.include(firstC.kex, "kex-strict-c-v00@openssh.com")
    assert.include(firstC.kex, "ext-info-c")
    assert.include(firstS.kex, "kex-strict-s-v00@openssh.com")
    const rekeyC = decodeKexInit(sendPayload(client.m.initiate()))
    assert.notInclude(rekeyC.kex, "kex-strict-c-v00@openssh.com")
    assert.notInclude(rekeyC.kex, "ext-info-c")
    // A rekey the peer starts: our answer carries no markers either.
    server.receive(enc({ ...decodeKexInit(kexInitLike("client")), kex: ["curve25519-sha256"] }))
    const answer = server.take().find((p) => p[0] === 20)!
    assert.notInclude(decodeKexInit(answer).kex, "kex-strict-s-v00@openssh.com")
  })

  for (const role of ["client", "server"] as const) {
    const peerRole = role === "client" ? "server" : "client"

    it(`SEC-13a: [strict] IGNORE before the peer's KEXINIT → D(2) (we are ${role})`, () => {
      const m = new End(new KexMachine(config(role))).start()
      assert.isUndefined(m.receive(IGNORE))
      const f = m.receive(kexInitLike(peerRole))
      assert.isTrue(isViolation(f), f?.description)
      assert.include(f!.description, "KEXINIT was not the first packet")
    })

    it(`SEC-13a: [non-strict] IGNORE before the peer's KEXINIT is fine (we are ${role})`, () => {
      const m = new End(new KexMachine(config(role))).start()
      assert.isUndefined(m.receive(IGNORE))
      assert.isUndefined(m.receive(kexInitLike(peerRole, { strict: false })))
      assert.isFalse(m.m.strict)
    })

    it(`SEC-13 (2): [strict] any non-KEX message during the initial exchange → D(2) (we are ${role})`, () => {
      const ext = TransportMessages.encodeServerSigAlgs(["ssh-ed25519"])
      for (const t of [2, 3, 4, 5, 6, 7, 8, 19, 50, 80, 94, 128, 150, 192, 255]) {
        const m = new End(new KexMachine(config(role))).start()
        m.receive(kexInitLike(peerRole))
        assert.isTrue(m.m.strict)
        const payload = t === 7 ? ext : new Uint8Array([t, 0, 0, 0, 0])
        assert.isTrue(isViolation(m.receive(payload)), `message ${t}`)
      }
    })

    it(`SEC-13: the IETF names kex-strict-c / kex-strict-s switch strict mode on too (we are ${role})`, () => {
      const m = new End(new KexMachine(config(role))).start()
      const init = decodeKexInit(kexInitLike(peerRole, { strict: false }))
      m.receive(enc({ ...init, kex: [...init.kex, `kex-strict-${peerRole === "client" ? "c" : "s"}`] }))
      assert.isTrue(m.m.strict)
      assert.isTrue(isViolation(m.receive(IGNORE)))
    })

    it(`SEC-13e: [non-strict] IGNORE, DEBUG and unknown messages during the initial exchange are accepted (we are ${role})`, () => {
      const m = new End(new KexMachine(config(role))).start()
      m.receive(kexInitLike(peerRole, { strict: false }))
      assert.isFalse(m.m.strict)
      assert.isUndefined(m.receive(IGNORE))
      assert.isUndefined(m.receive(enc({ _tag: "Debug", alwaysDisplay: false, message: "x", language: "" })))
      // Unassigned transport-generic numbers (the shell answers UNIMPLEMENTED); ≥ 50 stays refused (SEC-14).
      assert.isUndefined(m.m.gate(8))
      assert.isUndefined(m.m.gate(19))
      assert.isTrue(isViolation(m.m.gate(150)))
    })
  }

  it("SEC-13 (3): [strict] both sequence numbers reset at every NEWKEYS, the first exchange and every rekey", () => {
    const { client, server } = connected()
    for (let i = 0; i < 2; i++) {
      client.apply(client.m.initiate())
      pump(client, server)
    }
    for (const end of [client, server]) {
      const resets = end.outputs.flatMap((o) => (o._tag === "SendNewKeys" || o._tag === "InstallOpener" ? [o.resetSeq] : []))
      assert.deepStrictEqual(resets, [true, true, true, true, true, true])
    }
  })

  it("SEC-13 (3): without strict KEX no sequence number is reset", () => {
    const s = new End(new KexMachine(config("server"))).start()
    serverExchange(s, kexInitLike("client", { strict: false }))
    assert.strictEqual(s.m.completed, 1)
    assert.isFalse(s.m.strict)
    const resets = s.outputs.flatMap((o) => (o._tag === "SendNewKeys" || o._tag === "InstallOpener" ? [o.resetSeq] : []))
    assert.deepStrictEqual(resets, [false, false])
  })

  it("SEC-13h: the strict pseudo-algorithm only in a second KEXINIT does not switch strict mode on", () => {
    // The client's first KEXINIT lacks the marker: the exchange is not strict.
    const server = new End(new KexMachine(config("server"))).start()
    serverExchange(server, kexInitLike("client", { strict: false }))
    assert.strictEqual(server.m.completed, 1)
    assert.isFalse(server.m.strict)
    // The rekey KEXINIT names it: still not strict, an IGNORE during the rekey is fine, no sequence number resets.
    assert.isUndefined(server.receive(kexInitLike("client", { strict: true })))
    assert.isFalse(server.m.strict)
    assert.isUndefined(server.receive(IGNORE))
    assert.isUndefined(server.receive(ecdhInit()))
    assert.isUndefined(server.receive(NEWKEYS))
    assert.strictEqual(server.m.completed, 2)
    assert.isFalse(server.outputs.some((o) => (o._tag === "SendNewKeys" || o._tag === "InstallOpener") && o.resetSeq))
  })
})

describe("KexMachine: SEC-14 state machine", () => {
  it("SEC-14: NEWKEYS before the KEX reply → D(2) (client)", () => {
    const c = new End(new KexMachine(config("client"))).start()
    c.receive(kexInitLike("server"))
    const f = c.receive(NEWKEYS)
    assert.isTrue(isViolation(f), f?.description)
  })

  it("SEC-14: NEWKEYS before KEX_ECDH_INIT → D(2) (server)", () => {
    const s = new End(new KexMachine(config("server"))).start()
    s.receive(kexInitLike("client"))
    assert.isTrue(isViolation(s.receive(NEWKEYS)))
  })

  it("SEC-14: NEWKEYS with trailing bytes → D(2)", () => {
    const { client, server } = pair()
    client.start()
    server.start()
    // Let the server answer the client's ECDH_INIT, then send the client a NEWKEYS with a trailing byte.
    server.receive(client.take()[0]!)
    client.receive(server.take()[0]!)
    server.receive(client.take()[0]!)
    const fromServer = server.take()
    client.receive(fromServer[0]!)
    assert.isTrue(isViolation(client.receive(new Uint8Array([21, 0]))))
  })

  it("SEC-14: the client refuses KEXDH_INIT, the server refuses KEX_ECDH_REPLY", () => {
    const c = new End(new KexMachine(config("client"))).start()
    c.receive(kexInitLike("server"))
    assert.isTrue(isViolation(c.receive(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: new Uint8Array(32).fill(9) }))))
    const s = new End(new KexMachine(config("server"))).start()
    s.receive(kexInitLike("client"))
    const reply = KexMessages.encode({ _tag: "KexEcdhReply", hostKey: new Uint8Array(4), serverValue: new Uint8Array(32), signature: new Uint8Array(4) })
    assert.isTrue(isViolation(s.receive(reply)))
    assert.isFalse(s.sent.some((p) => p[0] === 31))
  })

  it("SEC-14: a second KEXINIT in one exchange → D(2)", () => {
    for (const role of ["client", "server"] as const) {
      const m = new End(new KexMachine(config(role))).start()
      const peer = role === "client" ? "server" : "client"
      assert.isUndefined(m.receive(kexInitLike(peer)))
      assert.isTrue(isViolation(m.receive(kexInitLike(peer), 1)))
    }
  })

  it("SEC-14: KEX messages outside an exchange → D(2); a stray KEX_ECDH_REPLY after completion → D(2)", () => {
    const { client, server } = connected()
    for (const t of [30, 31, 32, 33, 34, 49, 21]) {
      assert.isTrue(isViolation(client.m.gate(t)), String(t))
      assert.isTrue(isViolation(server.m.gate(t)), String(t))
    }
    // Before any KEXINIT from the peer, too.
    const fresh = new KexMachine(config("server"))
    fresh.initiate()
    assert.isTrue(isViolation(fresh.gate(30)))
  })

  it("SEC-14: DH-GEX REQUEST twice → D(2)", () => {
    const gexAlgs = { ...Algorithms.defaults, kex: ["diffie-hellman-group-exchange-sha256"] }
    const s = new End(new KexMachine(config("server", { algorithms: gexAlgs }))).start()
    s.receive(kexInitLike("client", { kex: ["diffie-hellman-group-exchange-sha256"] }))
    const req = KexMessages.encode({ _tag: "GexRequest", min: 2048, n: 3072, max: 8192 })
    assert.isUndefined(s.receive(req))
    assert.isTrue(s.sent.some((p) => p[0] === 31))
    assert.isTrue(isViolation(s.receive(req)))
  })

  it("SEC-14: DH-GEX GROUP twice → D(2) (client)", () => {
    const gexAlgs = { ...Algorithms.defaults, kex: ["diffie-hellman-group-exchange-sha256"] }
    const { client, server } = pair({ algorithms: gexAlgs }, { algorithms: gexAlgs })
    client.start()
    server.start()
    server.receive(client.take()[0]!) // KEXINIT
    client.receive(server.take()[0]!) // KEXINIT → GEX_REQUEST
    server.receive(client.take()[0]!) // GEX_REQUEST → GEX_GROUP
    const group = server.take()[0]!
    assert.strictEqual(group[0], 31)
    assert.isUndefined(client.receive(group))
    assert.isTrue(isViolation(client.receive(group)))
  })

  for (const phase of ["initial", "rekey"] as const) {
    it(`SEC-14: first_kex_packet_follows with a wrong guess discards exactly the next KEX packet (${phase})`, () => {
      const server = phase === "initial" ? new End(new KexMachine(config("server"))).start() : connected().server
      server.take()
      // The client prefers nistp256, the server curve25519: the guess is wrong by RFC 4253 §7 (the first entries
      // differ), although nistp256 is what is negotiated.
      const init = kexInitLike("client", {
        kex: ["ecdh-sha2-nistp256", "curve25519-sha256"],
        firstKexPacketFollows: true,
        strict: phase === "initial"
      })
      assert.isUndefined(server.receive(init))
      const value = () => KexMessages.encode({ _tag: "KexEcdhInit", clientValue: NodeCrypto.ecdh("nistp256").publicKey })
      // The guessed packet, even a valid one, is discarded without a reply…
      assert.isUndefined(server.receive(value()))
      assert.isFalse(server.sent.some((p) => p[0] === 31))
      // …and exactly one: the next one is answered, and the exchange completes.
      assert.isUndefined(server.receive(value()))
      assert.strictEqual(server.sent.filter((p) => p[0] === 31).length, 1)
      assert.isUndefined(server.receive(NEWKEYS))
      assert.strictEqual(server.m.completed, phase === "initial" ? 1 : 2)
      assert.strictEqual(server.m.negotiated?.kex, "ecdh-sha2-nistp256")
    })
  }

  it("SEC-14: first_kex_packet_follows with a right guess: the guessed packet is used", () => {
    const s = new End(new KexMachine(config("server"))).start()
    const init = kexInitLike("client", { firstKexPacketFollows: true })
    assert.isUndefined(s.receive(init))
    assert.isUndefined(s.receive(ecdhInit()))
    assert.isTrue(s.sent.some((p) => p[0] === 31))
    assert.isUndefined(s.receive(NEWKEYS))
    assert.strictEqual(s.m.completed, 1)
  })

  it("SEC-14: after the peer's rekey KEXINIT, non-transport messages and SERVICE_REQUEST/ACCEPT/EXT_INFO → D(2)", () => {
    for (const t of [5, 6, 7, 50, 80, 94, 98, 150]) {
      const { server } = connected()
      server.receive(kexInitLike("client", { strict: false, extInfo: false }))
      const payload = t === 7 ? TransportMessages.encodeServerSigAlgs(["ssh-ed25519"]) : new Uint8Array([t, 0, 0, 0, 0])
      assert.isTrue(isViolation(server.receive(payload)), String(t))
    }
    // …while IGNORE and DEBUG remain fine outside strict initial KEX.
    const { server } = connected()
    server.receive(kexInitLike("client", { strict: false, extInfo: false }))
    assert.isUndefined(server.receive(IGNORE))
  })

  it("SEC-14: before the peer's KEXINIT of a rekey we started, its upper-layer messages are still fine", () => {
    const { server } = connected()
    server.apply(server.m.initiate())
    assert.isUndefined(server.receive(new Uint8Array([94, 0, 0, 0, 0])))
    assert.strictEqual(server.delivered.length, 1)
  })

  it("SEC-07: the machine counts an exchange as completed only after both NEWKEYS", () => {
    const { client, server } = pair()
    client.start()
    server.start()
    server.receive(client.take()[0]!)
    client.receive(server.take()[0]!)
    server.receive(client.take()[0]!)
    assert.strictEqual(server.m.completed, 0)
    const toClient = server.take()
    for (const p of toClient) client.receive(p)
    assert.strictEqual(client.m.completed, 1)
    assert.strictEqual(server.m.completed, 0)
    server.receive(client.take()[0]!)
    assert.strictEqual(server.m.completed, 1)
  })
})

describe("KexMachine: SEC-16 KEXINIT contents (LIM-12)", () => {
  /** A client KEXINIT whose kex name-list is exactly `kex` (byte 20, 16-byte cookie, then the list at offset 17). */
  const withKex = (kex: string) => {
    const init = kexInitLike("client")
    const oldLength = new DataView(init.buffer, init.byteOffset).getUint32(17)
    const head = init.subarray(0, 17)
    const tail = init.subarray(17 + 4 + oldLength)
    const name = new TextEncoder().encode(kex)
    const out = new Uint8Array(head.length + 4 + name.length + tail.length)
    out.set(head)
    new DataView(out.buffer).setUint32(head.length, name.length)
    out.set(name, head.length + 4)
    out.set(tail, head.length + 4 + name.length)
    return out
  }

  const refused = (payload: Uint8Array) => {
    const s = new End(new KexMachine(config("server"))).start()
    return s.receive(payload)
  }

  it("SEC-16: a kex list of 3 000 names × 64 chars → D(2)", () => {
    const names = Array.from({ length: 3000 }, (_, i) => ("n" + i).padEnd(64, "x")).join(",")
    assert.isTrue(isViolation(refused(withKex(names))))
  })

  it("SEC-16 / LIM-12: a 65-char name → D(2); 64 chars is fine", () => {
    assert.isTrue(isViolation(refused(withKex("curve25519-sha256," + "a".repeat(65)))))
    assert.isUndefined(refused(withKex("curve25519-sha256," + "a".repeat(64))))
  })

  it("SEC-16: `a,,b`, a leading or trailing comma, a control char, a space, DEL or a high byte → D(2)", () => {
    for (const bad of ["curve25519-sha256,,b", ",curve25519-sha256", "curve25519-sha256,", "curve25519-sha256,a\x01b", "curve25519-sha256,a b", "curve25519-sha256,a\x7fb", "curve25519-sha256,a\u00e9b", "curve25519-sha256,a\0b"]) {
      assert.isTrue(isViolation(refused(withKex(bad))), JSON.stringify(bad))
    }
  })

  it("LIM-12: 128 names per list are fine, 129 → D(2); a list over 8 KiB → D(2)", () => {
    const names = (n: number) => ["curve25519-sha256", ...Array.from({ length: n - 1 }, (_, i) => `x${i}`)].join(",")
    assert.isUndefined(refused(withKex(names(128))))
    assert.isTrue(isViolation(refused(withKex(names(129)))))
    const big = ["curve25519-sha256", ...Array.from({ length: 127 }, (_, i) => `y${i}`.padEnd(64, "z"))].join(",")
    assert.isAbove(big.length, 8192)
    assert.isTrue(isViolation(refused(withKex(big))))
  })

  it("SEC-16: a truncated KEXINIT or one with a trailing byte → D(2)", () => {
    const init = kexInitLike("client")
    assert.isTrue(isViolation(refused(init.subarray(0, init.length - 1))))
    const longer = new Uint8Array(init.length + 1)
    longer.set(init)
    assert.isTrue(isViolation(refused(longer)))
  })

  it("SEC-16: the reserved field is ignored", () => {
    assert.isUndefined(refused(enc({ ...decodeKexInit(kexInitLike("client")), reserved: 0xffffffff })))
  })

  it("SEC-16: no common cipher → D(3) naming both lists", () => {
    const f = refused(enc({ ...decodeKexInit(kexInitLike("client")), cipherC2S: ["aes256-cbc", "3des-cbc"] }))
    assert.isTrue(isViolation(f, 3))
    assert.strictEqual(f!.reason, "NoCommonAlgorithm")
    assert.include(f!.description, "aes256-cbc")
    assert.include(f!.description, "3des-cbc")
    assert.include(f!.description, "aes128-gcm@openssh.com")
  })

  it("SEC-16: no common kex, host key, MAC or compression → D(3)", () => {
    const base = decodeKexInit(kexInitLike("client"))
    for (const patch of [
      { kex: ["sntrup4591761x25519-sha512@tinyssh.org", "kex-strict-c-v00@openssh.com"] },
      { hostKey: ["ssh-dss"] },
      { cipherS2C: ["aes128-ctr"], macS2C: ["hmac-md5"] },
      { compressionC2S: ["zlib"] }
    ]) {
      assert.isTrue(isViolation(refused(enc({ ...base, ...patch })), 3), JSON.stringify(patch))
    }
  })

  it("SEC-16: the pseudo-algorithms are never chosen as the key exchange", () => {
    const f = refused(enc({ ...decodeKexInit(kexInitLike("client")), kex: ["ext-info-c", "kex-strict-c-v00@openssh.com"] }))
    assert.isTrue(isViolation(f, 3))
  })

  it("SEC-16: AEAD negotiated with empty MAC lists → the exchange completes", () => {
    const client = new End(new KexMachine(config("client", {
      algorithms: { ...Algorithms.defaults, cipher: ["chacha20-poly1305@openssh.com"], mac: [] }
    })))
    const server = new End(new KexMachine(config("server")))
    client.start()
    server.start()
    pump(client, server)
    assert.isUndefined(client.failure ?? server.failure)
    assert.strictEqual(server.m.negotiated?.macC2S, undefined)
    assert.strictEqual(server.m.completed, 1)
  })

  it("SEC-16: the host key algorithm must match a key the server holds", () => {
    const s = new End(new KexMachine(config("server", { hostKeys: [serverKey(testHostKeys()[0]!)] }))).start()
    assert.deepStrictEqual(decodeKexInit(s.sent[0]!).hostKey, ["ssh-ed25519"])
    assert.isTrue(isViolation(s.receive(enc({ ...decodeKexInit(kexInitLike("client")), hostKey: ["ecdsa-sha2-nistp256"] })), 3))
  })
})

describe("KexMachine: SEC-17/SEC-18/SEC-19 values and signatures", () => {
  it("SEC-18: the server refuses bad X25519 client values with D(3) and sends no reply", () => {
    const p = new Uint8Array(32).fill(0xff)
    p[0] = 0xed
    p[31] = 0x7f
    const p1 = p.slice()
    p1[0] = 0xee
    const one = new Uint8Array(32)
    one[0] = 1
    for (const q of [new Uint8Array(32), one, p, p1, new Uint8Array(31).fill(9), new Uint8Array(33).fill(9), new Uint8Array(0)]) {
      const s = new End(new KexMachine(config("server"))).start()
      s.receive(kexInitLike("client"))
      s.take()
      const f = s.receive(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: q }))
      assert.isTrue(isViolation(f, 3), `${q.length} bytes: ${f?.description}`)
      assert.deepStrictEqual(s.take(), [])
    }
  })

  it("SEC-17: the server refuses DH e ∉ (1, p−1) with D(3)", () => {
    const algs = { ...Algorithms.defaults, kex: ["diffie-hellman-group14-sha256"] }
    const p = MODP_2048.p
    const body = Writer.mpintBytes
    for (const e of [0n, 1n, p - 1n, p, p + 1n, 1n << 8192n]) {
      const s = new End(new KexMachine(config("server", { algorithms: algs }))).start()
      s.receive(kexInitLike("client", { kex: ["diffie-hellman-group14-sha256"] }))
      s.take()
      const f = s.receive(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: body(e) }))
      assert.isTrue(f !== undefined && (f.code === 3 || f.code === 2), `e = ${e.toString(16).slice(0, 8)}…: ${f?.description}`)
      assert.deepStrictEqual(s.take(), [])
    }
    // A negative mpint (MSB set without a leading zero).
    const s = new End(new KexMachine(config("server", { algorithms: algs }))).start()
    s.receive(kexInitLike("client", { kex: ["diffie-hellman-group14-sha256"] }))
    assert.isTrue(isViolation(s.receive(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: new Uint8Array(256).fill(0x80) })), 3))
  })

  it("SEC-19: one flipped bit in the server's signature → client D(3), no NEWKEYS", () => {
    const { client, server } = pair()
    client.start()
    server.start()
    server.receive(client.take()[0]!)
    client.receive(server.take()[0]!)
    server.receive(client.take()[0]!)
    const [reply] = server.take()
    const r = KexMessages.decodeEcdh(reply!)
    assert.isTrue(r._tag === "Right" && r.right._tag === "KexEcdhReply")
    if (r._tag !== "Right" || r.right._tag !== "KexEcdhReply") return
    const sig = r.right.signature.slice()
    sig[sig.length - 5]! ^= 0x01
    const f = client.receive(KexMessages.encode({ ...r.right, signature: sig }))
    assert.isTrue(isViolation(f, 3), f?.description)
    assert.isFalse(client.outputs.some((o) => o._tag === "SendNewKeys" || o._tag === "VerifyHostKey"))
  })
})

describe("KexMachine: SEC-21 / LIM-13 EXT_INFO", () => {
  const ext = (n = 1) =>
    TransportMessages.encode({ _tag: "ExtInfo", extensions: Array.from({ length: n }, (_, i) => ({ name: `e${i}`, value: new Uint8Array(0) })) })

  /** Client and server right after the client processed the server's NEWKEYS (so an EXT_INFO would be next). */
  const atExtInfo = () => {
    const { client, server } = pair()
    client.start()
    server.start()
    server.receive(client.take()[0]!)
    client.receive(server.take()[0]!)
    server.receive(client.take()[0]!)
    const fromServer = server.take()
    const extInfo = fromServer.find((p) => p[0] === 7)
    for (const p of fromServer.filter((p) => p[0] !== 7)) client.receive(p)
    return { client, server, extInfo }
  }

  it("SEC-21: our server sends EXT_INFO (server-sig-algs) right after NEWKEYS when the client asked", () => {
    const { client, extInfo } = atExtInfo()
    assert.isDefined(extInfo)
    assert.isUndefined(client.receive(extInfo!))
    const e = client.outputs.find((o) => o._tag === "ExtInfo")
    assert.isTrue(e !== undefined && e._tag === "ExtInfo" && (e.serverSigAlgs?.includes("ssh-ed25519") ?? false))
  })

  it("SEC-21: no EXT_INFO from our server when the client did not ask (no ext-info-c)", () => {
    const s = new End(new KexMachine(config("server"))).start()
    serverExchange(s, kexInitLike("client", { extInfo: false }))
    assert.isFalse(s.sent.some((p) => p[0] === 7))
    const asked = new End(new KexMachine(config("server"))).start()
    serverExchange(asked, kexInitLike("client", { extInfo: true }))
    assert.isTrue(asked.sent.some((p) => p[0] === 7))
  })

  it("LIM-13: EXT_INFO with 1 024 entries is fine; nr = 1 025 → D(2); nr = 0xFFFFFFFF with no body → D(2)", () => {
    assert.isUndefined(atExtInfo().client.receive(ext(1024)))
    assert.isTrue(isViolation(atExtInfo().client.receive(ext(1025))))
    assert.isTrue(isViolation(atExtInfo().client.receive(new Uint8Array([7, 0xff, 0xff, 0xff, 0xff]))))
  })

  it("LIM-13: a second and a third EXT_INFO → D(2)", () => {
    const { client, extInfo } = atExtInfo()
    assert.isUndefined(client.receive(extInfo!))
    assert.isTrue(isViolation(client.receive(ext())))
    const again = atExtInfo().client
    again.receive(extInfo!)
    again.receive(ext())
    assert.isTrue(isViolation(again.receive(ext())))
  })

  it("LIM-13: EXT_INFO at a wrong position → D(2): not the first message after NEWKEYS, before NEWKEYS, after a rekey", () => {
    const a = atExtInfo().client
    assert.isUndefined(a.receive(IGNORE))
    assert.isTrue(isViolation(a.receive(ext())))
    // Before NEWKEYS (strict: D(2) too).
    const c = new End(new KexMachine(config("client"))).start()
    c.receive(kexInitLike("server", { strict: false }))
    assert.isTrue(isViolation(c.receive(ext())))
    // Right after a rekey's NEWKEYS.
    const { client, server } = connected()
    client.apply(client.m.initiate())
    pump(client, server)
    assert.strictEqual(client.m.completed, 2)
    assert.isTrue(isViolation(client.receive(ext())))
  })

  it("SEC-21: the server takes one EXT_INFO from the client, as the first message after the client's NEWKEYS", () => {
    const { client, server } = pair()
    client.start()
    server.start()
    pump(client, server)
    assert.isUndefined(server.receive(ext()))
    assert.isTrue(isViolation(server.receive(ext())))
  })

  it("SEC-21: ext-info-c in a rekey KEXINIT does not trigger a second EXT_INFO from our server", () => {
    const server = new End(new KexMachine(config("server"))).start()
    serverExchange(server, kexInitLike("client", { extInfo: true }))
    assert.isTrue(server.take().some((p) => p[0] === 7))
    serverExchange(server, kexInitLike("client", { extInfo: true, strict: false }))
    assert.strictEqual(server.m.completed, 2)
    const rekeySent = server.take()
    assert.isTrue(rekeySent.some((p) => p[0] === 21))
    assert.isFalse(rekeySent.some((p) => p[0] === 7))
  })
})

describe("KexMachine: SEC-10 defect isolation", () => {
  for (const role of ["client", "server"] as const) {
    it.prop(`SEC-10: random payloads never make the machine throw (we are ${role})`, [
      FastCheck.array(FastCheck.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 6 })
    ], ([payloads]) => {
      const m = new End(new KexMachine(config(role))).start()
      const peer = role === "client" ? "server" : "client"
      m.receive(kexInitLike(peer))
      for (const p of payloads) {
        if (m.receive(p) !== undefined) break
      }
    })

    it.prop(`SEC-10: mutated KEXINITs never make the machine throw (we are ${role})`, [
      FastCheck.integer({ min: 0, max: 2000 }),
      FastCheck.integer({ min: 0, max: 255 })
    ], ([pos, value]) => {
      const init = kexInitLike(role === "client" ? "server" : "client")
      const m = new End(new KexMachine(config(role))).start()
      const mutated = init.slice()
      mutated[pos % mutated.length] = value
      m.receive(mutated)
    })
  }
})
