/**
 * Channel bookkeeping (RFC 4254 §5), pure and synchronous: local channel ids (`ChannelIds`, SEC-41, LIM-22) and
 * the lifecycle of one channel (`ChannelState`) with its flow control and want-reply bound (LIM-23). The shell
 * looks up the recipient id, calls the `on…` method for the message and acts on the result; what the peer did
 * wrong is a `Violation`, what our own code did wrong throws (a defect).
 *
 * @since 0.1.0
 */
import {
  InboundWindow,
  type InboundWindowOptions,
  isRefused,
  type Ok,
  ok,
  OutboundWindow,
  type OutboundWindowOptions,
  type Refused,
  type ReplyMatch,
  type Violation,
  violation,
  WantReplies
} from "./FlowControl.js"

/**
 * The default limit of channels per connection (LIM-22, SEC-42).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_CHANNELS = 1024

/**
 * Local channel ids (RFC 4254 §5.1: our sender channel, the peer's recipient channel) and the value each names.
 * Ids come from [0, limit): fresh ones first, then freed ones oldest first, so reuse comes as late as possible;
 * the shell frees an id only after CLOSE was both sent and received (SEC-41).
 *
 * @since 0.1.0
 * @category models
 */
export class ChannelIds<A extends object> {
  readonly limit: number
  readonly #slots: Array<A | undefined> = []
  readonly #freed: Array<number> = []
  #size = 0

  constructor(limit: number = DEFAULT_MAX_CHANNELS) {
    if (!Number.isInteger(limit) || limit < 1 || limit > 2 ** 32) throw new RangeError(`bad channel limit ${limit}`)
    this.limit = limit
  }

  /** Channels currently allocated. */
  get size(): number { return this.#size }

  /** A local id for `value`, or `undefined` when `limit` channels exist (→ OPEN_FAILURE(4), LIM-22). */
  allocate(value: A): number | undefined {
    const id = this.#slots.length < this.limit ? this.#slots.length : this.#freed.shift()
    if (id === undefined) return undefined
    this.#slots[id] = value
    this.#size++
    return id
  }

  /** The value of an allocated id, or `undefined`. */
  get(id: number): A | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.#slots.length ? this.#slots[id] : undefined
  }

  /**
   * The channel a peer message names by its recipient id. An id that is not allocated (never, or no longer: both
   * CLOSEs exchanged) is a violation (SEC-41; openssh:channels.c "packet referred to nonexistent channel").
   */
  lookup(recipient: number, message: string): A | Violation {
    const value = this.get(recipient)
    return value === undefined ? violation("SEC-41", `${message} for unknown channel ${recipient}`) : value
  }

  /**
   * Frees an id for reuse.
   *
   * @throws RangeError when the id is not allocated (our bug).
   */
  free(id: number): void {
    if (this.get(id) === undefined) throw new RangeError(`channel ${id} is not allocated`)
    this.#slots[id] = undefined
    this.#freed.push(id)
    this.#size--
  }

  /** The allocated ids and their values (to tear every channel down with the connection). */
  *entries(): IterableIterator<readonly [number, A]> {
    for (let id = 0; id < this.#slots.length; id++) {
      const value = this.#slots[id]
      if (value !== undefined) yield [id, value] as const
    }
  }
}

/**
 * `Opening` (our CHANNEL_OPEN awaits its answer), `Open`, or `Closed` (both CLOSEs exchanged or the open failed).
 *
 * @since 0.1.0
 * @category models
 */
export type ChannelPhase = "Opening" | "Open" | "Closed"

/**
 * Options of `ChannelState`: our window and max packet, our cap on outbound chunks, the want-reply bound.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelStateOptions extends InboundWindowOptions, OutboundWindowOptions {
  /** The peer's outstanding want-reply requests on this channel (default 64, LIM-23). */
  readonly maxPendingReplies?: number | undefined
}

/**
 * Results of the `on…` methods. `Opened`: confirmed. `SendClose`: send CLOSE now (refused, or abandoned while
 * opening) and await the peer's. `Closed`: both CLOSEs exchanged (send ours first if `sendClose`); free the id.
 * `Deliver`: hand over the data, call `consumed` as it is taken. `Discard`: drop it, send WINDOW_ADJUST(`adjust`)
 * if above 0. `Handle`: dispatch the request (reply if it wants one). `Ignored`: nothing to do.
 *
 * @since 0.1.0
 * @category models
 */
