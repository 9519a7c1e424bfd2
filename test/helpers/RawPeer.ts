/**
 * H1 of SECURITY.md §1.1: a scriptable SSH endpoint that talks to our `Transport` over an in-memory socket pair.
 * The test takes the other role and drives it by hand with the library's public codec only (TST-01): raw bytes,
 * hand-built packets (any length, padding or sequence number), KEXINIT and key-exchange messages, and a real key
 * exchange whose exchange hash (RFC 4253 §8) and keys (§7.2) are computed here, step by step, so a test can
 * attack any step and then watch what our side sent back and the `TransportError` it ended with.
 *
 * Also H2: a byte-level proxy for the Terrapin test (SEC-13 f).
 */
import * as Socket from "@effect/platform/Socket"
import { Cause, Effect, Exit, Fiber, Option, Queue } from "effect"
import type * as Scope from "effect/Scope"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import type { CryptoBackend, HashAlgorithm, PrivateKeyMaterial } from "../../src/crypto/Backend.js"
import * as Ciphers from "../../src/crypto/Ciphers.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import type { KexClient } from "../../src/crypto/Kex.js"
import * as KexRegistry from "../../src/crypto/KexRegistry.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import * as KeyDerivation from "../../src/crypto/KeyDerivation.js"
import * as Negotiate from "../../src/crypto/Negotiate.js"
import type { PacketOpener, PacketSealer } from "../../src/crypto/PacketCipher.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import type { TransportError } from "../../src/SshError.js"
import * as Identification from "../../src/transport/Identification.js"
import {
  isPacketError,
  noneOpener,
  noneSealer,
  type PacketError,
  PacketReader,
  PacketWriter
} from "../../src/transport/PacketCodec.js"
import * as Transport from "../../src/transport/Transport.js"
import * as KexMessages from "../../src/wire/KexMessages.js"
import { MessageId } from "../../src/wire/MessageId.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import * as Writer from "../../src/wire/Writer.js"
import { testHostKeys } from "./Loopback.js"
import * as MemorySocket from "./MemorySocket.js"

/** How long any single wait of the raw peer may take before the test fails (never reached when all is well). */
export const WAIT = "10 seconds"

/** What the raw peer read from our side. */
export type Received =
  | { readonly _tag: "Packet"; readonly seq: number; readonly payload: Uint8Array }
  | { readonly _tag: "Error"; readonly error: PacketError }
  | { readonly _tag: "Closed" }

export interface RawPeerOptions {
  /** The role of OUR side (the Transport under test); the raw peer takes the other one. */
  readonly victim: "client" | "server"
  readonly backend?: CryptoBackend | undefined
  /** Options for our Transport, over defaults that accept any host key (client) or offer the test keys (server). */
  readonly victimOptions?: Partial<Transport.TransportOptions> | undefined
  /** The raw server's host key (default: the test ed25519 key). */
  readonly hostKey?: PrivateKeyMaterial | undefined
  /** Socket queue capacity in chunks, each direction. */
  readonly capacity?: number | undefined
  /** Chunks the raw peer reads ahead of the test (default: unbounded); small values push back on our side. */
  readonly readAhead?: number | undefined
  /** Puts something between the two ends (H2): `victimSide` is the socket our Transport's peer end, `peerSide` the raw peer's. */
  readonly interpose?:
    | ((victimSide: Socket.Socket, peerSide: Socket.Socket) => Effect.Effect<void, never, Scope.Scope>)
    | undefined
}

/** Overrides for a KEXINIT the raw peer sends. */
export type KexInitOverrides = Partial<Omit<TransportMessages.KexInit, "_tag">> & {
  /** Append the strict-KEX pseudo-algorithm of our role (default: on the first exchange only). */
  readonly strict?: boolean | undefined
  /** Append ext-info-c / ext-info-s (default: false). */
  readonly extInfo?: boolean | undefined
}

interface PendingKeys {
  readonly sealer: PacketSealer
  readonly opener: PacketOpener
}

const die = (message: string) => Effect.dieMessage(`RawPeer: ${message}`)

const typeName = (r: Received): string =>
  r._tag === "Packet" ? `message ${r.payload[0]}` : r._tag === "Error" ? `packet error ${r.error.reason}` : "closed"

