/**
 * An SSH server's per-connection logic: user authentication with `ServerAuth` handlers, then session channels
 * served by exec / shell / subsystem handlers (RFC 4254 §6). Everything is refused unless a handler allows it
 * (deny by default, DESIGN.md §3). `run` serves every connection of an `@effect/platform` `SocketServer`;
 * `effect-ssh/node`'s `NodeSshServer.layer` provides one on TCP together with the host keys.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { SshServer } from "effect-ssh"
 *
 * const server = SshServer.run({
 *   auth: { publicKey: ({ key }) => Effect.succeed(key.fingerprint === "SHA256:…") },
 *   exec: ({ command, stdout }) =>
 *     Stream.make(`you ran: ${command}\n`).pipe(Stream.encodeText, Stream.run(stdout), Effect.as(0))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as ServerAuth from "../auth/ServerAuth.js"
import type * as AgentForwarding from "../client/AgentForwarding.js"
import * as SshdConfig from "../config/SshdConfig.js"
import type * as ConnectionMux from "../connection/ConnectionMux.js"
import type { CryptoBackend, PrivateKeyMaterial } from "../crypto/Backend.js"
import type * as HostKey from "../crypto/HostKey.js"
import type * as ForwardPolicy from "../forward/ForwardPolicy.js"
import type * as ServerSession from "../session/ServerSession.js"
import type * as SessionRequests from "../session/SessionRequests.js"
import type * as Transport from "../transport/Transport.js"
import * as Forward from "./internal/forward.js"
import * as runInternal from "./internal/run.js"
import * as internal from "./internal/connection.js"

/**
 * The pseudo-terminal a client asked for (RFC 4254 §6.2).
 *
 * @since 0.1.0
 * @category models
 */
export type PtyInfo = ServerSession.PtyInfo

/**
 * What a session handler gets: who, the pty and environment the client asked for, stdin as a Stream, stdout and
 * stderr as Sinks, window changes and signals.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionContext = ServerSession.SessionContext

/**
 * A terminal size from a window-change request (RFC 4254 §6.7).
 *
 * @since 0.1.0
 * @category models
 */
export type WindowSize = SessionRequests.WindowSize

/**
 * How a session ended: an exit status, or a signal name (without "SIG") sent as exit-signal (RFC 4254 §6.10).
 *
 * @since 0.1.0
 * @category models
 */
export type SessionExit = SessionRequests.SessionExit

/**
 * A session handler: returns how the session ended. A failure or defect of the handler ends the session with
 * exit status 255; its details are logged at debug level and never sent to the client.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionHandler<A extends object = object> = ServerSession.SessionHandler<A>

/**
 * The handlers of a server. Every field is optional; what is missing is refused.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerHandlers extends ServerSession.SessionPrograms {
  readonly auth: ServerAuth.ServerAuthHandlers
  readonly authOptions?: ServerAuth.ServerAuthOptions | undefined
  /** Sessions per connection (sshd's MaxSessions, LIM-22: default 10). */
  readonly maxSessions?: number | undefined
  /**
   * sshd's ClientAliveInterval / ClientAliveCountMax (SEC-50, LIM-24): after authentication, keepalive@openssh.com
   * every `interval`; after `countMax` intervals without any packet from the client the connection is closed.
   * Off by default.
   */
  readonly keepalive?: ConnectionMux.ConnectionMuxOptions["keepalive"]
  /**
   * sshd's UnusedConnectionTimeout (LIM-25): once authenticated, a connection that has had no open channel for
   * this long is closed (forwarding listeners do not count). Off by default.
   */
  readonly unusedConnectionTimeout?: Duration.DurationInput | undefined
  /**
   * sshd's ChannelTimeout (LIM-25) for the channels that are not sessions: `type` is a pattern over sshd 9.2's
   * names (`direct-tcpip`, `direct-streamlocal@openssh.com`, `forwarded-tcpip`, `forwarded-streamlocal@openssh.com`,
   * `x11-connection`, `agent-connection`; the first that matches counts, 0 means none); such a channel with no data
   * either way for `seconds` is closed. Read once authenticated. Off by default.
   */
  readonly channelTimeouts?: ReadonlyArray<{ readonly type: string; readonly seconds: number }> | undefined

  /**
   * Port and UNIX-socket forwarding (RFC 4254 §7): off unless enabled here or in `ServerConfig.forwarding`
   * (these fields win); always subject to the user's authorized_keys / certificate restrictions (SEC-48).
   */
  readonly forwarding?: ForwardPolicy.ForwardingOptions | undefined
  /**
   * Agent forwarding (auth-agent-req@openssh.com): refused unless given (`NodeAgent.serverForwarding()` on Node);
   * always subject to the user's authorized_keys / certificate restrictions (SEC-48).
   */
  readonly agentForwarding?: AgentForwarding.ServerOptions | undefined
}

