/**
 * The one channel primitive (DESIGN.md §6): every channel type — session, direct-tcpip, forwarded-tcpip, agent,
 * x11, user-defined — is this object. Inbound data lands in inboxes bounded by our window; requests go to a
 * bounded queue or a synchronous handler; writes seal in the caller's turn and wait only for the peer's window
 * or the socket; EOF and CLOSE are decided by the pure `ChannelState`. No fiber belongs to a channel.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ChannelError, type TransportError } from "../../SshError.js"
import type * as Transport from "../../transport/Transport.js"
import * as ConnectionMessages from "../../wire/ConnectionMessages.js"
import type { ByteSink, Channel, IncomingRequest } from "../Channel.js"
import type { ChannelState } from "../ChannelState.js"
import { Inbox } from "./inbox.js"

/**
 * Requests from the peer queued for a consumer that has not taken them, before the connection is cut off (a
 * flood; RFC 4254 §5.4 requests are few per channel in practice).
 */
export const MAX_QUEUED_REQUESTS = 256

/** CHANNEL_DATA: byte 94, uint32 recipient, uint32 length; EXTENDED_DATA: byte 95, recipient, type 1, length. */
const dataHead = (recipient: number, length: number, stderr: boolean): Uint8Array => {
  const head = new Uint8Array(stderr ? 13 : 9)
  const view = new DataView(head.buffer)
  head[0] = stderr ? 95 : 94
  view.setUint32(1, recipient)
  if (stderr) view.setUint32(5, ConnectionMessages.EXTENDED_DATA_STDERR)
  view.setUint32(stderr ? 9 : 5, length)
  return head
}

/** What a channel needs from its connection. */
export interface ChannelHost {
  readonly direct: Transport.Direct
  /** The connection's error once it failed. */
  readonly failure: () => TransportError | undefined
  readonly requestTimeout: Duration.Duration | undefined
  /** The peer flooded requests: cut the connection off. */
  readonly flooded: (description: string) => void
}

/** @internal */
export class ChannelRecord {
  id = -1
  readonly data: Inbox<ChannelError | TransportError>
  readonly stderr: Inbox<ChannelError | TransportError>
  readonly opened = Deferred.unsafeMake<void, ChannelError>(FiberId.none)
  readonly closed = Deferred.unsafeMake<void, TransportError>(FiberId.none)
  /** Our want-reply requests, oldest first (RFC 4254 §5.4 replies come in order). */
  readonly replies: Array<Deferred.Deferred<boolean, ChannelError | TransportError>> = []
  /** Writers waiting for WINDOW_ADJUST. */
  windowWaiters: Array<() => void> = []
  #requests: Array<IncomingRequest> = []
  #requestWaiter: (() => void) | undefined = undefined
  #requestHandler: ((request: IncomingRequest) => void) | undefined = undefined
  #requestsEnded = false
  #requestsError: TransportError | undefined = undefined

  constructor(
    readonly channelType: string,
    readonly state: ChannelState,
    /** Opened by the peer: its want-reply requests are answered by our handler. */
    readonly accepted: boolean,
    readonly host: ChannelHost
  ) {
    const credit = (n: number) => {
      const adjust = state.consumed(n)
      if (adjust > 0) this.send({ _tag: "ChannelWindowAdjust", recipient: state.remoteId!, bytes: adjust })
    }
    const sinkClosed = (): ChannelError | TransportError => this.closedError("the destination of the channel's data closed")
    this.data = new Inbox("channel data", credit, sinkClosed)
    this.stderr = new Inbox("channel stderr", credit, sinkClosed)
  }

  send(msg: ConnectionMessages.ConnectionMessage): TransportError | undefined {
    return this.host.direct.send(ConnectionMessages.encode(msg))
  }

  closedError(description: string): ChannelError {
    return new ChannelError({ reason: "Closed", channelType: this.channelType, description })
  }

  // ---- from the dispatch ----

  /** A request from the peer: to the handler, or queued (bounded). */
  request(request: IncomingRequest): void {
    if (this.#requestHandler !== undefined) return this.#requestHandler(request)
    if (this.#requests.length >= MAX_QUEUED_REQUESTS) {
      return this.host.flooded(`more than ${MAX_QUEUED_REQUESTS} unprocessed channel requests`)
    }
    this.#requests.push(request)
    this.#wakeRequests()
  }

  windowOpened(): void {
    const waiters = this.windowWaiters
    this.windowWaiters = []
    for (const w of waiters) w()
  }

  /** Both CLOSEs exchanged (or the open failed): everything ends. */
  ended(): void {
    this.data.end()
    this.stderr.end()
    this.#requestsEnded = true
    this.#wakeRequests()
    for (const r of this.replies.splice(0)) Deferred.unsafeDone(r, Exit.fail(this.closedError("closed by the peer")))
    this.windowOpened()
    Deferred.unsafeDone(this.closed, Exit.void)
  }

  /** The connection failed: every waiter sees its error. */
  failed(err: TransportError): void {
    Deferred.unsafeDone(this.opened, Exit.fail(this.closedError(err.message)))
    this.data.fail(err)
    this.stderr.fail(err)
    this.#requestsError = err
    this.#wakeRequests()
    for (const r of this.replies.splice(0)) Deferred.unsafeDone(r, Exit.fail(err))
    this.windowOpened()
    Deferred.unsafeDone(this.closed, Exit.fail(err))
  }

  #wakeRequests(): void {
    const w = this.#requestWaiter
    this.#requestWaiter = undefined
    w?.()
  }

