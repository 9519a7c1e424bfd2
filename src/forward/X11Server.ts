/**
 * X11 forwarding, server side (RFC 4254 §6.3): on `x11-req` the session gets a display of its own, a TCP
 * listener on 6000 + N (the first free N from X11DisplayOffset), DISPLAY in its environment and the client's
 * (fake) cookie in xauth; each connection to the display becomes an `x11` channel to the client, which checks the
 * cookie. Off unless X11Forwarding is set, and never for a key with no-X11-forwarding or restrict (SEC-48).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { Restrictions } from "../auth/ServerAuth.js"
import type { ConnectionMux } from "../connection/ConnectionMux.js"
import type * as ChannelRequests from "../wire/ChannelRequests.js"
import * as Policy from "./ForwardPolicy.js"
import { type Endpoint, LocalNet } from "./LocalNet.js"
import * as Tunnel from "./Tunnel.js"
import * as X11 from "./X11.js"

/** sshd's MAX_DISPLAYS: display numbers tried past the offset. */
const MAX_DISPLAYS = 1000

/**
 * The host part of a display offered on every address: the machine's name when it is one X and xauth take
 * (letters, digits, dots and hyphens: it reaches xauth's argument list), else localhost.
 */
const displayHost = (net: LocalNet): string => {
  const name = net.hostname?.()
  return name !== undefined && /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(name) ? name : "localhost"
}

/**
 * An x11-req on a session, with what the server needs to serve it.
 *
 * @since 0.1.0
 * @category models
 */
export interface X11Request {
  readonly mux: ConnectionMux
  readonly options: Policy.ForwardingOptions | undefined
  readonly username: string
  readonly restrictions: Restrictions
  readonly request: ChannelRequests.X11Req
}

/**
 * Serves an x11-req in the session's Scope (the display closes with the session). Returns the variables the
 * session's program gets (DISPLAY, and what xauth adds), or undefined to refuse the request.
 *
 * @since 0.1.0
 * @category constructors
 */
export const request = (
  x: X11Request
): Effect.Effect<Readonly<Record<string, string>> | undefined, never, Scope.Scope> =>
  Effect.gen(function*() {
    const o = Policy.resolve(x.options, x.username)
    if (o?.x11Forwarding !== true || x.restrictions.x11Forwarding === false) return undefined
    const r = x.request
    // SEC-46 again (the decoder checked): these values reach xauth's argument list.
    if (!X11.isProtocolName(r.authProtocol) || !X11.isHexCookie(r.authCookie)) return undefined
    const net = o.net ?? Option.getOrUndefined(yield* Effect.serviceOption(LocalNet))
    if (net === undefined) return undefined
    const session = yield* Effect.scope
    const host = o.x11UseLocalhost === false ? "0.0.0.0" : "127.0.0.1"
    const offset = o.x11DisplayOffset ?? 10
    let connections = 0
    for (let n = offset; n < offset + MAX_DISPLAYS && X11.X11_BASE_PORT + n <= 65535; n++) {
      const scope = yield* Scope.fork(session, ExecutionStrategy.sequential)
      const endpoint: Endpoint = { _tag: "Tcp", host, port: X11.X11_BASE_PORT + n }
      const bound = yield* net.listen(endpoint, (connection) => {
        // The single-connection flag: later connections are closed unanswered.
        if (r.singleConnection && connections++ > 0) return Effect.void
        const peer = connection.peer
        return Effect.scoped(
          Effect.flatMap(
            x.mux.open(
              "x11",
              X11.encodeOpen(peer?._tag === "Tcp" ? { address: peer.host, port: peer.port } : { address: "", port: 0 })
            ),
            (channel) => Tunnel.bridge(connection, channel)
          )
        ).pipe(Effect.ignore)
      }).pipe(Scope.extend(scope), Effect.either)
      if (bound._tag === "Left") {
        yield* Scope.close(scope, Exit.void)
        continue
      }
      // sshd session.c session_setup_x11fwd: with X11UseLocalhost (the default) DISPLAY is localhost:N.S and, as
      // Xlib looks localhost:N up as the local family, the cookie is added for unix:N.S; without it the display is
      // on every address, DISPLAY names the machine (gethostname) and the cookie is added for that name.
      const display = `${o.x11UseLocalhost === false ? displayHost(net) : "localhost"}:${n}.${r.screen}`
      const entry: Policy.XauthEntry = {
        username: x.username,
        display: o.x11UseLocalhost === false ? display : `unix:${n}.${r.screen}`,
        protocol: r.authProtocol,
        cookie: r.authCookie
      }
      const extra = o.xauth === undefined ? {} : yield* o.xauth(entry).pipe(
        Effect.catchAllCause((cause) =>
          Effect.as(Effect.logWarning("xauth failed; X clients get no cookie", cause), {} as Readonly<Record<string, string>>)
        )
      )
      return { ...extra, DISPLAY: display }
    }
    yield* Effect.logWarning("X11 forwarding: no free display")
    return undefined
  })
