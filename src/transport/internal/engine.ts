/**
 * The transport engine (DESIGN.md §6): one object per connection that runs, synchronously in the link's data
 * callback, the version exchange, framing (SEC-01), MAC/decrypt, decompression, the key exchange gate, key
 * exchange steps and the dispatch of every message for the layers above. Outbound messages are sealed and
 * written in the caller's turn; only the host key verdict leaves the synchronous path, and the engine holds its
 * input ("waiting for verdict") until the verdict arrives. No fiber and no queue sit between the socket and the
 * connection layer.
 *
 * @since 0.1.0
 */
import * as Ciphers from "../../crypto/Ciphers.js"
import type { CryptoBackend } from "../../crypto/Backend.js"
import { DisconnectReason, sanitizePeerText, type TimeoutStage, TransportError } from "../../SshError.js"
import * as Headroom from "../../wire/Headroom.js"
import { MessageId } from "../../wire/MessageId.js"
import * as TransportMessages from "../../wire/TransportMessages.js"
import * as Identification from "../Identification.js"
import { isKexFailure, KexMachine, type KexConfig, type KexOutput, type Negotiated } from "../KexMachine.js"
import type { Link } from "../Link.js"
import { isPacketError, PacketReader, PacketWriter } from "../PacketCodec.js"
import { Timers } from "../Timers.js"
import type { ZlibStreams } from "../Compression.js"
import { PacketCompression } from "./compression.js"

/** The key under which a transport offers its synchronous side (re-exported by Transport.ts). */
export const DirectTypeId: unique symbol = Symbol.for("effect-ssh/Transport/Direct")

/** Outbound bytes queued for the socket before Effect senders wait (backpressure). */
export const HIGH_WATER = 4 * 1024 * 1024
/** Outbound bytes queued (replies we must send) before we stop reading the peer. */
const READ_STOP = 2 * HIGH_WATER
/** Messages for a `receive` caller that has not taken them yet, before reading stops (or, unpausable, fails). */
const INBOX_PAUSE = 1024
const INBOX_MAX = 4096
/** RFC 4344 §3.1 / SEC-07: rekey before 2^31 packets in either direction. */
const MAX_PACKETS_PER_KEY = 2 ** 31

/** Message numbers the layers above implement; others get UNIMPLEMENTED (SEC-06). */
const UPPER = new Set([50, 51, 52, 53, 60, 61, 80, 81, 82, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100])
const NEWKEYS = new Uint8Array([MessageId.NEWKEYS])

/**
 * The connection layer's side of the engine: every message for the layers above, in order, in the socket's turn;
 * and the end of the connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Upper {
  readonly onMessage: (payload: Uint8Array) => void
  readonly onClose: (error: TransportError) => void
}

/** @internal */
export const localError = (
  reason: TransportError["reason"],
  code: number,
  description: string,
  cause?: unknown
): TransportError =>
  new TransportError({ reason, origin: "Local", code, description, ...(cause === undefined ? {} : { cause }) })

/**
 * A `TransportError` of reason `Timeout` naming which limit expired.
 *
 * @internal
 */
export const timedOut = (timeout: TimeoutStage, code: number, description: string): TransportError =>
  new TransportError({ reason: "Timeout", origin: "Local", code, description, timeout })

/** What the effectful shell supplies: decisions that leave the synchronous path, and logging. */
export interface EngineHooks {
  /** Client: ask the host key policy; call `done(undefined)` to accept or `done(error)` to reject. */
  readonly verifyHostKey: (algorithm: string, blob: Uint8Array, done: (rejected: TransportError | undefined) => void) => void
  readonly log: (level: "debug" | "warning", message: string) => void
  /** The first key exchange completed (or the connection failed before it did). */
  readonly onReady: (error: TransportError | undefined) => void
  /** A key exchange completed (or the connection failed while one ran). */
  readonly onKexDone: (error: TransportError | undefined) => void
  readonly onClosed: (error: TransportError) => void
}

