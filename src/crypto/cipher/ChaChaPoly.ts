/**
 * chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305): 64 bytes of key material form K_2 (the
 * first 32 bytes, for the payload and the Poly1305 key) and K_1 (the last 32, for the length). The nonce is the
 * sequence number as a uint64; the tag covers the encrypted length ‖ the encrypted payload.
 *
 * @since 0.1.0
 */
import type { SymmetricPrimitives } from "../Backend.js"
import type { DirectionKeys, PacketOpener, PacketSealer } from "../PacketCipher.js"

const TAG = 16
const ZERO64 = new Uint8Array(64)

interface State {
  readonly k1: Uint8Array
  readonly k2: Uint8Array
  /** uint64 sequence number, big-endian: the high word stays zero (sequence numbers are 32 bits). */
  readonly nonce: Uint8Array
  /** K_2's keystream block 0; its first 32 bytes are the Poly1305 key. */
  readonly block0: Uint8Array
  readonly polyKey: Uint8Array
}

const makeState = (keys: DirectionKeys): State => {
  if (keys.key.length !== 64) throw new RangeError(`chacha20-poly1305 needs 64 key bytes, got ${keys.key.length}`)
  const block0 = new Uint8Array(64)
  return {
    k2: keys.key.slice(0, 32),
    k1: keys.key.slice(32, 64),
    nonce: new Uint8Array(8),
    block0,
    polyKey: block0.subarray(0, 32)
  }
}

const setSeq = (nonce: Uint8Array, seq: number): void => {
  nonce[4] = seq >>> 24
  nonce[5] = seq >>> 16
  nonce[6] = seq >>> 8
  nonce[7] = seq
}

// The Poly1305 key: the first 32 bytes of K_2's keystream block 0 for this nonce. The whole block is taken; both
// backends compute such single blocks (and the 4-byte length under K_1) with cipher/ChaCha20Short.ts, not with
// their bulk ChaCha20, whose per-call set-up costs more than the Poly1305 of a small packet.
const makePolyKey = (backend: SymmetricPrimitives, s: State): void => {
  backend.chacha20(s.k2, s.nonce, 0, ZERO64, s.block0)
}

/**
 * Seals packets with chacha20-poly1305@openssh.com.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeChaChaPolySealer = (backend: SymmetricPrimitives, keys: DirectionKeys): PacketSealer => {
  const s = makeState(keys)
  const { chacha20Parts, poly1305Parts } = backend
  return {
    blockSize: 8,
    macLength: TAG,
    lengthAligned: false,
    seal(seq, packet) {
      const n = packet.length
      const out = new Uint8Array(n + TAG)
      setSeq(s.nonce, seq)
      backend.chacha20(s.k1, s.nonce, 0, packet.subarray(0, 4), out.subarray(0, 4))
      makePolyKey(backend, s)
      // The payload uses K_2 from block counter 1 (block 0 gave the Poly1305 key).
      backend.chacha20(s.k2, s.nonce, 1, packet.subarray(4), out.subarray(4, n))
      out.set(backend.poly1305(s.polyKey, out.subarray(0, n)), n)
      return out
    },
    sealParts: chacha20Parts === undefined || poly1305Parts === undefined ? undefined : (seq, pieces) => {
      // The length under K_1, the rest under K_2 from block 1 straight from the pieces, the tag over the encrypted
      // length ‖ every ciphertext part: nothing is joined, the cipher's output is the only copy (DESIGN.md §6).
      const head = pieces[0]!
      setSeq(s.nonce, seq)
      const length = new Uint8Array(4)
      backend.chacha20(s.k1, s.nonce, 0, head.subarray(0, 4), length)
      makePolyKey(backend, s)
      const plain: Array<Uint8Array> = [head.subarray(4)]
      for (let i = 1; i < pieces.length; i++) plain.push(pieces[i]!)
      const parts: Array<Uint8Array> = [length]
      for (const c of chacha20Parts(s.k2, s.nonce, 1, plain)) parts.push(c)
      parts.push(poly1305Parts(s.polyKey, parts))
      return parts
    }
  }
}

/**
 * Opens chacha20-poly1305@openssh.com packets. The K_1-decrypted length serves only for framing; nothing is
 * decrypted with K_2 before the tag verifies (SEC-03).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeChaChaPolyOpener = (backend: SymmetricPrimitives, keys: DirectionKeys): PacketOpener => {
  const s = makeState(keys)
  const { chacha20Parts } = backend
  const len = new Uint8Array(4)
  return {
    blockSize: 8,
    macLength: TAG,
    lengthAligned: false,
    // open returns a new buffer (decrypted out of place), never a view of the wire bytes.
    fresh: true,
    headerLength: 4,
    packetLength(seq, header) {
      setSeq(s.nonce, seq)
      backend.chacha20(s.k1, s.nonce, 0, header.subarray(0, 4), len)
      return ((len[0]! << 24) | (len[1]! << 16) | (len[2]! << 8) | len[3]!) >>> 0
    },
    open(seq, wire) {
      const n = wire.length - TAG
      if (n < 4 + 5) return undefined
      setSeq(s.nonce, seq)
      makePolyKey(backend, s)
      const tag = backend.poly1305(s.polyKey, wire.subarray(0, n))
      if (!backend.timingSafeEqual(tag, wire.subarray(n))) return undefined
      if (chacha20Parts !== undefined) {
        // The cipher's own output is the plaintext (a new buffer): no zeroed buffer to copy it into.
        const out = chacha20Parts(s.k2, s.nonce, 1, [wire.subarray(4, n)])
        // `fresh`: a backend that XORed in place handed back the wire's own bytes, which later reads overwrite.
        if (out.length === 1) return out[0]!.buffer === wire.buffer ? out[0]!.slice() : out[0]!
      }
      const plain = new Uint8Array(n - 4)
      backend.chacha20(s.k2, s.nonce, 1, wire.subarray(4, n), plain)
      return plain
    }
  }
}
