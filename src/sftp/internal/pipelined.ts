/**
 * Pipelined reads and writes on one open handle: many READ or WRITE requests in flight (bounded), replies taken
 * in order. Short reads are completed with a follow-up request for the rest, as OpenSSH's sftp does.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { SftpError } from "../../SshError.js"
import { StatusCode } from "../SftpAttrs.js"
import type { ClientSession, Pending } from "./clientSession.js"
import { statusError, unexpected } from "./clientSession.js"

/** How a transfer on a handle is pipelined. */
export interface PipelineOptions {
  /** Bytes per READ/WRITE request. */
  readonly blockSize: number
  /** Requests in flight at once. */
  readonly requests: number
}

interface InFlight {
  readonly offset: number
  readonly length: number
  readonly reply: Pending
}

/**
 * The bytes of `handle` from `start` for `length` bytes (to EOF when undefined), as a Stream of chunks in order.
 * `onData` sees every chunk (progress).
 */
export const readStream = (
  session: ClientSession,
  handle: Uint8Array,
  path: string,
  start: number,
  length: number | undefined,
  options: PipelineOptions
): Stream.Stream<Uint8Array, SftpError> =>
  Stream.suspend(() => {
    const end = length === undefined ? Number.POSITIVE_INFINITY : start + length
    let next = start
    let eof = false
    const queue: Array<InFlight> = []
    const request = (offset: number, len: number) =>
      Effect.map(
        session.send((id) => ({ _tag: "Read", id, handle, offset: BigInt(offset), length: len })),
        (reply): InFlight => ({ offset, length: len, reply })
      )
    // As OpenSSH's sftp (sftp-client.c): one request at first, one more per reply up to `requests`, so that a
    // small file costs no burst of READs past its end and a large one reaches full depth within a few round trips.
    let limit = 1
    // READs go out in batches (one channel packet for several): refill once a quarter of the slots is free.
    const fill = Effect.suspend(() => {
      const n = Math.min(limit - queue.length, Math.ceil((end - next) / options.blockSize))
      const batchMin = Math.max(1, Math.floor(limit / 4))
      if (eof || n <= 0 || (n < batchMin && queue.length > 0 && next + n * options.blockSize < end)) return Effect.void
      const spans: Array<{ readonly offset: number; readonly length: number }> = []
      for (let i = 0; i < n; i++) {
        const len = Math.min(options.blockSize, end - next)
        spans.push({ offset: next, length: len })
        next += len
      }
      return Effect.map(
        session.sendAll(spans.map((s) => (id) => ({ _tag: "Read", id, handle, offset: BigInt(s.offset), length: s.length }))),
        (replies) => {
          for (let i = 0; i < spans.length; i++) queue.push({ ...spans[i]!, reply: replies[i]! })
        }
      )
    })
    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<SftpError>> = Effect.gen(function*() {
      while (true) {
        yield* fill
        const head = queue.shift()
        if (head === undefined) return yield* Effect.fail(Option.none())
        const m = yield* head.reply.await
        if (m._tag === "Status" && m.code === StatusCode.Eof) {
          // Everything after an EOF is past the end too; their replies are matched and dropped.
          eof = true
          queue.length = 0
          return yield* Effect.fail(Option.none())
        }
        if (m._tag !== "DataParts" && m._tag !== "Data") return yield* Effect.fail(Option.some(unexpected(m, "read", path)))
        const got = m._tag === "Data" ? m.data.length : m.length
        if (got > head.length) {
          return yield* Effect.fail(Option.some(
            new SftpError({ code: "BadMessage", operation: "read", path, description: "the server sent more than asked" })
          ))
        }
        if (got < head.length) {
          // A short read (filexfer-02 §6.4 allows it): ask for the rest before the requests already queued.
          const rest = yield* request(head.offset + got, head.length - got)
          queue.unshift(rest)
        }
        if (limit < options.requests) limit++
        // The data as it arrived: views of the channel's chunks, no copy.
        if (got > 0) return m._tag === "Data" ? Chunk.of(m.data) : Chunk.unsafeFromArray([...m.parts])
      }
    }).pipe(Effect.mapError((e) => (Option.isOption(e) ? e : Option.some(e))))
    return Stream.repeatEffectChunkOption(pull)
  })