/** @internal */
export interface EngineConfig {
  readonly role: "client" | "server"
  readonly backend: CryptoBackend
  readonly kex: Omit<KexConfig, "clientVersion" | "serverVersion">
  readonly ourVersion: string
  readonly versionLine: Uint8Array
  readonly maxPacket: number
  readonly rekeyBytes: number
  readonly rekeyIntervalMs: number
  readonly rekeyTimeoutMs: number
  readonly helloTimeoutMs: number
  readonly packetsPerKey?: number | undefined
  readonly initialSendSeq?: number | undefined
  readonly initialRecvSeq?: number | undefined
  readonly zlib: ZlibStreams | undefined
}

/** @internal */
export class Engine {
  readonly role: "client" | "server"
  readonly reader: PacketReader
  readonly writer: PacketWriter
  readonly timers = new Timers()
  machine: KexMachine | undefined = undefined
  peerVersion = ""
  serverSigAlgs: ReadonlyArray<string> | undefined = undefined
  closedError: TransportError | undefined = undefined
  /** The client's host key policy is deciding: input is held until it does (SEC-20). */
  verifying = false

  readonly #config: EngineConfig
  readonly #link: Link
  readonly #hooks: EngineHooks
  readonly #compression: PacketCompression
  #parser: Identification.IdentificationParser | undefined
  #upper: Upper | undefined = undefined
  /** Messages for the layers above while no `Upper` is attached (user authentication pulls them). */
  readonly #inbox: Array<Uint8Array> = []
  readonly #inboxWaiters: Array<() => void> = []
  /** Messages of the layers above held while a key exchange blocks output (RFC 4253 §7.1), in call order. */
  #held: Array<Uint8Array> = []
  #heldBytes = 0
  readonly #sendWaiters: Array<() => void> = []
  #paused = false
  #draining = false
  #bytesAtKex = { in: 0, out: 0, packetsIn: 0, packetsOut: 0 }
  #limitIn: number
  #limitOut: number
  readonly #packetsPerKey: number

  constructor(config: EngineConfig, link: Link, hooks: EngineHooks) {
    this.#config = config
    this.role = config.role
    this.#link = link
    this.#hooks = hooks
    this.reader = new PacketReader(undefined, config.maxPacket)
    this.writer = new PacketWriter(undefined, (n) => config.backend.randomBytes(n))
    this.reader.seq = (config.initialRecvSeq ?? 0) >>> 0
    this.writer.seq = (config.initialSendSeq ?? 0) >>> 0
    this.#compression = new PacketCompression(config.role, config.zlib, this.reader, this.writer)
    this.#parser = new Identification.IdentificationParser(config.role)
    this.#limitIn = config.rekeyBytes
    this.#limitOut = config.rekeyBytes
    this.#packetsPerKey = config.packetsPerKey ?? MAX_PACKETS_PER_KEY
  }

