/**
 * `effect-ssh ssh [options] destination [command]`: OpenSSH's ssh(1) command line over effect-ssh. The
 * destination is looked up in ssh_config (`~/.ssh/config` then `/etc/ssh/ssh_config`, or `-F file`) as ssh
 * does; `-G` prints the resolved options in ssh's format and exits. With no command: the login shell, on a
 * pty when stdin is a terminal. `effect-ssh exec` is the same command.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Scope from "effect/Scope"
import { Dialer } from "../client/Dialer.js"
import type { SshConnection } from "../client/SshConnection.js"
import type { AuthError, TransportError } from "../SshError.js"
import * as HostKeyPolicy from "../client/HostKeyPolicy.js"
import * as SshClientConfig from "../client/SshClientConfig.js"
import * as SshConfig from "../config/SshConfig.js"
import * as Algorithms from "../crypto/Algorithms.js"
import * as NodeAgent from "../node/NodeAgent.js"
import * as NodeProxyCommand from "../node/NodeProxyCommand.js"
import * as NodeSshConfig from "../node/NodeSshConfig.js"
import * as NodeX11 from "../node/NodeX11.js"
import type * as SshProcess from "../session/SshProcess.js"
import * as Exec from "./Exec.js"
import * as Runtime from "./Runtime.js"
import { FAILURE_EXIT_CODE } from "./Version.js"
import type * as ExecOptions from "./ExecOptions.js"
import * as Login from "./Login.js"
import * as SshForward from "./SshForward.js"
import * as SshArgs from "./SshArgs.js"
import * as SshBackground from "./SshBackground.js"
import * as SshSession from "./SshSession.js"
import * as Tty from "./Tty.js"

/**
 * The algorithm lists `-G` prints where the config sets none: effect-ssh's defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const PRINT_DEFAULTS: SshConfig.PrintDefaults = {
  kexAlgorithms: Algorithms.DEFAULT_KEX.join(","),
  ciphers: Algorithms.DEFAULT_CIPHERS.join(","),
  macs: Algorithms.DEFAULT_MACS.join(","),
  hostKeyAlgorithms: Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS.join(","),
  pubkeyAcceptedAlgorithms: Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS.join(","),
  caSignatureAlgorithms: Algorithms.DEFAULT_HOST_KEY_ALGORITHMS.join(",")
}

/**
 * The exec settings for a resolved destination.
 *
 * @since 0.1.0
 * @category constructors
 */
export const settingsOf = (r: SshConfig.Resolved, verbose: boolean): ExecOptions.Settings => ({
  host: r.hostname,
  port: r.port,
  user: r.user,
  identityFiles: r.identityFilesConfigured ? r.identityFiles : undefined,
  algorithms: { kex: r.kexAlgorithms, cipher: r.ciphers, mac: r.macs, hostKey: r.hostKeyAlgorithms },
  strictHostKeyChecking: r.strictHostKeyChecking,
  userKnownHostsFiles: r.userKnownHostsFiles,
  globalKnownHostsFiles: r.globalKnownHostsFiles,
  hashKnownHosts: r.hashKnownHosts,
  checkHostIP: r.checkHostIP,
  passwordAuthentication: r.passwordAuthentication,
  kbdInteractiveAuthentication: r.kbdInteractiveAuthentication,
  batchMode: r.batchMode,
  serverAliveInterval: r.serverAliveInterval,
  serverAliveCountMax: r.serverAliveCountMax,
  connectTimeout: r.connectTimeout,
  verbose,
  compression: r.compression,
  certificateFiles: r.certificateFiles,
  preferredAuthentications: r.preferredAuthentications,
  rekeyLimit: r.rekeyLimit,
  numberOfPasswordPrompts: r.numberOfPasswordPrompts,
  identityAgent: r.identityAgent,
  identitiesOnly: r.identitiesOnly,
  pubkeyAuthentication: r.pubkeyAuthentication,
  pubkeyAcceptedAlgorithms: r.pubkeyAcceptedAlgorithms,
  hostKeyAlias: r.hostKeyAlias,
  // SEC-39 (asyncssh CVE-2023-46446): with the agent forwarded, a server that lets us in without any proof could
  // be a rogue one waiting to use the agent.
  rejectTrivialAuth: SshClientConfig.forwardAgentPath(r, (name) => process.env[name]) !== undefined,
  // SEC-71: ssh's UpdateHostKeys default, as SshClientConfig.hostKeyPolicy decides it for the library.
  updateHostKeys: SshClientConfig.updatesHostKeys(r)
})

