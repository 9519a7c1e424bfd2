import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as NodeCrypto from "node:crypto"
import { poly1305Reference } from "../../../src/crypto/cipher/Poly1305.js"
import { makeUmac } from "../../../src/crypto/mac/Umac.js"
import { symmetric as NodeBackend } from "../../../src/node/NodeSymmetric.js"
import * as Algorithms from "../../../src/crypto/Algorithms.js"
import type { CryptoBackend } from "../../../src/crypto/Backend.js"
import * as Ciphers from "../../../src/crypto/Ciphers.js"
import * as Negotiate from "../../../src/crypto/Negotiate.js"
import type { DirectionKeys, PacketOpener, PacketSealer } from "../../../src/crypto/PacketCipher.js"
import { PacketReader, PacketWriter } from "../../../src/transport/PacketCodec.js"
import { backends } from "../../helpers/Backends.js"
import { arbEdit, mutate } from "../../helpers/Fuzz.js"

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")
const rand = (n: number): Uint8Array => Uint8Array.from(NodeCrypto.randomBytes(n))
const pairs = backends.flatMap((a) => backends.map((b) => [a, b] as const))

interface Combo {
  readonly label: string
  readonly cipher: Ciphers.CipherSpec
  readonly mac: Ciphers.MacSpec | undefined
}

// Every MAC with one CTR and one CBC cipher; every other cipher with one MAC of each kind (ETM HMAC, E&M HMAC,
// E&M UMAC): the full product (7 × 16) would add little but run time.
const FULL = new Set(["aes128-ctr", "aes128-cbc"])
const SOME_MACS = new Set(["hmac-sha2-256-etm@openssh.com", "hmac-sha1", "umac-64@openssh.com"])
const combos: ReadonlyArray<Combo> = Ciphers.cipherSpecs.flatMap((cipher): ReadonlyArray<Combo> =>
  cipher.aead
    ? [{ label: cipher.name, cipher, mac: undefined }]
    : Ciphers.macSpecs
      .filter((mac) => FULL.has(cipher.name) || SOME_MACS.has(mac.name))
      .map((mac) => ({ label: `${cipher.name} + ${mac.name}`, cipher, mac }))
)

const makeKeys = (c: Combo): DirectionKeys => ({
  key: rand(c.cipher.keyLength),
  iv: rand(c.cipher.ivLength),
  macKey: rand(c.mac?.keyLength ?? 0)
})

/** A plaintext packet padded as RFC 4253 §6 and the sealer's alignment rules require (as PacketWriter does). */
const makePacket = (s: PacketSealer, payload: Uint8Array): Uint8Array => {
  const base = s.lengthAligned ? 5 + payload.length : 1 + payload.length
  let padding = s.blockSize - (base % s.blockSize)
  if (padding < 4) padding += s.blockSize
  const len = 1 + payload.length + padding
  const packet = new Uint8Array(4 + len)
  new DataView(packet.buffer).setUint32(0, len)
  packet[4] = padding
  packet.set(payload, 5)
  packet.set(rand(padding), 5 + payload.length)
  return packet
}

/** Frames and opens one wire packet the way PacketReader does. */
const openWire = (o: PacketOpener, seq: number, wire: Uint8Array) => {
  const length = o.packetLength(seq, wire.subarray(0, o.headerLength))
  return { length, plain: o.open(seq, wire) }
}

const SIZES = [0, 1, 3, 15, 16, 17, 100, 1000, 4095, 32768, 35000]

