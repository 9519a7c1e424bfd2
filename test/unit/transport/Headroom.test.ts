/**
 * Framing in place (wire/Headroom.ts): CHANNEL_DATA payloads are framed into packets without a copy, any other
 * view is copied, and bytes next to a caller's data are never written (DESIGN.md §6).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Ciphers from "../../../src/crypto/Ciphers.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import { PacketReader, PacketWriter } from "../../../src/transport/PacketCodec.js"
import * as ConnectionMessages from "../../../src/wire/ConnectionMessages.js"
import * as Headroom from "../../../src/wire/Headroom.js"

const random = (n: number) => new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff)

describe("Headroom: packets framed in place", () => {
  it("a CHANNEL_DATA payload is framed where it lies (no copy) and reads back", () => {
    const payload = ConnectionMessages.encodeChannelData(3, random(1000))
    assert.isDefined(Headroom.frame(payload))
    const w = new PacketWriter(undefined, random)
    const packet = w.seal(payload)
    assert.strictEqual(packet.buffer, payload.buffer, "the packet shares the payload's buffer")
    const r = new PacketReader()
    r.push(packet)
    assert.deepStrictEqual(r.next(), payload)
  })

  it("a view into a caller's buffer is copied: the bytes around it are never touched", () => {
    const big = new Uint8Array(2000).fill(0xaa)
    const payload = big.subarray(100, 1100)
    payload.set(ConnectionMessages.encodeChannelData(3, random(991)))
    const before = big.slice()
    assert.isUndefined(Headroom.frame(payload))
    const w = new PacketWriter(undefined, random)
    const packet = w.seal(payload)
    assert.notStrictEqual(packet.buffer, big.buffer)
    assert.deepStrictEqual(big, before)
  })

  it("every cipher seals and opens framed payloads (padding up to the block size fits the room)", () => {
    for (const name of ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-cbc", "3des-cbc"]) {
      const spec = Ciphers.cipherSpec(name)!
      const mac = spec.aead ? undefined : Ciphers.macSpec("hmac-sha2-256")!
      const keys = {
        iv: random(spec.ivLength),
        key: random(spec.keyLength),
        macKey: random(mac?.keyLength ?? 0)
      }
      const sealer = Ciphers.makeSealer(NodeCrypto, spec, mac, keys)
      const opener = Ciphers.makeOpener(NodeCrypto, spec, mac, keys)
      const w = new PacketWriter(sealer, random)
      const r = new PacketReader(opener)
      for (let n = 0; n < 40; n++) {
        const payload = ConnectionMessages.encodeChannelData(1, random(n * 37))
        r.push(w.seal(payload))
        let got = r.next()
        while (got instanceof Uint8Array && got[0] === 2) got = r.next() // SEC-05: IGNOREs before CBC packets
        assert.deepStrictEqual(got, payload, `${name} ${n}`)
      }
    }
  })
})
