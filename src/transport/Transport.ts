/**
 * The SSH transport layer (RFC 4253) as an Effect service over any @effect/platform `Socket`: version
 * exchange, key exchange and rekeying, the binary packet protocol, and DISCONNECT. Building the layer runs the
 * first key exchange, so a `Transport` in context always has keys and a session id.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { CryptoBackend, PrivateKeyMaterial } from "../crypto/Backend.js"
import type { CertifiedKey } from "../crypto/HostKey.js"
import type { TransportError } from "../SshError.js"
import type { CompressionBackend } from "./Compression.js"
import * as Engine from "./internal/engine.js"
import * as Receive from "./internal/receive.js"
import * as internal from "./internal/transport.js"
import type { Negotiated } from "./KexMachine.js"
import { Timers } from "./Timers.js"

/**
 * An algorithm list: names in preference order, or a string in OpenSSH's syntax (`"+ssh-rsa"`,
 * `"-*-sha1"`, `"^aes256-gcm@openssh.com"`, `"aes*-ctr"`), resolved against the supported names.
 *
 * @since 0.1.0
 * @category models
 */
export type AlgorithmList = string | ReadonlyArray<string>

/**
 * The algorithm lists to offer, by kind; an omitted kind uses the defaults of `Algorithms`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AlgorithmOptions {
  readonly kex?: AlgorithmList | undefined
  readonly hostKey?: AlgorithmList | undefined
  readonly cipher?: AlgorithmList | undefined
  readonly mac?: AlgorithmList | undefined
  readonly compression?: AlgorithmList | undefined
}

/**
 * The server's host key as the client sees it during the first key exchange.
 *
 * @since 0.1.0
 * @category models
 */
export interface PresentedHostKey {
  readonly algorithm: string
  /** The public key blob (RFC 4253 §6.6). */
  readonly blob: Uint8Array
}

/**
 * Options of one transport (role, algorithms, host keys, rekeying, timeouts, limits); the client role needs
 * `verifyHostKey`, the server role `hostKeys`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportOptions {
  readonly role: "client" | "server"
  readonly algorithms?: AlgorithmOptions | undefined
  /**
   * Client role, required: decides whether the server's host key is trusted. Failing, dying or taking longer
   * than the handshake timeout rejects the key: DISCONNECT with code 9 (SEC-20, fail closed).
   */
  readonly verifyHostKey?: ((key: PresentedHostKey) => Effect.Effect<void, unknown>) | undefined
  /**
   * Server role, required: the host keys to offer (at least one). A `CertifiedKey` (key plus OpenSSH host
   * certificate) is offered under the `*-cert-v01@openssh.com` algorithms; list the plain key too to offer both.
   */
  readonly hostKeys?: ReadonlyArray<PrivateKeyMaterial | CertifiedKey> | undefined
  /** Our identification string without CR LF; defaults to `SSH-2.0-effect_ssh_<version>`. */
  readonly version?: string | undefined
  readonly rekey?: {
    /**
     * Rekey after this many bytes in either direction (default 1 GiB; LIM-10), or sooner when the negotiated
     * cipher needs it (SEC-22: 64 MiB under the 64-bit-block 3des-cbc; `Ciphers.rekeyLimit`).
     */
    readonly bytes?: number | undefined
    /** Rekey after this long (default 1 hour; LIM-10). */
    readonly interval?: Duration.DurationInput | undefined
  } | undefined
  readonly timeouts?: {
    /** Version exchange (LIM-03, default 30 s). */
    readonly hello?: Duration.DurationInput | undefined
    /** Version exchange plus the first key exchange (default 120 s, sshd's LoginGraceTime). */
    readonly handshake?: Duration.DurationInput | undefined
    /** A rekey (LIM-11, default 60 s). */
    readonly rekey?: Duration.DurationInput | undefined
  } | undefined
  readonly limits?: {
    /** Maximum inbound packet_length (LIM-05, default 262 144, never below 35 000). */
    readonly maxPacket?: number | undefined
  } | undefined
  /**
   * The crypto backend for this connection; by default the `Crypto` service in context (the portable backend
   * unless a layer provides another). `effect-ssh/node` transports pass node:crypto here.
   */
  readonly crypto?: CryptoBackend | undefined
  /**
   * The compression backend (zlib streams) for this connection; by default the `Compression` service in context
   * (`Compression.none`, which offers only `none`, unless a layer provides another). `effect-ssh/node` transports
   * pass node:zlib here. Which methods are offered is `algorithms.compression`.
   */
  readonly compression?: CompressionBackend | undefined
  /**
   * Test hooks (TST-04): start the sequence numbers elsewhere than 0 and rekey after fewer packets, so that
   * wrap and rekey rules can be shown without sending 2^31 packets. Not for production use.
   */
  readonly testing?: {
    readonly initialSendSeq?: number | undefined
    readonly initialRecvSeq?: number | undefined
    readonly packetsPerKey?: number | undefined
  } | undefined
  /** Client role: DH group exchange request sizes in bits (RFC 4419; LIM-14). */
  readonly groupExchange?: { readonly min: number; readonly n: number; readonly max: number } | undefined
}

