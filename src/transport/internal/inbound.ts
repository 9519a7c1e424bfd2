/**
 * The engine's inbound side, in the link's data callback (DESIGN.md §6): the version exchange (RFC 4253 §4.2,
 * LIM-01…04), framing and opening packets (PacketReader: SEC-01…05), the message gate, and dispatch by message
 * number — transport messages (DISCONNECT, IGNORE, DEBUG, UNIMPLEMENTED) are handled here, key exchange messages
 * go to the `KexDriver`, everything for the layers above to the attached `Upper` (or a bounded inbox for user
 * authentication, which pulls). Reading stops (the link pauses) while our replies cannot leave or a puller is
 * behind.
 *
 * @since 0.1.0
 */
import { DisconnectReason, sanitizePeerText, TransportError } from "../../SshError.js"
import { MessageId } from "../../wire/MessageId.js"
import * as TransportMessages from "../../wire/TransportMessages.js"
import * as Identification from "../Identification.js"
import { isPacketError } from "../PacketCodec.js"
import type { Engine, Upper } from "./engine.js"
import { localError } from "./errors.js"
import { HIGH_WATER } from "./outbound.js"

/** Outbound bytes queued (replies we must send) before we stop reading the peer. */
const READ_STOP = 2 * HIGH_WATER
/** Messages for a `receive` caller that has not taken them yet, before reading stops (or, unpausable, fails). */
const INBOX_PAUSE = 1024
const INBOX_MAX = 4096

/** Message numbers the layers above implement; others get UNIMPLEMENTED (SEC-06). */
const UPPER = new Set([50, 51, 52, 53, 60, 61, 80, 81, 82, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100])

/** @internal */
export class Inbound {
  peerVersion = ""
  upper: Upper | undefined = undefined

  readonly #engine: Engine
  #parser: Identification.IdentificationParser | undefined
  /** Messages for the layers above while no `Upper` is attached (user authentication pulls them). */
  readonly #inbox: Array<Uint8Array> = []
  readonly #inboxWaiters: Array<() => void> = []
  #paused = false
  #draining = false

  constructor(engine: Engine) {
    this.#engine = engine
    this.#parser = new Identification.IdentificationParser(engine.role)
  }

  // ---- the layers above ----

  /** Hands every later message (and those not yet taken) to `upper`, synchronously. */
  attach(upper: Upper): void {
    this.upper = upper
    const early = this.#inbox.splice(0)
    for (const m of early) upper.onMessage(m)
    const closed = this.#engine.closedError
    if (closed !== undefined) upper.onClose(closed)
    this.resumeIfIdle()
  }

  /** The next message for a puller (user authentication), or `undefined`; `wake` runs when one arrives. */
  take(wake: () => void): Uint8Array | undefined {
    const m = this.#inbox.shift()
    if (m !== undefined) {
      this.resumeIfIdle()
      return m
    }
    this.#inboxWaiters.push(wake)
    return undefined
  }

  /** Every message not yet taken. */
  takeAll(): Array<Uint8Array> {
    const all = this.#inbox.splice(0)
    this.resumeIfIdle()
    return all
  }

