/**
 * Framing of the data-carrying SFTP packets (WRITE, DATA: filexfer-02 §6.4, §7) written straight into the packet
 * buffer, without encoding the data through a Writer: the hot path of transfers.
 *
 * @internal
 */

/** Bytes of a data-carrying packet before its data: uint32 length, byte type, uint32 id, [handle, uint64 offset,] uint32 data length. */
export const dataHeadLength = (handle: Uint8Array | undefined) => 4 + 5 + (handle === undefined ? 0 : 4 + handle.length + 8) + 4

/** Writes the framing of a data-carrying packet (everything before its data) at the start of `out`. */
export const writeDataHead = (out: Uint8Array, type: number, id: number, handle: Uint8Array | undefined, offset: bigint, length: number) => {
  const view = new DataView(out.buffer, out.byteOffset)
  const head = dataHeadLength(handle)
  view.setUint32(0, head - 4 + length)
  out[4] = type
  view.setUint32(5, id >>> 0)
  let p = 9
  if (handle !== undefined) {
    view.setUint32(p, handle.length)
    out.set(handle, p + 4)
    p += 4 + handle.length
    view.setBigUint64(p, BigInt.asUintN(64, offset))
    p += 8
  }
  view.setUint32(p, length)
  return head
}

/** Writes the uint32 length, the type byte and the id of a data-carrying packet straight into one buffer. */
export const dataPacket = (type: number, id: number, handle: Uint8Array | undefined, offset: bigint, data: Uint8Array) => {
  const out = new Uint8Array(dataHeadLength(handle) + data.length)
  out.set(data, writeDataHead(out, type, id, handle, offset, data.length))
  return out
}

/**
 * A data-carrying packet (`type`: WRITE) of `length` bytes whose data is `parts`, as buffers to send in order: the
 * framing and the first `firstPacket` bytes of the packet in one new buffer (a channel packet's worth is copied),
 * then the rest of the data as views of `parts` (not copied). filexfer-02 §6.4.
 */
export const dataParts = (
  type: number,
  id: number,
  handle: Uint8Array,
  offset: bigint,
  parts: ReadonlyArray<Uint8Array>,
  length: number,
  firstPacket: number
): Array<Uint8Array> => {
  const headLength = dataHeadLength(handle)
  const copied = Math.min(length, Math.max(0, firstPacket - headLength))
  const first = new Uint8Array(headLength + copied)
  let at = writeDataHead(first, type, id, handle, offset, length)
  const out: Array<Uint8Array> = [first]
  for (const part of parts) {
    const n = Math.min(part.length, first.length - at)
    if (n > 0) {
      first.set(n === part.length ? part : part.subarray(0, n), at)
      at += n
    }
    if (n < part.length) out.push(n === 0 ? part : part.subarray(n))
  }
  return out
}

