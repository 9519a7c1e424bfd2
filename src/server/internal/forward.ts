/**
 * The server's forwarding (RFC 4254 §7, OpenSSH PROTOCOL §2.4), installed on a connection's mux when it starts:
 * direct-tcpip and direct-streamlocal channels, tcpip-forward and streamlocal-forward listeners with their
 * cancels. Deny by default: every request passes the `ForwardingOptions` and the user's `Restrictions` first
 * (SEC-48), refused ones get OPEN_FAILURE(1) or REQUEST_FAILURE as sshd answers. Listeners belong to the
 * connection's Scope.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { Restrictions } from "../../auth/ServerAuth.js"
import type { ChannelAcceptance, ConnectionMux, GlobalRequestReply } from "../../connection/ConnectionMux.js"
import * as Policy from "../../forward/ForwardPolicy.js"
import { type Endpoint, type LocalConnection, LocalNet } from "../../forward/LocalNet.js"
import * as StreamLocal from "../../forward/StreamLocal.js"
import * as Tunnel from "../../forward/Tunnel.js"
import * as SshdConfig from "../../config/SshdConfig.js"
import { OpenFailureReason } from "../../SshError.js"
import { GlobalRequestName } from "../../wire/ConnectionMessages.js"
import * as ForwardingMessages from "../../wire/ForwardingMessages.js"

/** Who the connection belongs to. */
interface Owner {
  readonly username: string
  readonly restrictions: Restrictions
}

const reject = (reason: number, description: string): ChannelAcceptance => ({ _tag: "Reject", reason, description })
const prohibited = (what: string) => reject(OpenFailureReason.AdministrativelyProhibited, `${what}: administratively prohibited`)
const failure: GlobalRequestReply = { _tag: "Failure" }
const success = (data?: Uint8Array): GlobalRequestReply => ({ _tag: "Success", data })

/**
 * Connects to `to` now, in a Scope closed by the accepted channel's `run` (or with the connection, should the
 * channel be refused after this decision), so that an unreachable destination is OPEN_FAILURE(2), as with sshd.
 */
const connectThen = (net: LocalNet | undefined, connectionScope: Scope.Scope, to: Endpoint, what: string) =>
  Effect.gen(function*() {
    if (net === undefined) return reject(OpenFailureReason.ConnectFailed, `${what}: the server cannot connect`)
    const scope = yield* Scope.fork(connectionScope, ExecutionStrategy.sequential)
    const local = yield* net.connect(to).pipe(Scope.extend(scope), Effect.either)
    if (local._tag === "Left") {
      yield* Scope.close(scope, Exit.void)
      return reject(OpenFailureReason.ConnectFailed, `${what}: ${local.left.description}`)
    }
    return {
      _tag: "Accept",
      run: (channel) => Tunnel.bridge(local.right, channel).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
    } satisfies ChannelAcceptance
  })

/** Whether `o` and the user's restrictions allow any TCP or UNIX-socket forwarding, in either direction. */
export const mayForward = (o: Policy.ForwardingOptions, r: Restrictions): boolean =>
  Policy.tcpAllowed(o, r, "local") || Policy.tcpAllowed(o, r, "remote") ||
  Policy.streamLocalAllowed(o, r, "local") || Policy.streamLocalAllowed(o, r, "remote")

