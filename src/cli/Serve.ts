/**
 * `effect-ssh serve [-f sshd_config] [-o Keyword=Value]... [-T [-C spec]] [-p port] [-h host_key_file]
 * [--listen host:port] [--host-key FILE]... [--authorized-keys FILE] [--password USER] [--exec local] [-d|-v]`:
 * an SSH server on `SshServer`, configured as sshd is (sshd_config(5): Match blocks, Include, first value wins;
 * `-T` prints the effective configuration as `sshd -T` does). Host keys are OpenSSH private key files; without
 * any, an ed25519 key is generated once in the per-user state directory. Logins by publickey (AuthorizedKeysFile,
 * TrustedUserCAKeys, RevokedKeys) and by password for one user (`--password USER`, the password in
 * `EFFECT_SSH_PASSWORD`). Sessions are served by an echo service, or with `--exec local` by local child
 * processes (`/bin/sh -c command`, as the user the server runs as).
 *
 * @since 0.1.0
 */
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SshdConfig from "../config/SshdConfig.js"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import * as AuthorizedKeys from "../keys/AuthorizedKeys.js"
import { NodeCrypto } from "../node/NodeCrypto.js"
import * as NodeForward from "../node/NodeForward.js"
import * as NodeX11 from "../node/NodeX11.js"
import * as NodeHostKeys from "../node/NodeHostKeys.js"
import * as NodeAgent from "../node/NodeAgent.js"
import * as NodeLocalProcess from "../node/NodeLocalProcess.js"
import * as NodeSftp from "../node/NodeSftp.js"
import * as NodeSshServer from "../node/NodeSshServer.js"
import * as ConfigServer from "../server/internal/configServer.js"
import * as Penalties from "../server/internal/penalties.js"
import * as ServeArgs from "./ServeArgs.js"
import * as ServeEnvironment from "./ServeEnvironment.js"
import * as Tty from "./Tty.js"

/**
 * A bad command line or configuration of `serve` (reported before listening).
 *
 * @since 0.1.0
 * @category errors
 */
export class ServeError extends Data.TaggedError("ServeError")<{ readonly message: string }> {}

/**
 * Where `serve` listens when neither the command line nor the configuration says (Port / ListenAddress).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_LISTEN = "127.0.0.1:2222"

/**
 * The environment variable that holds the password of `--password USER`.
 *
 * @since 0.1.0
 * @category constants
 */
export const PASSWORD_ENV = "EFFECT_SSH_PASSWORD"

/**
 * Unauthenticated connections one source address may hold when the configuration does not set
 * PerSourceMaxStartups (sshd's default is none): below MaxStartups' default start (10), so that one stalled
 * source never makes the server drop connections of others.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_PER_SOURCE_MAX_STARTUPS = 8

/**
 * The default host key file: `<state directory>/ssh_host_ed25519_key` (`$XDG_STATE_HOME/effect-ssh`, else
 * `~/.local/state/effect-ssh`).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultHostKey = (): string => path.join(ServeEnvironment.stateDirectory(), "ssh_host_ed25519_key")

const fail = (message: string) => Effect.fail(new ServeError({ message }))

/** The configuration: the -f file (with Include), then -o and the flags in front (they win, as in sshd). */
const loadConfig = (flags: ServeArgs.Flags) =>
  Effect.gen(function*() {
    let text = ""
    if (flags.file !== undefined) {
      text = yield* Effect.try({
        try: () => fs.readFileSync(flags.file!, "utf8"),
        catch: (e) => new ServeError({ message: `cannot read ${flags.file}: ${e instanceof Error ? e.message : e}` })
      })
    }
    const parsed = SshdConfig.parse(text, { file: flags.file ?? "sshd_config", include: ServeEnvironment.includeReader })
    if (Either.isLeft(parsed)) return yield* fail(parsed.left.message)
    const config = SshdConfig.withOverrides(parsed.right, ServeArgs.overrides(flags))
    if (Either.isLeft(config)) return yield* fail(config.left.message)
    return config.right
  })

const sha256 = (s: string): Buffer => crypto.createHash("sha256").update(s, "utf8").digest()