export type ChannelEvent =
  | { readonly _tag: "Opened" }
  | { readonly _tag: "SendClose"; readonly reason: "Refused" | "Abandoned"; readonly description: string }
  | { readonly _tag: "Closed"; readonly sendClose: boolean }
  | { readonly _tag: "Deliver" }
  | { readonly _tag: "Discard"; readonly adjust: number }
  | { readonly _tag: "Handle" }
  | { readonly _tag: "Ignored" }

/**
 * The member of `ChannelEvent` with tag `T`.
 *
 * @since 0.1.0
 * @category models
 */
export type ChannelEventOf<T extends ChannelEvent["_tag"]> = Extract<ChannelEvent, { readonly _tag: T }>

type Event<T extends ChannelEvent["_tag"]> = ChannelEventOf<T>

const opened: Event<"Opened"> = Object.freeze({ _tag: "Opened" })
const deliver: Event<"Deliver"> = Object.freeze({ _tag: "Deliver" })
const discardNoAdjust: Event<"Discard"> = Object.freeze({ _tag: "Discard", adjust: 0 })
const handle: Event<"Handle"> = Object.freeze({ _tag: "Handle" })
const ignored: Event<"Ignored"> = Object.freeze({ _tag: "Ignored" })
const closed = (sendClose: boolean): Event<"Closed"> => ({ _tag: "Closed", sendClose })

/**
 * The lifecycle of one channel (RFC 4254 §5.1–§5.3): Opening → Open → EOF sent / EOF received → CLOSE sent /
 * CLOSE received → Closed. Rules: nothing but OPEN_CONFIRMATION/FAILURE while opening, and those only then
 * (SEC-41); no data after the peer's EOF (SEC-43); CLOSE answered exactly once; Closed (the id may be freed) only
 * when both CLOSEs were exchanged; nothing from the peer after its CLOSE; WINDOW_ADJUST after our EOF counted (SEC-44) but not waited on.
 * Data and extended data share the inbound window (RFC 4254 §5.2).
 *
 * @since 0.1.0
 * @category models
 */
export class ChannelState {
  /** The window we advertise on this channel. */
  readonly inbound: InboundWindow
  /** Want-reply requests in both directions on this channel. */
  readonly replies: WantReplies
  readonly #outboundOptions: OutboundWindowOptions
  #outbound: OutboundWindow | undefined = undefined
  #remoteId: number | undefined = undefined
  #phase: ChannelPhase
  #eofSent = false
  #eofReceived = false
  #closeSent = false
  #closeReceived = false
  #closeWanted = false
  #reading = true

  private constructor(phase: ChannelPhase, options: ChannelStateOptions) {
    this.#phase = phase
    this.inbound = new InboundWindow(options)
    this.replies = new WantReplies(options.maxPendingReplies)
    this.#outboundOptions = options
  }

  /** A channel we open: we send CHANNEL_OPEN with `inbound.initialWindow` and `inbound.maxPacket`. */
  static opening(options: ChannelStateOptions = {}): ChannelState {
    return new ChannelState("Opening", options)
  }

  /**
   * A channel the peer opened and we accept (we answer OPEN_CONFIRMATION). Unusable parameters (max packet
   * below 9) are `Refused` (→ OPEN_FAILURE; nothing is allocated, SEC-42/SEC-44).
   */
  static accept(
    remoteId: number, window: number, maxPacket: number, options: ChannelStateOptions = {}
  ): ChannelState | Refused {
    const outbound = OutboundWindow.make(window, maxPacket, options)
    if (isRefused(outbound)) return outbound
    const state = new ChannelState("Open", options)
    state.#remoteId = remoteId
    state.#outbound = outbound
    return state
  }