describe.each(combos)("$label", ({ cipher, mac }) => {
  const combo = { label: "", cipher, mac }

  it.each(pairs.map(([a, b]) => ({ a, b, name: `${a.name} → ${b.name}` })))(
    "round trip and equal wire bytes: $name",
    ({ a, b }) => {
      const keys = makeKeys(combo)
      const sealer = Ciphers.makeSealer(a, cipher, mac, keys)
      const twin = Ciphers.makeSealer(b, cipher, mac, keys)
      const opener = Ciphers.makeOpener(b, cipher, mac, keys)
      assert.strictEqual(sealer.blockSize, cipher.blockSize)
      assert.strictEqual(opener.macLength, sealer.macLength)
      assert.strictEqual(sealer.lengthAligned, !cipher.aead && !mac!.etm)
      let seq = 0xfffffff0 // crosses the 2^32 wrap (RFC 4253 §6.4)
      for (let i = 0; i < 40; i++) {
        const size = i < SIZES.length ? SIZES[i]! : Math.floor(Math.random() * 3000)
        const packet = makePacket(sealer, rand(size))
        const expected = toHex(packet.subarray(4))
        const wire = sealer.seal(seq, packet.slice())
        assert.strictEqual(toHex(twin.seal(seq, packet.slice())), toHex(wire), "both backends seal alike")
        assert.strictEqual(wire.length, packet.length + sealer.macLength)
        const { length, plain } = openWire(opener, seq, wire)
        assert.strictEqual(length, packet.length - 4)
        assert.strictEqual(toHex(plain!), expected)
        seq = (seq + 1) >>> 0
      }
    }
  )

  it.each(backends)("a flipped bit anywhere is rejected (SEC-03, SEC-04): $name", (b) => {
    const keys = makeKeys(combo)
    const wire = Ciphers.makeSealer(b, cipher, mac, keys).seal(7, makePacket(Ciphers.makeSealer(b, cipher, mac, keys), rand(20)))
    const fresh = () => Ciphers.makeOpener(b, cipher, mac, keys)
    assert.isDefined(openWire(fresh(), 7, wire).plain)
    for (let bit = 0; bit < wire.length * 8; bit++) {
      const bad = wire.slice()
      bad[bit >> 3]! ^= 1 << (bit & 7)
      assert.isUndefined(openWire(fresh(), 7, bad).plain, `bit ${bit}`)
    }
  })

  it.each(backends)("the sequence number or nonce counter matters: $name", (b) => {
    const keys = makeKeys(combo)
    const sealer = Ciphers.makeSealer(b, cipher, mac, keys)
    const w0 = sealer.seal(5, makePacket(sealer, rand(50)))
    const w1 = sealer.seal(6, makePacket(sealer, rand(50)))
    if (cipher.name.includes("gcm")) {
      // RFC 5647 §7.1: GCM ignores seq but its invocation counter moves per packet, so order still matters.
      assert.isUndefined(openWire(Ciphers.makeOpener(b, cipher, mac, keys), 6, w1).plain)
    } else {
      assert.isUndefined(openWire(Ciphers.makeOpener(b, cipher, mac, keys), 6, w0).plain)
      assert.isUndefined(openWire(Ciphers.makeOpener(b, cipher, mac, keys), 4, w0).plain)
    }
    const opener = Ciphers.makeOpener(b, cipher, mac, keys)
    assert.isDefined(openWire(opener, 5, w0).plain)
    assert.isDefined(openWire(opener, 6, w1).plain)
  })

  it.each(backends)("the wrong key is rejected: $name", (b) => {
    const keys = makeKeys(combo)
    const sealer = Ciphers.makeSealer(b, cipher, mac, keys)
    const wire = sealer.seal(0, makePacket(sealer, rand(64)))
    const other = makeKeys(combo)
    // With -etm the MAC covers the ciphertext, so only the MAC key decides; the wrong cipher key gives noise.
    const wrong = cipher.aead
      ? [{ ...keys, key: other.key }]
      : mac!.etm
      ? [{ ...keys, macKey: other.macKey }]
      : [{ ...keys, key: other.key }, { ...keys, macKey: other.macKey }]
    for (const k of wrong) assert.isUndefined(openWire(Ciphers.makeOpener(b, cipher, mac, k), 0, wire).plain)
  })

  it.prop(
    "garbage never throws and never opens",
    [FastCheck.uint8Array({ minLength: 16, maxLength: 600 }), FastCheck.nat({ max: 0xffffffff })],
    ([garbage, seq]) => {
      for (const b of backends) {
        const o = Ciphers.makeOpener(b, cipher, mac, makeKeys(combo))
        const length = o.packetLength(seq, garbage.subarray(0, o.headerLength))
        assert.isTrue(Number.isInteger(length) && length >= 0 && length <= 0xffffffff)
        assert.isUndefined(o.open(seq, garbage))
        assert.isUndefined(o.open(seq, garbage.subarray(0, 3)))
      }
    },
    { fastCheck: { numRuns: 30 } }
  )

  it.prop(
    "mutated packets never throw and never open (SEC-04, SEC-09)",
    [FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 })],
    ([edits]) => {
      for (const b of backends) {
        const keys = makeKeys(combo)
        const sealer = Ciphers.makeSealer(b, cipher, mac, keys)
        const wire = sealer.seal(3, makePacket(sealer, rand(40)))
        const bad = mutate(wire, edits)
        const o = Ciphers.makeOpener(b, cipher, mac, keys)
        // PacketReader asks for the length only once it holds headerLength bytes.
        if (bad.length < o.headerLength) continue
        const { plain } = openWire(o, 3, bad)
        if (toHex(bad) !== toHex(wire)) assert.isUndefined(plain)
      }
    },
    { fastCheck: { numRuns: 15 } }
  )

  it("matches an independent model of the wire format", () => {
    const keys = makeKeys(combo)
    const model = modelSealer(combo, keys)
    for (const b of backends) {
      const sealer = Ciphers.makeSealer(b, cipher, mac, keys)
      const m = model()
      for (let seq = 0; seq < 3; seq++) {
        const packet = makePacket(sealer, rand(seq * 300))
        assert.strictEqual(toHex(sealer.seal(seq, packet.slice())), toHex(m(seq, packet)), `${b.name} seq ${seq}`)
      }
    }
  })

  it.each(pairs.map(([a, b]) => ({ a, b, name: `${a.name} → ${b.name}` })))(
    "PacketWriter → PacketReader in odd chunks: $name",
    ({ a, b }) => {
      const keys = makeKeys(combo)
      const writer = new PacketWriter(Ciphers.makeSealer(a, cipher, mac, keys), a.randomBytes)
      const reader = new PacketReader(Ciphers.makeOpener(b, cipher, mac, keys))
      const payloads = Array.from({ length: 30 }, (_, i) => rand(1 + ((i * 977) % 5000)))
      const stream = Buffer.concat(payloads.map((p) => writer.seal(p)))
      const all: Array<Uint8Array> = []
      for (let off = 0, step = 1; off < stream.length; off += step, step = 1 + ((step * 7 + 3) % 997)) {
        reader.push(Uint8Array.prototype.slice.call(stream, off, off + step))
        for (let r = reader.next(); r !== undefined; r = reader.next()) {
          assert.instanceOf(r, Uint8Array)
          all.push(r as Uint8Array)
        }
      }
      // SEC-05: under CBC an IGNORE (message 2) precedes every packet but the first under the key.
      const cbc = cipher.name.endsWith("-cbc")
      const got = cbc ? all.filter((_, i) => i % 2 === 0) : all
      if (cbc) for (let i = 1; i < all.length; i += 2) assert.strictEqual(all[i]![0], 2)
      assert.deepStrictEqual(got.map(toHex), payloads.map(toHex))
    }
  )
})