/**
 * A plaintext packet (`uint32 packet_length ‖ byte padding_length ‖ payload ‖ padding`) laid out by hand. By default
 * it is well formed for the block size; every field can be forced to a wrong value.
 */
export const plainPacket = (
  payload: Uint8Array,
  o: {
    readonly blockSize?: number | undefined
    readonly lengthAligned?: boolean | undefined
    /** The padding actually appended (default: the minimal valid padding). */
    readonly padding?: number | undefined
    /** The value written into padding_length (default: the padding appended). */
    readonly paddingLength?: number | undefined
    /** The value written into packet_length (default: the true length). */
    readonly packetLength?: number | undefined
  } = {}
): Uint8Array => {
  const bs = o.blockSize ?? 8
  const aligned = o.lengthAligned ?? true
  let padding = o.padding ?? -1
  if (padding < 0) {
    const base = aligned ? 5 + payload.length : 1 + payload.length
    padding = bs - (base % bs)
    if (padding < 4) padding += bs
  }
  const len = 1 + payload.length + padding
  const out = new Uint8Array(4 + len)
  new DataView(out.buffer).setUint32(0, (o.packetLength ?? len) >>> 0)
  out[4] = o.paddingLength ?? padding
  out.set(payload, 5)
  for (let i = 5 + payload.length; i < out.length; i++) out[i] = (i * 151) & 0xff
  return out
}

/** An IGNORE payload of exactly `payloadLength` bytes. */
export const ignoreOfLength = (payloadLength: number): Uint8Array =>
  TransportMessages.encode({ _tag: "Ignore", data: new Uint8Array(payloadLength - 5) })

/** The raw peer: state, socket, and the steps of a handshake. */
export class RawPeer {
  readonly role: "client" | "server"
  readonly reader: PacketReader
  readonly writer: PacketWriter
  /** Every plaintext packet our side sent (padding_length ‖ payload ‖ padding), when `capture` is on. */
  readonly captured: Array<{ readonly seq: number; readonly plain: Uint8Array }> = []
  capture = false
  /** Our own identification line (without CR LF). */
  version = "SSH-2.0-RawPeer_1.0"
  /** Our side's identification line, once read. */
  victimVersion: string | undefined
  /** Both sides signalled strict KEX in their first KEXINIT. */
  strict = false
  exchanges = 0
  sessionId: Uint8Array | undefined
  ourInit: Uint8Array | undefined
  peerInit: Uint8Array | undefined
  negotiated: Negotiate.Negotiated | undefined
  /** The last exchange hash H and shared secret K (encoded). */
  h: Uint8Array | undefined
  k: Uint8Array | undefined
  pending: PendingKeys | undefined
  /** The opener to install when our side's NEWKEYS arrives (done by `next`, whoever reads it). */
  private pendingOpener: PacketOpener | undefined
  kexClient: KexClient | undefined
  clientValue: Uint8Array | undefined
  private ended = false
  private versionRead = false

  constructor(
    readonly options: RawPeerOptions,
    readonly backend: CryptoBackend,
    readonly hostKey: PrivateKeyMaterial,
    private readonly inbox: Queue.Queue<Uint8Array | "closed">,
    private readonly writeChunk: (chunk: Uint8Array | Socket.CloseEvent) => Effect.Effect<void, Socket.SocketError>,
    /** Transport.make of our side: succeeds once the first key exchange completes, or fails with why not. */
    readonly victimFiber: Fiber.RuntimeFiber<Transport.Transport, TransportError>
  ) {
    this.role = options.victim === "client" ? "server" : "client"
    this.reader = new PacketReader(noneOpener(), 64 * 1024 * 1024)
    this.writer = new PacketWriter(noneSealer(), (n) => backend.randomBytes(n))
  }

  // ---- raw I/O ----

  /** Writes bytes as they are. */
  write(bytes: Uint8Array): Effect.Effect<void> {
    return this.writeChunk(bytes).pipe(Effect.timeout(WAIT), Effect.orDie)
  }

  /** Closes the raw end. */
  get close(): Effect.Effect<void> {
    return Effect.ignore(this.writeChunk(new Socket.CloseEvent(1000)))
  }

  /** Seals a payload under the current keys and sequence number and writes it. */
  send(...payloads: ReadonlyArray<Uint8Array>): Effect.Effect<void> {
    return Effect.suspend(() => this.write(concat(payloads.map((p) => this.writer.seal(p)))))
  }

