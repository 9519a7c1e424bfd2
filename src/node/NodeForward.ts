/**
 * `LocalNet` on Node: TCP and UNIX-socket listeners and connections for forwarding, half-open (EOF travels each
 * way on its own) and back-pressured (a stalled reader pauses the socket).
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Net from "node:net"
import { ForwardError } from "../forward/ForwardError.js"
import { type Endpoint, type LocalConnection, LocalNet } from "../forward/LocalNet.js"

const show = (e: Endpoint) => (e._tag === "Tcp" ? `${e.host}:${e.port}` : e.path)
const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** A connected socket as a LocalConnection. */
const toConnection = (socket: Net.Socket): LocalConnection => ({
  input: NodeStream.fromReadable<ForwardError, Uint8Array>(
    () => socket,
    (cause) => new ForwardError({ reason: "Closed", description: `reading: ${reason(cause)}`, cause }),
    { closeOnDone: false }
  ),
  write: (data) =>
    Effect.async<void, ForwardError>((resume) => {
      if (socket.destroyed || socket.writableEnded) {
        return resume(Effect.fail(new ForwardError({ reason: "Closed", description: "writing: the socket is closed" })))
      }
      // Back-pressure: wait for 'drain' when the socket's buffer is full. A copy is written: the bytes may be a
      // view into the transport's packet buffer, reused once this write returns, while Node may keep a reference.
      if (socket.write(Buffer.from(data))) return resume(Effect.void)
      const done = () => {
        socket.off("drain", done)
        socket.off("close", done)
        resume(Effect.void)
      }
      socket.once("drain", done)
      socket.once("close", done)
    }),
  end: Effect.sync(() => {
    if (!socket.destroyed && !socket.writableEnded) socket.end()
  }),
  peer: socket.remoteAddress !== undefined && socket.remotePort !== undefined
    ? { _tag: "Tcp", host: socket.remoteAddress, port: socket.remotePort }
    : undefined
})

const addressOf = (server: Net.Server, asked: Endpoint): Endpoint => {
  const a = server.address()
  if (a === null || typeof a === "string") return asked
  return { _tag: "Tcp", host: a.address, port: a.port }
}

/**
 * The Node implementation of `LocalNet`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const localNet: LocalNet = {
  listen: (endpoint, onConnection) =>
    Effect.gen(function*() {
      const sockets = new Set<Net.Socket>()
      const server = yield* Effect.acquireRelease(
        Effect.async<Net.Server, ForwardError>((resume) => {
          const server = Net.createServer({ allowHalfOpen: true, pauseOnConnect: true })
          const onError = (cause: Error) =>
            resume(Effect.fail(
              new ForwardError({ reason: "ListenFailed", description: `${show(endpoint)}: ${reason(cause)}`, cause })
            ))
          server.once("error", onError)
          const ready = () => {
            server.off("error", onError)
            server.on("error", () => {})
            resume(Effect.succeed(server))
          }
          if (endpoint._tag === "Tcp") server.listen({ host: endpoint.host, port: endpoint.port }, ready)
          else server.listen({ path: endpoint.path }, ready)
        }),
        (server) =>
          Effect.async<void>((resume) => {
            for (const s of sockets) s.destroy()
            server.close(() => resume(Effect.void))
          })
      )
      // Created after the server, so closed before it: every handler ends before the listener closes.
      const run = yield* FiberSet.runtime(yield* FiberSet.make<void, never>())<never>()
      server.on("connection", (socket: Net.Socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.once("close", () => sockets.delete(socket))
        run(onConnection(toConnection(socket)).pipe(Effect.ensuring(Effect.sync(() => socket.destroy()))))
      })
      return addressOf(server, endpoint)
    }),
  connect: (endpoint) =>
    Effect.acquireRelease(
      Effect.async<Net.Socket, ForwardError>((resume) => {
        const socket = endpoint._tag === "Tcp"
          ? Net.createConnection({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true })
          : Net.createConnection({ path: endpoint.path, allowHalfOpen: true })
        const onError = (cause: Error) =>
          resume(Effect.fail(
            new ForwardError({ reason: "ConnectFailed", description: `${show(endpoint)}: ${reason(cause)}`, cause })
          ))
        socket.once("error", onError)
        socket.once("connect", () => {
          socket.off("error", onError)
          socket.on("error", () => {})
          resume(Effect.succeed(socket))
        })
        return Effect.sync(() => socket.destroy())
      }),
      (socket) => Effect.sync(() => socket.destroy())
    ).pipe(Effect.map(toConnection))
}

/**
 * Provides the Node `LocalNet`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LocalNet> = Layer.succeed(LocalNet, localNet)
