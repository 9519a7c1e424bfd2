/**
 * The identification string exchange (RFC 4253 §4.2), as a pure incremental parser with the bounds of
 * SEC-11 and LIM-01…LIM-04.
 *
 * @since 0.1.0
 */

/**
 * Our identification line, without CR LF (RFC 4253 §4.2: `SSH-protoversion-softwareversion SP comments`).
 *
 * @since 0.1.0
 * @category constants
 */
export const SOFTWARE_VERSION = "SSH-2.0-effect_ssh_0.1"

/** LIM-01: the SSH- line is at most 255 bytes including CR LF. */
export const MAX_VERSION_LINE = 255
/** LIM-02: a client skips at most 1 024 lines before the server's version line… */
export const MAX_PRE_BANNER_LINES = 1024
/** …each at most 8 192 bytes, and never buffers more than that while waiting for a line end (SEC-11). */
export const MAX_BANNER_LINE = 8192

/**
 * @since 0.1.0
 * @category models
 */
export type IdentificationResult =
  | { readonly _tag: "NeedMore" }
  | {
    readonly _tag: "Done"
    /** The peer's version line without CR LF; it enters the exchange hash as V_C or V_S. */
    readonly version: string
    /** The software version part, for logs (sanitise before printing: SEC-12). */
    readonly software: string
    /** Bytes after the line, which belong to the binary packet protocol. */
    readonly rest: Uint8Array
  }
  | { readonly _tag: "Failed"; readonly description: string }

const latin1 = new TextDecoder("latin1")

/**
 * Reads the peer's identification line from a byte stream. `role` is our role: a client accepts (and
 * discards) other lines before the server's version line; a server accepts none (OpenSSH refuses them).
 *
 * @since 0.1.0
 * @category models
 */
export class IdentificationParser {
  /** The unfinished line, as the pieces it arrived in (joined once its LF arrives: linear, not quadratic). */
  private pieces: Array<Uint8Array> = []
  private pendingLength = 0
  private linesSkipped = 0
  private done = false

  constructor(readonly role: "client" | "server") {}

  push(chunk: Uint8Array): IdentificationResult {
    if (this.done) return { _tag: "Failed", description: "identification already read" }
    if (chunk.indexOf(0x0a) < 0) {
      // No line end yet: check the bound before keeping anything (SEC-11: never more than 8 192 bytes).
      const pending = this.pendingLength + chunk.length
      const limit = startsWithSsh(firstBytes(this.pieces, chunk, 4), 0) ? MAX_VERSION_LINE : MAX_BANNER_LINE
      if (pending > limit) return fail(`identification line longer than ${limit} bytes without a line end`)
      this.pieces.push(chunk.slice())
      this.pendingLength = pending
      return { _tag: "NeedMore" }
    }
    const buf = this.pieces.length === 0 ? chunk : concatAll([...this.pieces, chunk])
    this.pieces = []
    this.pendingLength = 0
    let start = 0
    for (;;) {
      const lf = buf.indexOf(0x0a, start)
      if (lf < 0) {
        const pending = buf.length - start
        const limit = startsWithSsh(buf, start) ? MAX_VERSION_LINE : MAX_BANNER_LINE
        if (pending > limit) {
          return fail(`identification line longer than ${limit} bytes without a line end`)
        }
        this.pieces = [buf.slice(start)]
        this.pendingLength = pending
        return { _tag: "NeedMore" }
      }
      // Accept CR LF or a bare LF (SEC-11); a CR anywhere else and NUL are rejected.
      const end = lf > start && buf[lf - 1] === 0x0d ? lf - 1 : lf
      for (let i = start; i < end; i++) {
        if (buf[i] === 0 || buf[i] === 0x0d) return fail("identification line contains NUL or a bare CR")
      }
      if (startsWithSsh(buf, start)) {
        if (lf + 1 - start > MAX_VERSION_LINE) {
          return fail(`identification line longer than ${MAX_VERSION_LINE} bytes (RFC 4253 §4.2)`)
        }
        const line = latin1.decode(buf.subarray(start, end))
        const parsed = parseVersion(line)
        if (typeof parsed === "string") return fail(parsed)
        this.done = true
        return { _tag: "Done", version: line, software: parsed.software, rest: buf.slice(lf + 1) }
      }
      if (this.role === "server") {
        return fail("the client sent a line that is not an SSH identification (RFC 4253 §4.2)")
      }
      if (lf + 1 - start > MAX_BANNER_LINE) return fail(`pre-identification line longer than ${MAX_BANNER_LINE} bytes`)
      if (++this.linesSkipped > MAX_PRE_BANNER_LINES) {
        return fail(`more than ${MAX_PRE_BANNER_LINES} lines before the server's identification`)
      }
      start = lf + 1
    }
  }
}

const fail = (description: string): IdentificationResult => ({ _tag: "Failed", description })

const startsWithSsh = (b: Uint8Array, i: number): boolean =>
  b.length - i >= 4 ? b[i] === 0x53 && b[i + 1] === 0x53 && b[i + 2] === 0x48 && b[i + 3] === 0x2d :
    // A partial line that could still become "SSH-" is held to the shorter limit too.
    [0x53, 0x53, 0x48].every((c, k) => i + k >= b.length || b[i + k] === c)

/**
 * Splits `SSH-protoversion-softwareversion[ SP comments]` and checks the protocol version (LIM-04: 2.0 and 1.99).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseVersion = (line: string): { readonly proto: string; readonly software: string } | string => {
  const m = /^SSH-([^-\s]+)-([^\s]*)(?: .*)?$/.exec(line)
  if (!m) return "malformed identification line"
  const proto = m[1]!
  if (proto !== "2.0" && proto !== "1.99") return `Protocol major versions differ: peer speaks ${proto}, we speak 2.0`
  if (m[2]!.length === 0) return "identification line has an empty software version"
  return { proto, software: m[2]! }
}

/** The first `n` bytes (or fewer) of `pieces` followed by `last`; looks at no more than `n` pieces. */
const firstBytes = (pieces: ReadonlyArray<Uint8Array>, last: Uint8Array, n: number): Uint8Array => {
  const out: Array<number> = []
  for (let k = 0; k <= pieces.length && out.length < n; k++) {
    const p = k < pieces.length ? pieces[k]! : last
    for (let i = 0; i < p.length && out.length < n; i++) out.push(p[i]!)
  }
  return Uint8Array.from(out)
}

const concatAll = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/**
 * What we may send (RFC 4253 §4.2, LIM-01): `SSH-2.0-softwareversion[ SP comments]`, the software version printable
 * US-ASCII without whitespace or minus, comments printable, at most 253 characters so that the line with CR LF
 * fits in 255 bytes.
 */
const SENDABLE = /^SSH-2\.0-[\x21-\x2c\x2e-\x7e]+(?: [\x20-\x7e]*)?$/

/**
 * Our identification line as bytes, with CR LF. A line that is not a valid RFC 4253 §4.2 identification of at
 * most 255 bytes (LIM-01) is a configuration bug and throws a `RangeError`: it is never sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const encode = (version: string = SOFTWARE_VERSION): Uint8Array => {
  if (version.length + 2 > MAX_VERSION_LINE || !SENDABLE.test(version)) {
    throw new RangeError(`not a valid SSH identification line of at most ${MAX_VERSION_LINE} bytes: ${JSON.stringify(version.slice(0, 64))}`)
  }
  return new TextEncoder().encode(version + "\r\n")
}
