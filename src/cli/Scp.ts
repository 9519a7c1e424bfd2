/**
 * `effect-ssh scp [-O] [-r] [-p] [-q] [-v] [-P port] [-i identity] [-o option] source... target`: copies files as
 * scp(1) does, over the legacy SCP protocol (`-O`, which is also what runs without it: SCP over SFTP is not
 * implemented yet). Operands `[user@]host:path` are remote (a colon before any slash); uploads take any number of
 * local sources, downloads any number of sources on one host. Logging in follows `effect-ssh exec` (identity files,
 * `-o` options of ssh_config, known_hosts). Exit status 0, or 1 after printing what failed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scp from "../scp/Scp.js"
import * as Login from "./Login.js"
import * as Ssh from "./Ssh.js"
import * as SshArgs from "./SshArgs.js"
import * as Tty from "./Tty.js"

const USAGE = "usage: effect-ssh scp [-Opqrsv] [-F ssh_config] [-i identity_file] [-o ssh_option] [-P port] source ... target"

/**
 * An operand: a local path, or `[user@]host:path`.
 *
 * @since 0.1.0
 * @category models
 */
export type Operand =
  | { readonly _tag: "Local"; readonly path: string }
  | { readonly _tag: "Remote"; readonly destination: string; readonly path: string }

/**
 * scp(1)'s rule: remote when a colon comes before any slash (`[v6]` hosts in brackets); an empty path is `.`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseOperand = (text: string): Operand => {
  const m = /^((?:[^@/:]+@)?(?:\[[^\]]+\]|[^:/[\]]+)):(.*)$/s.exec(text)
  if (m === null) return { _tag: "Local", path: text }
  const destination = m[1]!.replace(/\[([^\]]+)\]$/, "$1")
  return { _tag: "Remote", destination, path: m[2] === "" ? "." : m[2]! }
}

/**
 * The parsed command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScpFlags {
  readonly recursive: boolean
  readonly preserve: boolean
  /** -O: the legacy SCP protocol instead of SFTP (OpenSSH 9's default). */
  readonly legacy?: boolean | undefined
  readonly quiet: boolean
  readonly verbose: boolean
  readonly port: number | undefined
  /** -F: the ssh_config file, as ssh's -F. */
  readonly configFile?: string | undefined
  readonly identityFiles: ReadonlyArray<string>
  readonly options: ReadonlyArray<string>
  readonly operands: ReadonlyArray<string>
}

/**
 * Parses the flags as getopt does (clusters, attached values); a string is the error to print.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArgs = (args: ReadonlyArray<string>): ScpFlags | string => {
  const flags = { recursive: false, preserve: false, quiet: false, verbose: false, legacy: false }
  let port: number | undefined
  let configFile: string | undefined
  const identityFiles: Array<string> = []
  const options: Array<string> = []
  let i = 0
  for (; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      i++
      break
    }
    if (!arg.startsWith("-") || arg === "-") break
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!
      if ("PioFJlcSDX".includes(c)) {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : args[++i]
        if (value === undefined) return `option requires an argument -- ${c}`
        if (c === "P") {
          port = Number(value)
          if (!Number.isInteger(port) || port < 1 || port > 65535) return `invalid port ${value}`
        } else if (c === "i") identityFiles.push(value)
        else if (c === "o") options.push(value)
        else if (c === "F") configFile = value
        else return `-${c} is not supported yet`
        break
      }
      if (c === "r") flags.recursive = true
      else if (c === "p") flags.preserve = true
      else if (c === "q") flags.quiet = true
      else if (c === "v") flags.verbose = true
      else if (c === "O") flags.legacy = true
      else if (c === "s") flags.legacy = false
      else if (c === "T" || c === "C" || c === "4" || c === "6" || c === "B") continue
      else return `unknown option -- ${c}`
    }
  }
  const operands = args.slice(i)
  if (operands.length < 2) return "a source and a target are needed"
  return { ...flags, port, configFile, identityFiles, options, operands }
}

const connectTo = (flags: ScpFlags, destination: string) =>
  Effect.gen(function*() {
    // The same resolution as `effect-ssh ssh` (ssh_config, -o, -i, -P as ssh's -p), so scp connects as ssh would.
    const words = [
      ...(flags.configFile === undefined ? [] : ["-F", flags.configFile]),
      ...(flags.port === undefined ? [] : ["-p", String(flags.port)]),
      ...flags.identityFiles.flatMap((f) => ["-i", f]),
      ...flags.options.flatMap((o) => ["-o", o]),
      ...(flags.verbose ? ["-v"] : []),
      destination
    ]
    const parsed = SshArgs.parse(words)
    if (Either.isLeft(parsed)) return yield* Effect.fail(new Error(parsed.left.reason))
    const resolved = yield* Ssh.resolveArgs(parsed.right)
    const settings = Ssh.settingsOf(resolved, flags.verbose)
    const interactive = Tty.isInteractive() && !settings.batchMode
    return yield* Login.connect(settings, resolved.user, interactive)
  })

/**
 * Runs `effect-ssh scp` with its arguments (after `scp`); returns the exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const flags = parseArgs(args)
    if (typeof flags === "string") {
      yield* Tty.printError(`effect-ssh scp: ${flags}\n${USAGE}`)
      return 1
    }
    const operands = flags.operands.map(parseOperand)
    const target = operands[operands.length - 1]!
    const sources = operands.slice(0, -1)
    const options: Scp.ScpOptions = {
      protocol: flags.legacy === true ? "scp" : "sftp",
      recursive: flags.recursive,
      preserve: flags.preserve,
      onWarning: (message) => Tty.printError(message)
    }
    if (target._tag === "Remote" && sources.every((s) => s._tag === "Local")) {
      const ssh = yield* connectTo(flags, target.destination)
      yield* Scp.upload(ssh, sources.map((s) => s.path), target.path, options)
      return 0
    }
    const remote = sources.filter((s): s is Extract<Operand, { _tag: "Remote" }> => s._tag === "Remote")
    if (target._tag === "Local" && remote.length === sources.length && new Set(remote.map((s) => s.destination)).size === 1) {
      const ssh = yield* connectTo(flags, remote[0]!.destination)
      for (const s of remote) yield* Scp.download(ssh, s.path, target.path, options)
      return 0
    }
    yield* Tty.printError("effect-ssh scp: copies between two remote hosts, or from several hosts, are not supported yet")
    return 1
  }).pipe(
    Effect.scoped,
    Effect.catchAll((e) => Effect.as(Tty.printError(`effect-ssh scp: ${Ssh.errorText(e)}`), 1)),
    (self) => Logger.withMinimumLogLevel(self, args.includes("-v") ? LogLevel.Debug : LogLevel.Warning)
  )
