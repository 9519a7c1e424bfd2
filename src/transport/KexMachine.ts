/**
 * The key exchange state machine (RFC 4253 §7–§9), pure and synchronous: it consumes the peer's transport
 * messages and produces what to send and which keys to install. First exchange and rekey, both roles, strict
 * KEX (OpenSSH PROTOCOL §1.9, SEC-13), the message gate of SEC-13/SEC-14, and ext-info (RFC 8308, SEC-21).
 * The only effectful step, the client's host key policy, is an output (`VerifyHostKey`) answered with
 * `hostKeyAccepted()`.
 *
 * @since 0.1.0
 */
import type * as Algorithms from "../crypto/Algorithms.js"
import type { CryptoBackend, PrivateKeyMaterial } from "../crypto/Backend.js"
import type * as Negotiate from "../crypto/Negotiate.js"
import type { PacketOpener, PacketSealer } from "../crypto/PacketCipher.js"
import { DisconnectReason } from "../SshError.js"
import { MessageId, messageName } from "../wire/MessageId.js"
import * as TransportMessages from "../wire/TransportMessages.js"
import * as Exchange from "./internal/kexExchange.js"

/**
 * A host key the server holds, with the signature algorithms it can serve.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerHostKey {
  readonly key: PrivateKeyMaterial
  readonly blob: Uint8Array
  readonly algorithms: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface KexConfig {
  readonly role: "client" | "server"
  readonly backend: CryptoBackend
  readonly algorithms: Algorithms.AlgorithmPreferences
  readonly clientVersion: string
  readonly serverVersion: string
  /** Server role: the host keys offered. */
  readonly hostKeys?: ReadonlyArray<ServerHostKey> | undefined
  /** Client role: DH group-exchange sizes (RFC 4419 §3; LIM-14). */
  readonly gex?: { readonly min: number; readonly n: number; readonly max: number } | undefined
  /** Server role: the signature algorithms announced in server-sig-algs (RFC 8308 §3.1). */
  readonly serverSigAlgs?: ReadonlyArray<string> | undefined
}

/**
 * The algorithms one exchange settled on: declared once, by the negotiation (`crypto/Negotiate`).
 *
 * @since 0.1.0
 * @category models
 */
export type Negotiated = Negotiate.Negotiated

/**
 * What the shell must do, in order.
 *
 * @since 0.1.0
 * @category models
 */
export type KexOutput =
  | { readonly _tag: "Send"; readonly payload: Uint8Array }
  /** Send NEWKEYS under the old keys, then seal with `sealer`; reset the send sequence number if `resetSeq`. */
  | { readonly _tag: "SendNewKeys"; readonly sealer: PacketSealer; readonly resetSeq: boolean }
  /** Client: ask the host key policy; answer with `hostKeyAccepted()` or fail the connection with code 9. */
  | { readonly _tag: "VerifyHostKey"; readonly algorithm: string; readonly hostKey: Uint8Array }
  /** The peer's NEWKEYS arrived: open with `opener` from the next packet; reset the receive sequence number. */
  | { readonly _tag: "InstallOpener"; readonly opener: PacketOpener; readonly resetSeq: boolean }
  | { readonly _tag: "Complete"; readonly negotiated: Negotiated; readonly first: boolean }
  /** Ext-info from the peer (RFC 8308). */
  | { readonly _tag: "ExtInfo"; readonly serverSigAlgs: ReadonlyArray<string> | undefined }

/**
 * A failure the shell turns into DISCONNECT(code) and a `TransportError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface KexFailure {
  readonly _tag: "KexFailure"
  readonly reason: "ProtocolViolation" | "KexFailed" | "NoCommonAlgorithm"
  readonly code: number
  readonly description: string
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isKexFailure = (u: unknown): u is KexFailure =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "KexFailure"

const violation = (description: string): KexFailure => ({
  _tag: "KexFailure",
  reason: "ProtocolViolation",
  code: DisconnectReason.ProtocolError,
  description
})

/** RFC 4253 §7.1 / OpenSSH `ssh_packet_type_is_kex`: the messages allowed while a key exchange runs. */
const isKexMessage = (t: number): boolean =>
  t === MessageId.KEXINIT || t === MessageId.NEWKEYS || (t >= 30 && t <= 49)

/**
 * The state of key exchange for one connection.
 *
 * @since 0.1.0
 * @category models
 */
export class KexMachine {
  /** H of the first exchange (RFC 4253 §7.2); never changes afterwards (SEC-19). */
  sessionId: Uint8Array | undefined
  /** Completed exchanges. */
  completed = 0
  /** Both sides signalled strict KEX in their first KEXINIT (SEC-13). */
  strict = false
  /** The peer asked for ext-info in its first KEXINIT (RFC 8308 §2.1). */
  peerWantsExtInfo = false
  /** The host key of the first exchange; a rekey must present the same one. */
  hostKeyBlob: Uint8Array | undefined
  /** The server's signature on the first H (= sessionId) under `hostKeyBlob`. */
  hostKeySignature: Uint8Array | undefined
  negotiated: Negotiated | undefined

