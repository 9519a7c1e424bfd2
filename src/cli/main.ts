/**
 * The `effect-ssh` command line. `bin/effect-ssh.mjs` runs this file through tsx; `node --import tsx
 * src/cli/main.ts …` does the same. Its exit code is the remote command's exit status, or 255 when the
 * command line, the connection or the login failed (ssh(1) does the same).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Ref from "effect/Ref"
import * as NodeSsh from "../node/NodeSsh.js"
import * as Exec from "./Exec.js"
import * as Serve from "./Serve.js"
import * as Tty from "./Tty.js"

/**
 * The version `--version` prints.
 *
 * @since 0.1.0
 * @category constants
 */
export const VERSION = "0.1.0"

const USAGE = "usage: effect-ssh ssh [options] [user@]host [command...]   (exec is the same command)\n" +
  "       effect-ssh serve [options]"

/**
 * Parses `argv` (without node and the script), runs the subcommand, and returns the exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    // `ssh` and its alias `exec` parse their own OpenSSH-style command line (loaded only when used).
    if (argv[0] === "ssh" || argv[0] === "exec") {
      return yield* Effect.flatMap(Effect.promise(() => import("./Ssh.js")), (m) => m.main(argv.slice(1)))
    }
    if (argv[0] === "keyscan") {
      return yield* Effect.flatMap(Effect.promise(() => import("./Keyscan.js")), (m) => m.main(argv.slice(1)))
    }
    if (argv[0] === "keygen") {
      return yield* Effect.flatMap(Effect.promise(() => import("./Keygen.js")), (m) => m.main(argv.slice(1)))
    }
    const code = yield* Ref.make(0)
    const root = Command.make(
      "effect-ssh",
      {},
      () => Effect.zipRight(Tty.printError(USAGE), Ref.set(code, Exec.FAILURE_EXIT_CODE))
    ).pipe(
      Command.withDescription("An SSH client built on effect-ssh."),
      Command.withSubcommands([
        Serve.command((n) => Ref.set(code, n))
      ])
    )
    // @effect/cli skips the first two entries (node and the script).
    yield* Command.run(root, { name: "effect-ssh", version: VERSION })(["node", "effect-ssh", ...argv])
    return yield* Ref.get(code)
  }).pipe(
    // A ValidationError: @effect/cli has printed it with the usage already.
    Effect.catchAll(() => Effect.succeed(Exec.FAILURE_EXIT_CODE))
  )

const MainLive = Layer.mergeAll(
  NodeSsh.layer,
  Logger.replace(Logger.defaultLogger, Exec.stderrLogger),
  Logger.minimumLogLevel(LogLevel.Warning)
)

NodeRuntime.runMain(main(process.argv.slice(2)).pipe(Effect.provide(MainLive)), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit) => {
    if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
      process.stderr.write(`effect-ssh: internal error: ${Cause.pretty(exit.cause)}\n`)
    }
    // Always exit: a stdin that is still open (a terminal) must not keep the process alive after the command.
    process.exit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : Exec.FAILURE_EXIT_CODE)
  }
})
