/**
 * Gathered sealing (DESIGN.md §6, PacketWriter.sealParts): channel data is sealed as pieces — the message head and
 * the caller's data where it lies — by every cipher but CBC, on both backends. The wire bytes are exactly what
 * sealing the joined payload gives, the reader gets the payload back, the caller's bytes are never written, and the
 * writer copies no payload byte itself: the cipher's output is the one copy per outbound packet. (This replaces
 * the Headroom WeakSet, which framed CHANNEL_DATA in place after copying it into a buffer with room around it.)
 */
import { assert, describe, it } from "@effect/vitest"
import type { CryptoBackend } from "../../../src/crypto/Backend.js"
import * as Ciphers from "../../../src/crypto/Ciphers.js"
import { PortableCrypto } from "../../../src/crypto/portable/PortableCrypto.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import { PacketReader, PacketWriter } from "../../../src/transport/PacketCodec.js"
import { concatBytes } from "../../../src/wire/Bytes.js"

const pattern = (n: number, seed = 7) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff)
const concat = concatBytes
/** CHANNEL_DATA's head: byte 94, uint32 recipient, uint32 length. */
const head = (length: number) => {
  const h = new Uint8Array(9)
  h[0] = 94
  new DataView(h.buffer).setUint32(1, 3)
  new DataView(h.buffer).setUint32(5, length)
  return h
}

const GATHERING: ReadonlyArray<readonly [string, string | undefined]> = [
  ["aes128-gcm@openssh.com", undefined],
  ["aes256-gcm@openssh.com", undefined],
  ["chacha20-poly1305@openssh.com", undefined],
  ["aes128-ctr", "hmac-sha2-256"],
  ["aes256-ctr", "hmac-sha2-512-etm@openssh.com"],
  ["aes192-ctr", "umac-64-etm@openssh.com"]
]

const make = (backend: CryptoBackend, cipher: string, macName: string | undefined) => {
  const spec = Ciphers.cipherSpec(cipher)!
  const mac = macName === undefined ? undefined : Ciphers.macSpec(macName)!
  const keys = { iv: pattern(spec.ivLength, 1), key: pattern(spec.keyLength, 2), macKey: pattern(mac?.keyLength ?? 0, 3) }
  return {
    sealer: () => Ciphers.makeSealer(backend, spec, mac, keys),
    opener: () => Ciphers.makeOpener(backend, spec, mac, keys)
  }
}

// Sizes around block and chunk edges, and the 32 KiB of a bulk write.
const SIZES = [0, 1, 15, 16, 17, 63, 64, 65, 1000, 32 * 1024, 70_000]

describe("sealParts: channel data sealed without joining", () => {
  for (const backend of [NodeCrypto, PortableCrypto]) {
    for (const [cipher, mac] of GATHERING) {
      it(`${cipher}${mac === undefined ? "" : ` + ${mac}`} (${backend.name}): same wire bytes as seal, read back, no copy`, () => {
        const c = make(backend, cipher, mac)
        // The same deterministic padding source for both writers, so their outputs must be equal byte for byte.
        const gathered = new PacketWriter(c.sealer(), (n) => pattern(n, 5))
        const joined = new PacketWriter(c.sealer(), (n) => pattern(n, 5))
        const reader = new PacketReader(c.opener())
        assert.isTrue(gathered.gathers)
        for (const size of SIZES) {
          // The data sits inside a larger buffer of the caller's: the bytes around it must never change.
          const buffer = pattern(size + 64, size)
          const data = buffer.subarray(32, 32 + size)
          const before = buffer.slice()
          const h = head(size)
          const parts = gathered.sealParts(h, data)
          const wire = concat(parts)
          assert.deepStrictEqual(wire, joined.seal(concat([h, data])), `${size}: the joined payload seals the same`)
          assert.deepStrictEqual(buffer, before, `${size}: the caller's buffer is untouched`)
          for (const p of parts) assert.notStrictEqual(p.buffer, buffer.buffer, `${size}: no part aliases the data`)
          reader.push(wire)
          assert.deepStrictEqual(reader.next(), concat([h, data]), `${size}: read back`)
        }
        // Copies per outbound packet: the writer framed nothing itself; what was sealed is the cipher's output.
        assert.strictEqual(gathered.copiedBytes, 0)
        assert.isAbove(joined.copiedBytes, 0)
        assert.strictEqual(gathered.packets, SIZES.length)
        assert.strictEqual(gathered.bytes, joined.bytes)
      })
    }

    it(`CBC (${backend.name}) does not gather: its packets go out behind an IGNORE (SEC-05)`, () => {
      const c = make(backend, "aes256-cbc", "hmac-sha2-256")
      assert.isFalse(new PacketWriter(c.sealer(), (n) => pattern(n)).gathers)
    })
  }
})
