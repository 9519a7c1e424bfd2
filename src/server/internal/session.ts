/**
 * The server's connection handling: ServerAuth, then a ConnectionMux that accepts session channels and runs
 * the handlers on them (RFC 4254 §6).
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as ServerAuth from "../../auth/ServerAuth.js"
import type { Channel, IncomingRequest } from "../../connection/Channel.js"
import * as ConnectionMux from "../../connection/ConnectionMux.js"
import type * as Transport from "../../transport/Transport.js"
import * as X11Server from "../../forward/X11Server.js"
import * as AgentForward from "./agentForward.js"
import * as Forward from "./forward.js"
import * as HostKeys from "./hostKeys.js"
import * as Idle from "./idle.js"
import * as ChannelRequests from "../../wire/ChannelRequests.js"
import type { PtyInfo, ServerConfig, ServerHandlers, SessionExit, SessionHandler, WindowSize } from "../SshServer.js"

const utf8 = new TextDecoder()

/** Window changes and signals kept for a handler that has not taken them yet: the latest win (SEC-45). */
const EVENT_BUFFER = 16

/** Sends how the session ended (RFC 4254 §6.10), then EOF; the mux closes the channel when `run` returns. */
const finish = (channel: Channel, exit: SessionExit) =>
  Effect.gen(function*() {
    const payload: ChannelRequests.ChannelRequestPayload = typeof exit === "number"
      ? { _tag: "ExitStatus", status: exit >>> 0 }
      : { _tag: "ExitSignal", signal: exit.signal, coreDumped: false, message: exit.message ?? "", language: "" }
    const { data, request } = ChannelRequests.encodeRequest(payload)
    yield* channel.eof
    yield* Effect.ignore(channel.request(request, data, false))
  })

const reply = (req: IncomingRequest, ok: boolean) => (req.reply ? req.reply(ok) : Effect.void)

/** What the session knows about who is on the other end, and what they may do (SEC-64, SEC-66). */
interface SessionOwner {
  readonly username: string
  readonly remoteAddress: string | undefined
  readonly restrictions: ServerAuth.Restrictions
  readonly mux: ConnectionMux.ConnectionMux
}

type Started = {
  readonly handler: SessionHandler<{ readonly command: string }>
  readonly command: string
}

/**
 * Serves one session channel: pty-req and env before the program (RFC 4254 §6.2, §6.4), then exactly one of
 * exec / shell / subsystem (§6.5). Once the program runs, window-change (§6.7) and signal (§6.9) requests go to
 * the handler; anything else that wants an answer is refused.
 */