  /** Sends our identification line and starts reading (LIM-03: the hello timeout starts now). */
  start(): void {
    this.#link.write(this.#config.versionLine)
    this.timers.set("hello", this.#config.helloTimeoutMs, () => {
      if (this.peerVersion === "") {
        this.fail(timedOut("VersionExchange", DisconnectReason.ProtocolError, "version exchange timed out (LIM-03)"), false)
      }
    })
    this.#link.start({
      onData: (chunk) => this.#onData(chunk),
      onEnd: (failure) =>
        this.fail(
          new TransportError({
            reason: "ConnectionLost",
            origin: "Remote",
            code: DisconnectReason.ConnectionLost,
            description: failure === undefined ? "the peer closed the connection" : "connection lost",
            ...(failure === undefined ? {} : { cause: failure })
          }),
          false,
          true
        ),
      onDrain: () => this.#onDrain()
    })
  }

  // ---- the layers above ----

  /** Hands every later message (and those not yet taken) to `upper`, synchronously. */
  attach(upper: Upper): void {
    this.#upper = upper
    const early = this.#inbox.splice(0)
    for (const m of early) upper.onMessage(m)
    if (this.closedError !== undefined) upper.onClose(this.closedError)
    this.#resumeIfIdle()
  }

  /** The next message for a puller (user authentication), or `undefined`; `wake` runs when one arrives. */
  take(wake: () => void): Uint8Array | undefined {
    const m = this.#inbox.shift()
    if (m !== undefined) {
      this.#resumeIfIdle()
      return m
    }
    this.#inboxWaiters.push(wake)
    return undefined
  }

  /** Every message not yet taken. */
  takeAll(): Array<Uint8Array> {
    const all = this.#inbox.splice(0)
    this.#resumeIfIdle()
    return all
  }

  /** Bytes queued for the socket, including messages held during a key exchange. */
  pending(): number {
    return this.#link.pending() + this.#heldBytes
  }

  /**
   * Whether a producer should wait: a key exchange blocks output (RFC 4253 §7.1; the byte budget of the new
   * keys starts at their NEWKEYS) or the socket is above the high-water mark.
   */
  congested(): boolean {
    return this.machine === undefined || this.machine.outboundBlocked || this.pending() >= HIGH_WATER
  }

  /** Runs `wake` once the socket drained below the high-water mark (or the connection closed). */
  onceWritable(wake: () => void): void {
    if (this.closedError !== undefined || !this.congested()) return wake()
    this.#sendWaiters.push(wake)
  }

  /**
   * Seals and writes one message of the layers above now, or holds it while a key exchange blocks output
   * (RFC 4253 §7.1), keeping call order. Returns the connection's error when it is closed.
   */
  send(payload: Uint8Array): TransportError | undefined {
    if (this.closedError !== undefined) return this.closedError
    if (this.machine!.outboundBlocked || this.#held.length > 0) {
      this.#held.push(payload)
      this.#heldBytes += payload.length
      return undefined
    }
    this.#link.write(this.writer.seal(payload))
    this.#compression.sent(payload)
    if (this.#needsRekey()) this.rekey()
    return undefined
  }

  /**
   * `send` of the payload `head ‖ data` (CHANNEL_DATA and the like): sealed without copying `data` when the
   * cipher gathers, else framed in one buffer with room for the packet around it (Headroom).
   */
  sendData(head: Uint8Array, data: Uint8Array): TransportError | undefined {
    if (this.closedError !== undefined) return this.closedError
    if (this.machine!.outboundBlocked || this.#held.length > 0 || !this.writer.gathers) {
      const payload = Headroom.alloc(head.length + data.length)
      payload.set(head)
      payload.set(data, head.length)
      return this.send(payload)
    }
    for (const part of this.writer.sealParts(head, data)) this.#link.write(part)
    if (this.#needsRekey()) this.rekey()
    return undefined
  }

  /** Starts a key exchange unless one runs (RFC 4253 §9). */
  rekey(): void {
    const m = this.machine
    if (m === undefined || m.completed === 0 || m.inProgress || this.closedError !== undefined) return
    this.#startKex(m.initiate())
  }

  /** Registers the connection layer's keepalive and similar deadlines on the connection's one timer. */
  get timer(): Timers {
    return this.timers
  }

  // ---- closing ----

  /**
   * The first error wins: DISCONNECT (when `sendDisconnect` and keys exist), every waiter and the layers above
   * see `err`, the link flushes and closes.
   */
  fail(err: TransportError, sendDisconnect = true, linkEnded = false): void {
    if (this.closedError !== undefined) return
    this.closedError = err
    if (sendDisconnect && this.machine !== undefined && !linkEnded) {
      this.#link.write(this.writer.seal(TransportMessages.encode({
        _tag: "Disconnect",
        code: err.code,
        description: err.description.slice(0, 256),
        language: ""
      })))
    }
    this.timers.stop()
    this.#compression.close()
    this.#held = []
    this.#heldBytes = 0
    this.#link.close()
    this.#hooks.onReady(err)
    this.#hooks.onKexDone(err)
    for (const w of this.#inboxWaiters.splice(0)) w()
    for (const w of this.#sendWaiters.splice(0)) w()
    this.#upper?.onClose(err)
    this.#hooks.onClosed(err)
  }

  // ---- inbound ----

  #onData(chunk: Uint8Array): void {
    if (this.closedError !== undefined) return
    try {
      if (this.#parser !== undefined) {
        const r = this.#parser.push(chunk)
        if (r._tag === "NeedMore") return
        if (r._tag === "Failed") {
          // LIM-01…04: no DISCONNECT is possible before the version exchange; just close.
          return this.fail(localError("VersionExchange", DisconnectReason.ProtocolVersionNotSupported, r.description), false)
        }
        this.#parser = undefined
        this.peerVersion = r.version
        this.timers.clear("hello")
        const c = this.#config
        this.machine = new KexMachine({
          ...c.kex,
          clientVersion: c.role === "client" ? c.ourVersion : r.version,
          serverVersion: c.role === "client" ? r.version : c.ourVersion
        })
        this.#apply(this.machine.initiate(), 0)
        this.reader.push(r.rest)
      } else {
        this.reader.push(chunk)
      }
      if ((this.verifying || this.#paused) && this.reader.buffered > 4 * this.#config.maxPacket && !this.#pause()) {
        // Input held (a verdict is pending) on a link that cannot pause: bounded, then dropped.
        return this.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "input buffer overflow"))
      }
      this.#drain()
    } catch (defect) {
      this.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "internal error", defect))
    }
  }

  /** Frames, opens and dispatches every complete packet, until more bytes are needed or input is held. */
  #drain(): void {
    if (this.#draining) return
    this.#draining = true
    try {
      const reader = this.reader
      while (this.closedError === undefined && !this.verifying && !this.#inputStopped()) {
        const seq = reader.seq
        const r = reader.next()
        if (r === undefined) break
        if (isPacketError(r)) {
          if (r.reason === "CompressionError") {
            // SEC-51 / LIM-08: a payload that does not inflate, or inflates past the limit.
            return this.fail(localError("ProtocolViolation", DisconnectReason.CompressionError, r.description))
          }
          const code = r.reason === "MacMismatch" ? DisconnectReason.MacError : DisconnectReason.ProtocolError
          return this.fail(localError(r.reason, code, r.description))
        }
        const machine = this.machine!
        // SEC-07: a sequence number may not wrap before the first key exchange completes.
        if ((reader.wrapped || this.writer.wrapped) && machine.completed === 0) {
          return this.fail(localError("ProtocolViolation", 2, "sequence number wrapped during the initial key exchange"))
        }
        const type = r[0]!
        const gate = machine.gate(type)
        if (gate !== undefined) return this.fail(localError(gate.reason, gate.code, gate.description))
        if (type >= 50 || type === MessageId.SERVICE_REQUEST || type === MessageId.SERVICE_ACCEPT) {
          if (type >= 50 && !UPPER.has(type)) {
            this.#sendNow(TransportMessages.encode({ _tag: "Unimplemented", seq }))
            continue
          }
          this.#compression.received(r)
          this.#deliver(r)
          continue
        }
        this.#handleTransport(r, seq)
      }
      if (this.#needsRekey()) this.rekey()
    } finally {
      this.#draining = false
    }
  }

  #deliver(payload: Uint8Array): void {
    if (this.#upper !== undefined) return this.#upper.onMessage(payload)
    this.#inbox.push(payload)
    if (this.#inbox.length >= INBOX_PAUSE && !this.#paused) this.#pause()
    if (this.#inbox.length > INBOX_MAX) {
      this.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "input buffer overflow"))
      return
    }
    const w = this.#inboxWaiters.shift()
    if (w !== undefined) w()
  }

  /** Input stops while our replies cannot leave (the peer does not read) or a puller is behind. */
  #inputStopped(): boolean {
    if (this.#paused) return true
    if (this.#link.pending() >= READ_STOP) {
      // Backpressure: stop reading until the socket drains; a link that cannot pause falls back to a bound.
      if (!this.#pause() && this.#link.pending() >= 4 * READ_STOP) {
        this.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "the peer does not read (output overflow)"), false)
      }
      return this.#paused
    }
    return false
  }

  #pause(): boolean {
    if (this.#paused) return true
    if (!this.#link.pause()) return false
    this.#paused = true
    return true
  }

  #resumeIfIdle(): void {
    if (!this.#paused) return
    if (this.#inbox.length >= INBOX_PAUSE || this.#link.pending() >= READ_STOP) return
    this.#paused = false
    this.#link.resume()
    this.#drain()
  }

  #onDrain(): void {
    if (!this.congested()) {
      for (const w of this.#sendWaiters.splice(0)) w()
    }
    this.#resumeIfIdle()
  }

  #handleTransport(payload: Uint8Array, seq: number): void {
    const type = payload[0]!
    const machine = this.machine!
    switch (type) {
      case MessageId.DISCONNECT: {
        const d = TransportMessages.decode(payload)
        return this.fail(
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
        return this.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "malformed IGNORE"))
      case MessageId.DEBUG:
      case MessageId.UNIMPLEMENTED: {
        const d = TransportMessages.decode(payload)
        if (d._tag === "Left") {
          return this.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, `malformed ${
            type === MessageId.DEBUG ? "DEBUG" : "UNIMPLEMENTED"
          }: ${d.left.description}`))
        }
        // SEC-12: peer text is escaped and capped before it reaches a log.
        return this.#hooks.log(
          "debug",
          d.right._tag === "Debug" ? `peer debug: ${sanitizePeerText(d.right.message)}` :
            d.right._tag === "Unimplemented" ? `peer did not implement our packet ${d.right.seq}` : ""
        )
      }
      case MessageId.KEXINIT:
      case MessageId.NEWKEYS:
      case MessageId.EXT_INFO: {
        const startsKex = type === MessageId.KEXINIT && machine.completed > 0 && !machine.inProgress
        const outs = machine.receive(payload, seq)
        if (isKexFailure(outs)) return this.fail(localError(outs.reason, outs.code, outs.description))
        return startsKex ? this.#startKex(outs) : this.#apply(outs, 0)
      }
      default: {
        if (type >= 30 && type <= 49) {
          const outs = machine.receive(payload, seq)
          if (isKexFailure(outs)) return this.fail(localError(outs.reason, outs.code, outs.description))
          return this.#apply(outs, 0)
        }
        // RFC 4253 §11.4 / SEC-06: a message number we do not implement.
        this.#sendNow(TransportMessages.encode({ _tag: "Unimplemented", seq }))
      }
    }
  }

  // ---- key exchange ----

  /** Transport messages (UNIMPLEMENTED) go out at once; they are allowed during a key exchange. */
  #sendNow(payload: Uint8Array): void {
    this.#link.write(this.writer.seal(payload))
  }

  #startKex(outs: ReadonlyArray<KexOutput>): void {
    const before = this.machine!.completed
    this.#apply(outs, 0)
    if (before > 0 && this.closedError === undefined) {
      // LIM-11: a rekey that does not finish in time closes the connection.
      this.timers.set("rekey-timeout", this.#config.rekeyTimeoutMs, () => {
        if (this.machine!.completed === before) {
          this.fail(timedOut("Rekey", DisconnectReason.KeyExchangeFailed, "rekey timed out"))
        }
      })
    }
  }

  /** Applies the machine's outputs from `from` on, in order; a host key verdict suspends and resumes here. */
  #apply(outs: ReadonlyArray<KexOutput>, from: number): void {
    const machine = this.machine!
    for (let i = from; i < outs.length; i++) {
      if (this.closedError !== undefined) return
      const o = outs[i]!
      switch (o._tag) {
        case "Send":
          this.#link.write(this.writer.seal(o.payload))
          break
        case "SendNewKeys":
          this.#link.write(this.writer.seal(NEWKEYS))
          this.writer.setSealer(o.sealer)
          this.#compression.newKeysSent(machine.negotiated!)
          // OpenSSH PROTOCOL §1.9 strict KEX: reset the send sequence number after NEWKEYS.
          if (o.resetSeq) this.writer.seq = 0
          // LIM-10: the byte and packet budgets count what is sealed under the new keys.
          this.#bytesAtKex.out = this.writer.bytes
          this.#bytesAtKex.packetsOut = this.writer.packets
          break
        case "InstallOpener":
          this.reader.setOpener(o.opener)
          this.#compression.newKeysReceived(machine.negotiated!)
          if (o.resetSeq) this.reader.seq = 0
          this.#bytesAtKex.in = this.reader.bytes
          this.#bytesAtKex.packetsIn = this.reader.packets
          break
        case "VerifyHostKey": {
          // SEC-20: the policy decides outside the synchronous path; input is held until it has.
          this.verifying = true
          this.#hooks.verifyHostKey(o.algorithm, o.hostKey, (rejected) => {
            this.verifying = false
            if (this.closedError !== undefined) return
            if (rejected !== undefined) return this.fail(rejected)
            const next = machine.hostKeyAccepted()
            if (isKexFailure(next)) return this.fail(localError(next.reason, next.code, next.description))
            this.#apply(next, 0)
            this.#apply(outs, i + 1)
            this.#resumeIfIdle()
            this.#drain()
          })
          return
        }
        case "Complete":
          this.#completed(o.negotiated, o.first)
          break
        case "ExtInfo":
          this.serverSigAlgs = o.serverSigAlgs
          break
      }
    }
    if (!machine.outboundBlocked) {
      this.#flushHeld()
      this.#onDrain()
    }
  }

  #completed(negotiated: Negotiated, first: boolean): void {
    const c = this.#config
    // SEC-22: per direction, the byte limit lowered to the negotiated cipher's bound (64-bit blocks: 3des-cbc).
    this.#limitIn = Ciphers.rekeyLimit(c.rekeyBytes, c.role === "client" ? negotiated.cipherS2C : negotiated.cipherC2S)
    this.#limitOut = Ciphers.rekeyLimit(c.rekeyBytes, c.role === "client" ? negotiated.cipherC2S : negotiated.cipherS2C)
    this.timers.clear("rekey-timeout")
    this.#hooks.log("debug", `key exchange complete: ${negotiated.kex} ${negotiated.cipherC2S}`)
    if (first) {
      if (!this.machine!.strict) {
        // SEC-13: still interoperable, but the Terrapin prefix truncation is possible against this peer.
        this.#hooks.log(
          "warning",
          `peer lacks strict KEX (kex-strict-*-v00@openssh.com): open to Terrapin (CVE-2023-48795); ` +
            `negotiated ${negotiated.cipherC2S}`
        )
      }
      this.#armInterval()
      this.#hooks.onReady(undefined)
    }
    this.#hooks.onKexDone(undefined)
  }

  /** LIM-10: rekey by time as well as by bytes. */
  #armInterval(): void {
    this.timers.set("rekey-interval", this.#config.rekeyIntervalMs, () => {
      this.rekey()
      this.#armInterval()
    })
  }

  #flushHeld(): void {
    if (this.#held.length === 0) return
    const held = this.#held
    this.#held = []
    this.#heldBytes = 0
    for (const p of held) {
      if (this.closedError !== undefined || this.machine!.outboundBlocked) {
        // A new exchange started while flushing (by bytes): keep the rest, in order.
        this.#held.push(p)
        this.#heldBytes += p.length
        continue
      }
      this.#link.write(this.writer.seal(p))
      this.#compression.sent(p)
      if (this.#needsRekey()) this.rekey()
    }
  }

  #needsRekey(): boolean {
    const m = this.machine
    if (m === undefined || m.completed === 0 || m.inProgress) return false
    const a = this.#bytesAtKex
    const r = this.reader
    const w = this.writer
    return r.bytes - a.in > this.#limitIn || w.bytes - a.out > this.#limitOut ||
      r.packets - a.packetsIn > this.#packetsPerKey || w.packets - a.packetsOut > this.#packetsPerKey
  }
}
