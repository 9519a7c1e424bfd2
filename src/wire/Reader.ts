/**
 * A cursor over a `Uint8Array` that reads the RFC 4251 §5 data types. Every read checks the remaining length
 * before it allocates or loops (SEC-08, SEC-09) and throws a `WireError`, which `decode` functions catch at their
 * boundary with `Reader.run` so that no exception escapes a decoder.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { WireError } from "./WireError.js"

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const latin1 = new TextDecoder("latin1")

/** RFC 4251 §6 / SEC-16: names are printable US-ASCII 0x21–0x7E without comma; LIM-12 bounds. */
export const MAX_NAME_LENGTH = 64
/** LIM-12: at most 128 names per list. */
export const MAX_NAMES = 128
/** LIM-12: at most 8 KiB per list. */
export const MAX_NAME_LIST_BYTES = 8192
/** SEC-09: mpints over 16 384 bits are rejected (OpenSSH `SSHBUF_MAX_BIGNUM`). */
export const MAX_MPINT_BYTES = 2049

/**
 * @since 0.1.0
 * @category models
 */
export class Reader {
  private readonly view: DataView
  pos: number
  readonly end: number

  constructor(readonly bytes: Uint8Array, start = 0, end = bytes.length) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.pos = start
    this.end = end
  }

  get remaining(): number {
    return this.end - this.pos
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new WireError({ reason: "Truncated", description: `${what}: need ${n} bytes, have ${this.end - this.pos}` })
    }
  }

  byte(): number {
    this.need(1, "byte")
    return this.bytes[this.pos++]!
  }

  boolean(): boolean {
    return this.byte() !== 0
  }

  uint32(): number {
    this.need(4, "uint32")
    const v = this.view.getUint32(this.pos)
    this.pos += 4
    return v
  }

  uint64(): bigint {
    this.need(8, "uint64")
    const v = this.view.getBigUint64(this.pos)
    this.pos += 8
    return v
  }

  /** `n` raw bytes, as a view (no copy). */
  raw(n: number): Uint8Array {
    this.need(n, "bytes")
    const v = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /** RFC 4251 §5 `string`, as a view (no copy). */
  string(): Uint8Array {
    const n = this.uint32()
    this.need(n, "string")
    const v = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /** A `string` that must be UTF-8 (RFC 4251 §5), decoded strictly (SEC-09). */
  utf8(): string {
    return decodeUtf8(this.string(), "string")
  }

  /** A `string` of printable US-ASCII (service and extension names); control bytes and NUL are rejected (SEC-09). */
  ascii(): string {
    const b = this.string()
    for (let i = 0; i < b.length; i++) {
      if (b[i]! < 0x20 || b[i]! > 0x7e) {
        throw new WireError({ reason: "Invalid", description: "string is not printable US-ASCII" })
      }
    }
    return latin1.decode(b)
  }

  /** RFC 4251 §5 `mpint` as a non-negative bigint; negative values and > 16 384 bits are rejected (SEC-09). */
  mpint(): bigint {
    const b = this.string()
    return mpintFromBytes(b)
  }

  /** RFC 4251 §5 `name-list`, with the SEC-16 / LIM-12 syntax and bounds. */
  nameList(): ReadonlyArray<string> {
    const b = this.string()
    if (b.length === 0) return []
    if (b.length > MAX_NAME_LIST_BYTES) {
      throw new WireError({ reason: "TooLarge", description: `name-list of ${b.length} bytes exceeds ${MAX_NAME_LIST_BYTES}` })
    }
    const names: Array<string> = []
    let start = 0
    for (let i = 0; i <= b.length; i++) {
      if (i === b.length || b[i] === 0x2c) {
        const len = i - start
        if (len === 0) throw new WireError({ reason: "Invalid", description: "empty name in name-list" })
        if (len > MAX_NAME_LENGTH) {
          throw new WireError({ reason: "Invalid", description: `name of ${len} bytes exceeds ${MAX_NAME_LENGTH}` })
        }
        if (names.length === MAX_NAMES) {
          throw new WireError({ reason: "TooLarge", description: `name-list has more than ${MAX_NAMES} names` })
        }
        names.push(latin1.decode(b.subarray(start, i)))
        start = i + 1
      } else if (b[i]! < 0x21 || b[i]! > 0x7e) {
        throw new WireError({ reason: "Invalid", description: "name-list holds a non-printable character" })
      }
    }
    return names
  }

  /** Fails unless every byte was consumed (SEC-09: trailing bytes are a protocol error). */
  end_(): void {
    if (this.pos !== this.end) {
      throw new WireError({ reason: "TrailingBytes", description: `${this.end - this.pos} trailing bytes` })
    }
  }
}

/**
 * Decodes UTF-8 strictly (SEC-09), keeping a leading U+FEFF so that text round-trips exactly (a default
 * TextDecoder strips it); throws a `WireError` naming `what` — for decoders run under `Reader.run`.
 *
 * @since 0.1.0
 */
export const decodeUtf8 = (bytes: Uint8Array, what: string): string => {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new WireError({ reason: "BadUtf8", description: `${what} is not valid UTF-8` })
  }
}

/**
 * Decodes an mpint body (two's complement, big-endian) that must be non-negative.
 *
 * @since 0.1.0
 */
export const mpintFromBytes = (b: Uint8Array): bigint => {
  if (b.length === 0) return 0n
  if (b.length > MAX_MPINT_BYTES) {
    throw new WireError({ reason: "TooLarge", description: `mpint of ${b.length} bytes exceeds 16384 bits` })
  }
  if (b[0]! & 0x80) throw new WireError({ reason: "Invalid", description: "negative mpint" })
  // RFC 4251 §5: unnecessary leading zero bytes MUST NOT be included.
  if (b[0] === 0 && (b.length === 1 || (b[1]! & 0x80) === 0)) {
    throw new WireError({ reason: "Invalid", description: "mpint has a superfluous leading zero" })
  }
  let hex = ""
  for (let i = 0; i < b.length; i++) hex += HEX[b[i]!]
  return BigInt("0x" + hex)
}

const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/**
 * Runs a decoder over a Reader, turning the `WireError` it throws into a `Left`. Any other exception is a bug
 * in the decoder and is reported as `Unknown` rather than escaping (SEC-10).
 *
 * @since 0.1.0
 */
export const run = <A>(bytes: Uint8Array, f: (r: Reader) => A): Either.Either<A, WireError> => {
  try {
    return Either.right(f(new Reader(bytes)))
  } catch (e) {
    if (e instanceof WireError) return Either.left(e)
    return Either.left(new WireError({ reason: "Unknown", description: String(e) }))
  }
}
