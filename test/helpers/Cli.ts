/**
 * Running the built command line (bin/effect-ssh.mjs, the bundle BuildCli.ts writes before the interop tests) and
 * other programs beside it, with their output collected: one helper for the CLI tests.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as path from "node:path"

/** The package's bin script, which loads the bundle in dist/bin. */
export const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")

/** What a finished process left: its exit code (null when killed by a signal) and its output as text. */
export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of `run` and `cli`. */
export interface RunOptions {
  /** $HOME of the child (its ~/.ssh, known_hosts, config). */
  readonly home?: string | undefined
  /** Variables added to (or, with "", emptying) the inherited environment. */
  readonly env?: Record<string, string> | undefined
  readonly cwd?: string | undefined
  /** Written to stdin before EOF; without it stdin is at EOF from the start. */
  readonly input?: string | undefined
  /** The child is killed and the test fails (a defect) after this long; default 45 seconds. */
  readonly timeout?: `${number} seconds` | undefined
}

/** Runs `file` with `args` (never through a shell) to its end. */
export const run = (file: string, args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<Result> =>
  Effect.async<Result>((resume) => {
    const child = spawn(file, [...args], {
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...(options.home === undefined ? {} : { HOME: options.home }), ...options.env }
    })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => err.push(d))
    // A child that exits without reading its input closes the pipe: not the test's failure.
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? "")
    child.once("close", (code) =>
      resume(Effect.succeed({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(
    Effect.timeoutFail({ duration: options.timeout ?? "45 seconds", onTimeout: () => new Error(`${file} ${args.join(" ")} hung`) }),
    Effect.orDie
  )

/** Runs `effect-ssh args…` (the built bundle, on this Node). */
export const cli = (args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<Result> =>
  run(process.execPath, [BIN, ...args], options)
