/**
 * Runs one subcommand written with @effect/cli as a dispatcher `main`: its built-ins are hidden from the help
 * (`--wizard`, `--completions`, `--log-level` are not ours to offer), and the help and error texts lose their
 * colour codes when they do not go to a terminal (`effect-ssh exec --help | less`).
 *
 * @since 0.1.0
 */
import type * as CliApp from "@effect/cli/CliApp"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import { FAILURE_EXIT_CODE, VERSION } from "./Version.js"

// ESC [ … final byte: the SGR sequences @effect/printer-ansi writes.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g

/**
 * Removes ANSI escape sequences from `text`.
 *
 * @since 0.1.0
 * @category utils
 */
export const stripAnsi = (text: string): string => text.replace(ANSI, "")

const plain = (args: ReadonlyArray<unknown>, tty: boolean) => tty ? args : args.map((a) => typeof a === "string" ? stripAnsi(a) : a)

const plainConsole = (console: Console.Console): Console.Console => ({
  ...console,
  log: (...args) => console.log(...plain(args, process.stdout.isTTY === true)),
  error: (...args) => console.error(...plain(args, process.stderr.isTTY === true))
})

/**
 * Runs `make(setExitCode)` on `args` (the words after the subcommand's name) and returns the exit code it set;
 * 255 for a command line @effect/cli refused (it has printed why, with the usage).
 *
 * @since 0.1.0
 * @category runners
 */
export const run = <Name extends string, R, E, A>(
  make: (setExitCode: (code: number) => Effect.Effect<void>) => Command.Command<Name, R, E, A>,
  args: ReadonlyArray<string>
): Effect.Effect<number, never, R | CliApp.CliApp.Environment> =>
  Effect.gen(function*() {
    const code = yield* Ref.make(0)
    const command = make((n) => Ref.set(code, n))
    yield* Command.run(command, { name: "effect-ssh", version: VERSION })(["node", "effect-ssh", ...args])
    return yield* Ref.get(code)
  }).pipe(
    Effect.catchAll(() => Effect.succeed(FAILURE_EXIT_CODE)),
    Effect.provide(CliConfig.layer({ showBuiltIns: false })),
    (effect) => Console.consoleWith((console) => Effect.withConsole(effect, plainConsole(console)))
  )
