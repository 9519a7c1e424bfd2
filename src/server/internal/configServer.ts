/**
 * Serving a listener under an sshd_config: the transport settings (algorithms, RekeyLimit, LoginGraceTime,
 * MaxStartups), per-connection handlers (Match Address/LocalPort/LocalAddress/Host), per-user authentication and
 * session settings (Match User/Group: ForceCommand, PermitTTY, AcceptEnv, SetEnv, ChrootDirectory), MaxSessions,
 * MaxAuthTries, Banner, ClientAliveInterval (SEC-50), AuthenticationMethods, forwarding (AllowTcpForwarding,
 * AllowStreamLocalForwarding, GatewayPorts, PermitOpen, PermitListen, DisableForwarding), and per-source limits: penalties
 * after OpenSSH 9.8's PerSourcePenalties and PerSourceMaxStartups, so that stalled connections from one address
 * cannot crowd out others.
 *
 * @since 0.1.0
 */
import * as SocketServer from "@effect/platform/SocketServer"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ServerAuth from "../../auth/ServerAuth.js"
import type * as AgentForwarding from "../../client/AgentForwarding.js"
import * as SshdConfig from "../../config/SshdConfig.js"
import * as Forward from "./forward.js"
import * as Match from "../../keys/Match.js"
import { TransportError } from "../../SshError.js"
import { PeerAddress } from "../PeerAddress.js"
import type { ServerConfig, ServerHandlers, SessionContext, SessionExit, SessionHandler } from "../SshServer.js"
import * as ConfigAuth from "./configAuth.js"
import * as Idle from "./idle.js"
import * as Penalties from "./penalties.js"
import * as RunInternal from "./run.js"

/** Runs a session: `command` (undefined for a shell) in the context, with ChrootDirectory as `cwd`. */
export type SessionRunner = (
  context: SessionContext,
  command: string | undefined,
  options: { readonly cwd?: string | undefined }
) => Effect.Effect<SessionExit, unknown>

/** Everything a configured listener needs. */
export interface ConfiguredServer {
  readonly config: SshdConfig.SshdConfig
  /** The global settings (no Match applied). */
  readonly settings: SshdConfig.Settings
  readonly env: ConfigAuth.ConfigEnvironment
  readonly runner: SessionRunner
  /** Serve the Subsystem lines through `runner` (their command as the command). */
  readonly subsystems: boolean
  /** Host keys and backend; the rest is taken from the settings. */
  readonly server: ServerConfig
  /** PerSourceMaxStartups when the configuration does not set it (sshd: none). */
  readonly perSourceMaxStartups?: number | undefined
  /**
   * The in-process SFTP server for `Subsystem sftp internal-sftp`, confined to `root` (ChrootDirectory, else "/").
   * Served for "sftp" also when the configuration names no sftp subsystem at all (effect-ssh's default).
   */
  readonly internalSftp?: ((root: string) => SessionHandler) | undefined
  /** Makes a session's forwarded agent socket (`NodeAgent.serverForwarding().listen`); without it none is made. */
  readonly agentListen?: AgentForwarding.ServerOptions["listen"] | undefined
}

/** Where a listener listens, for Match LocalAddress / LocalPort. */
export interface Listener {
  readonly localAddress: string
  readonly localPort: number
}

/** The transport part of the configuration: algorithms, RekeyLimit, LoginGraceTime, MaxStartups. */
export const serverConfig = (c: ConfiguredServer): ServerConfig => {
  const s = c.settings
  const explicit = (name: string) => c.config.entries.some((e) => e.keyword.name === name && e.conditions.length === 0)
  return {
    ...c.server,
    algorithms: {
      ...c.server.algorithms,
      kex: s.kexAlgorithms,
      cipher: s.ciphers,
      mac: s.macs,
      ...(explicit("hostkeyalgorithms") ? { hostKey: s.hostKeyAlgorithms } : {})
    },
    rekey: {
      ...(s.rekeyLimit.bytes > 0 ? { bytes: s.rekeyLimit.bytes } : {}),
      ...(s.rekeyLimit.seconds > 0 ? { interval: Duration.seconds(s.rekeyLimit.seconds) } : {})
    },
    timeouts: { ...c.server.timeouts, handshake: grace(s.loginGraceTime) },
    maxStartups: s.maxStartups
  }
}

const grace = (seconds: number) => (seconds === 0 ? Duration.infinity : Duration.seconds(seconds))

const METHOD_NAMES: ReadonlySet<string> = new Set(["publickey", "password", "keyboard-interactive"])