  /** The connection closed: pullers wake (and see the error). */
  closed(): void {
    for (const w of this.#inboxWaiters.splice(0)) w()
  }

  // ---- bytes in ----

  onData(chunk: Uint8Array): void {
    const e = this.#engine
    if (e.closedError !== undefined) return
    try {
      if (this.#parser !== undefined) {
        const r = this.#parser.push(chunk)
        if (r._tag === "NeedMore") return
        if (r._tag === "Failed") {
          // LIM-01…04: no DISCONNECT is possible before the version exchange; just close.
          return e.fail(localError("VersionExchange", DisconnectReason.ProtocolVersionNotSupported, r.description), false)
        }
        this.#parser = undefined
        this.peerVersion = r.version
        e.timers.clear("hello")
        e.kex.begin(r.version)
        e.reader.push(r.rest)
      } else {
        e.reader.push(chunk)
      }
      if ((e.kex.verifying || this.#paused) && e.reader.buffered > 4 * e.config.maxPacket && !this.#pause()) {
        // Input held (a verdict is pending) on a link that cannot pause: bounded, then dropped.
        return e.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "input buffer overflow"))
      }
      this.drain()
    } catch (defect) {
      e.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "internal error", defect))
    }
  }

  /** Frames, opens and dispatches every complete packet, until more bytes are needed or input is held. */
  drain(): void {
    if (this.#draining) return
    this.#draining = true
    const e = this.#engine
    try {
      const reader = e.reader
      while (e.closedError === undefined && !e.kex.verifying && !this.#inputStopped()) {
        const seq = reader.seq
        const r = reader.next()
        if (r === undefined) break
        if (isPacketError(r)) {
          if (r.reason === "CompressionError") {
            // SEC-51 / LIM-08: a payload that does not inflate, or inflates past the limit.
            return e.fail(localError("ProtocolViolation", DisconnectReason.CompressionError, r.description))
          }
          const code = r.reason === "MacMismatch" ? DisconnectReason.MacError : DisconnectReason.ProtocolError
          return e.fail(localError(r.reason, code, r.description))
        }
        const machine = e.kex.machine!
        // SEC-07: a sequence number may not wrap before the first key exchange completes.
        if ((reader.wrapped || e.writer.wrapped) && machine.completed === 0) {
          return e.fail(localError("ProtocolViolation", 2, "sequence number wrapped during the initial key exchange"))
        }
        const type = r[0]!
        const gate = machine.gate(type)
        if (gate !== undefined) return e.fail(localError(gate.reason, gate.code, gate.description))
        if (type >= 50 || type === MessageId.SERVICE_REQUEST || type === MessageId.SERVICE_ACCEPT) {
          if (type >= 50 && !UPPER.has(type)) {
            e.outbound.sendNow(TransportMessages.encode({ _tag: "Unimplemented", seq }))
            continue
          }
          e.compression.received(r)
          this.#deliver(r)
          continue
        }
        this.#transportMessage(r, seq)
      }
      e.kex.rekeyIfDue()
    } finally {
      this.#draining = false
    }
  }

  #deliver(payload: Uint8Array): void {
    if (this.upper !== undefined) return this.upper.onMessage(payload)
    this.#inbox.push(payload)
    if (this.#inbox.length >= INBOX_PAUSE && !this.#paused) this.#pause()
    if (this.#inbox.length > INBOX_MAX) {
      this.#engine.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "input buffer overflow"))
      return
    }
    const w = this.#inboxWaiters.shift()
    if (w !== undefined) w()
  }

  /** Messages 1–49 that are not the key exchange's: DISCONNECT, IGNORE, DEBUG, UNIMPLEMENTED (RFC 4253 §11). */
  #transportMessage(payload: Uint8Array, seq: number): void {
    const e = this.#engine
    const type = payload[0]!
    switch (type) {
      case MessageId.DISCONNECT: {
        const d = TransportMessages.decode(payload)
        return e.fail(
          d._tag === "Right" && d.right._tag === "Disconnect"
            ? new TransportError({
              reason: "Disconnected",
              origin: "Remote",
              code: d.right.code,
              description: sanitizePeerText(d.right.description)
            })
            : new TransportError({ reason: "Disconnected", origin: "Remote", code: 0, description: "malformed DISCONNECT" }),
          false
        )
      }
      case MessageId.IGNORE:
        // SEC-06: consumed without retaining the payload; SEC-09: byte 2 ‖ string data, nothing after it.
        if (
          payload.length >= 5 &&
          new DataView(payload.buffer, payload.byteOffset + 1, 4).getUint32(0) === payload.length - 5
        ) return
        return e.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "malformed IGNORE"))
      case MessageId.DEBUG:
      case MessageId.UNIMPLEMENTED: {
        const d = TransportMessages.decode(payload)
        if (d._tag === "Left") {
          return e.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, `malformed ${
            type === MessageId.DEBUG ? "DEBUG" : "UNIMPLEMENTED"
          }: ${d.left.description}`))
        }
        // SEC-12: peer text is escaped and capped before it reaches a log.
        return e.hooks.log(
          "debug",
          d.right._tag === "Debug" ? `peer debug: ${sanitizePeerText(d.right.message)}` :
            d.right._tag === "Unimplemented" ? `peer did not implement our packet ${d.right.seq}` : ""
        )
      }
      case MessageId.KEXINIT:
      case MessageId.NEWKEYS:
      case MessageId.EXT_INFO:
        return e.kex.receive(payload, seq)
      default:
        if (type >= 30 && type <= 49) return e.kex.receive(payload, seq)
        // RFC 4253 §11.4 / SEC-06: a message number we do not implement.
        e.outbound.sendNow(TransportMessages.encode({ _tag: "Unimplemented", seq }))
    }
  }

  // ---- backpressure ----

  /** Input stops while our replies cannot leave (the peer does not read) or a puller is behind. */
  #inputStopped(): boolean {
    if (this.#paused) return true
    const link = this.#engine.link
    if (link.pending() >= READ_STOP) {
      // Backpressure: stop reading until the socket drains; a link that cannot pause falls back to a bound.
      if (!this.#pause() && link.pending() >= 4 * READ_STOP) {
        this.#engine.fail(
          localError("ProtocolViolation", DisconnectReason.ProtocolError, "the peer does not read (output overflow)"),
          false
        )
      }
      return this.#paused
    }
    return false
  }

  #pause(): boolean {
    if (this.#paused) return true
    if (!this.#engine.link.pause()) return false
    this.#paused = true
    return true
  }

  /** Reading resumes once the inbox and the socket's queue are below their bounds. */
  resumeIfIdle(): void {
    if (!this.#paused) return
    if (this.#inbox.length >= INBOX_PAUSE || this.#engine.link.pending() >= READ_STOP) return
    this.#paused = false
    this.#engine.link.resume()
    this.drain()
  }
}
