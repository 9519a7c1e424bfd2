/**
 * The server's side of a session channel (RFC 4254 §6): pty-req and env before the program (§6.2, §6.4), then
 * exactly one of exec / shell / subsystem (§6.5), then window-change (§6.7) and signal (§6.9) for the program,
 * and exit-status / exit-signal when it ends (§6.10). Deny by default: a request nobody serves is refused.
 *
 * Fibers (DESIGN.md §6): the channel is served through `Channel.onRequest`, so an idle session — opened, with a
 * pty and environment, waiting for its program — holds no fiber. Requests are answered in order by a fiber that
 * exists only while some wait; the program runs in its own fiber, in the session's Scope (the channel's), which
 * the end of the channel closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as ServerAuth from "../auth/ServerAuth.js"
import type { Channel, IncomingRequest } from "../connection/Channel.js"
import type { ConnectionMux } from "../connection/ConnectionMux.js"
import type { ChannelError, TransportError } from "../SshError.js"
import * as ChannelRequests from "../wire/ChannelRequests.js"
import * as Output from "./internal/output.js"
import * as SessionRequests from "./SessionRequests.js"

/**
 * The pseudo-terminal a client asked for (RFC 4254 §6.2).
 *
 * @since 0.1.0
 * @category models
 */
export interface PtyInfo extends Omit<ChannelRequests.PtyReq, "_tag"> {}

/**
 * What a session handler gets: who, the pty and environment the client asked for, stdin as a Stream, stdout and
 * stderr as Sinks.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionContext {
  readonly username: string
  /** The client's address, when the listener knows it (TCP). */
  readonly remoteAddress?: string | undefined
  readonly pty: PtyInfo | undefined
  readonly env: Readonly<Record<string, string>>
  /**
   * What the server itself set for the session (DISPLAY and XAUTHORITY for X11, SSH_AUTH_SOCK for a forwarded
   * agent), also in `env`: not subject to AcceptEnv.
   */
  readonly serverEnv?: Readonly<Record<string, string>> | undefined
  /**
   * The session's forwarded agent socket, when the client asked for agent forwarding and it was allowed (also in
   * `env` as SSH_AUTH_SOCK).
   */
  readonly agentSocket?: string | undefined
  /** The client's stdin; ends at its EOF. A single consumer. */
  readonly stdin: Stream.Stream<Uint8Array, ChannelError | TransportError>
  readonly stdout: Sink.Sink<void, Uint8Array, never, ChannelError | TransportError>
  readonly stderr: Sink.Sink<void, Uint8Array, never, ChannelError | TransportError>
  /** Writes to stdout directly (waits for the window): for handlers that answer from many fibers, such as SFTP. */
  readonly write?: ((data: Uint8Array) => Effect.Effect<void, ChannelError | TransportError>) | undefined
  /**
   * The client's window-change requests (RFC 4254 §6.7) while the program runs; the latest 16 are kept for a
   * handler that does not take them. A single consumer.
   */
  readonly windowChanges: Stream.Stream<SessionRequests.WindowSize>
  /** Signal names the client sends, without "SIG" (RFC 4254 §6.9: `"INT"`, `"TERM"` …); the latest 16 are kept. */
  readonly signals: Stream.Stream<string>
}

/**
 * A session handler: returns how the session ended. A failure or defect of the handler ends the session with
 * exit status 255; its details are logged at debug level and never sent to the client.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionHandler<A extends object = object> = (
  context: SessionContext & A
) => Effect.Effect<SessionRequests.SessionExit, unknown>

/**
 * The programs a server offers on session channels; what is missing is refused.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionPrograms {
  readonly exec?: SessionHandler<{ readonly command: string }> | undefined
  readonly shell?: SessionHandler | undefined
  readonly subsystems?: Readonly<Record<string, SessionHandler>> | undefined
  /**
   * Session requests served beyond RFC 4254's core, before the program starts (x11-req, auth-agent-req@openssh.com:
   * the server layer supplies them, since their modules sit beside or above this one). Returns whether to answer
   * SUCCESS; what it acquires lives in the session's Scope, and what it sets for the program goes in
   * `session.serverEnv` (and `agentSocket`).
   */
  readonly extraRequest?: ((session: Session, request: ChannelRequests.ChannelRequestPayload) => Effect.Effect<boolean, never, Scope.Scope>) | undefined
}

