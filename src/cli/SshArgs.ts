/**
 * The command line of `effect-ssh ssh`, parsed as OpenSSH 9.2's ssh(1) parses its own (ssh.c main, getopt
 * with "46AaCfGgKkMNnqsTtVvXxYyB:b:c:D:E:e:F:I:i:J:L:l:m:O:o:P:p:Q:R:S:W:w:"): options before and after the
 * destination, attached values (`-p2222`), clusters (`-tt`, `-vvv`), `--`; the first word after the
 * destination that is not an option starts the remote command. Like ssh, the first `-p`, `-l` and `-o` value
 * of a kind wins, and `-l` before the destination wins over `user@`. Pure; the -L/-R/-D/-W/-J values are
 * parsed into typed values here and carried out elsewhere.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as SshConfig from "../config/SshConfig.js"

/**
 * A bad command line (ssh prints its usage and exits 255).
 *
 * @since 0.1.0
 * @category errors
 */
export class SshUsageError extends Data.TaggedError("SshUsageError")<{ readonly reason: string }> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.reason
  }
}

/**
 * What the command line asks for.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshArgs {
  readonly destination: string
  /** The host part of the destination (the alias looked up in ssh_config). */
  readonly host: string
  readonly user: string | undefined
  readonly port: number | undefined
  /** The remote command words (joined with spaces, as ssh does); empty for a shell. */
  readonly command: ReadonlyArray<string>
  /** `-o` lines and the options the flags stand for (-C, -A, -c, -m, -J, -L …), in order: the first wins. */
  readonly options: ReadonlyArray<string>
  readonly identityFiles: ReadonlyArray<string>
  readonly configFile: string | undefined
  /** -G: print the resolved configuration and exit. */
  readonly printConfig: boolean
  /** -N: no remote command. */
  readonly noCommand: boolean
  /** -t count (-tt forces) and -T. */
  readonly ttyCount: number
  readonly noTty: boolean
  /** -n: stdin from /dev/null. */
  readonly stdinNull: boolean
  readonly verbose: number
  readonly quiet: boolean
  readonly logFile: string | undefined
  /** -s: the command is a subsystem name. */
  readonly subsystem: boolean
  readonly localForwards: ReadonlyArray<SshConfig.ForwardSpec>
  readonly remoteForwards: ReadonlyArray<SshConfig.ForwardSpec>
  readonly dynamicForwards: ReadonlyArray<SshConfig.ForwardSpec>
  /** -W host:port: stdio forwarded to that address. */
  readonly stdioForward: { readonly host: string; readonly port: number } | undefined
  /** -J hops, in dialing order. */
  readonly jumpHosts: ReadonlyArray<SshConfig.JumpHost>
}

const FLAGS = "46AaCfGgKkMNnqsTtVvXxYy"
const WITH_VALUE = "BbcDEeFIiJLlmOoPpQRSWw"

const port = (text: string): number | undefined =>
  /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535 ? Number(text) : undefined

