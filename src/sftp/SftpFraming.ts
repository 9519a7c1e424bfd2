/**
 * SFTP packet framing (filexfer-02 §3: uint32 length, then the body) over the byte stream of a channel: a pure
 * reassembler that checks the length before it buffers (SEC-52, LIM-26), so a peer cannot make us hold more than
 * one maximum-size packet.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { WireError } from "../wire/WireError.js"
import { MAX_PACKET_LENGTH } from "./SftpMessages.js"

/**
 * Collects channel data into whole SFTP packet bodies. One per direction of one session; not shared.
 *
 * @since 0.1.0
 * @category models
 */
export class PacketAssembler {
  private readonly head = new Uint8Array(4)
  private headFill = 0
  private body: Uint8Array | undefined
  private bodyFill = 0

  constructor(readonly maxLength: number = MAX_PACKET_LENGTH) {}

  /**
   * Adds a chunk and returns the bodies it completed, or an error when a packet announces a length of 0 or over
   * `maxLength` (SEC-52: the session must then end). Bodies are fresh buffers owned by the caller.
   */
  push(chunk: Uint8Array): Either.Either<Array<Uint8Array>, WireError> {
    const out: Array<Uint8Array> = []
    let p = 0
    while (p < chunk.length) {
      if (this.body === undefined) {
        const n = Math.min(4 - this.headFill, chunk.length - p)
        this.head.set(chunk.subarray(p, p + n), this.headFill)
        this.headFill += n
        p += n
        if (this.headFill < 4) break
        const len = new DataView(this.head.buffer).getUint32(0)
        if (len === 0 || len > this.maxLength) {
          return Either.left(new WireError({ reason: "TooLarge", description: `SFTP packet length ${len} (max ${this.maxLength})` }))
        }
        this.headFill = 0
        // The whole packet is already here: hand out a view-free copy in one step.
        if (chunk.length - p >= len) {
          out.push(chunk.slice(p, p + len))
          p += len
          continue
        }
        this.body = new Uint8Array(len)
        this.bodyFill = 0
      }
      const need = this.body.length - this.bodyFill
      const n = Math.min(need, chunk.length - p)
      this.body.set(chunk.subarray(p, p + n), this.bodyFill)
      this.bodyFill += n
      p += n
      if (this.bodyFill === this.body.length) {
        out.push(this.body)
        this.body = undefined
        this.bodyFill = 0
      }
    }
    return Either.right(out)
  }

  /** Bytes of an unfinished packet held now (for tests of the SEC-52 bound). */
  get buffered(): number {
    return this.headFill + this.bodyFill
  }
}