/**
 * Whether ssh would request a pty (ssh.c main): -t/-tt/-T and RequestTTY, a shell by default, and never when
 * stdin is not a terminal unless forced. Returns the decision and the notice ssh prints when it declines.
 *
 * @since 0.1.0
 * @category accessors
 */
export const decideTty = (options: {
  readonly requestTTY: SshConfig.Resolved["requestTTY"]
  readonly ttyCount: number
  readonly noTty: boolean
  readonly hasCommand: boolean
  readonly noSession: boolean
  readonly stdinIsTerminal: boolean
  readonly stdinNull: boolean
}): { readonly tty: boolean; readonly notice: string | undefined } => {
  const request = options.noTty ? "no" : options.ttyCount >= 2 ? "force" : options.ttyCount === 1 ? "yes" : options.requestTTY
  let tty = request === "yes" || request === "force"
  if (!options.hasCommand) tty = request !== "no"
  if (request === "no" || options.noSession) tty = false
  if ((!options.stdinIsTerminal || options.stdinNull) && request !== "force") {
    return { tty: false, notice: tty ? "Pseudo-terminal will not be allocated because stdin is not a terminal." : undefined }
  }
  return { tty, notice: undefined }
}

/** ssh_config LogLevel (and -v/-q) as the CLI's minimum log level. */
const logLevelOf = (args: SshArgs.SshArgs, level: SshConfig.Resolved["logLevel"]): LogLevel.LogLevel =>
  args.verbose > 0
    ? LogLevel.Debug
    : args.quiet || level === "QUIET"
    ? LogLevel.None
    : level === "FATAL" || level === "ERROR"
    ? LogLevel.Error
    : level === "INFO"
    ? LogLevel.Warning
    : level === "VERBOSE"
    ? LogLevel.Info
    : LogLevel.Debug

/**
 * The message for a failure; an unknown host key names ssh's options rather than the library's API.
 *
 * @since 0.1.0
 * @category accessors
 */
export const errorText = (
  e: { readonly message: string; readonly cause?: unknown; readonly hostKeyVerdict?: string | undefined }
): string => {
  // The transport keeps the policy's failure as a Cause.
  const cause = Cause.isCause(e.cause) ? Cause.squash(e.cause) : e.cause
  if (cause instanceof HostKeyPolicy.HostKeyRejected && cause.reason === "Unknown") {
    const where = cause.port === 22 ? cause.host : `[${cause.host}]:${cause.port}`
    return `No ${cause.keyType} host key is known for ${where} and you have requested strict checking ` +
      `(its fingerprint is ${cause.fingerprint}; searched: ${cause.files.join(", ") || "no files"}). ` +
      "Check the key and add it to known_hosts (ssh-keyscan prints it), or connect once with " +
      "-o StrictHostKeyChecking=accept-new.\nHost key verification failed."
  }
  // Without the rejection itself (a TransportError rebuilt by spreading loses its non-enumerable `cause`), the
  // verdict field still says the host is unknown: name ssh's option instead of the library's call.
  if (e.hostKeyVerdict === "Unknown") {
    return e.message.replace(/or use HostKeyPolicy\.acceptNew\(\)/, "or connect once with -o StrictHostKeyChecking=accept-new")
  }
  return e.message
}

/** Environment for the session: SetEnv pairs, then SendEnv patterns matched against the local environment. */
const sessionEnv = (r: SshConfig.Resolved): Record<string, string> =>
  SshClientConfig.sessionEnv(r, process.env)

