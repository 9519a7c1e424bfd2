/**
 * A session program's stdout and stderr (DESIGN.md §6: no hand-off per packet). Each is a Sink for Effect
 * programs and, for producers that live outside Effect (a child process's pipe on Node), a synchronous writer
 * behind it: bytes are sealed in the producer's own callback, and the producer pauses while the peer's window
 * or the socket is full, so that no fiber runs per chunk.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Sink from "effect/Sink"
import type { Channel } from "../../connection/Channel.js"
import { type ChannelRecord, recordOf } from "../../connection/internal/channel.js"
import type { ChannelError, TransportError } from "../../SshError.js"

/**
 * The synchronous side of a session output.
 *
 * @internal
 */
export interface DirectOutput {
  /**
   * Sends what the peer's window and the socket allow of `data` from `offset` now; returns the offset reached
   * (`data.length` when all of it went), or the error that ends the output.
   */
  readonly send: (data: Uint8Array, offset: number) => number | ChannelError | TransportError
  /** Runs `wake` once `send` may make progress again; returns a function that forgets it. */
  readonly onceSendable: (wake: () => void) => () => void
}

/** The Sinks made here, with their synchronous side. */
const directs = new WeakMap<object, DirectOutput>()

const direct = (record: ChannelRecord, stderr: boolean): DirectOutput => ({
  send: (data, offset) => record.sendNow(data, offset, stderr),
  onceSendable: (wake) => record.onceSendable(wake)
})

/**
 * The stdout (or, with `stderr`, the stderr as EXTENDED_DATA, RFC 4254 §5.2) of a session on `channel`: one
 * Sink step per Stream chunk, whose buffers are sealed in that step while the window and the socket allow; an
 * Effect only for what has to wait (`Sink.forEach` ran an `Effect.forEach` per chunk and an Effect per buffer,
 * which cost more than the write itself on the bulk path).
 *
 * @internal
 */
export const sink = (
  channel: Channel,
  stderr: boolean
): Sink.Sink<void, Uint8Array, never, ChannelError | TransportError> => {
  const write = stderr ? channel.writeStderr : channel.write
  const record = recordOf(channel)
  const out = Sink.forEachChunk((chunk: Chunk.Chunk<Uint8Array>) =>
    Effect.suspend(() => {
      if (record === undefined) return Effect.forEach(chunk, write, { discard: true })
      // Sealed in this turn while the window and the socket allow; the Effect waits only for the rest.
      for (let i = 0; i < chunk.length; i++) {
        const data = Chunk.unsafeGet(chunk, i)
        const r = record.sendNow(data, 0, stderr)
        if (typeof r !== "number") return Effect.fail(r)
        if (r < data.length) {
          return Effect.zipRight(
            write(data.subarray(r)),
            Effect.forEach(Chunk.drop(chunk, i + 1), write, { discard: true })
          )
        }
      }
      return Effect.void
    })
  )
  if (record !== undefined) directs.set(out, direct(record, stderr))
  return out
}

/**
 * The synchronous side of a Sink made by `sink`; `undefined` for any other Sink (a program's own, or a test's).
 *
 * @internal
 */
export const directOf = (output: Sink.Sink<void, Uint8Array, never, ChannelError | TransportError>): DirectOutput | undefined =>
  directs.get(output)
