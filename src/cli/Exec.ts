/**
 * What the command-line sessions share: the local I/O error, the -E file logger and the waiting write to
 * stdout/stderr. `effect-ssh exec` itself is `Ssh.main` (the dispatcher sends both `ssh` and `exec` there).
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
 * Logs as `Runtime.stderrLogger` does, appended to `file` (ssh -E).
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

/** Local outputs whose reader has gone (EPIPE): what still comes for them is read and dropped. */
const closedOutputs = new Set<"stdout" | "stderr">()

/**
 * Writes `chunk` and waits for the write to be done, so the remote window follows the local consumer. A reader
 * that went away (`| head`: EPIPE) is not an error, as for ssh: the rest of that stream is drained and dropped,
 * and the exit code stays the remote command's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const write = (out: NodeJS.WriteStream, name: "stdout" | "stderr", chunk: Uint8Array) =>
  Effect.async<void, LocalIoError>((resume) => {
    if (closedOutputs.has(name)) return resume(Effect.void)
    out.write(chunk, (err) => {
      if (err && "code" in err && err.code === "EPIPE") {
        closedOutputs.add(name)
        return resume(Effect.void)
      }
      resume(err ? Effect.fail(new LocalIoError({ stream: name, cause: err })) : Effect.void)
    })
  })
