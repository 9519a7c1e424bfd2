/**
 * A channel's inbound data buffer (DESIGN.md §6): filled synchronously by the connection layer's dispatch,
 * bounded by the window we advertised (the peer cannot send more without a SEC-43 violation), read as a Stream
 * whose pulls wake directly from the dispatch (no Mailbox, no fiber). Window is returned as the consumer takes
 * data. One consumer at a time: a second concurrent subscription, or reading again after the end was read,
 * fails loudly instead of yielding nothing.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

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

  constructor(
    readonly what: string,
    /** Returns window for bytes taken (WINDOW_ADJUST when due). */
    private readonly credit: (n: number) => void
  ) {}

  /** Data from the peer; `credited` when its window was already returned (unread stderr, see the mux). */
  push(data: Uint8Array, credited = false): void {
    if (this.#ended) return
    this.#chunks.push(data)
    this.bytes += data.length
    if (!credited) this.#uncredited += data.length
    this.#wake()
  }

  /** The peer's EOF or CLOSE: the stream ends after what is buffered. */
  end(): void {
    this.#ended = true
    this.#wake()
  }

  /** The connection failed. */
  fail(error: E): void {
    if (this.#error === undefined) this.#error = error
    this.#ended = true
    this.#wake()
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
