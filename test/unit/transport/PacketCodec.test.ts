/**
 * SEC-01…SEC-04, SEC-07, SEC-10 and LIM-05/LIM-06 at the lowest layer: the sans-IO PacketReader/PacketWriter,
 * fed hand-made packets under every cipher and MAC.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Ciphers from "../../../src/crypto/Ciphers.js"
import type { PacketOpener, PacketSealer } from "../../../src/crypto/PacketCipher.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import {
  DEFAULT_MAX_PACKET,
  isPacketError,
  noneOpener,
  noneSealer,
  type PacketError,
  PacketReader,
  PacketWriter
} from "../../../src/transport/PacketCodec.js"
import { plainPacket } from "../../helpers/RawPeer.js"
import { cipherMacPairs } from "../../helpers/CipherMacs.js"
import { countCopies } from "../../helpers/Fuzz.js"

const backend = NodeCrypto
const random = (n: number) => backend.randomBytes(n)

interface Suite {
  readonly name: string
  readonly aead: boolean
  readonly etm: boolean
  /** A fresh sealer/opener pair with the same keys (the ciphers keep per-direction state). */
  readonly make: () => { readonly sealer: PacketSealer; readonly opener: PacketOpener }
}

const suite = (cipherName: string, macName?: string): Suite => {
  const cipher = Ciphers.cipherSpec(cipherName)!
  const mac = macName === undefined ? undefined : Ciphers.macSpec(macName)!
  return {
    name: macName === undefined ? cipherName : `${cipherName} + ${macName}`,
    aead: cipher.aead,
    etm: mac?.etm ?? false,
    make: () => {
      const keys = { iv: random(cipher.ivLength), key: random(cipher.keyLength), macKey: random(mac?.keyLength ?? 0) }
      return {
        sealer: Ciphers.makeSealer(backend, cipher, mac, keys),
        opener: Ciphers.makeOpener(backend, cipher, mac, keys)
      }
    }
  }
}

/** Every cipher; every MAC under aes128-ctr, and both framings under the other non-AEAD ciphers (CipherMacs.ts). */
const SUITES: ReadonlyArray<Suite> = cipherMacPairs.map(([c, m]) => suite(c, m))
const CHACHA = suite("chacha20-poly1305@openssh.com")
const GCM = suite("aes128-gcm@openssh.com")
const CTR_ETM = suite("aes128-ctr", "hmac-sha2-256-etm@openssh.com")
const CTR = suite("aes128-ctr", "hmac-sha2-256")

const u32 = (n: number) => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n >>> 0)
  return b
}

const IGNORE = (n: number) => {
  const p = new Uint8Array(5 + n)
  p[0] = 2
  p.set(u32(n), 1)
  return p
}


/** The next payload, past the IGNOREs a CBC writer puts before its packets (SEC-05). */
const nextPayload = (r: PacketReader): ReturnType<PacketReader["next"]> => {
  let p = r.next()
  while (p instanceof Uint8Array && p[0] === 2) p = r.next()
  return p
}

const expectError = (r: ReturnType<PacketReader["next"]>, reason?: PacketError["reason"]): PacketError => {
  assert.isTrue(isPacketError(r), `expected a packet error, got ${r === undefined ? "undefined (waiting)" : "a payload"}`)
  const e = r as PacketError
  if (reason !== undefined) assert.strictEqual(e.reason, reason, e.description)
  return e
}

/** A sealed packet whose packet_length field is `length`, though only a few bytes follow it. */
const lyingPacket = (s: PacketSealer, length: number): Uint8Array =>
  s.seal(0, plainPacket(new Uint8Array([2, 0, 0, 0, 0]), { blockSize: 16, lengthAligned: s.lengthAligned, packetLength: length, padding: 26 }))

