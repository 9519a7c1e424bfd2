/**
 * Pipelined reads and writes on one open handle: many READ or WRITE requests in flight (bounded), replies taken
 * in order. Short reads are completed with a follow-up request for the rest, as OpenSSH's sftp does.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
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
    // READs go out in batches (one channel packet for several): refill once a quarter of the slots is free.
    const batchMin = Math.max(1, Math.floor(options.requests / 4))
    const fill = Effect.suspend(() => {
      const n = Math.min(options.requests - queue.length, Math.ceil((end - next) / options.blockSize))
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
        const m = yield* Deferred.await(head.reply)
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
        // The data as it arrived: views of the channel's chunks, no copy.
        if (got > 0) return m._tag === "Data" ? Chunk.of(m.data) : Chunk.unsafeFromArray([...m.parts])
      }
    }).pipe(Effect.mapError((e) => (Option.isOption(e) ? e : Option.some(e))))
    return Stream.repeatEffectChunkOption(pull)
  })

/** Awaits a WRITE's STATUS. */
const checkWrite = (path: string) => (p: Pending) =>
  Effect.flatMap(Deferred.await(p), (m) =>
    m._tag === "Status" && m.code === StatusCode.Ok ? Effect.void :
    m._tag === "Status" ? Effect.fail(statusError(m, "write", path)) : Effect.fail(unexpected(m, "write", path)))

/**
 * A Sink writing to `handle` from `start`, pipelined; completes when every WRITE was acknowledged and returns
 * the bytes written.
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
    const one = (data: Uint8Array): Effect.Effect<void, SftpError> =>
      Effect.gen(function*() {
        for (let p = 0; p < data.length; p += options.blockSize) {
          const piece = data.subarray(p, Math.min(data.length, p + options.blockSize))
          while (inFlight.length >= options.requests) yield* check(inFlight.shift()!)
          const at = offset
          offset += piece.length
          inFlight.push(yield* session.send((id) => ({ _tag: "Write", id, handle, offset: BigInt(at), data: piece })))
        }
      })
    return Sink.forEachChunk((chunk: Chunk.Chunk<Uint8Array>) => Effect.forEach(chunk, one, { discard: true })).pipe(
      Sink.mapEffect(() =>
        Effect.suspend(() => Effect.forEach(inFlight.splice(0), check, { discard: true })).pipe(
          Effect.as(offset - start)
        )
      )
    )
  })
