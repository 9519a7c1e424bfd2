/**
 * PacketReader's read arena (`readBuffer`, used by NodeLink's `onread` for sockets we dial): socket reads land
 * right after the unread bytes, so a packet split between reads is whole without a copy and a bulk transfer reads
 * into one buffer. Payloads handed out must never be overwritten by later reads, whether the opener decrypts out of
 * place (`fresh`) or returns views of the wire (the plaintext phase); buffering stays bounded by one packet
 * (SEC-01).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Ciphers from "../../../src/crypto/Ciphers.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import { DEFAULT_MAX_PACKET, isPacketError, PacketReader, PacketWriter } from "../../../src/transport/PacketCodec.js"
import { concatBytes } from "../../../src/wire/Bytes.js"

const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 29 + seed) & 0xff)

/** Plays a socket: each read copies up to `size(k)` bytes of `wire` into the region the reader offers. */
const readAll = (reader: PacketReader, wire: Uint8Array, size: (k: number) => number) => {
  const got: Array<Uint8Array> = []
  const buffers = new Set<ArrayBufferLike>()
  for (let at = 0, k = 0; at < wire.length; k++) {
    const region = reader.readBuffer()
    buffers.add(region.buffer)
    const n = Math.min(size(k), region.length, wire.length - at)
    region.set(wire.subarray(at, at + n))
    reader.push(region.subarray(0, n))
    at += n
    for (let r = reader.next(); r instanceof Uint8Array; r = reader.next()) got.push(r)
  }
  return { got, buffers }
}

const packets = (count: number, max: number) =>
  Array.from({ length: count }, (_, i) => {
    const p = pattern(1 + ((i * 997) % max), i)
    p[0] = 94
    return p
  })

