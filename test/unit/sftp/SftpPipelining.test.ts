/**
 * The client's pipelining against a scripted server that records what it is sent: WRITE requests are whole blocks
 * whatever the chunking of the input and carry the bytes in order (their data sent as views, only the first
 * channel packet's worth copied — the bytes on the wire equal encodePacket's); READs start at one request and
 * grow, so a small file costs no burst of READs past its end (as OpenSSH's sftp); replies are matched to their
 * ids (SEC-57: a reply for no request ends the session).
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as Sftp from "../../../src/sftp/Sftp.js"
import { StatusCode } from "../../../src/sftp/SftpAttrs.js"
import { PacketAssembler } from "../../../src/sftp/SftpFraming.js"
import * as SftpMessages from "../../../src/sftp/SftpMessages.js"
import { concatBytes } from "../../../src/wire/Bytes.js"

const concat = concatBytes

/** A scripted server over a file of `size` bytes (byte i = i mod 251); it records every request. */
const scripted = (size: number, rogue = false) => {
  const requests: Array<SftpMessages.SftpMessage> = []
  const written = new Map<number, Uint8Array>()
  const replies: Array<Uint8Array> = []
  let wake: (() => void) | undefined
  const assembler = new PacketAssembler()
  const reply = (m: SftpMessages.SftpMessage) => {
    replies.push(SftpMessages.encodePacket(m))
    const w = wake
    wake = undefined
    w?.()
  }
  const ok = (id: number) => reply({ _tag: "Status", id, code: StatusCode.Ok, message: "", language: "" })
  const write = (b: Uint8Array) =>
    Effect.sync(() => {
      const r = assembler.push(b.slice())
      if (Either.isLeft(r)) throw new Error(r.left.description)
      for (const body of r.right) {
        const m = Either.getOrThrow(SftpMessages.decode(body))
        requests.push(m)
        if (m._tag === "Init") reply({ _tag: "Version", version: 3, extensions: [] })
        else if (m._tag === "Open") reply({ _tag: "Handle", id: m.id, handle: new Uint8Array([7]) })
        else if (m._tag === "Write") {
          written.set(Number(m.offset), m.data)
          ok(m.id)
        } else if (m._tag === "Read") {
          const from = Number(m.offset)
          if (rogue) reply({ _tag: "Status", id: m.id + 1000, code: StatusCode.Ok, message: "", language: "" })
          else if (from >= size) reply({ _tag: "Status", id: m.id, code: StatusCode.Eof, message: "", language: "" })
          else {
            const data = new Uint8Array(Math.min(m.length, size - from)).map((_, i) => (from + i) % 251)
            reply({ _tag: "Data", id: m.id, data })
          }
        } else if (m._tag === "Close") ok(m.id)
      }
    })
  const output = Stream.repeatEffectChunkOption(Effect.suspend(() => {
    const take = (): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> =>
      replies.length > 0
        ? Effect.succeed(Chunk.unsafeFromArray(replies.splice(0)))
        : Effect.flatMap(Effect.async<void>((resume) => {
          wake = () => resume(Effect.void)
        }), take)
    return take()
  }))
  return { pipe: { output, write }, requests, written }
}

describe("Sftp client pipelining", () => {
  it.effect("WRITE requests are whole blocks whatever the input's chunking, in order, with every byte", () =>
    Effect.promise(() =>
      FastCheck.assert(
        FastCheck.asyncProperty(
          FastCheck.array(FastCheck.integer({ min: 0, max: 40_000 }), { maxLength: 8 }),
          FastCheck.integer({ min: 500, max: 20_000 }),
          async (sizes, block) => {
            const chunks = sizes.map((n, k) => new Uint8Array(n).map((_, i) => (i * 7 + k) % 256))
            const expected = concat(chunks)
            const s = scripted(0)
            const n = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const sftp = yield* Sftp.makeFromPipe(s.pipe, { blockSize: block, requests: 3 })
              return yield* Stream.fromIterable(chunks).pipe(Stream.run(sftp.sink("/f")))
            })))
            assert.strictEqual(n, expected.length)
            const writes = s.requests.filter((m): m is Extract<SftpMessages.SftpMessage, { _tag: "Write" }> => m._tag === "Write")
            writes.forEach((w, i) => {
              assert.strictEqual(Number(w.offset), i * block)
              if (i < writes.length - 1) assert.strictEqual(w.data.length, block)
            })
            assert.deepStrictEqual(concat(writes.map((w) => w.data)), expected)
          }
        ),
        { numRuns: 25 }
      )
    ))

  it("encodeWriteParts: the framing and the first packet's worth in one buffer, then views; the same bytes as encodePacket", () =>
    FastCheck.assert(FastCheck.property(
      FastCheck.array(FastCheck.uint8Array({ maxLength: 3000 }), { maxLength: 6 }),
      FastCheck.uint8Array({ minLength: 1, maxLength: 256 }),
      FastCheck.integer({ min: 0, max: 5000 }),
      (parts, handle, firstPacket) => {
        const data = concat(parts)
        const out = SftpMessages.encodeWriteParts(9, handle, 123n, parts, data.length, firstPacket)
        assert.deepStrictEqual(
          concat(out),
          SftpMessages.encodePacket({ _tag: "Write", id: 9, handle, offset: 123n, data })
        )
        assert.isAtMost(out[0]!.length, Math.max(firstPacket, 4 + 1 + 4 + 4 + handle.length + 8 + 4))
      }
    )))

  it.scoped("a small file costs a few READs, not a burst; a large one is read whole with requests growing to the limit", () =>
    Effect.gen(function*() {
      const small = scripted(10)
      const a = yield* Sftp.makeFromPipe(small.pipe, { blockSize: 1000, requests: 64 })
      const got = concat(Chunk.toReadonlyArray(yield* Stream.runCollect(a.stream("/f"))))
      assert.strictEqual(got.length, 10)
      // Its data, the rest after the short read (answered EOF), and the second slot the ramp opened: not 64.
      assert.isAtMost(small.requests.filter((m) => m._tag === "Read").length, 3)

      const size = 300_001
      const large = scripted(size)
      const b = yield* Sftp.makeFromPipe(large.pipe, { blockSize: 1000, requests: 16 })
      const all = concat(Chunk.toReadonlyArray(yield* Stream.runCollect(b.stream("/f"))))
      assert.strictEqual(all.length, size)
      assert.isTrue(all.every((v, i) => v === i % 251))
      // 301 READs of data and at most the 16 in flight past the end.
      const reads = large.requests.filter((m) => m._tag === "Read").length
      assert.isAtLeast(reads, 302)
      assert.isAtMost(reads, 301 + 16)
    }))

  it.scoped("SEC-57: a reply to no request ends the session with BadMessage", () =>
    Effect.gen(function*() {
      const s = scripted(100, true)
      const sftp = yield* Sftp.makeFromPipe(s.pipe)
      const e = yield* Effect.flip(Stream.runDrain(sftp.stream("/f")))
      assert.strictEqual(e.code, "BadMessage")
    }))
})