  private ourInit: Uint8Array | undefined
  private peerInit: Uint8Array | undefined
  private exchange: Exchange.Exchange | undefined
  private sentNewKeys = false
  private receivedNewKeys = false
  private pendingOpener: PacketOpener | undefined
  private extInfoWindow = false
  private extInfoCount = 0

  constructor(readonly config: KexConfig) {}

  /** True from our or the peer's KEXINIT until both NEWKEYS. */
  get inProgress(): boolean {
    return this.ourInit !== undefined || this.peerInit !== undefined
  }

  /** True while our outbound non-KEX messages must wait (RFC 4253 §7.1): from our KEXINIT to our NEWKEYS. */
  get outboundBlocked(): boolean {
    return this.ourInit !== undefined && !this.sentNewKeys
  }

  /** Starts an exchange: the first one, or a rekey on demand. Does nothing if one is running. */
  initiate(): ReadonlyArray<KexOutput> {
    if (this.ourInit !== undefined) return []
    this.ourInit = this.makeKexInit()
    this.sentNewKeys = false
    return [{ _tag: "Send", payload: this.ourInit }]
  }

  /**
   * The gate in front of every inbound message (SEC-06, SEC-13, SEC-14, SEC-21): `undefined` to let it
   * through to `receive` or the upper layer, or the failure to disconnect with.
   */
  gate(type: number): KexFailure | undefined {
    if (type === MessageId.DISCONNECT) return undefined
    const wasExtInfoWindow = this.extInfoWindow
    this.extInfoWindow = false
    if (type === 0) return violation("message number 0 is not valid")
    if (this.completed === 0 && this.strict && !isKexMessage(type)) {
      return violation(`strict KEX violation: message ${messageName(type)} during the initial key exchange`)
    }
    if (this.peerInit !== undefined && !this.receivedNewKeys) {
      if (type >= 50 || type === MessageId.SERVICE_REQUEST || type === MessageId.SERVICE_ACCEPT || type === MessageId.EXT_INFO) {
        return violation(`message ${messageName(type)} received during key exchange (RFC 4253 §7.1)`)
      }
    }
    if (type >= 30 && type <= 49 && !(this.peerInit !== undefined && !this.receivedNewKeys)) {
      return violation(`key exchange message ${type} outside a key exchange`)
    }
    if (type === MessageId.NEWKEYS && (this.peerInit === undefined || this.receivedNewKeys)) {
      return violation("NEWKEYS outside a key exchange")
    }
    if (this.completed === 0 && this.peerInit === undefined && type >= 50) {
      return violation(`message ${messageName(type)} before the first key exchange`)
    }
    if (type === MessageId.EXT_INFO) {
      // RFC 8308 §2.4 / SEC-21: only as the first message after the peer's first NEWKEYS, at most once here.
      if (!wasExtInfoWindow) return violation("EXT_INFO outside the position RFC 8308 §2.4 allows")
    }
    return undefined
  }

  /**
   * Handles one transport message (KEXINIT, NEWKEYS, 30–49, EXT_INFO) that passed `gate`. `seq` is its receive
   * sequence number.
   */
  receive(payload: Uint8Array, seq: number): ReadonlyArray<KexOutput> | KexFailure {
    const type = payload[0]!
    if (type === MessageId.KEXINIT) return this.onKexInit(payload, seq)
    if (type === MessageId.NEWKEYS) return this.onNewKeys(payload)
    if (type === MessageId.EXT_INFO) return this.onExtInfo(payload)
    if (this.exchange === undefined) return violation(`unexpected key exchange message ${type}`)
    const r = this.exchange.receive(payload)
    return this.afterExchangeStep(r)
  }

  /** The client's host key policy accepted the key: send NEWKEYS. */
  hostKeyAccepted(): ReadonlyArray<KexOutput> | KexFailure {
    if (this.exchange === undefined) return violation("no key exchange awaits a host key verdict")
    return this.afterExchangeStep(this.exchange.accepted())
  }

  private afterExchangeStep(r: Exchange.StepResult): ReadonlyArray<KexOutput> | KexFailure {
    if (r._tag === "Failure") return r.failure
    const out: Array<KexOutput> = r.send.map((payload) => ({ _tag: "Send", payload }))
    if (r._tag === "Verify") {
      if (this.completed > 0) {
        // A rekey must present the host key of the first exchange; no second policy decision is taken.
        if (!equalBytes(r.hostKey, this.hostKeyBlob!)) {
          return { ...violation("the server's host key changed during rekey"), reason: "KexFailed", code: 9 }
        }
        return this.afterExchangeStep(this.exchange!.accepted())
      }
      out.push({ _tag: "VerifyHostKey", algorithm: r.algorithm, hostKey: r.hostKey })
      return out
    }
    if (r._tag === "Keys") {
      if (this.sessionId === undefined) this.sessionId = r.h
      if (this.hostKeyBlob === undefined) {
        this.hostKeyBlob = r.hostKey
        this.hostKeySignature = r.signature
      }
      const keys = Exchange.deriveKeys(this.config, this.negotiated!, r, this.sessionId)
      this.pendingOpener = keys.opener
      out.push({ _tag: "SendNewKeys", sealer: keys.sealer, resetSeq: this.strict })
      this.sentNewKeys = true
      if (this.config.role === "server" && this.completed === 0 && this.peerWantsExtInfo) {
        out.push({ _tag: "Send", payload: TransportMessages.encodeServerSigAlgs(this.serverSigAlgs()) })
      }
      if (this.receivedNewKeys) return this.complete(out)
    }
    return out
  }