  /** Seals a hand-made plaintext packet (see `plainPacket`) with the current sealer and sequence number. */
  seal(packet: Uint8Array): Uint8Array {
    const out = this.writer.sealer.seal(this.writer.seq, packet)
    this.writer.seq = (this.writer.seq + 1) >>> 0
    return out
  }

  /** `plainPacket` laid out for the current sealer's block size and alignment rule. */
  packet(payload: Uint8Array, o: Omit<Parameters<typeof plainPacket>[1] & object, "blockSize" | "lengthAligned"> = {}) {
    return plainPacket(payload, { ...o, blockSize: this.writer.sealer.blockSize, lengthAligned: this.writer.sealer.lengthAligned })
  }

  private takeChunk: Effect.Effect<Uint8Array | "closed"> = Effect.suspend(() =>
    Queue.take(this.inbox).pipe(
      Effect.timeoutFail({ duration: WAIT, onTimeout: () => "timed out waiting for our side" }),
      Effect.orDieWith((e) => new Error(`RawPeer: ${e}`))
    )
  )

  /** Reads our side's identification line (lines before it are skipped); the rest goes to the packet reader. */
  get readVersion(): Effect.Effect<string> {
    return Effect.gen(this, function*() {
      const parser = new Identification.IdentificationParser(this.role)
      for (;;) {
        const chunk = yield* this.takeChunk
        if (chunk === "closed") return yield* die("closed before the identification line")
        const r = parser.push(chunk)
        if (r._tag === "NeedMore") continue
        if (r._tag === "Failed") return yield* die(`bad identification from our side: ${r.description}`)
        this.versionRead = true
        this.victimVersion = r.version
        this.reader.push(r.rest)
        return r.version
      }
    })
  }

  /** The next packet from our side, a framing/MAC error, or the end of the connection. */
  get next(): Effect.Effect<Received> {
    return Effect.gen(this, function*() {
      if (!this.versionRead) yield* this.readVersion
      for (;;) {
        const seq = this.reader.seq
        const r = this.reader.next()
        if (r !== undefined) {
          if (isPacketError(r)) return { _tag: "Error", error: r } as const
          if (r[0] === MessageId.NEWKEYS && r.length === 1 && this.pendingOpener !== undefined) {
            // RFC 4253 §7.3: our side's packets after its NEWKEYS use the new keys.
            this.reader.setOpener(this.pendingOpener)
            this.pendingOpener = undefined
            if (this.strict) this.reader.seq = 0
            this.exchanges++
          }
          return { _tag: "Packet", seq, payload: r.slice() } as const
        }
        if (this.ended) return { _tag: "Closed" } as const
        const chunk = yield* this.takeChunk
        if (chunk === "closed") this.ended = true
        else this.reader.push(chunk)
      }
    })
  }

  /** The next message, which must be of `type`. */
  expect(type: number): Effect.Effect<Uint8Array> {
    return Effect.flatMap(this.next, (r) =>
      r._tag === "Packet" && r.payload[0] === type
        ? Effect.succeed(r.payload)
        : die(`expected message ${type}, got ${typeName(r)}${describeDisconnect(r)}`))
  }

  /** Everything our side sends until the connection ends. */
  get untilClosed(): Effect.Effect<ReadonlyArray<Received>> {
    return Effect.gen(this, function*() {
      const out: Array<Received> = []
      for (;;) {
        const r = yield* this.next
        out.push(r)
        if (r._tag !== "Packet") return out
      }
    })
  }

  /** Sends our identification line (after `preamble`, e.g. banner lines) and reads our side's. */
  exchangeVersions(line: string = this.version, preamble: string = ""): Effect.Effect<string> {
    this.version = line
    return Effect.zipRight(this.write(new TextEncoder().encode(preamble + line + "\r\n")), this.readVersion)
  }

  /** Our side's first line as raw bytes, up to and including LF; `undefined` if the connection ends first. */
  get readRawLine(): Effect.Effect<Uint8Array | undefined> {
    return Effect.gen(this, function*() {
      let buf: Uint8Array = new Uint8Array(0)
      for (;;) {
        const lf = buf.indexOf(0x0a)
        if (lf >= 0) {
          this.versionRead = true
          this.reader.push(buf.slice(lf + 1))
          return buf.slice(0, lf + 1)
        }
        const chunk = yield* this.takeChunk
        if (chunk === "closed") {
          this.ended = true
          return undefined
        }
        buf = concat([buf, chunk])
      }
    })
  }

