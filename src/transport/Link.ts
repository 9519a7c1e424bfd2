/**
 * The byte stream under one transport, as the engine needs it (DESIGN.md §6): chunks delivered by a synchronous
 * callback, writes queued in the caller's turn and flushed once per tick, a way to stop reading (backpressure)
 * and a bounded close. `src/node` provides one over a `net.Socket` (cork/uncork, pause/resume); any other
 * @effect/platform `Socket` is adapted by `fromSocket` (a reader and a writer fiber; it cannot pause, so the
 * engine falls back to disconnecting when input outgrows its bound).
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"

/**
 * What a link reports to the engine: received bytes, the end of the stream (with the failure, if any), and
 * that queued bytes were written (so blocked senders may continue).
 *
 * @since 0.1.0
 * @category models
 */
export interface LinkSink {
  readonly onData: (chunk: Uint8Array) => void
  readonly onEnd: (failure: unknown) => void
  readonly onDrain: () => void
  /**
   * Where the next read should land, for a link that can read into a given buffer (Node's `onread`): the engine
   * offers the space after its unread bytes, so that reads allocate nothing and a packet split between two reads
   * is contiguous without a copy. The chunk then given to `onData` is the front of that space.
   */
  readonly readBuffer?: (() => Uint8Array) | undefined
}

/**
 * A byte stream the transport engine drives synchronously.
 *
 * @since 0.1.0
 * @category models
 */
export interface Link {
  /** Starts delivering to `sink` (once). Chunks arrive in the stream's own callback, never through a queue. */
  readonly start: (sink: LinkSink) => void
  /** Queues bytes; the link writes everything queued in one tick together (no concatenation copy). */
  readonly write: (bytes: Uint8Array) => void
  /** Bytes queued and not yet accepted by the operating system. */
  readonly pending: () => number
  /** Stops reading (`false` when this link cannot: the caller must bound its input another way). */
  readonly pause: () => boolean
  /** Reading resumes after `pause`. */
  readonly resume: () => void
  /** Flushes what is queued (briefly: never waits on a peer that does not read), then closes. Idempotent. */
  readonly close: () => void
  /** Portable links: completes once everything queued so far was written (the socket's own Scope closes it). */
  readonly drained?: Effect.Effect<void> | undefined
}

const registered = new WeakMap<Socket.Socket, Link>()

/**
 * Registers the native link behind a platform `Socket` (`src/node` does so for TCP sockets), so that the
 * transport over that Socket uses it instead of the portable adapter.
 *
 * @since 0.1.0
 * @category utils
 */
export const register = (socket: Socket.Socket, link: Link): Socket.Socket => {
  registered.set(socket, link)
  return socket
}

/**
 * The native link registered for `socket`, if any.
 *
 * @since 0.1.0
 * @category utils
 */
export const registeredFor = (socket: Socket.Socket): Link | undefined => registered.get(socket)

/** How long a closing link keeps trying to flush before it closes anyway. */
const CLOSE_GRACE = Duration.millis(500)

/**
 * A link over any @effect/platform `Socket`, in the caller's Scope: one fiber runs the socket (its callback is
 * synchronous, so chunks still reach the engine in the socket's turn) and one writes what was queued, all of
 * it per write. It cannot pause.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSocket = (socket: Socket.Socket): Effect.Effect<Link, never, Scope.Scope> =>
  Effect.gen(function*() {
    const write = yield* socket.writer
    const runtime = yield* Effect.runtime<never>()
    const hasData = yield* Effect.makeLatch(false)
    const idle = yield* Effect.makeLatch(true)
    let queue: Array<Uint8Array> = []
    let queued = 0
    let closing = false
    let ended = false
    let sink: LinkSink | undefined
    let started = false
    const startLatch = yield* Effect.makeLatch(false)
    const end = (failure: unknown) => {
      if (ended) return
      ended = true
      hasData.unsafeOpen()
      idle.unsafeOpen()
      sink?.onEnd(failure)
    }
    yield* Effect.forkScoped(Effect.zipRight(
      startLatch.await,
      socket.run((chunk) => {
        sink!.onData(chunk)
      }).pipe(
        Effect.matchCause({ onSuccess: () => end(undefined), onFailure: (cause) => end(cause) })
      )
    ))
    const writer = Effect.gen(function*() {
      for (;;) {
        yield* hasData.await
        if (ended) return
        const parts = queue
        queue = []
        hasData.unsafeClose()
        for (const p of parts) {
          yield* write(p)
          queued -= p.length
        }
        if (queue.length === 0) idle.unsafeOpen()
        if (closing && queue.length === 0) {
          yield* write(new Socket.CloseEvent(1000)).pipe(Effect.timeout(Duration.seconds(1)), Effect.ignore)
          return end(undefined)
        }
        sink?.onDrain()
      }
    }).pipe(Effect.catchAllCause((cause) => Effect.sync(() => end(cause))))
    yield* Effect.forkScoped(writer)
    const finish = Effect.sleep(CLOSE_GRACE).pipe(
      Effect.zipRight(Effect.suspend(() => ended ? Effect.void : write(new Socket.CloseEvent(1000)))),
      Effect.timeout(Duration.seconds(1)),
      Effect.ignore,
      Effect.zipRight(Effect.sync(() => end(undefined)))
    )
    let finisher = false
    return {
      start: (s) => {
        if (started) return
        started = true
        sink = s
        startLatch.unsafeOpen()
      },
      write: (bytes) => {
        if (closing || ended) return
        queue.push(bytes)
        queued += bytes.length
        idle.unsafeClose()
        hasData.unsafeOpen()
      },
      drained: idle.await,
      pending: () => queued,
      pause: () => false,
      resume: () => {},
      close: () => {
        if (closing || ended) return
        closing = true
        hasData.unsafeOpen()
        if (!finisher) {
          finisher = true
          // In the connection's runtime (its logger, its supervisors), not Effect's default one.
          Runtime.runFork(runtime)(finish)
        }
      }
    } satisfies Link
  })