/** AuthenticationMethods chains we can serve; chains naming hostbased or gssapi cannot complete and are dropped. */
const chains = (s: SshdConfig.Settings): ReadonlyArray<ReadonlyArray<ServerAuth.MethodName>> | undefined => {
  if (s.authenticationMethods === undefined) return undefined
  return s.authenticationMethods
    .map((c) => c.map((m) => m.replace(/:.*$/, "")))
    .filter((c) => c.every((m) => METHOD_NAMES.has(m)))
    .map((c) => c.filter((m): m is ServerAuth.MethodName => METHOD_NAMES.has(m)))
}

const accepts = (name: string, patterns: ReadonlyArray<string>) => patterns.some((p) => Match.glob(name, p))

/** PermitUserEnvironment: yes, no, or a pattern list of the variable names allowed. */
const userEnvironment = (s: SshdConfig.Settings, name: string) =>
  typeof s.permitUserEnvironment === "boolean" ? s.permitUserEnvironment : accepts(name, s.permitUserEnvironment.split(","))

/** Session handlers applying the per-user settings around `runner`. */
const sessions = (c: ConfiguredServer, settingsFor: ConfigAuth.SettingsFor, track: Track) => {
  const run = (ctx: SessionContext, command: string | undefined, subsystem: boolean, subsystemName?: string) =>
    Effect.gen(function*() {
      const s = settingsFor(ctx.username)
      if (Either.isLeft(s)) return yield* Effect.fail(s.left)
      const env: Record<string, string> = {}
      for (const [k, v] of Object.entries(ctx.env)) {
        // SSH_ORIGINAL_COMMAND comes from the server itself (an authorized_keys command=). authorized_keys
        // environment= is the operator's, under PermitUserEnvironment (sshd: not AcceptEnv, which filters only
        // what the client sends); the client's own variables pass AcceptEnv.
        if (k === "SSH_ORIGINAL_COMMAND") env[k] = v
        else if (Object.hasOwn(track.environment, k)) {
          if (userEnvironment(s.right, k)) env[k] = v
        } else if (accepts(k, s.right.acceptEnv)) env[k] = v
      }
      for (const { name, value } of s.right.setEnv) env[name] = value
      Object.assign(env, ctx.serverEnv)
      // The forwarded agent's socket comes from the server (never from the client's env requests).
      if (ctx.agentSocket !== undefined) env.SSH_AUTH_SOCK = ctx.agentSocket
      const forced = s.right.forceCommand
      if (forced !== undefined) {
        // sshd_config ForceCommand wins over everything, subsystems included; the client's request is shown.
        if (command !== undefined && !subsystem && env.SSH_ORIGINAL_COMMAND === undefined) env.SSH_ORIGINAL_COMMAND = command
      }
      const session = { ...ctx, env, pty: s.right.permitTTY ? ctx.pty : undefined }
      const runner = (x: SessionContext) => c.runner(x, forced ?? command, { cwd: s.right.chrootDirectory })
      // LIM-25: sshd 9.2 names a started session's channel session:command / session:shell / session:subsystem:NAME.
      const type = subsystem ? `session:subsystem:${subsystemName ?? ""}` : command === undefined ? "session:shell" : "session:command"
      const timeout = Idle.channelTimeoutFor(s.right.channelTimeouts, type)
      return yield* (timeout === undefined ? runner(session) : Idle.withChannelTimeout(session, timeout, runner))
    })
  const subsystems: Record<string, SessionHandler> = {}
  const internal = c.internalSftp
  const sftpIn = (name: string) => (ctx: SessionContext) =>
    Effect.gen(function*() {
      const s = settingsFor(ctx.username)
      if (Either.isLeft(s)) return yield* Effect.fail(s.left)
      const serve = internal!(s.right.chrootDirectory ?? "/")
      const timeout = Idle.channelTimeoutFor(s.right.channelTimeouts, `session:subsystem:${name}`)
      return yield* (timeout === undefined ? serve(ctx) : Idle.withChannelTimeout(ctx, timeout, serve))
    })
  for (const { command, name } of c.settings.subsystems) {
    if (internal !== undefined && command.trim().split(/\s+/)[0] === "internal-sftp") subsystems[name] = sftpIn(name)
    else if (c.subsystems) subsystems[name] = (ctx) => run(ctx, command, true, name)
  }
  if (internal !== undefined && !c.settings.subsystems.some((s) => s.name === "sftp")) subsystems.sftp = sftpIn("sftp")
  return {
    exec: (ctx: SessionContext & { readonly command: string }) => run(ctx, ctx.command, false),
    shell: (ctx: SessionContext) => run(ctx, undefined, false),
    subsystems
  }
}