/** Installs the forwarding handlers on `mux` for the life of the Scope (none when the user may not forward). */
export const install = (
  mux: ConnectionMux,
  options: Policy.ForwardingOptions | undefined,
  owner: Owner
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    // sshd's Match User/Group: the user's own options, now that the user is known.
    const o = Policy.resolve(options, owner.username)
    if (o === undefined) return
    const r = owner.restrictions
    // Nothing to install when this user may forward nothing (the default): every forwarding open and request
    // then meets the mux's refusals (OPEN_FAILURE 1, REQUEST_FAILURE), as the handlers below would answer, and an
    // idle connection keeps none of their closures, Maps or Scopes (issue 10: bytes per idle connection).
    if (!mayForward(o, r)) return
    const connectionScope = yield* Effect.scope
    const net = o.net ?? Option.getOrUndefined(yield* Effect.serviceOption(LocalNet))

    yield* mux.handleChannels("direct-tcpip", (open) =>
      Effect.gen(function*() {
        const d = ForwardingMessages.decodeTcpipChannel(open.data)
        if (d._tag === "Left") return reject(OpenFailureReason.ConnectFailed, "malformed direct-tcpip data")
        const t = d.right
        const what = `direct-tcpip to ${t.host}:${t.port}`
        if (!Policy.tcpAllowed(o, r, "local") || !Policy.openAllowed(o, r, t.host, t.port)) return prohibited(what)
        const decision: Policy.DirectTcpipDecision = o.directTcpip === undefined ? { _tag: "Connect" } : yield* o.directTcpip({
          username: owner.username,
          host: t.host,
          port: t.port,
          originatorAddress: t.originatorAddress,
          originatorPort: t.originatorPort
        })
        if (decision._tag === "Deny") return prohibited(what)
        if (decision._tag === "Serve") {
          const serve = decision.serve
          return { _tag: "Accept", run: (channel) => Effect.ignore(serve(Tunnel.fromChannel(channel))) } satisfies ChannelAcceptance
        }
        return yield* connectThen(net, connectionScope, { _tag: "Tcp", host: t.host, port: t.port }, what)
      }))

    const pathAllowed = (path: string, direction: "local" | "remote") =>
      o.streamLocalPath === undefined
        ? Effect.succeed(true)
        : Effect.orElseSucceed(o.streamLocalPath({ username: owner.username, path, direction }), () => false)

    yield* mux.handleChannels(StreamLocal.Names.DIRECT, (open) =>
      Effect.gen(function*() {
        const d = StreamLocal.decodeDirect(open.data)
        if (d._tag === "Left") return reject(OpenFailureReason.ConnectFailed, "malformed direct-streamlocal data")
        const what = `direct-streamlocal to ${d.right}`
        if (!Policy.streamLocalAllowed(o, r, "local") || !(yield* pathAllowed(d.right, "local"))) return prohibited(what)
        return yield* connectThen(net, connectionScope, { _tag: "Unix", path: d.right }, what)
      }))

    // Remote listeners: key → the Scope that owns the listener and its connections.
    const listeners = new Map<string, Scope.CloseableScope>()
    const maxListeners = o.maxListeners ?? 16

    /** Listeners being opened, counted against the limit before they are in `listeners`. */
    let opening = 0

    /**
     * Listens on `endpoint` and registers the listener under `keyOf(bound)`; each accepted connection is opened
     * back to the client with `open`. Requests are handled concurrently, so the key is taken only once bound.
     */
    const listen = (
      endpoint: Endpoint,
      keyOf: (bound: Endpoint) => string,
      open: (connection: LocalConnection, bound: Endpoint) => Effect.Effect<Tunnel.Tunnel, unknown, Scope.Scope>
    ) =>
      Effect.gen(function*() {
        if (net === undefined || listeners.size + opening >= maxListeners) return undefined
        opening++
        const scope = yield* Scope.fork(connectionScope, ExecutionStrategy.sequential)
        // Connections arrive only once `listen` has returned, so the bound address is known by then.
        let address: Endpoint = endpoint
        const bound = yield* net.listen(endpoint, (connection) =>
          Effect.scoped(
            Effect.flatMap(open(connection, address), (tunnel) => Tunnel.bridge(connection, tunnel.channel))
          ).pipe(Effect.ignore), { owner: owner.username }).pipe(Scope.extend(scope), Effect.either, Effect.ensuring(Effect.sync(() => opening--)))
        if (bound._tag === "Left" || listeners.has(keyOf(bound.right))) {
          yield* Scope.close(scope, Exit.void)
          return undefined
        }
        address = bound.right
        listeners.set(keyOf(bound.right), scope)
        return bound.right
      })

    const cancel = (key: string) =>
      Effect.gen(function*() {
        const scope = listeners.get(key)
        if (scope === undefined) return failure
        listeners.delete(key)
        yield* Scope.close(scope, Exit.void)
        return success()
      })

    yield* mux.handleGlobalRequests(GlobalRequestName.TCPIP_FORWARD, (req) =>
      Effect.gen(function*() {
        const d = ForwardingMessages.decodeTcpipForward(req.data)
        if (d._tag === "Left") return failure
        const { address, port } = d.right
        if (!Policy.tcpAllowed(o, r, "remote") || !Policy.listenAllowed(o, r, address, port)) return failure
        const host = Policy.bindHost(o.gatewayPorts, address)
        const keyOf = (b: Endpoint) => `tcp:${address}:${b._tag === "Tcp" ? b.port : port}`
        const bound = yield* listen({ _tag: "Tcp", host, port }, keyOf, (connection, b) =>
          Effect.map(
            mux.open(
              "forwarded-tcpip",
              ForwardingMessages.encodeTcpipChannel({
                // RFC 4254 §7.2: the address as the client asked for it, so that it can match its forward.
                host: address,
                port: b._tag === "Tcp" ? b.port : port,
                originatorAddress: connection.peer?._tag === "Tcp" ? connection.peer.host : "",
                originatorPort: connection.peer?._tag === "Tcp" ? connection.peer.port : 0
              })
            ),
            Tunnel.fromChannel
          ))
        if (bound === undefined || bound._tag !== "Tcp") return failure
        // RFC 4254 §7.1: the allocated port is returned only when port 0 was asked for; the cancel names it.
        return port === 0 ? success(ForwardingMessages.encodeTcpipForwardReply(bound.port)) : success()
      }))

    yield* mux.handleGlobalRequests(GlobalRequestName.CANCEL_TCPIP_FORWARD, (req) => {
      const d = ForwardingMessages.decodeTcpipForward(req.data)
      return d._tag === "Left" ? Effect.succeed(failure) : cancel(`tcp:${d.right.address}:${d.right.port}`)
    })

    yield* mux.handleGlobalRequests(StreamLocal.Names.FORWARD, (req) =>
      Effect.gen(function*() {
        const d = StreamLocal.decodeForwardRequest(req.data)
        if (d._tag === "Left") return failure
        if (!Policy.streamLocalAllowed(o, r, "remote") || !(yield* pathAllowed(d.right, "remote"))) return failure
        const bound = yield* listen({ _tag: "Unix", path: d.right }, () => `unix:${d.right}`, () =>
          Effect.map(mux.open(StreamLocal.Names.FORWARDED, StreamLocal.encodeForwarded(d.right)), Tunnel.fromChannel))
        return bound === undefined ? failure : success()
      }))

    yield* mux.handleGlobalRequests(StreamLocal.Names.CANCEL, (req) => {
      const d = StreamLocal.decodeForwardRequest(req.data)
      return d._tag === "Left" ? Effect.succeed(failure) : cancel(`unix:${d.right}`)
    })
  })

