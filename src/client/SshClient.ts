/**
 * Connecting to SSH servers: `SshClient.connect(options)` dials, runs the transport (host key checked by the
 * policy), authenticates, starts the connection layer, and returns an `SshConnection` that lives in the
 * caller's Scope. Use it for several connections; use `SshConnection.layer` for a program with one.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Console, Effect } from "effect"
 * import { Auth, SshClient } from "effect-ssh"
 * import { NodeSsh } from "effect-ssh/node"
 *
 * const program = Effect.gen(function*() {
 *   const ssh = yield* SshClient.connect({
 *     host: "example.com",
 *     username: "deploy",
 *     auth: [Auth.privateKeyFile("~/.ssh/id_ed25519")]
 *   })
 *   const { stdout } = yield* ssh.run("uname -a")
 *   yield* Console.log(stdout)
 * }).pipe(Effect.scoped)
 *
 * program.pipe(Effect.provide(NodeSsh.layer), NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Socket from "@effect/platform/Socket"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Auth from "../auth/AuthMethod.js"
import type { ConnectionMuxOptions } from "../connection/ConnectionMux.js"
import type { AuthError, TransportError } from "../SshError.js"
import type { AlgorithmOptions } from "../transport/Transport.js"
import type { Dialer } from "./Dialer.js"
import type { HostKeyPolicy } from "./HostKeyPolicy.js"
import * as internal from "./internal/connect.js"
import type { SshConnection } from "./SshConnection.js"

/**
 * Where to connect, as whom, and how to trust the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshClientOptions {
  readonly host: string
  /** Default 22. */
  readonly port?: number | undefined
  readonly username: string
  /** Credentials, tried in this order (RFC 4252; only those the server allows). */
  readonly auth: ReadonlyArray<Auth.AuthMethod>
  /**
   * Who decides whether the server's host key is trusted. Default: ~/.ssh/known_hosts, strict (an unknown or
   * changed key fails the connection).
   */
  readonly hostKeys?: HostKeyPolicy<FileSystem.FileSystem | Path.Path> | undefined
  /** Algorithm preferences: lists, or OpenSSH strings such as "+ssh-rsa" or "-*-sha1". */
  readonly algorithms?: AlgorithmOptions | undefined
  readonly timeouts?: {
    /** TCP connect (default 30 s). */
    readonly connect?: Duration.DurationInput | undefined
    /** Version exchange and first key exchange (default 120 s). */
    readonly handshake?: Duration.DurationInput | undefined
    /** User authentication (default 120 s). */
    readonly login?: Duration.DurationInput | undefined
    /** A channel open or channel request (exec, pty, subsystem…) waiting for the server's answer (no limit). */
    readonly request?: Duration.DurationInput | undefined
  } | undefined
  /** keepalive@openssh.com on an interval (OpenSSH ServerAliveInterval / ServerAliveCountMax). Off by default. */
  readonly keepalive?: ConnectionMuxOptions["keepalive"]
  /** Rekey after this many bytes or this long (defaults 1 GiB, 1 hour). */
  readonly rekey?: { readonly bytes?: number | undefined; readonly interval?: Duration.DurationInput | undefined } | undefined
  /** Receives the server's USERAUTH_BANNER (sanitised); the default logs it. */
  readonly onBanner?: ((text: string) => Effect.Effect<void>) | undefined
  /**
   * SEC-39 (asyncssh CVE-2023-46446): fail the login with DISCONNECT 14 when the server grants access after only
   * "none" (unless `Auth.none` is listed), a publickey query without a signature, or keyboard-interactive rounds
   * without a prompt. Default off. Whether or not it is set, a session started with `forwardAgent` on a connection
   * whose login proved nothing fails instead of exposing the agent.
   */
  readonly rejectTrivialAuth?: boolean | undefined
  /**
   * Jump hosts (ssh -J / ProxyJump), in order: the first is dialed, each next one and finally this host are
   * reached through the previous one's `direct-tcpip` channel. All live in the same Scope.
   */
  readonly via?: ReadonlyArray<Omit<SshClientOptions, "via">> | undefined
}

/**
 * Connects, authenticates and returns the connection; it is closed (DISCONNECT, then the socket) when the
 * Scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (
  options: SshClientOptions
) => Effect.Effect<
  SshConnection,
  TransportError | AuthError,
  Scope.Scope | Dialer | FileSystem.FileSystem | Path.Path
> = internal.connect

/**
 * Like `connect`, over a Socket you already have: a child's stdio, or a `direct-tcpip` channel of another
 * connection (a jump host).
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectOver: (
  socket: Socket.Socket,
  options: SshClientOptions
) => Effect.Effect<
  SshConnection,
  TransportError | AuthError,
  Scope.Scope | FileSystem.FileSystem | Path.Path
> = internal.connectOver