/**
 * Parses `argv` (the words after `ssh`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (argv: ReadonlyArray<string>): Either.Either<SshArgs, SshUsageError> => {
  const bad = (reason: string) => Either.left(new SshUsageError({ reason }))
  const options: Array<string> = []
  const identityFiles: Array<string> = []
  const localForwards: Array<SshConfig.ForwardSpec> = []
  const remoteForwards: Array<SshConfig.ForwardSpec> = []
  const dynamicForwards: Array<SshConfig.ForwardSpec> = []
  let jump: string | undefined
  let user: string | undefined
  let portValue: number | undefined
  let configFile: string | undefined
  let logFile: string | undefined
  let stdioForward: SshArgs["stdioForward"]
  let destination: string | undefined
  let host = ""
  let ttyCount = 0
  let verbose = 0
  // ssh.c assigns -A/-a and -X/-Y/-x straight into its options, so the last such flag wins, and over any
  // -o ForwardAgent/ForwardX11 (which only fill what is still unset); they go first in `options` (first wins).
  let agentFlag: "yes" | "no" | undefined
  let x11Flag: "yes" | "no" | undefined
  let x11Trusted = false
  const seen = new Set<string>()
  let i = 0
  const value = (letter: string, rest: string): string | undefined => {
    if (rest !== "") return rest
    i++
    return argv[i]
  }
  const onDestination = (text: string): string | undefined => {
    if (text.toLowerCase().startsWith("ssh://")) {
      const hop = SshConfig.parseJumpHost(text)
      if (hop === undefined) return `bad destination "${text}"`
      user ??= hop.user
      portValue ??= hop.port
      host = hop.host
    } else {
      const at = text.lastIndexOf("@")
      if (at === 0) return `bad destination "${text}": empty user name`
      if (at > 0) user ??= text.slice(0, at)
      host = text.slice(at + 1)
    }
    if (host === "") return `bad destination "${text}": no host name`
    destination = text
    return undefined
  }
  for (; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") {
      i++
      if (destination === undefined && i < argv.length) {
        const r = onDestination(argv[i]!)
        if (r !== undefined) return bad(r)
        i++
      }
      break
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (destination !== undefined) break
      const r = onDestination(arg)
      if (r !== undefined) return bad(r)
      continue
    }
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!
      if (FLAGS.includes(letter)) {
        seen.add(letter)
        if (letter === "t") ttyCount++
        else if (letter === "v") verbose++
        else if (letter === "C") options.push("Compression yes")
        else if (letter === "A" || letter === "a") agentFlag = letter === "A" ? "yes" : "no"
        // -X, -Y (trusted) and -x: ForwardX11 / ForwardX11Trusted, as ssh.c sets them (-x leaves -Y's trust set).
        else if (letter === "X" || letter === "Y" || letter === "x") {
          x11Flag = letter === "x" ? "no" : "yes"
          x11Trusted ||= letter === "Y"
        }
        // ssh.c: -f is ForkAfterAuthentication (and implies -n); -g is GatewayPorts.
        else if (letter === "f") options.push("ForkAfterAuthentication yes")
        else if (letter === "g") options.push("GatewayPorts yes")
        continue
      }
      if (!WITH_VALUE.includes(letter)) return bad(`unknown option -- ${letter}`)
      const v = value(letter, arg.slice(j + 1))
      if (v === undefined) return bad(`option requires an argument -- ${letter}`)
      switch (letter) {
        case "p": {
          const p = port(v)
          if (p === undefined) return bad(`Bad port '${v}'`)
          portValue ??= p
          break
        }
        case "l":
          user ??= v
          break
        case "i":
          identityFiles.push(v)
          break
        case "o":
          options.push(v)
          break
        case "F":
          configFile = v
          break
        case "E":
          logFile = v
          break
        case "c":
          options.push(`Ciphers ${v}`)
          break
        case "m":
          options.push(`MACs ${v}`)
          break
        case "J":
          if (jump !== undefined) return bad("Only a single -J option is permitted (use commas to separate hosts)")
          jump = v
          options.push(`ProxyJump ${v}`)
          break
        case "L":
        case "R":
        case "D": {
          const kind = letter === "L" ? "local" : letter === "R" ? "remote" : "dynamic"
          const spec = SshConfig.parseForward(v, kind)
          if (spec === undefined) return bad(`Bad ${kind} forwarding specification '${v}'`)
          ;(letter === "L" ? localForwards : letter === "R" ? remoteForwards : dynamicForwards).push(spec)
          break
        }
        case "W": {
          const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(v)
          const p = m === null ? undefined : port(m[2]!)
          if (m === null || p === undefined) return bad(`Bad stdio forwarding specification '${v}'`)
          if (stdioForward !== undefined) return bad("stdio forward already specified")
          stdioForward = { host: m[1]!.replace(/^\[|\]$/g, ""), port: p }
          break
        }
        default:
          // -B -b -e -I -O -P -Q -S -w: accepted as ssh accepts them, not acted on.
          break
      }
      break
    }
  }
  if (destination === undefined) return bad("no destination")
  const jumpHosts = (jump ?? "").split(",").filter((h) => h !== "" && jump!.toLowerCase() !== "none")
    .map(SshConfig.parseJumpHost)
  if (jumpHosts.some((h) => h === undefined)) return bad(`invalid -J "${jump}"`)
  return Either.right({
    destination,
    host,
    user,
    port: portValue,
    command: argv.slice(i),
    options: [
      ...(agentFlag === undefined ? [] : [`ForwardAgent ${agentFlag}`]),
      ...(x11Flag === undefined ? [] : [`ForwardX11 ${x11Flag}`]),
      ...(x11Trusted ? ["ForwardX11Trusted yes"] : []),
      ...options
    ],
    identityFiles,
    configFile,
    printConfig: seen.has("G"),
    noCommand: seen.has("N"),
    ttyCount,
    noTty: seen.has("T"),
    stdinNull: seen.has("n") || seen.has("f"),
    verbose,
    quiet: seen.has("q"),
    logFile,
    subsystem: seen.has("s"),
    localForwards,
    remoteForwards,
    dynamicForwards,
    stdioForward,
    jumpHosts: jumpHosts.filter((h): h is SshConfig.JumpHost => h !== undefined)
  })
}

/**
 * ssh's usage text.
 *
 * @since 0.1.0
 * @category constants
 */
export const USAGE = "usage: effect-ssh ssh [-46AaCfGgNnqsTtv] [-c cipher_spec] [-D [bind_address:]port] [-E log_file]\n" +
  "           [-F configfile] [-i identity_file] [-J destination] [-L address]\n" +
  "           [-l login_name] [-m mac_spec] [-o option] [-p port] [-R address]\n" +
  "           [-W host:port] destination [command [argument ...]]"
