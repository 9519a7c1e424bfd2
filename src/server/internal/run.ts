/**
 * Serving a listener: every accepted socket gets the server-role transport and `handleConnection` in its own
 * Scope, behind the MaxStartups gate (LIM-19, SEC-38).
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as Transport from "../../transport/Transport.js"
import * as Option from "effect/Option"
import { PeerAddress } from "../PeerAddress.js"
import type { ServerConfig, ServerHandlers } from "../SshServer.js"
import { handleConnection } from "./connection.js"
import * as Startups from "./startups.js"

/** Counts connections that have not authenticated yet, for the MaxStartups gate. */
export interface StartupGate {
  /** Admits a new connection (true) or refuses it (false); an admitted one must call the returned release. */
  readonly admit: Effect.Effect<Effect.Effect<void> | undefined>
  readonly pending: () => number
}

/** @internal */
export const makeGate = (limits: Startups.MaxStartups): StartupGate => {
  let pending = 0
  return {
    pending: () => pending,
    admit: Effect.map(Random.next, (r) => {
      if (Startups.shouldDrop(limits, pending, r)) return undefined
      pending++
      let released = false
      // Idempotent: called when authentication succeeds and again when the connection ends (SEC-37).
      return Effect.sync(() => {
        if (!released) {
          released = true
          pending--
        }
      })
    })
  }
}

/**
 * Closes a socket without sending a byte. A platform Socket opens its connection only inside `run`, so it is
 * opened and its scope closed at once, which closes the connection.
 */
const closeUnused = (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const opened = yield* Deferred.make<void>()
    yield* socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) }).pipe(
      Effect.raceFirst(Deferred.await(opened)),
      Effect.ignore
    )
  })

/**
 * The one way a server serves an accepted socket (SshServer.run, the sshd_config server, NodeTransport.serve):
 * the MaxStartups gate (LIM-19, SEC-38), the server-role transport, then `body` with the transport and the
 * gate's release (call it once the peer authenticated; the end of the connection releases too), all in the
 * connection's own Scope. Nothing escapes: the end of the connection, however it came, is logged at debug level.
 *
 * @internal
 */
export const serveTransport = <R>(
  socket: Socket.Socket,
  options: Omit<Transport.TransportOptions, "role">,
  gate: StartupGate,
  body: (transport: Transport.Transport, authenticated: Effect.Effect<void>) => Effect.Effect<unknown, unknown, R | Scope.Scope>,
  onEnd?: (cause: Cause.Cause<unknown> | undefined) => Effect.Effect<void>
): Effect.Effect<void, never, Exclude<R, Scope.Scope>> =>
  // Effect.onExit without re-raising: the end runs however the connection ended, interruption included.
  Effect.uninterruptibleMask((restore) =>
    Effect.flatten(Effect.gen(function*() {
      // The connection's Scope joins this fiber's context, and Effect's report of failed fibers is turned off
      // ("Fiber terminated with an unhandled error", at debug level, even when the failure is awaited: each
      // `Stream.run` of a handler forks one, so every client that vanished mid-session printed it under
      // `serve -v`; a connection's fibers are all observed, and how it ended is logged once, below), for the
      // connection's life; both are put back when it ends. Set on the fiber rather than with `Effect.scoped`,
      // `provideService` and `locally`, whose frames would stay on an idle connection's one fiber (issue 10):
      // what stays is the one frame below.
      const scope = yield* Scope.make()
      const context = yield* FiberRef.get(FiberRef.currentContext)
      const level = yield* FiberRef.get(FiberRef.unhandledErrorLogLevel)
      yield* FiberRef.set(FiberRef.currentContext, Context.add(context, Scope.Scope, scope))
      yield* FiberRef.set(FiberRef.unhandledErrorLogLevel, Option.none())
      const end = (cause: Cause.Cause<unknown> | undefined): Effect.Effect<void> =>
        Effect.zipRight(
          Effect.zipRight(FiberRef.set(FiberRef.currentContext, context), FiberRef.set(FiberRef.unhandledErrorLogLevel, level)),
          Effect.zipRight(
            Scope.close(scope, cause === undefined ? Exit.void : Exit.failCause(cause)),
            cause === undefined
              ? (onEnd === undefined ? Effect.void : onEnd(undefined))
              : Effect.zipRight(Effect.logDebug("connection ended", cause), onEnd === undefined ? Effect.void : onEnd(cause))
          )
        )
      return Effect.matchCauseEffect(restore(connection(socket, options, gate, body)), {
        onFailure: end,
        onSuccess: () => end(undefined)
      })
    }))
  ) as Effect.Effect<void, never, Exclude<R, Scope.Scope>>

