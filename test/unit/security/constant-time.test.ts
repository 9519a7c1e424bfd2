/**
 * SEC-27: secrets are compared in constant time. Every MAC check of the packet layer goes through the backend's
 * `timingSafeEqual` (a spy counts the calls, for a good and a forged tag, on both backends and for the
 * cipher+MAC and ChaCha20-Poly1305 paths); both backends' comparators are correct, including on unequal
 * lengths; and the sources that verify passwords and tags call the comparator instead of `===`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import type { SymmetricPrimitives } from "../../../src/crypto/Backend.js"
import * as Ciphers from "../../../src/crypto/Ciphers.js"
import { symmetric as portable } from "../../../src/crypto/portable/Symmetric.js"
import { symmetric as node } from "../../../src/node/NodeSymmetric.js"
import { PacketReader, PacketWriter } from "../../../src/transport/PacketCodec.js"
import { isPacketError } from "../../../src/transport/PacketCodec.js"

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v)
const random = (n: number) => bytes(n, 0x42)

describe("SEC-27 constant-time comparison", () => {
  for (const [name, backend] of [["portable", portable], ["node", node]] as const) {
    it(`${name}: timingSafeEqual is right on equal, unequal and unequal-length inputs`, () => {
      assert.isTrue(backend.timingSafeEqual(bytes(32, 1), bytes(32, 1)))
      assert.isFalse(backend.timingSafeEqual(bytes(32, 1), Uint8Array.from(bytes(32, 1)).fill(2, 31)))
      assert.isFalse(backend.timingSafeEqual(bytes(32, 1), bytes(31, 1)))
      assert.isTrue(backend.timingSafeEqual(new Uint8Array(0), new Uint8Array(0)))
    })

    for (const [cipher, mac] of [["aes128-ctr", "hmac-sha2-256"], ["aes256-ctr", "hmac-sha2-512-etm@openssh.com"], ["chacha20-poly1305@openssh.com", undefined]] as const) {
      it(`${name}: ${cipher}${mac === undefined ? "" : ` + ${mac}`} checks the tag with the backend's comparator`, () => {
        let calls = 0
        const spied: SymmetricPrimitives = {
          ...backend,
          timingSafeEqual: (a, b) => {
            calls++
            return backend.timingSafeEqual(a, b)
          }
        }
        const c = Ciphers.cipherSpec(cipher)!
        const m = mac === undefined ? undefined : Ciphers.macSpec(mac)
        const keys = { iv: bytes(c.ivLength, 3), key: bytes(c.keyLength, 4), macKey: bytes(m?.keyLength ?? 0, 5) }
        const wire = new PacketWriter(Ciphers.makeSealer(backend, c, m, keys), random).seal(Uint8Array.of(94, 1, 2, 3))
        const good = new PacketReader(Ciphers.makeOpener(spied, c, m, keys))
        good.push(wire)
        const payload = good.next()
        assert.isTrue(payload instanceof Uint8Array && payload[0] === 94)
        assert.strictEqual(calls, 1)
        const forged = Uint8Array.from(wire)
        forged[forged.length - 1]! ^= 1
        const bad = new PacketReader(Ciphers.makeOpener(spied, c, m, keys))
        bad.push(forged)
        assert.isTrue(isPacketError(bad.next()))
        assert.strictEqual(calls, 2)
      })
    }
  }

  it("the password verifier of `serve` and the MAC openers call timingSafeEqual, never === on the secret", () => {
    const src = (f: string) => fs.readFileSync(path.join(__dirname, "../../../src", f), "utf8")
    assert.match(src("cli/Serve.ts"), /timingSafeEqual\(sha256\(Redacted\.value\(request\.password\)\), expected\)/)
    for (const f of ["crypto/cipher/CipherMac.ts", "crypto/cipher/ChaChaPoly.ts"]) {
      assert.match(src(f), /timingSafeEqual\(tag, /)
      assert.notMatch(src(f), /tag\s*[!=]==|[!=]==\s*tag/)
    }
  })
})
