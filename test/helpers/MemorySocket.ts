/**
 * An in-memory pair of @effect/platform Sockets for loopback tests: what one side writes, the other reads.
 * Each direction is a bounded queue, so a writer that outruns its reader waits (as TCP would).
 */
import * as Socket from "@effect/platform/Socket"
import { Effect, Queue } from "effect"

type Item = Uint8Array | "close"

const side = (inbox: Queue.Queue<Item>, outbox: Queue.Queue<Item>): Socket.Socket => {
  const run = <_, E, R>(handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void) =>
    Effect.gen(function*() {
      for (;;) {
        const item = yield* Queue.take(inbox)
        if (item === "close") return
        const r = handler(item)
        if (Effect.isEffect(r)) yield* r
      }
    }).pipe(Effect.ensuring(Queue.offer(inbox, "close")))
  return {
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: (handler) => run(handler),
    writer: Effect.acquireRelease(
      Effect.succeed((chunk: Uint8Array | string | Socket.CloseEvent) => {
        if (Socket.isCloseEvent(chunk)) return Effect.asVoid(Effect.all([Queue.offer(outbox, "close"), Queue.offer(inbox, "close")]))
        // Copy: the writer may reuse its buffer, and the reader must see what was written.
        const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk.slice()
        return Effect.asVoid(Queue.offer(outbox, bytes))
      }),
      () => Effect.asVoid(Queue.offer(outbox, "close"))
    )
  } as Socket.Socket
}

/** Two connected in-memory sockets. */
export const pair = (capacity = 64): Effect.Effect<readonly [Socket.Socket, Socket.Socket]> =>
  Effect.gen(function*() {
    const aToB = yield* Queue.bounded<Item>(capacity)
    const bToA = yield* Queue.bounded<Item>(capacity)
    return [side(bToA, aToB), side(aToB, bToA)] as const
  })
