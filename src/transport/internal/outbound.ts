/**
 * The engine's outbound writer (DESIGN.md §6): seals messages in the caller's turn and queues them on the link
 * (which flushes one tick's writes together), holds the layers' messages in call order while a key exchange
 * blocks output (RFC 4253 §7.1), and tells producers when to wait (the socket above its high-water mark) and
 * when to continue.
 *
 * @since 0.1.0
 */
import type { TransportError } from "../../SshError.js"
import type { Engine } from "./engine.js"

/** Outbound bytes queued for the socket before Effect senders wait (backpressure). */
export const HIGH_WATER = 4 * 1024 * 1024

/** @internal */
export class Outbound {
  readonly #engine: Engine
  /** Messages of the layers above held while a key exchange blocks output (RFC 4253 §7.1), in call order. */
  #held: Array<Uint8Array> = []
  #heldBytes = 0
  readonly #waiters: Array<() => void> = []

  constructor(engine: Engine) {
    this.#engine = engine
  }

  /** Bytes queued for the socket, including messages held during a key exchange. */
  pending(): number {
    return this.#engine.link.pending() + this.#heldBytes
  }

  /**
   * Whether a producer should wait: a key exchange blocks output (RFC 4253 §7.1; the byte budget of the new
   * keys starts at their NEWKEYS) or the socket is above the high-water mark.
   */
  congested(): boolean {
    const m = this.#engine.kex.machine
    return m === undefined || m.outboundBlocked || this.pending() >= HIGH_WATER
  }

  /** Runs `wake` once the socket drained below the high-water mark (or the connection closed). */
  onceWritable(wake: () => void): void {
    if (this.#engine.closedError !== undefined || !this.congested()) return wake()
    this.#waiters.push(wake)
  }

  /** Wakes every waiting producer once the connection is no longer congested (or `force`: it closed). */
  wake(force = false): void {
    if (force || !this.congested()) {
      for (const w of this.#waiters.splice(0)) w()
    }
  }

  /**
   * Seals and writes one message of the layers above now, or holds it while a key exchange blocks output
   * (RFC 4253 §7.1), keeping call order. Returns the connection's error when it is closed.
   */
  send(payload: Uint8Array): TransportError | undefined {
    const e = this.#engine
    if (e.closedError !== undefined) return e.closedError
    if (e.kex.machine!.outboundBlocked || this.#held.length > 0) {
      this.#held.push(payload)
      this.#heldBytes += payload.length
      return undefined
    }
    this.#write(payload)
    return undefined
  }

  /**
   * `send` of the payload `head ‖ data` (CHANNEL_DATA and the like): sealed as parts, so `data` is read where it
   * lies by the cipher and never joined with `head` (DESIGN.md §6), unless the writer cannot gather (compression,
   * CBC's IGNORE prefix) or the message has to be held during a key exchange.
   */
  sendData(head: Uint8Array, data: Uint8Array): TransportError | undefined {
    const e = this.#engine
    if (e.closedError !== undefined) return e.closedError
    if (e.kex.machine!.outboundBlocked || this.#held.length > 0 || !e.writer.gathers) {
      const payload = new Uint8Array(head.length + data.length)
      payload.set(head)
      payload.set(data, head.length)
      return this.send(payload)
    }
    const parts = e.writer.sealParts(head, data)
    for (let i = 0; i < parts.length; i++) e.link.write(parts[i]!)
    e.kex.rekeyIfDue()
    return undefined
  }

  /** Transport and key exchange messages go out at once: they are allowed while a key exchange runs. */
  sendNow(payload: Uint8Array): void {
    this.#engine.link.write(this.#engine.writer.seal(payload))
  }

  /** Writes what was held during a key exchange, in order, until a new one blocks output again. */
  flushHeld(): void {
    if (this.#held.length === 0) return
    const e = this.#engine
    const held = this.#held
    this.#held = []
    this.#heldBytes = 0
    for (const p of held) {
      if (e.closedError !== undefined || e.kex.machine!.outboundBlocked) {
        // A new exchange started while flushing (by bytes): keep the rest, in order.
        this.#held.push(p)
        this.#heldBytes += p.length
        continue
      }
      this.#write(p)
    }
  }

  /** Drops what is held: the connection closed. */
  clear(): void {
    this.#held = []
    this.#heldBytes = 0
  }

  #write(payload: Uint8Array): void {
    const e = this.#engine
    e.link.write(e.writer.seal(payload))
    e.compression.sent(payload)
    e.kex.rekeyIfDue()
  }
}
