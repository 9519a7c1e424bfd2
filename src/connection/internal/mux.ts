/**
 * The connection layer (RFC 4254) over the transport's synchronous side (DESIGN.md §6): `onMessage` runs in the
 * socket's turn and routes every connection message through the pure channel state (ChannelState, FlowControl)
 * to the channel primitive (channel.ts). Effects run only for decisions (channel-open and global-request
 * handlers, accepted channels' programs), in fibers of the connection's Scope. No dispatcher fiber, no queue
 * without a bound; keepalive is a deadline on the connection's one timer.
 *
 * Message → handler: CHANNEL_DATA / EXTENDED_DATA / WINDOW_ADJUST / EOF / CLOSE / REQUEST / SUCCESS / FAILURE →
 * the `on…` functions below on the recipient's `ChannelRecord`; CHANNEL_OPEN → `accept` (registry, then the
 * `acceptChannel` option); GLOBAL_REQUEST, REQUEST_SUCCESS/FAILURE and keepalive → `GlobalRequests`
 * (globalRequests.ts).
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import type { Authenticated } from "../../auth/Authenticated.js"
import { ChannelError, DisconnectReason, OpenFailureReason, TransportError } from "../../SshError.js"
import * as Transport from "../../transport/Transport.js"
import * as ConnectionMessages from "../../wire/ConnectionMessages.js"
import { MessageId } from "../../wire/MessageId.js"
import { ChannelIds, ChannelState } from "../ChannelState.js"
import type { ChannelAcceptance, ConnectionMux, ConnectionMuxOptions } from "../ConnectionMux.js"
import { isRefused, isViolation, type Violation } from "../FlowControl.js"
import { type ChannelHost, ChannelRecord } from "./channel.js"
import { GlobalRequests } from "./globalRequests.js"
import { Registry } from "./registry.js"

export { MAX_PENDING_GLOBAL_REQUESTS } from "./globalRequests.js"

type OpenHandler = (open: { readonly channelType: string; readonly data: Uint8Array }) => Effect.Effect<ChannelAcceptance, unknown>

const EMPTY = new Uint8Array(0)

/** Message names as violations spell them. */
const NAMES: Record<number, string> = {
  91: "CHANNEL_OPEN_CONFIRMATION",
  92: "CHANNEL_OPEN_FAILURE",
  93: "CHANNEL_WINDOW_ADJUST",
  95: "CHANNEL_EXTENDED_DATA",
  96: "CHANNEL_EOF",
  97: "CHANNEL_CLOSE",
  98: "CHANNEL_REQUEST",
  99: "CHANNEL_SUCCESS",
  100: "CHANNEL_FAILURE"
}

