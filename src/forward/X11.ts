/**
 * X11 forwarding (RFC 4254 §6.3), the parts both roles share and that need no IO: DISPLAY parsing, the `x11`
 * channel's open data, cookies, and the X11 connection setup message whose authorization data the client checks
 * against the fake cookie it gave the server and replaces with the real one (OpenSSH channels.c
 * `x11_open_helper`). The client side is `X11Client`, the server side `X11Server`.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Reader from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Writer from "../wire/Writer.js"
import type { Endpoint } from "./LocalNet.js"

/**
 * The only authorization protocol forwarded: the X server compares 16 random bytes (OpenSSH sends the same).
 *
 * @since 0.1.0
 * @category constants
 */
export const MIT_MAGIC_COOKIE = "MIT-MAGIC-COOKIE-1"

/**
 * The first TCP port of X displays: display N listens on 6000 + N.
 *
 * @since 0.1.0
 * @category constants
 */
export const X11_BASE_PORT = 6000

/**
 * A parsed DISPLAY value: where the X server listens, its display number and screen.
 *
 * @since 0.1.0
 * @category models
 */
export interface Display {
  readonly endpoint: Endpoint
  readonly number: number
  readonly screen: number
}

/**
 * Parses DISPLAY as OpenSSH's `x11_connect_display` does: `:N[.S]` and `unix:N[.S]` are the UNIX socket
 * `/tmp/.X11-unix/XN`, `/path:N[.S]` (a launchd socket) that path, `host:N[.S]` TCP port 6000 + N. Numbers are
 * decimal and bounded (no port past 65 535: OpenSSH 9998c93d5).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDisplay = (display: string): Either.Either<Display, string> => {
  const m = /^(.*):(\d{1,5})(?:\.(\d{1,5}))?$/.exec(display)
  if (m === null) return Either.left(`DISPLAY ${JSON.stringify(display)} is not host:N[.S]`)
  const host = m[1]!
  const number = Number(m[2])
  const screen = m[3] === undefined ? 0 : Number(m[3])
  if (number > 65535 - X11_BASE_PORT || screen > 65535) return Either.left(`DISPLAY ${display}: number out of range`)
  if (host === "" || host === "unix") {
    return Either.right({ endpoint: { _tag: "Unix", path: `/tmp/.X11-unix/X${number}` }, number, screen })
  }
  if (host.startsWith("/")) return Either.right({ endpoint: { _tag: "Unix", path: host }, number, screen })
  if (!/^[A-Za-z0-9.\-]+$/.test(host)) return Either.left(`DISPLAY ${display}: bad host name`)
  return Either.right({ endpoint: { _tag: "Tcp", host, port: X11_BASE_PORT + number }, number, screen })
}

/**
 * Whether `cookie` is a usable authorization cookie: an even number of hex digits, 2–512 of them, nothing else
 * (no space or newline: OpenSSH CVE-2016-3115, SEC-46).
 *
 * @since 0.1.0
 * @category parsing
 */
export const isHexCookie = (cookie: string): boolean => /^(?:[0-9a-fA-F]{2}){1,256}$/.test(cookie)

/**
 * Whether `name` may be an authorization protocol name: printable US-ASCII without spaces, ≤ 64 bytes (SEC-46).
 *
 * @since 0.1.0
 * @category parsing
 */
export const isProtocolName = (name: string): boolean => /^[\x21-\x7e]{1,64}$/.test(name)

/**
 * Hex digits → bytes (call `isHexCookie` first).
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromHex = (hex: string): Uint8Array => {
  const out = new Uint8Array(hex.length >> 1)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

/**
 * Bytes → lower-case hex digits.
 *
 * @since 0.1.0
 * @category parsing
 */
export const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