describe("PacketCodec (SEC-01, SEC-02, LIM-05, LIM-06)", () => {
  it("SEC-01b: plaintext packet_length ∈ {0, 1, 4, 262 145, 0x80000000} is refused from the 4 length bytes alone", () => {
    for (const len of [0, 1, 4, 262_145, 0x80000000, 0xffffffff]) {
      const r = new PacketReader()
      r.push(u32(len))
      const e = expectError(r.next(), len < 5 ? "ProtocolViolation" : "PacketTooLarge")
      assert.notInclude(e.description, "undefined")
      assert.strictEqual(r.buffered, 4, "nothing more was reserved or awaited")
    }
  })

  it("SEC-01a: FF FF FF F0 then one byte at a time: the first 4 bytes already fail", () => {
    const r = new PacketReader()
    for (const b of [0xff, 0xff, 0xff]) {
      r.push(new Uint8Array([b]))
      assert.isUndefined(r.next())
    }
    r.push(new Uint8Array([0xf0]))
    expectError(r.next(), "PacketTooLarge")
  })

  for (const s of [CHACHA, GCM, CTR_ETM, CTR, suite("aes256-gcm@openssh.com"), suite("aes256-ctr", "hmac-sha2-512-etm@openssh.com")]) {
    it(`SEC-01c: encrypted phase, ${s.name}: a length decoding to 0x7FFFFFFF is refused from the header alone`, () => {
      for (const len of [0x7fffffff, 262_145, 0xffffffff]) {
        const { opener, sealer } = s.make()
        const wire = lyingPacket(sealer, len)
        const r = new PacketReader(opener)
        // Only the bytes that carry the length (a whole block for classic encrypt-and-MAC).
        r.push(wire.subarray(0, opener.headerLength))
        expectError(r.next(), "PacketTooLarge")
        assert.strictEqual(r.buffered, opener.headerLength)
      }
    })
  }

  it("SEC-01: a maximum-size packet arriving one byte at a time costs linear copying, not quadratic", () => {
    const { opener, sealer } = GCM.make()
    const wire = new PacketWriter(sealer, random).seal(IGNORE(262_144 - 1 - 16 - 5))
    const r = new PacketReader(opener)
    let early = 0
    let last: ReturnType<PacketReader["next"]> = undefined
    const copied = countCopies(() => {
      for (let i = 0; i < wire.length; i++) {
        r.push(wire.subarray(i, i + 1))
        last = r.next()
        if (last !== undefined && i < wire.length - 1) early++
      }
    })
    assert.strictEqual(early, 0)
    assert.instanceOf(last, Uint8Array)
    // Geometric growth copies each byte a bounded number of times (a quadratic reader copies ~34 GB here).
    assert.isAtMost(copied, 4 * wire.length)
    // Buffering never exceeds one packet plus a chunk by much (SEC-01).
    assert.strictEqual(r.buffered, 0)
  })

  it("SEC-01d / LIM-05: the largest packets the limit allows are accepted (35 000 and 262 144 bytes)", () => {
    for (const s of [undefined, CHACHA, GCM, CTR_ETM, CTR]) {
      const pair = s?.make() ?? { sealer: noneSealer(), opener: noneOpener() }
      const w = new PacketWriter(pair.sealer, random)
      const r = new PacketReader(pair.opener)
      for (const target of [35_000, DEFAULT_MAX_PACKET]) {
        // The longest IGNORE whose packet_length is ≤ target once padded for this cipher.
        const align = Math.max(8, pair.sealer.blockSize)
        const wireLength = (n: number) => {
          const base = pair.sealer.lengthAligned ? 5 + n : 1 + n
          let pad = align - (base % align)
          if (pad < 4) pad += align
          return 1 + n + pad
        }
        let n = target - 40
        while (wireLength(n + 1) <= target) n++
        const payload = IGNORE(n - 5)
        const wire = w.seal(payload)
        const len = wire.length - 4 - pair.sealer.macLength
        assert.isAtMost(len, target)
        assert.isAtLeast(len, target - align)
        r.push(wire)
        const got = r.next()
        assert.isTrue(got instanceof Uint8Array && got.length === payload.length, s?.name ?? "none")
      }
    }
    // Exactly 262 144 is reachable with ETM/AEAD alignment (length field excluded).
    const { opener, sealer } = GCM.make()
    const wire = new PacketWriter(sealer, random).seal(IGNORE(262_144 - 1 - 16 - 5))
    assert.strictEqual(wire.length - 4 - 16, 262_144)
    const r = new PacketReader(opener)
    r.push(wire)
    assert.instanceOf(r.next(), Uint8Array)
  })

  it("LIM-05: the reader's limit is what it was given", () => {
    const { opener, sealer } = GCM.make()
    const w = new PacketWriter(sealer, random)
    const r = new PacketReader(opener, 40_000)
    r.push(w.seal(IGNORE(40_000 - 1 - 16 - 5)))
    assert.instanceOf(r.next(), Uint8Array)
    r.push(w.seal(IGNORE(40_016 - 1 - 16 - 5)).subarray(0, 4))
    expectError(r.next(), "PacketTooLarge")
  })

  it("SEC-02 / LIM-06: plaintext padding_length = 3 → refused as a protocol error (there is no MAC to protect)", () => {
    const r = new PacketReader()
    r.push(plainPacket(new Uint8Array([2, 0, 0, 0, 3, 1, 2, 3]), { padding: 3 }))
    expectError(r.next(), "ProtocolViolation")
  })

  it("SEC-02 / LIM-06: plaintext padding_length = packet_length − 1 (empty payload) → refused", () => {
    const r = new PacketReader()
    r.push(plainPacket(new Uint8Array(0), { padding: 11 }))
    expectError(r.next(), "ProtocolViolation")
    // …and padding_length > packet_length (libssh2 CVE-2019-3861) too.
    const r2 = new PacketReader()
    r2.push(plainPacket(new Uint8Array([2, 0, 0, 0, 0]), { paddingLength: 200 }))
    expectError(r2.next(), "ProtocolViolation")
  })

  it("SEC-02: plaintext misaligned packet_length → refused before waiting for the body", () => {
    const r = new PacketReader()
    r.push(u32(13))
    expectError(r.next(), "ProtocolViolation")
  })

  it("SEC-02: padding_length = 255 with packet_length = 16 under aes-gcm (golang CVE-2026-46597) → refused like a MAC failure", () => {
    for (const s of [GCM, suite("aes256-gcm@openssh.com"), CHACHA, CTR_ETM]) {
      const { opener, sealer } = s.make()
      const r = new PacketReader(opener)
      r.push(sealer.seal(0, plainPacket(new Uint8Array(11).fill(2), { padding: 4, paddingLength: 255, lengthAligned: false })))
      // SEC-04: after the MAC, padding errors are not distinguishable from MAC errors.
      expectError(r.next(), "MacMismatch")
    }
  })

  it("SEC-02: padding_length = packet_length − 1 under every cipher → refused like a MAC failure", () => {
    for (const s of SUITES) {
      const { opener, sealer } = s.make()
      const r = new PacketReader(opener)
      const plain = plainPacket(new Uint8Array(0), { blockSize: sealer.blockSize, lengthAligned: sealer.lengthAligned, padding: sealer.lengthAligned ? 27 : 31 })
      r.push(sealer.seal(0, plain))
      expectError(r.next(), "MacMismatch")
    }
  })

  it("SEC-02: padding_length = 3 under every cipher → refused like a MAC failure", () => {
    for (const s of SUITES) {
      const { opener, sealer } = s.make()
      const r = new PacketReader(opener)
      const payload = new Uint8Array(sealer.lengthAligned ? 24 : 28).fill(2)
      r.push(sealer.seal(0, plainPacket(payload, { padding: 3, blockSize: 16, lengthAligned: sealer.lengthAligned })))
      expectError(r.next(), "MacMismatch")
    }
  })

  it("SEC-02: packet_length = 13 under aes-ctr (misaligned) → refused, with and without ETM", () => {
    for (const s of SUITES.filter((x) => !x.aead)) {
      const { opener, sealer } = s.make()
      const r = new PacketReader(opener)
      r.push(sealer.seal(0, plainPacket(new Uint8Array(8).fill(2), { padding: 4, lengthAligned: sealer.lengthAligned, packetLength: 13, blockSize: 1 })).subarray(0, 16))
      if (opener.discardOnError) {
        // SEC-05: CBC with encrypt-and-MAC reports a MAC failure, and only after the packet limit.
        assert.isUndefined(r.next())
        r.push(new Uint8Array(DEFAULT_MAX_PACKET))
        expectError(r.next(), "MacMismatch")
      } else {
        expectError(r.next(), "ProtocolViolation")
      }
    }
    for (const s of [GCM, CHACHA]) {
      const { opener, sealer } = s.make()
      const r = new PacketReader(opener)
      r.push(sealer.seal(0, plainPacket(new Uint8Array(8).fill(2), { padding: 4, packetLength: 13, lengthAligned: false, blockSize: 1 })).subarray(0, 4))
      expectError(r.next(), "ProtocolViolation")
    }
  })

  it("SEC-02 / SEC-24: 1 000 of our packets: padding ≥ 4, aligned, and random", () => {
    for (const s of [undefined, ...SUITES]) {
      const pair = s?.make() ?? { sealer: noneSealer(), opener: noneOpener() }
      const w = new PacketWriter(pair.sealer, random)
      const opener = pair.opener
      const plains: Array<Uint8Array> = []
      const capture: PacketOpener = {
        ...opener,
        packetLength: (seq, h) => opener.packetLength(seq, h),
        open: (seq, wire) => {
          const p = opener.open(seq, wire)
          if (p !== undefined) plains.push(p.slice())
          return p
        }
      }
      const r = new PacketReader(capture)
      const align = Math.max(8, pair.sealer.blockSize)
      const paddings = new Set<string>()
      for (let i = 0; i < 1000; i++) {
        const payload = new Uint8Array(1 + (i % 40)).fill(94)
        r.push(w.seal(payload))
        assert.deepStrictEqual(nextPayload(r), payload)
        const plain = plains[plains.length - 1]!
        const padLen = plain[0]!
        assert.isAtLeast(padLen, 4)
        assert.isAtMost(padLen, 255)
        const packetLength = plain.length
        assert.strictEqual((pair.sealer.lengthAligned ? packetLength + 4 : packetLength) % align, 0, s?.name ?? "none")
        if (payload.length === 40) paddings.add(Array.from(plain.subarray(plain.length - padLen)).join(","))
      }
      // 25 packets with the same 40-byte payload: every padding different.
      assert.strictEqual(paddings.size, 25, s?.name ?? "none")
    }
  })
})

