/**
 * aes128-gcm@openssh.com and aes256-gcm@openssh.com (RFC 5647 as OpenSSH PROTOCOL §1.6 amends it): the
 * packet_length is sent in clear as additional authenticated data, everything after it is encrypted, and a
 * 16-byte tag follows. The MAC negotiated alongside is ignored.
 *
 * @since 0.1.0
 */
import type { SymmetricPrimitives } from "../Backend.js"
import type { DirectionKeys, PacketOpener, PacketSealer } from "../PacketCipher.js"

const TAG = 16

// RFC 5647 §7.1: the 12-byte nonce is a 4-byte fixed field ‖ an 8-byte invocation counter, both from the
// derived IV; the counter is incremented (mod 2^64) after each packet, independently of the sequence number.
const nextNonce = (nonce: Uint8Array): void => {
  for (let i = 11; i >= 4; i--) {
    nonce[i] = (nonce[i]! + 1) & 0xff
    if (nonce[i] !== 0) return
  }
}

const initialNonce = (keys: DirectionKeys): Uint8Array => {
  if (keys.iv.length < 12) throw new RangeError(`AES-GCM needs a 12-byte IV, got ${keys.iv.length}`)
  return keys.iv.slice(0, 12)
}

/**
 * Seals packets with AES-GCM; the key length (16 or 32 bytes) selects AES-128 or AES-256.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAesGcmSealer = (backend: SymmetricPrimitives, keys: DirectionKeys): PacketSealer => {
  const aead = backend.aesGcm(keys.key)
  const nonce = initialNonce(keys)
  if (aead.sealPacket !== undefined) {
    const sealPacket = aead.sealPacket.bind(aead)
    const sealParts = aead.sealParts?.bind(aead)
    return {
      blockSize: 16,
      macLength: TAG,
      lengthAligned: false,
      seal(_seq, packet) {
        const out = sealPacket(nonce, packet, 4)
        nextNonce(nonce)
        return out
      },
      sealParts: sealParts === undefined ? undefined : (_seq, pieces) => {
        // The length (AAD) goes out as it is; every other piece is encrypted where it lies, nothing is joined.
        const head = pieces[0]!
        const out = sealParts(nonce, head.subarray(0, 4), [head.subarray(4), ...pieces.slice(1)])
        nextNonce(nonce)
        return [head.subarray(0, 4), ...out]
      }
    }
  }
  return {
    blockSize: 16,
    macLength: TAG,
    lengthAligned: false,
    seal(_seq, packet) {
      const sealed = aead.seal(nonce, packet.subarray(0, 4), packet.subarray(4))
      nextNonce(nonce)
      const out = new Uint8Array(4 + sealed.length)
      out[0] = packet[0]!
      out[1] = packet[1]!
      out[2] = packet[2]!
      out[3] = packet[3]!
      out.set(sealed, 4)
      return out
    },
    sealParts(_seq, pieces) {
      // A backend that cannot gather (noble's GCM takes one plaintext): the pieces after the length are joined
      // once, and the length and ciphertext ‖ tag go out as two parts instead of being repacked into one.
      const head = pieces[0]!
      let n = head.length - 4
      for (let i = 1; i < pieces.length; i++) n += pieces[i]!.length
      const plain = new Uint8Array(n)
      plain.set(head.subarray(4))
      for (let i = 1, o = head.length - 4; i < pieces.length; o += pieces[i]!.length, i++) plain.set(pieces[i]!, o)
      const length = head.subarray(0, 4)
      const sealed = aead.seal(nonce, length, plain)
      nextNonce(nonce)
      return [length, sealed]
    }
  }
}

/**
 * Opens AES-GCM packets: the tag is verified before any plaintext is released (SEC-03).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAesGcmOpener = (backend: SymmetricPrimitives, keys: DirectionKeys): PacketOpener => {
  const aead = backend.aesGcm(keys.key)
  const nonce = initialNonce(keys)
  return {
    blockSize: 16,
    macLength: TAG,
    lengthAligned: false,
    // open returns a new buffer (decrypted out of place), never a view of the wire bytes.
    fresh: true,
    headerLength: 4,
    // The length is AAD: authenticated with the packet, so only used for framing until the tag verifies.
    packetLength: (_seq, h) => ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0,
    open(_seq, wire) {
      if (wire.length < 4 + 5 + TAG) return undefined
      const plain = aead.open(nonce, wire.subarray(0, 4), wire.subarray(4))
      if (plain === undefined) return undefined
      nextNonce(nonce)
      return plain
    }
  }
}
