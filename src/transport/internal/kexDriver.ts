/**
 * The engine's key exchange driver (RFC 4253 §7–§9): feeds KEXINIT, NEWKEYS, EXT_INFO and messages 30–49 to the
 * `KexMachine`, carries out what it asks (send, switch keys, ask the host key policy — the one step that leaves
 * the synchronous path, SEC-20), and starts a rekey when a byte, packet or time budget runs out (LIM-10, LIM-11,
 * SEC-07, SEC-22).
 *
 * @since 0.1.0
 */
import * as Ciphers from "../../crypto/Ciphers.js"
import { DisconnectReason } from "../../SshError.js"
import { MessageId } from "../../wire/MessageId.js"
import { isKexFailure, KexMachine, type KexOutput, type Negotiated } from "../KexMachine.js"
import type { Engine } from "./engine.js"
import { localError, timedOut } from "./errors.js"

/** RFC 4344 §3.1 / SEC-07: rekey before 2^31 packets in either direction. */
const MAX_PACKETS_PER_KEY = 2 ** 31
const NEWKEYS = new Uint8Array([MessageId.NEWKEYS])

/** @internal */
export class KexDriver {
  machine: KexMachine | undefined = undefined
  serverSigAlgs: ReadonlyArray<string> | undefined = undefined
  /** The client's host key policy is deciding: input is held until it does (SEC-20). */
  verifying = false

  readonly #engine: Engine
  #bytesAtKex = { in: 0, out: 0, packetsIn: 0, packetsOut: 0 }
  #limitIn: number
  #limitOut: number
  readonly #packetsPerKey: number

  constructor(engine: Engine) {
    this.#engine = engine
    this.#limitIn = engine.config.rekeyBytes
    this.#limitOut = engine.config.rekeyBytes
    this.#packetsPerKey = engine.config.packetsPerKey ?? MAX_PACKETS_PER_KEY
  }

  /** The version exchange is done: the machine is built and our KEXINIT goes out (RFC 4253 §7.1). */
  begin(peerVersion: string): void {
    const c = this.#engine.config
    this.machine = new KexMachine({
      ...c.kex,
      clientVersion: c.role === "client" ? c.ourVersion : peerVersion,
      serverVersion: c.role === "client" ? peerVersion : c.ourVersion
    })
    this.#apply(this.machine.initiate(), 0)
  }

  /** One key exchange message (KEXINIT, NEWKEYS, EXT_INFO, 30–49) from the peer, with its sequence number. */
  receive(payload: Uint8Array, seq: number): void {
    const machine = this.machine!
    const startsKex = payload[0] === MessageId.KEXINIT && machine.completed > 0 && !machine.inProgress
    const outs = machine.receive(payload, seq)
    if (isKexFailure(outs)) return this.#engine.fail(localError(outs.reason, outs.code, outs.description))
    return startsKex ? this.#start(outs) : this.#apply(outs, 0)
  }

  /** Starts a key exchange unless one runs (RFC 4253 §9). */
  rekey(): void {
    const m = this.machine
    if (m === undefined || m.completed === 0 || m.inProgress || this.#engine.closedError !== undefined) return
    this.#start(m.initiate())
  }

  /** Rekeys when a byte or packet budget of the current keys ran out (LIM-10, SEC-07, SEC-22). */
  rekeyIfDue(): void {
    const m = this.machine
    if (m === undefined || m.completed === 0 || m.inProgress) return
    const a = this.#bytesAtKex
    const r = this.#engine.reader
    const w = this.#engine.writer
    if (
      r.bytes - a.in > this.#limitIn || w.bytes - a.out > this.#limitOut ||
      r.packets - a.packetsIn > this.#packetsPerKey || w.packets - a.packetsOut > this.#packetsPerKey
    ) this.rekey()
  }

  #start(outs: ReadonlyArray<KexOutput>): void {
    const e = this.#engine
    const before = this.machine!.completed
    this.#apply(outs, 0)
    if (before > 0 && e.closedError === undefined) {
      // LIM-11: a rekey that does not finish in time closes the connection.
      e.timers.set("rekey-timeout", e.config.rekeyTimeoutMs, () => {
        if (this.machine!.completed === before) {
          e.fail(timedOut("Rekey", DisconnectReason.KeyExchangeFailed, "rekey timed out"))
        }
      })
    }
  }

