/**
 * Payloads allocated with room around them for the binary packet (RFC 4253 §6: 4-byte length and 1-byte
 * padding length before, random padding after), so that the packet writer can frame a hot-path payload
 * (CHANNEL_DATA) where it lies instead of copying it into a new packet (DESIGN.md §6: no per-packet copies
 * beyond what the cipher needs). Only payloads made here are framed in place; any other view is copied, so
 * bytes next to a caller's data are never touched.
 *
 * @since 0.1.0
 */

/**
 * Bytes reserved before the payload: uint32 packet_length and byte padding_length.
 *
 * @since 0.1.0
 * @category constants
 */
export const BEFORE = 5

/**
 * Bytes reserved after the payload: the most padding any cipher needs (RFC 4253 §6: 4 + block size − 1 ≤ 19
 * for 16-byte blocks), rounded up.
 *
 * @since 0.1.0
 * @category constants
 */
export const AFTER = 32

const owned = new WeakSet<Uint8Array>()

/**
 * A zeroed payload of `length` bytes with `BEFORE` bytes before and `AFTER` bytes after it in its buffer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const alloc = (length: number): Uint8Array => {
  const view = new Uint8Array(new ArrayBuffer(BEFORE + length + AFTER), BEFORE, length)
  owned.add(view)
  return view
}

/**
 * The whole buffer around a payload made by `alloc`, or `undefined` for any other view.
 *
 * @since 0.1.0
 * @category accessors
 */
export const frame = (payload: Uint8Array): Uint8Array | undefined =>
  owned.has(payload) ? new Uint8Array(payload.buffer, payload.byteOffset - BEFORE, BEFORE + payload.length + AFTER) : undefined