/**
 * AllowAgentForwarding, as `effect-ssh serve` applies it: off unless the configuration names the keyword (sshd's
 * default is yes; DESIGN.md §2 keeps every forwarding off unless named, as for AllowTcpForwarding), then per user
 * (Match User/Group), with DisableForwarding turning it off too (OpenSSH CVE-2025-32728, SEC-48).
 */
const agentForwarding = (
  c: ConfiguredServer,
  settingsFor: ConfigAuth.SettingsFor
): AgentForwarding.ServerOptions | undefined =>
  c.agentListen === undefined || !c.config.entries.some((e) => e.keyword.name === "allowagentforwarding")
    ? undefined
    : {
      listen: c.agentListen,
      allow: (username) =>
        Effect.sync(() =>
          Either.match(settingsFor(username), {
            onLeft: () => false,
            onRight: (u) => u.allowAgentForwarding && !u.disableForwarding
          })
        )
    }

/** What a connection did, for its source's penalty. */
interface Track {
  failures: number
  accepted: boolean
  /** authorized_keys environment= of the accepted keys. */
  environment: Record<string, string>
}

const tracked = (h: ServerAuth.ServerAuthHandlers, track: Track): ServerAuth.ServerAuthHandlers => ({
  publicKey: h.publicKey === undefined ? undefined : (request) =>
    Effect.tap(h.publicKey!(request), (d) =>
      Effect.sync(() => {
        if (d === false) track.failures++
        else if (request.verified) {
          track.accepted = true
          if (typeof d === "object") Object.assign(track.environment, d.restrictions.environment)
        }
      })),
  password: h.password === undefined ? undefined : (request) =>
    Effect.tap(h.password!(request), (ok) => Effect.sync(() => (ok ? (track.accepted = true) : track.failures++))),
  keyboardInteractive: h.keyboardInteractive
})

/** The handlers of one connection from `address` on `listener`. */
export const connectionHandlers = (
  c: ConfiguredServer,
  listener: Listener,
  address: string | undefined,
  track: Track
): Effect.Effect<ServerHandlers> =>
  Effect.gen(function*() {
    const spec = { address, host: address, localAddress: listener.localAddress, localPort: listener.localPort }
    const settingsFor: ConfigAuth.SettingsFor = (user) =>
      SshdConfig.settings(c.config, { ...spec, user, groups: c.env.groups(user) })
    // Per connection, before the user is known: Match Address / LocalPort / Host blocks.
    const s = Either.getOrElse(SshdConfig.settings(c.config, spec), () => c.settings)
    // Every Banner file the configuration names (globally or in a Match block), read once per connection, so that
    // a Match User banner can be chosen when the user name arrives.
    const bannerFiles = new Set(c.config.entries.filter((e) => e.keyword.name === "banner").map((e) => e.args[0] ?? "none"))
    const banners = new Map<string, string>()
    for (const f of bannerFiles) {
      if (f === "none") continue
      const text = yield* c.env.readFile(f)
      if (text !== undefined) banners.set(f, new TextDecoder().decode(text))
    }
    const bannerOf = (u: SshdConfig.Settings) => (u.banner === undefined ? undefined : banners.get(u.banner))
    const required = chains(s)
    // With no chain we can serve (AuthenticationMethods naming only hostbased/gssapi), every method is refused
    // without asking a handler; a Match User block may still give that user a servable chain.
    const auth = ConfigAuth.handlers(settingsFor, c.env, address)
    const anyMethod: ReadonlyArray<ReadonlyArray<ServerAuth.MethodName>> = [
      ...(auth.publicKey === undefined ? [] : [["publickey" as const]]),
      ...(auth.password === undefined ? [] : [["password" as const]]),
      ...(auth.keyboardInteractive === undefined ? [] : [["keyboard-interactive" as const]])
    ]
    // Match User / Group: decided on the first USERAUTH_REQUEST (ServerAuth `forUser`), then kept for the
    // connection's MaxSessions, ClientAliveInterval and UnusedConnectionTimeout, read once authenticated.
    let user: SshdConfig.Settings = s
    const forUser = (username: string) => {
      user = Either.getOrElse(settingsFor(username), () => s)
      return { banner: bannerOf(user) ?? null, required: chains(user) ?? anyMethod, maxAuthTries: user.maxAuthTries }
    }
    return {
      auth: tracked(auth, track),
      authOptions: {
        banner: bannerOf(s),
        required,
        forUser,
        limits: { maxAuthTries: s.maxAuthTries },
        timeouts: { loginGrace: grace(s.loginGraceTime) },
        publicKeyAlgorithms: c.settings.pubkeyAcceptedAlgorithms,
        caSignatureAlgorithms: c.settings.caSignatureAlgorithms,
        remoteAddress: address
      },
      ...sessions(c, settingsFor, track),
      forwarding: Forward.fromSshdConfig(c.config, { spec, groups: c.env.groups }),
      agentForwarding: agentForwarding(c, settingsFor),
      get maxSessions() {
        return user.maxSessions
      },
      get unusedConnectionTimeout() {
        return user.unusedConnectionTimeout === undefined ? undefined : Duration.seconds(user.unusedConnectionTimeout)
      },
      get channelTimeouts() {
        return user.channelTimeouts
      },
      get keepalive() {
        return user.clientAliveInterval > 0
          ? { interval: Duration.seconds(user.clientAliveInterval), countMax: user.clientAliveCountMax }
          : undefined
      }
    }
  })

