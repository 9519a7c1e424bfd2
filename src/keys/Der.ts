/**
 * A small ASN.1 DER reader and writer (ITU-T X.690 §8 and §10), just enough for the key structures of PKCS#1
 * (RFC 8017 App. A), SEC1 (RFC 5915), PKCS#8 (RFC 5208 / RFC 5958), PBES2 (RFC 8018) and SubjectPublicKeyInfo
 * (RFC 5280 §4.1).
 *
 * The reader is a cursor: structure-specific code asks for the element it expects (`seq`, `int`, `octets`, …),
 * so nesting depth is the depth of the code, and is also capped at `MAX_DEPTH`. Only definite lengths of at most
 * four length bytes are accepted, and a length must fit in what is left. `decode` never throws: every failure is
 * a `KeyError` with reason "Parse".
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { KeyError } from "../SshError.js"

/**
 * Universal tags used by key files (X.690 §8.4).
 *
 * @since 0.1.0
 * @category constants
 */
export const Tag = {
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  Oid: 0x06,
  Sequence: 0x30
} as const

/**
 * Deepest nesting the reader follows.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_DEPTH = 16

/** Largest INTEGER accepted, in bytes: a 16 384-bit RSA value plus its sign byte (LIM-15). */
const MAX_INTEGER_BYTES = 2049

class DerFailure {
  constructor(readonly description: string) {}
}

const fail = (description: string): never => {
  throw new DerFailure(description)
}

/**
 * A cursor over DER elements. Methods throw an internal failure that `decode` turns into a `Left`; use it only
 * inside `decode`.
 *
 * @since 0.1.0
 * @category models
 */
export class DerReader {
  private pos: number
  constructor(private readonly bytes: Uint8Array, private readonly depth = 0) {
    if (depth > MAX_DEPTH) fail(`ASN.1 nesting deeper than ${MAX_DEPTH}`)
    this.pos = 0
  }

  /** Whether any element is left. */
  get done(): boolean {
    return this.pos >= this.bytes.length
  }

  /** The tag of the next element, or -1 at the end. */
  peek(): number {
    return this.done ? -1 : this.bytes[this.pos]!
  }

