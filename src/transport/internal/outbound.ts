/**
 * The transport's outbound queue: sealed packets in the order they were sealed, written by one fiber in
 * batches (one socket write per batch). Sealing happens at the call site, synchronously, so the order of
 * `enqueue` calls is the order on the wire.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"

/** @internal */
export interface Outbound {
  /** Queues bytes for the socket; never blocks (callers apply backpressure with `pendingBytes`). */
  readonly enqueue: (bytes: Uint8Array) => void
  /** Bytes queued or being written. */
  readonly pendingBytes: () => number
  /** Completes once everything queued so far has been written. */
  readonly drained: Effect.Effect<void>
  /** The writer loop; runs until interrupted or the socket fails. `onWritten` runs after every batch. */
  readonly run: (onWritten: () => void) => Effect.Effect<never, Socket.SocketError>
}

/** @internal */
export const make = (
  write: (chunk: Uint8Array) => Effect.Effect<void, Socket.SocketError>
): Effect.Effect<Outbound> =>
  Effect.gen(function*() {
    const hasData = yield* Effect.makeLatch(false)
    const idle = yield* Effect.makeLatch(true)
    let pending: Array<Uint8Array> = []
    let pendingBytes = 0
    return {
      enqueue: (bytes) => {
        pending.push(bytes)
        pendingBytes += bytes.length
        hasData.unsafeOpen()
        idle.unsafeClose()
      },
      pendingBytes: () => pendingBytes,
      drained: idle.await,
      run: (onWritten) =>
        Effect.gen(function*() {
          for (;;) {
            yield* hasData.await
            const parts = pending
            pending = []
            hasData.unsafeClose()
            let total = 0
            for (const p of parts) total += p.length
            yield* write(parts.length === 1 ? parts[0]! : concat(parts, total))
            pendingBytes -= total
            if (pendingBytes === 0) idle.unsafeOpen()
            onWritten()
          }
        })
    }
  })

const concat = (parts: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  const out = new Uint8Array(total)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}
