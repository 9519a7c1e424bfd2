/**
 * A non-AEAD cipher (AES-CTR, RFC 4344 §4; AES-CBC and 3DES-CBC, RFC 4253 §6.3) with a separate MAC (HMAC or
 * UMAC, src/crypto/mac/), in one of two orders:
 *
 * - encrypt-and-MAC (RFC 4253 §6): the MAC covers the plaintext packet, the length is encrypted with the rest,
 *   and the receiver decrypts the first block to learn it;
 * - encrypt-then-MAC (OpenSSH PROTOCOL §1.5, the -etm@openssh.com names): the length is sent in clear and the MAC
 *   covers `packet_length ‖ ciphertext`, verified before anything is decrypted (SEC-03).
 *
 * The cipher is a `StreamCipher` whose state runs across packets: the CTR counter, or the CBC chaining value
 * (each packet's IV is the previous packet's last ciphertext block, RFC 4253 §6.3).
 *
 * @since 0.1.0
 */
import type { StreamCipher } from "../Backend.js"
import type { PacketMac } from "../mac/Mac.js"
import type { PacketOpener, PacketSealer } from "../PacketCipher.js"

/**
 * The parts of one direction: the cipher stream, its block size (the alignment unit, and the bytes the
 * receiver decrypts to learn the length), the MAC, and the order.
 *
 * @since 0.1.0
 * @category models
 */
export interface CipherMacParams {
  readonly cipher: StreamCipher
  readonly blockSize: number
  readonly mac: PacketMac
  /** Encrypt-then-MAC (OpenSSH PROTOCOL §1.5). */
  readonly etm: boolean
  /** CBC (SEC-05): the sealer asks for IGNORE prefixes; with encrypt-and-MAC the opener asks to discard. */
  readonly cbc: boolean
}

const readLength = (h: Uint8Array): number => ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0

/**
 * Seals packets: encrypt-and-MAC or encrypt-then-MAC.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCipherMacSealer = (p: CipherMacParams): PacketSealer => {
  const { blockSize, cipher, etm, mac } = p
  const length = mac.length
  return {
    blockSize,
    macLength: length,
    lengthAligned: !etm,
    ignorePrefix: p.cbc,
    seal(seq, packet) {
      const n = packet.length
      const out = new Uint8Array(n + length)
      const body = out.subarray(0, n)
      if (etm) {
        out.set(packet.subarray(0, 4))
        cipher.update(packet.subarray(4), out.subarray(4, n))
        out.set(mac.compute(seq, body), n)
      } else {
        // RFC 4253 §6.4: mac = MAC(key, sequence_number ‖ unencrypted_packet)
        const tag = mac.compute(seq, packet)
        cipher.update(packet, body)
        out.set(tag, n)
      }
      return out
    },
    // Not for CBC: its packets go out behind an IGNORE prefix (SEC-05), which the writer joins anyway.
    sealParts: p.cbc ? undefined : (seq, pieces) => {
      // The pieces are laid out once in the output and encrypted there: the one copy a stream cipher with a
      // separate MAC needs (the payload is never framed first and then copied again).
      let n = 0
      for (let i = 0; i < pieces.length; i++) n += pieces[i]!.length
      const out = new Uint8Array(n + length)
      for (let i = 0, o = 0; i < pieces.length; o += pieces[i]!.length, i++) out.set(pieces[i]!, o)
      const body = out.subarray(0, n)
      if (etm) {
        const rest = out.subarray(4, n)
        cipher.update(rest, rest)
        out.set(mac.compute(seq, body), n)
      } else {
        const tag = mac.compute(seq, body)
        cipher.update(body, body)
        out.set(tag, n)
      }
      return [out]
    }
  }
}

/**
 * Opens packets. With -etm the MAC is verified before anything is decrypted (SEC-03); without it the first
 * block is decrypted to learn the length, as RFC 4253 requires. Either way nothing is returned unless the MAC
 * verifies, compared in constant time (SEC-04, SEC-27); a ciphertext that is not whole blocks is refused the
 * same way.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCipherMacOpener = (
  p: CipherMacParams,
  timingSafeEqual: (a: Uint8Array, b: Uint8Array) => boolean
): PacketOpener => {
  const { blockSize, cipher, etm, mac } = p
  const length = mac.length
  if (etm) {
    return {
      blockSize,
      macLength: length,
      lengthAligned: false,
      // open returns a new buffer (decrypted out of place), never a view of the wire bytes.
      fresh: true,
      headerLength: 4,
      packetLength: (_seq, header) => readLength(header),
      open(seq, wire) {
        const n = wire.length - length
        if (n < 4 + 5 || (n - 4) % blockSize !== 0) return undefined
        const tag = mac.compute(seq, wire.subarray(0, n))
        if (!timingSafeEqual(tag, wire.subarray(n))) return undefined
        const plain = new Uint8Array(n - 4)
        cipher.update(wire.subarray(4, n), plain)
        return plain
      }
    }
  }
  // The first decrypted block, kept by packetLength for open.
  const first = new Uint8Array(blockSize)
  return {
    blockSize,
    macLength: length,
    lengthAligned: true,
    // open returns a new buffer (decrypted out of place), never a view of the wire bytes.
    fresh: true,
    headerLength: blockSize,
    discardOnError: p.cbc,
    packetLength(_seq, header) {
      cipher.update(header.subarray(0, blockSize), first)
      return readLength(first)
    },
    open(seq, wire) {
      const n = wire.length - length
      if (n < blockSize || n % blockSize !== 0) return undefined
      const plain = new Uint8Array(n)
      plain.set(first)
      cipher.update(wire.subarray(blockSize, n), plain.subarray(blockSize))
      const tag = mac.compute(seq, plain)
      if (!timingSafeEqual(tag, wire.subarray(n))) return undefined
      return plain.subarray(4)
    }
  }
}