  // ---- our side ----

  /** Our side's Transport (its first key exchange must succeed). */
  get transport(): Effect.Effect<Transport.Transport> {
    return Fiber.join(this.victimFiber).pipe(
      Effect.timeoutFail({ duration: WAIT, onTimeout: () => "timed out waiting for the handshake" }),
      Effect.orDieWith((e) => new Error(`RawPeer: our side's handshake failed: ${typeof e === "string" ? e : e.message}`))
    )
  }

  /** Why our side's connection ended: the handshake's error, or `closed` of the Transport. */
  get victimError(): Effect.Effect<TransportError> {
    return Effect.gen(this, function*() {
      const exit = yield* Fiber.await(this.victimFiber).pipe(Effect.timeout(WAIT), Effect.orDie)
      if (Exit.isSuccess(exit)) return yield* exit.value.closed.pipe(Effect.timeout(WAIT), Effect.orDie)
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) return failure.value
      return yield* die(`our side's handshake died: ${Cause.pretty(exit.cause)}`)
    })
  }

  // ---- key exchange, step by step ----

  /** A KEXINIT payload from our defaults and `o`. */
  kexInit(o: KexInitOverrides = {}): Uint8Array {
    const first = this.exchanges === 0
    const server = this.role === "server"
    const markers = [
      ...(o.extInfo ?? false ? [server ? "ext-info-s" : "ext-info-c"] : []),
      ...(o.strict ?? first ? [server ? "kex-strict-s-v00@openssh.com" : "kex-strict-c-v00@openssh.com"] : [])
    ]
    const cipher = Algorithms.DEFAULT_CIPHERS
    const mac = Algorithms.DEFAULT_MACS
    return TransportMessages.encode({
      _tag: "KexInit",
      cookie: o.cookie ?? this.backend.randomBytes(16),
      kex: [...(o.kex ?? ["curve25519-sha256"]), ...markers],
      hostKey: o.hostKey ?? (server ? HostKey.algorithmsForKey(this.hostKey) : Algorithms.DEFAULT_HOST_KEY_ALGORITHMS),
      cipherC2S: o.cipherC2S ?? cipher,
      cipherS2C: o.cipherS2C ?? cipher,
      macC2S: o.macC2S ?? mac,
      macS2C: o.macS2C ?? mac,
      compressionC2S: o.compressionC2S ?? ["none"],
      compressionS2C: o.compressionS2C ?? ["none"],
      languageC2S: o.languageC2S ?? [],
      languageS2C: o.languageS2C ?? [],
      firstKexPacketFollows: o.firstKexPacketFollows ?? false,
      reserved: o.reserved ?? 0
    })
  }

  /** Sends our KEXINIT (built with `kexInit`, or exactly `payload`). */
  sendKexInit(o: KexInitOverrides | Uint8Array = {}): Effect.Effect<void> {
    const payload = o instanceof Uint8Array ? o : this.kexInit(o)
    this.ourInit = payload
    return this.send(payload)
  }

  /**
   * Messages of other types that arrive while a step waits for a KEX message are handed here when set (our side
   * may have sent data before it saw our KEXINIT); otherwise they fail the step.
   */
  onOther: ((payload: Uint8Array) => void) | undefined

  /** The next message of `type`, passing earlier non-KEX messages to `onOther` when it is set. */
  expectKex(type: number): Effect.Effect<Uint8Array> {
    return Effect.gen(this, function*() {
      for (;;) {
        const r = yield* this.next
        if (r._tag === "Packet" && r.payload[0] === type) return r.payload
        const t = r._tag === "Packet" ? r.payload[0]! : -1
        if (this.onOther !== undefined && t >= 50) {
          this.onOther(r._tag === "Packet" ? r.payload : new Uint8Array(0))
          continue
        }
        return yield* die(`expected message ${type}, got ${typeName(r)}${describeDisconnect(r)}`)
      }
    })
  }

  /** Reads our side's KEXINIT. */
  get receiveKexInit(): Effect.Effect<TransportMessages.KexInit> {
    return Effect.gen(this, function*() {
      const payload = yield* this.expectKex(MessageId.KEXINIT)
      this.peerInit = payload
      return decodeKexInit(payload)
    })
  }

  /** Negotiates from both KEXINITs (RFC 4253 §7.1) and records strict KEX on the first exchange. */
  negotiate(): Negotiate.Negotiated {
    const ours = decodeKexInit(this.ourInit!)
    const theirs = decodeKexInit(this.peerInit!)
    const [client, server] = this.role === "client" ? [ours, theirs] : [theirs, ours]
    const n = Negotiate.negotiate(client, server)
    if (n._tag === "Left") throw new Error(`RawPeer: no common ${n.left.kind}`)
    if (this.exchanges === 0) {
      this.strict = client.kex.includes("kex-strict-c-v00@openssh.com") &&
        server.kex.includes("kex-strict-s-v00@openssh.com")
    }
    this.negotiated = n.right
    return n.right
  }

  private hashName(): HashAlgorithm {
    const method = KexRegistry.kexMethod(this.negotiated!.kex)
    if (method === undefined) throw new Error(`RawPeer: no kex method ${this.negotiated!.kex}`)
    return method._tag === "Ephemeral" ? method.exchange.hash : method.hash
  }

  /** RFC 4253 §8: H = HASH(V_C ‖ V_S ‖ I_C ‖ I_S ‖ K_S ‖ Q_C ‖ Q_S ‖ K) for the one-round methods. */
  exchangeHash(hostKey: Uint8Array, qc: Uint8Array, qs: Uint8Array, k: Uint8Array): Uint8Array {
    const client = this.role === "client"
    const [vC, vS] = client ? [this.version, this.victimVersion!] : [this.victimVersion!, this.version]
    const [iC, iS] = client ? [this.ourInit!, this.peerInit!] : [this.peerInit!, this.ourInit!]
    return this.backend.hash(this.hashName()).update(
      Writer.build((w) => w.string(vC).string(vS).string(iC).string(iS).string(hostKey).string(qc).string(qs).raw(k))
    ).digest()
  }

  /** RFC 4253 §7.2: derives both directions' keys from K and H; ours seal, our side's open. */
  deriveKeys(k: Uint8Array, h: Uint8Array): PendingKeys {
    this.k = k
    this.h = h
    this.sessionId ??= h
    const n = this.negotiated!
    const hash = this.hashName()
    const direction = (dir: KeyDerivation.Direction, cipherName: string, macName: string | undefined) => {
      const cipher = Ciphers.cipherSpec(cipherName)!
      const mac = macName === undefined ? undefined : Ciphers.macSpec(macName)
      const keys = KeyDerivation.deriveDirectionKeys(this.backend, hash, k, h, this.sessionId!, dir, cipher, mac)
      return { cipher, mac, keys }
    }
    const c2s = direction("clientToServer", n.cipherC2S, n.macC2S)
    const s2c = direction("serverToClient", n.cipherS2C, n.macS2C)
    const [out, inn] = this.role === "client" ? [c2s, s2c] : [s2c, c2s]
    const pending = {
      sealer: Ciphers.makeSealer(this.backend, out.cipher, out.mac, out.keys),
      opener: this.captureOpener(Ciphers.makeOpener(this.backend, inn.cipher, inn.mac, inn.keys))
    }
    this.pending = pending
    this.pendingOpener = pending.opener
    return pending
  }

  private captureOpener(o: PacketOpener): PacketOpener {
    return {
      ...o,
      packetLength: (seq, header) => o.packetLength(seq, header),
      open: (seq, wire) => {
        const plain = o.open(seq, wire)
        if (plain !== undefined && this.capture) this.captured.push({ seq, plain: plain.slice() })
        return plain
      }
    }
  }

  /** Client: negotiates and sends KEX_ECDH_INIT (our own `clientValue` if given). */
  sendKexEcdhInit(clientValue?: Uint8Array): Effect.Effect<void> {
    return Effect.suspend(() => {
      const n = this.negotiate()
      const method = KexRegistry.kexMethod(n.kex)
      if (method?._tag !== "Ephemeral") return die(`${n.kex} is not a one-round method`)
      this.kexClient = method.exchange.client(this.backend)
      this.clientValue = clientValue ?? this.kexClient.clientValue
      return this.send(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: this.clientValue }))
    })
  }

  /** Client: reads KEX_ECDH_REPLY, checks the server's signature on H, derives the keys. */
  get receiveKexEcdhReply(): Effect.Effect<KexMessages.KexEcdhReply> {
    return Effect.gen(this, function*() {
      const payload = yield* this.expect(MessageId.KEXDH_REPLY)
      const d = KexMessages.decodeEcdh(payload)
      if (d._tag === "Left" || d.right._tag !== "KexEcdhReply") return yield* die("malformed KEX_ECDH_REPLY")
      const reply = d.right
      const k = this.kexClient!.finish(reply.serverValue)
      if (k === undefined) return yield* die("our side sent an invalid server value")
      const h = this.exchangeHash(reply.hostKey, this.clientValue!, reply.serverValue, k)
      if (!HostKey.verify(this.backend, this.negotiated!.hostKey, reply.hostKey, h, reply.signature)) {
        return yield* die("our side's signature on H does not verify")
      }
      this.deriveKeys(k, h)
      return reply
    })
  }

  /** Server: reads KEX_ECDH_INIT (negotiating first). */
  get receiveKexEcdhInit(): Effect.Effect<Uint8Array> {
    return Effect.gen(this, function*() {
      this.negotiate()
      const payload = yield* this.expect(MessageId.KEXDH_INIT)
      const d = KexMessages.decodeEcdh(payload)
      if (d._tag === "Left" || d.right._tag !== "KexEcdhInit") return yield* die("malformed KEX_ECDH_INIT")
      this.clientValue = d.right.clientValue
      return d.right.clientValue
    })
  }

  /**
   * Server: computes and returns (does not send) KEX_ECDH_REPLY for the client value read before, and derives the
   * keys. `o` corrupts the reply: another server value, host key blob, signature algorithm, or a signature edit.
   */
  kexEcdhReply(o: {
    readonly serverValue?: Uint8Array | undefined
    readonly hostKeyBlob?: Uint8Array | undefined
    readonly signWith?: { readonly algorithm: string; readonly key: PrivateKeyMaterial } | undefined
    readonly editSignature?: ((signature: Uint8Array) => Uint8Array) | undefined
  } = {}): Uint8Array {
    const n = this.negotiated!
    const method = KexRegistry.kexMethod(n.kex)
    if (method?._tag !== "Ephemeral") throw new Error(`RawPeer: ${n.kex} is not a one-round method`)
    const r = method.exchange.server(this.backend, this.clientValue!)
    if (r === undefined) throw new Error("RawPeer: our side sent an invalid client value")
    const serverValue = o.serverValue ?? r.serverValue
    const blob = o.hostKeyBlob ?? HostKey.encodePublicKey(HostKey.publicKeyOf(this.hostKey))
    const h = this.exchangeHash(blob, this.clientValue!, serverValue, r.k)
    const signer = o.signWith ?? { algorithm: n.hostKey, key: this.hostKey }
    const signature = HostKey.sign(this.backend, signer.algorithm, signer.key, h)
    this.deriveKeys(r.k, h)
    return KexMessages.encode({
      _tag: "KexEcdhReply",
      hostKey: blob,
      serverValue,
      signature: o.editSignature ? o.editSignature(signature) : signature
    })
  }

  /** Sends NEWKEYS and switches to the new sealer (resetting the send sequence number under strict KEX). */
  get sendNewKeys(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      yield* this.send(TransportMessages.encode({ _tag: "NewKeys" }))
      this.writer.setSealer(this.pending!.sealer)
      if (this.strict) this.writer.seq = 0
    })
  }

  /** Reads NEWKEYS; `next` switches to the new opener (resetting the receive sequence number under strict KEX). */
  get receiveNewKeys(): Effect.Effect<void> {
    return Effect.asVoid(this.expect(MessageId.NEWKEYS))
  }

  /**
   * One whole key exchange (the first or a rekey), each side's KEXINIT sent and read. `theirsFirst`: our side
   * already sent its KEXINIT (it initiated a rekey), so read it before sending ours.
   */
  kex(o: KexInitOverrides & { readonly theirsFirst?: boolean | undefined } = {}): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      if (o.theirsFirst) {
        yield* this.receiveKexInit
        yield* this.sendKexInit(o)
      } else {
        yield* this.sendKexInit(o)
        yield* this.receiveKexInit
      }
      if (this.role === "client") {
        yield* this.sendKexEcdhInit()
        yield* this.receiveKexEcdhReply
        yield* this.sendNewKeys
        yield* this.receiveNewKeys
      } else {
        yield* this.receiveKexEcdhInit
        yield* this.send(this.kexEcdhReply())
        yield* this.sendNewKeys
        yield* this.receiveNewKeys
      }
    })
  }

  /** Version exchange and the first key exchange; returns our side's Transport. */
  handshake(o: KexInitOverrides = {}): Effect.Effect<Transport.Transport> {
    return Effect.gen(this, function*() {
      yield* this.exchangeVersions()
      yield* this.kex(o)
      return yield* this.transport
    })
  }
}