const session = (owner: SessionOwner, handlers: ServerHandlers) => (channel: Channel) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(channel.requests)
    let pty: PtyInfo | undefined
    const env: Record<string, string> = {}
    let started: Started | undefined
    let x11Env: Readonly<Record<string, string>> | undefined
    let agentSocket: string | undefined
    let pending: ReadonlyArray<IncomingRequest> = []
    while (started === undefined) {
      const next = yield* Effect.option(pull)
      if (next._tag === "None") return
      const batch = Chunk.toReadonlyArray(next.value)
      for (let i = 0; i < batch.length; i++) {
        const req = batch[i]!
        const d = ChannelRequests.decodeRequest(req.request, req.data)
        if (d._tag === "Left") {
          yield* reply(req, false)
          continue
        }
        const r = d.right
        let handler: SessionHandler<{ readonly command: string }> | undefined
        let command = ""
        switch (r._tag) {
          case "PtyReq":
            if (owner.restrictions.pty === false) {
              // authorized_keys no-pty / restrict (SEC-64).
              yield* reply(req, false)
              continue
            }
            pty = { term: r.term, cols: r.cols, rows: r.rows, widthPx: r.widthPx, heightPx: r.heightPx, modes: r.modes }
            yield* reply(req, true)
            continue
          case "Env":
            env[r.name] = r.value
            yield* reply(req, true)
            continue
          case "X11Req": {
            // RFC 4254 §6.3.1: one display per session (src/forward/X11Server.ts; SEC-48).
            const set = x11Env === undefined ? yield* X11Server.request({ options: handlers.forwarding, ...owner, request: r }) : undefined
            x11Env ??= set
            yield* reply(req, set !== undefined)
            continue
          }
          case "AuthAgentReq": {
            // OpenSSH PROTOCOL.agent: a private agent socket for this session (once), gone with its Scope.
            const path = yield* AgentForward.request({ ...owner, options: handlers.agentForwarding, current: agentSocket })
            agentSocket ??= path
            yield* reply(req, path !== undefined)
            continue
          }
          case "Exec":
            handler = handlers.exec
            command = utf8.decode(r.command)
            break
          case "Shell":
            handler = handlers.shell
            break
          case "Subsystem":
            // SEC-70: subsystem names match exactly (`sftp ` is not `sftp`).
            handler = Object.hasOwn(handlers.subsystems ?? {}, r.name) ? handlers.subsystems![r.name] : undefined
            break
          default:
            // window-change, signal, keepalive@openssh.com … before a program: nothing to deliver them to.
            yield* reply(req, false)
            continue
        }
        const forced = owner.restrictions.forceCommand
        if (forced !== undefined) {
          // SEC-66: a forced command replaces exec, shell and subsystem alike (never a subsystem such as sftp);
          // the client's request is shown as SSH_ORIGINAL_COMMAND, as sshd does.
          if (r._tag === "Exec") env.SSH_ORIGINAL_COMMAND = command
          else delete env.SSH_ORIGINAL_COMMAND
          handler = handlers.exec
          command = forced
        }
        if (handler === undefined) {
          // Deny by default: no handler, no program (RFC 4254 §6.5 FAILURE, SEC-70).
          yield* reply(req, false)
          continue
        }
        yield* reply(req, true)
        started = { handler, command }
        pending = batch.slice(i + 1)
        break
      }
    }
    const windowChanges = yield* Queue.sliding<WindowSize>(EVENT_BUFFER)
    const signals = yield* Queue.sliding<string>(EVENT_BUFFER)
    const route = (req: IncomingRequest): void => {
      const d = ChannelRequests.decodeRequest(req.request, req.data)
      if (d._tag === "Right" && d.right._tag === "WindowChange") {
        const w = d.right
        // A sliding queue never suspends: the latest sizes win (SEC-45).
        Effect.runSync(Queue.offer(windowChanges, { cols: w.cols, rows: w.rows, widthPx: w.widthPx, heightPx: w.heightPx }))
        return
      }
      if (d._tag === "Right" && d.right._tag === "Signal") {
        Effect.runSync(Queue.offer(signals, d.right.name))
        return
      }
      // A second exec/shell, a late pty-req or env, or anything unknown: refused (RFC 4254 §6.5 allows one).
      // The reply is synchronous (sealed in this turn), so no fiber is needed for it.
      Effect.runSync(Effect.ignore(reply(req, false)))
    }
    // While the program runs, requests are routed as they arrive (no fiber, no queue that could grow).
    pending.forEach(route)
    yield* channel.onRequest(route)
    const exit = yield* started.handler({
      username: owner.username,
      remoteAddress: owner.remoteAddress,
      pty,
      // authorized_keys environment= wins over what the client sent.
      env: { ...env, ...owner.restrictions.environment, ...x11Env, ...(agentSocket === undefined ? {} : { SSH_AUTH_SOCK: agentSocket }) },
      serverEnv: { ...x11Env, ...(agentSocket === undefined ? {} : { SSH_AUTH_SOCK: agentSocket }) },
      agentSocket,
      command: started.command,
      stdin: channel.data,
      stdout: Sink.forEach((chunk: Uint8Array) => channel.write(chunk)),
      stderr: Sink.forEach((chunk: Uint8Array) => channel.writeStderr(chunk)),
      windowChanges: Stream.fromQueue(windowChanges),
      signals: Stream.fromQueue(signals)
    }).pipe(Effect.exit)
    if (Exit.isFailure(exit)) yield* Effect.logDebug("session handler failed", exit.cause)
    yield* finish(channel, Exit.isSuccess(exit) ? exit.value : 255)
  }).pipe(Effect.scoped)

/** @internal */
export const handleConnection = (
  transport: Transport.Transport,
  handlers: ServerHandlers,
  onAuthenticated?: Effect.Effect<void>,
  remoteAddress?: string,
  hostKeys?: Pick<ServerConfig, "hostKeys" | "crypto">
) =>
  Effect.gen(function*() {
    const authenticated = yield* ServerAuth.authenticate(transport, handlers.auth, {
      ...handlers.authOptions,
      remoteAddress: remoteAddress ?? handlers.authOptions?.remoteAddress
    })
    if (onAuthenticated !== undefined) yield* onAuthenticated
    let sessions = 0
    const maxSessions = handlers.maxSessions ?? 10
    const mux = yield* ConnectionMux.make(transport, authenticated, {
      keepalive: handlers.keepalive,
      acceptChannel: (open) =>
        Effect.sync((): ConnectionMux.ChannelAcceptance => {
          if (open.channelType !== "session") {
            return { _tag: "Reject", reason: 1, description: `${open.channelType} channels are not served` }
          }
          // SEC-42: RFC 4254 §5.1 SSH_OPEN_RESOURCE_SHORTAGE (4).
          if (sessions >= maxSessions) return { _tag: "Reject", reason: 4, description: "too many sessions (MaxSessions)" }
          sessions++
          return {
            _tag: "Accept",
            run: (channel) =>
              session({ ...authenticated, remoteAddress, mux }, handlers)(channel).pipe(Effect.ensuring(Effect.sync(() => sessions--)))
          }
        })
    })
    yield* Forward.install(mux, handlers.forwarding, authenticated)
    if (handlers.unusedConnectionTimeout !== undefined) yield* Idle.watchUnused(mux, transport, handlers.unusedConnectionTimeout)
    // SEC-71: hostkeys-00@openssh.com after authentication, and proofs on request.
    if (hostKeys !== undefined) yield* HostKeys.install(mux, transport, hostKeys.hostKeys, hostKeys.crypto)
    yield* transport.closed
  })
