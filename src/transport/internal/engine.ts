/**
 * The transport engine (DESIGN.md §6): one object per connection that runs, synchronously in the link's data
 * callback, the version exchange, framing (SEC-01), MAC/decrypt, decompression, the key exchange gate, key
 * exchange steps and the dispatch of every message for the layers above. Outbound messages are sealed and
 * written in the caller's turn; only the host key verdict leaves the synchronous path, and the engine holds its
 * input ("waiting for verdict") until the verdict arrives. No fiber and no queue sit between the socket and the
 * connection layer.
 *
 * This module holds the connection's state and its life (start, close); the work is in three parts, one hop
 * away: `inbound.ts` (version exchange, framing, dispatch by message number, the transport messages, read
 * backpressure), `outbound.ts` (sealing, messages held during a key exchange, the high-water mark) and
 * `kexDriver.ts` (key exchange and rekey).
 *
 * @since 0.1.0
 */
import type { CryptoBackend } from "../../crypto/Backend.js"
import { DisconnectReason, TransportError } from "../../SshError.js"
import * as TransportMessages from "../../wire/TransportMessages.js"
import type { ZlibStreams } from "../Compression.js"
import type { KexConfig, KexMachine } from "../KexMachine.js"
import type { Link } from "../Link.js"
import { PacketReader, PacketWriter } from "../PacketCodec.js"
import { Timers } from "../Timers.js"
import { PacketCompression } from "./compression.js"
import { timedOut } from "./errors.js"
import { Inbound } from "./inbound.js"
import { KexDriver } from "./kexDriver.js"
import { Outbound } from "./outbound.js"

export { localError, timedOut } from "./errors.js"
export { HIGH_WATER } from "./outbound.js"

/** The key under which a transport offers its synchronous side (re-exported by Transport.ts). */
export const DirectTypeId: unique symbol = Symbol.for("effect-ssh/Transport/Direct")

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
  readonly config: EngineConfig
  readonly link: Link
  readonly hooks: EngineHooks
  readonly reader: PacketReader
  readonly writer: PacketWriter
  readonly compression: PacketCompression
  readonly timers = new Timers()
  readonly inbound: Inbound
  readonly outbound: Outbound
  readonly kex: KexDriver
  closedError: TransportError | undefined = undefined

  constructor(config: EngineConfig, link: Link, hooks: EngineHooks) {
    this.config = config
    this.role = config.role
    this.link = link
    this.hooks = hooks
    this.reader = new PacketReader(undefined, config.maxPacket)
    this.writer = new PacketWriter(undefined, (n) => config.backend.randomBytes(n))
    this.reader.seq = (config.initialRecvSeq ?? 0) >>> 0
    this.writer.seq = (config.initialSendSeq ?? 0) >>> 0
    this.compression = new PacketCompression(config.role, config.zlib, this.reader, this.writer)
    this.kex = new KexDriver(this)
    this.outbound = new Outbound(this)
    this.inbound = new Inbound(this)
  }

  /** The key exchange state machine, once the version exchange is done. */
  get machine(): KexMachine | undefined {
    return this.kex.machine
  }

  get peerVersion(): string {
    return this.inbound.peerVersion
  }

  get serverSigAlgs(): ReadonlyArray<string> | undefined {
    return this.kex.serverSigAlgs
  }

  /** The client's host key policy is deciding (SEC-20). */
  get verifying(): boolean {
    return this.kex.verifying
  }

  /** Sends our identification line and starts reading (LIM-03: the hello timeout starts now). */
  start(): void {
    this.link.write(this.config.versionLine)
    this.timers.set("hello", this.config.helloTimeoutMs, () => {
      if (this.inbound.peerVersion === "") {
        this.fail(timedOut("VersionExchange", DisconnectReason.ProtocolError, "version exchange timed out (LIM-03)"), false)
      }
    })
    this.link.start({
      onData: (chunk) => this.inbound.onData(chunk),
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
      onDrain: () => this.onDrain(),
      readBuffer: () => this.reader.readBuffer()
    })
  }

  // ---- the layers above (inbound.ts, outbound.ts, kexDriver.ts do the work) ----

  /** Hands every later message (and those not yet taken) to `upper`, synchronously. */
  attach(upper: Upper): void {
    this.inbound.attach(upper)
  }

  /** The next message for a puller (user authentication), or `undefined`; `wake` runs when one arrives. */
  take(wake: () => void): Uint8Array | undefined {
    return this.inbound.take(wake)
  }

  /** Every message not yet taken. */
  takeAll(): Array<Uint8Array> {
    return this.inbound.takeAll()
  }

  /** Bytes queued for the socket, including messages held during a key exchange. */
  pending(): number {
    return this.outbound.pending()
  }

  /** Whether a producer should wait (a key exchange blocks output, or the socket is above its high-water mark). */
  congested(): boolean {
    return this.outbound.congested()
  }

  /** Runs `wake` once the socket drained below the high-water mark (or the connection closed). */
  onceWritable(wake: () => void): void {
    this.outbound.onceWritable(wake)
  }

  /** Seals and writes one message of the layers above now, or holds it during a key exchange. */
  send(payload: Uint8Array): TransportError | undefined {
    return this.outbound.send(payload)
  }

  /** `send` of the payload `head ‖ data`, sealed without joining the two where the writer gathers. */
  sendData(head: Uint8Array, data: Uint8Array): TransportError | undefined {
    return this.outbound.sendData(head, data)
  }

  /** Starts a key exchange unless one runs (RFC 4253 §9). */
  rekey(): void {
    this.kex.rekey()
  }

  /** The socket took what was queued: blocked producers continue, reading resumes. */
  onDrain(): void {
    this.outbound.wake()
    this.inbound.resumeIfIdle()
  }

  // ---- closing ----

  /**
   * The first error wins: DISCONNECT (when `sendDisconnect` and keys exist), every waiter and the layers above
   * see `err`, the link flushes and closes.
   */
  fail(err: TransportError, sendDisconnect = true, linkEnded = false): void {
    if (this.closedError !== undefined) return
    this.closedError = err
    if (sendDisconnect && this.kex.machine !== undefined && !linkEnded) {
      this.outbound.sendNow(TransportMessages.encode({
        _tag: "Disconnect",
        code: err.code,
        description: err.description.slice(0, 256),
        language: ""
      }))
    }
    this.timers.stop()
    this.compression.close()
    this.outbound.clear()
    this.link.close()
    this.hooks.onReady(err)
    this.hooks.onKexDone(err)
    this.inbound.closed()
    this.outbound.wake(true)
    this.inbound.upper?.onClose(err)
    this.hooks.onClosed(err)
  }
}
