/**
 * PacketReader's scratch buffer: with an opener that decrypts out of place (`fresh`), packets that straddle socket
 * chunks are assembled in one reused buffer instead of a new one each. Every payload must stay intact after later
 * packets reuse the buffer.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Ciphers from "../../../src/crypto/Ciphers.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import { PacketReader, PacketWriter } from "../../../src/transport/PacketCodec.js"
import { concatBytes } from "../../../src/wire/Bytes.js"

const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 29 + seed) & 0xff)

describe("PacketReader: straddling packets assembled in a reused buffer", () => {
  for (const [cipher, mac] of [["aes128-gcm@openssh.com", undefined], ["chacha20-poly1305@openssh.com", undefined], ["aes128-ctr", "hmac-sha2-256-etm@openssh.com"]] as const) {
    it(`${cipher}: payloads read earlier are not overwritten by later packets`, () => {
      const spec = Ciphers.cipherSpec(cipher)!
      const m = mac === undefined ? undefined : Ciphers.macSpec(mac)!
      const keys = { iv: pattern(spec.ivLength, 1), key: pattern(spec.keyLength, 2), macKey: pattern(m?.keyLength ?? 0, 3) }
      const writer = new PacketWriter(Ciphers.makeSealer(NodeCrypto, spec, m, keys), (n) => pattern(n, 4))
      const opener = Ciphers.makeOpener(NodeCrypto, spec, m, keys)
      assert.isTrue(opener.fresh)
      const reader = new PacketReader(opener)
      const sent: Array<Uint8Array> = []
      let wire: Array<Uint8Array> = []
      for (let i = 0; i < 200; i++) {
        const p = pattern(1 + ((i * 997) % 40_000), i)
        p[0] = 94
        sent.push(p)
        wire.push(writer.seal(p))
      }
      // Cut the stream into chunks that never line up with packets (as a socket does).
      const all = concatBytes(wire)
      wire = []
      const got: Array<Uint8Array> = []
      for (let at = 0, k = 0; at < all.length; k++) {
        const size = 1 + ((k * 7919) % 65_536)
        reader.push(all.slice(at, at + size))
        at += size
        for (let r = reader.next(); r instanceof Uint8Array; r = reader.next()) got.push(r)
      }
      assert.strictEqual(got.length, sent.length)
      for (let i = 0; i < sent.length; i++) assert.deepStrictEqual(got[i], sent[i], `packet ${i}`)
      assert.strictEqual(reader.buffered, 0)
      assert.strictEqual(reader.next(), undefined)
    })
  }
})
