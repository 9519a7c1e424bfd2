/**
 * A growable buffer that writes the RFC 4251 §5 data types. `Writer.build(f)` returns exactly the bytes written.
 *
 * @since 0.1.0
 */

const utf8 = new TextEncoder()

/**
 * @since 0.1.0
 * @category models
 */
export class Writer {
  private buf: Uint8Array
  private view: DataView
  pos = 0

  constructor(initial = 256) {
    this.buf = new Uint8Array(Math.max(16, initial))
    this.view = new DataView(this.buf.buffer)
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  byte(v: number): this {
    this.ensure(1)
    this.buf[this.pos++] = v & 0xff
    return this
  }

  boolean(v: boolean): this {
    return this.byte(v ? 1 : 0)
  }

  uint32(v: number): this {
    this.ensure(4)
    this.view.setUint32(this.pos, v >>> 0)
    this.pos += 4
    return this
  }

  uint64(v: bigint): this {
    this.ensure(8)
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, v))
    this.pos += 8
    return this
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
    return this
  }

  /** RFC 4251 §5 `string` from bytes, or from text encoded as UTF-8. */
  string(b: Uint8Array | string): this {
    const bytes = typeof b === "string" ? utf8.encode(b) : b
    this.uint32(bytes.length)
    return this.raw(bytes)
  }

  /** RFC 4251 §5 `mpint` of a non-negative bigint. */
  mpint(v: bigint): this {
    return this.string(mpintBytes(v))
  }

  nameList(names: ReadonlyArray<string>): this {
    return this.string(names.join(","))
  }

  /** The bytes written so far, as a copy sized exactly. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}

/**
 * Runs `f` on a fresh Writer and returns the bytes it wrote.
 *
 * @since 0.1.0
 */
export const build = (f: (w: Writer) => void, initial?: number): Uint8Array => {
  const w = new Writer(initial)
  f(w)
  return w.finish()
}

/**
 * The body of an mpint (RFC 4251 §5) for a non-negative bigint: big-endian, minimal, with a leading zero byte
 * when the top bit would otherwise be set; zero is the empty string.
 *
 * @since 0.1.0
 */
export const mpintBytes = (v: bigint): Uint8Array => {
  if (v < 0n) throw new RangeError("mpintBytes: negative values are not used by SSH")
  if (v === 0n) return new Uint8Array(0)
  let hex = v.toString(16)
  if (hex.length % 2) hex = "0" + hex
  const top = parseInt(hex.slice(0, 2), 16)
  const pad = top & 0x80 ? 1 : 0
  const out = new Uint8Array(hex.length / 2 + pad)
  for (let i = 0; i < hex.length / 2; i++) out[i + pad] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/**
 * The mpint body of an unsigned big-endian byte string (such as a raw X25519 shared secret): leading zeros
 * stripped, a zero byte prepended when the top bit is set (RFC 8731 §3).
 *
 * @since 0.1.0
 */
export const mpintFromUnsigned = (b: Uint8Array): Uint8Array => {
  let i = 0
  while (i < b.length && b[i] === 0) i++
  const body = b.subarray(i)
  if (body.length > 0 && body[0]! & 0x80) {
    const out = new Uint8Array(body.length + 1)
    out.set(body, 1)
    return out
  }
  return body.slice()
}
