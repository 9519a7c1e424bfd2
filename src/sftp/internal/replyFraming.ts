/**
 * The client's framing of the server's replies (filexfer-02 §3): like `PacketAssembler` (lengths checked before
 * anything is buffered, SEC-52), except that the data of a DATA reply is not copied: it is handed on as views of
 * the chunks it arrived in (channel data is a fresh buffer per SSH packet, never reused), so a download costs no
 * reassembly copy and no 255 KiB allocation per reply.
 *
 * @internal
 */
import * as Either from "effect/Either"
import { WireError } from "../../wire/WireError.js"
import { MAX_PACKET_LENGTH, PacketType } from "../SftpMessages.js"

/** A whole reply: a body to decode, or a DATA reply's id and data (in parts, in order). */
export type Frame =
  | { readonly _tag: "Body"; readonly body: Uint8Array }
  | { readonly _tag: "Data"; readonly id: number; readonly parts: ReadonlyArray<Uint8Array>; readonly length: number }

/** uint32 length, byte type, uint32 id, uint32 data length. */
const HEAD = 13

const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0

/** Reassembles replies from chunks. One per session; not shared. */
export class ReplyAssembler {
  readonly #head = new Uint8Array(HEAD)
  #headFill = 0
  /** Bytes of the head to gather for the current packet (13, or less for a short packet). */
  #headWant = 4
  #body: Uint8Array | undefined
  #bodyFill = 0
  #data: { id: number; parts: Array<Uint8Array>; length: number; left: number } | undefined

  push(chunk: Uint8Array): Either.Either<Array<Frame>, WireError> {
    const out: Array<Frame> = []
    let p = 0
    while (p < chunk.length) {
      if (this.#data !== undefined) {
        const d = this.#data
        const n = Math.min(d.left, chunk.length - p)
        d.parts.push(chunk.subarray(p, p + n))
        d.left -= n
        p += n
        if (d.left === 0) {
          out.push({ _tag: "Data", id: d.id, parts: d.parts, length: d.length })
          this.#data = undefined
        }
        continue
      }
      if (this.#body !== undefined) {
        const n = Math.min(this.#body.length - this.#bodyFill, chunk.length - p)
        this.#body.set(chunk.subarray(p, p + n), this.#bodyFill)
        this.#bodyFill += n
        p += n
        if (this.#bodyFill === this.#body.length) {
          out.push({ _tag: "Body", body: this.#body })
          this.#body = undefined
        }
        continue
      }
      const n = Math.min(this.#headWant - this.#headFill, chunk.length - p)
      this.#head.set(chunk.subarray(p, p + n), this.#headFill)
      this.#headFill += n
      p += n
      if (this.#headFill < this.#headWant) continue
      const len = u32(this.#head, 0)
      if (this.#headWant === 4) {
        // SEC-52: the length is checked before anything is buffered.
        if (len === 0 || len > MAX_PACKET_LENGTH) {
          return Either.left(new WireError({ reason: "TooLarge", description: `SFTP packet length ${len} (max ${MAX_PACKET_LENGTH})` }))
        }
        this.#headWant = Math.min(HEAD, 4 + len)
        continue
      }
      this.#headFill = 0
      this.#headWant = 4
      if (this.#head[4] === PacketType.DATA && len >= HEAD - 4 && u32(this.#head, 9) === len - (HEAD - 4)) {
        const length = len - (HEAD - 4)
        const id = u32(this.#head, 5)
        if (length === 0) out.push({ _tag: "Data", id, parts: [], length })
        else this.#data = { id, parts: [], length, left: length }
        continue
      }
      // Anything else (a malformed DATA included) is decoded whole.
      const body = new Uint8Array(len)
      const have = Math.min(len, HEAD - 4)
      body.set(this.#head.subarray(4, 4 + have))
      if (have === len) out.push({ _tag: "Body", body })
      else {
        this.#body = body
        this.#bodyFill = have
      }
    }
    return Either.right(out)
  }
}