/** The wire format rebuilt from the specs with node:crypto and @noble directly, independent of src/crypto/cipher. */
const modelSealer = (c: Combo, keys: DirectionKeys) => () => {
  const seq4 = (seq: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(seq)
    return b
  }
  if (c.cipher.name.includes("gcm")) {
    const iv = Buffer.from(keys.iv)
    return (_seq: number, packet: Uint8Array) => {
      const e = NodeCrypto.createCipheriv(`aes-${keys.key.length * 8}-gcm` as "aes-128-gcm", keys.key, iv)
      e.setAAD(packet.subarray(0, 4))
      const out = Buffer.concat([packet.subarray(0, 4), e.update(packet.subarray(4)), e.final(), e.getAuthTag()])
      iv.writeBigUInt64BE((iv.readBigUInt64BE(4) + 1n) % 2n ** 64n, 4)
      return out
    }
  }
  if (c.cipher.name.startsWith("chacha20")) {
    return (seq: number, packet: Uint8Array) => {
      const nonce = Buffer.concat([Buffer.alloc(4), seq4(seq)])
      const k2 = keys.key.subarray(0, 32)
      const k1 = keys.key.subarray(32)
      const iv = (counter: number) => Buffer.concat([Buffer.from([counter, 0, 0, 0, 0, 0, 0, 0]), nonce])
      // One K_2 keystream from block 0: the Poly1305 key, then the payload from block 1.
      const stream = NodeCrypto.createCipheriv("chacha20", k2, iv(0)).update(Buffer.alloc(64 + packet.length))
      const body = Buffer.from(packet.subarray(4)).map((x, i) => x ^ stream[64 + i]!)
      const len = NodeCrypto.createCipheriv("chacha20", k1, iv(0)).update(packet.subarray(0, 4))
      const sealed = Buffer.concat([len, body])
      return Buffer.concat([sealed, poly1305Reference(stream.subarray(0, 32), sealed)])
    }
  }
  const name = c.cipher.name
  // One OpenSSL context per direction: CTR's counter and CBC's chaining value run on across packets.
  const enc = name === "3des-cbc"
    ? NodeCrypto.createCipheriv("des-ede3-cbc", keys.key, keys.iv).setAutoPadding(false)
    : NodeCrypto.createCipheriv(`aes-${keys.key.length * 8}-${name.slice(-3)}`, keys.key, keys.iv).setAutoPadding(false)
  const mac = c.mac!
  // UMAC has no node:crypto implementation: the RFC 4418 vectors check ours (Umac.test.ts); here the model only
  // fixes what it covers and its nonce (OpenSSH mac.c: the sequence number as a big-endian uint64).
  const umac = mac.family === "umac" ? makeUmac(NodeBackend.aesEcb, keys.macKey, mac.length) : undefined
  return (seq: number, packet: Uint8Array) => {
    const tag = (data: Uint8Array) =>
      mac.family === "hmac"
        ? NodeCrypto.createHmac(mac.hash, keys.macKey).update(seq4(seq)).update(data).digest().subarray(0, mac.length)
        : umac!.tag(data, Buffer.concat([Buffer.alloc(4), seq4(seq)]))
    if (mac.etm) {
      const sealed = Buffer.concat([packet.subarray(0, 4), enc.update(packet.subarray(4))])
      return Buffer.concat([sealed, tag(sealed)])
    }
    return Buffer.concat([enc.update(packet), tag(packet)])
  }
}

