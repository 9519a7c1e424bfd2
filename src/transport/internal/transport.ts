/**
 * The effectful shell of the transport layer: one processor fiber reads socket chunks through the packet
 * codec and the key exchange machine; one writer fiber writes sealed packets in the order they were sealed
 * (DESIGN.md §6). Sealing happens synchronously at the call site, so message order is the order of calls.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Ciphers from "../../crypto/Ciphers.js"
import { Crypto } from "../../crypto/Crypto.js"
import { Compression } from "../Compression.js"
import { PacketCompression } from "./compression.js"
import { DisconnectReason, sanitizePeerText, TransportError } from "../../SshError.js"
import { MessageId } from "../../wire/MessageId.js"
import * as TransportMessages from "../../wire/TransportMessages.js"
import * as Identification from "../Identification.js"
import * as Outbound from "./outbound.js"
import { isKexFailure, KexMachine, type KexOutput, type Negotiated } from "../KexMachine.js"
import { DEFAULT_MAX_PACKET, isPacketError, MIN_MAX_PACKET, PacketReader, PacketWriter } from "../PacketCodec.js"
import type { Transport, TransportOptions, TransportStats } from "../Transport.js"
import { resolvePreferences, serverHostKeys } from "./preferences.js"

/** Outbound bytes queued for the socket before senders wait (backpressure). */
const HIGH_WATER = 4 * 1024 * 1024
/** Socket chunks buffered ahead of the processor before the connection is dropped (bounded input). */
const MAX_CHUNKS = 1024
/** Messages for the layers above, buffered before the processor waits for them. */
const INCOMING_CAPACITY = 1024
/** RFC 4344 §3.1 / SEC-07: rekey before 2^31 packets in either direction. */
const MAX_PACKETS_PER_KEY = 2 ** 31

/** Message numbers the layers above implement; others get UNIMPLEMENTED (SEC-06). */
const UPPER = new Set([50, 51, 52, 53, 60, 61, 80, 81, 82, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100])

const NEWKEYS = new Uint8Array([MessageId.NEWKEYS])

const localError = (
  reason: TransportError["reason"],
  code: number,
  description: string,
  cause?: unknown
): TransportError =>
  new TransportError({ reason, origin: "Local", code, description, ...(cause === undefined ? {} : { cause }) })

