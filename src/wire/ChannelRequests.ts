/**
 * The request-specific data of CHANNEL_REQUEST (RFC 4254 §6; OpenSSH PROTOCOL §2.1, §2.2): `pty-req`, `x11-req`,
 * `env`, `shell`, `exec`, `subsystem`, `window-change`, `xon-xoff`, `signal`, `exit-status`, `exit-signal`,
 * `keepalive@openssh.com` and `eow@openssh.com`, plus the terminal-mode encoding of RFC 4254 §8.
 *
 * Decoders apply the SEC-46 syntax bounds (lengths, printable names, hex X11 cookies, no NUL), reject trailing
 * bytes (SEC-09: `exit-status` is exactly one uint32) and never throw; policy (which variables are allowed,
 * clamping of sizes) belongs to the session layer. Byte fields of decoded payloads are copies.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type { ChannelRequest } from "./ConnectionMessages.js"
import * as Reader from "./Reader.js"
import { WireError } from "./WireError.js"
import * as Writer from "./Writer.js"

/**
 * RFC 4254 §6.2 `pty-req`. `modes` holds the encoded terminal modes (see `decodeTerminalModes`).
 *
 * @since 0.1.0
 * @category models
 */
export interface PtyReq {
  readonly _tag: "PtyReq"
  /** TERM, at most 256 printable US-ASCII bytes (SEC-46). */
  readonly term: string
  readonly cols: number
  readonly rows: number
  readonly widthPx: number
  readonly heightPx: number
  readonly modes: Uint8Array
}

/**
 * RFC 4254 §6.3.1 `x11-req`: protocol printable ≤ 64 bytes, cookie hexadecimal, screen ≤ 65 535 (SEC-46).
 *
 * @since 0.1.0
 * @category models
 */
export interface X11Req {
  readonly _tag: "X11Req"
  readonly singleConnection: boolean
  readonly authProtocol: string
  readonly authCookie: string
  readonly screen: number
}

/**
 * RFC 4254 §6.4 `env`: name (no `=`) and value, each UTF-8 without NUL and ≤ 4 KiB (SEC-46).
 *
 * @since 0.1.0
 * @category models
 */
export interface Env {
  readonly _tag: "Env"
  readonly name: string
  readonly value: string
}

/**
 * RFC 4254 §6.5 `exec`. The command is bytes, since it need not be UTF-8; NUL is rejected (OpenSSH cstring).
 *
 * @since 0.1.0
 * @category models
 */
export interface Exec {
  readonly _tag: "Exec"
  readonly command: Uint8Array
}

/**
 * RFC 4254 §6.5 `subsystem` (`"sftp"`, …): a printable US-ASCII name.
 *
 * @since 0.1.0
 * @category models
 */
export interface Subsystem {
  readonly _tag: "Subsystem"
  readonly name: string
}

/**
 * RFC 4254 §6.7 `window-change`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WindowChange {
  readonly _tag: "WindowChange"
  readonly cols: number
  readonly rows: number
  readonly widthPx: number
  readonly heightPx: number
}

/**
 * RFC 4254 §6.8 `xon-xoff`: whether the client may do flow control with ^S/^Q.
 *
 * @since 0.1.0
 * @category models
 */
export interface XonXoff {
  readonly _tag: "XonXoff"
  readonly clientCanDo: boolean
}

/**
 * RFC 4254 §6.9 `signal`: a signal name without the `SIG` prefix (`"TERM"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Signal {
  readonly _tag: "Signal"
  readonly name: string
}

/**
 * RFC 4254 §6.10 `exit-status`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitStatus {
  readonly _tag: "ExitStatus"
  readonly status: number
}

/**
 * RFC 4254 §6.10 `exit-signal`. `message` is peer text: sanitise before display (SEC-12).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitSignal {
  readonly _tag: "ExitSignal"
  readonly signal: string
  readonly coreDumped: boolean
  readonly message: string
  readonly language: string
}

/**
 * The requests without data: `shell` (RFC 4254 §6.5), `keepalive@openssh.com` (answered with FAILURE) and
 * `eow@openssh.com` (OpenSSH PROTOCOL §2.1: no more writes to the channel).
 *
 * @since 0.1.0
 * @category models
 */
export interface EmptyRequest {
  readonly _tag: "Shell" | "Keepalive" | "Eow"
}

