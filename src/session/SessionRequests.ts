/**
 * The session channel's requests (RFC 4254 §6) as both roles use them: what the client sends to start and steer
 * a process (pty-req, env, exec / shell / subsystem, window-change, signal) and what the server sends when it
 * ends (exit-status, exit-signal), each built and read in one place. `SshProcess` (client) and `ServerSession`
 * (server) are written on these.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { Channel, IncomingRequest } from "../connection/Channel.js"
import { ChannelError, type TransportError } from "../SshError.js"
import * as ChannelRequests from "../wire/ChannelRequests.js"

const utf8 = new TextEncoder()

/**
 * A terminal size (RFC 4254 §6.2 pty-req, §6.7 window-change): characters, and pixels where known (0 otherwise).
 *
 * @since 0.1.0
 * @category models
 */
export interface WindowSize {
  readonly cols: number
  readonly rows: number
  readonly widthPx: number
  readonly heightPx: number
}

/**
 * How a session ended: an exit status, or a signal name (without "SIG") sent as exit-signal (RFC 4254 §6.10).
 *
 * @since 0.1.0
 * @category models
 */
export type SessionExit = number | { readonly signal: string; readonly message?: string | undefined }

/**
 * How a remote process ended as the client reads it: exit-status, or exit-signal with its details.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitReport {
  readonly status?: number | undefined
  readonly signal?: string | undefined
  readonly coreDumped?: boolean | undefined
  readonly message?: string | undefined
}

/**
 * What a session channel runs (RFC 4254 §6.5): a command, the user's shell, or a named subsystem.
 *
 * @since 0.1.0
 * @category models
 */
export type Program =
  | { readonly _tag: "Exec"; readonly command: string }
  | { readonly _tag: "Shell" }
  | { readonly _tag: "Subsystem"; readonly name: string }

/**
 * A pseudo-terminal request as the client asks for it (RFC 4254 §6.2); what is left out takes OpenSSH's default.
 *
 * @since 0.1.0
 * @category models
 */
export interface PtyOptions {
  readonly term?: string | undefined
  readonly cols?: number | undefined
  readonly rows?: number | undefined
  readonly widthPx?: number | undefined
  readonly heightPx?: number | undefined
  /** RFC 4254 §8 terminal modes. */
  readonly modes?: ReadonlyArray<ChannelRequests.TerminalModeEntry> | undefined
}

/**
 * Sends a typed channel request.
 *
 * @since 0.1.0
 * @category requests
 */
export const send = (
  channel: Channel,
  payload: ChannelRequests.ChannelRequestPayload,
  wantReply: boolean
): Effect.Effect<boolean, ChannelError | TransportError> => {
  const { data, request } = ChannelRequests.encodeRequest(payload)
  return channel.request(request, data, wantReply)
}

/**
 * Sends a request that must succeed: FAILURE from the peer is a `ChannelError` of reason "RequestFailed".
 *
 * @since 0.1.0
 * @category requests
 */
export const required = (
  channel: Channel,
  payload: ChannelRequests.ChannelRequestPayload
): Effect.Effect<void, ChannelError | TransportError> =>
  Effect.flatMap(send(channel, payload, true), (ok) => {
    if (ok) return Effect.void
    const { request } = ChannelRequests.encodeRequest(payload)
    return Effect.fail(new ChannelError({
      reason: "RequestFailed",
      channelType: "session",
      request,
      description: `the server refused ${request}`
    }))
  })

/**
 * The request that starts `program` (RFC 4254 §6.5).
 *
 * @since 0.1.0
 * @category requests
 */
export const start = (program: Program): ChannelRequests.ChannelRequestPayload =>
  program._tag === "Exec"
    ? { _tag: "Exec", command: utf8.encode(program.command) }
    : program._tag === "Shell"
    ? { _tag: "Shell" }
    : { _tag: "Subsystem", name: program.name }

/**
 * A pty-req (RFC 4254 §6.2) with OpenSSH's defaults for what is not given: TERM xterm-256color, 80×24, no pixels,
 * no terminal modes (§8).
 *
 * @since 0.1.0
 * @category requests
 */
export const pty = (options: PtyOptions): ChannelRequests.ChannelRequestPayload => ({
  _tag: "PtyReq",
  term: options.term ?? "xterm-256color",
  cols: options.cols ?? 80,
  rows: options.rows ?? 24,
  widthPx: options.widthPx ?? 0,
  heightPx: options.heightPx ?? 0,
  modes: ChannelRequests.encodeTerminalModes(options.modes ?? [])
})

/**
 * A window-change request (RFC 4254 §6.7); pixels default to 0.
 *
 * @since 0.1.0
 * @category requests
 */
export const windowChange = (
  size: { readonly cols: number; readonly rows: number; readonly widthPx?: number; readonly heightPx?: number }
): ChannelRequests.ChannelRequestPayload => ({
  _tag: "WindowChange",
  cols: size.cols,
  rows: size.rows,
  widthPx: size.widthPx ?? 0,
  heightPx: size.heightPx ?? 0
})

/**
 * The request that reports how a session ended (RFC 4254 §6.10): exit-status, or exit-signal for a signal.
 *
 * @since 0.1.0
 * @category requests
 */
export const exit = (how: SessionExit): ChannelRequests.ChannelRequestPayload =>
  typeof how === "number"
    ? { _tag: "ExitStatus", status: how >>> 0 }
    : { _tag: "ExitSignal", signal: how.signal, coreDumped: false, message: how.message ?? "", language: "" }

/**
 * Reads exit-status or exit-signal from a request the server sent; undefined for any other request (or a
 * malformed one, which is ignored as RFC 4254 §6.10 gives it no answer).
 *
 * @since 0.1.0
 * @category requests
 */
export const exitOf = (request: IncomingRequest): ExitReport | undefined => {
  const d = ChannelRequests.decodeRequest(request.request, request.data)
  if (d._tag === "Left") return undefined
  if (d.right._tag === "ExitStatus") return { status: d.right.status }
  if (d.right._tag === "ExitSignal") {
    return { signal: d.right.signal, coreDumped: d.right.coreDumped, message: d.right.message }
  }
  return undefined
}

/**
 * Answers a request from the peer when it wants an answer (RFC 4254 §5.4); a connection already gone is not an
 * error here (the channel's users see it).
 *
 * @since 0.1.0
 * @category requests
 */
export const reply = (request: IncomingRequest, ok: boolean): Effect.Effect<void> =>
  request.reply === undefined ? Effect.void : Effect.ignore(request.reply(ok))