const describeDisconnect = (r: Received): string => {
  if (r._tag !== "Packet" || r.payload[0] !== MessageId.DISCONNECT) return ""
  const d = TransportMessages.decode(r.payload)
  return d._tag === "Right" && d.right._tag === "Disconnect" ? ` (DISCONNECT ${d.right.code}: ${d.right.description})` : ""
}

export const decodeKexInit = (payload: Uint8Array): TransportMessages.KexInit => {
  const d = TransportMessages.decode(payload)
  if (d._tag === "Left" || d.right._tag !== "KexInit") throw new Error("RawPeer: not a KEXINIT")
  return d.right
}

/** The DISCONNECT among what our side sent, if any. */
export const disconnectOf = (
  received: ReadonlyArray<Received>
): TransportMessages.Disconnect | undefined => {
  for (const r of received) {
    if (r._tag === "Packet" && r.payload[0] === MessageId.DISCONNECT) {
      const d = TransportMessages.decode(r.payload)
      if (d._tag === "Right" && d.right._tag === "Disconnect") return d.right
    }
  }
  return undefined
}

/** The message numbers of the packets among `received`. */
export const typesOf = (received: ReadonlyArray<Received>): ReadonlyArray<number> =>
  received.flatMap((r) => (r._tag === "Packet" ? [r.payload[0]!] : []))

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** Pumps one socket's input into a queue (ending with "closed"). */
const pump = (socket: Socket.Socket, queue: Queue.Queue<Uint8Array | "closed">): Effect.Effect<void, never, Scope.Scope> =>
  socket.run((chunk: Uint8Array) => Queue.offer(queue, chunk.slice())).pipe(
    Effect.ignore,
    Effect.zipRight(Queue.offer(queue, "closed")),
    Effect.asVoid,
    Effect.forkScoped,
    Effect.asVoid
  )

