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
import * as ForwardPolicy from "../../forward/ForwardPolicy.js"
import * as Match from "../../keys/Match.js"
import { TransportError } from "../../SshError.js"
import { PeerAddress } from "../PeerAddress.js"
import type { ServerConfig, ServerHandlers, SessionContext, SessionExit, SessionHandler } from "../SshServer.js"
import * as ConfigAuth from "./configAuth.js"
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

/** Session handlers applying the per-user settings around `runner`. */
const sessions = (c: ConfiguredServer, settingsFor: ConfigAuth.SettingsFor) => {
  const run = (ctx: SessionContext, command: string | undefined, subsystem: boolean) =>
    Effect.gen(function*() {
      const s = settingsFor(ctx.username)
      if (Either.isLeft(s)) return yield* Effect.fail(s.left)
      const env: Record<string, string> = {}
      for (const [k, v] of Object.entries(ctx.env)) {
        // AcceptEnv; SSH_ORIGINAL_COMMAND comes from the server itself (an authorized_keys command=).
        if (k === "SSH_ORIGINAL_COMMAND" || accepts(k, s.right.acceptEnv)) env[k] = v
      }
      for (const { name, value } of s.right.setEnv) env[name] = value
      // The forwarded agent's socket comes from the server (never from the client's env requests).
      if (ctx.agentSocket !== undefined) env.SSH_AUTH_SOCK = ctx.agentSocket
      const forced = s.right.forceCommand
      if (forced !== undefined) {
        // sshd_config ForceCommand wins over everything, subsystems included; the client's request is shown.
        if (command !== undefined && !subsystem && env.SSH_ORIGINAL_COMMAND === undefined) env.SSH_ORIGINAL_COMMAND = command
      }
      return yield* c.runner(
        { ...ctx, env, pty: s.right.permitTTY ? ctx.pty : undefined },
        forced ?? command,
        { cwd: s.right.chrootDirectory }
      )
    })
  const subsystems: Record<string, SessionHandler> = {}
  const internal = c.internalSftp
  const sftpIn = (ctx: SessionContext) =>
    Effect.gen(function*() {
      const s = settingsFor(ctx.username)
      if (Either.isLeft(s)) return yield* Effect.fail(s.left)
      return yield* internal!(s.right.chrootDirectory ?? "/")(ctx)
    })
  for (const { command, name } of c.settings.subsystems) {
    if (internal !== undefined && command.trim().split(/\s+/)[0] === "internal-sftp") subsystems[name] = sftpIn
    else if (c.subsystems) subsystems[name] = (ctx) => run(ctx, command, true)
  }
  if (internal !== undefined && !c.settings.subsystems.some((s) => s.name === "sftp")) subsystems.sftp = sftpIn
  return {
    exec: (ctx: SessionContext & { readonly command: string }) => run(ctx, ctx.command, false),
    shell: (ctx: SessionContext) => run(ctx, undefined, false),
    subsystems
  }
}

/**
 * sshd's forwarding keywords as the server's options (SEC-48): DisableForwarding overrides both Allow*
 * keywords (servconf.c), and PermitOpen/PermitListen "any" is no list, "none" an empty one.
 */
export const forwardingOf = (
  s: SshdConfig.Settings,
  named: { readonly tcp: boolean; readonly streamLocal: boolean } = { tcp: true, streamLocal: true }
): ForwardPolicy.ForwardingOptions => ({
  // DESIGN.md §2: `effect-ssh serve` forwards nothing unless the configuration names the keyword (sshd: yes).
  allowTcpForwarding: s.disableForwarding || !named.tcp ? "no" : s.allowTcpForwarding,
  allowStreamLocalForwarding: s.disableForwarding || !named.streamLocal ? "no" : s.allowStreamLocalForwarding,
  gatewayPorts: s.gatewayPorts,
  permitOpen: s.permitOpen === "any" ? undefined : s.permitOpen === "none" ? [] : s.permitOpen,
  permitListen: s.permitListen === "any" ? undefined : s.permitListen === "none" ? [] : s.permitListen
})

/**
 * The connection's forwarding (its Match Address/LocalPort/Host settings), with the user's own settings (Match
 * User/Group) checked again for each direct-tcpip and UNIX-socket path once the user is known.
 */
const forwarding = (
  c: ConfiguredServer,
  s: SshdConfig.Settings,
  settingsFor: ConfigAuth.SettingsFor
): ForwardPolicy.ForwardingOptions => {
  // Anywhere in the file, Match blocks included: a keyword named in any block is decided by the settings.
  const names = (keyword: string) => c.config.entries.some((e) => e.keyword.name === keyword)
  const named = { tcp: names("allowtcpforwarding"), streamLocal: names("allowstreamlocalforwarding") }
  const userOptions = (username: string) =>
    Either.match(settingsFor(username), { onLeft: () => undefined, onRight: (u) => forwardingOf(u, named) })
  return {
    ...forwardingOf(s, named),
    directTcpip: (request) =>
      Effect.sync(() => {
        const o = userOptions(request.username)
        const allowed = o !== undefined && ForwardPolicy.tcpAllowed(o, {}, "local") &&
          ForwardPolicy.permitsOpen(o.permitOpen, request.host, request.port)
        return allowed ? { _tag: "Connect" as const } : { _tag: "Deny" as const }
      }),
    streamLocalPath: (request) =>
      Effect.sync(() => {
        const o = userOptions(request.username)
        return o !== undefined && ForwardPolicy.streamLocalAllowed(o, {}, request.direction)
      })
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
}

const tracked = (h: ServerAuth.ServerAuthHandlers, track: Track): ServerAuth.ServerAuthHandlers => ({
  publicKey: h.publicKey === undefined ? undefined : (request) =>
    Effect.tap(h.publicKey!(request), (d) =>
      Effect.sync(() => {
        if (d === false) track.failures++
        else if (request.verified) track.accepted = true
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
    const banner = s.banner === undefined ? undefined : yield* c.env.readFile(s.banner)
    const required = chains(s)
    const auth = required !== undefined && required.length === 0 ? {} : ConfigAuth.handlers(settingsFor, c.env, address)
    return {
      auth: tracked(auth, track),
      authOptions: {
        banner: banner === undefined ? undefined : new TextDecoder().decode(banner),
        required,
        limits: { maxAuthTries: s.maxAuthTries },
        timeouts: { loginGrace: grace(s.loginGraceTime) },
        publicKeyAlgorithms: c.settings.pubkeyAcceptedAlgorithms,
        caSignatureAlgorithms: c.settings.caSignatureAlgorithms,
        remoteAddress: address
      },
      ...sessions(c, settingsFor),
      forwarding: forwarding(c, s, settingsFor),
      agentForwarding: agentForwarding(c, settingsFor),
      maxSessions: s.maxSessions,
      keepalive: s.clientAliveInterval > 0
        ? { interval: Duration.seconds(s.clientAliveInterval), countMax: s.clientAliveCountMax }
        : undefined
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
        const track: Track = { failures: 0, accepted: false }
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
