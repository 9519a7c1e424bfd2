/**
 * The node:zlib compression backend (RFC 4253 §6.2) on its own: one stream across many packets, each packet
 * flushed so it inflates alone, compatibility with zlib's own streaming codec, the per-packet inflate bound
 * (SEC-51, LIM-08) and malformed input; inflating random or mutated bytes never throws.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as zlib from "node:zlib"
import { NodeCompression } from "../../../src/node/NodeCompression.js"
import { type Inflater, isInflateFailure } from "../../../src/transport/Compression.js"
import { arbEdit, mutate } from "../../helpers/Fuzz.js"

const streams = NodeCompression.zlib!
const LIMIT = 262_144

/** Reproducible pseudo-random payloads of mixed compressibility. */
const payloads = (seed: number, count: number, maxSize: number): Array<Uint8Array> => {
  let x = seed >>> 0
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0)
  return Array.from({ length: count }, (_, k) => {
    const p = new Uint8Array(1 + (next() % maxSize))
    // Every third payload is text-like (compressible), the others noise.
    const text = k % 3 === 0
    for (let i = 0; i < p.length; i++) p[i] = text ? 0x61 + ((next() >>> 7) % 8) : next() >>> 24
    return p
  })
}

const inflateOk = (inflater: Inflater, data: Uint8Array, limit = LIMIT): Uint8Array => {
  const r = inflater.decompress(data, limit)
  if (isInflateFailure(r)) throw new Error(`inflate failed: ${r.description}`)
  return r
}

/** Byte equality (chai's deep equality is slow on large typed arrays). */
const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** A deflate stream's packets: each payload compressed and copied (the deflater reuses its buffer). */
const compressAll = (ps: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  const d = streams.deflater()
  const out = ps.map((p) => d.compress(p).slice())
  d.close()
  return out
}

/** One packet of a fresh stream that inflates to `size` zero bytes: a decompression bomb (~1 000:1). */
const bomb = (size: number): Uint8Array => {
  const d = streams.deflater()
  const zeros = new Uint8Array(1 << 20)
  const parts: Array<Uint8Array> = []
  for (let done = 0; done < size; done += zeros.length) parts.push(d.compress(zeros).slice())
  d.close()
  return concat(parts)
}

