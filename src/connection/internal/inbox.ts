/**
 * A channel's inbound data buffer (DESIGN.md §6): filled synchronously by the connection layer's dispatch,
 * bounded by the window we advertised (the peer cannot send more without a SEC-43 violation), read as a Stream
 * whose pulls wake directly from the dispatch (no Mailbox, no fiber), or piped into a synchronous `ByteSink`
 * (each chunk handed over in the dispatch's turn: no fiber, no Effect per chunk). Window is returned as the
 * consumer takes data — for a sink, as soon as it has room. One consumer at a time: a second concurrent
 * subscription, or reading again after the end was read, fails loudly instead of yielding nothing.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ByteSink } from "../Channel.js"

/** @internal */
export class Inbox<E> {
  #chunks: Array<Uint8Array> = []
  /** Bytes buffered. */
  bytes = 0
  /** Bytes buffered whose window has not been returned yet (returned when they are taken). */
  #uncredited = 0
  #ended = false
  #error: E | undefined = undefined
  #waiter: (() => void) | undefined = undefined
  /** A consumer is subscribed now. */
  active = false
  /** The end was delivered to a consumer: nothing more will come. */
  #finished = false
  /** The sink data is piped into (`pipe`), while it runs. */
  #sink: ByteSink | undefined = undefined
  /** Ends the running `pipe`. */
  #pipeDone: ((exit: Effect.Effect<void, E>) => void) | undefined = undefined
  /** Bytes handed to the sink whose window waits for the sink's room (it said it was full). */
  #held = 0
  /** The sink's `onReady` is armed. */
  #waitingReady = false

  constructor(
    readonly what: string,
    /** Returns window for bytes taken (WINDOW_ADJUST when due). */
    private readonly credit: (n: number) => void,
    /** The error of a `pipe` whose sink closed before the end of the data. */
    private readonly sinkClosed: () => E
  ) {}

