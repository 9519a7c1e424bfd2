/**
 * Channel flow control (RFC 4254 §5.2), pure and synchronous: the window we advertise (`InboundWindow`), the
 * window the peer grants (`OutboundWindow`), and want-reply bookkeeping (`WantReplies`). Counters are integers in
 * [0, 2^32−1]; every sum is checked before it is stored, so nothing wraps (SEC-43, SEC-44, LIM-20…LIM-23).
 * What the peer did wrong is a value (`Violation`, `Refused`); misuse by our own code throws, which the Effect
 * shell turns into a defect (STYLE.md §7 rule 2).
 *
 * @since 0.1.0
 */
import type { DisconnectReason } from "../SshError.js"

/**
 * The largest value of an SSH `uint32` (RFC 4251 §5); RFC 4254 §5.2: a window MUST NOT exceed it.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_UINT32 = 0xffff_ffff

/**
 * The window we advertise by default: 2 MiB = 64 × 32 KiB, as OpenSSH and Go (LIM-20).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_WINDOW = 2 * 1024 * 1024

/**
 * The maximum data size per packet we advertise, and the largest chunk we send by default: 32 KiB (LIM-20, SEC-44).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_PACKET = 32 * 1024

/**
 * The largest peer max packet we honour; larger values are clamped to it (LIM-21; Go rejects > 2^31).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PEER_PACKET = 2 ** 31

/**
 * The smallest peer max packet we accept; below it the channel is refused (SEC-44; Go's `minPacketLength`).
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_PEER_PACKET = 9

/**
 * The default bound on the peer's outstanding want-reply requests (LIM-23).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PENDING_REPLIES = 64

/**
 * The peer broke a channel rule: send DISCONNECT(`code`), fail with `TransportError{ "ProtocolViolation" }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Violation {
  readonly _tag: "Violation"
  /** The SECURITY.md rule that was broken, for logs and tests. */
  readonly rule: string
  readonly code: typeof DisconnectReason.ProtocolError
  readonly description: string
}

/**
 * The peer's channel parameters are unusable: refuse the channel (OPEN_FAILURE, or CLOSE after a confirmation).
 *
 * @since 0.1.0
 * @category models
 */
export interface Refused {
  readonly _tag: "Refused"
  readonly description: string
}

/**
 * The message was accepted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ok {
  readonly _tag: "Ok"
}

/**
 * The one `Ok` value (no allocation on the per-packet path).
 *
 * @since 0.1.0
 * @category constructors
 */
export const ok: Ok = Object.freeze({ _tag: "Ok" })

/**
 * Builds a `Violation` of `rule` (DISCONNECT code 2, PROTOCOL_ERROR).
 *
 * @since 0.1.0
 * @category constructors
 */
export const violation = (rule: string, description: string): Violation => ({
  _tag: "Violation", rule, code: 2, description
})

/**
 * Whether a result is a `Violation`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isViolation = (u: unknown): u is Violation =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "Violation"

/**
 * Whether a result is `Refused`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRefused = (u: unknown): u is Refused =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "Refused"

const isUint32 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= MAX_UINT32

const checkUint32 = (what: string, n: number): void => {
  if (!isUint32(n)) throw new RangeError(`${what} must be an integer in [0, 2^32−1], got ${n}`)
}

/**
 * Options of `InboundWindow`.
 *
 * @since 0.1.0
 * @category models
 */
export interface InboundWindowOptions {
  /** The initial window we advertise (default 2 MiB, LIM-20). */
  readonly initialWindow?: number | undefined
  /** The max packet we advertise: the largest data payload the peer may send in one message (default 32 KiB). */
  readonly maxPacket?: number | undefined
  /**
   * Consumed bytes are returned to the peer once at least this many have accumulated (default: half the initial
   * window, DESIGN.md §6). Clamped to [1, initial window].
   */
  readonly adjustThreshold?: number | undefined
}

/**
 * The window we advertise for one channel (RFC 4254 §5.2), in data bytes of DATA and EXTENDED_DATA alike.
 * Invariant: `window + buffered + owed = initialWindow + excess`, with `excess ≤ grace`. Only consumed bytes are
 * returned, and an overrun is kept back until paid off, so buffered bytes never exceed `initialWindow + grace`
 * and a slow consumer slows the remote sender (SEC-43, SEC-45).
 *
 * @since 0.1.0
 * @category models
 */