describe("NodeCompression (RFC 4253 §6.2)", () => {
  it("is available on this Node", () => {
    assert.isDefined(NodeCompression.zlib)
  })

  it("round trip of 2 000 packets through one stream per direction; each packet inflates on its own", () => {
    const ps = payloads(7, 2000, 20_000)
    const d = streams.deflater()
    const i = streams.inflater()
    let ok = 0
    for (const p of ps) if (same(inflateOk(i, d.compress(p)), p)) ok++
    assert.strictEqual(ok, ps.length)
    d.close()
    i.close()
  })

  it("the stream carries state between packets: a repeated payload costs a few bytes the second time", () => {
    const noise = crypto.getRandomValues(new Uint8Array(4000))
    const d = streams.deflater()
    const first = d.compress(noise).length
    const second = d.compress(noise).length
    d.close()
    assert.isAbove(first, noise.length * 0.9)
    assert.isBelow(second, 64)
  })

  it("Z_PARTIAL_FLUSH boundaries: the concatenated packets are one valid zlib stream for zlib itself", () => {
    const ps = payloads(5, 300, 5000)
    const wire = concat(compressAll(ps))
    // zlib's own inflate, flushing at the end instead of finishing (the stream never ends in SSH).
    const whole = zlib.inflateSync(wire, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
    assert.isTrue(same(whole, concat(ps)))
  })

  it("inflates what zlib's own streaming deflate produces with Z_SYNC_FLUSH per packet", () => {
    const ps = payloads(9, 200, 8000)
    const i = streams.inflater()
    const theirs = zlib.createDeflate()
    let pending: Array<Buffer> = []
    theirs.on("data", (b: Buffer) => pending.push(b))
    const feed = (p: Uint8Array) =>
      new Promise<Uint8Array>((resolve) => {
        theirs.write(p)
        theirs.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          const out = concat(pending)
          pending = []
          resolve(out)
        })
      })
    return (async () => {
      for (const p of ps) assert.isTrue(same(inflateOk(i, await feed(p)), p))
      theirs.close()
      i.close()
    })()
  })

  it("single-byte payloads and a 1 MiB payload (output larger than one buffer) both round trip", () => {
    const one = payloads(13, 1, 1)[0]!
    const large = new Uint8Array(1 << 20).map((_, k) => (k * 2654435761) >>> 27)
    const d = streams.deflater()
    const i = streams.inflater()
    assert.deepStrictEqual(inflateOk(i, d.compress(one)), one)
    assert.isTrue(same(inflateOk(i, d.compress(large).slice(), 2 << 20), large))
    assert.deepStrictEqual(inflateOk(i, d.compress(Uint8Array.of(94))), Uint8Array.of(94))
  })

  it("SEC-51 / LIM-08: a packet that inflates to 240 MiB fails as TooLarge after at most limit + 1 bytes", () => {
    const packet = bomb(240 << 20)
    assert.isBelow(packet.length, LIMIT) // it fits in one packet the transport accepts
    const before = process.memoryUsage()
    const i = streams.inflater()
    const r = i.decompress(packet, LIMIT)
    const after = process.memoryUsage()
    i.close()
    assert.isTrue(isInflateFailure(r))
    if (!isInflateFailure(r)) return
    assert.strictEqual(r.reason, "TooLarge")
    // Stopped as soon as the output passed the limit: never more than limit + 1 bytes were inflated or held.
    assert.isAbove(r.produced, LIMIT)
    assert.isAtMost(r.produced, LIMIT + 1)
    assert.isBelow(after.rss - before.rss, 20 * 1024 * 1024)
    // The stream is unusable afterwards, and says so without throwing.
    assert.isTrue(isInflateFailure(i.decompress(Uint8Array.of(1, 2, 3), LIMIT)))
  })

  it("LIM-08: exactly the limit inflates; one byte more does not", () => {
    const d = streams.deflater()
    const c = d.compress(new Uint8Array(LIMIT)).slice()
    d.close()
    assert.strictEqual(inflateOk(streams.inflater(), c).length, LIMIT)
    const r = streams.inflater().decompress(c, LIMIT - 1)
    assert.isTrue(isInflateFailure(r) && r.reason === "TooLarge")
  })

  it("malformed streams fail as Malformed: garbage, a corrupted later packet, data after a final block", () => {
    assert.isTrue(isInflateFailure(streams.inflater().decompress(Uint8Array.of(0x78, 0x9c, 0xff, 0xff, 1, 2, 3), LIMIT)))
    assert.isTrue(isInflateFailure(streams.inflater().decompress(Uint8Array.of(0, 0, 0, 0), LIMIT)))
    const ps = compressAll(payloads(17, 20, 3000))
    const i = streams.inflater()
    for (const p of ps.slice(0, 10)) inflateOk(i, p)
    const bad = ps[10]!.slice()
    bad[0] = bad[0]! ^ 0xff
    const r = i.decompress(bad, LIMIT)
    // Either zlib sees the corruption, or the bytes decode to something else; never an exception.
    assert.isTrue(isInflateFailure(r) || r instanceof Uint8Array)
    // A complete zlib stream (with its final block) and then more bytes.
    const finished = zlib.deflateSync(Uint8Array.of(1, 2, 3))
    const r2 = streams.inflater().decompress(concat([finished, Uint8Array.of(9, 9, 9)]), LIMIT)
    assert.isTrue(isInflateFailure(r2) && r2.reason === "Malformed")
  })

  it("property: inflating random bytes never throws (first packet and continuation)", () => {
    const warm = compressAll(payloads(19, 3, 1000))
    FastCheck.assert(
      FastCheck.property(FastCheck.uint8Array({ minLength: 1, maxLength: 2048 }), FastCheck.boolean(), (bytes, cont) => {
        const i = streams.inflater()
        if (cont) for (const p of warm) inflateOk(i, p)
        const r = i.decompress(bytes, 4096)
        i.close()
        assert.isTrue(isInflateFailure(r) || (r instanceof Uint8Array && r.length <= 4096))
      }),
      { numRuns: 500 }
    )
  })

  it("property: inflating mutated valid packets never throws and never passes the limit", () => {
    const ps = compressAll(payloads(23, 6, 6000))
    FastCheck.assert(
      FastCheck.property(FastCheck.nat({ max: 5 }), FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 }), (k, edits) => {
        const i = streams.inflater()
        for (const p of ps.slice(0, k)) inflateOk(i, p, 1 << 20)
        const r = i.decompress(mutate(ps[k]!, edits), 8192)
        i.close()
        assert.isTrue(isInflateFailure(r) || (r instanceof Uint8Array && r.length <= 8192))
      }),
      { numRuns: 500 }
    )
  })
})