describe("PacketReader: reads into its own arena", () => {
  for (const [cipher, mac] of [["aes128-gcm@openssh.com", undefined], ["chacha20-poly1305@openssh.com", undefined], ["aes128-ctr", "hmac-sha2-256-etm@openssh.com"]] as const) {
    it(`${cipher}: split packets arrive intact and a bulk transfer reads into one buffer`, () => {
      const spec = Ciphers.cipherSpec(cipher)!
      const m = mac === undefined ? undefined : Ciphers.macSpec(mac)!
      const keys = { iv: pattern(spec.ivLength, 1), key: pattern(spec.keyLength, 2), macKey: pattern(m?.keyLength ?? 0, 3) }
      const writer = new PacketWriter(Ciphers.makeSealer(NodeCrypto, spec, m, keys), (n) => pattern(n, 4))
      const reader = new PacketReader(Ciphers.makeOpener(NodeCrypto, spec, m, keys))
      const sent = packets(300, 33_000)
      const wire = concatBytes(sent.map((p) => writer.seal(p)))
      // Reads that never line up with packets, from a few bytes to more than a packet.
      const { buffers, got } = readAll(reader, wire, (k) => 4096 + ((k * 7919) % 60_000))
      assert.strictEqual(got.length, sent.length)
      for (let i = 0; i < sent.length; i++) assert.deepStrictEqual(got[i], sent[i], `packet ${i}`)
      // The opener decrypts out of place: after the first (small) arena, one bulk arena compacted in place.
      assert.isAtMost(buffers.size, 2)
      assert.strictEqual(reader.buffered, 0)
    })
  }

  it("copies per packet (DESIGN.md §6): chunks as `data` events give them vs reads into the arena", () => {
    const spec = Ciphers.cipherSpec("aes128-gcm@openssh.com")!
    const keys = { iv: pattern(spec.ivLength, 1), key: pattern(spec.keyLength, 2), macKey: new Uint8Array(0) }
    const writer = new PacketWriter(Ciphers.makeSealer(NodeCrypto, spec, undefined, keys), (n) => pattern(n, 4))
    // sshd's packets from `head -c`: 4, 16 and 32 KiB of data.
    const wire = concatBytes(packets(300, 1).map((_, i) => writer.seal(pattern([4096, 16384, 32768][i % 3]!, i).fill(94, 0, 1))))
    const size = (k: number) => 4096 + ((k * 7919) % 60_000)
    const chunked = new PacketReader(Ciphers.makeOpener(NodeCrypto, spec, undefined, keys))
    for (let at = 0, k = 0; at < wire.length; k++) {
      chunked.push(wire.slice(at, at + size(k)))
      at += size(k)
      while (chunked.next() instanceof Uint8Array);
    }
    const arena = new PacketReader(Ciphers.makeOpener(NodeCrypto, spec, undefined, keys))
    assert.strictEqual(readAll(arena, wire, size).got.length, 300)
    assert.strictEqual(chunked.packets, 300)
    const copies = (r: PacketReader) => r.copiedBytes / r.bytes
    // Chunks: most packets straddle two and are assembled (0.64 copies of every byte here); the arena only moves
    // the unread start of a packet when it compacts (0.08).
    assert.isAbove(copies(chunked), 0.5)
    assert.isBelow(copies(arena), 0.1)
  })

  it("plaintext phase (payloads view the wire): no read ever lands on a payload handed out", () => {
    const writer = new PacketWriter(undefined, (n) => pattern(n, 4))
    const reader = new PacketReader()
    const sent = packets(400, 9_000)
    const { buffers, got } = readAll(reader, concatBytes(sent.map((p) => writer.seal(p))), (k) => 1 + ((k * 7919) % 70_000))
    // Checked after every read is done: a reused arena would have overwritten early payloads by now.
    assert.deepStrictEqual(got, sent)
    assert.isAbove(buffers.size, 1)
  })

  it("chunks from elsewhere (the version exchange's rest) mix with arena reads", () => {
    const writer = new PacketWriter(undefined, (n) => pattern(n, 4))
    const reader = new PacketReader()
    const sent = packets(50, 3_000)
    const wire = concatBytes(sent.map((p) => writer.seal(p)))
    reader.push(wire.slice(0, 1000))
    assert.deepStrictEqual(readAll(reader, wire.subarray(1000), (k) => 500 + k * 311).got, sent)
  })

  it("SEC-01: the arena never grows past one packet and one read; a length over the limit fails before buffering", () => {
    const reader = new PacketReader()
    const header = new Uint8Array([0x7f, 0xff, 0xff, 0xf0, 4])
    const region = reader.readBuffer()
    region.set(header)
    reader.push(region.subarray(0, header.length))
    const r = reader.next()
    assert.isTrue(isPacketError(r) && r.reason === "PacketTooLarge")

    const big = new PacketReader()
    const writer = new PacketWriter(undefined, (n) => pattern(n, 4))
    const wire = writer.seal(pattern(200_000, 9).fill(94, 0, 1))
    const { got } = readAll(big, wire, () => 1000)
    assert.strictEqual(got.length, 1)
    assert.deepStrictEqual(got[0]!.length, 200_000)
    assert.isAtMost(big.readBuffer().buffer.byteLength, DEFAULT_MAX_PACKET + 4 + 64 * 1024)
  })

  it("after small reads an idle reader lets the large arena go", () => {
    const writer = new PacketWriter(undefined, (n) => pattern(n, 4))
    const reader = new PacketReader()
    readAll(reader, concatBytes(packets(20, 20_000).map((p) => writer.seal(p))), () => 30_000)
    assert.isAtLeast(reader.readBuffer().buffer.byteLength, 256 * 1024)
    // A keystroke's echo: a small packet in one small read, then nothing.
    readAll(reader, writer.seal(new Uint8Array([94, 1, 2, 3])), () => 100)
    assert.strictEqual(reader.buffered, 0)
    assert.isAtMost(reader.readBuffer().buffer.byteLength, 16 * 1024)
  })
})
