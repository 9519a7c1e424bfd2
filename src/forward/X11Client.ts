/**
 * X11 forwarding, client side (RFC 4254 §6.3). A session that asks for it sends `x11-req` with a fake cookie;
 * while such a request lives, `x11` channels from the server are accepted, their X11 connection setup checked
 * against the fake cookie (constant time, SEC-27) and rewritten with the real one, and the connection relayed to
 * the local display. Without a live request every `x11` channel is refused (SEC-47: "tried X11 forwarding").
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Channel } from "../connection/Channel.js"
import type { ChannelAcceptance, ConnectionMux } from "../connection/ConnectionMux.js"
import { Crypto } from "../crypto/Crypto.js"
import { OpenFailureReason } from "../SshError.js"
import type { LocalNet } from "./LocalNet.js"
import * as Tunnel from "./Tunnel.js"
import * as X11 from "./X11.js"

/**
 * One session's X11 forwarding, as the client registers it.
 *
 * @since 0.1.0
 * @category models
 */
export interface X11Target {
  /** The local display the forwarded connections reach. */
  readonly display: X11.Display
  /** The authorization protocol (MIT-MAGIC-COOKIE-1). */
  readonly protocol: string
  /** The cookie the local X server knows; the server only ever sees a fake of the same length. */
  readonly realCookie: Uint8Array
  /** Accept one connection only (the x11-req single-connection flag). */
  readonly singleConnection: boolean
  /** Connects to the display. */
  readonly net: LocalNet
}

/**
 * The X11 forwards of one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface X11Forwards {
  /**
   * Registers a session's forwarding for the life of the Scope and returns the fake cookie (hex) to send in its
   * `x11-req`.
   */
  readonly register: (target: X11Target) => Effect.Effect<string, never, Scope.Scope>
  /** How many forwarded X11 connections were refused for a wrong cookie or protocol (counted, for tests). */
  readonly refused: Effect.Effect<number>
}

interface Entry {
  readonly target: X11Target
  readonly fake: Uint8Array
  used: boolean
}

const refuse = (description: string): ChannelAcceptance => ({
  _tag: "Reject",
  reason: OpenFailureReason.AdministrativelyProhibited,
  description
})

/**
 * Installs the `x11` channel handler on `mux` for the life of the Scope and returns the registry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (mux: ConnectionMux): Effect.Effect<X11Forwards, never, Scope.Scope> =>
  Effect.gen(function*() {
    const crypto = yield* Crypto
    const entries = new Set<Entry>()
    let refused = 0

    /** Reads the X11 setup off the channel, checks and rewrites it, then relays to the display. */
    const serve = (channel: Channel) =>
      Effect.gen(function*() {
        const pull = yield* Stream.toPull(channel.data)
        let buffered: Uint8Array = new Uint8Array(0)
        for (;;) {
          const next = yield* Effect.option(pull)
          if (Option.isNone(next)) return
          for (const chunk of Chunk.toReadonlyArray(next.value)) {
            const joined = new Uint8Array(buffered.length + chunk.length)
            joined.set(buffered)
            joined.set(chunk, buffered.length)
            buffered = joined
          }
          const live = [...entries].filter((e) => !(e.target.singleConnection && e.used))
          // Every live entry shares the protocol name (MIT-MAGIC-COOKIE-1); the cookie picks the session.
          const check = X11.checkSetup(
            buffered,
            live[0]?.target.protocol ?? X11.MIT_MAGIC_COOKIE,
            live.map((e) => e.fake),
            live.map((e) => e.target.realCookie),
            crypto.timingSafeEqual
          )
          if (check._tag === "NeedMore") continue
          if (check._tag === "Refused") {
            refused++
            // OpenSSH closes such a channel at once ("X11 connection rejected because of wrong authentication").
            return yield* Effect.logWarning(`X11 connection rejected: ${check.reason}`)
          }
          const entry = live[check.index]!
          entry.used = true
          const local = yield* entry.target.net.connect(entry.target.display.endpoint)
          yield* local.write(check.rewritten)
          const rest = Stream.repeatEffectChunkOption(pull)
          return yield* Tunnel.bridge(local, channel, undefined, rest)
        }
      }).pipe(
        Effect.scoped,
        Effect.catchAll((e) => Effect.logDebug("X11 forwarding failed", e.message))
      )

    yield* mux.handleChannels("x11", (open) =>
      Effect.sync(() => {
        const originator = X11.decodeOpen(open.data)
        if (originator._tag === "Left") return refuse("malformed x11 channel data")
        const live = [...entries].some((e) => !(e.target.singleConnection && e.used))
        if (!live) {
          // SEC-47: a server that opens x11 without a live x11-req is refused, as ssh does ("This is probably due
          // to a malicious server").
          refused++
          return refuse("X11 forwarding was not requested")
        }
        return { _tag: "Accept", run: serve } satisfies ChannelAcceptance
      }))

    const register = (target: X11Target) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const entry: Entry = { target, fake: crypto.randomBytes(target.realCookie.length), used: false }
          entries.add(entry)
          return entry
        }),
        (entry) => Effect.sync(() => entries.delete(entry))
      ).pipe(Effect.map((entry) => X11.toHex(entry.fake)))

    return { register, refused: Effect.sync(() => refused) }
  })