/** @internal */
export const make = (
  transport: Transport.Transport,
  _authenticated: Authenticated,
  options: ConnectionMuxOptions
): Effect.Effect<ConnectionMux, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ids = new ChannelIds<ChannelRecord>(options.maxChannels)
    /** Channels not yet closed on both sides, to fail them all at once. */
    const live = new Set<ChannelRecord>()
    const channelTypes = new Registry<OpenHandler>()
    let failure: TransportError | undefined
    let heard = 0
    const connectionScope = yield* Effect.scope
    /** The Scopes of attached channels (`ChannelAcceptance` "Attach"), closed when the channel ends. */
    const scopes = new Map<ChannelRecord, Scope.CloseableScope>()
    // The fibers of decisions and channel programs: a plain Set and one finalizer, as FiberSet would do, without
    // the copy of the fiber's FiberRefs its acquireRelease keeps for the connection's life (issue 10).
    const fibers = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
    const runtime = yield* Effect.runtime<never>()
    const runFork = (effect: Effect.Effect<unknown>) => {
      const fiber = Runtime.runFork(runtime)(effect)
      fibers.add(fiber)
      fiber.addObserver(() => fibers.delete(fiber))
    }
    yield* Scope.addFinalizer(connectionScope, Effect.suspend(() => Fiber.interruptAll([...fibers])))
    const requestTimeout = options.requestTimeout === undefined ? undefined : Duration.decode(options.requestTimeout)

    const failAll = (err: TransportError) => {
      if (failure !== undefined) return
      failure = err
      for (const rec of live) {
        rec.failed(err)
        closeScope(rec)
      }
      live.clear()
      globals.failAll(err)
    }

    let direct!: Transport.Direct

    // A plain field, set with `direct` below: a getter in an object literal costs the object a property
    // dictionary of its own, held by every idle connection (issue 10).
    const host: { direct: Transport.Direct } & Omit<ChannelHost, "direct"> = {
      direct: undefined!,
      failure: () => failure,
      requestTimeout,
      flooded: (description: string) => direct.disconnect(DisconnectReason.ProtocolError, description)
    }

    const violated = (v: Violation) => direct.disconnect(DisconnectReason.ProtocolError, `${v.rule}: ${v.description}`)
    const send = (msg: ConnectionMessages.ConnectionMessage) => direct.send(ConnectionMessages.encode(msg))
    const globals = new GlobalRequests({
      send,
      disconnect: (code, description) => direct.disconnect(code, description),
      runFork,
      failure: () => failure
    })

    const closeScope = (rec: ChannelRecord) => {
      const scope = scopes.get(rec)
      if (scope === undefined) return
      scopes.delete(rec)
      runFork(Scope.close(scope, Exit.void))
    }

    const endChannel = (rec: ChannelRecord) => {
      rec.ended()
      ids.free(rec.id)
      live.delete(rec)
      closeScope(rec)
    }

    // ---- inbound, in the socket's turn ----

    const onData = (rec: ChannelRecord, data: Uint8Array) => {
      const ev = rec.state.onData(data.length)
      if (isViolation(ev)) return violated(ev)
      if (ev._tag === "Deliver") return rec.data.push(data)
      if (ev.adjust > 0) send({ _tag: "ChannelWindowAdjust", recipient: rec.state.remoteId!, bytes: ev.adjust })
    }

    const onExtendedData = (rec: ChannelRecord, m: ConnectionMessages.ChannelExtendedData) => {
      const handled = m.dataType === ConnectionMessages.EXTENDED_DATA_STDERR
      const ev = rec.state.onExtendedData(m.data.length, handled)
      if (isViolation(ev)) return violated(ev)
      if (ev._tag === "Discard") {
        if (ev.adjust > 0) send({ _tag: "ChannelWindowAdjust", recipient: rec.state.remoteId!, bytes: ev.adjust })
        return
      }
      if (rec.stderr.active) return rec.stderr.push(m.data)
      // Nobody reads stderr now: its window is returned at once so that stdout and the exit status never stall
      // behind it (DESIGN.md §6); up to one window of it is kept for a later reader, the rest is dropped.
      const adjust = rec.state.consumed(m.data.length)
      if (adjust > 0) send({ _tag: "ChannelWindowAdjust", recipient: rec.state.remoteId!, bytes: adjust })
      if (rec.stderr.bytes + m.data.length <= rec.state.inbound.initialWindow) rec.stderr.push(m.data, true)
    }

    const onRequest = (rec: ChannelRecord, m: ConnectionMessages.ChannelRequest) => {
      const ev = rec.state.onRequest(m.wantReply)
      if (isViolation(ev)) return violated(ev)
      if (ev._tag === "Ignored") return
      if (rec.accepted && m.wantReply) {
        // A channel the peer opened: our handler answers (RFC 4254 §5.4), exactly once.
        let answered = false
        return rec.request({
          request: m.request,
          wantReply: true,
          data: m.data,
          reply: (ok) =>
            Effect.suspend(() => {
              if (answered || rec.state.closeSent) return Effect.void
              answered = true
              rec.state.replies.replied()
              const err = send({ _tag: ok ? "ChannelSuccess" : "ChannelFailure", recipient: rec.state.remoteId! })
              return err === undefined ? Effect.void : Effect.fail(err)
            })
        })
      }
      if (m.wantReply) {
        // We serve no requests on channels we opened that need an answer (keepalive@openssh.com expects FAILURE);
        // answered here, and a keepalive is not queued for the application.
        rec.state.replies.replied()
        send({ _tag: "ChannelFailure", recipient: rec.state.remoteId! })
        if (m.request === "keepalive@openssh.com") return
      }
      rec.request({ request: m.request, wantReply: m.wantReply, data: m.data })
    }

    const dispatch = (payload: Uint8Array): void => {
      if (failure !== undefined) return
      const type = payload[0]!
      if (type === MessageId.CHANNEL_DATA) {
        // The hot path: no copy of the data (decodeChannelData returns a view).
        const d = ConnectionMessages.decodeChannelData(payload)
        if (d._tag === "Left") return direct.disconnect(2, `malformed CHANNEL_DATA: ${d.left.description}`)
        const rec = ids.lookup(d.right.recipient, "CHANNEL_DATA")
        return isViolation(rec) ? violated(rec) : onData(rec, d.right.data)
      }
      const decoded = ConnectionMessages.decode(payload)
      if (decoded._tag === "Left") {
        if (type >= 50 && type < 80) {
          return direct.disconnect(2, `user authentication message ${type} after authentication (SEC-39)`)
        }
        return direct.disconnect(2, `malformed connection message ${type}: ${decoded.left.description}`)
      }
      const m = decoded.right
      switch (m._tag) {
        case "ChannelOpen":
          return accept(m)
        case "GlobalRequest":
          return globals.incoming(m)
        case "RequestSuccess":
        case "RequestFailure":
          return globals.replied(m)
        case "ChannelData":
          return
      }
      const rec = ids.lookup(m.recipient, NAMES[type] ?? String(type))
      if (isViolation(rec)) return violated(rec)
      switch (m._tag) {
        case "ChannelExtendedData":
          return onExtendedData(rec, m)
        case "ChannelWindowAdjust": {
          const ev = rec.state.onWindowAdjust(m.bytes)
          if (isViolation(ev)) return violated(ev)
          return rec.windowOpened()
        }
        case "ChannelOpenConfirmation": {
          const ev = rec.state.onOpenConfirmation(m.sender, m.initialWindow, m.maxPacket)
          if (isViolation(ev)) return violated(ev)
          if (ev._tag === "Opened") return Deferred.unsafeDone(rec.opened, Exit.void)
          send({ _tag: "ChannelClose", recipient: m.sender })
          return Deferred.unsafeDone(
            rec.opened,
            Exit.fail(new ChannelError({ reason: "OpenFailed", channelType: rec.channelType, description: ev.description }))
          )
        }
        case "ChannelOpenFailure": {
          const ev = rec.state.onOpenFailure()
          if (isViolation(ev)) return violated(ev)
          Deferred.unsafeDone(
            rec.opened,
            Exit.fail(new ChannelError({
              reason: "OpenFailed",
              channelType: rec.channelType,
              openFailure: m.reason,
              description: m.description
            }))
          )
          return endChannel(rec)
        }
        case "ChannelEof": {
          const ev = rec.state.onEof()
          if (isViolation(ev)) return violated(ev)
          if (ev._tag === "Ok") {
            rec.data.end()
            rec.stderr.end()
          }
          return
        }
        case "ChannelClose": {
          const ev = rec.state.onClose()
          if (isViolation(ev)) return violated(ev)
          if (ev.sendClose) send({ _tag: "ChannelClose", recipient: rec.state.remoteId! })
          return endChannel(rec)
        }
        case "ChannelRequest":
          return onRequest(rec, m)
        case "ChannelSuccess":
        case "ChannelFailure": {
          const ev = rec.state.onReply()
          if (isViolation(ev)) return violated(ev)
          // SEC-45: an unsolicited reply is dropped, never queued.
          const waiter = ev === "Matched" ? rec.replies.shift() : undefined
          if (waiter !== undefined) Deferred.unsafeDone(waiter, Exit.succeed(m._tag === "ChannelSuccess"))
          return
        }
      }
    }

    // ---- the peer's channel opens (RFC 4254 §5.1) ----

    const refuseOpen = (recipient: number, reason: number, description: string) =>
      send({ _tag: "ChannelOpenFailure", recipient, reason, description, language: "" })

    const accept = (m: ConnectionMessages.ChannelOpen): void => {
      const handler = channelTypes.get(m.channelType) ?? options.acceptChannel
      // SEC-47: without a handler no channel is accepted that we did not ask for.
      if (handler === undefined) {
        return void refuseOpen(
          m.sender,
          OpenFailureReason.AdministrativelyProhibited,
          "channel opens are not accepted"
        )
      }
      runFork(Effect.gen(function*() {
        // Deny on any failure or defect (SEC-10).
        const decision = yield* Effect.suspend(() => handler({ channelType: m.channelType, data: m.data })).pipe(Effect.exit)
        if (failure !== undefined) return
        if (Exit.isFailure(decision) || decision.value._tag === "Reject") {
          const reject = Exit.isSuccess(decision) && decision.value._tag === "Reject" ? decision.value : undefined
          refuseOpen(m.sender, reject?.reason ?? 1, reject?.description ?? "channel refused")
          return
        }
        const state = ChannelState.accept(m.sender, m.initialWindow, m.maxPacket, {
          initialWindow: options.window,
          maxPacket: options.maxPacket
        })
        // SEC-42 / LIM-21: unusable parameters are refused and nothing is allocated.
        if (isRefused(state)) return void refuseOpen(m.sender, 2, state.description)
        const rec = new ChannelRecord(m.channelType, state, true, host)
        const id = ids.allocate(rec)
        if (id === undefined) return void refuseOpen(m.sender, 4, "too many channels (LIM-22)")
        rec.id = id
        live.add(rec)
        const acceptance = decision.value
        // An attached channel's Scope exists before the peer can act on the confirmation, so its end closes it.
        const scope = acceptance._tag === "Attach"
          ? yield* Scope.fork(connectionScope, ExecutionStrategy.sequential)
          : undefined
        if (scope !== undefined) scopes.set(rec, scope)
        Deferred.unsafeDone(rec.opened, Exit.void)
        send({
          _tag: "ChannelOpenConfirmation",
          recipient: m.sender,
          sender: id,
          initialWindow: state.inbound.initialWindow,
          maxPacket: state.inbound.maxPacket,
          data: EMPTY
        })
        if (acceptance._tag === "Attach") {
          // No fiber stays behind: the channel is served by what `attach` installed in its Scope.
          const attached = yield* acceptance.attach(rec.channel()).pipe(Scope.extend(scope!), Effect.exit)
          if (Exit.isFailure(attached)) {
            yield* Effect.logDebug("channel handler failed", attached.cause)
            yield* Effect.ignore(rec.sendClose())
          }
          return
        }
        yield* acceptance.run(rec.channel()).pipe(
          Effect.catchAllCause((cause) => Effect.logDebug("channel handler failed", cause)),
          Effect.ensuring(Effect.ignore(rec.sendClose()))
        )
      }))
    }

    // ---- ours ----

    const open = (channelType: string, extra?: Uint8Array) =>
      Effect.gen(function*() {
        if (failure !== undefined) return yield* Effect.fail(failure)
        const state = ChannelState.opening({ initialWindow: options.window, maxPacket: options.maxPacket })
        const rec = new ChannelRecord(channelType, state, false, host)
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
        yield* Effect.addFinalizer(() => Effect.ignore(closeOurs(rec)))
        const err = send({
          _tag: "ChannelOpen",
          channelType,
          sender: id,
          initialWindow: state.inbound.initialWindow,
          maxPacket: state.inbound.maxPacket,
          data: extra ?? EMPTY
        })
        if (err !== undefined) return yield* Effect.fail(err)
        const opened = Deferred.await(rec.opened)
        yield* requestTimeout === undefined ? opened : Effect.timeoutFail(opened, {
          duration: requestTimeout,
          onTimeout: () =>
            new ChannelError({
              reason: "OpenFailed",
              channelType,
              description: `no answer to the ${channelType} channel open within ${Duration.format(requestTimeout)}`
            })
        })
        return rec.channel()
      })

    /** Our side's end of a channel we opened: CLOSE (deferred while the open is unanswered). */
    const closeOurs = (rec: ChannelRecord) =>
      Effect.suspend(() => {
        if (failure !== undefined || rec.state.phase === "Closed") return Effect.void
        const how = rec.state.sendClose()
        if (how !== "Send") return Effect.void
        send({ _tag: "ChannelClose", recipient: rec.state.remoteId! })
        return Effect.void
      })

    for (const [name, handler] of Object.entries(options.globalRequests ?? {})) yield* globals.handlers.register(name, handler)
    yield* Transport.direct(transport, (d) => {
      direct = d
      host.direct = d
      return {
        onMessage: (payload) => {
          heard++
          dispatch(payload)
        },
        onClose: failAll
      }
    })

    if (options.keepalive !== undefined) {
      const interval = Duration.toMillis(Duration.decode(options.keepalive.interval))
      globals.startKeepalive(direct, interval, options.keepalive.countMax ?? 3, () => heard, failAll)
      yield* Effect.addFinalizer(() => Effect.sync(() => direct.timers.clear("keepalive")))
    }

    return {
      open,
      globalRequest: (name, data, wantReply) => globals.request(name, data, wantReply),
      channelCount: Effect.sync(() => ids.size),
      handleChannels: (channelType, handler) => channelTypes.register(channelType, handler),
      handleGlobalRequests: (name, handler) => globals.handlers.register(name, handler)
    } satisfies ConnectionMux
  })