describe("PacketCodec (SEC-03, SEC-04)", () => {
  it("SEC-03: aes-gcm packet with packet_length = 0 and a valid tag → refused, no exception", () => {
    const { opener, sealer } = GCM.make()
    const r = new PacketReader(opener)
    r.push(sealer.seal(0, new Uint8Array(4)))
    expectError(r.next(), "ProtocolViolation")
  })

  it("SEC-03: AEAD/ETM packets too short for padding_length + 4 + 1 are refused, no exception", () => {
    for (const s of [GCM, CHACHA, CTR_ETM]) {
      for (const body of [0, 1, 4, 5]) {
        const { opener, sealer } = s.make()
        const packet = new Uint8Array(4 + body)
        new DataView(packet.buffer).setUint32(0, body)
        if (body > 0) packet[4] = 4
        const r = new PacketReader(opener)
        r.push(sealer.seal(0, packet))
        assert.isTrue(isPacketError(r.next()), `${s.name} body ${body}`)
      }
    }
  })

  it("SEC-03: chacha20-poly1305 with a valid length but a flipped tag → MAC error, nothing returned", () => {
    const { opener, sealer } = CHACHA.make()
    const wire = new PacketWriter(sealer, random).seal(new Uint8Array([94, 1, 2, 3]))
    wire[wire.length - 1]! ^= 1
    const r = new PacketReader(opener)
    r.push(wire)
    expectError(r.next(), "MacMismatch")
  })

  it("SEC-03: ETM with one flipped ciphertext bit → MAC error", () => {
    for (const s of SUITES.filter((x) => x.etm)) {
      const { opener, sealer } = s.make()
      const wire = new PacketWriter(sealer, random).seal(new Uint8Array([94, 1, 2, 3]))
      wire[9]! ^= 0x10
      const r = new PacketReader(opener)
      r.push(wire)
      expectError(r.next(), "MacMismatch")
    }
  })

  for (const s of SUITES) {
    it(`SEC-04: every single-bit flip in a sealed packet is refused and never delivered (${s.name})`, () => {
      const payload = new Uint8Array(48).map((_, i) => (i === 0 ? 94 : i))
      const { sealer } = s.make()
      const length = new PacketWriter(sealer, random).seal(payload).length
      // The bytes that carry the length: 4 in clear (ETM/AEAD, K1-encrypted for chacha), the first block otherwise.
      const lengthBytes = s.aead || s.etm ? 4 : 16
      for (let offset = 0; offset < length; offset++) {
        const bit = offset % 8
        const { opener, sealer } = s.make()
        const wire = new PacketWriter(sealer, random).seal(payload)
        wire[offset]! ^= 1 << bit
        const r = new PacketReader(opener)
        r.push(wire)
        let got = r.next()
        // A longer (still valid) length waits for more bytes: give it more than the limit.
        if (got === undefined) {
          r.push(new Uint8Array(DEFAULT_MAX_PACKET + 1024))
          got = r.next()
        }
        const e = expectError(got)
        if (offset >= lengthBytes) assert.strictEqual(e.reason, "MacMismatch", `offset ${offset}: ${e.description}`)
      }
    })
  }
})