/**
 * `auth-agent-req@openssh.com` (OpenSSH PROTOCOL.agent, "agent forwarding"): the client asks the server to make
 * its agent reachable from this session's processes, through `auth-agent@openssh.com` channels. No data.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthAgentReq {
  readonly _tag: "AuthAgentReq"
}

/**
 * A request this module does not decode, with its undecoded data.
 *
 * @since 0.1.0
 * @category models
 */
export interface UnknownRequest {
  readonly _tag: "Unknown"
  readonly request: string
  readonly data: Uint8Array
}

/**
 * Every typed channel-request payload.
 *
 * @since 0.1.0
 * @category models
 */
export type ChannelRequestPayload =
  | PtyReq
  | X11Req
  | Env
  | Exec
  | Subsystem
  | WindowChange
  | XonXoff
  | Signal
  | ExitStatus
  | ExitSignal
  | EmptyRequest
  | AuthAgentReq
  | UnknownRequest

/**
 * The request name of each payload tag, as sent on the wire.
 *
 * @since 0.1.0
 * @category constants
 */
export const RequestName = {
  PtyReq: "pty-req",
  X11Req: "x11-req",
  Env: "env",
  Shell: "shell",
  Exec: "exec",
  Subsystem: "subsystem",
  WindowChange: "window-change",
  XonXoff: "xon-xoff",
  Signal: "signal",
  ExitStatus: "exit-status",
  ExitSignal: "exit-signal",
  Keepalive: "keepalive@openssh.com",
  Eow: "eow@openssh.com",
  AuthAgentReq: "auth-agent-req@openssh.com"
} as const

/**
 * SEC-46: the bound of free-text fields (env name and value, exit-signal message and language).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_FIELD_LENGTH = 4096

// ---------------------------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------------------------

/**
 * The request name and data of a payload.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeRequest = (p: ChannelRequestPayload): { readonly request: string; readonly data: Uint8Array } => {
  if (p._tag === "Unknown") return { request: p.request, data: p.data }
  const data = Writer.build((w) => {
    switch (p._tag) {
      case "PtyReq":
        w.string(p.term).uint32(p.cols).uint32(p.rows).uint32(p.widthPx).uint32(p.heightPx).string(p.modes)
        return
      case "X11Req":
        w.boolean(p.singleConnection).string(p.authProtocol).string(p.authCookie).uint32(p.screen)
        return
      case "Env":
        w.string(p.name).string(p.value)
        return
      case "Exec":
        w.string(p.command)
        return
      case "Subsystem":
      case "Signal":
        w.string(p.name)
        return
      case "WindowChange":
        w.uint32(p.cols).uint32(p.rows).uint32(p.widthPx).uint32(p.heightPx)
        return
      case "XonXoff":
        w.boolean(p.clientCanDo)
        return
      case "ExitStatus":
        w.uint32(p.status)
        return
      case "ExitSignal":
        w.string(p.signal).boolean(p.coreDumped).string(p.message).string(p.language)
        return
      case "Shell":
      case "Keepalive":
      case "Eow":
      case "AuthAgentReq":
        return
    }
  }, 64)
  return { request: RequestName[p._tag], data }
}

/**
 * A CHANNEL_REQUEST (RFC 4254 §5.4) carrying a typed payload.
 *
 * @since 0.1.0
 * @category constructors
 */
export const channelRequest = (
  recipient: number,
  payload: ChannelRequestPayload,
  wantReply: boolean
): ChannelRequest => {
  const { data, request } = encodeRequest(payload)
  return { _tag: "ChannelRequest", recipient, request, wantReply, data }
}

// ---------------------------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------------------------

const latin1 = new TextDecoder("latin1")

const tooLarge = (what: string, n: number, max: number) =>
  new WireError({ reason: "TooLarge", description: `${what} of ${n} bytes (max ${max})` })

// Printable US-ASCII (0x20–0x7E), bounded.
const ascii = (r: Reader.Reader, max: number, what: string): string => {
  const b = r.string()
  if (b.length > max) throw tooLarge(what, b.length, max)
  for (let i = 0; i < b.length; i++) {
    if (b[i]! < 0x20 || b[i]! > 0x7e) {
      throw new WireError({ reason: "Invalid", description: `${what} is not printable` })
    }
  }
  return latin1.decode(b)
}