/** The forwarding keywords of one set of effective settings (SEC-48; DisableForwarding wins, CVE-2025-32728). */
export const forwardingOf = (
  s: SshdConfig.Settings,
  named: { readonly tcp: boolean; readonly streamLocal: boolean } = { tcp: true, streamLocal: true }
): Policy.ForwardingOptions => ({
  // DESIGN.md §2: `effect-ssh serve` forwards nothing unless the configuration names the keyword (sshd: yes).
  allowTcpForwarding: s.disableForwarding || !named.tcp ? "no" : s.allowTcpForwarding,
  allowStreamLocalForwarding: s.disableForwarding || !named.streamLocal ? "no" : s.allowStreamLocalForwarding,
  gatewayPorts: s.gatewayPorts,
  permitOpen: s.permitOpen === "any" ? undefined : s.permitOpen === "none" ? [] : s.permitOpen,
  permitListen: s.permitListen === "any" ? undefined : s.permitListen === "none" ? [] : s.permitListen,
  x11Forwarding: s.x11Forwarding && !s.disableForwarding,
  x11DisplayOffset: s.x11DisplayOffset,
  x11UseLocalhost: s.x11UseLocalhost
})

/**
 * sshd_config's forwarding keywords (AllowTcpForwarding, AllowStreamLocalForwarding, GatewayPorts, PermitOpen,
 * PermitListen, DisableForwarding, X11Forwarding, X11DisplayOffset, X11UseLocalhost) as `ForwardingOptions`: the
 * connection's Match Address/LocalPort/Host blocks first, then, once the user is known, the user's own (Match
 * User/Group) through `forUser`. A keyword no line names stays off (DESIGN.md §2).
 */
export const fromSshdConfig = (
  config: SshdConfig.SshdConfig,
  options?: {
    readonly spec?: SshdConfig.ConnectionSpec | undefined
    readonly groups?: ((user: string) => ReadonlyArray<string>) | undefined
  }
): Policy.ForwardingOptions => {
  // Anywhere in the file, Match blocks included: a keyword named in any block is decided by the settings.
  const names = (keyword: string) => config.entries.some((e) => e.keyword.name === keyword)
  const named = { tcp: names("allowtcpforwarding"), streamLocal: names("allowstreamlocalforwarding") }
  const spec = options?.spec ?? {}
  const connection = SshdConfig.settings(config, spec)
  return {
    ...(connection._tag === "Right" ? forwardingOf(connection.right, named) : {}),
    forUser: (user) =>
      Either.match(SshdConfig.settings(config, { ...spec, user, groups: options?.groups?.(user) ?? [] }), {
        onLeft: () => undefined,
        onRight: (u) => forwardingOf(u, named)
      })
  }
}