describe("Ciphers registry", () => {
  it("knows every cipher and MAC of Algorithms, with the right key sizes", () => {
    assert.deepStrictEqual(Ciphers.cipherSpecs.map((c) => c.name), [...Algorithms.CIPHERS])
    assert.deepStrictEqual(Ciphers.macSpecs.map((m) => m.name), [...Algorithms.MACS])
    for (const name of Algorithms.CIPHERS) {
      const spec = Ciphers.cipherSpec(name)!
      assert.strictEqual(spec.name, name)
      assert.strictEqual(spec.aead, Negotiate.isAeadCipher(name))
    }
    for (const name of Algorithms.MACS) {
      const spec = Ciphers.macSpec(name)!
      assert.strictEqual(spec.etm, name.endsWith("-etm@openssh.com"))
      if (spec.family === "umac") {
        assert.deepStrictEqual([spec.keyLength, spec.length], [16, name.startsWith("umac-64") ? 8 : 16])
      } else {
        // RFC 2104 §3: the key is as long as the hash output; -96 keeps the leftmost 12 bytes (RFC 2104 §5).
        assert.strictEqual(spec.keyLength, { md5: 16, sha1: 20, sha256: 32, sha512: 64 }[spec.hash])
        assert.strictEqual(spec.length, name.includes("-96") ? 12 : spec.keyLength)
      }
    }
    for (const bad of ["blowfish-cbc", "none", "__proto__", "constructor", "hmac-ripemd160", "arcfour", ""]) {
      assert.isUndefined(Ciphers.cipherSpec(bad))
      assert.isUndefined(Ciphers.macSpec(bad))
    }
  })

  it("refuses wrong key lengths and a missing MAC as our own bugs", () => {
    const b: CryptoBackend = backends[0]!
    const ctr = Ciphers.cipherSpec("aes128-ctr")!
    const mac = Ciphers.macSpec("hmac-sha2-256")!
    const keys = { key: rand(16), iv: rand(16), macKey: rand(32) }
    assert.throws(() => Ciphers.makeSealer(b, ctr, undefined, keys))
    assert.throws(() => Ciphers.makeOpener(b, ctr, mac, { ...keys, key: rand(32) }))
    assert.throws(() => Ciphers.makeSealer(b, ctr, mac, { ...keys, macKey: rand(20) }))
    assert.throws(() => Ciphers.makeSealer(b, Ciphers.cipherSpec("aes128-gcm@openssh.com")!, undefined, keys))
  })

  it("the none cipher passes packets through", () => {
    const s = Ciphers.makeNoneSealer()
    const o = Ciphers.makeNoneOpener()
    assert.deepStrictEqual([s.blockSize, s.macLength, s.lengthAligned], [8, 0, true])
    assert.deepStrictEqual([o.blockSize, o.macLength, o.lengthAligned, o.headerLength], [8, 0, true, 4])
    const packet = makePacket(s, rand(33))
    const wire = s.seal(0, packet)
    assert.strictEqual(o.packetLength(0, wire), packet.length - 4)
    assert.strictEqual(toHex(o.open(0, wire)!), toHex(packet.subarray(4)))
  })
})