/**
 * Starts our Transport in `options.victim` role on one end of a socket pair and returns the raw peer on the
 * other. Our side sends its identification line at once; nothing has been read yet.
 */
export const make = (options: RawPeerOptions): Effect.Effect<RawPeer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const backend = options.backend ?? NodeCrypto
    const [victimEnd, peerSocket] = yield* MemorySocket.pair(options.capacity ?? 1024)
    let victimSocket = victimEnd
    if (options.interpose) {
      // our side ↔ [proxy] ↔ raw peer: the proxy's peer-facing socket is the other end of the raw peer's.
      const [ours, proxyVictimSide] = yield* MemorySocket.pair(options.capacity ?? 1024)
      yield* options.interpose(proxyVictimSide, victimEnd)
      victimSocket = ours
    }
    const base: Transport.TransportOptions = options.victim === "client"
      ? { role: "client", verifyHostKey: () => Effect.void }
      : { role: "server", hostKeys: testHostKeys() }
    const victimFiber = yield* Transport.make(victimSocket, { ...base, ...options.victimOptions }).pipe(
      Effect.provideService(Crypto, backend),
      Effect.forkScoped
    )
    const inbox = options.readAhead === undefined
      ? yield* Queue.unbounded<Uint8Array | "closed">()
      : yield* Queue.bounded<Uint8Array | "closed">(options.readAhead)
    yield* pump(peerSocket, inbox)
    const write = yield* peerSocket.writer
    return new RawPeer(options, backend, options.hostKey ?? testHostKeys()[0]!, inbox, write, victimFiber)
  })