// UTF-8 without NUL (SEC-09), bounded.
const text = (r: Reader.Reader, max: number, what: string): string => {
  const b = r.string()
  if (b.length > max) throw tooLarge(what, b.length, max)
  if (b.includes(0)) throw new WireError({ reason: "Invalid", description: `NUL in ${what}` })
  return Reader.decodeUtf8(b, what)
}

const HEX = /^[0-9a-fA-F]*$/

const decodeX11 = (r: Reader.Reader): X11Req => {
  const singleConnection = r.boolean()
  const authProtocol = ascii(r, 64, "x11 auth protocol")
  // SEC-46 (OpenSSH CVE-2016-3115): the cookie reaches xauth, so only hex digits pass.
  const authCookie = ascii(r, 1024, "x11 auth cookie")
  if (!HEX.test(authCookie)) throw new WireError({ reason: "Invalid", description: "x11 cookie is not hexadecimal" })
  const screen = r.uint32()
  if (screen > 0xffff) throw new WireError({ reason: "Invalid", description: `x11 screen ${screen} is over 65535` })
  return { _tag: "X11Req", singleConnection, authProtocol, authCookie, screen }
}

const decodeEnv = (r: Reader.Reader): Env => {
  const name = text(r, MAX_FIELD_LENGTH, "env name")
  if (name.includes("=")) throw new WireError({ reason: "Invalid", description: "`=` in env name" })
  return { _tag: "Env", name, value: text(r, MAX_FIELD_LENGTH, "env value") }
}

const decodeExec = (r: Reader.Reader): Exec => {
  const command = r.string()
  if (command.includes(0)) throw new WireError({ reason: "Invalid", description: "NUL in exec command" })
  return { _tag: "Exec", command: command.slice() }
}

type Decoder = (r: Reader.Reader) => ChannelRequestPayload

// The dispatch table, by request name; object literal fields evaluate in order, which is wire order.
const DECODERS: ReadonlyMap<string, Decoder> = new Map<string, Decoder>([
  [RequestName.PtyReq, (r) => ({
    _tag: "PtyReq",
    term: ascii(r, 256, "TERM"),
    cols: r.uint32(),
    rows: r.uint32(),
    widthPx: r.uint32(),
    heightPx: r.uint32(),
    modes: r.string().slice()
  })],
  [RequestName.X11Req, decodeX11],
  [RequestName.Env, decodeEnv],
  [RequestName.Shell, () => ({ _tag: "Shell" })],
  [RequestName.Exec, decodeExec],
  [RequestName.Subsystem, (r) => ({ _tag: "Subsystem", name: ascii(r, 256, "subsystem name") })],
  [RequestName.WindowChange, (r) => ({
    _tag: "WindowChange",
    cols: r.uint32(),
    rows: r.uint32(),
    widthPx: r.uint32(),
    heightPx: r.uint32()
  })],
  [RequestName.XonXoff, (r) => ({ _tag: "XonXoff", clientCanDo: r.boolean() })],
  [RequestName.Signal, (r) => ({ _tag: "Signal", name: ascii(r, 64, "signal name") })],
  [RequestName.ExitStatus, (r) => ({ _tag: "ExitStatus", status: r.uint32() })],
  [RequestName.ExitSignal, (r) => ({
    _tag: "ExitSignal",
    signal: ascii(r, 64, "signal name"),
    coreDumped: r.boolean(),
    message: text(r, MAX_FIELD_LENGTH, "exit message"),
    language: text(r, MAX_FIELD_LENGTH, "language tag")
  })],
  [RequestName.Keepalive, () => ({ _tag: "Keepalive" })],
  [RequestName.Eow, () => ({ _tag: "Eow" })],
  [RequestName.AuthAgentReq, () => ({ _tag: "AuthAgentReq" })]
])

/**
 * Decodes the data of a channel request by its name. Unknown names give `Unknown` (answer FAILURE); a known name
 * with malformed data, data beyond its fields (SEC-09) or data outside the SEC-46 bounds fails. Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeRequest = (request: string, data: Uint8Array): Either.Either<ChannelRequestPayload, WireError> => {
  const decoder = DECODERS.get(request)
  if (decoder === undefined) return Either.right({ _tag: "Unknown", request, data: data.slice() })
  return Reader.run(data, (r) => {
    const payload = decoder(r)
    r.end_()
    return payload
  })
}

/**
 * Decodes the typed payload of a received CHANNEL_REQUEST (see `decodeRequest`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeChannelRequest = (msg: ChannelRequest): Either.Either<ChannelRequestPayload, WireError> =>
  decodeRequest(msg.request, msg.data)

// ---------------------------------------------------------------------------------------------------------------
// terminal modes (RFC 4254 §8)
// ---------------------------------------------------------------------------------------------------------------

/**
 * RFC 4254 §8 terminal-mode opcodes (and RFC 8160 IUTF8). Opcodes 1–159 take a uint32 argument; 160–255 stop
 * parsing; 0 ends the list.
 *
 * @since 0.1.0
 * @category constants
 */
