/**
 * ssh's escape sequences (ssh(1) ESCAPE CHARACTERS; clientloop.c process_escapes): the escape character (`~`)
 * is special only at the start of a line, that is after a CR or LF typed by the user or as the very first
 * input. `~.` disconnects, `~?` lists the escapes, `~~` sends one `~`, `~C` opens the `ssh> ` command line
 * (its line is edited here: echoed, backspace, ^C or ^U to cancel, then returned as a `command` action); any
 * other character after `~` sends both. A pure state machine over input bytes, tested without a terminal.
 *
 * @since 0.1.0
 */

/**
 * What an escape asks for.
 *
 * @since 0.1.0
 * @category models
 */
export type EscapeAction = "disconnect" | "help" | { readonly command: string }

/**
 * The result of feeding bytes: what to send to the remote side, and the escapes seen, in order.
 *
 * @since 0.1.0
 * @category models
 */
export interface EscapeOutput {
  readonly send: Uint8Array
  readonly actions: ReadonlyArray<EscapeAction>
  /** What to show on the local terminal (the `ssh> ` prompt and the echo of the command line). */
  readonly echo: string
}

/**
 * The machine's state: whether the next byte starts a line, and whether an escape character is pending.
 *
 * @since 0.1.0
 * @category models
 */
export interface EscapeState {
  readonly lineStart: boolean
  readonly pending: boolean
  /** The `~C` command line being typed, if one is open. */
  readonly command?: string | undefined
}

/**
 * The state before any input: at the start of a line.
 *
 * @since 0.1.0
 * @category constants
 */
export const initial: EscapeState = { lineStart: true, pending: false }

/**
 * The text `~?` prints (ssh's list, for the escapes effect-ssh implements).
 *
 * @since 0.1.0
 * @category constants
 */
export const HELP = "Supported escape sequences:\r\n" +
  " ~.   - terminate connection\r\n" +
  " ~C   - open a command line\r\n" +
  " ~?   - this message\r\n" +
  " ~~   - send the escape character by typing it twice\r\n" +
  "(Note that escapes are only recognized immediately after newline.)\r\n"

/**
 * Feeds `input` (bytes typed by the user); `escape` is the escape character's code (126 for `~`). Bytes after
 * a `~.` are dropped, as ssh stops reading.
 *
 * @since 0.1.0
 * @category constructors
 */
export const feed = (
  state: EscapeState,
  input: Uint8Array,
  escape = 0x7e
): { readonly state: EscapeState; readonly output: EscapeOutput } => {
  const send: Array<number> = []
  const actions: Array<EscapeAction> = []
  let echo = ""
  let { command, lineStart, pending } = state
  const done = (): { readonly state: EscapeState; readonly output: EscapeOutput } => ({
    state: command === undefined ? { lineStart, pending } : { lineStart, pending, command },
    output: { send: Uint8Array.from(send), actions, echo }
  })
  for (const byte of input) {
    if (command !== undefined) {
      // clientloop.c process_cmdline reads one line; ^C / ^U (and ^D on an empty line) give up.
      if (byte === 0x0d || byte === 0x0a) {
        actions.push({ command })
        echo += "\r\n"
        command = undefined
        lineStart = true
      } else if (byte === 0x7f || byte === 0x08) {
        if (command.length > 0) echo += "\b \b"
        command = command.slice(0, -1)
      } else if (byte === 0x03 || byte === 0x15 || (byte === 0x04 && command === "")) {
        echo += "\r\n"
        command = undefined
        lineStart = true
      } else if (byte >= 0x20 && byte < 0x7f && command.length < MAX_COMMAND) {
        command += String.fromCharCode(byte)
        echo += String.fromCharCode(byte)
      }
      continue
    }
    if (pending) {
      pending = false
      if (byte === 0x2e) {
        actions.push("disconnect")
        lineStart = false
        return done()
      }
      if (byte === 0x3f) {
        actions.push("help")
        lineStart = true
        continue
      }
      if (byte === 0x43) {
        command = ""
        echo += "\r\nssh> "
        continue
      }
      if (byte === escape) {
        send.push(escape)
        lineStart = false
        continue
      }
      send.push(escape)
    } else if (lineStart && byte === escape) {
      pending = true
      continue
    }
    send.push(byte)
    lineStart = byte === 0x0d || byte === 0x0a
  }
  return done()
}

/** The longest command line kept (ssh reads it into a 512-byte buffer). */
const MAX_COMMAND = 511

/**
 * A `~C` command line (clientloop.c process_cmdline): a new forward (-L, -R, -D with ssh's forwarding
 * specification), the cancellation of one (-KL, -KR, -KD with `[bind_address:]port`), help, or nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type EscapeCommand =
  | { readonly _tag: "Forward"; readonly kind: "L" | "R" | "D"; readonly spec: string }
  | { readonly _tag: "Cancel"; readonly kind: "L" | "R" | "D"; readonly spec: string }
  | { readonly _tag: "Help" }
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Invalid" }

/**
 * Parses a `~C` command line.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseCommand = (line: string): EscapeCommand => {
  const text = line.trim()
  if (text === "") return { _tag: "Empty" }
  if (text === "?" || text === "-h" || text === "help") return { _tag: "Help" }
  const m = /^-(K?)([LRD])\s*(\S+)$/.exec(text)
  if (m === null) return { _tag: "Invalid" }
  return { _tag: m[1] === "K" ? "Cancel" : "Forward", kind: m[2] as "L" | "R" | "D", spec: m[3]! }
}

/**
 * The text `~C` prints for `?` (ssh's, for the commands effect-ssh implements).
 *
 * @since 0.1.0
 * @category constants
 */
export const COMMAND_HELP = "Commands:\r\n" +
  "      -L[bind_address:]port:host:hostport    Request local forward\r\n" +
  "      -R[bind_address:]port:host:hostport    Request remote forward\r\n" +
  "      -D[bind_address:]port                  Request dynamic forward\r\n" +
  "      -KL[bind_address:]port                 Cancel local forward\r\n" +
  "      -KR[bind_address:]port                 Cancel remote forward\r\n" +
  "      -KD[bind_address:]port                 Cancel dynamic forward\r\n"