// ---------------------------------------------------------------------------------------------------------------
// H2: the Terrapin proxy
// ---------------------------------------------------------------------------------------------------------------

export interface TerrapinOptions {
  /**
   * How many bytes the server's first encrypted packet takes on the wire, from its first bytes (the clear length
   * of ETM/GCM) or from what the attacker knows of it (chacha20-poly1305 hides the length).
   */
  readonly firstEncryptedPacketBytes: (head: Uint8Array) => number
}

/** What the proxy did, for sanity checks. */
export interface TerrapinReport {
  injected: boolean
  droppedBytes: number
}

/**
 * H2: a byte-level man in the middle between a client (`clientSide`) and a server (`serverSide`). Client → server
 * passes unchanged. Server → client: the identification line and the plaintext packets pass; an IGNORE is injected
 * just before the server's NEWKEYS, and the server's first encrypted packet is deleted (CVE-2023-48795).
 */
export const terrapinProxy = (
  clientSide: Socket.Socket,
  serverSide: Socket.Socket,
  o: TerrapinOptions,
  report: TerrapinReport = { injected: false, droppedBytes: 0 }
): Effect.Effect<TerrapinReport, never, Scope.Scope> =>
  Effect.gen(function*() {
    const toClient = yield* clientSide.writer
    const toServer = yield* serverSide.writer
    yield* clientSide.run((chunk: Uint8Array) => Effect.ignore(toServer(chunk.slice()))).pipe(
      Effect.ignore,
      Effect.zipRight(Effect.ignore(toServer(closeEvent()))),
      Effect.forkScoped
    )
    let phase: "version" | "plain" | "drop" | "pass" = "version"
    let buf: Uint8Array = new Uint8Array(0)
    let toDrop = -1
    const ignore = new PacketWriter(noneSealer(), (n) => new Uint8Array(n)).seal(
      TransportMessages.encode({ _tag: "Ignore", data: new Uint8Array(0) })
    )
    const onServerBytes = (chunk: Uint8Array): Effect.Effect<void> => {
      const out: Array<Uint8Array> = []
      buf = concat([buf, chunk])
      for (;;) {
        if (phase === "version") {
          const lf = buf.indexOf(0x0a)
          if (lf < 0) break
          out.push(buf.slice(0, lf + 1))
          buf = buf.slice(lf + 1)
          phase = "plain"
        } else if (phase === "plain") {
          if (buf.length < 6) break
          const len = new DataView(buf.buffer, buf.byteOffset).getUint32(0)
          if (buf.length < 4 + len) break
          if (buf[5] === MessageId.NEWKEYS) {
            out.push(ignore)
            report.injected = true
            phase = "drop"
          }
          out.push(buf.slice(0, 4 + len))
          buf = buf.slice(4 + len)
        } else if (phase === "drop") {
          if (toDrop < 0) {
            if (buf.length < 4) break
            toDrop = o.firstEncryptedPacketBytes(buf.subarray(0, 4))
          }
          const n = Math.min(toDrop, buf.length)
          buf = buf.slice(n)
          toDrop -= n
          report.droppedBytes += n
          if (toDrop > 0) break
          phase = "pass"
        } else {
          if (buf.length > 0) out.push(buf)
          buf = new Uint8Array(0)
          break
        }
      }
      return out.length === 0 ? Effect.void : Effect.ignore(toClient(concat(out)))
    }
    yield* serverSide.run(onServerBytes).pipe(
      Effect.ignore,
      Effect.zipRight(Effect.ignore(toClient(closeEvent()))),
      Effect.forkScoped
    )
    return report
  })

const closeEvent = (): Socket.CloseEvent => new Socket.CloseEvent(1000)

/** On-the-wire size of a packet with a payload of `payloadLength` bytes under a cipher (and MAC). */
export const sealedLength = (payloadLength: number, cipher: string, mac?: string): number => {
  const spec = Ciphers.cipherSpec(cipher)!
  const m = spec.aead ? undefined : Ciphers.macSpec(mac!)
  const bs = Math.max(8, spec.blockSize)
  const aligned = !spec.aead && !m!.etm
  const base = aligned ? 5 + payloadLength : 1 + payloadLength
  let padding = bs - (base % bs)
  if (padding < 4) padding += bs
  return 4 + 1 + payloadLength + padding + (spec.aead ? 16 : m!.length)
}
