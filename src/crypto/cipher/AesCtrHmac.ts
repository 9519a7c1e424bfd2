/**
 * aes128-ctr, aes192-ctr and aes256-ctr (RFC 4344 §4) with an HMAC (RFC 4253 §6.4, RFC 6668): either classic
 * encrypt-and-MAC, where the MAC covers uint32 sequence_number ‖ the plaintext packet and the length is
 * encrypted, or encrypt-then-MAC (OpenSSH PROTOCOL §1.5, the -etm@openssh.com names), where the length is
 * sent in clear and the MAC covers uint32 sequence_number ‖ packet_length ‖ the ciphertext.
 *
 * @since 0.1.0
 */
import type { SymmetricPrimitives } from "../Backend.js"
import type { DirectionKeys, PacketOpener, PacketSealer } from "../PacketCipher.js"

/**
 * What the AES-CTR packet cipher needs to know about its MAC.
 *
 * @since 0.1.0
 * @category models
 */
export interface HmacParams {
  readonly hash: "sha1" | "sha256" | "sha512"
  /** Tag length in bytes. */
  readonly length: number
  /** Encrypt-then-MAC (OpenSSH PROTOCOL §1.5). */
  readonly etm: boolean
}

const BLOCK = 16

const readLength = (h: Uint8Array): number => ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0

const setSeq = (b: Uint8Array, seq: number): void => {
  b[0] = seq >>> 24
  b[1] = seq >>> 16
  b[2] = seq >>> 8
  b[3] = seq
}

const checkKeys = (keys: DirectionKeys): void => {
  if (keys.iv.length !== BLOCK) throw new RangeError(`AES-CTR needs a 16-byte IV, got ${keys.iv.length}`)
}

/**
 * Seals packets with AES-CTR and an HMAC, in encrypt-and-MAC or encrypt-then-MAC order.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAesCtrSealer = (backend: SymmetricPrimitives, mac: HmacParams, keys: DirectionKeys): PacketSealer => {
  checkKeys(keys)
  const ctr = backend.aesCtr(keys.key, keys.iv)
  const macKey = keys.macKey
  const { etm, hash, length } = mac
  const seqBytes = new Uint8Array(4)
  return {
    blockSize: BLOCK,
    macLength: length,
    lengthAligned: !etm,
    seal(seq, packet) {
      const n = packet.length
      const out = new Uint8Array(n + length)
      const body = out.subarray(0, n)
      setSeq(seqBytes, seq)
      if (etm) {
        out.set(packet.subarray(0, 4))
        ctr.update(packet.subarray(4), out.subarray(4, n))
        out.set(backend.hmac(hash, macKey, [seqBytes, body]), n)
      } else {
        // RFC 4253 §6.4: mac = MAC(key, sequence_number ‖ unencrypted_packet)
        const tag = backend.hmac(hash, macKey, [seqBytes, packet])
        ctr.update(packet, body)
        out.set(tag, n)
      }
      return out
    }
  }
}

/**
 * Opens AES-CTR + HMAC packets. With -etm the MAC is verified before anything is decrypted (SEC-03); without
 * it the first block is decrypted to learn the length, as RFC 4253 requires. Either way nothing is returned
 * unless the MAC verifies (SEC-04).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAesCtrOpener = (backend: SymmetricPrimitives, mac: HmacParams, keys: DirectionKeys): PacketOpener => {
  checkKeys(keys)
  const ctr = backend.aesCtr(keys.key, keys.iv)
  const macKey = keys.macKey
  const { etm, hash, length } = mac
  const seqBytes = new Uint8Array(4)
  // Non-ETM: the first decrypted block, kept by packetLength for open.
  const first = new Uint8Array(BLOCK)
  if (etm) {
    return {
      blockSize: BLOCK,
      macLength: length,
      lengthAligned: false,
      headerLength: 4,
      packetLength: (_seq, header) => readLength(header),
      open(seq, wire) {
        const n = wire.length - length
        if (n < 4 + 5) return undefined
        setSeq(seqBytes, seq)
        const tag = backend.hmac(hash, macKey, [seqBytes, wire.subarray(0, n)])
        if (!backend.timingSafeEqual(tag, wire.subarray(n))) return undefined
        const plain = new Uint8Array(n - 4)
        ctr.update(wire.subarray(4, n), plain)
        return plain
      }
    }
  }
  return {
    blockSize: BLOCK,
    macLength: length,
    lengthAligned: true,
    headerLength: BLOCK,
    packetLength(_seq, header) {
      ctr.update(header.subarray(0, BLOCK), first)
      return readLength(first)
    },
    open(seq, wire) {
      const n = wire.length - length
      if (n < BLOCK) return undefined
      const plain = new Uint8Array(n)
      plain.set(first)
      ctr.update(wire.subarray(BLOCK, n), plain.subarray(BLOCK))
      setSeq(seqBytes, seq)
      const tag = backend.hmac(hash, macKey, [seqBytes, plain])
      if (!backend.timingSafeEqual(tag, wire.subarray(n))) return undefined
      return plain.subarray(4)
    }
  }
}