/** The gate, the transport, then `body`, as a chain of flatMaps: none of these steps stays on an idle fiber. */
const connection = <R>(
  socket: Socket.Socket,
  options: Omit<Transport.TransportOptions, "role">,
  gate: StartupGate,
  body: (transport: Transport.Transport, authenticated: Effect.Effect<void>) => Effect.Effect<unknown, unknown, R | Scope.Scope>
): Effect.Effect<unknown, unknown, R | Scope.Scope> =>
  Effect.flatMap(gate.admit, (release): Effect.Effect<unknown, unknown, R | Scope.Scope> => {
    if (release === undefined) {
      // SEC-38: refused before our version string is sent, so a flood costs no crypto work.
      return Effect.zipRight(
        Effect.logDebug(`MaxStartups: refused a connection (${gate.pending()} unauthenticated)`),
        closeUnused(socket)
      )
    }
    // Scope.addFinalizer keeps no copy of the fiber's FiberRefs, unlike Effect.addFinalizer.
    return Effect.flatMap(Effect.scope, (scope) =>
      Effect.zipRight(
        Scope.addFinalizer(scope, release),
        Effect.flatMap(Transport.make(socket, { ...options, role: "server" }), (transport) => body(transport, release))
      ))
  })

/** The handlers with the server's forwarding settings folded in, made once per (config, handlers) pair. */
const servedCache = new WeakMap<ServerConfig, WeakMap<ServerHandlers, ServerHandlers>>()
const servedHandlers = (config: ServerConfig, handlers: ServerHandlers): ServerHandlers => {
  if (config.forwarding === undefined) return handlers
  let byHandlers = servedCache.get(config)
  if (byHandlers === undefined) {
    byHandlers = new WeakMap()
    servedCache.set(config, byHandlers)
  }
  let served = byHandlers.get(handlers)
  if (served === undefined) {
    served = { ...handlers, forwarding: { ...config.forwarding, ...handlers.forwarding } }
    byHandlers.set(handlers, served)
  }
  return served
}

/** @internal */
export const serveSocket = (
  socket: Socket.Socket,
  config: ServerConfig,
  handlers: ServerHandlers,
  gate: StartupGate,
  onEnd?: (cause: Cause.Cause<unknown> | undefined) => Effect.Effect<void>
): Effect.Effect<void> => {
  const served = servedHandlers(config, handlers)
  return serveTransport(
    socket,
    {
      hostKeys: config.hostKeys,
      algorithms: config.algorithms,
      crypto: config.crypto,
      version: config.version,
      rekey: config.rekey,
      timeouts: config.timeouts,
      limits: config.limits
    },
    gate,
    (transport, authenticated) =>
      Effect.flatMap(Effect.serviceOption(PeerAddress), (peer) =>
        handleConnection(transport, served, authenticated, Option.getOrUndefined(peer)?.address, config)),
    onEnd
  )
}

/** @internal */
export const run = (
  config: ServerConfig,
  handlers: ServerHandlers
): Effect.Effect<never, SocketServer.SocketServerError, SocketServer.SocketServer> =>
  Effect.gen(function*() {
    const invalid = Startups.validate(config.maxStartups ?? Startups.DEFAULT)
    if (invalid !== undefined) return yield* Effect.dieMessage(invalid)
    if (config.hostKeys.length === 0) return yield* Effect.dieMessage("SshServer: at least one host key is needed")
    const gate = makeGate(config.maxStartups ?? Startups.DEFAULT)
    const server = yield* SocketServer.SocketServer
    return yield* server.run((socket) => serveSocket(socket, config, handlers, gate))
  })
