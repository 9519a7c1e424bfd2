/**
 * `effect-ssh sftp [-b batchfile] [-P port] [-R num_requests] [-i identity] [-o option] [-F config]
 * [-B buffer_size] [-p] [-r] [-q] [-v] [user@]host[:path]`: OpenSSH sftp(1) on effect-ssh's SFTP client. It
 * connects as `effect-ssh ssh` does (ssh_config, identities, host keys, `-o` options, `-J` jump hosts), then reads commands from the batch
 * file (`-b -`: stdin) or interactively. In batch mode each command is echoed after `sftp> `, a `-` prefix
 * ignores the command's failure, an `@` prefix hides the echo, and the first other failure ends the session
 * with exit status 1, as sftp does. A connection or login failure exits 255.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as NodeFs from "node:fs"
import * as readline from "node:readline"
import * as NodeSftp from "../node/NodeSftp.js"
import * as Sftp from "../sftp/Sftp.js"
import * as Commands from "./internal/sftpCommands.js"
import * as Progress from "./internal/sftpProgress.js"
import * as Login from "./Login.js"
import * as Ssh from "./Ssh.js"
import * as SshArgs from "./SshArgs.js"
import * as Tty from "./Tty.js"

/**
 * What the command line says.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpFlags {
  readonly batchFile: string | undefined
  readonly port: number | undefined
  readonly requests: number | undefined
  readonly bufferSize: number | undefined
  readonly identityFiles: ReadonlyArray<string>
  readonly options: ReadonlyArray<string>
  readonly config: string | undefined
  /** -J: ProxyJump hosts. */
  readonly jump: string | undefined
  readonly preserve: boolean
  readonly recursive: boolean
  readonly quiet: boolean
  readonly verbose: boolean
  /** `[user@]host`. */
  readonly destination: string
  /** The `:path` after the host. */
  readonly path: string | undefined
}

/**
 * The usage line, as sftp prints it.
 *
 * @since 0.1.0
 * @category constants
 */
export const USAGE = "usage: effect-ssh sftp [-pqrv] [-B buffer_size] [-b batchfile] [-F ssh_config] [-i identity_file]\n" +
  "          [-J destination] [-o ssh_option] [-P port] [-R num_requests] destination"

const VALUE = new Set(["b", "P", "R", "i", "o", "F", "B", "c", "D", "J", "l", "S", "s", "X"])