  private onKexInit(payload: Uint8Array, seq: number): ReadonlyArray<KexOutput> | KexFailure {
    if (this.peerInit !== undefined) return violation("a second KEXINIT in one key exchange (SEC-14)")
    const decoded = TransportMessages.decode(payload)
    if (decoded._tag === "Left" || decoded.right._tag !== "KexInit") return violation("malformed KEXINIT")
    const peer = decoded.right
    const out: Array<KexOutput> = []
    if (this.ourInit === undefined) out.push(...this.initiate())
    this.peerInit = payload
    this.receivedNewKeys = false
    const first = this.completed === 0
    if (first) {
      const them = this.config.role === "client" ? "s" : "c"
      this.strict = peer.kex.includes(`kex-strict-${them}-v00@openssh.com`) || peer.kex.includes(`kex-strict-${them}`)
      // SEC-13 (1): with strict KEX the peer's KEXINIT must be the first packet it sent.
      if (this.strict && seq !== 0) return violation("strict KEX violation: KEXINIT was not the first packet")
      this.peerWantsExtInfo = this.config.role === "server" && peer.kex.includes("ext-info-c")
    }
    const ours = TransportMessages.decode(this.ourInit!)
    if (ours._tag === "Left" || ours.right._tag !== "KexInit") return violation("internal: our KEXINIT does not decode")
    const ex = Exchange.start(this.config, ours.right, peer, this.ourInit!, payload)
    if (ex._tag === "KexFailure") return ex
    this.negotiated = ex.negotiated
    this.exchange = ex
    const step = ex.begin()
    const r = this.afterExchangeStep(step)
    if (isKexFailure(r)) return r
    return [...out, ...r]
  }

  private onNewKeys(payload: Uint8Array): ReadonlyArray<KexOutput> | KexFailure {
    if (payload.length !== 1) return violation("NEWKEYS with trailing bytes")
    if (this.pendingOpener === undefined) return violation("NEWKEYS before the key exchange finished (SEC-14)")
    this.receivedNewKeys = true
    const out: Array<KexOutput> = [{ _tag: "InstallOpener", opener: this.pendingOpener, resetSeq: this.strict }]
    this.pendingOpener = undefined
    if (this.completed === 0) this.extInfoWindow = true
    if (this.sentNewKeys) return this.complete(out)
    return out
  }

  private onExtInfo(payload: Uint8Array): ReadonlyArray<KexOutput> | KexFailure {
    // LIM-13: at most one EXT_INFO is taken at this position.
    if (++this.extInfoCount > 1) return violation("more than one EXT_INFO")
    const decoded = TransportMessages.decode(payload)
    if (decoded._tag === "Left" || decoded.right._tag !== "ExtInfo") return violation("malformed EXT_INFO")
    if (this.config.role === "server") return []
    return [{ _tag: "ExtInfo", serverSigAlgs: TransportMessages.serverSigAlgs(decoded.right) }]
  }

  private complete(out: Array<KexOutput>): ReadonlyArray<KexOutput> {
    const first = this.completed === 0
    this.completed++
    this.ourInit = undefined
    this.peerInit = undefined
    this.exchange = undefined
    this.sentNewKeys = false
    out.push({ _tag: "Complete", negotiated: this.negotiated!, first })
    return out
  }

  private serverSigAlgs(): ReadonlyArray<string> {
    return this.config.serverSigAlgs ?? this.config.algorithms.hostKey
  }

  private makeKexInit(): Uint8Array {
    const c = this.config
    const a = c.algorithms
    // SEC-13 / RFC 8308 §2.1: the pseudo-algorithms go in the first KEXINIT only.
    const markers = this.completed > 0 ? [] :
      c.role === "client" ? ["ext-info-c", "kex-strict-c-v00@openssh.com"] : ["ext-info-s", "kex-strict-s-v00@openssh.com"]
    const hostKey = c.role === "server" ?
      a.hostKey.filter((alg) => (c.hostKeys ?? []).some((k) => k.algorithms.includes(alg))) :
      a.hostKey
    return TransportMessages.encode({
      _tag: "KexInit",
      cookie: c.backend.randomBytes(16),
      kex: [...a.kex, ...markers],
      hostKey,
      cipherC2S: a.cipher,
      cipherS2C: a.cipher,
      macC2S: a.mac,
      macS2C: a.mac,
      compressionC2S: a.compression,
      compressionS2C: a.compression,
      languageC2S: [],
      languageS2C: [],
      firstKexPacketFollows: false,
      reserved: 0
    })
  }
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
