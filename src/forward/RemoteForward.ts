/**
 * Remote forwarding (ssh -R): the server listens (`tcpip-forward`, RFC 4254 §7.1; `streamlocal-forward@openssh.com`,
 * OpenSSH PROTOCOL §2.4) and opens a `forwarded-tcpip` / `forwarded-streamlocal@openssh.com` channel back for
 * each connection it accepts. Each forward is a scoped resource: closing its Scope cancels the listener at the
 * server and closes its connections. Channels that match no active forward are refused (SEC-47).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Channel } from "../connection/Channel.js"
import type { ChannelAcceptance, ConnectionMux } from "../connection/ConnectionMux.js"
import { OpenFailureReason } from "../SshError.js"
import { GlobalRequestName } from "../wire/ConnectionMessages.js"
import * as ForwardingMessages from "../wire/ForwardingMessages.js"
import { ForwardError } from "./ForwardError.js"
import { type Endpoint, LocalNet } from "./LocalNet.js"
import * as StreamLocal from "./StreamLocal.js"
import * as Tunnel from "./Tunnel.js"

/**
 * What the server should listen on: a TCP address (host "localhost" by default, as ssh sends; "" or "*" means
 * every address where the server's GatewayPorts allows it; port 0 lets the server pick), or a UNIX socket path.
 *
 * @since 0.1.0
 * @category models
 */
export type RemoteListen =
  | number
  | { readonly host?: string | undefined; readonly port: number }
  | { readonly path: string }

/**
 * Options of `forwardRemote` (ssh -R).
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteForwardOptions {
  readonly listen: RemoteListen
  /** Where each forwarded connection goes, on this machine. */
  readonly to: Endpoint
  readonly onError?: ((error: ForwardError) => Effect.Effect<void>) | undefined
}

/**
 * A running remote forward.
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteForward {
  /** What the server listens on; for TCP port 0, the port it picked. */
  readonly address: Endpoint
}

/**
 * One connection the server accepted on a remote forward, as a tunnel.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForwardedConnection {
  readonly tunnel: Tunnel.Tunnel
  /** The remote listener it arrived on. */
  readonly listener: Endpoint
  /** Who connected to the server (TCP only). */
  readonly originator: Tunnel.Originator | undefined
}

/**
 * The remote forwards of one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteForwards {
  /** Asks the server to listen and forwards each connection to `to` on this machine. */
  readonly forward: (options: RemoteForwardOptions) => Effect.Effect<RemoteForward, ForwardError, Scope.Scope | LocalNet>
  /**
   * Asks the server to listen and serves each connection with `handler` (an HTTP server in Effect, say); the
   * channel closes when the handler ends.
   */
  readonly handle: (
    listen: RemoteListen,
    handler: (connection: ForwardedConnection) => Effect.Effect<void, unknown>
  ) => Effect.Effect<RemoteForward, ForwardError, Scope.Scope>
}

interface Entry {
  readonly address: Endpoint
  readonly serve: (channel: Tunnel.Tunnel, originator: Tunnel.Originator | undefined) => Effect.Effect<void>
}

const refuse = (description: string): ChannelAcceptance => ({
  _tag: "Reject",
  reason: OpenFailureReason.AdministrativelyProhibited,
  description
})

const listenOf = (listen: RemoteListen): Endpoint =>
  typeof listen === "number"
    ? { _tag: "Tcp", host: "localhost", port: listen }
    : "path" in listen
    ? { _tag: "Unix", path: listen.path }
    : { _tag: "Tcp", host: listen.host ?? "localhost", port: listen.port }

