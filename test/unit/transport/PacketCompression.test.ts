/**
 * When the transport compresses (RFC 4253 §6.2, OpenSSH PROTOCOL §1.2 and packet.c), on the sans-IO packet codec:
 * `zlib` from NEWKEYS, `zlib@openssh.com` only after USERAUTH_SUCCESS (sent by the server, received by the client),
 * a fresh stream at every NEWKEYS, nothing at all for `none`; and the reader's D(6) cases (SEC-51, LIM-08).
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeCompression } from "../../../src/node/NodeCompression.js"
import type { Negotiated } from "../../../src/transport/KexMachine.js"
import { PacketCompression } from "../../../src/transport/internal/compression.js"
import { isPacketError, PacketReader, PacketWriter } from "../../../src/transport/PacketCodec.js"
import { resolvePreferences } from "../../../src/transport/internal/preferences.js"

const zlib = NodeCompression.zlib!
const random = (n: number) => new Uint8Array(n)

const negotiated = (c2s: string, s2c: string = c2s): Negotiated => ({
  kex: "curve25519-sha256",
  hostKey: "ssh-ed25519",
  cipherC2S: "aes128-ctr",
  cipherS2C: "aes128-ctr",
  macC2S: "hmac-sha2-256",
  macS2C: "hmac-sha2-256",
  compressionC2S: c2s,
  compressionS2C: s2c
})

/** Our side in `role` plus a peer codec on the other end of a byte pipe (both plaintext). */
const connection = (role: "client" | "server") => {
  const reader = new PacketReader()
  const writer = new PacketWriter(undefined, random)
  const state = new PacketCompression(role, zlib, reader, writer)
  const peerReader = new PacketReader()
  const peerWriter = new PacketWriter(undefined, random)
  /** Our payload → the peer. */
  const send = (payload: Uint8Array): Uint8Array => {
    peerReader.push(writer.seal(payload))
    state.sent(payload)
    const r = peerReader.next()
    if (r === undefined || isPacketError(r)) throw new Error("the peer could not read our packet")
    return r
  }
  /** The peer's payload → us. */
  const receive = (payload: Uint8Array): Uint8Array => {
    reader.push(peerWriter.seal(payload))
    const r = reader.next()
    if (r === undefined || isPacketError(r)) throw new Error(`we could not read the peer's packet: ${JSON.stringify(r)}`)
    state.received(r)
    return r
  }
  return { reader, writer, state, peerReader, peerWriter, send, receive }
}

const msg = (type: number, size = 200) => new Uint8Array(size).fill(0x41).fill(type, 0, 1)

describe("PacketCompression: when each direction compresses", () => {
  it("none: no stream is installed, in either direction, before or after auth", () => {
    const c = connection("server")
    c.state.newKeysSent(negotiated("none"))
    c.state.newKeysReceived(negotiated("none"))
    c.send(Uint8Array.of(52))
    assert.isUndefined(c.writer.deflater)
    assert.isUndefined(c.reader.inflater)
    assert.strictEqual(c.writer.deflated, 0)
  })

  it("zlib: both directions compress from the packet after NEWKEYS, before authentication", () => {
    const c = connection("client")
    c.state.newKeysSent(negotiated("zlib"))
    c.peerReader.inflater = zlib.inflater()
    const p = msg(5)
    assert.deepStrictEqual(c.send(p), p)
    assert.strictEqual(c.writer.deflated, 1)
    c.state.newKeysReceived(negotiated("zlib"))
    c.peerWriter.deflater = zlib.deflater()
    assert.deepStrictEqual(c.receive(msg(6)), msg(6))
    assert.strictEqual(c.reader.inflated, 1)
  })

  for (const role of ["server", "client"] as const) {
    it(`SEC-51: zlib@openssh.com on the ${role} starts only after USERAUTH_SUCCESS ${role === "server" ? "is sent" : "is received"}`, () => {
      const c = connection(role)
      c.state.newKeysSent(negotiated("zlib@openssh.com"))
      c.state.newKeysReceived(negotiated("zlib@openssh.com"))
      // Pre-auth traffic is not compressed, either way.
      assert.deepStrictEqual(c.send(msg(50)), msg(50))
      assert.deepStrictEqual(c.receive(msg(51)), msg(51))
      assert.strictEqual(c.writer.deflated + c.reader.inflated, 0)
      if (role === "server") {
        // The server sends USERAUTH_SUCCESS uncompressed; compression starts with the next packet.
        assert.deepStrictEqual(c.send(Uint8Array.of(52)), Uint8Array.of(52))
      } else {
        c.receive(Uint8Array.of(52))
      }
      assert.isDefined(c.writer.deflater)
      assert.isDefined(c.reader.inflater)
      c.peerReader.inflater = zlib.inflater()
      c.peerWriter.deflater = zlib.deflater()
      for (let k = 0; k < 50; k++) {
        assert.deepStrictEqual(c.send(msg(94, 1000 + k)), msg(94, 1000 + k))
        assert.deepStrictEqual(c.receive(msg(94, 2000 + k)), msg(94, 2000 + k))
      }
      assert.strictEqual(c.writer.deflated, 50)
      assert.strictEqual(c.reader.inflated, 50)
    })
  }

  it("a USERAUTH_SUCCESS going the other way (received by a server, sent by a client) switches nothing on", () => {
    const server = connection("server")
    server.state.newKeysSent(negotiated("zlib@openssh.com"))
    server.state.newKeysReceived(negotiated("zlib@openssh.com"))
    server.receive(Uint8Array.of(52))
    assert.isFalse(server.state.authenticated)
    const client = connection("client")
    client.state.newKeysSent(negotiated("zlib@openssh.com"))
    client.send(Uint8Array.of(52))
    assert.isFalse(client.state.authenticated)
    assert.isUndefined(client.writer.deflater)
  })

  it("every NEWKEYS starts a fresh stream (RFC 4253 §6.2, OpenSSH ssh_set_newkeys): the zlib header again", () => {
    const c = connection("client")
    c.state.newKeysSent(negotiated("zlib@openssh.com"))
    c.state.newKeysReceived(negotiated("zlib@openssh.com"))
    c.receive(Uint8Array.of(52))
    const first = c.writer.deflater!.compress(msg(94)).slice()
    const again = c.writer.deflater!.compress(msg(94)).slice()
    c.state.newKeysSent(negotiated("zlib@openssh.com"))
    const afterRekey = c.writer.deflater!.compress(msg(94)).slice()
    // RFC 1950 header 0x78 0x9c opens a stream; a continuing stream does not repeat it.
    assert.deepStrictEqual([first[0], first[1]], [0x78, 0x9c])
    assert.notDeepEqual(again, first)
    assert.deepStrictEqual(afterRekey, first)
  })

  it("after auth, a rekey that negotiates zlib@openssh.com compresses from its NEWKEYS; one to none stops", () => {
    const c = connection("server")
    c.state.newKeysSent(negotiated("none"))
    c.state.newKeysReceived(negotiated("none"))
    c.send(Uint8Array.of(52))
    assert.isUndefined(c.writer.deflater)
    c.state.newKeysSent(negotiated("zlib@openssh.com"))
    c.state.newKeysReceived(negotiated("zlib@openssh.com"))
    assert.isDefined(c.writer.deflater)
    assert.isDefined(c.reader.inflater)
    c.state.newKeysSent(negotiated("none", "zlib@openssh.com"))
    c.state.newKeysReceived(negotiated("none", "zlib@openssh.com"))
    // The server sends S2C (still zlib@openssh.com) and reads C2S (now none).
    assert.isDefined(c.writer.deflater)
    assert.isUndefined(c.reader.inflater)
    c.state.close()
    assert.isUndefined(c.writer.deflater)
  })
})