/**
 * Counters for tests and monitoring (TST-05).
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportStats {
  readonly packetsIn: number
  readonly packetsOut: number
  readonly bytesIn: number
  readonly bytesOut: number
  /** Completed key exchanges, the first included. */
  readonly kexCount: number
  /** Packets received compressed (inflated), and sent compressed (RFC 4253 §6.2). */
  readonly compressedIn: number
  readonly compressedOut: number
}

/**
 * One SSH connection's transport layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transport {
  readonly role: "client" | "server"
  /** H of the first key exchange (RFC 4253 §7.2). */
  readonly sessionId: Uint8Array
  /** The peer's identification line. */
  readonly peerVersion: string
  /** The server's host key blob. */
  readonly hostKey: Uint8Array
  /**
   * The server's signature, under `hostKey`, on the first exchange hash (which is `sessionId`): what a client
   * sends to its ssh-agent in session-bind@openssh.com (OpenSSH PROTOCOL.agent), so that the agent can check
   * which host it is signing for.
   */
  readonly hostKeySignature: Uint8Array
  /** The algorithms of the latest key exchange. */
  readonly negotiated: Effect.Effect<Negotiated>
  /** The server's `server-sig-algs` (RFC 8308 §3.1), when it sent them. */
  readonly serverSigAlgs: Effect.Effect<Option.Option<ReadonlyArray<string>>>
  /** Sends one message (a payload starting with its message number); waits while a key exchange runs. */
  readonly send: (payload: Uint8Array) => Effect.Effect<void, TransportError>
  /** Sends several messages in order, in one socket write when possible. */
  readonly sendAll: (payloads: ReadonlyArray<Uint8Array>) => Effect.Effect<void, TransportError>
  /** Starts a key exchange now and waits until it completes (RFC 4253 §9). */
  readonly rekey: Effect.Effect<void, TransportError>
  /** Sends DISCONNECT and closes the connection; `closed` then yields the resulting error. */
  readonly disconnect: (code: number, description: string) => Effect.Effect<void>
  /** Waits until the connection ends and yields why. */
  readonly closed: Effect.Effect<TransportError>
  readonly stats: Effect.Effect<TransportStats>
}