/** The penalty a finished connection earns (openssh 9.8 srclimit.c event classes). */
const classify = (cause: Cause.Cause<unknown> | undefined, track: Track, elapsedMs: number, graceMs: number) => {
  const error = cause === undefined ? undefined : Cause.squash(cause)
  if (error instanceof TransportError && error.origin === "Remote" &&
    (error.reason === "ProtocolViolation" || error.reason === "MacMismatch" || error.reason === "PacketTooLarge")) {
    return "crash" as const
  }
  if (track.accepted) return undefined
  if (track.failures > 0) return "authfail" as const
  if (graceMs > 0 && (elapsedMs >= graceMs || (error instanceof TransportError && error.reason === "Timeout"))) {
    return "grace-exceeded" as const
  }
  return "noauth" as const
}

const penaltyOptions = (s: SshdConfig.Settings): Penalties.PenaltyOptions | "off" | string => {
  const parsed = s.perSourcePenalties === undefined ? Penalties.DEFAULTS : Penalties.parse(s.perSourcePenalties)
  return typeof parsed === "object" ? { ...parsed, exempt: s.perSourcePenaltyExemptList } : parsed
}

/**
 * Serves every connection of the `SocketServer` in context under the configuration until interrupted. Sources
 * under penalty and sources over PerSourceMaxStartups are closed before any byte is sent.
 */
export const run = (
  c: ConfiguredServer,
  listener: Listener
): Effect.Effect<never, SocketServer.SocketServerError, SocketServer.SocketServer> =>
  Effect.gen(function*() {
    const config = serverConfig(c)
    const options = penaltyOptions(c.settings)
    if (typeof options === "string" && options !== "off") return yield* Effect.dieMessage(options)
    const penalties = typeof options === "string" ? undefined : new Penalties.Penalties(options)
    const perSourceLimit = c.settings.perSourceMaxStartups ?? c.perSourceMaxStartups
    const perSource = new Map<string, number>()
    const gate = RunInternal.makeGate(config.maxStartups!)
    const server = yield* SocketServer.SocketServer
    return yield* server.run((socket) =>
      Effect.gen(function*() {
        const address = Option.getOrUndefined(yield* Effect.serviceOption(PeerAddress))?.address
        const start = yield* Clock.currentTimeMillis
        const track: Track = { failures: 0, accepted: false, environment: {} }
        let admitted = false
        const handlers = yield* connectionHandlers(c, listener, address, track)
        const sourceGate: RunInternal.StartupGate = {
          pending: gate.pending,
          admit: Effect.gen(function*() {
            if (address !== undefined && penalties?.blocked(address, start) === true) {
              yield* Effect.logInfo(`drop connection from ${address}: penalty (PerSourcePenalties)`)
              return undefined
            }
            const mine = address === undefined ? 0 : perSource.get(address) ?? 0
            if (address !== undefined && perSourceLimit !== undefined && mine >= perSourceLimit) {
              yield* Effect.logInfo(`drop connection from ${address}: ${mine} unauthenticated (PerSourceMaxStartups)`)
              return undefined
            }
            const release = yield* gate.admit
            if (release === undefined) return undefined
            admitted = true
            if (address !== undefined) perSource.set(address, mine + 1)
            let counted = address !== undefined
            return Effect.zipRight(release, Effect.sync(() => {
              if (!counted) return
              counted = false
              const n = (perSource.get(address!) ?? 1) - 1
              if (n <= 0) perSource.delete(address!)
              else perSource.set(address!, n)
            }))
          })
        }
        yield* RunInternal.serveSocket(socket, config, handlers, sourceGate, (cause) =>
          Effect.gen(function*() {
            if (!admitted || address === undefined || penalties === undefined) return
            const now = yield* Clock.currentTimeMillis
            const event = classify(cause, track, now - start, c.settings.loginGraceTime * 1000)
            if (event === undefined) return
            penalties.record(address, event, now)
            yield* Effect.logDebug(`penalty ${event} for ${address}`)
          }))
      })
    )
  })
