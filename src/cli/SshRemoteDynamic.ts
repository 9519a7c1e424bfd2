/**
 * ssh -R [bind_address:]port with no destination (OpenSSH ≥ 7.6): a remote dynamic forward. The server listens
 * and forwards each connection to us (RFC 4254 §7.1 `forwarded-tcpip`); we speak SOCKS 4/4a/5 on that channel,
 * as a client-side SOCKS proxy, and connect from this machine to the destination the remote client named — when
 * PermitRemoteOpen allows it (`any` by default, `none`, or `host:port` patterns with `*` for either part).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { SshConnection } from "../client/SshConnection.js"
import { ForwardError } from "../forward/ForwardError.js"
import * as LocalForward from "../forward/LocalForward.js"
import * as LocalNet from "../forward/LocalNet.js"
import type * as RemoteForward from "../forward/RemoteForward.js"
import * as Socks from "../forward/Socks.js"
import * as Match from "../keys/Match.js"

/**
 * Whether PermitRemoteOpen lets a remote dynamic forward open `host:port` (ssh_config(5): `any`, `none`, or
 * `host:port` entries where `*` matches any host or any port).
 *
 * @since 0.1.0
 * @category accessors
 */
export const permitted = (permitRemoteOpen: ReadonlyArray<string>, host: string, port: number): boolean => {
  if (permitRemoteOpen.length === 0 || permitRemoteOpen.some((p) => p.toLowerCase() === "any")) return true
  return permitRemoteOpen.some((entry) => {
    const m = /^(\[[^\]]+\]|[^:]+):(\*|\d{1,5})$/.exec(entry)
    if (m === null) return false
    const h = m[1]!.replace(/^\[|\]$/g, "")
    return (h === "*" || Match.glob(host.toLowerCase(), h.toLowerCase())) && (m[2] === "*" || Number(m[2]) === port)
  })
}

/**
 * Asks the server to listen on `listen` and serves SOCKS on every connection it forwards, while the Scope lives.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  connection: SshConnection,
  listen: RemoteForward.RemoteListen,
  permitRemoteOpen: ReadonlyArray<string>,
  onError: (e: ForwardError) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const net = yield* LocalNet.LocalNet
    return yield* connection.handleForwarded(listen, ({ tunnel }) =>
      Effect.gen(function*() {
        const channel = tunnel.channel
        const failure = (description: string) => new ForwardError({ reason: "Protocol", description })
        const asLocal: LocalNet.LocalConnection = {
          input: Stream.mapError(channel.data, (e) => failure(e.message)),
          write: (d) => Effect.mapError(channel.write(d), (e) => failure(e.message)),
          end: Effect.ignore(channel.eof),
          peer: undefined
        }
        const pull = yield* Stream.toPull(asLocal.input)
        const { request, rest } = yield* LocalForward.socksHandshake(asLocal, pull)
        if (!permitted(permitRemoteOpen, request.host, request.port)) {
          yield* Effect.ignore(asLocal.write(Socks.connectReply(request.version, false, 2)))
          return yield* failure(`remote open of ${request.host}:${request.port} is not permitted by PermitRemoteOpen`)
        }
        const local = yield* net.connect(LocalNet.tcp(request.host, request.port)).pipe(
          Effect.tapError(() => Effect.ignore(asLocal.write(Socks.connectReply(request.version, false))))
        )
        yield* asLocal.write(Socks.connectReply(request.version, true))
        const early = rest()
        if (early.length > 0) yield* local.write(early)
        // Both directions until both have ended, EOF passed along each way (as Tunnel.bridge does).
        yield* Effect.all([
          Stream.runForEach(local.input, (c) => asLocal.write(c)).pipe(Effect.zipRight(asLocal.end)),
          Stream.runForEach(Stream.fromPull(Effect.succeed(pull)), local.write).pipe(Effect.ensuring(local.end))
        ], { concurrency: 2, discard: true }).pipe(Effect.ignore)
      }).pipe(Effect.scoped, Effect.catchAll((e) => (e instanceof ForwardError ? onError(e) : Effect.void))))
  })
