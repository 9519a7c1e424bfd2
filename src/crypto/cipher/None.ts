/**
 * The initial "none" cipher and MAC (RFC 4253 §6): packets go out as they are until the first NEWKEYS.
 *
 * @since 0.1.0
 */
import type { PacketOpener, PacketSealer } from "../PacketCipher.js"

/**
 * The sealer before the first key exchange: no encryption, no MAC, 8-byte alignment (RFC 4253 §6).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNoneSealer = (): PacketSealer => ({
  blockSize: 8,
  macLength: 0,
  lengthAligned: true,
  seal: (_seq, packet) => packet
})

/**
 * The opener before the first key exchange: packet_length is the first four bytes in clear.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNoneOpener = (): PacketOpener => ({
  blockSize: 8,
  macLength: 0,
  lengthAligned: true,
  headerLength: 4,
  packetLength: (_seq, h) => ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0,
  open: (_seq, wire) => (wire.length < 5 ? undefined : wire.subarray(4))
})