/**
 * Serves one connection whose transport is established: authentication, then sessions until the connection
 * ends. Fails with the error that ended authentication or the connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handleConnection = (
  transport: Transport.Transport,
  handlers: ServerHandlers,
  options?: {
    /**
     * Runs once the client authenticated: `NodeTransport.serve` passes its MaxStartups release here, so that
     * an authenticated connection no longer counts as a startup (LIM-19).
     */
    readonly onAuthenticated?: Effect.Effect<void> | undefined
  }
): Effect.Effect<void, unknown, Scope.Scope> => internal.handleConnection(transport, handlers, options?.onAuthenticated)

/**
 * sshd's MaxStartups `start:rate:full` (LIM-19, SEC-38): from `start` unauthenticated connections on, a new
 * one is refused with probability `rate` %, rising to 100 % at `full`. Refused connections are closed before
 * our version string is sent. Default 10:30:100.
 *
 * @since 0.1.0
 * @category models
 */
export interface MaxStartups {
  readonly start: number
  readonly rate: number
  readonly full: number
}

/**
 * How the server presents itself and which transport limits it applies to every connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerConfig {
  /** The host keys to offer (at least one; one per type); a `CertifiedKey` offers its host certificate too. */
  readonly hostKeys: ReadonlyArray<PrivateKeyMaterial | HostKey.CertifiedKey>
  readonly algorithms?: Transport.AlgorithmOptions | undefined
  /** The crypto backend; default: the `Crypto` service in context (`NodeSshServer.layer` passes node:crypto). */
  readonly crypto?: CryptoBackend | undefined
  readonly version?: string | undefined
  readonly rekey?: Transport.TransportOptions["rekey"]
  readonly timeouts?: Transport.TransportOptions["timeouts"]
  readonly limits?: Transport.TransportOptions["limits"]
  readonly maxStartups?: MaxStartups | undefined
  /** sshd's AllowTcpForwarding, AllowStreamLocalForwarding, GatewayPorts, PermitOpen, PermitListen (all off). */
  readonly forwarding?: ForwardPolicy.ForwardingOptions | undefined
}

/**
 * The server's configuration as a service, so that `run` can be written once and served by any layer that
 * provides a `SocketServer` and this (`NodeSshServer.layer` on TCP).
 *
 * @since 0.1.0
 * @category tags
 */
export class SshServerConfig extends Context.Tag("effect-ssh/SshServerConfig")<SshServerConfig, ServerConfig>() {
  /**
   * An operator's sshd_config(5) text as a typed value (`SshdConfig.parse`): Match blocks, Include (with a
   * reader), first value wins; unknown keywords fail with the file and line. `SshdConfig.settings` then gives
   * the effective settings for a connection.
   *
   * @since 0.1.0
   */
  static readonly fromSshdConfig = SshdConfig.parse

  /**
   * The forwarding keywords of a parsed sshd_config (AllowTcpForwarding, AllowStreamLocalForwarding,
   * GatewayPorts, PermitOpen, PermitListen, DisableForwarding, X11Forwarding, X11DisplayOffset, X11UseLocalhost)
   * as `ServerConfig.forwarding`, with Match User/Group applied once the user is known. A keyword the file does not
   * name stays off (DESIGN.md §2).
   *
   * @since 0.1.0
   */
  static readonly forwardingFromSshdConfig = Forward.fromSshdConfig
}

/**
 * The address of the client on the other end of a socket (see `PeerAddress.ts`).
 *
 * @since 0.1.0
 * @category tags
 */
export { PeerAddress } from "./PeerAddress.js"

/**
 * Provides `SshServerConfig`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (config: ServerConfig): Layer.Layer<SshServerConfig> =>
  Layer.succeed(SshServerConfig, config)

/**
 * Serves every connection of the `SocketServer` in context with `handlers`, each in its own Scope (closed with
 * all its fibers and channels when the connection ends), until interrupted. Unauthenticated connections are
 * limited by `maxStartups`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  handlers: ServerHandlers
): Effect.Effect<never, SocketServer.SocketServerError, SocketServer.SocketServer | SshServerConfig> =>
  SshServerConfig.pipe(Effect.flatMap((config) => runInternal.run(config, handlers)))

/**
 * Serves one accepted socket: the server-role transport, then `handleConnection`, in its own Scope. For custom
 * listeners; `run` does this for every connection of a `SocketServer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serveSocket = (
  socket: Socket.Socket,
  config: ServerConfig,
  handlers: ServerHandlers
): Effect.Effect<void> =>
  runInternal.serveSocket(socket, config, handlers, runInternal.makeGate({ start: 1 << 30, rate: 100, full: 1 << 30 }))