/**
 * Reads the config files (-F, or the user's and the system's) and resolves the destination of a command
 * line as ssh does. `-i` files that do not exist are dropped with ssh's warning.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveArgs = (a: SshArgs.SshArgs) =>
  Effect.gen(function*() {
    const files = yield* NodeSshConfig.loadFiles({ configFile: a.configFile })
    const identityFiles: Array<string> = []
    for (const file of a.identityFiles) {
      const full = file.startsWith("~/") ? `${os.homedir()}/${file.slice(2)}` : file
      if (fs.existsSync(full)) identityFiles.push(full)
      else yield* Tty.printError(`Warning: Identity file ${full} not accessible: No such file or directory.`)
    }
    const r = yield* SshConfig.resolve(files, {
      ...NodeSshConfig.localInput({ allowExec: true }),
      host: a.host,
      user: a.user,
      port: a.port,
      options: a.options,
      identityFiles
    })
    // ssh.c: "UpdateHostKeys=ask is incompatible with remote command execution" (a command, or -T).
    return r.updateHostKeys === "ask" && (a.command.length > 0 || a.noTty) ? { ...r, updateHostKeys: "no" as const } : r
  })

/**
 * Runs `effect-ssh ssh` with `args` (the words after `ssh`) and returns the exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (args[0] === "--help") {
      yield* Effect.sync(() => process.stdout.write(`USAGE\n\n${SshArgs.USAGE}\n\nDESCRIPTION\n\nOpenSSH's ssh over effect-ssh: ssh_config, -G, a shell on a pty, or a command (docs/cli.md, docs/config.md).\n`))
      return 0
    }
    const parsed = SshArgs.parse(args)
    if (Either.isLeft(parsed)) {
      yield* Tty.printError(`effect-ssh: ${parsed.left.reason}\n${SshArgs.USAGE}`)
      return FAILURE_EXIT_CODE
    }
    const a = parsed.right
    const resolved = yield* resolveArgs(a)
    if (a.printConfig) {
      yield* Effect.sync(() => process.stdout.write(SshConfig.print(resolved, PRINT_DEFAULTS)))
      return 0
    }
    if (resolved.forkAfterAuthentication && !SshBackground.isBackground()) {
      // ssh.c: -f needs a command, -N or -W.
      if (a.command.length === 0 && resolved.remoteCommand === undefined && !a.noCommand && a.stdioForward === undefined) {
        yield* Tty.printError("Cannot fork into background without a command to execute.")
        return FAILURE_EXIT_CODE
      }
      return yield* SshBackground.detach
    }
    const logged = connectAndRun(a, resolved).pipe(Logger.withMinimumLogLevel(logLevelOf(a, resolved.logLevel)))
    return yield* a.logFile === undefined
      ? logged
      : Effect.provide(logged, Logger.replace(Runtime.stderrLogger, Exec.fileLogger(a.logFile)))
  }).pipe(
    Effect.catchAll((e) => Effect.as(Tty.printError(`effect-ssh: ${errorText(e)}`), FAILURE_EXIT_CODE))
  )

/** -X/-Y: the local display and its cookie (xauth; -X an untrusted one), or why X11 is not forwarded (ssh's words). */
const x11Options = (resolved: SshConfig.Resolved) =>
  Effect.gen(function*() {
    const { forward, trusted } = SshClientConfig.x11Forwarding(resolved)
    if (!forward) return undefined
    const display = process.env.DISPLAY
    if (display === undefined || display === "") {
      yield* Effect.logWarning("X11 forwarding requested but DISPLAY not set")
      return undefined
    }
    const cookie = yield* NodeX11.cookie(display, { trusted })
    return {
      display,
      cookie: Option.getOrUndefined(cookie),
      onRefused: "continue"
    } satisfies SshProcess.X11Options
  })

const connectAndRun = (a: SshArgs.SshArgs, resolved: SshConfig.Resolved) =>
  Effect.gen(function*() {
    for (const [name] of resolved.unimplemented) yield* Effect.logDebug(`option ${name} is parsed but not implemented`)
    const command = a.command.length > 0 ? a.command.join(" ") : resolved.remoteCommand
    if (a.command.length > 0 && resolved.remoteCommand !== undefined) {
      return yield* new SshArgs.SshUsageError({ reason: "Cannot execute command-line and remote command." })
    }
    const decision = decideTty({
      requestTTY: resolved.requestTTY,
      ttyCount: a.ttyCount,
      noTty: a.noTty,
      hasCommand: command !== undefined,
      noSession: a.noCommand,
      stdinIsTerminal: Tty.isInteractive(),
      stdinNull: a.stdinNull
    })
    if (decision.notice !== undefined && !a.quiet) yield* Tty.printError(decision.notice)
    const interactive = Tty.isInteractive() && !resolved.batchMode
    const connection = yield* dialPlan(a, resolved, interactive)
    if (a.stdioForward !== undefined) return yield* SshForward.stdio(connection, a.stdioForward)
    yield* SshForward.start(connection, resolved, a, a.quiet)
    // -f: logged in and the forwards are up; the foreground copy may exit now.
    if (SshBackground.isBackground()) yield* SshBackground.signalReady
    // -N: no session; the forwards run until the connection ends or the process is killed.
    if (a.noCommand) return yield* Effect.as(connection.transport.closed, FAILURE_EXIT_CODE)
    return yield* SshSession.run(connection, {
      command,
      subsystem: a.subsystem,
      tty: decision.tty,
      env: sessionEnv(resolved),
      x11: yield* x11Options(resolved),
      stdinNull: a.stdinNull || resolved.forkAfterAuthentication,
      host: resolved.hostname,
      onCommand: yield* SshForward.commandLine(connection, resolved, a.quiet),
      forwardAgent: forwardAgentOf(resolved)
    })
  }).pipe(Effect.scoped)

