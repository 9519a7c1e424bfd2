/**
 * What the command-line sessions share: the local I/O error, the failure exit code (255, as ssh), the stderr
 * logger and the waiting write to stdout/stderr. `effect-ssh exec` itself is `Ssh.main` (the dispatcher sends
 * both `ssh` and `exec` there).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as fs from "node:fs"

/**
 * Reading local stdin or writing local stdout/stderr failed (a closed pipe, for instance).
 *
 * @since 0.1.0
 * @category errors
 */
export class LocalIoError extends Data.TaggedError("LocalIoError")<{
  readonly stream: "stdin" | "stdout" | "stderr"
  readonly cause: unknown
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const why = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.stream === "stdin" ? "reading stdin" : `writing ${this.stream}`} failed: ${why}`
  }
}

/**
 * The exit code for a connection, login or usage failure, as ssh(1) uses it.
 *
 * @since 0.1.0
 * @category constants
 */
export const FAILURE_EXIT_CODE = 255

/**
 * Logs to stderr as `effect-ssh: <level>: <message> (key=value …)`: stdout belongs to the remote command.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stderrLogger: Logger.Logger<unknown, void> = Logger.make((entry) => {
  process.stderr.write(logLine(entry))
})

/**
 * Logs as `stderrLogger` does, appended to `file` (ssh -E).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fileLogger = (file: string): Logger.Logger<unknown, void> =>
  Logger.make((entry) => {
    try {
      fs.appendFileSync(file, logLine(entry))
    } catch {
      // As ssh: a log file that cannot be written loses the line, never the session.
    }
  })

const logLine = ({ annotations, logLevel, message }: Logger.Logger.Options<unknown>): string => {
  const parts = Array.isArray(message) ? message : [message]
  const text = parts.map((p) => (typeof p === "string" ? p : String(p))).join(" ")
  const notes = [...annotations].map(([k, v]) => `${k}=${String(v)}`)
  const level = logLevel._tag === "Warning" ? "warning" : logLevel.label.toLowerCase()
  return `effect-ssh: ${level}: ${text}${notes.length > 0 ? ` (${notes.join(" ")})` : ""}\n`
}

/**
 * Writes `chunk` and waits for the write to be done, so the remote window follows the local consumer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const write = (out: NodeJS.WriteStream, name: "stdout" | "stderr", chunk: Uint8Array) =>
  Effect.async<void, LocalIoError>((resume) => {
    out.write(chunk, (err) => resume(err ? Effect.fail(new LocalIoError({ stream: name, cause: err })) : Effect.void))
  })
