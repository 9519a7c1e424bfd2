/**
 * `effect-ssh exec [-p port] [-l user] [-i identity]... [-o Key=Value]... [-v] [user@]host command...`: runs
 * one command on a server as ssh(1) does. Local stdin goes to the remote stdin (EOF at its end), the remote
 * stdout and stderr come out on ours byte for byte, and the exit code is the remote exit status; 255 when the
 * connection, the login or the command line failed, or the command was killed by a signal (as ssh does).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import * as os from "node:os"
import type { SshConnection } from "../client/SshConnection.js"
import * as Argv from "./Argv.js"
import * as EffectCli from "./EffectCli.js"
import * as ExecOptions from "./ExecOptions.js"
import * as Login from "./Login.js"
import * as Tty from "./Tty.js"

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

const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription("Port to connect to (default 22)."),
  Options.optional
)
const loginName = Options.text("login-name").pipe(
  Options.withAlias("l"),
  Options.withDescription("User to log in as (default: the local user)."),
  Options.optional
)
const identityFiles = Options.text("identity-file").pipe(
  Options.withAlias("i"),
  Options.withDescription(
    "Private key file (OpenSSH format); repeatable. Default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exist."
  ),
  Options.repeated
)
const options = Options.text("option").pipe(
  Options.withAlias("o"),
  Options.withDescription(`OpenSSH option Key=Value; repeatable. Keys: ${ExecOptions.SUPPORTED_KEYS.join(", ")}.`),
  Options.repeated
)
const verbose = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Print debugging messages on stderr.")
)
const destination = Args.text({ name: "destination" }).pipe(
  Args.withDescription("[user@]host or ssh://[user@]host[:port]")
)
const commandWords = Args.text({ name: "command" }).pipe(
  Args.withDescription("The remote command; its words are joined with spaces, as ssh does."),
  Args.repeated
)

/**
 * The `exec` subcommand. The remote command words are split off the command line before @effect/cli parses it
 * (see `Argv`), so they arrive here as `words`; `onExit` receives the process exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = (
  words: ReadonlyArray<string>,
  onExit: (code: number) => Effect.Effect<void>
) =>
  Command.make(
    "exec",
    { port, loginName, identityFiles, options, verbose, destination, command: commandWords },
    (flags) => Effect.flatMap(run(flags, [...flags.command, ...words]), onExit)
  ).pipe(Command.withDescription("Run a command on a server, as `ssh [options] destination command` does."))

/**
 * The dispatcher's entry (`effect-ssh exec …`): `args` are the words after `exec`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>) => {
  const split = Argv.split(["exec", ...args])
  if (split.unknown.length > 0) {
    return Effect.as(
      Tty.printError(`effect-ssh: unknown option ${split.unknown.join(", ")}\n${USAGE}`),
      FAILURE_EXIT_CODE
    )
  }
  return EffectCli.run((onExit) => command(split.command, onExit), split.cli.slice(1))
}

const USAGE = "usage: effect-ssh exec [-p port] [-l user] [-i identity]... [-o Key=Value]... [-v] " +
  "[user@]host command...\n(effect-ssh exec --help for details)"

/**
 * Runs the command and returns the exit code; every failure is printed as `effect-ssh: <message>`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (flags: ExecOptions.Flags, words: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const settings = yield* ExecOptions.resolve(flags)
    if (words.length === 0) {
      return yield* new ExecOptions.UsageError({
        message: "no command given: exec runs a command (usage: effect-ssh exec [options] [user@]host command...)"
      })
    }
    const interactive = Tty.isInteractive() && !settings.batchMode
    const user = settings.user ?? localUser()
    const connection = yield* Login.connect(settings, user, interactive)
    return yield* execute(connection, words.join(" "))
  }).pipe(
    Effect.scoped,
    Effect.catchAll((e) => Effect.as(Tty.printError(`effect-ssh: ${e.message}`), FAILURE_EXIT_CODE)),
    Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Warning)
  )

const localUser = (): string => {
  try {
    return os.userInfo().username
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? "root"
  }
}

/** Local outputs whose reader has gone (EPIPE): what still comes for them is read and dropped. */
const closedOutputs = new Set<"stdout" | "stderr">()

/**
 * Writes `chunk` and waits for the write to be done, so the remote window follows the local consumer. A reader
 * that went away (`| head`: EPIPE) is not an error, as for ssh: the rest of that stream is drained and dropped,
 * and the exit code stays the remote command's.
 */
const write = (out: NodeJS.WriteStream, name: "stdout" | "stderr", chunk: Uint8Array) =>
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

/**
 * Starts `commandLine`, passes stdin, stdout and stderr through, and returns the exit code: the remote exit
 * status, or 255 when the command was killed by a signal or the server sent no status (OpenSSH clientloop.c
 * keeps its exit_status at -1 in both cases).
 */
const execute = (connection: SshConnection, commandLine: string) =>
  Effect.gen(function*() {
    yield* Effect.logDebug(`exec ${commandLine}`)
    const proc = yield* connection.exec(commandLine)
    // An EPIPE on our stdout is reported through the write callback; the 'error' event must not crash us.
    yield* Effect.sync(() => {
      process.stdout.on("error", () => {})
      process.stderr.on("error", () => {})
    })
    // Interrupted once the command has ended, as ssh stops reading stdin then; the Sink sends EOF at the end.
    const stdin = yield* NodeStream.fromReadable<LocalIoError>(
      () => process.stdin,
      (cause) => new LocalIoError({ stream: "stdin", cause })
    ).pipe(Stream.run(proc.stdin), Effect.ignore, Effect.fork)
    yield* Effect.all([
      Stream.runForEach(proc.stdout, (chunk) => write(process.stdout, "stdout", chunk)),
      Stream.runForEach(proc.stderr, (chunk) => write(process.stderr, "stderr", chunk))
    ], { concurrency: 2, discard: true })
    const status = yield* proc.exitStatus
    yield* Fiber.interrupt(stdin)
    if (status.signal !== undefined) {
      yield* Effect.logDebug(`the remote command was killed by SIG${status.signal}${status.coreDumped ? " (core dumped)" : ""}`)
    }
    return status.status ?? FAILURE_EXIT_CODE
  })