  // The phase, the peer's id and window (known once open; no window when refused), and the EOF/CLOSE flags.
  get phase(): ChannelPhase { return this.#phase }
  get remoteId(): number | undefined { return this.#remoteId }
  get outbound(): OutboundWindow | undefined { return this.#outbound }
  get eofSent(): boolean { return this.#eofSent }
  get eofReceived(): boolean { return this.#eofReceived }
  get closeSent(): boolean { return this.#closeSent }
  get closeReceived(): boolean { return this.#closeReceived }

  // ---- messages from the peer ----

  /** OPEN_CONFIRMATION (RFC 4254 §5.1): only for our pending open (SEC-41). */
  onOpenConfirmation(remoteId: number, window: number, maxPacket: number): Event<"Opened" | "SendClose"> | Violation {
    if (this.#phase !== "Opening") return violation("SEC-41", "CHANNEL_OPEN_CONFIRMATION for an open channel")
    const outbound = OutboundWindow.make(window, maxPacket, this.#outboundOptions)
    this.#remoteId = remoteId
    this.#phase = "Open"
    if (isRefused(outbound)) return this.#closeNow("Refused", outbound.description)
    this.#outbound = outbound
    return this.#closeWanted ? this.#closeNow("Abandoned", "closed while opening") : opened
  }

  /** OPEN_FAILURE (RFC 4254 §5.1): only for our pending open (SEC-41); the id is free at once (SEC-42). */
  onOpenFailure(): Event<"Closed"> | Violation {
    if (this.#phase !== "Opening") return violation("SEC-41", "CHANNEL_OPEN_FAILURE for an open channel")
    this.#phase = "Closed"
    return closed(false)
  }

  /**
   * WINDOW_ADJUST (RFC 4254 §5.2): overflow past 2^32−1 is a violation in every state (SEC-44, as OpenSSH's
   * "adjust … overflows remote window"); after our EOF or CLOSE the window is still counted but nothing waits
   * on it (`Ignored`).
   */
  onWindowAdjust(n: number): Ok | Event<"Ignored"> | Violation {
    const gate = this.#gate("CHANNEL_WINDOW_ADJUST")
    if (gate !== undefined) return gate
    if (this.#outbound === undefined) return ignored
    const r = this.#outbound.adjust(n)
    if (r._tag === "Violation") return r
    return this.#eofSent || this.#closeSent ? ignored : r
  }

  /** CHANNEL_DATA of `n` bytes (RFC 4254 §5.2). */
  onData(n: number): Event<"Deliver" | "Discard"> | Violation {
    return this.#data(n, true, "CHANNEL_DATA")
  }

  /**
   * CHANNEL_EXTENDED_DATA of `n` bytes, in the same window as data (RFC 4254 §5.2). Data of a type we do not
   * `handle` is discarded and its window credited, never looped on (SEC-43; Erlang CVE-2026-54886).
   */
  onExtendedData(n: number, handled: boolean): Event<"Deliver" | "Discard"> | Violation {
    return this.#data(n, handled, "CHANNEL_EXTENDED_DATA")
  }

  /** CHANNEL_EOF (RFC 4254 §5.3): `Ok` ends the inbound streams; a repeated EOF is `Ignored`, as OpenSSH does. */
  onEof(): Ok | Event<"Ignored"> | Violation {
    const gate = this.#gate("CHANNEL_EOF")
    if (gate !== undefined) return gate
    if (this.#eofReceived || this.#closeSent) return ignored
    this.#eofReceived = true
    return ok
  }

  /**
   * CHANNEL_CLOSE (RFC 4254 §5.3): answered with our CLOSE unless we sent one already; then the channel is
   * Closed and its id may be freed. A second CLOSE, or a CLOSE while opening, is a violation.
   */
  onClose(): Event<"Closed"> | Violation {
    const gate = this.#gate("CHANNEL_CLOSE")
    if (gate !== undefined) return gate
    this.#closeReceived = true
    this.#phase = "Closed"
    const reply = !this.#closeSent
    this.#closeSent = true
    return closed(reply)
  }

  /**
   * CHANNEL_REQUEST (RFC 4254 §5.4): `Handle`, or `Ignored` once we sent CLOSE (no reply then). More than the
   * limit of outstanding want-reply requests → violation (LIM-23); call `replies.replied()` after replying.
   */
  onRequest(wantReply: boolean): Event<"Handle" | "Ignored"> | Violation {
    const gate = this.#gate("CHANNEL_REQUEST")
    if (gate !== undefined) return gate
    if (this.#closeSent) return ignored
    const budget = this.replies.onPeerRequest(wantReply)
    return budget._tag === "Ok" ? handle : budget
  }

  /** CHANNEL_SUCCESS / CHANNEL_FAILURE: matched to our oldest want-reply request, or dropped (SEC-45). */
  onReply(): ReplyMatch | Violation {
    const gate = this.#gate("CHANNEL_SUCCESS/FAILURE")
    if (gate !== undefined) return gate
    return this.replies.onPeerReply()
  }

  // ---- our side ----

  /** The consumer took `n` bytes: WINDOW_ADJUST to send now or 0 (DESIGN.md §6); none after EOF in or CLOSE out. */
  consumed(n: number): number {
    if (this.#eofReceived || this.#closeSent) {
      this.inbound.dropped(n)
      return 0
    }
    return this.inbound.consumed(n)
  }

  /**
   * The consumer stopped reading (the application closed its side): the buffered bytes are dropped and credited,
   * and so is every later data message, so the peer is never stalled (SEC-43). Returns the WINDOW_ADJUST to send.
   */
  stopReading(): number {
    this.#reading = false
    return this.consumed(this.inbound.buffered)
  }

  /**
   * How many of `want` bytes may go out now in one CHANNEL_DATA: 0 while opening, after a CLOSE, or with no window
   * (wait for WINDOW_ADJUST).
   * @throws Error after our EOF (writing after EOF is our bug, RFC 4254 §5.3).
   */
  sendable(want: number): number {
    if (this.#eofSent) throw new Error("channel data after our EOF")
    if (this.#phase !== "Open" || this.#closeSent || this.#outbound === undefined) return 0
    return this.#outbound.take(want)
  }

  /** We sent `n` data bytes in one packet. @throws Error / RangeError beyond `sendable` (our bug). */
  sent(n: number): void {
    if (this.#eofSent) throw new Error("channel data after our EOF")
    if (n === 0) return
    if (this.#phase !== "Open" || this.#closeSent || this.#outbound === undefined) {
      throw new Error(`channel data in phase ${this.#phase}${this.#closeSent ? " after our CLOSE" : ""}`)
    }
    this.#outbound.used(n)
  }

  /**
   * Our CHANNEL_REQUEST: `true` to send it, `false` when the channel is closing (a `ChannelError`, not a defect).
   * @throws Error while opening (our bug).
   */
  sendRequest(wantReply: boolean): boolean {
    if (this.#phase === "Opening") throw new Error("channel request before the channel is open")
    if (this.#closeSent || this.#closeReceived) return false
    if (wantReply) this.replies.sent()
    return true
  }

  /** Our CHANNEL_EOF: `true` to send it now, `false` if sent already or closing. @throws Error while opening. */
  sendEof(): boolean {
    if (this.#phase === "Opening") throw new Error("channel EOF before the channel is open")
    if (this.#eofSent || this.#closeSent) return false
    this.#eofSent = true
    return true
  }

  /** Our CLOSE: `Send` now (await the peer's), `Deferred` till the open is answered, `None` if sent already. */
  sendClose(): "Send" | "Deferred" | "None" {
    if (this.#phase === "Opening") {
      this.#closeWanted = true
      return "Deferred"
    }
    if (this.#closeSent) return "None"
    this.#closeSent = true
    return "Send"
  }

  #closeNow(reason: "Refused" | "Abandoned", description: string): Event<"SendClose"> {
    this.#closeSent = true
    return { _tag: "SendClose", reason, description }
  }

  /** While opening only the open's answer is valid; after the peer's CLOSE nothing is (SEC-41). */
  #gate(message: string): Violation | undefined {
    if (this.#phase === "Opening") return violation("SEC-41", `${message} for a channel that is not open yet`)
    if (this.#phase === "Closed") return violation("SEC-41", `${message} for a closed channel`)
    return undefined
  }

  #data(n: number, handled: boolean, message: string): Event<"Deliver" | "Discard"> | Violation {
    const gate = this.#gate(message)
    if (gate !== undefined) return gate
    if (this.#eofReceived) return violation("SEC-43", `${message} after the peer's EOF`)
    const accepted = this.inbound.onData(n)
    if (accepted._tag === "Violation") return accepted
    // RFC 4254 §5.3: data in flight when we sent CLOSE is dropped and never credited.
    if (this.#closeSent) {
      this.inbound.dropped(n)
      return discardNoAdjust
    }
    if (!this.#reading || !handled) {
      const adjust = this.inbound.consumed(n)
      return adjust === 0 ? discardNoAdjust : { _tag: "Discard", adjust }
    }
    return deliver
  }
}