describe("PacketReader with an inflater (SEC-51, LIM-08)", () => {
  it("SEC-51 / LIM-08: a payload inflating past maxPacket is a CompressionError; so is garbage", () => {
    const d = zlib.deflater()
    const bomb = d.compress(new Uint8Array(300_000)).slice()
    const writer = new PacketWriter(undefined, random)
    const reader = new PacketReader(undefined, 262_144)
    reader.inflater = zlib.inflater()
    reader.push(writer.seal(bomb))
    const r = reader.next()
    assert.isTrue(isPacketError(r) && r.reason === "CompressionError")
    const garbage = new PacketReader()
    garbage.inflater = zlib.inflater()
    garbage.push(writer.seal(Uint8Array.of(1, 2, 3, 4, 5)))
    const g = garbage.next()
    assert.isTrue(isPacketError(g) && g.reason === "CompressionError")
  })

  it("a payload that inflates to nothing is a protocol violation (no message number)", () => {
    const d = zlib.deflater()
    const header = d.compress(Uint8Array.of(1)).slice() // opens the stream
    const empty = Uint8Array.of(0x00, 0x00, 0x00, 0xff, 0xff) // an empty stored block (a sync flush)
    const reader = new PacketReader()
    reader.inflater = zlib.inflater()
    const writer = new PacketWriter(undefined, random)
    reader.push(writer.seal(header))
    assert.deepStrictEqual(reader.next(), Uint8Array.of(1))
    reader.push(writer.seal(empty))
    const r = reader.next()
    assert.isTrue(isPacketError(r) && r.reason === "ProtocolViolation")
  })
})

describe("compression preferences (SEC-51)", () => {
  const lists = (o: Parameters<typeof resolvePreferences>) => {
    const r = resolvePreferences(...o)
    return typeof r === "string" ? r : r.compression
  }
  it("client default none; server default none,zlib@openssh.com — never zlib unless named", () => {
    assert.deepStrictEqual(lists([undefined, "client", true]), ["none"])
    assert.deepStrictEqual(lists([undefined, "server", true]), ["none", "zlib@openssh.com"])
    assert.deepStrictEqual(lists([{ compression: "+zlib" }, "server", true]), ["none", "zlib@openssh.com", "zlib"])
    assert.deepStrictEqual(lists([{ compression: ["zlib@openssh.com", "none"] }, "client", true]), ["zlib@openssh.com", "none"])
  })
  it("without a zlib backend only none is offered, and naming zlib is a configuration error", () => {
    assert.deepStrictEqual(lists([undefined, "server", false]), ["none"])
    const e = lists([{ compression: "zlib@openssh.com" }, "client", false])
    assert.isString(e)
    assert.include(String(e), "compression backend")
  })
})
