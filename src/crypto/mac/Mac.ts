/**
 * The MAC of one SSH packet (RFC 4253 §6.4), whatever the algorithm: HMAC (RFC 2104; RFC 4253, RFC 6668, the
 * truncated -96 variants) over `uint32 sequence_number ‖ data`, or UMAC (RFC 4418; OpenSSH's
 * umac-64/umac-128@openssh.com) over `data` with the sequence number as its 64-bit big-endian nonce.
 *
 * @since 0.1.0
 */
import type { SymmetricPrimitives } from "../Backend.js"
import { makeUmac } from "./Umac.js"

/**
 * The hash of an HMAC.
 *
 * @since 0.1.0
 * @category models
 */
export type HmacHash = "md5" | "sha1" | "sha256" | "sha512"

/**
 * What the packet layer needs to know to compute a MAC: the algorithm family, and the tag length in bytes (an
 * HMAC tag shorter than the hash is its leftmost bytes, RFC 2104 §5).
 *
 * @since 0.1.0
 * @category models
 */
export type MacParams =
  | { readonly family: "hmac"; readonly hash: HmacHash; readonly length: number }
  | { readonly family: "umac"; readonly length: number }

/**
 * A keyed MAC for one direction of a connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface PacketMac {
  readonly length: number
  /** The tag of `data`, the packet (or, encrypt-then-MAC, its length and ciphertext) numbered `seq`. */
  compute(seq: number, data: Uint8Array): Uint8Array
}

/**
 * The MAC `params` under `key`, on `backend`'s primitives.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePacketMac = (
  backend: Pick<SymmetricPrimitives, "hmac" | "aesEcb">,
  params: MacParams,
  key: Uint8Array
): PacketMac => {
  const length = params.length
  if (params.family === "umac") {
    const umac = makeUmac((k) => backend.aesEcb(k), key, length)
    // OpenSSH mac.c: the nonce is the sequence number as a big-endian uint64 (its high half is always zero).
    const nonce = new Uint8Array(8)
    const view = new DataView(nonce.buffer)
    return {
      length,
      compute(seq, data) {
        view.setUint32(4, seq)
        return umac.tag(data, nonce)
      }
    }
  }
  const hash = params.hash
  const seqBytes = new Uint8Array(4)
  const view = new DataView(seqBytes.buffer)
  return {
    length,
    compute(seq, data) {
      view.setUint32(0, seq)
      const tag = backend.hmac(hash, key, [seqBytes, data])
      return tag.length === length ? tag : tag.subarray(0, length)
    }
  }
}
