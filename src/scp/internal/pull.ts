/**
 * A byte reader over a pulled Stream for the SCP engine: single bytes (acks), lines (records, bounded by
 * `MAX_LINE`) and exact byte counts (file contents, handed on chunk by chunk so nothing is buffered whole).
 *
 * @since 0.1.0
 */
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { MAX_LINE, ScpError } from "../ScpProtocol.js"

const decoder = new TextDecoder("utf-8", { fatal: true })

/** @internal */
export class Pull<E> {
  private buffer: Uint8Array<ArrayBufferLike> = new Uint8Array(0)
  private done = false

  constructor(private readonly pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>>) {}

  /** More bytes into the buffer; false at the end of the stream. */
  private fill(): Effect.Effect<boolean, E> {
    if (this.done) return Effect.succeed(false)
    return this.pull.pipe(
      Effect.map((chunk) => {
        // The common case, a file's contents: nothing left over and one piece, kept without a copy.
        if (this.buffer.length === 0 && chunk.length === 1) {
          for (const c of chunk) this.buffer = c
          return true
        }
        let size = this.buffer.length
        for (const c of chunk) size += c.length
        const next = new Uint8Array(size)
        next.set(this.buffer)
        let at = this.buffer.length
        for (const c of chunk) {
          next.set(c, at)
          at += c.length
        }
        this.buffer = next
        return true
      }),
      Effect.catchAll((e) => {
        if (Option.isSome(e)) return Effect.fail(e.value)
        this.done = true
        return Effect.succeed(false)
      })
    )
  }

  /** One byte, or undefined at the end of the stream. */
  byte(): Effect.Effect<number | undefined, E> {
    return Effect.suspend(() => {
      if (this.buffer.length > 0) {
        const b = this.buffer[0]!
        this.buffer = this.buffer.subarray(1)
        return Effect.succeed(b)
      }
      return Effect.flatMap(this.fill(), (more) => more ? this.byte() : Effect.succeed(undefined))
    })
  }

  /** A `\n`-terminated line without its terminator (SEC-58: at most MAX_LINE bytes, valid UTF-8). */
  line(): Effect.Effect<string, E | ScpError> {
    return Effect.suspend(() => {
      const end = this.buffer.indexOf(0x0a)
      if (end >= 0) {
        const bytes = this.buffer.subarray(0, end)
        this.buffer = this.buffer.subarray(end + 1)
        try {
          return Effect.succeed(decoder.decode(bytes))
        } catch {
          return Effect.fail(new ScpError({ reason: "Protocol", description: "control line is not UTF-8" }))
        }
      }
      if (this.buffer.length > MAX_LINE) {
        return Effect.fail(new ScpError({ reason: "Protocol", description: "control line too long" }))
      }
      return Effect.flatMap(this.fill(), (more) =>
        more
          ? this.line()
          : Effect.fail(new ScpError({ reason: "Protocol", description: "the peer ended in the middle of a line" })))
    })
  }

  /** Exactly `n` bytes, given to `f` as they arrive. */
  bytes<E2>(n: number, f: (chunk: Uint8Array) => Effect.Effect<void, E2>): Effect.Effect<void, E | E2 | ScpError> {
    return Effect.suspend(() => {
      if (n === 0) return Effect.void
      if (this.buffer.length > 0) {
        const take = this.buffer.subarray(0, Math.min(n, this.buffer.length))
        this.buffer = this.buffer.subarray(take.length)
        return Effect.zipRight(f(take), this.bytes(n - take.length, f))
      }
      return Effect.flatMap(this.fill(), (more) =>
        more
          ? this.bytes(n, f)
          : Effect.fail(new ScpError({ reason: "Protocol", description: `the peer ended ${n} bytes before the file did` })))
    })
  }
}
