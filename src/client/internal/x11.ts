/**
 * The client's side of `SshProcess.ProcessOptions.x11`: the local display and real cookie checked, the session
 * registered with the connection's X11 forwards, and the x11-req (fake cookie) to send (RFC 4254 §6.3.1).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Crypto } from "../../crypto/Crypto.js"
import { LocalNet } from "../../forward/LocalNet.js"
import * as X11 from "../../forward/X11.js"
import type * as X11Client from "../../forward/X11Client.js"
import type * as SshProcess from "../../session/SshProcess.js"
import { ChannelError } from "../../SshError.js"
import type * as ChannelRequests from "../../wire/ChannelRequests.js"

const refused = (description: string) =>
  new ChannelError({ reason: "RequestFailed", channelType: "session", request: "x11-req", description })

/** @internal */
export const request = (
  forwards: X11Client.X11Forwards,
  options: SshProcess.X11Options | undefined
): Effect.Effect<ChannelRequests.X11Req | undefined, ChannelError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options === undefined) return undefined
    const value = options.display ?? (yield* Config.string("DISPLAY").pipe(Effect.orElseSucceed(() => "")))
    if (value === "") return yield* Effect.fail(refused("X11 forwarding needs a display: DISPLAY is not set"))
    const display = X11.parseDisplay(value)
    if (display._tag === "Left") return yield* Effect.fail(refused(display.left))
    const protocol = options.authProtocol ?? X11.MIT_MAGIC_COOKIE
    if (!X11.isProtocolName(protocol)) return yield* Effect.fail(refused("bad X11 authorization protocol name"))
    const cookie = options.cookie === undefined ? undefined : Redacted.value(options.cookie)
    if (cookie !== undefined && !X11.isHexCookie(cookie)) {
      return yield* Effect.fail(refused("the X11 cookie is not hexadecimal"))
    }
    const net = yield* Effect.serviceOption(LocalNet)
    if (Option.isNone(net)) {
      return yield* Effect.fail(refused("X11 forwarding needs a LocalNet (NodeSsh.layer provides it)"))
    }
    const realCookie = cookie === undefined ? (yield* Crypto).randomBytes(16) : X11.fromHex(cookie)
    const fake = yield* forwards.register({
      display: display.right,
      protocol,
      realCookie,
      singleConnection: options.singleConnection ?? false,
      net: net.value
    })
    return {
      _tag: "X11Req",
      singleConnection: options.singleConnection ?? false,
      authProtocol: protocol,
      authCookie: fake,
      screen: display.right.screen
    } satisfies ChannelRequests.X11Req
  })
