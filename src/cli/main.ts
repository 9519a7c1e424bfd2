/**
 * The `effect-ssh` command line: a small dispatcher. It imports nothing at start-up but the subcommand it runs
 * (`--version` and `--help` load no Effect at all), so a command pays only for the modules it uses. Each
 * subcommand is one module `src/cli/<Command>.ts` exporting `main(args)`, which parses its own OpenSSH-style
 * flags, prints its own usage and errors on stderr and returns the exit code; adding a command is one line of
 * `COMMANDS`. The exit code is the remote command's exit status, or 255 when the command line, the connection or
 * the login failed (ssh(1) does the same).
 *
 * `src/cli/bin.ts` runs it: `bin/effect-ssh.mjs` loads that file's bundle, which `npm run build` writes to
 * `dist/bin/`; `node --import tsx src/cli/bin.ts …` runs the sources.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type { Dialer } from "../client/Dialer.js"
import type { LocalNet } from "../forward/LocalNet.js"
import { FAILURE_EXIT_CODE, VERSION } from "./Version.js"

/**
 * What a subcommand's Effect may require: the services of `NodeSsh.layer` the CLI uses (the dialer, local
 * forwarding, the file system and paths), provided by the dispatcher.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = Dialer | LocalNet | FileSystem.FileSystem | Path.Path

/**
 * A subcommand module: `main` receives the words after the subcommand's name and returns the exit code.
 *
 * @since 0.1.0
 * @category models
 */
export interface Subcommand {
  readonly main: (args: ReadonlyArray<string>) => Effect.Effect<number, never, Services>
}

/**
 * The subcommands, each imported only when it runs. `exec` is an alias of `ssh`.
 *
 * @since 0.1.0
 * @category constants
 */
export const COMMANDS: Readonly<Record<string, { readonly summary: string; readonly load: () => Promise<Subcommand> }>> = {
  ssh: { summary: "OpenSSH's ssh: ssh_config, -G, a shell on a pty, or a command", load: () => import("./Ssh.js") },
  exec: { summary: "the same as ssh (its first name)", load: () => import("./Ssh.js") },
  keygen: { summary: "the ssh-keygen subset: generate (-t -b -f -N -C), fingerprint (-l -v -E), public key (-y)", load: () => import("./Keygen.js") },
  keyscan: { summary: "the servers' host keys in ssh-keyscan's format", load: () => import("./Keyscan.js") },
  serve: { summary: "run an SSH server (an echo service, or local commands with --exec local)", load: () => import("./Serve.js") },
  agent: { summary: "run an ssh-agent (ssh-agent's flags and output)", load: () => import("./Agent.js") },
  scp: { summary: "copy files over SCP, as `scp -O` does", load: () => import("./Scp.js") },
  sftp: { summary: "transfer files over SFTP, as `sftp [options] destination` does (batch mode with -b)", load: () => import("./Sftp.js") }
}

/**
 * The top-level usage text (plain text: no colour codes, whatever stdout is).
 *
 * @since 0.1.0
 * @category constants
 */
export const usage = (): string => {
  const names = Object.keys(COMMANDS)
  const width = Math.max(...names.map((n) => n.length))
  return [
    "usage: effect-ssh <command> [options] [arguments]",
    "",
    "commands:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]!.summary}`),
    "",
    "options:",
    "  --version  print the version",
    "  --help     print this text",
    "",
    "`effect-ssh <command> --help` describes a command."
  ].join("\n")
}

/**
 * Parses `argv` (without node and the script), runs the subcommand and resolves to the exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [name, ...rest] = argv
  if (name === "--version" || name === "-V") {
    process.stdout.write(`effect-ssh ${VERSION}\n`)
    return 0
  }
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${usage()}\n`)
    return 0
  }
  const command = name === undefined ? undefined : COMMANDS[name]
  if (command === undefined) {
    process.stderr.write(
      `${name === undefined ? "effect-ssh: no command given" : `effect-ssh: unknown command ${name}`}\n${usage()}\n`
    )
    return FAILURE_EXIT_CODE
  }
  const [module, runtime] = await Promise.all([command.load(), import("./Runtime.js")])
  return runtime.run(module.main(rest))
}