/** Awaits a WRITE's STATUS. */
const checkWrite = (path: string) => (p: Pending) =>
  Effect.flatMap(p.await, (m) =>
    m._tag === "Status" && m.code === StatusCode.Ok ? Effect.void :
    m._tag === "Status" ? Effect.fail(statusError(m, "write", path)) : Effect.fail(unexpected(m, "write", path)))

/** Pieces below this size are copied together (so that a stream of small chunks makes few parts); larger are views. */
const SMALL = 8 * 1024

/**
 * The data of the next WRITE, gathered from the sink's chunks: views of large pieces, small pieces copied into
 * one scratch buffer. A request is always exactly one block until the last, whatever the chunking of the input
 * (a 256 KiB chunk is not sent as 255 KiB + 1 KiB).
 */
class Gather {
  parts: Array<Uint8Array> = []
  length = 0
  #scratch: Uint8Array | undefined
  #from = 0
  #fill = 0

  constructor(readonly block: number) {}

  add(piece: Uint8Array): void {
    if (piece.length >= SMALL) {
      this.#seal()
      this.parts.push(piece)
    } else {
      if (this.#scratch === undefined || this.#scratch.length - this.#fill < piece.length) {
        this.#seal()
        // Room for the rest of this request: small pieces never need a second scratch buffer.
        this.#scratch = new Uint8Array(Math.max(piece.length, this.block - this.length))
        this.#from = this.#fill = 0
      }
      this.#scratch.set(piece, this.#fill)
      this.#fill += piece.length
    }
    this.length += piece.length
  }

  take(): ReadonlyArray<Uint8Array> {
    this.#seal()
    const parts = this.parts
    this.parts = []
    this.length = 0
    this.#scratch = undefined
    return parts
  }

  #seal(): void {
    if (this.#scratch !== undefined && this.#fill > this.#from) {
      this.parts.push(this.#scratch.subarray(this.#from, this.#fill))
      this.#from = this.#fill
    }
  }
}

/**
 * A Sink writing to `handle` from `start`, pipelined; completes when every WRITE was acknowledged and returns
 * the bytes written. Chunks are held (as views) until their WRITE is sent: the input's buffers must not be
 * reused by their producer.
 */
export const writeSink = (
  session: ClientSession,
  handle: Uint8Array,
  path: string,
  start: number,
  options: PipelineOptions
): Sink.Sink<number, Uint8Array, never, SftpError> =>
  Sink.suspend(() => {
    let offset = start
    const inFlight: Array<Pending> = []
    const check = checkWrite(path)
    const gather = new Gather(options.blockSize)
    const flush: Effect.Effect<void, SftpError> = Effect.suspend(() => {
      if (gather.length === 0) return Effect.void
      const at = offset
      const length = gather.length
      const parts = gather.take()
      offset += length
      const slot = inFlight.length >= options.requests ? check(inFlight.shift()!) : Effect.void
      return Effect.flatMap(slot, () =>
        Effect.map(session.sendWrite(handle, at, parts, length), (p) => {
          inFlight.push(p)
        }))
    })
    const one = (data: Uint8Array): Effect.Effect<void, SftpError> =>
      Effect.suspend(() => {
        let p = 0
        const loop: Effect.Effect<void, SftpError> = Effect.suspend(() => {
          while (p < data.length) {
            const n = Math.min(options.blockSize - gather.length, data.length - p)
            gather.add(p === 0 && n === data.length ? data : data.subarray(p, p + n))
            p += n
            if (gather.length >= options.blockSize) return Effect.zipRight(flush, loop)
          }
          return Effect.void
        })
        return loop
      })
    return Sink.forEachChunk((chunk: Chunk.Chunk<Uint8Array>) => Effect.forEach(chunk, one, { discard: true })).pipe(
      Sink.mapEffect(() =>
        Effect.zipRight(flush, Effect.suspend(() => Effect.forEach(inFlight.splice(0), check, { discard: true }))).pipe(
          Effect.map(() => offset - start)
        )
      )
    )
  })
