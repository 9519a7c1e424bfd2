/**
 * Splits an `effect-ssh exec` command line into what @effect/cli parses (the options and the destination) and
 * the remote command words, which it must never see: its built-in options (`--help`, `-h`, `--version`,
 * `--wizard`, `--completions`, `--log-level`) match anywhere on the line, even after `--`, so
 * `effect-ssh exec host grep -h x` would print our help instead of running grep.
 *
 * The split follows ssh(1): options may come before and after the destination; the first word that is not an
 * option after the destination starts the command, and everything from there on belongs to it. Attached
 * values (`-p2222`, `-oPort=2222`) are separated, as getopt does.
 *
 * @since 0.1.0
 */

/**
 * Short options that take a value, with the long names @effect/cli knows them by.
 *
 * @since 0.1.0
 * @category constants
 */
export const VALUE_OPTIONS: Readonly<Record<string, string>> = {
  p: "--port",
  l: "--login-name",
  i: "--identity-file",
  o: "--option"
}

/**
 * Short options without a value (clusters such as `-vv` are accepted; each letter counts once).
 *
 * @since 0.1.0
 * @category constants
 */
export const FLAG_OPTIONS: Readonly<Record<string, string>> = {
  v: "--verbose"
}

const LONG_VALUE_OPTIONS = new Set(Object.values(VALUE_OPTIONS))
/** Passed to @effect/cli as they are: our long flags and the built-ins a user may reasonably ask for. */
const LONG_FLAGS = new Set([...Object.values(FLAG_OPTIONS), "--help", "-h", "--version"])

/**
 * The two parts of a command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface SplitArgv {
  /** What @effect/cli parses: the subcommand, the options, the destination. */
  readonly cli: ReadonlyArray<string>
  /** The remote command words (joined with spaces later, as ssh does). */
  readonly command: ReadonlyArray<string>
  /**
   * Options before the command that effect-ssh does not know. @effect/cli would take an unknown `-X` for the
   * destination, so they are reported by the caller instead.
   */
  readonly unknown: ReadonlyArray<string>
}

/**
 * Splits `argv` (without node and the script). A line that does not start with `exec` (`--help`, `--version`,
 * nothing) is left to @effect/cli whole.
 *
 * @since 0.1.0
 * @category constructors
 */
export const split = (argv: ReadonlyArray<string>): SplitArgv => {
  if (argv[0] !== "exec") return { cli: argv, command: [], unknown: [] }
  const cli: Array<string> = ["exec"]
  const unknown: Array<string> = []
  const flags = new Set<string>()
  let destination = false
  let i = 1
  for (; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") {
      // Option termination: the destination (if not seen yet) and then the command follow.
      i++
      if (!destination && i < argv.length) {
        cli.push("--", argv[i]!)
        destination = true
        i++
      }
      break
    }
    if (arg.length < 2 || !arg.startsWith("-")) {
      if (destination) break
      destination = true
      cli.push(arg)
      continue
    }
    if (arg.startsWith("--") || arg === "-h") {
      const name = arg.split("=")[0]!
      if (LONG_VALUE_OPTIONS.has(name)) {
        cli.push(arg)
        if (name === arg && i + 1 < argv.length) cli.push(argv[++i]!)
      } else if (LONG_FLAGS.has(arg)) cli.push(arg)
      else unknown.push(arg)
      continue
    }
    const letter = arg[1]!
    const long = VALUE_OPTIONS[letter]
    if (long !== undefined) {
      if (arg.length > 2) cli.push(long, arg.slice(2))
      else if (i + 1 < argv.length) cli.push(long, argv[++i]!)
      else cli.push(long)
      continue
    }
    const cluster = [...arg.slice(1)]
    if (cluster.every((c) => FLAG_OPTIONS[c] !== undefined)) {
      for (const c of cluster) {
        if (!flags.has(c)) cli.push(FLAG_OPTIONS[c]!)
        flags.add(c)
      }
      continue
    }
    unknown.push(arg)
  }
  return { cli, command: argv.slice(i), unknown }
}
