/**
 * The session of `effect-ssh ssh`: a command or the login shell, with or without a pty, stdin/stdout/stderr
 * passed through, and the exit code as ssh reports it (the remote exit status; 255 after a signal, a lost
 * connection or `~.`). With a pty the local terminal is in raw mode for the session, window size changes are
 * sent (RFC 4254 §6.7), and the `~` escapes are read from stdin (see `SshEscape`).
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import { spawnSync } from "node:child_process"
import type { SshConnection } from "../client/SshConnection.js"
import type * as LocalNet from "../forward/LocalNet.js"
import type * as SshProcess from "../session/SshProcess.js"
import { LocalIoError, write } from "./Exec.js"
import { FAILURE_EXIT_CODE } from "./Version.js"
import * as SshEscape from "./SshEscape.js"
import * as Tty from "./Tty.js"

/**
 * What to run and how.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionOptions {
  /** The remote command; undefined for the login shell. */
  readonly command: string | undefined
  /** Subsystem (-s): `command` is a subsystem name. */
  readonly subsystem: boolean
  /** Request a pty (ssh's decision: -t/-T, RequestTTY, a terminal on stdin). */
  readonly tty: boolean
  /** Environment sent with env requests (SetEnv, SendEnv). */
  readonly env: Readonly<Record<string, string>>
  /** -n: do not read stdin. */
  readonly stdinNull: boolean
  /** X11 forwarding for the session (-X/-Y, ForwardX11). */
  readonly x11?: SshProcess.X11Options | undefined
  /** For "Connection to X closed." */
  readonly host: string
  /** Runs a `~C` command line and returns what to print (`SshForward.commandLine`); without it `~C` is refused. */
  readonly onCommand?: ((line: string) => Effect.Effect<string, never, LocalNet.LocalNet>) | undefined
  /** -A / ForwardAgent: where the session's forwarded agent channels go. */
  readonly forwardAgent?: SshProcess.ForwardAgent | undefined
}

const terminalSize = () => ({ cols: process.stdout.columns ?? 80, rows: process.stdout.rows ?? 24 })

/**
 * Runs the session and returns the exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (connection: SshConnection, options: SessionOptions) =>
  Effect.gen(function*() {
    const pty: SshProcess.PtyOptions | undefined = options.tty
      ? { term: process.env.TERM ?? "xterm", ...terminalSize() }
      : undefined
    const processOptions = { env: options.env, pty, x11: options.x11, forwardAgent: options.forwardAgent }
    const proc = options.subsystem && options.command !== undefined
      ? yield* connection.subsystem(options.command, { env: options.env, forwardAgent: options.forwardAgent })
      : options.command === undefined
      ? yield* connection.shell(processOptions)
      : yield* connection.exec(options.command, processOptions)
    yield* Effect.sync(() => {
      process.stdout.on("error", () => {})
      process.stderr.on("error", () => {})
    })
    const runtime = yield* Effect.runtime<never>()
    const localTty = options.tty && process.stdin.isTTY === true
    if (localTty) {
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.stdin.setRawMode(true)
          // libuv's raw mode keeps output post-processing (ONLCR), which would turn the remote pty's CR LF into
          // CR CR LF; ssh's raw mode turns it off. stty acts on its stdin, our terminal; restoring the mode
          // (setRawMode(false)) puts back the saved settings, OPOST included.
          spawnSync("stty", ["-opost"], { stdio: ["inherit", "ignore", "ignore"] })
        }),
        () => Effect.sync(() => process.stdin.setRawMode(false))
      )
      const onResize = () => Runtime.runFork(runtime)(Effect.ignore(proc.resize(terminalSize())))
      yield* Effect.acquireRelease(
        Effect.sync(() => process.stdout.on("resize", onResize)),
        () => Effect.sync(() => process.stdout.off("resize", onResize))
      )
    }
    const disconnected = yield* Deferred.make<void>()
    const stdinStream = NodeStream.fromReadable<LocalIoError>(
      () => process.stdin,
      (cause) => new LocalIoError({ stream: "stdin", cause })
    )
    // ssh reads escapes only when a pty was requested (clientloop.c: escape_char with have_pty).
    const stdin = options.stdinNull
      ? proc.closeStdin
      : localTty
      ? Effect.gen(function*() {
        let state = SshEscape.initial
        yield* Stream.runForEach(stdinStream, (chunk) =>
          Effect.gen(function*() {
            const r = SshEscape.feed(state, chunk)
            state = r.state
            if (r.output.echo !== "") yield* Effect.sync(() => process.stderr.write(r.output.echo))
            if (r.output.send.length > 0) yield* proc.write(r.output.send)
            for (const action of r.output.actions) {
              if (action === "help") yield* Tty.printError(`~?\r\n${SshEscape.HELP}`)
              else if (action === "disconnect") yield* Deferred.succeed(disconnected, undefined)
              else {
                const reply = options.onCommand === undefined ? "Invalid command.\r\n" : yield* options.onCommand(action.command)
                if (reply !== "") yield* Effect.sync(() => process.stderr.write(reply))
              }
            }
          }))
        yield* proc.closeStdin
      })
      : Stream.run(stdinStream, proc.stdin)
    const stdinFiber = yield* Effect.fork(Effect.ignore(stdin))
    const session = Effect.gen(function*() {
      yield* Effect.all([
        Stream.runForEach(proc.stdout, (chunk) => write(process.stdout, "stdout", chunk)),
        Stream.runForEach(proc.stderr, (chunk) => write(process.stderr, "stderr", chunk))
      ], { concurrency: 2, discard: true })
      const status = yield* proc.exitStatus
      if (status.signal !== undefined) {
        yield* Effect.logDebug(`the remote command was killed by SIG${status.signal}${status.coreDumped ? " (core dumped)" : ""}`)
      }
      return status.status ?? FAILURE_EXIT_CODE
    })
    const code = yield* Effect.raceFirst(
      session,
      Effect.as(Deferred.await(disconnected), FAILURE_EXIT_CODE)
    )
    yield* Fiber.interrupt(stdinFiber)
    if (localTty) yield* Tty.printError(`Connection to ${options.host} closed.\r`)
    return code
  })
