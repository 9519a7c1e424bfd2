/**
 * The node:zlib compression backend, the default on Node.
 *
 * The packet path is synchronous (DESIGN.md §6) and each direction's zlib stream runs across packets, which no
 * public node:zlib API offers at once: `deflateSync` cannot continue a stream, a stream object's `_processChunk`
 * without a callback closes the stream after one call, and the stream API is asynchronous. So this module drives
 * the stream object's native handle with `writeSync(flush, in, inOff, inLen, out, outOff, outLen)`, the call
 * Node's own synchronous functions make, reading the remaining input and output space from `_writeState`. The
 * handle is checked when the module loads; on a Node without it, compression is simply not offered.
 *
 * @since 0.1.0
 */
import * as zlib from "node:zlib"
import type * as Layer from "effect/Layer"
import * as Compression from "../transport/Compression.js"

/** The parts of a node:zlib stream object this module drives (Node internals since v10). */
interface NativeStream {
  readonly destroyed: boolean
  readonly _handle: {
    writeSync(
      flush: number,
      input: Uint8Array,
      inOff: number,
      inLen: number,
      out: Uint8Array,
      outOff: number,
      outLen: number
    ): void
  } | null
  /** [avail_out, avail_in] after the last write. */
  readonly _writeState: Uint32Array
  close(): void
}

const isNativeStream = (s: unknown): s is NativeStream =>
  typeof s === "object" && s !== null && "_handle" in s && "_writeState" in s &&
  typeof s._handle === "object" && s._handle !== null && "writeSync" in s._handle &&
  typeof s._handle.writeSync === "function" && s._writeState instanceof Uint32Array

/** The first output buffers' sizes; they double from there as needed. */
const CHUNK = 16 * 1024
/** Room for a full 32 KiB CHANNEL_DATA payload (RFC 4254 §5.2 plus its 9-byte header) without growing. */
const FIRST_INFLATE = 64 * 1024
const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0)

const open = (stream: zlib.Deflate | zlib.Inflate): NativeStream => {
  // A data error destroys the stream and emits "error" on the next tick; without a listener that would crash
  // the process. Errors are read synchronously from `destroyed` instead.
  stream.on("error", () => {})
  if (!isNativeStream(stream)) throw new Error("NodeCompression: node:zlib has no synchronous native handle")
  return stream
}

/** One synchronous call to the native handle, writing into `out[outOff..]`; `undefined` when zlib failed. */
const step = (
  s: NativeStream,
  flush: number,
  input: Uint8Array,
  inOff: number,
  inLen: number,
  out: Uint8Array,
  outOff: number
): { readonly availOut: number; readonly availIn: number } | undefined => {
  const handle = s._handle
  if (handle === null || s.destroyed) return undefined
  handle.writeSync(flush, input, inOff, inLen, out, outOff, out.length - outOff)
  if (s.destroyed) return undefined
  return { availOut: s._writeState[0]!, availIn: s._writeState[1]! }
}

const grow = (buf: Uint8Array, size: number): Uint8Array<ArrayBuffer> => {
  const grown = new Uint8Array(size)
  grown.set(buf)
  return grown
}

const deflater = (): Compression.Deflater => {
  const s = open(zlib.createDeflate({ level: 6 }))
  // Reused across packets: the caller copies the result into the packet before the next call.
  let scratch = new Uint8Array(CHUNK)
  return {
    compress: (payload) => {
      let total = 0
      let inOff = 0
      let inLen = payload.length
      // As OpenSSH compress_buffer: deflate until zlib leaves room in the output buffer.
      for (;;) {
        const r = step(s, zlib.constants.Z_PARTIAL_FLUSH, payload, inOff, inLen, scratch, total)
        if (r === undefined) throw new Error("NodeCompression: deflate failed")
        total = scratch.length - r.availOut
        inOff += inLen - r.availIn
        inLen = r.availIn
        if (r.availOut !== 0) return scratch.subarray(0, total)
        scratch = grow(scratch, scratch.length * 2)
      }
    },
    close: () => s.close()
  }
}

const failure = (
  reason: Compression.InflateFailure["reason"],
  description: string,
  produced: number
): Compression.InflateFailure => ({ _tag: "InflateFailure", reason, description, produced })

const inflater = (): Compression.Inflater => {
  const s = open(zlib.createInflate())
  let failed: Compression.InflateFailure | undefined
  const fail = (reason: Compression.InflateFailure["reason"], description: string, produced: number) =>
    (failed = failure(reason, description, produced))
  // Reused across packets (allocated at the first one, grown only up to the limit); each payload is copied out
  // at its exact size, so a queued payload holds no more memory than its length.
  let scratch = EMPTY
  return {
    decompress: (data, limit) => {
      if (failed !== undefined) return failed
      // LIM-08 / SEC-51: the output never grows past limit + 1 bytes; filling that means the payload is too
      // large, and inflation stops there without reading the rest of the input.
      const cap = limit + 1
      if (scratch.length === 0) scratch = new Uint8Array(Math.min(cap, FIRST_INFLATE))
      let out = scratch.length <= cap ? scratch : scratch.subarray(0, cap)
      let total = 0
      let inOff = 0
      let inLen = data.length
      for (;;) {
        const r = step(s, zlib.constants.Z_SYNC_FLUSH, data, inOff, inLen, out, total)
        if (r === undefined) return fail("Malformed", "invalid compressed data", total)
        total = out.length - r.availOut
        inOff += inLen - r.availIn
        inLen = r.availIn
        if (total > limit) return fail("TooLarge", `the payload inflates to more than ${limit} bytes`, total)
        if (r.availOut !== 0) {
          // Room left in the output yet input left over: the stream ended (a final block) or stalled.
          if (inLen !== 0) return fail("Malformed", "compressed data after the end of the zlib stream", total)
          return out.slice(0, total)
        }
        scratch = out = grow(out, Math.min(cap, out.length * 2))
      }
    },
    close: () => s.close()
  }
}

// Probed on first use, not at import: a zlib stream costs up to ~20 ms to make the first time, and most
// connections (and every CLI login without -C) never compress.
let supported: boolean | undefined
const probe = (): boolean => {
  if (supported !== undefined) return supported
  try {
    const s = open(zlib.createInflate())
    s.close()
    supported = true
  } catch {
    supported = false
  }
  return supported
}

/**
 * The node:zlib backend (both `zlib` and `zlib@openssh.com`); on a Node whose zlib lacks the synchronous handle
 * it offers nothing, like `Compression.none`.
 *
 * @since 0.1.0
 * @category backends
 */
export const NodeCompression: Compression.CompressionBackend = {
  name: "node",
  get zlib() {
    return probe() ? { deflater, inflater } : undefined
  }
}

/**
 * Provides node:zlib as the `Compression` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never> = Compression.layer(NodeCompression)
