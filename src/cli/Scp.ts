/**
 * `effect-ssh scp [-3Opqrsv] [-P port] [-i identity] [-o option] [-F config] source... target`: copies files as
 * scp(1) does, over SFTP as OpenSSH 9's scp (remote globs expanded on the server), or over the legacy SCP protocol
 * with `-O`. Operands `[user@]host:path` are remote (a colon before any slash); uploads take any number of local
 * sources, downloads any number of sources on one host, and copies between remote hosts go through this machine
 * (scp's default since OpenSSH 8.7, `-3`). On a terminal a progress meter is drawn, as scp's (not with `-q`).
 * Logging in follows `effect-ssh exec` (identity files, `-o` options of ssh_config, known_hosts). Exit status 0,
 * or 1 after printing what failed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type { SshConnection } from "../client/SshConnection.js"
import * as Scp from "../scp/Scp.js"
import * as SftpProgress from "./internal/sftpProgress.js"
import * as Login from "./Login.js"
import * as Ssh from "./Ssh.js"
import * as SshArgs from "./SshArgs.js"
import * as Tty from "./Tty.js"

const USAGE = "usage: effect-ssh scp [-3Opqrsv] [-F ssh_config] [-i identity_file] [-o ssh_option] [-P port] source ... target"

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
      else if (c === "R") return "-R is not supported: copies between remote hosts go through this machine (-3)"
      else if (c === "T" || c === "C" || c === "4" || c === "6" || c === "B" || c === "3") continue
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
    // scp's progress meter: on stdout, only when it is a terminal, and never with -q (progressmeter.c).
    const meter = !flags.quiet && process.stdout.isTTY === true ? SftpProgress.make(process.stdout) : undefined
    const options: Scp.ScpOptions = {
      protocol: flags.legacy === true ? "scp" : "sftp",
      recursive: flags.recursive,
      preserve: flags.preserve,
      onWarning: (message) => Tty.printError(message),
      onProgress: meter === undefined
        ? undefined
        : (p) => meter({ path: p.path, bytes: p.bytes, total: p.size, done: p.bytes >= p.size })
    }
    if (target._tag === "Remote" && sources.every((s) => s._tag === "Local")) {
      const ssh = yield* connectTo(flags, target.destination)
      yield* Scp.upload(ssh, sources.map((s) => s.path), target.path, options)
      return 0
    }
    const remote = sources.filter((s): s is Extract<Operand, { _tag: "Remote" }> => s._tag === "Remote")
    if (remote.length < sources.length) {
      yield* Tty.printError("effect-ssh scp: local and remote sources cannot be mixed")
      return 1
    }
    // One login per host, reused by every source on it.
    const logins = new Map<string, SshConnection>()
    const login = (destination: string) =>
      Effect.gen(function*() {
        const known = logins.get(destination)
        if (known !== undefined) return known
        const ssh = yield* connectTo(flags, destination)
        logins.set(destination, ssh)
        return ssh
      })
    // Between remote hosts the data goes through this machine (scp -3, the default since OpenSSH 8.7).
    const to = target._tag === "Remote" ? yield* login(target.destination) : undefined
    for (const s of remote) {
      const from = yield* login(s.destination)
      yield* to === undefined
        ? Scp.download(from, s.path, target.path, options)
        : Scp.copy(from, s.path, to, target.path, options)
    }
    return 0
  }).pipe(
    Effect.scoped,
    Effect.catchAll((e) => Effect.as(Tty.printError(`effect-ssh scp: ${Ssh.errorText(e)}`), 1)),
    (self) => Logger.withMinimumLogLevel(self, args.includes("-v") ? LogLevel.Debug : LogLevel.Warning)
  )