/** @internal */
export const make = (
  socket: Socket.Socket,
  options: TransportOptions
): Effect.Effect<Transport, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const backend = options.crypto ?? (yield* Crypto)
    const role = options.role
    const zlib = (options.compression ?? (yield* Compression)).zlib
    const algorithms = resolvePreferences(options.algorithms, role, zlib !== undefined)
    if (typeof algorithms === "string") {
      return yield* Effect.fail(localError("NoCommonAlgorithm", DisconnectReason.KeyExchangeFailed, algorithms))
    }
    if (role === "client" && options.verifyHostKey === undefined) {
      return yield* Effect.dieMessage("Transport: the client role needs verifyHostKey (SEC-20)")
    }
    const hostKeys = role === "server" ? serverHostKeys(options.hostKeys ?? []) : undefined
    if (hostKeys !== undefined && hostKeys.length === 0) {
      return yield* Effect.dieMessage("Transport: the server role needs at least one host key")
    }
    const maxPacket = Math.max(MIN_MAX_PACKET, options.limits?.maxPacket ?? DEFAULT_MAX_PACKET)
    const rekeyBytes = options.rekey?.bytes ?? 2 ** 30
    const ourVersion = options.version ?? Identification.SOFTWARE_VERSION
    // RFC 4253 §4.2: refuse to start with a line we may not send, before anything is forked or written.
    const versionLine = yield* Effect.try(() => Identification.encode(ourVersion)).pipe(
      Effect.orDieWith((e) => new Error(`Transport: invalid version option: ${String(e)}`))
    )
    const packetsPerKey = options.testing?.packetsPerKey ?? MAX_PACKETS_PER_KEY

    const reader = new PacketReader(undefined, maxPacket)
    const writer = new PacketWriter(undefined, (n) => backend.randomBytes(n))
    reader.seq = (options.testing?.initialRecvSeq ?? 0) >>> 0
    writer.seq = (options.testing?.initialSendSeq ?? 0) >>> 0
    const compression = new PacketCompression(role, zlib, reader, writer)
    let machine: KexMachine | undefined
    let closedError: TransportError | undefined
    let socketEnded = false
    let verifying = false
    let peerVersion = ""
    let serverSigAlgs: Option.Option<ReadonlyArray<string>> = Option.none()
    let bytesAtKex = { in: 0, out: 0, packetsIn: 0, packetsOut: 0 }
    // SEC-22: per direction, rekeyBytes lowered to the negotiated cipher's bound (64-bit blocks: 3des-cbc).
    let limitIn = rekeyBytes
    let limitOut = rekeyBytes
    let kexDone = yield* Deferred.make<void, TransportError>()

    const fatal = yield* Deferred.make<TransportError>()
    const ready = yield* Deferred.make<void, TransportError>()
    const incoming = yield* Mailbox.make<Uint8Array, TransportError>(INCOMING_CAPACITY)
    const chunks = yield* Mailbox.make<Uint8Array, TransportError>(MAX_CHUNKS)
    const sendLatch = yield* Effect.makeLatch(true)
    const write = yield* socket.writer
    const scope = yield* Effect.scope

    // ---- outbound: sealed synchronously, written by one fiber ----
    const outbound = yield* Outbound.make(write)
    const enqueue = outbound.enqueue
    const syncLatch = (): void => {
      if (
        closedError !== undefined ||
        (machine !== undefined && !machine.outboundBlocked && outbound.pendingBytes() < HIGH_WATER)
      ) {
        sendLatch.unsafeOpen()
      } else {
        sendLatch.unsafeClose()
      }
    }

    // ---- closing ----
    const shutdown = (err: TransportError, sendDisconnect: boolean): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (closedError !== undefined) return
        closedError = err
        if (sendDisconnect && machine !== undefined) {
          enqueue(writer.seal(TransportMessages.encode({
            _tag: "Disconnect",
            code: err.code,
            description: err.description.slice(0, 256),
            language: ""
          })))
          // Give the DISCONNECT a moment to leave; never wait on a peer that does not read.
          if (!socketEnded) yield* outbound.drained.pipe(Effect.interruptible, Effect.timeout(Duration.millis(500)), Effect.ignore)
        }
        yield* Deferred.succeed(fatal, err)
        yield* Deferred.fail(ready, err)
        yield* Deferred.fail(kexDone, err)
        yield* incoming.fail(err)
        compression.close()
        syncLatch()
        // The platform socket's write waits for it to be open: never wait on one that has already ended.
        if (!socketEnded) {
          yield* write(new Socket.CloseEvent(1000)).pipe(Effect.interruptible, Effect.timeout(Duration.seconds(1)), Effect.ignore)
        }
      }).pipe(Effect.uninterruptible)

    const failWith = (err: TransportError, sendDisconnect = true) =>
      Effect.zipRight(shutdown(err, sendDisconnect), Effect.fail(err))

    // ---- key exchange outputs ----
    const applyOutputs = (outs: ReadonlyArray<KexOutput>): Effect.Effect<void, TransportError> =>
      Effect.gen(function*() {
        for (const o of outs) {
          switch (o._tag) {
            case "Send":
              enqueue(writer.seal(o.payload))
              break
            case "SendNewKeys":
              enqueue(writer.seal(NEWKEYS))
              writer.setSealer(o.sealer)
              compression.newKeysSent(machine!.negotiated!)
              // OpenSSH PROTOCOL §1.9 strict KEX: reset the send sequence number after NEWKEYS.
              if (o.resetSeq) writer.seq = 0
              break
            case "InstallOpener":
              reader.setOpener(o.opener)
              compression.newKeysReceived(machine!.negotiated!)
              if (o.resetSeq) reader.seq = 0
              break
            case "VerifyHostKey": {
              // SEC-20: any failure, defect or interruption of the policy rejects the key (code 9).
              // A verifier that throws instead of failing is still a rejection, never a protocol error.
              verifying = true
              const verdict = yield* Effect.suspend(() =>
                options.verifyHostKey!({ algorithm: o.algorithm, blob: o.hostKey })
              ).pipe(Effect.exit)
              verifying = false
              if (Exit.isFailure(verdict)) {
                const reason = Cause.squash(verdict.cause)
                const why = typeof reason === "object" && reason !== null && "message" in reason &&
                    typeof reason.message === "string"
                  ? reason.message
                  : "the host key policy failed"
                return yield* failWith(localError(
                  "HostKeyRejected",
                  DisconnectReason.HostKeyNotVerifiable,
                  `host key rejected: ${why}`,
                  verdict.cause
                ))
              }
              const next = machine!.hostKeyAccepted()
              if (isKexFailure(next)) return yield* failWith(localError(next.reason, next.code, next.description))
              yield* applyOutputs(next)
              break
            }
            case "Complete":
              bytesAtKex = { in: reader.bytes, out: writer.bytes, packetsIn: reader.packets, packetsOut: writer.packets }
              limitIn = Ciphers.rekeyLimit(rekeyBytes, role === "client" ? o.negotiated.cipherS2C : o.negotiated.cipherC2S)
              limitOut = Ciphers.rekeyLimit(rekeyBytes, role === "client" ? o.negotiated.cipherC2S : o.negotiated.cipherS2C)
              yield* Effect.logDebug(`key exchange complete: ${o.negotiated.kex} ${o.negotiated.cipherC2S}`)
              if (o.first) {
                if (!machine!.strict) {
                  // SEC-13: still interoperable, but the Terrapin prefix truncation is possible against this peer.
                  yield* Effect.logWarning(
                    `peer lacks strict KEX (kex-strict-*-v00@openssh.com): open to Terrapin (CVE-2023-48795); ` +
                      `negotiated ${o.negotiated.cipherC2S}`
                  )
                }
                yield* Deferred.succeed(ready, undefined)
              }
              yield* Deferred.succeed(kexDone, undefined)
              kexDone = yield* Deferred.make<void, TransportError>()
              break
            case "ExtInfo":
              serverSigAlgs = Option.fromNullable(o.serverSigAlgs)
              break
          }
        }
        syncLatch()
      })

    const rekeyTimeout = Duration.decode(options.timeouts?.rekey ?? Duration.seconds(60))
    const startKex = (outs: ReadonlyArray<KexOutput>): Effect.Effect<void, TransportError> =>
      Effect.gen(function*() {
        const before = machine!.completed
        yield* applyOutputs(outs)
        if (before > 0) {
          // LIM-11: a rekey that does not finish in time closes the connection.
          yield* Effect.sleep(rekeyTimeout).pipe(
            Effect.zipRight(Effect.suspend(() =>
              machine!.completed === before && closedError === undefined
                ? shutdown(localError("Timeout", DisconnectReason.KeyExchangeFailed, "rekey timed out"), true)
                : Effect.void
            )),
            Effect.forkIn(scope)
          )
        }
      })

    const needsRekey = (): boolean =>
      machine !== undefined && machine.completed > 0 && !machine.inProgress &&
      (reader.bytes - bytesAtKex.in > limitIn || writer.bytes - bytesAtKex.out > limitOut ||
        reader.packets - bytesAtKex.packetsIn > packetsPerKey ||
        writer.packets - bytesAtKex.packetsOut > packetsPerKey)

    const rekeyNow = Effect.suspend(() =>
      machine === undefined || machine.completed === 0 || closedError !== undefined ? Effect.void : startKex(machine.initiate())
    )

    // ---- inbound ----
    const handleTransport = (payload: Uint8Array, seq: number): Effect.Effect<void, TransportError> => {
      const type = payload[0]!
      switch (type) {
        case MessageId.DISCONNECT: {
          const d = TransportMessages.decode(payload)
          const err = d._tag === "Right" && d.right._tag === "Disconnect"
            ? new TransportError({
              reason: "Disconnected",
              origin: "Remote",
              code: d.right.code,
              description: sanitizePeerText(d.right.description)
            })
            : new TransportError({ reason: "Disconnected", origin: "Remote", code: 0, description: "malformed DISCONNECT" })
          return failWith(err, false)
        }
        case MessageId.IGNORE:
          // SEC-06: consumed without retaining the payload; SEC-09: byte 2 ‖ string data, nothing after it.
          return payload.length >= 5 &&
              new DataView(payload.buffer, payload.byteOffset + 1, 4).getUint32(0) === payload.length - 5
            ? Effect.void
            : failWith(localError("ProtocolViolation", DisconnectReason.ProtocolError, "malformed IGNORE"))
        case MessageId.DEBUG:
        case MessageId.UNIMPLEMENTED: {
          const d = TransportMessages.decode(payload)
          if (d._tag === "Left") {
            return failWith(localError("ProtocolViolation", DisconnectReason.ProtocolError, `malformed ${
              type === MessageId.DEBUG ? "DEBUG" : "UNIMPLEMENTED"
            }: ${d.left.description}`))
          }
          // SEC-12: peer text is escaped and capped before it reaches a log.
          return Effect.logDebug(
            d.right._tag === "Debug" ? `peer debug: ${sanitizePeerText(d.right.message)}` :
              d.right._tag === "Unimplemented" ? `peer did not implement our packet ${d.right.seq}` : ""
          )
        }
        case MessageId.KEXINIT:
        case MessageId.NEWKEYS:
        case MessageId.EXT_INFO: {
          const startsKex = type === MessageId.KEXINIT && machine!.completed > 0 && !machine!.inProgress
          const outs = machine!.receive(payload, seq)
          if (isKexFailure(outs)) return failWith(localError(outs.reason, outs.code, outs.description))
          return startsKex ? startKex(outs) : applyOutputs(outs)
        }
        default: {
          if (type >= 30 && type <= 49) {
            const outs = machine!.receive(payload, seq)
            if (isKexFailure(outs)) return failWith(localError(outs.reason, outs.code, outs.description))
            return applyOutputs(outs)
          }
          // RFC 4253 §11.4 / SEC-06: a message number we do not implement.
          enqueue(writer.seal(TransportMessages.encode({ _tag: "Unimplemented", seq })))
          return Effect.void
        }
      }
    }

    const drain = Effect.gen(function*() {
      let batch: Array<Uint8Array> = []
      for (;;) {
        if (closedError !== undefined) return
        const seq = reader.seq
        const r = reader.next()
        if (r === undefined) break
        if (isPacketError(r)) {
          if (batch.length > 0) yield* incoming.offerAll(batch)
          if (r.reason === "CompressionError") {
            // SEC-51 / LIM-08: a payload that does not inflate, or inflates past the limit.
            return yield* failWith(localError("ProtocolViolation", DisconnectReason.CompressionError, r.description))
          }
          const code = r.reason === "MacMismatch" ? DisconnectReason.MacError : DisconnectReason.ProtocolError
          return yield* failWith(localError(r.reason, code, r.description))
        }
        // SEC-07: a sequence number may not wrap before the first key exchange completes.
        if ((reader.wrapped || writer.wrapped) && machine!.completed === 0) {
          return yield* failWith(localError("ProtocolViolation", 2, "sequence number wrapped during the initial key exchange"))
        }
        const type = r[0]!
        const gate = machine!.gate(type)
        if (gate !== undefined) {
          if (batch.length > 0) yield* incoming.offerAll(batch)
          return yield* failWith(localError(gate.reason, gate.code, gate.description))
        }
        if (type >= 50 || type === MessageId.SERVICE_REQUEST || type === MessageId.SERVICE_ACCEPT) {
          if (type >= 50 && !UPPER.has(type)) {
            enqueue(writer.seal(TransportMessages.encode({ _tag: "Unimplemented", seq })))
          } else {
            batch.push(r)
            compression.received(r)
          }
          continue
        }
        if (batch.length > 0) {
          yield* incoming.offerAll(batch)
          batch = []
        }
        yield* handleTransport(r, seq)
      }
      if (batch.length > 0) yield* incoming.offerAll(batch)
      if (needsRekey()) yield* rekeyNow
    })

    const processor = Effect.gen(function*() {
      const parser = new Identification.IdentificationParser(role)
      let rest: Uint8Array
      for (;;) {
        const chunk = yield* chunks.take
        const r = parser.push(chunk)
        if (r._tag === "NeedMore") continue
        if (r._tag === "Failed") {
          // LIM-01…04: no DISCONNECT is possible before the version exchange; just close.
          return yield* failWith(localError("VersionExchange", DisconnectReason.ProtocolVersionNotSupported, r.description), false)
        }
        peerVersion = r.version
        rest = r.rest
        break
      }
      machine = new KexMachine({
        role,
        backend,
        algorithms,
        clientVersion: role === "client" ? ourVersion : peerVersion,
        serverVersion: role === "client" ? peerVersion : ourVersion,
        hostKeys,
        gex: options.groupExchange
      })
      yield* applyOutputs(machine.initiate())
      reader.push(rest)
      for (;;) {
        yield* drain
        reader.push(yield* chunks.take)
      }
    }).pipe(
      Effect.catchAll((e) =>
        e._tag === "NoSuchElementException"
          ? shutdown(new TransportError({
            reason: "ConnectionLost",
            origin: "Remote",
            code: DisconnectReason.ConnectionLost,
            description: "the peer closed the connection"
          }), false)
          : shutdown(e, true)
      ),
      Effect.catchAllDefect((defect) =>
        shutdown(localError("ProtocolViolation", DisconnectReason.ProtocolError, "internal error", defect), true)
      )
    )

    // One reader, forked before the first write (DESIGN.md §6).
    yield* socket.run((chunk) => {
      if (!chunks.unsafeOffer(chunk)) {
        chunks.unsafeDone(Exit.fail(localError("ProtocolViolation", DisconnectReason.ProtocolError, "input buffer overflow")))
      }
    }).pipe(
      Effect.ensuring(Effect.sync(() => {
        socketEnded = true
      })),
      Effect.matchCauseEffect({
        onSuccess: () => chunks.end,
        onFailure: (cause) =>
          chunks.fail(new TransportError({
            reason: "ConnectionLost",
            origin: "Remote",
            code: DisconnectReason.ConnectionLost,
            description: "connection lost",
            cause
          }))
      }),
      Effect.forkScoped
    )
    yield* outbound.run(syncLatch).pipe(
      Effect.catchAll((cause) =>
        shutdown(new TransportError({
          reason: "ConnectionLost",
          origin: "Remote",
          code: DisconnectReason.ConnectionLost,
          description: "write failed",
          cause
        }), false)
      ),
      Effect.forkScoped
    )
    enqueue(versionLine)
    yield* Effect.forkScoped(processor)

    // Closing the Scope says goodbye (best effort) before the socket closes.
    yield* Effect.addFinalizer(() =>
      shutdown(localError("Disconnected", DisconnectReason.ByApplication, "connection closed"), true)
    )

    const handshake = Duration.decode(options.timeouts?.handshake ?? Duration.seconds(120))
    const hello = Duration.decode(options.timeouts?.hello ?? Duration.seconds(30))
    yield* Effect.sleep(hello).pipe(
      Effect.zipRight(Effect.suspend(() =>
        peerVersion === "" && closedError === undefined
          ? shutdown(localError("Timeout", DisconnectReason.ProtocolError, "version exchange timed out (LIM-03)"), false)
          : Effect.void
      )),
      Effect.forkScoped
    )
    yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: handshake,
        onTimeout: () =>
          verifying
            // SEC-20: a policy still undecided when the handshake times out rejects the key.
            ? localError("HostKeyRejected", DisconnectReason.HostKeyNotVerifiable, "the host key policy did not decide in time")
            : localError("Timeout", DisconnectReason.KeyExchangeFailed, "the first key exchange timed out")
      }),
      Effect.tapError((e) => shutdown(e, true))
    )
    // LIM-10: rekey by time as well as by bytes.
    const interval = Duration.decode(options.rekey?.interval ?? Duration.hours(1))
    yield* Effect.sleep(interval).pipe(Effect.zipRight(rekeyNow), Effect.forever, Effect.ignore, Effect.forkScoped)

    const sendAll = (payloads: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError> =>
      Effect.suspend(function loop(): Effect.Effect<void, TransportError> {
        if (closedError !== undefined) return Effect.fail(closedError)
        if (machine!.outboundBlocked || outbound.pendingBytes() >= HIGH_WATER) {
          syncLatch()
          return Effect.zipRight(sendLatch.await, Effect.suspend(loop))
        }
        for (const p of payloads) {
          enqueue(writer.seal(p))
          compression.sent(p)
        }
        return needsRekey() ? rekeyNow : Effect.void
      })

    const stats = Effect.sync((): TransportStats => ({
      packetsIn: reader.packets,
      packetsOut: writer.packets,
      bytesIn: reader.bytes,
      bytesOut: writer.bytes,
      kexCount: machine?.completed ?? 0,
      compressedIn: reader.inflated,
      compressedOut: writer.deflated
    }))

    return {
      role,
      sessionId: machine!.sessionId!,
      peerVersion,
      hostKey: machine!.hostKeyBlob!,
      negotiated: Effect.sync((): Negotiated => machine!.negotiated!),
      serverSigAlgs: Effect.sync(() => serverSigAlgs),
      send: (payload) => sendAll([payload]),
      sendAll,
      receive: Effect.catchTag(incoming.take, "NoSuchElementException", () => Deferred.await(fatal).pipe(Effect.flip)),
      receiveAll: Effect.flatMap(incoming.takeAll, ([messages, done]) =>
        messages.length === 0 && done
          ? Effect.flip(Deferred.await(fatal))
          : Effect.succeed(Array.from(messages))),
      rekey: Effect.suspend(() => {
        if (closedError !== undefined) return Effect.fail(closedError)
        const wait = kexDone
        return Effect.zipRight(rekeyNow, Deferred.await(wait))
      }),
      disconnect: (code, description) =>
        shutdown(new TransportError({ reason: "Disconnected", origin: "Local", code, description }), true),
      closed: Deferred.await(fatal),
      stats
    } satisfies Transport
  })

/** @internal */
export const fromContext = (options: TransportOptions) =>
  Effect.flatMap(Socket.Socket, (socket) => make(socket, options))