/**
 * The layers above (the connection layer) as the engine calls them: every message for them, in order, in the
 * socket's turn (no queue, no fiber), and the end of the connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Upper {
  readonly onMessage: (payload: Uint8Array) => void
  readonly onClose: (error: TransportError) => void
}

/**
 * The synchronous side of a transport, for the connection layer once it has taken over (`direct`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Direct {
  /**
   * Seals and writes a message now, or holds it while a key exchange blocks output (RFC 4253 §7.1), keeping the
   * order of calls; the connection's error when it is closed. Never waits: callers that may produce without
   * bound check `congested` first.
   */
  readonly send: (payload: Uint8Array) => TransportError | undefined
  /**
   * `send` of the payload `head ‖ data`: with a cipher that gathers (AES-GCM on node:crypto) `data` is encrypted
   * where it lies and nothing is joined; the bulk path of channel data.
   */
  readonly sendData: (head: Uint8Array, data: Uint8Array) => TransportError | undefined
  /** More than the high-water mark is queued for the socket: producers should wait for `onceWritable`. */
  readonly congested: () => boolean
  /** Runs `wake` once the socket drained (or the connection closed). */
  readonly onceWritable: (wake: () => void) => void
  /** The connection's one timer (keepalive shares it with rekey and the timeouts). */
  readonly timers: Timers
  /** Sends DISCONNECT(`code`) and closes; everything waiting fails with `Disconnected`. */
  readonly disconnect: (code: number, description: string) => void
  /** Closes the connection with `error` (DISCONNECT with its code). */
  readonly fail: (error: TransportError) => void
}

/**
 * The key under which a transport built by `make` offers its synchronous side.
 *
 * @since 0.1.0
 * @category symbols
 */
export const DirectTypeId: typeof Engine.DirectTypeId = Engine.DirectTypeId

const hasDirect = (u: Transport): u is Transport & { readonly [DirectTypeId]: (upper: (direct: Direct) => Upper) => Direct } =>
  DirectTypeId in u && typeof (u as { readonly [DirectTypeId]?: unknown })[DirectTypeId] === "function"

/**
 * Takes over a transport for the connection layer: `upper(direct)` receives the synchronous sending side and
 * returns the receiver of every later message for the layers above (and those not taken yet), called in the
 * socket's turn. Before that, user authentication takes its messages from the transport's internal pull side
 * (transport/internal/receive.ts), which is not part of this interface. A transport not built by `make` (a test
 * double) is adapted with one fiber that pulls from that side.
 *
 * @since 0.1.0
 * @category utils
 */
export const direct = (transport: Transport, upper: (direct: Direct) => Upper): Effect.Effect<Direct, never, Scope.Scope> => {
  if (hasDirect(transport)) return Effect.sync(() => transport[DirectTypeId](upper))
  return Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const run = <A, E>(effect: Effect.Effect<A, E>) => void Runtime.runFork(runtime)(effect)
    let failure: TransportError | undefined
    const adapted: Direct = {
      send: (payload) => {
        if (failure !== undefined) return failure
        run(Effect.ignore(transport.send(payload)))
        return undefined
      },
      sendData: (head, data) => adapted.send(concat(head, data)),
      congested: () => false,
      onceWritable: (wake) => wake(),
      timers: new Timers(),
      disconnect: (code, description) => run(transport.disconnect(code, description)),
      fail: (error) => run(transport.disconnect(error.code, error.description))
    }
    const receiver = upper(adapted)
    yield* Receive.receiveAll(transport).pipe(
      Effect.tap((batch) => Effect.sync(() => batch.forEach(receiver.onMessage))),
      Effect.forever,
      Effect.catchAll((e) =>
        Effect.sync(() => {
          failure = e
          receiver.onClose(e)
        })
      ),
      Effect.forkScoped
    )
    return adapted
  })
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * The tag of the `Transport` service.
 *
 * @since 0.1.0
 * @category tags
 */
export const Transport: Context.Tag<Transport, Transport> = Context.GenericTag<Transport>("effect-ssh/Transport")

/**
 * Runs the version exchange and the first key exchange over `socket`; the connection lives as long as the
 * Scope. Closing the Scope sends DISCONNECT (best effort) and closes the socket.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  socket: Socket.Socket,
  options: TransportOptions
) => Effect.Effect<Transport, TransportError, Scope.Scope> = internal.make

/**
 * The transport over the `Socket` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TransportOptions): Layer.Layer<Transport, TransportError, Socket.Socket> =>
  Layer.scoped(Transport, internal.fromContext(options))
