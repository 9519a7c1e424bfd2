/**
 * An authenticated SSH connection, the facade users hold: run commands, open shells and subsystems, send global
 * requests. `SshClient.connect` makes one in the caller's Scope; `SshConnection.layer` provides one to a program.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Authenticated } from "../auth/Authenticated.js"
import type { ForwardError } from "../forward/ForwardError.js"
import type * as LocalForward from "../forward/LocalForward.js"
import type { LocalNet } from "../forward/LocalNet.js"
import type * as RemoteForward from "../forward/RemoteForward.js"
import type * as Tunnel from "../forward/Tunnel.js"
import type { ConnectionMux } from "../connection/ConnectionMux.js"
import type * as SshProcess from "../session/SshProcess.js"
import type { AuthError, ChannelError, ExitError, TransportError } from "../SshError.js"
import type { Transport } from "../transport/Transport.js"
import type { Dialer } from "./Dialer.js"
import * as internal from "./internal/connect.js"
import type { CommandLine } from "./ShellQuote.js"
import type { SshClientOptions } from "./SshClient.js"

/**
 * Options of `run` and `string`: those of a process, and what to send to its stdin.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<E = never> extends SshProcess.ProcessOptions {
  /**
   * Sent to the command's stdin, then EOF: text (UTF-8), bytes, or a Stream (whose failure fails the run). Without
   * it EOF is sent at once, so a command that reads stdin (`cat`, `wc`) sees an empty input instead of waiting
   * forever, as `ssh host cmd < /dev/null` would.
   */
  readonly stdin?: string | Uint8Array | Stream.Stream<Uint8Array, E> | undefined
}

/**
 * What `run` returns: the whole output as text (UTF-8) and how the command ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunResult {
  readonly stdout: string
  readonly stderr: string
  /** The exit status; undefined when the command was killed by a signal or the server sent none. */
  readonly exitCode: number | undefined
  /** The signal that killed the command (without "SIG"), if one did. */
  readonly signal: string | undefined
}

/**
 * An authenticated connection and what can be done with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshConnection {
  readonly transport: Transport
  readonly authenticated: Authenticated
  readonly mux: ConnectionMux
  /**
   * Starts `command` (RFC 4254 §6.5 exec) in the caller's Scope: stdout/stderr Streams, stdin Sink, exit status.
   * The channel closes with the Scope. A string goes to the remote shell as it is; argv words
   * (`["ls", "-l", name]`) are quoted for it first (see `ShellQuote`). stdin stays open until the `stdin` Sink
   * ends or `closeStdin` runs.
   */
  readonly exec: (
    command: CommandLine,
    options?: SshProcess.ProcessOptions
  ) => Effect.Effect<SshProcess.SshProcess, ChannelError | TransportError, Scope.Scope>
  /** Starts the user's login shell, with a pty unless `pty: undefined` is passed explicitly. */
  readonly shell: (
    options?: SshProcess.ProcessOptions
  ) => Effect.Effect<SshProcess.SshProcess, ChannelError | TransportError, Scope.Scope>
  /** Starts a subsystem such as "sftp" (RFC 4254 §6.5); `options` as for exec (env, `forwardAgent`). */
  readonly subsystem: (
    name: string,
    options?: SshProcess.ProcessOptions
  ) => Effect.Effect<SshProcess.SshProcess, ChannelError | TransportError, Scope.Scope>
  /**
   * Runs `command` to completion and collects its output as text; a non-zero exit is not an error here. Its
   * stdin gets `options.stdin` and then EOF (EOF at once without it).
   */
  readonly run: <E = never>(
    command: CommandLine,
    options?: RunOptions<E>
  ) => Effect.Effect<RunResult, E | ChannelError | TransportError>
  /**
   * Runs `command` and returns its stdout; fails with `ExitError` (with the tail of stderr) unless it exits 0.
   * stdin as for `run`.
   */
  readonly string: <E = never>(
    command: CommandLine,
    options?: RunOptions<E>
  ) => Effect.Effect<string, E | ExitError | ChannelError | TransportError>
  /** Sends a global request (RFC 4254 §4); `Some(data)` on success. */
  readonly globalRequest: (
    name: string,
    data: Uint8Array,
    wantReply: boolean
  ) => Effect.Effect<Option.Option<Uint8Array>, TransportError>
  /** Opens a `direct-tcpip` tunnel to `host:port` as seen from the server (RFC 4254 §7.2), closed with the Scope. */
  readonly openTcp: (host: string, port: number) => Effect.Effect<Tunnel.Tunnel, ForwardError, Scope.Scope>
  /** Opens a tunnel to a UNIX socket on the server (`direct-streamlocal@openssh.com`). */
  readonly openUnix: (path: string) => Effect.Effect<Tunnel.Tunnel, ForwardError, Scope.Scope>
  /** ssh -L: a local listener tunnelling each connection to `to`; listener and tunnels close with the Scope. */
  readonly forwardLocal: (
    options: LocalForward.LocalForwardOptions
  ) => Effect.Effect<LocalForward.LocalForward, ForwardError, Scope.Scope | LocalNet>
  /** ssh -R: the server listens and each connection is forwarded to `to` here; cancelled when the Scope closes. */
  readonly forwardRemote: (
    options: RemoteForward.RemoteForwardOptions
  ) => Effect.Effect<RemoteForward.RemoteForward, ForwardError, Scope.Scope | LocalNet>
  /** ssh -D: a local SOCKS 4/4a/5 server tunnelling to the destinations its clients name. */
  readonly forwardDynamic: (
    options: LocalForward.DynamicForwardOptions
  ) => Effect.Effect<LocalForward.LocalForward, ForwardError, Scope.Scope | LocalNet>
  /** Like `forwardRemote`, with each connection served by `handler` in this program. */
  readonly handleForwarded: (
    listen: RemoteForward.RemoteListen,
    handler: (connection: RemoteForward.ForwardedConnection) => Effect.Effect<void, unknown>
  ) => Effect.Effect<RemoteForward.RemoteForward, ForwardError, Scope.Scope>
  /** Sends DISCONNECT (reason 11) and closes the connection. */
  readonly disconnect: Effect.Effect<void>
}

/**
 * The SshConnection service.
 *
 * @since 0.1.0
 * @category tags
 */
export const SshConnection: Context.Tag<SshConnection, SshConnection> = Context.GenericTag<SshConnection>(
  "effect-ssh/SshConnection"
)

/**
 * One connection for the whole program: connects when the layer is built, disconnects when it is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: SshClientOptions
): Layer.Layer<SshConnection, TransportError | AuthError, Dialer | FileSystem.FileSystem | Path.Path> =>
  Layer.scoped(SshConnection, internal.connect(options))

/**
 * Like `layer`, with the options read from `Config` (e.g. `host: Config.string("SSH_HOST")`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<SshClientOptions>
): Layer.Layer<
  SshConnection,
  TransportError | AuthError | import("effect/ConfigError").ConfigError,
  Dialer | FileSystem.FileSystem | Path.Path
> =>
  Layer.scoped(
    SshConnection,
    Effect.flatMap(internal.unwrapConfig(options), internal.connect)
  )
