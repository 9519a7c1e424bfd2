/**
 * A remote command, shell or subsystem on a session channel (RFC 4254 §6): stdout and stderr as Streams, stdin
 * as a Sink, the exit status, signals and window changes. The process lives in the caller's Scope; closing the
 * Scope closes the channel.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as Scope from "effect/Scope"
import type { ConnectionMux } from "../connection/ConnectionMux.js"
import type { Channel } from "../connection/Channel.js"
import type { ChannelError, TransportError } from "../SshError.js"
import type * as ChannelRequests from "../wire/ChannelRequests.js"
import * as AgentRequest from "./internal/agentRequest.js"
import * as SessionRequests from "./SessionRequests.js"

/**
 * How a remote process ended: an exit status (RFC 4254 §6.10 exit-status) or a signal (exit-signal). When the
 * server sends neither before closing the channel, both are undefined.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitStatus extends SessionRequests.ExitReport {}

/**
 * A pseudo-terminal request (RFC 4254 §6.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface PtyOptions extends SessionRequests.PtyOptions {}

/**
 * Environment and pseudo-terminal for a remote process.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessOptions {
  /** Environment variables, sent as env requests (the server may refuse them: see sshd's AcceptEnv). */
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly pty?: PtyOptions | undefined
  /** X11 forwarding for this session (RFC 4254 §6.3, ssh -X/-Y); served by `SshConnection`'s exec and shell. */
  readonly x11?: X11Options | undefined
  /**
   * Agent forwarding for this session (`ssh -A`; OpenSSH PROTOCOL.agent): sends auth-agent-req@openssh.com and,
   * once the server accepts, serves each auth-agent@openssh.com channel it opens with `forwardAgent` while the
   * process's Scope lives. Per session and opt-in (SEC-61); without it such channels are refused (SEC-47).
   * `NodeAgent.forwarding()` relays to SSH_AUTH_SOCK, `AgentForwarding.fromAgentServer` to an in-process agent.
   */
  readonly forwardAgent?: ForwardAgent | undefined
}

/**
 * X11 forwarding of one session: the server gets a fake cookie; each X11 connection it forwards back is checked
 * against it and reaches the local display with the real one.
 *
 * @since 0.1.0
 * @category models
 */
export interface X11Options {
  /** The local display (`:0`, `localhost:10.0`); default: the DISPLAY environment variable. */
  readonly display?: string | undefined
  /**
   * The cookie the local X server expects, as hex (`xauth list` prints it; `NodeX11.cookie` reads it). Without
   * one, a random cookie is substituted, which only an X server without access control accepts (as ssh does
   * when xauth has no entry).
   */
  readonly cookie?: Redacted.Redacted<string> | undefined
  /** The authorization protocol; default MIT-MAGIC-COOKIE-1. */
  readonly authProtocol?: string | undefined
  /** Let the server forward one X11 connection only. */
  readonly singleConnection?: boolean | undefined
  /** When the server refuses x11-req: fail the start (default) or go on without X11, as ssh warns and goes on. */
  readonly onRefused?: "fail" | "continue" | undefined
}

/**
 * Where forwarded agent connections go: `serve` talks the agent protocol on one auth-agent@openssh.com channel
 * (usually by relaying it to a local agent) until it ends; the channel closes when it returns.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForwardAgent {
  /**
   * Serves one auth-agent@openssh.com channel. `session` identifies the SSH session it came through (the server's
   * host key, the session id and the server's signature on it): a relay to a real agent sends it as
   * session-bind@openssh.com with the forwarding flag, as ssh does, so that destination constraints hold.
   */
  readonly serve: (channel: Channel, session?: AgentSessionBinding) => Effect.Effect<void, unknown>
}