/**
 * Parses sftp's flags (getopt style: `-P22`, `-P 22`, `-pr`); an error is a sentence.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArgs = (args: ReadonlyArray<string>): Either.Either<SftpFlags, string> => {
  let batchFile: string | undefined, port: number | undefined, requests: number | undefined, bufferSize: number | undefined
  let config: string | undefined, jump: string | undefined
  const identityFiles: Array<string> = []
  const options: Array<string> = []
  const on = new Set<string>()
  let i = 0
  for (; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") {
      i++
      break
    }
    if (!a.startsWith("-") || a === "-") break
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!
      if (!VALUE.has(c)) {
        if (!"pqrvC46ANfh".includes(c)) return Either.left(`unknown option -${c}`)
        on.add(c)
        continue
      }
      const value = j + 1 < a.length ? a.slice(j + 1) : args[++i]
      if (value === undefined) return Either.left(`option -${c} needs a value`)
      const int = () => {
        const n = Number(value)
        return Number.isInteger(n) && n > 0 ? n : undefined
      }
      switch (c) {
        case "b":
          batchFile = value
          break
        case "P":
          port = int()
          if (port === undefined || port > 65535) return Either.left(`bad port "${value}"`)
          break
        case "R":
          requests = int()
          if (requests === undefined) return Either.left(`bad number of requests "${value}"`)
          break
        case "B":
          bufferSize = int()
          if (bufferSize === undefined) return Either.left(`bad buffer size "${value}"`)
          break
        case "i":
          identityFiles.push(value)
          break
        case "o":
          options.push(value)
          break
        case "F":
          config = value
          break
        case "J":
          jump = value
          break
        default:
          return Either.left(`option -${c} is not supported by effect-ssh sftp`)
      }
      break
    }
  }
  if (i !== args.length - 1) return Either.left(i >= args.length ? "no destination given" : `unexpected argument "${args[i + 1]}"`)
  const target = args[i]!
  // host:path, but not an ssh:// URI nor a bracketed IPv6 address's colons.
  const m = /^((?:[^@]*@)?(?:\[[^\]]*\]|[^:]*))(?::(.*))?$/.exec(target)
  if (target.startsWith("ssh://") || m === null) {
    return Either.right(mk(target, undefined))
  }
  return Either.right(mk(m[1]!.replace(/\[([^\]]*)\]$/, "$1"), m[2] === "" ? undefined : m[2]))

  function mk(destination: string, path: string | undefined): SftpFlags {
    return {
      batchFile,
      port,
      requests,
      bufferSize,
      identityFiles,
      options,
      config,
      jump,
      preserve: on.has("p"),
      recursive: on.has("r"),
      quiet: on.has("q"),
      verbose: on.has("v"),
      destination,
      path
    }
  }
}

/** Reads lines one at a time from stdin (interactive mode), with `prompt` on a terminal. */
const lineReader = (prompt: string | undefined) => {
  const rl = readline.createInterface({ input: process.stdin, output: prompt === undefined ? undefined : process.stdout, terminal: prompt !== undefined })
  const lines: Array<string> = []
  const waiting: Array<(line: string | undefined) => void> = []
  let closed = false
  rl.on("line", (l) => (waiting.length > 0 ? waiting.shift()!(l) : lines.push(l)))
  rl.on("close", () => {
    closed = true
    for (const w of waiting.splice(0)) w(undefined)
  })
  return {
    next: Effect.async<string | undefined>((resume) => {
      if (prompt !== undefined) {
        rl.setPrompt(prompt)
        rl.prompt()
      }
      if (lines.length > 0) return resume(Effect.succeed(lines.shift()))
      if (closed) return resume(Effect.succeed(undefined))
      waiting.push((l) => resume(Effect.succeed(l)))
    }),
    close: Effect.sync(() => rl.close())
  }
}

const readAll = (file: string) =>
  Effect.try({
    try: () => NodeFs.readFileSync(file === "-" ? 0 : file, "utf8"),
    catch: (e) => `cannot read the batch file "${file}": ${e instanceof Error ? e.message : String(e)}`
  })

const print = (text: string) => Effect.sync(() => void process.stdout.write(text))

/** The session loop: returns the exit status. */
const loop = (session: Commands.Session, batch: ReadonlyArray<string> | undefined) =>
  Effect.suspend(() => {
    const reader = batch === undefined ? lineReader(Tty.isInteractive() ? "sftp> " : undefined) : undefined
    return Effect.ensuring(step(session, batch, reader), reader === undefined ? Effect.void : reader.close)
  })

const step = (
  session: Commands.Session,
  batch: ReadonlyArray<string> | undefined,
  reader: ReturnType<typeof lineReader> | undefined
) =>
  Effect.gen(function*() {
    let index = 0
    while (true) {
      const raw = reader === undefined ? batch?.[index++] : yield* reader.next
      if (raw === undefined) return 0
      let line = raw.trim()
      if (line === "" || line.startsWith("#")) continue
      // sftp's prefixes: "-" ignores the command's failure, "@" hides its echo; either order.
      let ignoreError = false
      let echo = batch !== undefined || !Tty.isInteractive()
      while (line.startsWith("-") || line.startsWith("@")) {
        if (line.startsWith("-")) ignoreError = true
        else echo = false
        line = line.slice(1).trimStart()
      }
      if (echo) yield* print(`sftp> ${line}\n`)
      const words = Commands.words(line)
      const result = yield* Effect.either(
        words === undefined
          ? Effect.fail(new Commands.CommandError({ message: "Unterminated quote in the command line." }))
          : Commands.run(session, line, words)
      )
      if (Either.isRight(result)) {
        if (result.right === "exit") return 0
        continue
      }
      yield* Tty.printError(result.left.message)
      // In batch mode the first failure without a "-" prefix ends the session with 1 (sftp -b).
      if (batch !== undefined && !ignoreError) return 1
    }
  })

