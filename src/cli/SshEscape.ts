/**
 * ssh's escape sequences (ssh(1) ESCAPE CHARACTERS; clientloop.c process_escapes): the escape character (`~`)
 * is special only at the start of a line, that is after a CR or LF typed by the user or as the very first
 * input. `~.` disconnects, `~?` lists the escapes, `~~` sends one `~`; any other character after `~` sends both.
 * A pure state machine over input bytes, so it is tested without a terminal.
 *
 * @since 0.1.0
 */

/**
 * What an escape asks for.
 *
 * @since 0.1.0
 * @category models
 */
export type EscapeAction = "disconnect" | "help"

/**
 * The result of feeding bytes: what to send to the remote side, and the escapes seen, in order.
 *
 * @since 0.1.0
 * @category models
 */
export interface EscapeOutput {
  readonly send: Uint8Array
  readonly actions: ReadonlyArray<EscapeAction>
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
  let { lineStart, pending } = state
  for (const byte of input) {
    if (pending) {
      pending = false
      if (byte === 0x2e) {
        actions.push("disconnect")
        return { state: { lineStart: false, pending: false }, output: { send: Uint8Array.from(send), actions } }
      }
      if (byte === 0x3f) {
        actions.push("help")
        lineStart = true
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
  return { state: { lineStart, pending }, output: { send: Uint8Array.from(send), actions } }
}