describe("PacketCodec (SEC-07: sequence numbers)", () => {
  it("SEC-07: the receive and send sequence numbers wrap mod 2^32 and report the wrap", () => {
    const w = new PacketWriter(noneSealer(), random)
    const r = new PacketReader()
    w.seq = 0xfffffffe
    r.seq = 0xfffffffe
    for (const expected of [0xffffffff, 0, 1]) {
      r.push(w.seal(new Uint8Array([2, 0, 0, 0, 0])))
      assert.instanceOf(r.next(), Uint8Array)
      assert.strictEqual(r.seq, expected)
      assert.strictEqual(w.seq, expected)
    }
    assert.isTrue(r.wrapped)
    assert.isTrue(w.wrapped)
  })

  it("SEC-07: no wrap is reported before the counter passes 2^32 − 1", () => {
    const w = new PacketWriter(noneSealer(), random)
    const r = new PacketReader()
    w.seq = 0xfffffffd
    r.seq = 0xfffffffd
    for (let i = 0; i < 2; i++) {
      r.push(w.seal(new Uint8Array([2, 0, 0, 0, 0])))
      r.next()
    }
    assert.isFalse(r.wrapped)
    assert.isFalse(w.wrapped)
  })

  it("SEC-07: under every cipher, packets across the wrap open with the wrapped sequence number", () => {
    for (const s of SUITES) {
      const { opener, sealer } = s.make()
      const w = new PacketWriter(sealer, random)
      const r = new PacketReader(opener)
      w.seq = 0xffffffff
      r.seq = 0xffffffff
      for (let i = 0; i < 3; i++) {
        r.push(w.seal(new Uint8Array([94, i])))
        assert.deepStrictEqual(nextPayload(r), new Uint8Array([94, i]), s.name)
      }
      // A packet sealed under the wrong sequence number does not open (chacha20 nonce, HMAC input).
      if (!s.name.includes("gcm")) {
        w.seq = 7
        r.push(w.seal(new Uint8Array([94])))
        // SEC-05: CBC with encrypt-and-MAC fails only once the packet limit has been read.
        if (opener.discardOnError) r.push(new Uint8Array(DEFAULT_MAX_PACKET))
        assert.isTrue(isPacketError(r.next()), s.name)
      }
    }
  })
})

describe("PacketCodec (SEC-10: decoding never throws)", () => {
  for (const s of [undefined, CHACHA, GCM, CTR_ETM, CTR]) {
    it.prop(`SEC-10: random bytes never make the reader throw (${s?.name ?? "plaintext"})`, [FastCheck.array(FastCheck.uint8Array({ maxLength: 300 }), { maxLength: 8 })], ([chunks]) => {
      const r = new PacketReader(s?.make().opener ?? noneOpener())
      for (const c of chunks) {
        r.push(c)
        for (let i = 0; i < 4; i++) {
          const got = r.next()
          if (got === undefined || isPacketError(got)) break
        }
      }
      assert.isAtMost(r.buffered, 8 * 300)
    })
  }
})