  /** The next element of `tag`: its content bytes. */
  element(tag: number, what: string): Uint8Array {
    const b = this.bytes
    if (this.done) fail(`${what}: truncated`)
    if (b[this.pos] !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}, found 0x${b[this.pos]!.toString(16)}`)
    let p = this.pos + 1
    if (p >= b.length) fail(`${what}: truncated length`)
    let length = b[p++]!
    if (length & 0x80) {
      const n = length & 0x7f
      // 0x80 is BER's indefinite length, forbidden in DER (X.690 §10.1); more than 4 bytes cannot fit anyway.
      if (n === 0 || n > 4) fail(`${what}: unsupported length encoding`)
      if (p + n > b.length) fail(`${what}: truncated length`)
      length = 0
      for (let i = 0; i < n; i++) length = length * 256 + b[p++]!
      // X.690 §10.1: the shortest form.
      if (length < 0x80 || b[p - n] === 0) fail(`${what}: non-minimal length`)
    }
    if (length > b.length - p) fail(`${what}: length ${length} exceeds the ${b.length - p} bytes left`)
    this.pos = p + length
    return b.subarray(p, p + length)
  }

  /** A SEQUENCE, as a reader over its elements. */
  seq(what: string): DerReader {
    return new DerReader(this.element(Tag.Sequence, what), this.depth + 1)
  }

  /** A context-specific constructed `[n]` element if it comes next, as a reader over its content. */
  context(n: number, what: string): DerReader | undefined {
    return this.peek() === (0xa0 | n) ? new DerReader(this.element(0xa0 | n, what), this.depth + 1) : undefined
  }

  /** An INTEGER as a bigint (two's complement, X.690 §8.3). */
  int(what: string): bigint {
    const c = this.element(Tag.Integer, what)
    if (c.length === 0) fail(`${what}: empty INTEGER`)
    if (c.length > MAX_INTEGER_BYTES) fail(`${what}: INTEGER of ${c.length} bytes`)
    if (c.length > 1 && ((c[0] === 0 && c[1]! < 0x80) || (c[0] === 0xff && c[1]! >= 0x80))) {
      fail(`${what}: non-minimal INTEGER`)
    }
    let v = 0n
    for (const byte of c) v = (v << 8n) | BigInt(byte)
    return c[0]! >= 0x80 ? v - (1n << BigInt(8 * c.length)) : v
  }

  /** A non-negative INTEGER. */
  uint(what: string): bigint {
    const v = this.int(what)
    if (v < 0n) fail(`${what}: negative`)
    return v
  }

  /** A small non-negative INTEGER (a version, a count). */
  small(what: string, max: number): number {
    const v = this.uint(what)
    if (v > BigInt(max)) fail(`${what}: ${v} exceeds ${max}`)
    return Number(v)
  }

  /** An OCTET STRING. */
  octets(what: string): Uint8Array {
    return this.element(Tag.OctetString, what)
  }

  /** A BIT STRING of whole bytes (no unused bits), as its bytes. */
  bits(what: string): Uint8Array {
    const c = this.element(Tag.BitString, what)
    if (c.length === 0 || c[0] !== 0) fail(`${what}: BIT STRING with unused bits`)
    return c.subarray(1)
  }

  /** An OBJECT IDENTIFIER in dotted form (X.690 §8.19). */
  oid(what: string): string {
    const c = this.element(Tag.Oid, what)
    if (c.length === 0 || c.length > 64) fail(`${what}: OBJECT IDENTIFIER of ${c.length} bytes`)
    const arcs: Array<number> = []
    let v = 0
    for (let i = 0; i < c.length; i++) {
      if (v === 0 && c[i] === 0x80) fail(`${what}: non-minimal OBJECT IDENTIFIER`)
      v = v * 128 + (c[i]! & 0x7f)
      if (v > 0xffffffff) fail(`${what}: OBJECT IDENTIFIER arc too large`)
      if ((c[i]! & 0x80) === 0) {
        arcs.push(v)
        v = 0
      } else if (i === c.length - 1) fail(`${what}: truncated OBJECT IDENTIFIER`)
    }
    const first = arcs[0]!
    const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
    return [...head, ...arcs.slice(1)].join(".")
  }

  /** A NULL. */
  null_(what: string): void {
    if (this.element(Tag.Null, what).length !== 0) fail(`${what}: NULL with content`)
  }

  /** Nothing may follow. */
  end_(what: string): void {
    if (!this.done) fail(`${what}: ${this.bytes.length - this.pos} unexpected bytes`)
  }
}

/**
 * Runs `f` over a reader of `bytes`; a structural failure becomes a `KeyError` with reason "Parse" whose
 * description starts with `what`. Exceptions that are not ours (bugs) are reported by kind only, never with data.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = <A>(bytes: Uint8Array, what: string, f: (r: DerReader) => A): Either.Either<A, KeyError> => {
  try {
    return Either.right(f(new DerReader(bytes)))
  } catch (e) {
    if (e instanceof KeyError) return Either.left(e)
    const description = e instanceof DerFailure ? e.description : `malformed (${e instanceof Error ? e.name : typeof e})`
    return Either.left(new KeyError({ reason: "Parse", description: `${what}: ${description}` }))
  }
}

// ---- writer ----

const header = (tag: number, length: number): Array<number> => {
  if (length < 0x80) return [tag, length]
  const bytes: Array<number> = []
  for (let l = length; l > 0; l = Math.floor(l / 256)) bytes.unshift(l & 0xff)
  return [tag, 0x80 | bytes.length, ...bytes]
}

/**
 * One element: `tag`, its DER length, `content`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const element = (tag: number, content: Uint8Array): Uint8Array => {
  const h = header(tag, content.length)
  const out = new Uint8Array(h.length + content.length)
  out.set(h)
  out.set(content, h.length)
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * A SEQUENCE of already encoded elements.
 *
 * @since 0.1.0
 * @category encoding
 */
export const seq = (...children: ReadonlyArray<Uint8Array>): Uint8Array => element(Tag.Sequence, concat(children))

/**
 * A context-specific constructed `[n]` element.
 *
 * @since 0.1.0
 * @category encoding
 */
export const context = (n: number, ...children: ReadonlyArray<Uint8Array>): Uint8Array =>
  element(0xa0 | n, concat(children))

/**
 * A non-negative INTEGER (with a leading zero byte when the top bit is set).
 *
 * @since 0.1.0
 * @category encoding
 */
export const int = (v: bigint | number): Uint8Array => {
  let hex = BigInt(v).toString(16)
  if (hex.length % 2) hex = "0" + hex
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = "00" + hex
  return element(Tag.Integer, Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16)))
}

/**
 * An OCTET STRING.
 *
 * @since 0.1.0
 * @category encoding
 */
export const octets = (b: Uint8Array): Uint8Array => element(Tag.OctetString, b)

/**
 * A BIT STRING of whole bytes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const bits = (b: Uint8Array): Uint8Array => element(Tag.BitString, concat([Uint8Array.of(0), b]))

/**
 * A NULL.
 *
 * @since 0.1.0
 * @category encoding
 */
export const null_ = (): Uint8Array => Uint8Array.of(Tag.Null, 0)

/**
 * An OBJECT IDENTIFIER from its dotted form.
 *
 * @since 0.1.0
 * @category encoding
 */
export const oid = (dotted: string): Uint8Array => {
  const arcs = dotted.split(".").map(Number)
  const out: Array<number> = []
  const values = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]
  for (const v of values) {
    const chunk = [v & 0x7f]
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift(0x80 | (x & 0x7f))
    out.push(...chunk)
  }
  return element(Tag.Oid, Uint8Array.from(out))
}
