/**
 * The server's connection handling: ServerAuth, then a ConnectionMux that accepts session channels and runs
 * the handlers on them (RFC 4254 §6).
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as ServerAuth from "../../auth/ServerAuth.js"
import type { Channel } from "../../connection/Channel.js"
import * as ConnectionMux from "../../connection/ConnectionMux.js"
import type * as Transport from "../../transport/Transport.js"
import * as ChannelRequests from "../../wire/ChannelRequests.js"
import type { PtyInfo, ServerHandlers, SessionExit, SessionHandler } from "../SshServer.js"

const utf8 = new TextDecoder()

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

const session = (username: string, handlers: ServerHandlers) => (channel: Channel) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(channel.requests)
    let pty: PtyInfo | undefined
    const env: Record<string, string> = {}
    for (;;) {
      const next = yield* Effect.option(pull)
      if (next._tag === "None") return
      for (const req of Chunk.toReadonlyArray(next.value)) {
        const reply = (ok: boolean) => (req.reply ? req.reply(ok) : Effect.void)
        const d = ChannelRequests.decodeRequest(req.request, req.data)
        if (d._tag === "Left") {
          yield* reply(false)
          continue
        }
        const r = d.right
        let handler: SessionHandler<{ readonly command: string }> | undefined
        let command = ""
        switch (r._tag) {
          case "PtyReq":
            pty = { term: r.term, cols: r.cols, rows: r.rows, widthPx: r.widthPx, heightPx: r.heightPx, modes: r.modes }
            yield* reply(true)
            continue
          case "Env":
            env[r.name] = r.value
            yield* reply(true)
            continue
          case "Exec":
            handler = handlers.exec
            command = utf8.decode(r.command)
            break
          case "Shell":
            handler = handlers.shell
            break
          case "Subsystem":
            handler = handlers.subsystems?.[r.name]
            break
          default:
            // window-change, signal, keepalive@openssh.com …: nothing to do here; refuse what wants a reply.
            yield* reply(false)
            continue
        }
        if (handler === undefined) {
          // Deny by default: no handler, no program (RFC 4254 §6.5 FAILURE).
          yield* reply(false)
          continue
        }
        yield* reply(true)
        const exit = yield* handler({
          username,
          pty,
          env: { ...env },
          command,
          stdin: channel.data,
          stdout: Sink.forEach((chunk: Uint8Array) => channel.write(chunk)),
          stderr: Sink.forEach((chunk: Uint8Array) => channel.writeStderr(chunk))
        }).pipe(Effect.exit)
        if (Exit.isFailure(exit)) yield* Effect.logDebug("session handler failed", exit.cause)
        yield* finish(channel, Exit.isSuccess(exit) ? exit.value : 255)
        return
      }
    }
  }).pipe(Effect.scoped)

/** @internal */
export const handleConnection = (transport: Transport.Transport, handlers: ServerHandlers) =>
  Effect.gen(function*() {
    const authenticated = yield* ServerAuth.authenticate(transport, handlers.auth, handlers.authOptions)
    let sessions = 0
    const maxSessions = handlers.maxSessions ?? 10
    yield* ConnectionMux.make(transport, authenticated, {
      acceptChannel: (open) =>
        Effect.sync((): ConnectionMux.ChannelAcceptance => {
          if (open.channelType !== "session") {
            return { _tag: "Reject", reason: 1, description: `${open.channelType} channels are not served` }
          }
          if (sessions >= maxSessions) return { _tag: "Reject", reason: 2, description: "too many sessions (MaxSessions)" }
          sessions++
          return {
            _tag: "Accept",
            run: (channel) =>
              session(authenticated.username, handlers)(channel).pipe(Effect.ensuring(Effect.sync(() => sessions--)))
          }
        })
    })
    yield* transport.closed
  })