/**
 * Who is on the other end and what they may do (SEC-64, SEC-66), and their connection (for requests that open
 * channels back to the client, such as agent or X11 forwarding).
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionOwner {
  readonly username: string
  readonly remoteAddress: string | undefined
  readonly restrictions: ServerAuth.Restrictions
  readonly mux: ConnectionMux
}

/**
 * One session as its requests see it: the owner, the channel, the environment gathered from env requests (a
 * request case may add to it, as agent forwarding adds SSH_AUTH_SOCK), the pty, and the session's Scope (closed
 * when the channel ends: what a case acquires there lives as long as the session).
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly owner: SessionOwner
  readonly channel: Channel
  readonly env: Record<string, string>
  readonly scope: Scope.Scope
  /** Variables the server sets for the program (X11's DISPLAY, the agent's SSH_AUTH_SOCK); they win over all others. */
  readonly serverEnv: Record<string, string>
  /** The forwarded agent's socket, once agent forwarding was set up for this session. */
  agentSocket: string | undefined
  pty: PtyInfo | undefined
  /** Set once the program started: where its window changes and signals go. */
  running: { readonly windowChanges: Queue.Queue<SessionRequests.WindowSize>; readonly signals: Queue.Queue<string> } | undefined
}

/** Window changes and signals kept for a handler that has not taken them yet: the latest win (SEC-45). */
const EVENT_BUFFER = 16

/**
 * Requests waiting for the one before them to be answered, before the channel is closed (a flood: a client sends
 * a handful per session).
 */
export const MAX_PENDING_REQUESTS = 256

const utf8 = new TextDecoder()

/**
 * Answers one request: true for SUCCESS. The switch of the session protocol; a case that serves a further request
 * calls its own module with what it needs (owner, env, Scope) and returns whether it succeeded.
 */
const answer = (
  s: Session,
  programs: SessionPrograms,
  r: ChannelRequests.ChannelRequestPayload,
  req: IncomingRequest
): Effect.Effect<boolean, never, Scope.Scope> => {
  const before = s.running === undefined
  switch (r._tag) {
    // ---- before the program (RFC 4254 §6.2, §6.4) ----
    case "PtyReq":
      // authorized_keys no-pty / restrict (SEC-64); a pty is asked for before the program only.
      if (!before || s.owner.restrictions.pty === false) return Effect.succeed(false)
      s.pty = { term: r.term, cols: r.cols, rows: r.rows, widthPx: r.widthPx, heightPx: r.heightPx, modes: r.modes }
      return Effect.succeed(true)
    case "Env":
      if (!before) return Effect.succeed(false)
      s.env[r.name] = r.value
      return Effect.succeed(true)
    // ---- the program: exactly one (§6.5) ----
    case "Exec":
      return before ? start(s, programs, req, r, programs.exec, utf8.decode(r.command)) : Effect.succeed(false)
    case "Shell":
      return before ? start(s, programs, req, r, programs.shell, "") : Effect.succeed(false)
    case "Subsystem": {
      if (!before) return Effect.succeed(false)
      // SEC-70: subsystem names match exactly (`sftp ` is not `sftp`).
      const handler = Object.hasOwn(programs.subsystems ?? {}, r.name) ? programs.subsystems![r.name] : undefined
      return start(s, programs, req, r, handler, "")
    }
    // ---- while it runs (§6.7, §6.9) ----
    case "WindowChange": {
      if (s.running === undefined) return Effect.succeed(false)
      // A sliding queue never suspends: the latest sizes win (SEC-45).
      const size = { cols: r.cols, rows: r.rows, widthPx: r.widthPx, heightPx: r.heightPx }
      return Effect.as(Queue.offer(s.running.windowChanges, size), true)
    }
    case "Signal":
      return s.running === undefined ? Effect.succeed(false) : Effect.as(Queue.offer(s.running.signals, r.name), true)
    default:
      // x11-req, auth-agent-req@openssh.com … before the program, when the server serves them; keepalive@openssh.com,
      // anything unknown, and what this server does not serve: FAILURE.
      return before && programs.extraRequest !== undefined ? programs.extraRequest(s, r) : Effect.succeed(false)
  }
}