  // ---- the Channel ----

  readonly #takeRequests: Effect.Effect<ReadonlyArray<IncomingRequest>, TransportError> = Effect.suspend(() => {
    if (this.#requests.length > 0) return Effect.succeed(this.#requests.splice(0))
    if (this.#requestsError !== undefined) return Effect.fail(this.#requestsError)
    if (this.#requestsEnded) return Effect.succeed([])
    return Effect.flatMap(
      Effect.async<void>((resume) => {
        this.#requestWaiter = () => resume(Effect.void)
        return Effect.sync(() => {
          this.#requestWaiter = undefined
        })
      }),
      () => this.#takeRequests
    )
  })

  /** Routes the peer's requests to `handler` (queued ones first) until the Scope closes. */
  onRequest(handler: (request: IncomingRequest) => void): Effect.Effect<void, never, Scope.Scope> {
    return Effect.suspend(() => {
      for (const r of this.#requests.splice(0)) handler(r)
      this.#requestHandler = handler
      return Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (this.#requestHandler === handler) this.#requestHandler = undefined
        })
      )
    })
  }

  // ---- synchronous writes (`Channel.sink`) ----

  /** Chunks taken by the sink and not yet sent (out of window, or the socket is behind); the first from `#offset`. */
  #pending: Array<Uint8Array> = []
  #offset = 0
  /** A flush is armed (`onceSendable`). */
  #flushArmed = false
  #readyWaiters: Array<() => void> = []