  /** Applies the machine's outputs from `from` on, in order; a host key verdict suspends and resumes here. */
  #apply(outs: ReadonlyArray<KexOutput>, from: number): void {
    const e = this.#engine
    const machine = this.machine!
    for (let i = from; i < outs.length; i++) {
      if (e.closedError !== undefined) return
      const o = outs[i]!
      switch (o._tag) {
        case "Send":
          e.outbound.sendNow(o.payload)
          break
        case "SendNewKeys":
          e.outbound.sendNow(NEWKEYS)
          e.writer.setSealer(o.sealer)
          e.compression.newKeysSent(machine.negotiated!)
          // OpenSSH PROTOCOL §1.9 strict KEX: reset the send sequence number after NEWKEYS.
          if (o.resetSeq) e.writer.seq = 0
          // LIM-10: the byte and packet budgets count what is sealed under the new keys.
          this.#bytesAtKex.out = e.writer.bytes
          this.#bytesAtKex.packetsOut = e.writer.packets
          break
        case "InstallOpener":
          e.reader.setOpener(o.opener)
          e.compression.newKeysReceived(machine.negotiated!)
          if (o.resetSeq) e.reader.seq = 0
          this.#bytesAtKex.in = e.reader.bytes
          this.#bytesAtKex.packetsIn = e.reader.packets
          break
        case "VerifyHostKey": {
          // SEC-20: the policy decides outside the synchronous path; input is held until it has.
          this.verifying = true
          e.hooks.verifyHostKey(o.algorithm, o.hostKey, (rejected) => {
            this.verifying = false
            if (e.closedError !== undefined) return
            if (rejected !== undefined) return e.fail(rejected)
            const next = machine.hostKeyAccepted()
            if (isKexFailure(next)) return e.fail(localError(next.reason, next.code, next.description))
            this.#apply(next, 0)
            this.#apply(outs, i + 1)
            e.inbound.resumeIfIdle()
            e.inbound.drain()
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
      e.outbound.flushHeld()
      e.onDrain()
    }
  }

  #completed(negotiated: Negotiated, first: boolean): void {
    const e = this.#engine
    const c = e.config
    // SEC-22: per direction, the byte limit lowered to the negotiated cipher's bound (64-bit blocks: 3des-cbc).
    this.#limitIn = Ciphers.rekeyLimit(c.rekeyBytes, c.role === "client" ? negotiated.cipherS2C : negotiated.cipherC2S)
    this.#limitOut = Ciphers.rekeyLimit(c.rekeyBytes, c.role === "client" ? negotiated.cipherC2S : negotiated.cipherS2C)
    e.timers.clear("rekey-timeout")
    e.hooks.log("debug", `key exchange complete: ${negotiated.kex} ${negotiated.cipherC2S}`)
    if (first) {
      if (!this.machine!.strict) {
        // SEC-13: still interoperable, but the Terrapin prefix truncation is possible against this peer.
        e.hooks.log(
          "warning",
          `peer lacks strict KEX (kex-strict-*-v00@openssh.com): open to Terrapin (CVE-2023-48795); ` +
            `negotiated ${negotiated.cipherC2S}`
        )
      }
      this.#armInterval()
      e.hooks.onReady(undefined)
    }
    e.hooks.onKexDone(undefined)
  }

  /** LIM-10: rekey by time as well as by bytes. */
  #armInterval(): void {
    this.#engine.timers.set("rekey-interval", this.#engine.config.rekeyIntervalMs, () => {
      this.rekey()
      this.#armInterval()
    })
  }
}
