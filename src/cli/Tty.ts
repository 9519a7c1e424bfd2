/**
 * Questions on the terminal: passwords, passphrases, keyboard-interactive prompts and the unknown-host question.
 * The CLI asks only when stdin is a TTY (and BatchMode is off); the answer is read from stdin in raw mode, so a
 * secret is never echoed, and the prompt goes to stderr, so stdout stays the remote command's.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Tty from "node:tty"

/**
 * The user pressed Ctrl-C or Ctrl-D at a prompt.
 *
 * @since 0.1.0
 * @category errors
 */
export class PromptCancelled extends Data.TaggedError("PromptCancelled")<{}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return "cancelled at the prompt"
  }
}

/**
 * Whether questions can be asked: stdin is a terminal.
 *
 * @since 0.1.0
 * @category accessors
 */
export const isInteractive = (): boolean => process.stdin.isTTY === true

/**
 * Writes a line to stderr.
 *
 * @since 0.1.0
 * @category constructors
 */
export const printError = (text: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    process.stderr.write(text.endsWith("\n") ? text : `${text}\n`, () => resume(Effect.void))
  })

/**
 * Asks `text` on the terminal and reads one line; with `echo: false` nothing typed is shown.
 *
 * @since 0.1.0
 * @category constructors
 */
export const prompt = (text: string, options: { readonly echo: boolean }): Effect.Effect<string, PromptCancelled> =>
  Effect.async<string, PromptCancelled>((resume) => {
    const stdin = process.stdin as Tty.ReadStream
    const wasRaw = stdin.isRaw
    let answer = ""
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      stdin.off("data", onData)
      stdin.setRawMode(wasRaw)
      stdin.pause()
    }
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") {
          finish()
          process.stderr.write("\n")
          return resume(Effect.succeed(answer))
        }
        if (ch === "\u0003" || (ch === "\u0004" && answer === "")) {
          finish()
          process.stderr.write("\n")
          return resume(Effect.fail(new PromptCancelled()))
        }
        if (ch === "\u007f" || ch === "\b") {
          if (answer !== "" && options.echo) process.stderr.write("\b \b")
          answer = [...answer].slice(0, -1).join("")
        } else if (ch === "\u0015") {
          if (options.echo) process.stderr.write("\b \b".repeat([...answer].length))
          answer = ""
        } else if (ch >= " ") {
          answer += ch
          if (options.echo) process.stderr.write(ch)
        }
      }
    }
    // Raw mode first: anything typed once the prompt is visible must not be echoed by the terminal.
    stdin.setRawMode(true)
    process.stderr.write(text)
    stdin.on("data", onData)
    stdin.resume()
    return Effect.sync(finish)
  })
