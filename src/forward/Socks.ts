/**
 * A strict, bounded SOCKS 4, 4a and 5 request parser for dynamic forwarding (-D), pure and incremental: give it
 * the bytes received so far, it answers "need more", "invalid", or the parsed message and how many bytes it used.
 * Only CONNECT is accepted, SOCKS 5 only with "no authentication"; host names ≤ 255 bytes, user ids ≤ 255 bytes,
 * methods ≤ 255 (SEC-49, RFC 1928, the SOCKS 4 and 4A protocol notes). It never throws and never looks past
 * `MAX_REQUEST_BYTES`.
 *
 * @since 0.1.0
 */

/**
 * The most bytes a complete client message can take (SOCKS 4a: 8 + 256 + 256); a client that has sent this
 * much without completing one is refused.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_REQUEST_BYTES = 520

/**
 * The outcome of a parse step.
 *
 * @since 0.1.0
 * @category models
 */
export type Parsed<A> =
  | { readonly _tag: "NeedMore" }
  | { readonly _tag: "Invalid"; readonly description: string }
  | { readonly _tag: "Done"; readonly value: A; readonly consumed: number }

/**
 * A CONNECT request: where to, and which protocol version asked (the reply uses the same).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectRequest {
  readonly version: 4 | 5
  readonly host: string
  readonly port: number
}

/**
 * The first message of a client: a SOCKS 4/4a CONNECT, or a SOCKS 5 greeting (method selection).
 *
 * @since 0.1.0
 * @category models
 */
export type FirstMessage =
  | { readonly _tag: "Socks4"; readonly request: ConnectRequest }
  | { readonly _tag: "Socks5Greeting"; readonly noAuth: boolean }

const needMore = { _tag: "NeedMore" } as const
const invalid = (description: string) => ({ _tag: "Invalid", description }) as const
const done = <A>(value: A, consumed: number): Parsed<A> => ({ _tag: "Done", value, consumed })

/** A NUL-terminated field of at most 255 bytes starting at `from`; its end index, or a parse outcome. */
const nulTerminated = (buf: Uint8Array, from: number, what: string): number | Parsed<never> => {
  const limit = Math.min(buf.length, from + 256)
  for (let i = from; i < limit; i++) if (buf[i] === 0) return i
  return buf.length >= from + 256 ? invalid(`${what} longer than 255 bytes`) : needMore
}

/** Host names: printable ASCII without spaces (what a DNS name or an IP literal can be). */
const hostText = (bytes: Uint8Array): string | undefined => {
  if (bytes.length === 0) return undefined
  let s = ""
  for (const b of bytes) {
    if (b <= 0x20 || b >= 0x7f) return undefined
    s += String.fromCharCode(b)
  }
  return s
}

const ipv4 = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`

const ipv6 = (b: Uint8Array, at: number) => {
  const parts: Array<string> = []
  for (let i = 0; i < 16; i += 2) parts.push(((b[at + i]! << 8) | b[at + i + 1]!).toString(16))
  return parts.join(":")
}

/**
 * Parses a client's first message: SOCKS 4 / 4a CONNECT (version 4) or a SOCKS 5 greeting (version 5).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseFirst = (buf: Uint8Array): Parsed<FirstMessage> => {
  if (buf.length < 1) return needMore
  const version = buf[0]
  if (version === 5) {
    if (buf.length < 2) return needMore
    const n = buf[1]!
    if (n === 0) return invalid("SOCKS 5 greeting without methods")
    if (buf.length < 2 + n) return needMore
    let noAuth = false
    for (let i = 0; i < n; i++) if (buf[2 + i] === 0) noAuth = true
    return done({ _tag: "Socks5Greeting", noAuth }, 2 + n)
  }
  if (version !== 4) return invalid(`unknown SOCKS version ${version}`)
  if (buf.length < 8) return needMore
  if (buf[1] !== 1) return invalid(`SOCKS 4 command ${buf[1]} is not CONNECT`)
  const port = (buf[2]! << 8) | buf[3]!
  const userEnd = nulTerminated(buf, 8, "SOCKS 4 user id")
  if (typeof userEnd !== "number") return userEnd
  // SOCKS 4a: 0.0.0.x with x ≠ 0 means "the host name follows the user id".
  if (buf[4] === 0 && buf[5] === 0 && buf[6] === 0 && buf[7] !== 0) {
    const hostEnd = nulTerminated(buf, userEnd + 1, "SOCKS 4a host name")
    if (typeof hostEnd !== "number") return hostEnd
    const host = hostText(buf.subarray(userEnd + 1, hostEnd))
    if (host === undefined) return invalid("SOCKS 4a host name is empty or not printable")
    return done({ _tag: "Socks4", request: { version: 4, host, port } }, hostEnd + 1)
  }
  return done({ _tag: "Socks4", request: { version: 4, host: ipv4(buf, 4), port } }, userEnd + 1)
}

/**
 * Parses a SOCKS 5 request (RFC 1928 §4); only CONNECT, with an IPv4, IPv6 or domain-name address.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSocks5Request = (buf: Uint8Array): Parsed<ConnectRequest> => {
  if (buf.length < 4) return needMore
  if (buf[0] !== 5) return invalid(`SOCKS 5 request of version ${buf[0]}`)
  if (buf[1] !== 1) return invalid(`SOCKS 5 command ${buf[1]} is not CONNECT`)
  if (buf[2] !== 0) return invalid("SOCKS 5 reserved byte is not 0")
  const atyp = buf[3]
  const withPort = (host: string, at: number): Parsed<ConnectRequest> =>
    buf.length < at + 2 ? needMore : done({ version: 5, host, port: (buf[at]! << 8) | buf[at + 1]! }, at + 2)
  switch (atyp) {
    case 1:
      return buf.length < 8 ? needMore : withPort(ipv4(buf, 4), 8)
    case 4:
      return buf.length < 20 ? needMore : withPort(ipv6(buf, 4), 20)
    case 3: {
      if (buf.length < 5) return needMore
      const n = buf[4]!
      if (buf.length < 5 + n) return needMore
      const host = hostText(buf.subarray(5, 5 + n))
      if (host === undefined) return invalid("SOCKS 5 domain name is empty or not printable")
      return withPort(host, 5 + n)
    }
    default:
      return invalid(`SOCKS 5 address type ${atyp}`)
  }
}

/**
 * The SOCKS 5 method selection reply: "no authentication" (0), or "no acceptable methods" (0xff).
 *
 * @since 0.1.0
 * @category encoding
 */
export const socks5MethodReply = (noAuth: boolean): Uint8Array => new Uint8Array([5, noAuth ? 0 : 0xff])

/**
 * The reply to a CONNECT: granted, or refused (SOCKS 4 code 91; SOCKS 5 code 5 "connection refused", or 1
 * "general failure" for a malformed request). The bound address is reported as 0.0.0.0:0, as OpenSSH does.
 *
 * @since 0.1.0
 * @category encoding
 */
export const connectReply = (version: 4 | 5, granted: boolean, socks5Code = 5): Uint8Array =>
  version === 4
    ? new Uint8Array([0, granted ? 90 : 91, 0, 0, 0, 0, 0, 0])
    : new Uint8Array([5, granted ? 0 : socks5Code, 0, 1, 0, 0, 0, 0, 0, 0])