/** The `--password USER` verifier: constant-time over SHA-256 digests (SEC-27). */
const passwordCheck = (flags: ServeArgs.Flags) => {
  if (flags.password === undefined) return Effect.succeed(undefined)
  const secret = process.env[PASSWORD_ENV]
  if (secret === undefined || secret === "") return fail(`--password needs the password in $${PASSWORD_ENV}`)
  const expected = sha256(secret)
  const user = flags.password
  return Effect.succeed((request: { readonly username: string; readonly password: Redacted.Redacted<string> }) =>
    Effect.sync(() => {
      // Hash both sides so that the comparison is constant-time whatever the lengths (SEC-27).
      const same = crypto.timingSafeEqual(sha256(Redacted.value(request.password)), expected)
      return same && request.username === user
    }))
}

/**
 * Reads an unencrypted OpenSSH private key; when the file does not exist, generates an ed25519 key and saves it
 * (openssh-key-v1, mode 0600), creating its directory (mode 0700).
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadOrGenerateHostKey = (file: string): Effect.Effect<PrivateKeyMaterial, ServeError> =>
  Effect.gen(function*() {
    if (!fs.existsSync(file)) {
      yield* Effect.try({
        try: () => fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 }),
        catch: (e) => new ServeError({ message: `cannot create ${path.dirname(file)}: ${e instanceof Error ? e.message : e}` })
      })
    }
    const { generated, key } = yield* NodeHostKeys.loadOrGenerate(file, { type: "ed25519" }).pipe(
      Effect.mapError((e) => new ServeError({ message: e.message }))
    )
    if (generated) yield* Console.log(`effect-ssh serve: generated host key ${file}`)
    return key
  })

/**
 * A host key as `ssh-keygen -l` prints it: `256 SHA256:… FILE (ED25519)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeKey = (key: PrivateKeyMaterial, file: string): string => {
  const blob = HostKey.encodePublicKey(HostKey.publicKeyOf(key))
  const [bits, type] = key.type === "ed25519"
    ? [256, "ED25519"]
    : key.type === "ecdsa"
    ? [key.curve === "nistp256" ? 256 : key.curve === "nistp384" ? 384 : 521, "ECDSA"]
    : [key.n.toString(2).length, "RSA"]
  return `${bits} ${HostKey.fingerprintSha256(blob)} ${file} (${type})`
}

/** Reports, at start, the lines of a fixed authorized_keys file that authorise nothing (read again per login). */
const checkAuthorizedKeys = (file: string) =>
  Effect.gen(function*() {
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (e) {
      return yield* Effect.logWarning(`cannot read ${file}: ${e instanceof Error ? e.message : e}`)
    }
    const { entries, errors } = AuthorizedKeys.parse(text)
    for (const e of errors) yield* Effect.logWarning(`${file}:${e.line}: ${e.message}; line skipped`)
    if (entries.length === 0) yield* Effect.logWarning(`${file}: no keys`)
  })

/** `cannot listen on 127.0.0.1:2222: address already in use`, from the listener's error. */
const listenError = (shown: string, e: SocketServer.SocketServerError | NodeHostKeys.HostKeyFileError) => {
  const cause = "cause" in e ? e.cause : undefined
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
  const why = code === "EADDRINUSE"
    ? "address already in use (another server is listening there)"
    : code === "EACCES"
    ? "permission denied (ports below 1024 need privileges)"
    : code === "EADDRNOTAVAIL"
    ? "address not available on this machine"
    : cause instanceof Error
    ? cause.message
    : e.message
  return new ServeError({ message: `cannot listen on ${shown}: ${why}` })
}

const hostPort = (host: string, port: number) => `${host.includes(":") ? `[${host}]` : host}:${port}`

const encoder = new TextEncoder()

/** The echo service: `you ran: command`, and a shell that echoes stdin. */
const echo: ConfigServer.SessionRunner = (ctx, command) =>
  command === undefined
    ? Effect.as(Stream.run(ctx.stdin, ctx.stdout), 0)
    : Effect.as(Stream.run(Stream.make(encoder.encode(`you ran: ${command}\n`)), ctx.stdout), 0)

