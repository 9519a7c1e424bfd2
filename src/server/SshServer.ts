/**
 * An SSH server's per-connection logic: user authentication with `ServerAuth` handlers, then session channels
 * served by exec / shell / subsystem handlers (RFC 4254 §6). Everything is refused unless a handler allows it
 * (deny by default, DESIGN.md §3). `effect-ssh/node`'s `NodeSshServer.serve` runs it on a TCP listener.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import * as ServerAuth from "../auth/ServerAuth.js"
import type { ChannelError, TransportError } from "../SshError.js"
import type * as Transport from "../transport/Transport.js"
import * as internal from "./internal/session.js"

/**
 * The pseudo-terminal a client asked for (RFC 4254 §6.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface PtyInfo {
  readonly term: string
  readonly cols: number
  readonly rows: number
  readonly widthPx: number
  readonly heightPx: number
  readonly modes: Uint8Array
}

/**
 * What a session handler gets: who, the pty and environment the client asked for, stdin as a Stream, stdout and
 * stderr as Sinks.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionContext {
  readonly username: string
  readonly pty: PtyInfo | undefined
  readonly env: Readonly<Record<string, string>>
  /** The client's stdin; ends at its EOF. A single consumer. */
  readonly stdin: Stream.Stream<Uint8Array, ChannelError | TransportError>
  readonly stdout: Sink.Sink<void, Uint8Array, never, ChannelError | TransportError>
  readonly stderr: Sink.Sink<void, Uint8Array, never, ChannelError | TransportError>
}

/**
 * How a session ended: an exit status, or a signal name (without "SIG") sent as exit-signal (RFC 4254 §6.10).
 *
 * @since 0.1.0
 * @category models
 */
export type SessionExit = number | { readonly signal: string; readonly message?: string | undefined }

/**
 * A session handler: returns how the session ended. A failure or defect of the handler ends the session with
 * exit status 255; its details are logged at debug level and never sent to the client.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionHandler<A extends object = object> = (
  context: SessionContext & A
) => Effect.Effect<SessionExit, unknown>

/**
 * The handlers of a server. Every field is optional; what is missing is refused.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerHandlers {
  readonly auth: ServerAuth.ServerAuthHandlers
  readonly authOptions?: ServerAuth.ServerAuthOptions | undefined
  readonly exec?: SessionHandler<{ readonly command: string }> | undefined
  readonly shell?: SessionHandler | undefined
  readonly subsystems?: Readonly<Record<string, SessionHandler>> | undefined
  /** Sessions per connection (sshd's MaxSessions, LIM-22: default 10). */
  readonly maxSessions?: number | undefined
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
  handlers: ServerHandlers
): Effect.Effect<void, unknown, Scope.Scope> => internal.handleConnection(transport, handlers)
