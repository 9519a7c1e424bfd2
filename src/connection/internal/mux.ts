/**
 * The connection layer's dispatcher: one fiber takes the transport's messages in batches and routes them
 * through the pure channel state (ChannelState, FlowControl) to per-channel mailboxes. Channel mailboxes are
 * bounded by the window we advertise: the peer cannot send more than that without a violation (SEC-43), so
 * no queue here grows with the network.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Authenticated } from "../../auth/Authenticated.js"
import { ChannelError, DisconnectReason, TransportError } from "../../SshError.js"
import type * as Transport from "../../transport/Transport.js"
import * as ConnectionMessages from "../../wire/ConnectionMessages.js"
import { MessageId } from "../../wire/MessageId.js"
import type { Channel, IncomingRequest } from "../Channel.js"
import { ChannelIds, ChannelState } from "../ChannelState.js"
import type { ChannelAcceptance, ConnectionMux, ConnectionMuxOptions, GlobalRequestReply } from "../ConnectionMux.js"
import { isRefused, isViolation, type Violation } from "../FlowControl.js"

interface Rec {
  /** Our channel number, set once allocated. */
  id: number
  readonly channelType: string
  readonly state: ChannelState
  readonly opened: Deferred.Deferred<void, ChannelError>
  readonly data: Mailbox.Mailbox<Uint8Array, TransportError>
  readonly stderr: Mailbox.Mailbox<Uint8Array, TransportError>
  readonly requests: Mailbox.Mailbox<IncomingRequest, TransportError>
  readonly replies: Array<Deferred.Deferred<boolean, ChannelError | TransportError>>
  readonly window: Effect.Latch
  readonly closed: Deferred.Deferred<void, TransportError>
  /** Opened by the peer: its requests are answered by our handler, not automatically. */
  readonly accepted: boolean
}

/** LIM-23: outstanding want_reply global requests from the peer. */
const MAX_PENDING_GLOBAL_REPLIES = 64

const closedError = (rec: Rec, description: string) =>
  new ChannelError({ reason: "Closed", channelType: rec.channelType, description })