/**
 * What session-bind@openssh.com (OpenSSH PROTOCOL.agent §1) carries about one SSH session.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentSessionBinding {
  readonly hostKey: Uint8Array
  readonly sessionId: Uint8Array
  readonly signature: Uint8Array
}

/**
 * A running remote process.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshProcess {
  /**
   * The remote stdout; a single consumer (taking data opens the window, so a slow reader slows the remote).
   * Subscribing while another reader is active, or again after the end was read, is a defect (never a silent
   * empty stream).
   */
  readonly stdout: Stream.Stream<Uint8Array, ChannelError | TransportError>
  /**
   * The remote stderr (extended data type 1). While nobody reads it, it never holds up stdout or `exitStatus`:
   * its window is returned as it arrives and up to one window of it is kept for a later reader, the rest dropped
   * (as @effect/platform's `Command` drains what is not consumed). While read, it has stdout's backpressure.
   */
  readonly stderr: Stream.Stream<Uint8Array, ChannelError | TransportError>
  /** The remote stdin: everything written goes to the process; the end of the stream sends EOF. */
  readonly stdin: Sink.Sink<void, Uint8Array, never, ChannelError | TransportError>
  /** Writes to stdin without ending it. */
  readonly write: (data: Uint8Array) => Effect.Effect<void, ChannelError | TransportError>
  /** Sends EOF on stdin. */
  readonly closeStdin: Effect.Effect<void, TransportError>
  /** Waits for the process to end (exit-status or exit-signal, then the channel's close). */
  readonly exitStatus: Effect.Effect<ExitStatus, TransportError>
  /** Sends a signal (RFC 4254 §6.9), e.g. "TERM", "INT", "KILL"; servers may ignore it. */
  readonly signal: (name: string) => Effect.Effect<void, ChannelError | TransportError>
  /** Tells the remote pty its new size (RFC 4254 §6.7). */
  readonly resize: (size: { readonly cols: number; readonly rows: number; readonly widthPx?: number; readonly heightPx?: number }) => Effect.Effect<void, ChannelError | TransportError>
}

/**
 * Opens a session channel and starts `start` on it: exec, shell or subsystem (RFC 4254 §6.5).
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  mux: ConnectionMux,
  what: SessionRequests.Program,
  options?: ProcessOptions,
  /** The x11-req to send (its fake cookie registered by the caller), for `options.x11`. */
  x11Request?: ChannelRequests.X11Req
): Effect.Effect<SshProcess, ChannelError | TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const channel = yield* mux.open("session")
    let status: ExitStatus = {}
    // exit-status / exit-signal (RFC 4254 §6.10) are noted as they arrive (no fiber); the end comes at CLOSE.
    yield* channel.onRequest((req) => {
      status = SessionRequests.exitOf(req) ?? status
    })
    for (const [name, value] of Object.entries(options?.env ?? {})) {
      // RFC 4254 §6.4: want_reply false, as OpenSSH sends it; a refused variable is simply not set.
      yield* SessionRequests.send(channel, { _tag: "Env", name, value }, false)
    }
    if (options?.forwardAgent !== undefined) yield* AgentRequest.request(mux, channel, options.forwardAgent)
    if (options?.pty !== undefined) {
      yield* SessionRequests.required(channel, SessionRequests.pty(options.pty))
    }
    if (x11Request !== undefined) {
      // After pty-req and before the program, as ssh sends it (clientloop.c client_session2_setup).
      if (options?.x11?.onRefused !== "continue") yield* SessionRequests.required(channel, x11Request)
      else if (!(yield* SessionRequests.send(channel, x11Request, true))) {
        yield* Effect.logWarning("X11 forwarding request failed on the session channel")
      }
    }
    yield* SessionRequests.required(channel, SessionRequests.start(what))
    return {
      stdout: channel.data,
      stderr: channel.stderr,
      stdin: Sink.forEach((chunk: Uint8Array) => channel.write(chunk)).pipe(
        Sink.ensuringWith(() => Effect.ignore(channel.eof))
      ),
      write: channel.write,
      closeStdin: channel.eof,
      exitStatus: Effect.map(channel.closed, () => status),
      signal: (name) => Effect.asVoid(SessionRequests.send(channel, { _tag: "Signal", name }, false)),
      resize: (size) => Effect.asVoid(SessionRequests.send(channel, SessionRequests.windowChange(size), false))
    } satisfies SshProcess
  })
