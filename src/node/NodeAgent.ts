/**
 * The ssh-agent on Node: connect to the UNIX socket named by `SSH_AUTH_SOCK` (or any path) and get an `SshAgent`
 * client, or a raw `Socket` (what agent forwarding relays).
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import type * as AgentServer from "../agent/AgentServer.js"
import * as SshAgent from "../agent/SshAgent.js"
import * as NodeDialer from "./NodeDialer.js"
import * as AgentForwarding from "../client/AgentForwarding.js"
import * as LocalNet from "../forward/LocalNet.js"
import type * as SshProcess from "../session/SshProcess.js"
import * as NodeForward from "./NodeForward.js"

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
  NodeDialer.connectNet({ path }, (cause) => noAgent(`cannot connect to the agent at ${path}: ${cause.message}`, cause)).pipe(Effect.flatMap((net) => NodeSocket.fromDuplex(Effect.succeed(net))))

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

/**
 * Listens on a UNIX socket at `path` (mode 0600, as ssh-agent makes it; an existing file there is an error) and
 * runs `onConnection` for each client in its own fiber, until the Scope closes; then the connections are closed
 * and the socket file removed. Returns once listening.
 *
 * @since 0.1.0
 * @category constructors
 */
export const listen = (
  path: string,
  onConnection: (socket: Socket.Socket) => Effect.Effect<void>
): Effect.Effect<void, SshAgent.AgentError, Scope.Scope> =>
  Effect.gen(function*() {
    const fibers = yield* FiberSet.make<void>()
    const runFork = yield* FiberSet.runtime(fibers)<never>()
    const connections = new Set<Net.Socket>()
    const server = Net.createServer((conn) => {
      connections.add(conn)
      conn.on("error", () => {})
      conn.once("close", () => connections.delete(conn))
      runFork(
        Effect.flatMap(NodeSocket.fromDuplex(Effect.succeed(conn)), onConnection).pipe(
          Effect.scoped,
          Effect.ensuring(Effect.sync(() => conn.destroy()))
        )
      )
    })
    yield* Effect.acquireRelease(
      Effect.async<void, SshAgent.AgentError>((resume) => {
        const onError = (cause: Error) =>
          resume(Effect.fail(noAgent(`cannot listen on ${path}: ${cause.message}`, cause)))
        server.once("error", onError)
        // As ssh-agent: umask 0177 while the socket is bound (synchronously, in listen), so it is 0600 at once.
        // (Worker threads cannot change the umask: there the chmod below is the only guard.)
        const umask = setUmask(0o177)
        server.listen({ path, exclusive: true }, () => {
          server.off("error", onError)
          try {
            Fs.chmodSync(path, 0o600)
            resume(Effect.void)
          } catch (cause) {
            resume(Effect.fail(noAgent(`cannot restrict ${path}`, cause)))
          }
        })
        if (umask !== undefined) setUmask(umask)
      }),
      () =>
        Effect.sync(() => {
          server.close()
          for (const conn of connections) conn.destroy()
          try {
            Fs.unlinkSync(path)
          } catch {
            // Already gone.
          }
        })
    )
  })

const setUmask = (mask: number): number | undefined => {
  try {
    return process.umask(mask)
  } catch {
    return undefined
  }
}

/**
 * Serves an in-process agent (`AgentServer`) on a UNIX socket at `path` until the Scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = (
  agent: AgentServer.AgentServer,
  path: string
): Effect.Effect<void, SshAgent.AgentError, Scope.Scope> => listen(path, (socket) => agent.serve(socket))

/**
 * The client's agent forwarding to the agent at `path` (default: SSH_AUTH_SOCK, read when each forwarded channel
 * arrives, as ssh does): pass it as `forwardAgent` to exec, shell or subsystem (`ssh -A`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SshConnection } from "effect-ssh"
 * import { NodeAgent } from "effect-ssh/node"
 *
 * // `ssh -A host ssh-add -l`: the far side lists the keys of the local agent.
 * const listRemote = Effect.gen(function*() {
 *   const ssh = yield* SshConnection.SshConnection
 *   return yield* ssh.string("ssh-add -l", { forwardAgent: NodeAgent.forwarding() })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const forwarding = (path?: string): SshProcess.ForwardAgent =>
  AgentForwarding.toLocal(
    NodeForward.localNet,
    path === undefined ? Effect.map(socketPath, LocalNet.unix) : Effect.succeed(LocalNet.unix(path))
  )

/**
 * The server's agent forwarding on Node, for `ServerHandlers.agentForwarding`: each session that asks (and may)
 * gets a socket `agent.<pid>` in a fresh private directory (`ssh-XXXXXX` under `directory`, default the OS temp
 * directory; mode 0700, the socket 0600, as sshd makes them), removed with the session. `allow` is sshd's
 * AllowAgentForwarding per user (default: allowed).
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverForwarding = (options?: {
  readonly allow?: AgentForwarding.ServerOptions["allow"]
  readonly directory?: string | undefined
}): AgentForwarding.ServerOptions => ({
  allow: options?.allow,
  listen: (onConnection) =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.try({
          // mkdtemp creates the directory 0700.
          try: () => Fs.mkdtempSync(NodePath.join(options?.directory ?? Os.tmpdir(), "ssh-")),
          catch: (cause) => noAgent("cannot make the agent socket directory", cause)
        }),
        (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
      )
      const path = NodePath.join(dir, `agent.${process.pid}`)
      // Released before the directory (finalizers run in reverse): the listener closes, then the files go.
      yield* NodeForward.localNet.listen(LocalNet.unix(path), onConnection)
      yield* Effect.try({
        try: () => Fs.chmodSync(path, 0o600),
        catch: (cause) => noAgent(`cannot restrict ${path}`, cause)
      })
      return path
    })
})