/** @internal */
export const make = (
  transport: Transport.Transport,
  _authenticated: Authenticated,
  options: ConnectionMuxOptions
): Effect.Effect<ConnectionMux, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const ids = new ChannelIds<Rec>(options.maxChannels)
    /** Channels that are not yet closed on both sides, for failing them all at once. */
    const live = new Set<Rec>()
    const globalReplies: Array<Deferred.Deferred<Option.Option<Uint8Array>, TransportError>> = []
    let failure: TransportError | undefined
    let lastHeard = 0
    type OpenHandler = (open: { readonly channelType: string; readonly data: Uint8Array }) => Effect.Effect<ChannelAcceptance, unknown>
    type GlobalHandler = (
      request: { readonly name: string; readonly data: Uint8Array; readonly wantReply: boolean }
    ) => Effect.Effect<GlobalRequestReply, unknown>
    /** Channel types and global request names served while their registrant's Scope lives. */
    const channelHandlers = new Map<string, OpenHandler>()
    const globalHandlers = new Map<string, GlobalHandler>()
    /** RFC 4254 §4: replies go out in the order of the requests; each waits for the one before it. */
    let previousGlobalReply: Deferred.Deferred<void> | undefined
    let pendingGlobalReplies = 0

    const violated = (v: Violation) => transport.disconnect(DisconnectReason.ProtocolError, `${v.rule}: ${v.description}`)

    // Everything waiting on the connection fails with the same error (STYLE.md §6).
    const failAll = (err: TransportError) =>
      Effect.gen(function*() {
        if (failure !== undefined) return
        failure = err
        for (const rec of live) {
          yield* Deferred.fail(rec.opened, closedError(rec, err.message))
          yield* rec.data.fail(err)
          yield* rec.stderr.fail(err)
          yield* rec.requests.fail(err)
          for (const r of rec.replies.splice(0)) yield* Deferred.fail(r, err)
          yield* Deferred.fail(rec.closed, err)
          rec.window.unsafeOpen()
        }
        for (const r of globalReplies.splice(0)) yield* Deferred.fail(r, err)
      })

    const endChannel = (rec: Rec) =>
      Effect.gen(function*() {
        yield* rec.data.end
        yield* rec.stderr.end
        yield* rec.requests.end
        for (const r of rec.replies.splice(0)) yield* Deferred.fail(r, closedError(rec, "closed by the peer"))
        rec.window.unsafeOpen()
        yield* Deferred.succeed(rec.closed, undefined)
        ids.free(rec.id)
        live.delete(rec)
      })

    const send = (msg: ConnectionMessages.ConnectionMessage) => transport.send(ConnectionMessages.encode(msg))
    const sendAdjust = (rec: Rec, bytes: number) =>
      send({ _tag: "ChannelWindowAdjust", recipient: rec.state.remoteId!, bytes })

    const lookup = (recipient: number, what: string): Rec | Violation => ids.lookup(recipient, what)

    const dispatch = (payload: Uint8Array): Effect.Effect<void, TransportError> => {
      const type = payload[0]!
      if (type === MessageId.CHANNEL_DATA) {
        // The hot path: no copy of the data (decodeChannelData returns a view).
        const d = ConnectionMessages.decodeChannelData(payload)
        if (d._tag === "Left") return transport.disconnect(2, `malformed CHANNEL_DATA: ${d.left.description}`)
        const rec = lookup(d.right.recipient, "CHANNEL_DATA")
        if (isViolation(rec)) return violated(rec)
        const ev = rec.state.onData(d.right.data.length)
        if (isViolation(ev)) return violated(ev)
        if (ev._tag === "Deliver") {
          rec.data.unsafeOffer(d.right.data)
          return Effect.void
        }
        return ev.adjust > 0 ? sendAdjust(rec, ev.adjust) : Effect.void
      }
      const decoded = ConnectionMessages.decode(payload)
      if (decoded._tag === "Left") {
        if (type >= 50 && type < 80) {
          return transport.disconnect(2, `user authentication message ${type} after authentication (SEC-39)`)
        }
        return transport.disconnect(2, `malformed connection message ${type}: ${decoded.left.description}`)
      }
      const m = decoded.right
      switch (m._tag) {
        case "ChannelExtendedData": {
          const rec = lookup(m.recipient, "CHANNEL_EXTENDED_DATA")
          if (isViolation(rec)) return violated(rec)
          const handled = m.dataType === ConnectionMessages.EXTENDED_DATA_STDERR
          const ev = rec.state.onExtendedData(m.data.length, handled)
          if (isViolation(ev)) return violated(ev)
          if (ev._tag === "Deliver") {
            rec.stderr.unsafeOffer(m.data)
            return Effect.void
          }
          return ev.adjust > 0 ? sendAdjust(rec, ev.adjust) : Effect.void
        }
        case "ChannelWindowAdjust": {
          const rec = lookup(m.recipient, "CHANNEL_WINDOW_ADJUST")
          if (isViolation(rec)) return violated(rec)
          const ev = rec.state.onWindowAdjust(m.bytes)
          if (isViolation(ev)) return violated(ev)
          rec.window.unsafeOpen()
          return Effect.void
        }
        case "ChannelOpenConfirmation": {
          const rec = lookup(m.recipient, "CHANNEL_OPEN_CONFIRMATION")
          if (isViolation(rec)) return violated(rec)
          const ev = rec.state.onOpenConfirmation(m.sender, m.initialWindow, m.maxPacket)
          if (isViolation(ev)) return violated(ev)
          if (ev._tag === "Opened") return Deferred.succeed(rec.opened, undefined)
          return Effect.zipRight(
            send({ _tag: "ChannelClose", recipient: m.sender }),
            Deferred.fail(rec.opened, new ChannelError({
              reason: "OpenFailed",
              channelType: rec.channelType,
              description: ev.description
            }))
          )
        }
        case "ChannelOpenFailure": {
          const rec = lookup(m.recipient, "CHANNEL_OPEN_FAILURE")
          if (isViolation(rec)) return violated(rec)
          const ev = rec.state.onOpenFailure()
          if (isViolation(ev)) return violated(ev)
          return Effect.zipRight(
            Deferred.fail(rec.opened, new ChannelError({
              reason: "OpenFailed",
              channelType: rec.channelType,
              openFailure: m.reason,
              description: m.description
            })),
            endChannel(rec)
          )
        }
        case "ChannelEof": {
          const rec = lookup(m.recipient, "CHANNEL_EOF")
          if (isViolation(rec)) return violated(rec)
          const ev = rec.state.onEof()
          if (isViolation(ev)) return violated(ev)
          return ev._tag === "Ok" ? Effect.zipRight(rec.data.end, rec.stderr.end) : Effect.void
        }
        case "ChannelClose": {
          const rec = lookup(m.recipient, "CHANNEL_CLOSE")
          if (isViolation(rec)) return violated(rec)
          const ev = rec.state.onClose()
          if (isViolation(ev)) return violated(ev)
          const reply = ev.sendClose ? send({ _tag: "ChannelClose", recipient: rec.state.remoteId! }) : Effect.void
          return Effect.zipRight(reply, endChannel(rec))
        }
        case "ChannelRequest": {
          const rec = lookup(m.recipient, "CHANNEL_REQUEST")
          if (isViolation(rec)) return violated(rec)
          const ev = rec.state.onRequest(m.wantReply)
          if (isViolation(ev)) return violated(ev)
          if (ev._tag === "Ignored") return Effect.void
          if (rec.accepted && m.wantReply) {
            // A channel the peer opened: our handler answers (RFC 4254 §5.4), exactly once.
            let answered = false
            rec.requests.unsafeOffer({
              request: m.request,
              wantReply: true,
              data: m.data,
              reply: (ok) =>
                Effect.suspend(() => {
                  if (answered || rec.state.closeSent) return Effect.void
                  answered = true
                  rec.state.replies.replied()
                  return send({ _tag: ok ? "ChannelSuccess" : "ChannelFailure", recipient: rec.state.remoteId! })
                })
            })
            return Effect.void
          }
          rec.requests.unsafeOffer({ request: m.request, wantReply: m.wantReply, data: m.data })
          if (!m.wantReply) return Effect.void
          // The client serves no channel requests that need an answer (keepalive@openssh.com expects FAILURE).
          rec.state.replies.replied()
          return send({ _tag: "ChannelFailure", recipient: rec.state.remoteId! })
        }
        case "ChannelSuccess":
        case "ChannelFailure": {
          const rec = lookup(m.recipient, m._tag === "ChannelSuccess" ? "CHANNEL_SUCCESS" : "CHANNEL_FAILURE")
          if (isViolation(rec)) return violated(rec)
          const ev = rec.state.onReply()
          if (isViolation(ev)) return violated(ev)
          // SEC-45: an unsolicited reply is dropped, never queued.
          const waiter = ev === "Matched" ? rec.replies.shift() : undefined
          return waiter === undefined ? Effect.void : Deferred.succeed(waiter, m._tag === "ChannelSuccess")
        }
        case "ChannelOpen": {
          const handler = channelHandlers.get(m.channelType) ?? options.acceptChannel
          if (handler !== undefined) return Effect.asVoid(Effect.forkIn(accept(m, handler), scope))
          // SEC-47: without a handler (the client role) no channel is accepted that we did not ask for.
          return send({
            _tag: "ChannelOpenFailure",
            recipient: m.sender,
            reason: ConnectionMessages.OpenFailureReason.ADMINISTRATIVELY_PROHIBITED,
            description: "channel opens are not accepted",
            language: ""
          })
        }
        case "GlobalRequest":
          return onGlobalRequest(m)
        case "RequestSuccess":
        case "RequestFailure": {
          const waiter = globalReplies.shift()
          if (waiter === undefined) return transport.disconnect(2, "global request reply without a request (SEC-45)")
          return Deferred.succeed(waiter, m._tag === "RequestSuccess" ? Option.some(m.data) : Option.none())
        }
        default:
          return Effect.void
      }
    }

    const dispatcher = Effect.gen(function*() {
      for (;;) {
        const batch = yield* transport.receiveAll
        lastHeard++
        for (const payload of batch) {
          // The data path answers Effect.void synchronously: skip the yield for it (one per packet).
          const step = dispatch(payload)
          if (step !== Effect.void) yield* step
        }
      }
    }).pipe(Effect.catchAll(failAll))
    yield* Effect.forkScoped(dispatcher)

    // The per-request timeout (channel opens and channel requests); none by default.
    const requestTimeout = options.requestTimeout === undefined ? undefined : Duration.decode(options.requestTimeout)
    const awaitReply = <A, E>(wait: Effect.Effect<A, E>, onTimeout: () => ChannelError) =>
      requestTimeout === undefined ? wait : Effect.timeoutFail(wait, { duration: requestTimeout, onTimeout })

    const consumed = (rec: Rec) => (chunk: Chunk.Chunk<Uint8Array>) => {
      let n = 0
      for (const c of chunk) n += c.length
      const adjust = rec.state.consumed(n)
      return adjust > 0 ? Effect.as(Effect.ignore(sendAdjust(rec, adjust)), chunk) : Effect.succeed(chunk)
    }

    const writeData = (rec: Rec, data: Uint8Array, stderr: boolean): Effect.Effect<void, ChannelError | TransportError> =>
      Effect.suspend(function loop(offset = 0): Effect.Effect<void, ChannelError | TransportError> {
        if (failure !== undefined) return Effect.fail(failure)
        const batch: Array<Uint8Array> = []
        while (offset < data.length) {
          const n = rec.state.closeReceived || rec.state.closeSent ? 0 : rec.state.sendable(data.length - offset)
          if (n === 0) break
          const part = data.subarray(offset, offset + n)
          batch.push(
            stderr
              ? ConnectionMessages.encode({
                _tag: "ChannelExtendedData",
                recipient: rec.state.remoteId!,
                dataType: ConnectionMessages.EXTENDED_DATA_STDERR,
                data: part
              })
              : ConnectionMessages.encodeChannelData(rec.state.remoteId!, part)
          )
          rec.state.sent(n)
          offset += n
        }
        const sent = batch.length > 0 ? transport.sendAll(batch) : Effect.void
        if (offset >= data.length) return sent
        if (rec.state.closeReceived || rec.state.closeSent) {
          return Effect.zipRight(sent, Effect.fail(closedError(rec, "the channel closed before all data was sent")))
        }
        // Out of window: wait for WINDOW_ADJUST (or the end of the channel), then continue.
        rec.window.unsafeClose()
        return sent.pipe(Effect.zipRight(rec.window.await), Effect.zipRight(Effect.suspend(() => loop(offset))))
      })

    const makeRec = (channelType: string, state: ChannelState, accepted: boolean) =>
      Effect.gen(function*() {
        const rec: Rec = {
          id: -1,
          channelType,
          state,
          opened: yield* Deferred.make<void, ChannelError>(),
          data: yield* Mailbox.make<Uint8Array, TransportError>(),
          stderr: yield* Mailbox.make<Uint8Array, TransportError>(),
          requests: yield* Mailbox.make<IncomingRequest, TransportError>(),
          replies: [],
          window: yield* Effect.makeLatch(true),
          closed: yield* Deferred.make<void, TransportError>(),
          accepted
        }
        return rec
      })

    const closeChannel = (rec: Rec) =>
      Effect.suspend(() => {
        if (failure !== undefined || rec.state.phase === "Closed") return Effect.void
        const how = rec.state.sendClose()
        return how === "Send" ? Effect.ignore(send({ _tag: "ChannelClose", recipient: rec.state.remoteId! })) : Effect.void
      })

    const makeChannel = (rec: Rec): Channel => ({
      id: rec.id,
      channelType: rec.channelType,
      data: Mailbox.toStream(rec.data).pipe(Stream.mapChunksEffect(consumed(rec))),
      stderr: Mailbox.toStream(rec.stderr).pipe(Stream.mapChunksEffect(consumed(rec))),
      requests: Mailbox.toStream(rec.requests),
      write: (data) => writeData(rec, data, false),
      writeStderr: (data) => writeData(rec, data, true),
      eof: Effect.suspend(() =>
        rec.state.sendEof() ? send({ _tag: "ChannelEof", recipient: rec.state.remoteId! }) : Effect.void
      ),
      request: (request, data, wantReply) =>
        Effect.gen(function*() {
          if (failure !== undefined) return yield* Effect.fail(failure)
          if (!rec.state.sendRequest(wantReply)) return yield* Effect.fail(closedError(rec, `${request}: channel closing`))
          const reply = yield* Deferred.make<boolean, ChannelError | TransportError>()
          if (wantReply) rec.replies.push(reply)
          yield* send({ _tag: "ChannelRequest", recipient: rec.state.remoteId!, request, wantReply, data })
          if (!wantReply) return true
          return yield* awaitReply(Deferred.await(reply), () =>
            new ChannelError({
              reason: "RequestFailed",
              channelType: rec.channelType,
              request,
              description: `no reply to ${request} within ${Duration.format(requestTimeout!)}`
            }))
        }),
      close: Effect.suspend(() =>
        rec.state.sendClose() === "Send" ? send({ _tag: "ChannelClose", recipient: rec.state.remoteId! }) : Effect.void
      ),
      closed: Deferred.await(rec.closed)
    })

    const refuseOpen = (recipient: number, reason: number, description: string) =>
      send({ _tag: "ChannelOpenFailure", recipient, reason, description, language: "" })

    /** A CHANNEL_OPEN from the peer, decided by its handler (deny on any failure, SEC-10). */
    const accept = (m: ConnectionMessages.ChannelOpen, handler: OpenHandler) =>
      Effect.gen(function*() {
        const decision = yield* Effect.suspend(() => handler({ channelType: m.channelType, data: m.data })).pipe(
          Effect.exit
        )
        if (Exit.isFailure(decision) || decision.value._tag === "Reject") {
          const reject = Exit.isSuccess(decision) && decision.value._tag === "Reject" ? decision.value : undefined
          return yield* refuseOpen(m.sender, reject?.reason ?? 1, reject?.description ?? "channel refused")
        }
        const state = ChannelState.accept(m.sender, m.initialWindow, m.maxPacket, {
          initialWindow: options.window,
          maxPacket: options.maxPacket
        })
        // SEC-42 / LIM-21: unusable parameters are refused and nothing is allocated.
        if (isRefused(state)) return yield* refuseOpen(m.sender, 2, state.description)
        const rec = yield* makeRec(m.channelType, state, true)
        const id = ids.allocate(rec)
        if (id === undefined) return yield* refuseOpen(m.sender, 4, "too many channels (LIM-22)")
        rec.id = id
        live.add(rec)
        yield* Deferred.succeed(rec.opened, undefined)
        yield* send({
          _tag: "ChannelOpenConfirmation",
          recipient: m.sender,
          sender: id,
          initialWindow: state.inbound.initialWindow,
          maxPacket: state.inbound.maxPacket,
          data: new Uint8Array(0)
        })
        yield* decision.value.run(makeChannel(rec)).pipe(
          Effect.catchAllCause((cause) => Effect.logDebug("channel handler failed", cause)),
          Effect.ensuring(closeChannel(rec))
        )
      }).pipe(Effect.catchAll(() => Effect.void))

    /**
     * A GLOBAL_REQUEST from the peer: its handler's answer, or REQUEST_FAILURE when none is registered (RFC 4254
     * §4; keepalive@openssh.com). Handlers run concurrently, replies are sent in order; at most 64 may wait
     * (LIM-23).
     */
    const onGlobalRequest = (m: ConnectionMessages.GlobalRequest): Effect.Effect<void, TransportError> => {
      const handler = globalHandlers.get(m.name)
      if (handler === undefined && !m.wantReply) return Effect.void
      if (m.wantReply && pendingGlobalReplies >= MAX_PENDING_GLOBAL_REPLIES) {
        return transport.disconnect(2, `more than ${MAX_PENDING_GLOBAL_REPLIES} global requests await a reply (LIM-23)`)
      }
      const request = { name: m.name, data: m.data, wantReply: m.wantReply }
      const answer: Effect.Effect<GlobalRequestReply> = handler === undefined
        ? Effect.succeed({ _tag: "Failure" })
        : Effect.suspend(() => handler(request)).pipe(
          Effect.catchAllCause((cause) =>
            Effect.as(Effect.logDebug(`global request ${m.name} failed`, cause), { _tag: "Failure" } as const)
          )
        )
      if (!m.wantReply) return Effect.asVoid(Effect.forkIn(answer, scope))
      pendingGlobalReplies++
      const before = previousGlobalReply
      const done = Deferred.unsafeMake<void>(FiberId.none)
      previousGlobalReply = done
      return Effect.asVoid(Effect.forkIn(
        Effect.gen(function*() {
          const reply = yield* answer
          if (before !== undefined) yield* Deferred.await(before)
          yield* Effect.ignore(send(
            reply._tag === "Success"
              ? { _tag: "RequestSuccess", data: reply.data ?? new Uint8Array(0) }
              : { _tag: "RequestFailure" }
          ))
        }).pipe(Effect.ensuring(Effect.zipRight(
          Effect.sync(() => pendingGlobalReplies--),
          Deferred.succeed(done, undefined)
        ))),
        scope
      ))
    }

    const register = <H>(table: Map<string, H>, key: string, handler: H) =>
      Effect.acquireRelease(
        Effect.sync(() => table.set(key, handler)),
        () =>
          Effect.sync(() => {
            if (table.get(key) === handler) table.delete(key)
          })
      ).pipe(Effect.asVoid)

    const open = (channelType: string, extra?: Uint8Array) =>
      Effect.gen(function*() {
        if (failure !== undefined) return yield* Effect.fail(failure)
        const state = ChannelState.opening({
          initialWindow: options.window,
          maxPacket: options.maxPacket
        })
        const rec = yield* makeRec(channelType, state, false)
        const id = ids.allocate(rec)
        if (id === undefined) {
          return yield* Effect.fail(new ChannelError({
            reason: "OpenFailed",
            channelType,
            openFailure: 4,
            description: "too many channels open on this connection (LIM-22)"
          }))
        }
        rec.id = id
        live.add(rec)
        yield* Effect.addFinalizer(() => closeChannel(rec))
        yield* send({
          _tag: "ChannelOpen",
          channelType,
          sender: id,
          initialWindow: state.inbound.initialWindow,
          maxPacket: state.inbound.maxPacket,
          data: extra ?? new Uint8Array(0)
        })
        yield* awaitReply(Deferred.await(rec.opened), () =>
          new ChannelError({
            reason: "OpenFailed",
            channelType,
            description: `no answer to the ${channelType} channel open within ${Duration.format(requestTimeout!)}`
          }))
        return makeChannel(rec)
      })

    const globalRequest = (name: string, data: Uint8Array, wantReply: boolean) =>
      Effect.gen(function*() {
        if (failure !== undefined) return yield* Effect.fail(failure)
        const reply = yield* Deferred.make<Option.Option<Uint8Array>, TransportError>()
        if (wantReply) globalReplies.push(reply)
        yield* send({ _tag: "GlobalRequest", name, wantReply, data })
        return wantReply ? yield* Deferred.await(reply) : Option.none()
      })

    if (options.keepalive !== undefined) {
      // OpenSSH ServerAliveInterval: any traffic resets the count; countMax silent intervals end the connection.
      const interval = Duration.decode(options.keepalive.interval)
      const countMax = options.keepalive.countMax ?? 3
      let seen = lastHeard
      let missed = 0
      yield* Effect.gen(function*() {
        for (;;) {
          yield* Effect.sleep(interval)
          if (lastHeard !== seen) {
            seen = lastHeard
            missed = 0
          } else if (++missed > countMax) {
            const err = new TransportError({
              reason: "Timeout",
              origin: "Local",
              code: DisconnectReason.ConnectionLost,
              description: `no answer to ${countMax} keepalives (${Duration.format(interval)} apart)`
            })
            // Fail the waiters with the Timeout first: the disconnect would otherwise reach them as "Disconnected".
            yield* failAll(err)
            return yield* transport.disconnect(DisconnectReason.ConnectionLost, err.description)
          }
          yield* Effect.forkDaemon(Effect.ignore(globalRequest("keepalive@openssh.com", new Uint8Array(0), true)))
        }
      }).pipe(Effect.forkScoped)
    }

    return {
      open,
      globalRequest,
      channelCount: Effect.sync(() => ids.size),
      handleChannels: (channelType, handler) => register(channelHandlers, channelType, handler),
      handleGlobalRequests: (name, handler) => register(globalHandlers, name, handler)
    } satisfies ConnectionMux
  })
