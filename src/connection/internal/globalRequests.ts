/**
 * Global requests of one connection (RFC 4254 §4), both ways, in the socket's turn: the peer's are answered by
 * the registered handlers — each decision in a fiber of the connection, the replies sent in the order the requests
 * came, at most `MAX_PENDING_GLOBAL_REQUESTS` awaiting one (LIM-23) — and ours are matched to their replies in
 * order (a reply without a request ends the connection: SEC-45). keepalive@openssh.com rides on them.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import { DisconnectReason, TransportError } from "../../SshError.js"
import type * as Transport from "../../transport/Transport.js"
import type * as ConnectionMessages from "../../wire/ConnectionMessages.js"
import type { GlobalRequestReply } from "../ConnectionMux.js"
import { Registry } from "./registry.js"

/** The peer's global requests awaiting our handler's answer, before the connection is cut off (a flood). */
export const MAX_PENDING_GLOBAL_REQUESTS = 64

/** A handler of one global request name. */
export type GlobalHandler = (
  request: { readonly name: string; readonly data: Uint8Array; readonly wantReply: boolean }
) => Effect.Effect<GlobalRequestReply, unknown>

/** What the global requests need of the connection they belong to. */
export interface GlobalRequestsHost {
  readonly send: (msg: ConnectionMessages.ConnectionMessage) => TransportError | undefined
  readonly disconnect: (code: number, description: string) => void
  readonly runFork: (effect: Effect.Effect<unknown>) => void
  readonly failure: () => TransportError | undefined
}

const EMPTY = new Uint8Array(0)

/** The global requests of one connection. */
export class GlobalRequests {
  readonly handlers = new Registry<GlobalHandler>()
  /** Replies to the peer's requests, in the order the requests came (RFC 4254 §4). */
  readonly #answers: Array<{ reply: GlobalRequestReply | undefined }> = []
  /** Our requests that want a reply, oldest first. */
  readonly #waiting: Array<Deferred.Deferred<Option.Option<Uint8Array>, TransportError>> = []
  readonly #host: GlobalRequestsHost

  constructor(host: GlobalRequestsHost) {
    this.#host = host
  }

  /** A GLOBAL_REQUEST from the peer. */
  incoming(m: ConnectionMessages.GlobalRequest): void {
    const handler = this.handlers.get(m.name)
    if (m.wantReply && this.#answers.length >= MAX_PENDING_GLOBAL_REQUESTS) {
      return this.#host.disconnect(
        DisconnectReason.ProtocolError,
        `more than ${MAX_PENDING_GLOBAL_REQUESTS} global requests await a reply (LIM-23)`
      )
    }
    if (handler === undefined) {
      // Unknown requests get REQUEST_FAILURE when they want a reply (keepalive@openssh.com), in order.
      if (m.wantReply) {
        this.#answers.push({ reply: { _tag: "Failure" } })
        this.#flush()
      }
      return
    }
    const slot: { reply: GlobalRequestReply | undefined } = { reply: undefined }
    if (m.wantReply) this.#answers.push(slot)
    this.#host.runFork(
      Effect.suspend(() => handler({ name: m.name, data: m.data, wantReply: m.wantReply })).pipe(
        Effect.exit,
        Effect.map((exit) => {
          // A failing or dying handler answers Failure.
          slot.reply = Exit.isSuccess(exit) ? exit.value : { _tag: "Failure" }
          if (m.wantReply && this.#host.failure() === undefined) this.#flush()
        })
      )
    )
  }

  /** REQUEST_SUCCESS / REQUEST_FAILURE from the peer: the answer to our oldest request that wants one. */
  replied(m: ConnectionMessages.RequestSuccess | ConnectionMessages.RequestFailure): void {
    const waiter = this.#waiting.shift()
    if (waiter === undefined) return this.#host.disconnect(2, "global request reply without a request (SEC-45)")
    Deferred.unsafeDone(waiter, Exit.succeed(m._tag === "RequestSuccess" ? Option.some(m.data) : Option.none()))
  }

  /** Sends a global request of ours; with `wantReply`, waits for the peer's answer (`None` for FAILURE). */
  request(name: string, data: Uint8Array, wantReply: boolean): Effect.Effect<Option.Option<Uint8Array>, TransportError> {
    return Effect.suspend(() => {
      const failure = this.#host.failure()
      if (failure !== undefined) return Effect.fail(failure)
      const reply = Deferred.unsafeMake<Option.Option<Uint8Array>, TransportError>(FiberId.none)
      if (wantReply) this.#waiting.push(reply)
      const err = this.#host.send({ _tag: "GlobalRequest", name, wantReply, data })
      if (err !== undefined) return Effect.fail(err)
      return wantReply ? Deferred.await(reply) : Effect.succeed(Option.none())
    })
  }

  /** keepalive@openssh.com with want_reply, whose answer (REQUEST_FAILURE from OpenSSH) is matched and dropped. */
  private keepalive(): void {
    this.#waiting.push(Deferred.unsafeMake(FiberId.none))
    this.#host.send({ _tag: "GlobalRequest", name: "keepalive@openssh.com", wantReply: true, data: EMPTY })
  }

  /**
   * OpenSSH ServerAliveInterval: keepalive@openssh.com every `interval` ms on the connection's one timer; any
   * traffic (`heard()` changed) resets the count, and after `countMax` silent intervals the connection ends with a
   * Keepalive timeout — `failAll` fails the waiters with it first, or they would see "Disconnected".
   */
  startKeepalive(
    direct: Transport.Direct,
    interval: number,
    countMax: number,
    heard: () => number,
    failAll: (err: TransportError) => void
  ): void {
    let seen = heard()
    let missed = 0
    const tick = () => {
      if (this.#host.failure() !== undefined) return
      if (heard() !== seen) {
        seen = heard()
        missed = 0
      } else if (++missed > countMax) {
        const err = new TransportError({
          reason: "Timeout",
          origin: "Local",
          code: DisconnectReason.ConnectionLost,
          timeout: "Keepalive",
          description: `no answer to ${countMax} keepalives (${Duration.format(Duration.millis(interval))} apart)`
        })
        failAll(err)
        return direct.fail(err)
      }
      this.keepalive()
      direct.timers.set("keepalive", interval, tick)
    }
    direct.timers.set("keepalive", interval, tick)
  }

  /** The connection ended: our requests waiting for an answer fail with `err`. */
  failAll(err: TransportError): void {
    for (const r of this.#waiting.splice(0)) Deferred.unsafeDone(r, Exit.fail(err))
  }

  #flush(): void {
    while (this.#answers.length > 0 && this.#answers[0]!.reply !== undefined) {
      const r = this.#answers.shift()!.reply!
      this.#host.send(r._tag === "Success" ? { _tag: "RequestSuccess", data: r.data ?? EMPTY } : { _tag: "RequestFailure" })
    }
  }
}
