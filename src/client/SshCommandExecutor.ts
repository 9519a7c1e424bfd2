/**
 * An `@effect/platform` `CommandExecutor` that runs commands on an SSH server: with its layer provided,
 * `Command.make("uname", "-a").pipe(Command.string)` runs `uname -a` remotely, through the platform's own API
 * (`Command.lines`, `Command.stream`, `Command.exitCode`, `Command.start` with stdin/stdout/stderr, pipes).
 *
 * How a platform `Command` becomes one exec request (RFC 4254 §6.5): the argv words are quoted for the remote
 * POSIX shell (`ShellQuote.join`), or passed as they are with `Command.runInShell(true)`; `Command.env` becomes
 * `NAME='value'` assignments before the command (and `env -i` with `extendEnv: false`), `Command.workingDirectory`
 * a `cd 'dir' &&` first; a piped command (`Command.pipeTo`) becomes one remote shell pipeline. stdin: a Stream
 * given with `Command.feed`/`Command.stdin` is sent and then EOF; "pipe" (the default) leaves stdin open for
 * `process.stdin`, as the local executor does; "inherit" sends EOF at once (there is no local terminal to share).
 * stdout/stderr are always the remote streams ("inherit" and Sink outputs are not applied). `uid`/`gid` cannot be
 * chosen over SSH and fail with BadArgument. `pid` is a number local to this executor, not a remote process id.
 * Exit codes: the exit status; 128 + the signal's number for a signal (as a shell reports it); 255 when the server
 * sent neither.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as PlatformError from "@effect/platform/Error"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as ShellQuote from "./ShellQuote.js"
import { SshConnection } from "./SshConnection.js"

// POSIX signal numbers of Linux (what a remote shell reports as 128 + n); others map to 255.
const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, ABRT: 6, FPE: 8, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15, USR1: 10, USR2: 12
}

const systemError = (method: string, cause: unknown, reason: PlatformError.SystemErrorReason = "Unknown") =>
  new PlatformError.SystemError({
    reason,
    module: "Command",
    method,
    description: cause instanceof Error ? cause.message : String(cause),
    cause
  })

/**
 * The remote command line for one platform command (see the module's description).
 *
 * @since 0.1.0
 * @category constructors
 */
export const commandLine = (command: Command.Command): Effect.Effect<string, PlatformError.PlatformError> =>
  Effect.forEach(Command.flatten(command), (c) => {
    if (Option.isSome(c.uid) || Option.isSome(c.gid)) {
      return Effect.fail(
        new PlatformError.BadArgument({
          module: "Command",
          method: "start",
          description: "uid/gid cannot be chosen over SSH: the command runs as the logged-in user"
        })
      )
    }
    const words = c.shell === false
      ? ShellQuote.join([c.command, ...c.args])
      : [c.command, ...c.args].join(" ")
    const env = [...HashMap.entries(c.env)].map(([k, v]) => `${k}=${ShellQuote.quote(v)}`)
    const withEnv = !c.extendEnv
      ? `env -i ${[...env, words].join(" ")}`
      : env.length > 0
      ? `${env.join(" ")} ${c.shell === false ? words : `sh -c ${ShellQuote.quote(words)}`}`
      : words
    return Effect.succeed(
      Option.isSome(c.cwd) ? `(cd ${ShellQuote.quote(c.cwd.value)} && ${withEnv})` : withEnv
    )
  }).pipe(Effect.map((parts) => parts.join(" | ")))

/** The stdin of the first command of a pipeline: what the remote pipeline reads. */
const stdinOf = (command: Command.Command): Command.Command.Input =>
  command._tag === "StandardCommand" ? command.stdin : stdinOf(command.left)

const ProcessProto = {
  [CommandExecutor.ProcessTypeId]: CommandExecutor.ProcessTypeId,
  ...Inspectable.BaseProto,
  toJSON(this: CommandExecutor.Process) {
    return { _id: "effect-ssh/SshCommandExecutor/Process", pid: this.pid }
  }
}

/**
 * A CommandExecutor running every command over `connection`, each on its own session channel, closed with the
 * Scope of `start` (or of `Command.string` and the other one-shot helpers).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (connection: SshConnection): CommandExecutor.CommandExecutor => {
  let nextPid = 1
  return CommandExecutor.makeExecutor((command) =>
    Effect.gen(function*() {
      const line = yield* commandLine(command)
      const proc = yield* connection.exec(line).pipe(Effect.mapError((e) => systemError("start", e)))
      const done = yield* Deferred.make<CommandExecutor.ExitCode, PlatformError.PlatformError>()
      yield* proc.exitStatus.pipe(
        Effect.map((s) =>
          CommandExecutor.ExitCode(
            s.status !== undefined ? s.status : s.signal !== undefined ? 128 + (SIGNALS[s.signal] ?? 127) : 255
          )
        ),
        Effect.mapError((e) => systemError("exitCode", e)),
        Effect.exit,
        Effect.flatMap((exit) => Deferred.done(done, exit)),
        Effect.forkScoped
      )
      const stdin = stdinOf(command)
      if (stdin === "inherit") yield* Effect.ignore(proc.closeStdin)
      else if (typeof stdin !== "string") {
        yield* Stream.run(stdin, proc.stdin.pipe(Sink.mapError((e) => systemError("stdin", e)))).pipe(
          Effect.ignore,
          Effect.forkScoped
        )
      }
      const started: CommandExecutor.Process = Object.assign(Object.create(ProcessProto), {
        pid: CommandExecutor.ProcessId(nextPid++),
        exitCode: Deferred.await(done),
        isRunning: Effect.negate(Deferred.isDone(done)),
        kill: (signal: CommandExecutor.Signal = "SIGTERM") =>
          Effect.mapError(proc.signal(signal.replace(/^SIG/, "")), (e) => systemError("kill", e)),
        stdout: Stream.mapError(proc.stdout, (e) => systemError("stdout", e)),
        stderr: Stream.mapError(proc.stderr, (e) => systemError("stderr", e)),
        stdin: Sink.mapError(proc.stdin, (e) => systemError("stdin", e))
      })
      return started
    })
  )
}

/**
 * The CommandExecutor of the `SshConnection` in context: provide it (and a connection) to a program written with
 * `@effect/platform/Command`, and its commands run on the server.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<CommandExecutor.CommandExecutor, never, SshConnection> = Layer.effect(
  CommandExecutor.CommandExecutor,
  Effect.map(SshConnection, make)
)
