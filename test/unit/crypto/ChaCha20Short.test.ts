/**
 * The short-input ChaCha20 (original variant) that both backends use for inputs of at most 64 bytes — the
 * per-packet length (K_1) and Poly1305 key (K_2 block 0) of chacha20-poly1305@openssh.com — must equal
 * @noble/ciphers' chacha20orig and OpenSSL's chacha20 (node:crypto, 64-bit counter ‖ 64-bit nonce IV) for every
 * length, at any block counter, and in place.
 */
import { assert, describe, it } from "@effect/vitest"
import { chacha20orig } from "@noble/ciphers/chacha.js"
import * as crypto from "node:crypto"
import { chacha20Short, SHORT } from "../../../src/crypto/cipher/ChaCha20Short.js"

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")
const random = (n: number): Uint8Array => new Uint8Array(crypto.randomBytes(n))

/** OpenSSL's ChaCha20 with the IV laid out as in src/node/NodeSymmetric.ts. */
const openssl = (key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array): Uint8Array => {
  const iv = Buffer.alloc(16)
  iv.writeUInt32LE(counter >>> 0, 0)
  iv.writeUInt32LE(Math.floor(counter / 0x100000000) >>> 0, 4)
  iv.set(nonce, 8)
  return new Uint8Array(crypto.createCipheriv("chacha20", key, iv).update(data))
}

describe("chacha20Short", () => {
  it("equals noble and OpenSSL for every length 0…200 at block counters 0, 1, 7 and across 2^32", () => {
    for (let len = 0; len <= 200; len++) {
      for (const counter of [0, 1, 7, 0xffffffff]) {
        const key = random(32)
        const nonce = random(8)
        const data = random(len)
        const out = new Uint8Array(len)
        chacha20Short(key, nonce, counter, data, out)
        assert.strictEqual(toHex(out), toHex(openssl(key, nonce, counter, data)), `length ${len} counter ${counter}`)
        if (counter < 0x100000000 - 4) {
          assert.strictEqual(toHex(out), toHex(chacha20orig(key, nonce, data, new Uint8Array(len), counter)))
        }
      }
    }
  })

  it("works in place, on unaligned views, and covers chacha20-poly1305's blocks (SHORT = 64)", () => {
    assert.strictEqual(SHORT, 64)
    const key = random(32)
    const nonce = random(8)
    const big = random(SHORT + 3)
    const data = big.subarray(3)
    const want = openssl(key, nonce, 0, data)
    chacha20Short(key, nonce, 0, data, data)
    assert.strictEqual(toHex(data), toHex(want))
  })

  it("gives the keystream of draft-agl-tls-chacha20poly1305 §7 (all-zero key and nonce)", () => {
    const out = new Uint8Array(64)
    chacha20Short(new Uint8Array(32), new Uint8Array(8), 0, new Uint8Array(64), out)
    assert.strictEqual(toHex(out),
      "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")
  })
})
