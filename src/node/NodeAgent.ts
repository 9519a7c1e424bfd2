/**
 * The ssh-agent on Node: connect to the UNIX socket named by `SSH_AUTH_SOCK` (or any path) and get an `SshAgent`
 * client, or a raw `Socket` (what agent forwarding relays).
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as SshAgent from "../agent/SshAgent.js"

const noAgent = (description: string, cause?: unknown) =>
  new SshAgent.AgentError({ reason: "NoAgent", request: "connect", description, ...(cause === undefined ? {} : { cause }) })

/**
 * The agent socket path from `SSH_AUTH_SOCK`; fails with `NoAgent` when it is unset or empty.
 *
 * @since 0.1.0
 * @category accessors
 */
export const socketPath: Effect.Effect<string, SshAgent.AgentError> = Effect.suspend(() => {
  const path = process.env.SSH_AUTH_SOCK
  return path === undefined || path === ""
    ? Effect.fail(noAgent("SSH_AUTH_SOCK is not set"))
    : Effect.succeed(path)
})

/**
 * Connects to the agent's UNIX socket, eagerly (a missing socket is `NoAgent` at once); closed with the Scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (path: string): Effect.Effect<Socket.Socket, SshAgent.AgentError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, SshAgent.AgentError>((resume) => {
      const socket = Net.createConnection({ path })
      const onError = (cause: Error) => resume(Effect.fail(noAgent(`cannot connect to the agent at ${path}: ${cause.message}`, cause)))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        socket.on("error", () => {})
        resume(Effect.succeed(socket))
      })
      return Effect.sync(() => socket.destroy())
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(Effect.flatMap((net) => NodeSocket.fromDuplex(Effect.succeed(net))))

/**
 * An `SshAgent` client connected to the agent at `path`, for the life of the Scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (path: string): Effect.Effect<SshAgent.SshAgent, SshAgent.AgentError, Scope.Scope> =>
  Effect.flatMap(connect(path), (socket) => Effect.provideService(SshAgent.make, Socket.Socket, socket))

/**
 * The agent at `path`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPath = (path: string): Layer.Layer<SshAgent.SshAgent, SshAgent.AgentError> =>
  Layer.scoped(SshAgent.SshAgent, make(path))

/**
 * The agent named by `SSH_AUTH_SOCK`, as `ssh` finds it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SshAgent.SshAgent, SshAgent.AgentError> = Layer.scoped(
  SshAgent.SshAgent,
  Effect.flatMap(socketPath, make)
)