export const TerminalMode = {
  TTY_OP_END: 0,
  VINTR: 1, VQUIT: 2, VERASE: 3, VKILL: 4, VEOF: 5, VEOL: 6, VEOL2: 7, VSTART: 8, VSTOP: 9, VSUSP: 10,
  VDSUSP: 11, VREPRINT: 12, VWERASE: 13, VLNEXT: 14, VFLUSH: 15, VSWTCH: 16, VSTATUS: 17, VDISCARD: 18,
  IGNPAR: 30, PARMRK: 31, INPCK: 32, ISTRIP: 33, INLCR: 34, IGNCR: 35, ICRNL: 36, IUCLC: 37, IXON: 38,
  IXANY: 39, IXOFF: 40, IMAXBEL: 41, IUTF8: 42,
  ISIG: 50, ICANON: 51, XCASE: 52, ECHO: 53, ECHOE: 54, ECHOK: 55, ECHONL: 56, NOFLSH: 57, TOSTOP: 58,
  IEXTEN: 59, ECHOCTL: 60, ECHOKE: 61, PENDIN: 62,
  OPOST: 70, OLCUC: 71, ONLCR: 72, OCRNL: 73, ONOCR: 74, ONLRET: 75,
  CS7: 90, CS8: 91, PARENB: 92, PARODD: 93,
  TTY_OP_ISPEED: 128, TTY_OP_OSPEED: 129
} as const

/**
 * One terminal mode: an opcode in 1–159 (see `TerminalMode`; unknown ones are kept) and its uint32 argument.
 *
 * @since 0.1.0
 * @category models
 */
export interface TerminalModeEntry {
  readonly opcode: number
  readonly value: number
}

/**
 * SEC-46 (russh GHSA-cqjc-rmpq-xprq): encoded terminal modes over 1 KiB are rejected before parsing, which bounds
 * a decoded list at 204 entries (5 bytes each).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_TERMINAL_MODES_BYTES = 1024

/**
 * Encodes terminal modes as opcode/uint32 pairs followed by TTY_OP_END (RFC 4254 §8). An opcode outside 1–159 is
 * a programming error (RangeError).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeTerminalModes = (modes: ReadonlyArray<TerminalModeEntry>): Uint8Array =>
  Writer.build((w) => {
    for (const m of modes) {
      if (!Number.isInteger(m.opcode) || m.opcode < 1 || m.opcode > 159) {
        throw new RangeError(`encodeTerminalModes: opcode ${m.opcode} is not in 1..159`)
      }
      w.byte(m.opcode).uint32(m.value)
    }
    w.byte(TerminalMode.TTY_OP_END)
  }, modes.length * 5 + 1)

/**
 * Decodes encoded terminal modes (RFC 4254 §8). An empty string is no modes (paramiko sends one); otherwise the
 * list must end with TTY_OP_END and nothing after it, unless an opcode 160–255 stops parsing first (the rest is
 * ignored, as the RFC says). Input over `MAX_TERMINAL_MODES_BYTES` fails at once (SEC-08, SEC-46).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeTerminalModes = (bytes: Uint8Array): Either.Either<ReadonlyArray<TerminalModeEntry>, WireError> =>
  Reader.run(bytes, (r) => {
    const modes: Array<TerminalModeEntry> = []
    if (r.remaining === 0) return modes
    if (r.remaining > MAX_TERMINAL_MODES_BYTES) throw tooLarge("terminal modes", r.remaining, MAX_TERMINAL_MODES_BYTES)
    // Each pass consumes at least one byte of at most 1 KiB, so the loop is bounded (SEC-08).
    for (;;) {
      const opcode = r.byte()
      if (opcode === TerminalMode.TTY_OP_END) {
        r.end_()
        return modes
      }
      // RFC 4254 §8: opcodes 160–255 are not defined and cause parsing to stop.
      if (opcode >= 160) return modes
      modes.push({ opcode, value: r.uint32() })
    }
  })