/**
 * Connects and runs the session; every failure is printed as a sentence naming the host and port.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (flags: SftpFlags) =>
  Effect.gen(function*() {
    // The same resolution as `effect-ssh ssh` (ssh_config, -F, -o, -i, -P as ssh's -p), so sftp connects as ssh
    // would; sftp -b runs without prompts (BatchMode=yes), as OpenSSH's sftp asks of ssh.
    const parsed = SshArgs.parse([
      ...(flags.port === undefined ? [] : ["-p", String(flags.port)]),
      ...(flags.config === undefined ? [] : ["-F", flags.config]),
      ...(flags.jump === undefined ? [] : ["-J", flags.jump]),
      ...flags.identityFiles.flatMap((f) => ["-i", f]),
      ...flags.options.flatMap((o) => ["-o", o]),
      ...(flags.batchFile === undefined ? [] : ["-o", "BatchMode=yes"]),
      ...(flags.verbose ? ["-v"] : []),
      flags.destination
    ])
    if (Either.isLeft(parsed)) return yield* Effect.fail({ message: parsed.left.reason, code: 1 })
    const resolved = yield* Ssh.resolveArgs(parsed.right).pipe(
      Effect.mapError((e) => ({ message: `${flags.destination}: ${e.message}`, code: 255 }))
    )
    const settings = Ssh.settingsOf(resolved, flags.verbose)
    const batch = flags.batchFile === undefined
      ? undefined
      : (yield* Effect.mapError(readAll(flags.batchFile), (message) => ({ message, code: 1 }))).split("\n")
    const where = `${settings.host} port ${settings.port}`
    const connection = yield* Login.connect(settings, resolved.user, Tty.isInteractive() && !settings.batchMode).pipe(
      Effect.mapError((e) => ({ message: `cannot connect to ${where}: ${e.message}`, code: 255 }))
    )
    const sftp = yield* Sftp.make(connection, { requests: flags.requests, blockSize: flags.bufferSize }).pipe(
      Effect.mapError((e) => ({ message: `cannot start SFTP on ${where}: ${e.message}`, code: 255 }))
    )
    const home = yield* sftp.realpath(".").pipe(Effect.orElseSucceed(() => "/"))
    const local = yield* NodeSftp.fileSystem("/")
    const tty = process.stdout.isTTY === true
    const session: Commands.Session = {
      sftp,
      local,
      cwd: home,
      home,
      lcwd: process.cwd(),
      // sftp -b starts with the meter off; `progress` turns it on, and it only ever draws on a terminal.
      progress: flags.batchFile === undefined && !flags.quiet,
      quiet: flags.quiet || flags.batchFile !== undefined,
      preserve: flags.preserve,
      recursive: flags.recursive,
      onProgress: tty && !flags.quiet ? Progress.make(process.stdout) : undefined,
      print
    }
    if (!session.quiet) yield* print(`Connected to ${settings.host}.\n`)
    if (flags.path !== undefined) {
      const target = flags.path
      const isDir = yield* sftp.isdir(target.startsWith("/") ? target : `${home}/${target}`).pipe(Effect.orElseSucceed(() => false))
      if (!isDir) {
        // sftp host:file fetches the file and exits.
        const got = yield* Effect.either(Commands.run(session, `get ${target}`, ["get", target]))
        if (Either.isLeft(got)) return yield* Effect.fail({ message: `${got.left.message} (${where})`, code: 1 })
        return 0
      }
      yield* Effect.mapError(Commands.run(session, `cd ${target}`, ["cd", target]), (e) => ({ message: e.message, code: 1 }))
    }
    return yield* loop(session, batch)
  }).pipe(
    Effect.scoped,
    Effect.catchAll((e) => Effect.as(Tty.printError(`effect-ssh sftp: ${e.message}`), e.code)),
    Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Warning)
  )

/**
 * The dispatcher's entry (`effect-ssh sftp …`): `args` are the words after `sftp`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>) => {
  if (args.includes("--help") || args.includes("-h")) return Effect.as(print(`${USAGE}\n\n${Commands.HELP}`), 0)
  const parsed = parseArgs(args)
  if (Either.isLeft(parsed)) return Effect.as(Tty.printError(`effect-ssh sftp: ${parsed.left}\n${USAGE}`), 1)
  return run(parsed.right)
}