/**
 * Installs the handlers of `forwarded-tcpip` and `forwarded-streamlocal@openssh.com` on `mux` for the life of
 * the Scope and returns the registry of remote forwards.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (mux: ConnectionMux): Effect.Effect<RemoteForwards, never, Scope.Scope> =>
  Effect.gen(function*() {
    const entries = new Set<Entry>()
    const accept = (entry: Entry | undefined, originator: Tunnel.Originator | undefined, what: string) =>
      entry === undefined
        ? refuse(`no forward is listening on ${what}`)
        : ({ _tag: "Accept", run: (channel: Channel) => entry.serve(Tunnel.fromChannel(channel), originator) }) as const

    yield* mux.handleChannels("forwarded-tcpip", (open) =>
      Effect.sync(() => {
        const d = ForwardingMessages.decodeTcpipChannel(open.data)
        if (d._tag === "Left") return refuse("malformed forwarded-tcpip data")
        const t = d.right
        // SEC-47: only a forward we asked for; the address disambiguates two forwards on one port.
        const onPort = [...entries].filter((e) => e.address._tag === "Tcp" && e.address.port === t.port)
        const entry = onPort.length === 1
          ? onPort[0]
          : onPort.find((e) => e.address._tag === "Tcp" && e.address.host === t.host)
        return accept(entry, { host: t.originatorAddress, port: t.originatorPort }, `${t.host}:${t.port}`)
      }))
    yield* mux.handleChannels(StreamLocal.Names.FORWARDED, (open) =>
      Effect.sync(() => {
        const d = StreamLocal.decodeForwarded(open.data)
        if (d._tag === "Left") return refuse("malformed forwarded-streamlocal data")
        const entry = [...entries].find((e) => e.address._tag === "Unix" && e.address.path === d.right)
        return accept(entry, undefined, d.right)
      }))

    const request = (name: string, data: Uint8Array) =>
      mux.globalRequest(name, data, true).pipe(
        Effect.mapError((e) => new ForwardError({ reason: "Closed", description: e.message, cause: e }))
      )

    /** Sends the listen request; the cancel is sent when the Scope closes. Returns the bound address. */
    const bind = (listen: Endpoint): Effect.Effect<Endpoint, ForwardError, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.gen(function*() {
          if (listen._tag === "Unix") {
            const reply = yield* request(StreamLocal.Names.FORWARD, StreamLocal.encodeForwardRequest(listen.path))
            if (Option.isNone(reply)) {
              return yield* Effect.fail(
                new ForwardError({ reason: "Refused", description: `the server refused to listen on ${listen.path}` })
              )
            }
            return listen
          }
          const reply = yield* request(
            GlobalRequestName.TCPIP_FORWARD,
            ForwardingMessages.encodeTcpipForward({ address: listen.host, port: listen.port })
          )
          if (Option.isNone(reply)) {
            return yield* Effect.fail(
              new ForwardError({
                reason: "Refused",
                description: `the server refused to listen on ${listen.host}:${listen.port}`
              })
            )
          }
          // RFC 4254 §7.1: the reply carries the port only when port 0 was asked for.
          const bound = ForwardingMessages.decodeTcpipForwardReply(reply.value)
          const port = bound._tag === "Right" && Option.isSome(bound.right) ? bound.right.value : listen.port
          if (listen.port === 0 && port === 0) {
            return yield* Effect.fail(new ForwardError({ reason: "Protocol", description: "no port in the tcpip-forward reply" }))
          }
          return { ...listen, port } satisfies Endpoint
        }),
        (bound) =>
          Effect.ignore(
            bound._tag === "Unix"
              ? mux.globalRequest(StreamLocal.Names.CANCEL, StreamLocal.encodeForwardRequest(bound.path), true)
              : mux.globalRequest(
                GlobalRequestName.CANCEL_TCPIP_FORWARD,
                ForwardingMessages.encodeTcpipForward({ address: bound.host, port: bound.port }),
                true
              )
          )
      )

    const handle = (
      listen: RemoteListen,
      handler: (connection: ForwardedConnection) => Effect.Effect<void, unknown>
    ) =>
      Effect.gen(function*() {
        // Connections run in this set: closing the forward's Scope ends them.
        const running = yield* FiberSet.make()
        const address = yield* bind(listenOf(listen))
        const entry: Entry = {
          address,
          serve: (tunnel, originator) =>
            FiberSet.run(running, handler({ tunnel, listener: address, originator })).pipe(
              Effect.flatMap(Fiber.await),
              Effect.asVoid
            )
        }
        yield* Effect.acquireRelease(Effect.sync(() => entries.add(entry)), () => Effect.sync(() => entries.delete(entry)))
        return { address } satisfies RemoteForward
      })

    const forward = (options: RemoteForwardOptions) =>
      Effect.flatMap(LocalNet, (net) =>
        handle(options.listen, ({ tunnel }) =>
          net.connect(options.to).pipe(
            Effect.flatMap((local) => Tunnel.bridge(local, tunnel.channel)),
            Effect.scoped,
            Effect.catchAll((e) =>
              options.onError === undefined ? Effect.logDebug("remote forward failed", e.message) : options.onError(e)
            )
          )))

    return { forward, handle }
  })