/** Local child processes; AcceptEnv has already filtered the client's variables. */
const local: ConfigServer.SessionRunner = (ctx, command, options) =>
  NodeLocalProcess.run(ctx, command, { acceptEnv: ["*"], cwd: options.cwd })

const serveAll = (flags: ServeArgs.Flags, config: SshdConfig.SshdConfig, settings: SshdConfig.Settings) =>
  Effect.gen(function*() {
    const password = yield* passwordCheck(flags)
    const files = settings.hostKeys.length > 0 ? settings.hostKeys : [defaultHostKey()]
    const keys: Array<PrivateKeyMaterial> = []
    for (const file of files) keys.push(yield* loadOrGenerateHostKey(file))
    const hostKeys = ServeEnvironment.withCertificates(keys, settings.hostCertificates)
    if (Either.isLeft(hostKeys)) return yield* fail(hostKeys.left)
    for (const i of config.ignored) {
      yield* Effect.logWarning(`${i.file} line ${i.line}: ${i.keyword} is not implemented by effect-ssh; ignored`)
    }
    const penalties = settings.perSourcePenalties === undefined ? undefined : Penalties.parse(settings.perSourcePenalties)
    if (typeof penalties === "string" && penalties !== "off") return yield* fail(penalties)
    const configured: ConfigServer.ConfiguredServer = {
      config,
      settings,
      env: ServeEnvironment.make(password),
      runner: flags.exec ? local : echo,
      subsystems: flags.exec,
      // SFTP in-process (sshd's internal-sftp), on unless the configuration names another sftp subsystem.
      internalSftp: (root) => NodeSftp.subsystem(root, { home: root === "/" ? process.cwd() : "/" }),
      // Forwarding connects and listens with Node's sockets; what is allowed comes from the configuration.
      server: { hostKeys: hostKeys.right, crypto: NodeCrypto, forwarding: { net: NodeForward.localNet, xauth: NodeX11.xauth() } },
      // Agent forwarding: a private socket per session, when AllowAgentForwarding says so.
      agentListen: NodeAgent.serverForwarding().listen,
      perSourceMaxStartups: DEFAULT_PER_SOURCE_MAX_STARTUPS
    }
    const keyFiles = settings.authorizedKeysFiles.filter((f) => f.toLowerCase() !== "none")
    for (const file of keyFiles.filter((f) => path.isAbsolute(f) && !f.includes("%"))) yield* checkAuthorizedKeys(file)
    if (password === undefined && keyFiles.length === 0 && settings.trustedUserCaKeys === undefined) {
      yield* Effect.logWarning("no AuthorizedKeysFile, TrustedUserCAKeys or --password: every login will be refused")
    }
    const explicitListen = config.entries.some((e) => e.keyword.name === "listenaddress" || e.keyword.name === "port")
    const listen = explicitListen ? settings.listen : [yield* ServeArgs.parseListen(DEFAULT_LISTEN)]
    const bound: Array<{ readonly host: string; readonly port: number }> = []
    for (const { host, port } of listen) {
      const context = yield* Layer.build(NodeSshServer.layerSocketServer({ host, port })).pipe(
        Effect.mapError((e) => listenError(hostPort(host, port), e))
      )
      const server = Layer.succeedContext(context)
      const address = yield* Effect.map(Effect.provide(ServeArgs.socketServer, server), (s) => s.address)
      const actual = address._tag === "TcpAddress" ? address.port : port
      yield* ConfigServer.run(configured, { localAddress: host, localPort: actual }).pipe(
        Effect.provide(server),
        Effect.forkScoped
      )
      bound.push({ host, port: actual })
      yield* Console.log(`effect-ssh serve: listening on ${hostPort(address._tag === "TcpAddress" ? address.hostname : host, actual)}`)
    }
    for (let i = 0; i < keys.length; i++) yield* Console.log(`effect-ssh serve: host key ${describeKey(keys[i]!, files[i]!)}`)
    yield* Console.log(`effect-ssh serve: ${flags.exec ? "running commands locally (/bin/sh -c)" : "echo service"}`)
    return bound
  })