  /** Data from the peer; `credited` when its window was already returned (unread stderr, see the mux). */
  push(data: Uint8Array, credited = false): void {
    if (this.#ended) return
    const sink = this.#sink
    if (sink !== undefined) return this.#toSink(sink, data, credited ? 0 : data.length)
    this.#chunks.push(data)
    this.bytes += data.length
    if (!credited) this.#uncredited += data.length
    this.#wake()
  }

  /** The peer's EOF or CLOSE: the stream ends after what is buffered. */
  end(): void {
    this.#ended = true
    this.#wake()
    this.#endPipe()
  }

  /** The connection failed. */
  fail(error: E): void {
    if (this.#error === undefined) this.#error = error
    this.#ended = true
    this.#wake()
    this.#endPipe()
  }

  // ---- the sink (`pipe`) ----

  /**
   * Hands `data` to the sink in this turn. Its window goes back at once while the sink has room; once the sink
   * says it is full, the window of everything handed over waits for its `onReady`, so the peer can send at most
   * what is left of the window meanwhile: the sink's backlog stays within the window (SEC-43, SEC-45).
   */
  #toSink(sink: ByteSink, data: Uint8Array, uncredited: number): void {
    if (sink.isClosed()) {
      // The destination is gone: the pipe fails, and this data stays buffered (within the window) for nobody.
      this.#chunks.push(data)
      this.bytes += data.length
      this.#uncredited += uncredited
      return this.#finishPipe(Effect.fail(this.sinkClosed()))
    }
    const room = sink.write(data)
    this.#held += uncredited
    if (this.#waitingReady) return
    if (room) return this.#release()
    this.#waitingReady = true
    sink.onReady(() => this.#ready(sink))
  }

  #ready(sink: ByteSink): void {
    if (this.#sink !== sink) return
    this.#waitingReady = false
    if (sink.isClosed()) return this.#finishPipe(Effect.fail(this.sinkClosed()))
    this.#release()
  }

  #release(): void {
    const n = this.#held
    this.#held = 0
    if (n > 0) this.credit(n)
  }

  #endPipe(): void {
    if (this.#sink === undefined) return
    if (this.#error !== undefined) return this.#finishPipe(Effect.fail(this.#error))
    this.#finished = true
    this.#finishPipe(Effect.void)
  }

  #finishPipe(exit: Effect.Effect<void, E>): void {
    const done = this.#pipeDone
    this.#detach()
    done?.(exit)
  }

  #detach(): void {
    // What the sink took is consumed: its window is returned (nothing is owed after our CLOSE, see ChannelState).
    this.#release()
    this.#sink = undefined
    this.#pipeDone = undefined
    this.#waitingReady = false
    this.active = false
  }

  /**
   * The data into `sink` until the end (the peer's EOF or CLOSE), without a fiber or an Effect per chunk: each
   * chunk is handed over in the turn it arrives, what was buffered first. Fails when the connection fails, or
   * with `sinkClosed` when the sink closes first. The same single consumer as `stream`.
   */
  pipe(sink: ByteSink): Effect.Effect<void, E> {
    return Effect.suspend(() => {
      if (this.active) return Effect.dieMessage(`${this.what} has another reader: a channel's data can be read once`)
      if (this.#finished && this.#error === undefined) {
        return Effect.dieMessage(`${this.what} was already read to its end: a channel's data can be read once`)
      }
      this.active = true
      this.#sink = sink
      const buffered = this.#chunks
      const uncredited = this.#uncredited
      this.#chunks = []
      this.bytes = 0
      this.#uncredited = 0
      for (let i = 0; i < buffered.length && this.#sink === sink; i++) {
        this.#toSink(sink, buffered[i]!, i === 0 ? uncredited : 0)
      }
      if (this.#sink !== sink) {
        // The sink closed while taking what was buffered; the rest stays for nobody.
        return Effect.fail(this.sinkClosed())
      }
      if (this.#ended) {
        this.#detach()
        if (this.#error !== undefined) return Effect.fail(this.#error)
        this.#finished = true
        return Effect.void
      }
      return Effect.async<void, E>((resume) => {
        this.#pipeDone = resume
        return Effect.sync(() => {
          if (this.#sink === sink) this.#detach()
        })
      })
    })
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Drops what is buffered and returns its window (the application will not read it). */
  discard(): void {
    const n = this.#uncredited
    this.#chunks = []
    this.bytes = 0
    this.#uncredited = 0
    if (n > 0) this.credit(n)
  }

  #wake(): void {
    const w = this.#waiter
    this.#waiter = undefined
    w?.()
  }

  readonly #pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>> = Effect.suspend(() => {
    if (this.#chunks.length > 0) {
      const taken = this.#chunks
      const credit = this.#uncredited
      this.#chunks = []
      this.bytes = 0
      this.#uncredited = 0
      if (credit > 0) this.credit(credit)
      return Effect.succeed(Chunk.unsafeFromArray(taken))
    }
    if (this.#error !== undefined) return Effect.fail(Option.some(this.#error))
    if (this.#ended) {
      this.#finished = true
      return Effect.fail(Option.none())
    }
    return Effect.flatMap(
      Effect.async<void>((resume) => {
        this.#waiter = () => resume(Effect.void)
        return Effect.sync(() => {
          this.#waiter = undefined
        })
      }),
      () => this.#pull
    )
  })

  /** The data as a Stream (one consumer at a time). */
  readonly stream: Stream.Stream<Uint8Array, E> = Stream.suspend(() => {
    if (this.active) return Stream.dieMessage(`${this.what} has another reader: a channel's data can be read once`)
    if (this.#finished && this.#error === undefined) {
      return Stream.dieMessage(`${this.what} was already read to its end: a channel's data can be read once`)
    }
    this.active = true
    return Stream.repeatEffectChunkOption(this.#pull).pipe(
      Stream.ensuring(Effect.sync(() => {
        this.active = false
      }))
    )
  })
}