/** A hop as ProxyJump text (`user@host:port`, IPv6 in brackets). */
const hopText = (h: SshConfig.JumpHost): string =>
  `${h.user === undefined ? "" : `${h.user}@`}${h.host.includes(":") ? `[${h.host}]` : h.host}${h.port === undefined ? "" : `:${h.port}`}`

/** ssh would run itself once per hop; a config whose hops lead back to themselves stops here. */
const MAX_JUMP_DEPTH = 16

/** -A / ForwardAgent: the local agent to forward, if any (per-host opt-in, SEC-61). */
const forwardAgentOf = (r: SshConfig.Resolved) => {
  const path = SshClientConfig.forwardAgentPath(r, (name) => process.env[name])
  return path === undefined ? undefined : NodeAgent.forwarding(path)
}

/**
 * Connects as the config says: directly, through a ProxyCommand's stdio (`NodeProxyCommand`, its `%h %p %r`
 * single-quoted, SEC-69), or through ProxyJump hops as ssh does (ssh.c turns `-J h1,…,hn` into the ProxyCommand
 * `ssh -J h1,…,hn-1 -W %h:%p hn`): the last hop is resolved in ssh_config under its own name with the earlier
 * hops as its ProxyJump, so only the first hop's own ProxyJump or ProxyCommand lines apply, recursively. A hop
 * gets -F and -v but not -o, -i or the other options of the command line, as ssh passes none of them on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialPlan = (a: SshArgs.SshArgs, resolved: SshConfig.Resolved, interactive: boolean) =>
  dialResolved(a, resolved, interactive, 0)

const dialResolved = (
  a: SshArgs.SshArgs,
  resolved: SshConfig.Resolved,
  interactive: boolean,
  depth: number
): Effect.Effect<
  SshConnection,
  TransportError | AuthError | Tty.PromptCancelled | SshConfig.SshConfigError | SshArgs.SshUsageError,
  Scope.Scope | Dialer | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const settings = settingsOf(resolved, a.verbose > 0)
    const plan = SshClientConfig.proxyPlan(resolved)
    if (plan._tag === "Command") {
      const dialer = NodeProxyCommand.dialer(plan.template, { user: resolved.user })
      return yield* Effect.provideService(Login.connect(settings, resolved.user, interactive), Dialer, dialer)
    }
    if (plan._tag === "Direct") return yield* Login.connect(settings, resolved.user, interactive)
    if (depth >= MAX_JUMP_DEPTH) {
      return yield* new SshArgs.SshUsageError({ reason: `too many ProxyJump hops (more than ${MAX_JUMP_DEPTH}) reaching ${resolved.alias}` })
    }
    const files = yield* NodeSshConfig.loadFiles({ configFile: a.configFile })
    const last = resolved.proxyJump[resolved.proxyJump.length - 1]!
    const earlier = resolved.proxyJump.slice(0, -1)
    const hop = yield* SshConfig.resolve(files, {
      ...NodeSshConfig.localInput({ allowExec: true }),
      host: last.host,
      user: last.user,
      port: last.port,
      options: earlier.length > 0 ? [`ProxyJump ${earlier.map(hopText).join(",")}`] : [],
      identityFiles: []
    })
    yield* Effect.logDebug(`reaching ${resolved.alias} through ${hop.alias}`)
    const through = yield* dialResolved(a, hop, interactive, depth + 1)
    return yield* Effect.provideService(Login.connect(settings, resolved.user, interactive), Dialer, SshForward.dialerVia(through))
  })