/**
 * Starts serving as `serve` does with these arguments, until the Scope closes; returns the bound addresses.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  args: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<{ readonly host: string; readonly port: number }>, ServeError | ServeArgs.ServeArgsError, Scope.Scope> =>
  Effect.gen(function*() {
    const flags = yield* ServeArgs.parse(args)
    const config = yield* loadConfig(flags)
    const settings = SshdConfig.settings(config)
    if (Either.isLeft(settings)) return yield* fail(settings.left.reason)
    return yield* serveAll(flags, config, settings.right)
  })

/**
 * The values `serve` applies, where they differ from sshd's defaults: forwarding is off unless the file names
 * AllowTcpForwarding / AllowStreamLocalForwarding (DESIGN.md §2), and PerSourceMaxStartups defaults to 8.
 */
const effective = (config: SshdConfig.SshdConfig, s: SshdConfig.Settings): SshdConfig.Settings => {
  const named = (keyword: string) => config.entries.some((e) => e.keyword.name === keyword)
  return {
    ...s,
    allowTcpForwarding: named("allowtcpforwarding") ? s.allowTcpForwarding : "no",
    allowStreamLocalForwarding: named("allowstreamlocalforwarding") ? s.allowStreamLocalForwarding : "no",
    perSourceMaxStartups: s.perSourceMaxStartups ?? DEFAULT_PER_SOURCE_MAX_STARTUPS
  }
}

const printed = (config: SshdConfig.SshdConfig, flags: ServeArgs.Flags) => {
  const settings = SshdConfig.settings(config, flags.connection)
  return Either.isLeft(settings) ? fail(settings.left.reason) : Effect.succeed(SshdConfig.print(effective(config, settings.right)))
}

/**
 * What `serve -T` prints for these arguments (`-f`, `-o`, `-C` and the other flags): the effective configuration
 * in `sshd -T` form.
 *
 * @since 0.1.0
 * @category accessors
 */
export const effectiveConfig = (args: ReadonlyArray<string>): Effect.Effect<string, ServeError | ServeArgs.ServeArgsError> =>
  Effect.gen(function*() {
    const flags = yield* ServeArgs.parse(args)
    return yield* printed(yield* loadConfig(flags), flags)
  })

/**
 * Runs `serve` with its arguments (after the subcommand name); returns the exit code: 0 after `-T`, 1 when the
 * command line or the configuration is wrong or the server cannot start (the reason is printed on stderr).
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function*() {
    const flags = yield* ServeArgs.parse(args)
    if (flags.help) {
      yield* Console.log(ServeArgs.USAGE)
      return 0
    }
    const config = yield* loadConfig(flags)
    if (flags.test) {
      yield* Effect.flatMap(printed(config, flags), (text) => Effect.sync(() => process.stdout.write(text)))
      return 0
    }
    yield* start(args)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.catchAll((e) => Effect.as(Tty.printError(`effect-ssh serve: ${e.message}`), 1)),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Logger.withMinimumLogLevel(args.some((a) => a === "-v" || a === "--verbose" || a === "-d") ? LogLevel.Debug : LogLevel.Info)
  )

/**
 * Log lines on stderr, `effect-ssh serve: level: message`, with the error that ended a task or connection
 * summarised in one line (a fiber's unhandled error is shown by what it was, not as "Fiber terminated").
 */
const logger = Logger.make(({ cause, logLevel, message }) => {
  const parts = Array.isArray(message) ? message : [message]
  let text = parts.map((p) => (typeof p === "string" ? p : String(p))).join(" ")
  // Effect words an unobserved fiber failure as "… Fiber terminated with an unhandled error …" (the text may carry
  // a prefix or the fiber id); it is summarised the same way wherever it stands.
  if (text.includes("Fiber terminated")) text = "a connection task ended"
  const error = Cause.isEmpty(cause) ? undefined : Cause.squash(cause)
  const why = error === undefined ? "" : `: ${error instanceof Error ? error.message : String(error)}`
  process.stderr.write(`effect-ssh serve: ${logLevel.label.toLowerCase()}: ${text}${why}\n`)
})