/**
 * Who connected to the forwarded display, sent with the `x11` channel open (RFC 4254 §6.3.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface X11Originator {
  readonly address: string
  readonly port: number
}

/**
 * Encodes the `x11` channel's open data (RFC 4254 §6.3.2).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeOpen = (o: X11Originator): Uint8Array => Writer.build((w) => w.string(o.address).uint32(o.port))

/**
 * Decodes the `x11` channel's open data. OpenSSH before 2.3 sent no originator; such data decodes as empty.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeOpen = (data: Uint8Array): Either.Either<X11Originator, WireError> =>
  Reader.run(data, (r) => {
    if (r.remaining === 0) return { address: "", port: 0 }
    const address = r.string()
    if (address.length > 255) throw new WireError({ reason: "Invalid", description: "x11 originator address too long" })
    const port = r.uint32()
    r.end_()
    return { address: Reader.decodeUtf8(address, "x11 originator"), port }
  })

/**
 * What the first bytes of a forwarded X11 connection say (the X11 connection setup, X Window System Protocol
 * §8): not complete yet, refused, or complete, with the setup's length and the bytes with the real cookie.
 *
 * @since 0.1.0
 * @category models
 */
export type SetupCheck =
  | { readonly _tag: "NeedMore" }
  | { readonly _tag: "Refused"; readonly reason: string }
  | { readonly _tag: "Accepted"; readonly index: number; readonly rewritten: Uint8Array }

const pad4 = (n: number) => (n + 3) & ~3

/** The setup's fixed part: byte order, unused, major, minor, name length, data length, unused. */
const SETUP_HEAD = 12

/**
 * Checks the X11 connection setup at the start of `bytes` against the fake cookies handed to the server
 * (`fakes[i]`, compared with `equal`, a constant-time comparison: SEC-27) and, when one matches, rewrites it
 * with `reals[i]` (the real cookie the X server knows). A name or data length other than the fake one is refused
 * as soon as the 12-byte head is in, so at most one setup of known size is ever buffered. The rest of `bytes`
 * (X requests sent at once) is kept after the rewritten setup.
 *
 * @since 0.1.0
 * @category parsing
 */
export const checkSetup = (
  bytes: Uint8Array,
  protocol: string,
  fakes: ReadonlyArray<Uint8Array>,
  reals: ReadonlyArray<Uint8Array>,
  equal: (a: Uint8Array, b: Uint8Array) => boolean
): SetupCheck => {
  if (bytes.length < SETUP_HEAD) return { _tag: "NeedMore" }
  const order = bytes[0]
  if (order !== 0x42 && order !== 0x6c) return { _tag: "Refused", reason: "bad X11 byte order" }
  const big = order === 0x42
  const u16 = (at: number) => (big ? (bytes[at]! << 8) | bytes[at + 1]! : bytes[at]! | (bytes[at + 1]! << 8))
  const nameLength = u16(6)
  const dataLength = u16(8)
  const proto = new TextEncoder().encode(protocol)
  if (nameLength !== proto.length || !fakes.some((f) => f.length === dataLength)) {
    return { _tag: "Refused", reason: "X11 authentication protocol or cookie length does not match" }
  }
  const end = SETUP_HEAD + pad4(nameLength) + pad4(dataLength)
  if (bytes.length < end) return { _tag: "NeedMore" }
  const name = bytes.subarray(SETUP_HEAD, SETUP_HEAD + nameLength)
  if (!proto.every((b, i) => b === name[i])) return { _tag: "Refused", reason: "X11 authentication protocol does not match" }
  const data = bytes.subarray(SETUP_HEAD + pad4(nameLength), SETUP_HEAD + pad4(nameLength) + dataLength)
  // Every fake is compared (no early exit), each in constant time.
  let index = -1
  fakes.forEach((f, i) => {
    if (f.length === data.length && equal(f, data) && index === -1) index = i
  })
  if (index === -1) return { _tag: "Refused", reason: "X11 connection with the wrong authentication cookie" }
  const real = reals[index]!
  const head = bytes.slice(0, SETUP_HEAD)
  if (big) head.set([real.length >> 8, real.length & 0xff], 8)
  else head.set([real.length & 0xff, real.length >> 8], 8)
  const out = new Uint8Array(SETUP_HEAD + pad4(nameLength) + pad4(real.length) + bytes.length - end)
  out.set(head, 0)
  out.set(bytes.subarray(SETUP_HEAD, SETUP_HEAD + pad4(nameLength)), SETUP_HEAD)
  out.set(real, SETUP_HEAD + pad4(nameLength))
  out.set(bytes.subarray(end), SETUP_HEAD + pad4(nameLength) + pad4(real.length))
  return { _tag: "Accepted", index, rewritten: out }
}
