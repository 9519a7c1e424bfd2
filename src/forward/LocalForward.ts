/**
 * Local forwarding (ssh -L) and dynamic forwarding (ssh -D): a local listener whose every accepted connection
 * is tunnelled through its own channel — `direct-tcpip` or `direct-streamlocal@openssh.com` to a fixed
 * destination, or to the destination a SOCKS 4/4a/5 client asks for. The listener and every tunnel close with
 * the Scope; a tunnel that fails closes only its own local connection.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ConnectionMux } from "../connection/ConnectionMux.js"
import { ForwardError } from "./ForwardError.js"
import { type Endpoint, type LocalConnection, LocalNet } from "./LocalNet.js"
import * as Socks from "./Socks.js"
import * as Tunnel from "./Tunnel.js"

/**
 * Where a local listener binds: an endpoint, or just a port on 127.0.0.1 (SEC-49: loopback unless an address
 * is given).
 *
 * @since 0.1.0
 * @category models
 */
export type ListenAddress = Endpoint | number

/**
 * Options of `forwardLocal` (ssh -L).
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalForwardOptions {
  readonly listen: ListenAddress
  /** The destination, as seen from the server: a TCP address or a UNIX socket path on the server. */
  readonly to: Endpoint
  /** Told about each tunnel that fails (the server refused the channel, the SOCKS request was bad …). */
  readonly onError?: ((error: ForwardError) => Effect.Effect<void>) | undefined
}

/**
 * Options of `forwardDynamic` (ssh -D).
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicForwardOptions {
  readonly listen: ListenAddress
  readonly onError?: ((error: ForwardError) => Effect.Effect<void>) | undefined
}

/**
 * A running local or dynamic forward.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalForward {
  /** The address the listener is bound to (the port chosen when port 0 was asked for). */
  readonly address: Endpoint
}

/**
 * The endpoint a `ListenAddress` names: a bare port means 127.0.0.1 (SEC-49).
 *
 * @since 0.1.0
 * @category constructors
 */
export const listenEndpoint = (listen: ListenAddress): Endpoint =>
  typeof listen === "number" ? { _tag: "Tcp", host: "127.0.0.1", port: listen } : listen

const originatorOf = (connection: LocalConnection): Tunnel.Originator | undefined =>
  connection.peer?._tag === "Tcp" ? { host: connection.peer.host, port: connection.peer.port } : undefined

const report = (onError: LocalForwardOptions["onError"]) => (e: ForwardError) =>
  onError === undefined ? Effect.logDebug("forwarded connection failed", e.message) : onError(e)

/**
 * Starts a local forward: listens, and tunnels every accepted connection to `to`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forwardLocal = (
  mux: ConnectionMux,
  options: LocalForwardOptions
): Effect.Effect<LocalForward, ForwardError, Scope.Scope | LocalNet> =>
  Effect.gen(function*() {
    const net = yield* LocalNet
    const address = yield* net.listen(listenEndpoint(options.listen), (connection) =>
      Tunnel.open(mux, options.to, originatorOf(connection)).pipe(
        Effect.flatMap((tunnel) => Tunnel.bridge(connection, tunnel.channel)),
        Effect.scoped,
        Effect.catchAll(report(options.onError))
      ))
    return { address }
  })

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * Reads a SOCKS request from `pull` (SEC-49: at most one request's worth buffered), answers the greeting on
 * `connection`, and returns the destination together with the bytes the client sent after its request. The
 * caller sends the CONNECT reply. Also used by the CLI's remote dynamic forward (ssh -R port), where the SOCKS
 * client is at the far end of a forwarded channel.
 *
 * @since 0.1.0
 * @category constructors
 */
export const socksHandshake = (connection: LocalConnection, pull: Effect.Effect<Chunk.Chunk<Uint8Array>, unknown>) =>
  Effect.gen(function*() {
    let buf: Uint8Array = new Uint8Array(0)
    const protocol = (description: string) => new ForwardError({ reason: "Protocol", description })
    const parse = <A>(step: (b: Uint8Array) => Socks.Parsed<A>) =>
      Effect.gen(function*() {
        for (;;) {
          const r = step(buf)
          if (r._tag === "Done") {
            buf = buf.subarray(r.consumed)
            return r.value
          }
          if (r._tag === "Invalid") return yield* Effect.fail(protocol(r.description))
          // SEC-49: never buffer more than one request can take.
          if (buf.length >= Socks.MAX_REQUEST_BYTES) return yield* Effect.fail(protocol("SOCKS request too long"))
          const chunk = yield* Effect.mapError(pull, () => protocol("the SOCKS client closed before its request"))
          for (const c of chunk) buf = concat(buf, c)
        }
      })
    const first = yield* parse(Socks.parseFirst)
    if (first._tag === "Socks4") return { request: first.request, rest: () => buf }
    yield* connection.write(Socks.socks5MethodReply(first.noAuth))
    if (!first.noAuth) return yield* Effect.fail(protocol("SOCKS 5 client offers no \"no authentication\" method"))
    const request = yield* parse(Socks.parseSocks5Request).pipe(
      Effect.tapError(() => Effect.ignore(connection.write(Socks.connectReply(5, false, 1))))
    )
    return { request, rest: () => buf }
  })

/**
 * Starts a dynamic forward: a SOCKS 4, 4a and 5 (CONNECT, no authentication) server whose connections are
 * tunnelled with `direct-tcpip` to the destinations the clients name; the server resolves host names.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forwardDynamic = (
  mux: ConnectionMux,
  options: DynamicForwardOptions
): Effect.Effect<LocalForward, ForwardError, Scope.Scope | LocalNet> =>
  Effect.gen(function*() {
    const net = yield* LocalNet
    const address = yield* net.listen(listenEndpoint(options.listen), (connection) =>
      Effect.gen(function*() {
        const pull = yield* Stream.toPull(connection.input)
        const { request, rest } = yield* socksHandshake(connection, pull)
        const tunnel = yield* Tunnel.openTcp(mux, request.host, request.port, originatorOf(connection)).pipe(
          Effect.tapError(() => Effect.ignore(connection.write(Socks.connectReply(request.version, false))))
        )
        yield* connection.write(Socks.connectReply(request.version, true))
        // The rest of the input comes through the pull the handshake read from (so not `pipeTo`).
        yield* Tunnel.bridge(
          { ...connection, input: Stream.fromPull(Effect.succeed(pull)), pipeTo: undefined },
          tunnel.channel,
          rest()
        )
      }).pipe(Effect.scoped, Effect.catchAll(report(options.onError))))
    return { address }
  })