  /** Whether nothing more can be sent: the connection failed, or the channel is closing or past our EOF. */
  #sinkClosed(): boolean {
    const state = this.state
    return this.host.failure() !== undefined || state.closeSent || state.closeReceived || state.eofSent
  }

  /**
   * Sends what is pending as far as the peer's window and the socket allow (`sendNow`), and arms itself for the
   * rest (`onceSendable`); when nothing is left, or nothing can be sent any more, the sink's `onReady` callers are
   * woken.
   */
  readonly #flush = (): void => {
    this.#flushArmed = false
    while (this.#pending.length > 0) {
      const data = this.#pending[0]!
      const r = this.#sinkClosed() ? undefined : this.sendNow(data, this.#offset, false)
      if (typeof r !== "number") {
        // Closed or failed: nothing more goes out.
        this.#pending = []
        this.#offset = 0
        break
      }
      if (r < data.length) {
        this.#offset = r
        this.#flushArmed = true
        this.onceSendable(this.#flush)
        return
      }
      this.#pending.shift()
      this.#offset = 0
    }
    const waiters = this.#readyWaiters
    this.#readyWaiters = []
    for (const w of waiters) w()
  }

  /** The channel as a synchronous `ByteSink` for data we send (see `Channel.sink`). */
  readonly sink: ByteSink = {
    write: (chunk) => {
      if (this.#sinkClosed() || chunk.length === 0) return !this.#sinkClosed()
      this.#pending.push(chunk)
      if (!this.#flushArmed) this.#flush()
      return this.#pending.length === 0
    },
    onReady: (resume) => {
      if (this.#pending.length === 0) return resume()
      this.#readyWaiters.push(resume)
    },
    isClosed: () => this.#sinkClosed()
  }

  /**
   * Sends what the peer's window and the socket allow of `data` from `offset`, now and synchronously (DESIGN.md
   * §6: sealed in the caller's turn); returns the offset reached, or the error that ends the writes.
   */
  sendNow(data: Uint8Array, offset: number, stderr: boolean): number | ChannelError | TransportError {
    const state = this.state
    const direct = this.host.direct
    const failure = this.host.failure()
    if (failure !== undefined) return failure
    while (offset < data.length && !direct.congested()) {
      const n = state.closeReceived || state.closeSent ? 0 : state.sendable(data.length - offset)
      if (n === 0) break
      // RFC 4254 §5.2: the message header, then the data where it lies (the transport seals without a join).
      const err = direct.sendData(dataHead(state.remoteId!, n, stderr), data.subarray(offset, offset + n))
      if (err !== undefined) return err
      state.sent(n)
      offset += n
    }
    if (offset < data.length && (state.closeReceived || state.closeSent)) {
      return this.closedError("the channel closed before all data was sent")
    }
    return offset
  }

  /**
   * Runs `wake` once `sendNow` may make progress again: the socket drained (or a key exchange ended), the peer's
   * WINDOW_ADJUST came, or the channel ended. Returns a function that forgets `wake`.
   */
  onceSendable(wake: () => void): () => void {
    if (this.host.direct.congested()) {
      // The socket is behind (or a key exchange blocks output).
      let live = true
      this.host.direct.onceWritable(() => {
        if (live) wake()
      })
      return () => {
        live = false
      }
    }
    // Out of window: WINDOW_ADJUST (or the end of the channel).
    this.windowWaiters.push(wake)
    return () => {
      this.windowWaiters = this.windowWaiters.filter((w) => w !== wake)
    }
  }

  write(data: Uint8Array, stderr: boolean): Effect.Effect<void, ChannelError | TransportError> {
    const loop = (offset: number): Effect.Effect<void, ChannelError | TransportError> => {
      const r = this.sendNow(data, offset, stderr)
      if (typeof r !== "number") return Effect.fail(r)
      if (r >= data.length) return Effect.void
      return Effect.flatMap(
        Effect.async<void>((resume) => {
          const forget = this.onceSendable(() => resume(Effect.void))
          return Effect.sync(forget)
        }),
        () => loop(r)
      )
    }
    return Effect.suspend(() => loop(0))
  }

  sendClose(): Effect.Effect<void, TransportError> {
    return Effect.suspend(() => {
      if (this.host.failure() !== undefined || this.state.phase === "Closed") return Effect.void
      if (this.state.sendClose() !== "Send") return Effect.void
      // Nothing more will be read: what is buffered is dropped (its window no longer matters).
      const err = this.send({ _tag: "ChannelClose", recipient: this.state.remoteId! })
      return err === undefined ? Effect.void : Effect.fail(err)
    })
  }

  request_(request: string, data: Uint8Array, wantReply: boolean): Effect.Effect<boolean, ChannelError | TransportError> {
    return Effect.suspend(() => {
      const failure = this.host.failure()
      if (failure !== undefined) return Effect.fail(failure)
      if (!this.state.sendRequest(wantReply)) return Effect.fail(this.closedError(`${request}: channel closing`))
      const reply = Deferred.unsafeMake<boolean, ChannelError | TransportError>(FiberId.none)
      if (wantReply) this.replies.push(reply)
      const err = this.send({ _tag: "ChannelRequest", recipient: this.state.remoteId!, request, wantReply, data })
      if (err !== undefined) return Effect.fail(err)
      if (!wantReply) return Effect.succeed(true)
      const timeout = this.host.requestTimeout
      const wait = Deferred.await(reply)
      return timeout === undefined ? wait : Effect.timeoutFail(wait, {
        duration: timeout,
        onTimeout: () =>
          new ChannelError({
            reason: "RequestFailed",
            channelType: this.channelType,
            request,
            description: `no reply to ${request} within ${Duration.format(timeout)}`
          })
      })
    })
  }

  /** The public view. */
  channel(): Channel {
    const state = this.state
    const view: Channel = {
      id: this.id,
      channelType: this.channelType,
      data: this.data.stream,
      pipeData: (sink) => this.data.pipe(sink),
      sink: this.sink,
      stderr: this.stderr.stream,
      requests: Stream.repeatEffectChunkOption(
        Effect.flatMap(Effect.mapError(this.#takeRequests, Option.some), (batch) =>
          batch.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(Chunk.unsafeFromArray(batch)))
      ),
      onRequest: (handler) => this.onRequest(handler),
      write: (data) => this.write(data, false),
      writeStderr: (data) => this.write(data, true),
      eof: Effect.suspend(() => {
        if (!state.sendEof()) return Effect.void
        const err = this.send({ _tag: "ChannelEof", recipient: state.remoteId! })
        return err === undefined ? Effect.void : Effect.fail(err)
      }),
      request: (request, data, wantReply) => this.request_(request, data, wantReply),
      close: this.sendClose(),
      closed: Deferred.await(this.closed)
    }
    views.set(view, this)
    return view
  }
}

const views = new WeakMap<Channel, ChannelRecord>()

/**
 * The record behind a channel's public view, for writers that send synchronously (`sendNow`, DESIGN.md §6);
 * `undefined` for a channel this module did not make.
 *
 * @internal
 */
export const recordOf = (channel: Channel): ChannelRecord | undefined => views.get(channel)