export class InboundWindow {
  /** The window advertised in CHANNEL_OPEN / OPEN_CONFIRMATION. */
  readonly initialWindow: number
  /** The max packet advertised in CHANNEL_OPEN / OPEN_CONFIRMATION. */
  readonly maxPacket: number
  /** How far the peer may overrun the window before it is a violation: 10 % like OpenSSH, within 2^32−1. */
  readonly grace: number
  /** See `InboundWindowOptions.adjustThreshold`. */
  readonly adjustThreshold: number
  #window: number
  #buffered = 0
  #owed = 0
  #excess = 0

  constructor(options: InboundWindowOptions = {}) {
    const initial = options.initialWindow ?? DEFAULT_WINDOW
    const maxPacket = options.maxPacket ?? DEFAULT_MAX_PACKET
    checkUint32("initialWindow", initial)
    checkUint32("maxPacket", maxPacket)
    if (maxPacket < 1) throw new RangeError("maxPacket must be at least 1")
    this.initialWindow = initial
    this.maxPacket = maxPacket
    // openssh:channels.c channel_input_data: "Allow 10% grace before bringing the hammer down".
    this.grace = Math.min(Math.floor(initial / 10), MAX_UINT32 - initial)
    const threshold = options.adjustThreshold ?? Math.ceil(initial / 2)
    this.adjustThreshold = Math.max(1, Math.min(initial, Math.floor(threshold)))
    this.#window = initial
  }
  /** What the peer may still send before our next WINDOW_ADJUST. */
  get window(): number { return this.#window }
  /** Received and not yet consumed. */
  get buffered(): number { return this.#buffered }
  /** Consumed and not yet returned to the peer. */
  get owed(): number { return this.#owed }
  /** Received beyond the advertised window and not yet paid off (≤ `grace`). */
  get excess(): number { return this.#excess }

  /**
   * The peer sent `n` bytes of DATA or EXTENDED_DATA (RFC 4254 §5.2). Above our max packet, or an overrun beyond
   * the grace → violation (SEC-43, LIM-21), and nothing changes.
   */
  onData(n: number): Ok | Violation {
    checkUint32("data length", n)
    if (n > this.maxPacket) {
      return violation("SEC-43", `channel data of ${n} bytes exceeds our maximum packet of ${this.maxPacket}`)
    }
    if (n <= this.#window) {
      this.#window -= n
      this.#buffered += n
      return ok
    }
    const over = n - this.#window
    if (this.#excess + over > this.grace) {
      return violation(
        "SEC-43",
        `peer ignored the channel window: ${n} bytes against a window of ${this.#window} ` +
          `(${this.#excess + over} over, grace ${this.grace})`
      )
    }
    this.#excess += over
    this.#window = 0
    this.#buffered += n
    return ok
  }

  /**
   * The consumer took `n` buffered bytes: the WINDOW_ADJUST to send now, or 0 while fewer than `adjustThreshold`
   * bytes are owed. Never more than was consumed.
   * @throws RangeError above the buffered bytes (our bug).
   */
  consumed(n: number): number {
    checkUint32("consumed length", n)
    if (n > this.#buffered) throw new RangeError(`consumed ${n} bytes but only ${this.#buffered} are buffered`)
    this.#buffered -= n
    this.#owed += n
    if (this.#owed < this.adjustThreshold) return 0
    // An overrun is paid off first: those bytes were never granted, so they are not granted again.
    const payOff = Math.min(this.#owed, this.#excess)
    this.#excess -= payOff
    const credit = this.#owed - payOff
    this.#owed = 0
    this.#window += credit
    return credit
  }

  /**
   * `n` buffered bytes were dropped and are never returned to the peer (RFC 4254 §5.3: nothing follows our CLOSE).
   * @throws RangeError above the buffered bytes (our bug).
   */
  dropped(n: number): void {
    checkUint32("dropped length", n)
    if (n > this.#buffered) throw new RangeError(`dropped ${n} bytes but only ${this.#buffered} are buffered`)
    this.#buffered -= n
  }
}

/**
 * Options of `OutboundWindow`.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutboundWindowOptions {
  /** Our own cap on data bytes per packet, below the peer's max packet (default 32 KiB, SEC-44). */
  readonly maxChunk?: number | undefined
}

/**
 * The window the peer granted us for one channel (RFC 4254 §5.2). The writer asks `take(want)`, sends that many
 * bytes in one CHANNEL_DATA, and reports them with `used(n)`; at 0 it waits for WINDOW_ADJUST (no busy loop).
 *
 * @since 0.1.0
 * @category models
 */
export class OutboundWindow {
  readonly _tag = "OutboundWindow"
  /** The peer's max packet, clamped to 2^31 (LIM-21). */
  readonly peerMaxPacket: number
  /** The largest data payload we put in one packet: min(peer max packet, our cap). */
  readonly maxChunk: number
  #window: number

  private constructor(window: number, peerMaxPacket: number, maxChunk: number) {
    this.#window = window
    this.peerMaxPacket = peerMaxPacket
    this.maxChunk = maxChunk
  }

  /** From the peer's OPEN or OPEN_CONFIRMATION: max packet < 9 (0 above all) refused, > 2^31 clamped (LIM-21). */
  static make(initialWindow: number, maxPacket: number, options: OutboundWindowOptions = {}): OutboundWindow | Refused {
    checkUint32("initialWindow", initialWindow)
    checkUint32("maxPacket", maxPacket)
    if (maxPacket < MIN_PEER_PACKET) {
      return { _tag: "Refused", description: `peer maximum packet ${maxPacket} is below ${MIN_PEER_PACKET}` }
    }
    const cap = options.maxChunk ?? DEFAULT_MAX_PACKET
    checkUint32("maxChunk", cap)
    if (cap < 1) throw new RangeError("maxChunk must be at least 1")
    const peerMaxPacket = Math.min(maxPacket, MAX_PEER_PACKET)
    return new OutboundWindow(initialWindow, peerMaxPacket, Math.min(peerMaxPacket, cap))
  }
  /** What we may still send before the peer's next WINDOW_ADJUST. */
  get window(): number { return this.#window }

  /**
   * WINDOW_ADJUST. RFC 4254 §5.2: the window MUST NOT exceed 2^32−1; a sum beyond it → violation, nothing changes
   * (russh CVE-2025-54804; OpenSSH "adjust … overflows remote window").
   */
  adjust(n: number): Ok | Violation {
    checkUint32("window adjust", n)
    if (this.#window + n > MAX_UINT32) {
      return violation("SEC-44", `WINDOW_ADJUST of ${n} overflows the window of ${this.#window} past 2^32−1`)
    }
    this.#window += n
    return ok
  }

  /** How many of `want` bytes (any safe integer, 4 GiB included) go out now in one packet: min(want, window, chunk). */
  take(want: number): number {
    if (!Number.isSafeInteger(want) || want < 0) throw new RangeError(`want must be a non-negative integer`)
    return Math.min(want, this.#window, this.maxChunk)
  }

  /** `n` data bytes were sent in one packet. @throws RangeError beyond what `take` allows (our bug). */
  used(n: number): void {
    checkUint32("sent length", n)
    if (n > this.#window || n > this.maxChunk) {
      throw new RangeError(`sent ${n} bytes with a window of ${this.#window} and a chunk limit of ${this.maxChunk}`)
    }
    this.#window -= n
  }
}

/**
 * What a reply (REQUEST_/CHANNEL_SUCCESS/FAILURE) answers: one of our requests, or none (dropped, SEC-45).
 *
 * @since 0.1.0
 * @category models
 */
export type ReplyMatch = "Matched" | "Unsolicited"

/**
 * Want-reply bookkeeping for the global requests or one channel (RFC 4254 §4, §5.4: replies come in order): the
 * peer's requests awaiting our reply are bounded (LIM-23), the peer's replies are matched to ours (SEC-45).
 *
 * @since 0.1.0
 * @category models
 */
export class WantReplies {
  readonly limit: number
  #peerPending = 0
  #ourPending = 0

  constructor(limit: number = MAX_PENDING_REPLIES) {
    checkUint32("limit", limit)
    this.limit = limit
  }
  /** Peer requests we still owe a reply. */
  get peerPending(): number { return this.#peerPending }
  /** Our requests still awaiting the peer's reply. */
  get ourPending(): number { return this.#ourPending }

  /** The peer sent a request; with want_reply it counts until `replied()`. More than `limit` → violation. */
  onPeerRequest(wantReply: boolean): Ok | Violation {
    if (!wantReply) return ok
    if (this.#peerPending >= this.limit) {
      return violation("LIM-23", `more than ${this.limit} outstanding want-reply requests from the peer`)
    }
    this.#peerPending++
    return ok
  }

  /** We replied to the oldest outstanding peer request. @throws RangeError when none is outstanding (our bug). */
  replied(): void {
    if (this.#peerPending === 0) throw new RangeError("replied with no outstanding peer request")
    this.#peerPending--
  }

  /** We sent a request with want_reply. */
  sent(): void {
    this.#ourPending++
  }

  /** A reply from the peer: it answers our oldest request, or none (dropped, SEC-45). */
  onPeerReply(): ReplyMatch {
    if (this.#ourPending === 0) return "Unsolicited"
    this.#ourPending--
    return "Matched"
  }
}
