/**
 * Payload compression (RFC 4253 §6.2) as an interface the transport receives, like the crypto backend: the core
 * stays platform-neutral, and a backend supplies zlib streams. `zlib` is active right after NEWKEYS;
 * `zlib@openssh.com` (OpenSSH PROTOCOL §1.2) only once user authentication has succeeded (SEC-51).
 *
 * One deflate stream per direction, started at NEWKEYS (RFC 4253 §6.2: "initialized after each key exchange";
 * OpenSSH `ssh_set_newkeys` does the same), each packet flushed with Z_PARTIAL_FLUSH and inflated with
 * Z_SYNC_FLUSH, as OpenSSH `packet.c` does.
 *
 * The default backend, `Compression.none`, cannot compress: only `none` is offered and accepted. The Node layers
 * of `effect-ssh/node` provide `NodeCompression` (node:zlib). There is no portable zlib backend: no pure
 * JavaScript zlib ships with this package, and WebCrypto-era `CompressionStream` is asynchronous while the packet
 * path is synchronous (DESIGN.md §6).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/**
 * The compressing side of one direction's zlib stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Deflater {
  /**
   * Compresses one packet payload, continuing the stream, and flushes it with Z_PARTIAL_FLUSH so that the peer
   * can inflate the whole payload from this packet alone (given the previous ones). The result may be a view of
   * a buffer the next call reuses: copy it before then (sealing a packet does).
   */
  compress(payload: Uint8Array): Uint8Array
  /** Releases the stream; it is not used afterwards. */
  close(): void
}

/**
 * Why a packet could not be inflated: the output would pass the limit (LIM-08), or the bytes are not a valid
 * continuation of the zlib stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface InflateFailure {
  readonly _tag: "InflateFailure"
  readonly reason: "TooLarge" | "Malformed"
  readonly description: string
  /** Bytes inflated from this packet when inflation stopped (for `TooLarge`: just past the limit). */
  readonly produced: number
}

/**
 * True when the value is an `InflateFailure`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isInflateFailure = (u: unknown): u is InflateFailure =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "InflateFailure"

/**
 * The decompressing side of one direction's zlib stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inflater {
  /**
   * Inflates one packet's compressed payload, continuing the stream (Z_SYNC_FLUSH). Produces at most `limit`
   * bytes: inflation stops as soon as the output passes it (memory stays within `limit` plus one output chunk),
   * and the result is an `InflateFailure` — as it is for any malformed input. Never throws. After a failure the
   * stream is unusable; the connection ends anyway.
   */
  decompress(data: Uint8Array, limit: number): Uint8Array | InflateFailure
  /** Releases the stream; it is not used afterwards. */
  close(): void
}

/**
 * A source of zlib streams (RFC 1950 format, as RFC 4253 §6.2 requires).
 *
 * @since 0.1.0
 * @category models
 */
export interface ZlibStreams {
  /** A fresh compressing stream (OpenSSH uses level 6). */
  deflater(): Deflater
  /** A fresh decompressing stream. */
  inflater(): Inflater
}

/**
 * A compression backend: zlib streams, or `undefined` when the platform has none (then only `none` is
 * negotiated, whatever the options say by default; naming a zlib method explicitly is a configuration error).
 *
 * @since 0.1.0
 * @category models
 */
export interface CompressionBackend {
  readonly name: string
  readonly zlib: ZlibStreams | undefined
}

/**
 * The backend without compression: the portable default.
 *
 * @since 0.1.0
 * @category backends
 */
export const none: CompressionBackend = { name: "none", zlib: undefined }

/**
 * The compression backend in use; `none` unless a layer provides another (`effect-ssh/node` provides node:zlib).
 *
 * @since 0.1.0
 * @category tags
 */
export class Compression extends Context.Reference<Compression>()("effect-ssh/Compression", {
  defaultValue: (): CompressionBackend => none
}) {}

/**
 * Provides a compression backend.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (backend: CompressionBackend): Layer.Layer<never> => Layer.succeed(Compression, backend)
