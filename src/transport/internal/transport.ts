/**
 * The effectful shell of the transport layer (DESIGN.md §6): resolves the options, builds the `Engine` over the
 * socket's `Link`, runs the host key policy when the engine asks, and exposes the `Transport` service. Nothing
 * here sits on the packet path: the engine reads in the link's callback and seals in the caller's turn.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import { Crypto } from "../../crypto/Crypto.js"
import { DisconnectReason, TransportError } from "../../SshError.js"
import { Compression } from "../Compression.js"
import * as Identification from "../Identification.js"
import type { Negotiated } from "../KexMachine.js"
import * as Link from "../Link.js"
import { DEFAULT_MAX_PACKET, MIN_MAX_PACKET } from "../PacketCodec.js"
import type { Direct, Transport, TransportOptions, TransportStats, Upper } from "../Transport.js"
import { DirectTypeId, Engine, localError, timedOut } from "./engine.js"
import { resolvePreferences, serverHostKeys } from "./preferences.js"
import { type Receivable, ReceiveTypeId } from "./receive.js"

const ms = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))

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
    const ourVersion = options.version ?? Identification.SOFTWARE_VERSION
    // RFC 4253 §4.2: refuse to start with a line we may not send, before anything is forked or written.
    const versionLine = yield* Effect.try(() => Identification.encode(ourVersion)).pipe(
      Effect.orDieWith((e) => new Error(`Transport: invalid version option: ${String(e)}`))
    )
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const runSync = Runtime.runSync(runtime)

    const fatal = yield* Deferred.make<TransportError>()
    const ready = yield* Deferred.make<void, TransportError>()
    const linkEnded = yield* Deferred.make<void>()
    let kexDone: Array<Deferred.Deferred<void, TransportError>> = []
    const native = Link.registeredFor(socket)
    const link = native ?? (yield* Link.fromSocket(socket))

    const engine: Engine = new Engine(
      {
        role,
        backend,
        kex: { role, backend, algorithms, hostKeys, gex: options.groupExchange },
        ourVersion,
        versionLine,
        maxPacket: Math.max(MIN_MAX_PACKET, options.limits?.maxPacket ?? DEFAULT_MAX_PACKET),
        rekeyBytes: options.rekey?.bytes ?? 2 ** 30,
        rekeyIntervalMs: ms(options.rekey?.interval ?? Duration.hours(1)),
        rekeyTimeoutMs: ms(options.timeouts?.rekey ?? Duration.seconds(60)),
        helloTimeoutMs: ms(options.timeouts?.hello ?? Duration.seconds(30)),
        packetsPerKey: options.testing?.packetsPerKey,
        initialSendSeq: options.testing?.initialSendSeq,
        initialRecvSeq: options.testing?.initialRecvSeq,
        zlib
      },
      {
        start: (sink) => link.start({ ...sink, onEnd: (f) => (Deferred.unsafeDone(linkEnded, Exit.void), sink.onEnd(f)) }),
        write: link.write,
        pending: link.pending,
        pause: link.pause,
        resume: link.resume,
        close: link.close,
        drained: link.drained
      },
      {
        verifyHostKey: (algorithm, blob, done) => {
          // SEC-20: any failure, defect or interruption of the policy rejects the key (code 9). A verifier that
          // throws instead of failing is still a rejection, never a protocol error.
          runFork(
            Effect.suspend(() => options.verifyHostKey!({ algorithm, blob })).pipe(
              Effect.exit,
              Effect.map((verdict) => {
                if (Exit.isSuccess(verdict)) return done(undefined)
                const reason = Cause.squash(verdict.cause)
                const why = typeof reason === "object" && reason !== null && "message" in reason &&
                    typeof reason.message === "string"
                  ? reason.message
                  : "the host key policy failed"
                done(localError("HostKeyRejected", DisconnectReason.HostKeyNotVerifiable, `host key rejected: ${why}`, verdict.cause))
              })
            )
          )
        },
        log: (level, message) => runSync(level === "debug" ? Effect.logDebug(message) : Effect.logWarning(message)),
        onReady: (error) => Deferred.unsafeDone(ready, error === undefined ? Exit.void : Exit.fail(error)),
        onKexDone: (error) => {
          const waiters = kexDone
          kexDone = []
          for (const w of waiters) Deferred.unsafeDone(w, error === undefined ? Exit.void : Exit.fail(error))
        },
        onClosed: (error) => Deferred.unsafeDone(fatal, Exit.succeed(error))
      }
    )

    const shutdown = (err: TransportError, sendDisconnect: boolean): Effect.Effect<void> =>
      Effect.suspend(() => {
        engine.fail(err, sendDisconnect)
        // A native link flushes (briefly) and closes: wait for its end, never on a peer that does not read. A
        // portable link: wait for the DISCONNECT to be written; the socket's own Scope closes it.
        return link.drained === undefined
          ? Deferred.await(linkEnded).pipe(Effect.timeout(Duration.millis(1500)), Effect.ignore)
          : link.drained.pipe(Effect.timeout(Duration.millis(500)), Effect.ignore)
      })

    // Closing the Scope says goodbye (best effort) before the socket closes. Scope.addFinalizer, which keeps no
    // copy of the fiber's FiberRefs as Effect.addFinalizer does: bytes per idle connection (issue 10).
    yield* Scope.addFinalizer(
      yield* Effect.scope,
      Effect.suspend(() => shutdown(localError("Disconnected", DisconnectReason.ByApplication, "connection closed"), true))
    )
    engine.start()

    const handshake = Duration.decode(options.timeouts?.handshake ?? Duration.seconds(120))
    yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: handshake,
        onTimeout: () =>
          engine.verifying
            // SEC-20: a policy still undecided when the handshake times out rejects the key.
            ? localError("HostKeyRejected", DisconnectReason.HostKeyNotVerifiable, "the host key policy did not decide in time")
            : timedOut("KeyExchange", DisconnectReason.KeyExchangeFailed, "the first key exchange timed out")
      }),
      Effect.tapError((e) => shutdown(e, true))
    )

    const waitWritable: Effect.Effect<void> = Effect.async<void>((resume) => {
      engine.onceWritable(() => resume(Effect.void))
    })

    const sendAll = (payloads: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError> =>
      Effect.suspend(function loop(): Effect.Effect<void, TransportError> {
        if (engine.closedError !== undefined) return Effect.fail(engine.closedError)
        if (engine.congested()) return Effect.zipRight(waitWritable, Effect.suspend(loop))
        for (const p of payloads) {
          const err = engine.send(p)
          if (err !== undefined) return Effect.fail(err)
        }
        return Effect.void
      })

    const take: Effect.Effect<Uint8Array, TransportError> = Effect.suspend(function loop(): Effect.Effect<
      Uint8Array,
      TransportError
    > {
      if (engine.closedError !== undefined) {
        const early = engine.takeAll()
        if (early.length > 0) return Effect.succeed(early[0]!)
        return Effect.fail(engine.closedError)
      }
      let woken = false
      let resumeFn: (() => void) | undefined
      const m = engine.take(() => {
        woken = true
        resumeFn?.()
      })
      if (m !== undefined) return Effect.succeed(m)
      return Effect.zipRight(
        Effect.async<void>((resume) => {
          if (woken) return resume(Effect.void)
          resumeFn = () => resume(Effect.void)
        }),
        Effect.suspend(loop)
      )
    })

    const stats = Effect.sync((): TransportStats => ({
      packetsIn: engine.reader.packets,
      packetsOut: engine.writer.packets,
      bytesIn: engine.reader.bytes,
      bytesOut: engine.writer.bytes,
      kexCount: engine.machine?.completed ?? 0,
      compressedIn: engine.reader.inflated,
      compressedOut: engine.writer.deflated
    }))

    const direct = (upper: (direct: Direct) => Upper): Direct => {
      const d: Direct = {
        send: (payload) => engine.send(payload),
        sendData: (head, data) => engine.sendData(head, data),
        congested: () => engine.congested(),
        onceWritable: (wake) => engine.onceWritable(wake),
        timers: engine.timers,
        disconnect: (code, description) =>
          engine.fail(new TransportError({ reason: "Disconnected", origin: "Local", code, description })),
        fail: (err) => engine.fail(err)
      }
      engine.attach(upper(d))
      return d
    }

    const machine = engine.machine!
    return {
      [DirectTypeId]: direct,
      role,
      sessionId: machine.sessionId!,
      peerVersion: engine.peerVersion,
      hostKey: machine.hostKeyBlob!,
      hostKeySignature: machine.hostKeySignature!,
      negotiated: Effect.sync((): Negotiated => machine.negotiated!),
      serverSigAlgs: Effect.sync(() => Option.fromNullable(engine.serverSigAlgs)),
      send: (payload) => sendAll([payload]),
      sendAll,
      [ReceiveTypeId]: { receive: take, receiveAll: Effect.map(take, (first) => [first, ...engine.takeAll()]) },
      rekey: Effect.suspend(() => {
        if (engine.closedError !== undefined) return Effect.fail(engine.closedError)
        const wait = Deferred.unsafeMake<void, TransportError>(FiberId.none)
        kexDone.push(wait)
        engine.rekey()
        return Deferred.await(wait)
      }),
      disconnect: (code, description) =>
        shutdown(new TransportError({ reason: "Disconnected", origin: "Local", code, description }), true),
      closed: Deferred.await(fatal),
      stats
    } satisfies Transport & Receivable & { readonly [DirectTypeId]: (upper: (direct: Direct) => Upper) => Direct }
  })

/** @internal */
export const fromContext = (options: TransportOptions) =>
  Effect.flatMap(Socket.Socket, (socket) => make(socket, options))