/** Starts the program (at most once per channel, RFC 4254 §6.5) after answering SUCCESS. */
const start = (
  s: Session,
  programs: SessionPrograms,
  req: IncomingRequest,
  r: ChannelRequests.ChannelRequestPayload,
  asked: SessionHandler<{ readonly command: string }> | undefined,
  asCommand: string
): Effect.Effect<boolean, never, Scope.Scope> =>
  Effect.gen(function*() {
    let handler = asked
    let command = asCommand
    const forced = s.owner.restrictions.forceCommand
    if (forced !== undefined) {
      // SEC-66: a forced command replaces exec, shell and subsystem alike (never a subsystem such as sftp); the
      // client's request is shown as SSH_ORIGINAL_COMMAND, as sshd does.
      if (r._tag === "Exec") s.env.SSH_ORIGINAL_COMMAND = command
      else delete s.env.SSH_ORIGINAL_COMMAND
      handler = programs.exec
      command = forced
    }
    // Deny by default: no handler, no program (RFC 4254 §6.5 FAILURE, SEC-70).
    if (handler === undefined) return false
    const windowChanges = yield* Queue.sliding<SessionRequests.WindowSize>(EVENT_BUFFER)
    const signals = yield* Queue.sliding<string>(EVENT_BUFFER)
    s.running = { windowChanges, signals }
    const channel = s.channel
    const run = handler({
      username: s.owner.username,
      remoteAddress: s.owner.remoteAddress,
      pty: s.pty,
      // authorized_keys environment= wins over what the client sent, and what the server set wins over both.
      env: { ...s.env, ...s.owner.restrictions.environment, ...s.serverEnv },
      serverEnv: s.serverEnv,
      agentSocket: s.agentSocket,
      command,
      stdin: channel.data,
      stdout: Output.sink(channel, false),
      write: (chunk: Uint8Array) => channel.write(chunk),
      stderr: Output.sink(channel, true),
      windowChanges: Stream.fromQueue(windowChanges),
      signals: Stream.fromQueue(signals)
    })
    // SUCCESS goes out before the program can write (a reply is sent once: the caller's later one is a no-op).
    yield* SessionRequests.reply(req, true)
    return yield* Effect.as(
      Effect.forkIn(
        Effect.suspend(() => run).pipe(
          Effect.exit,
          Effect.flatMap((exit) =>
            Effect.zipRight(
              Exit.isFailure(exit) ? Effect.logDebug("session handler failed", exit.cause) : Effect.void,
              finish(channel, Exit.isSuccess(exit) ? exit.value : 255)
            )
          )
        ),
        s.scope
      ),
      true
    )
  })

/** Sends how the session ended (RFC 4254 §6.10) and EOF, then closes the channel. */
const finish = (channel: Channel, how: SessionRequests.SessionExit) =>
  Effect.gen(function*() {
    yield* Effect.ignore(channel.eof)
    yield* Effect.ignore(SessionRequests.send(channel, SessionRequests.exit(how), false))
    yield* Effect.ignore(channel.close)
  })

/**
 * Serves one session channel in its Scope (`ChannelAcceptance` "Attach"): installs the request handler and
 * returns, so the idle channel holds no fiber.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (owner: SessionOwner, programs: SessionPrograms) =>
(channel: Channel): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const session: Session = { owner, channel, env: {}, serverEnv: {}, agentSocket: undefined, scope, pty: undefined, running: undefined }
    const fibers = yield* FiberSet.make()
    const runFork = yield* FiberSet.runtime(fibers)<never>()
    const waiting: Array<IncomingRequest> = []
    let draining = false
    let flooded = false
    // One request at a time, in order, so that replies keep the order of the requests (RFC 4254 §5.4) and a
    // case may take its time (an effectful one); the fiber ends when nothing waits.
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      const req = waiting.shift()
      if (req === undefined) {
        draining = false
        return Effect.void
      }
      const decoded = ChannelRequests.decodeRequest(req.request, req.data)
      const ok = decoded._tag === "Left"
        ? Effect.succeed(false)
        : Scope.extend(answer(session, programs, decoded.right, req), scope)
      return Effect.flatMap(ok, (ok) => Effect.zipRight(SessionRequests.reply(req, ok), drain))
    })
    yield* channel.onRequest((req) => {
      if (flooded) return
      if (waiting.length >= MAX_PENDING_REQUESTS) {
        flooded = true
        waiting.length = 0
        runFork(Effect.ignore(channel.close))
        return
      }
      waiting.push(req)
      if (draining) return
      draining = true
      runFork(drain)
    })
  })
