/**
 * Ready-made session handlers that run the client's command as a local child process through pipes, as sshd
 * does: `exec` runs `shell -c command`, `shell` runs `shell` without a terminal. Nothing runs unless you
 * install these handlers (off by default, SEC-70). The client's command reaches the shell as one argument; the
 * library adds no interpolation of its own (SEC-69). Node has no pseudo-terminal without a native addon, so a
 * requested pty is reported through TERM / COLUMNS / LINES only.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { SshServer } from "effect-ssh"
 * import { NodeLocalProcess } from "effect-ssh/node"
 *
 * const handlers: SshServer.ServerHandlers = {
 *   auth: { publicKey: () => Effect.succeed(false) },
 *   ...NodeLocalProcess.handlers({ acceptEnv: ["LANG", "LC_*"] })
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import type { Readable } from "node:stream"
import type * as SshServer from "../server/SshServer.js"
import * as Output from "../session/internal/output.js"

/**
 * Options of the local process handlers.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalProcessOptions {
  /** The shell that runs commands (`shell -c command`); default `/bin/sh`. */
  readonly shell?: string | undefined
  /** Working directory; default the server's. */
  readonly cwd?: string | undefined
  /** The environment of every child; default the server's own. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /**
   * Client environment variables passed on (sshd's AcceptEnv): exact names or a prefix ending in `*`.
   * Default none.
   */
  readonly acceptEnv?: ReadonlyArray<string> | undefined
}

/** RFC 4254 §6.10 signal names a client may deliver to the child. */
const SIGNALS: ReadonlyMap<string, NodeJS.Signals> = new Map<string, NodeJS.Signals>([
  ["ABRT", "SIGABRT"], ["ALRM", "SIGALRM"], ["FPE", "SIGFPE"], ["HUP", "SIGHUP"], ["ILL", "SIGILL"], ["INT", "SIGINT"],
  ["KILL", "SIGKILL"], ["PIPE", "SIGPIPE"], ["QUIT", "SIGQUIT"], ["SEGV", "SIGSEGV"], ["TERM", "SIGTERM"],
  ["USR1", "SIGUSR1"], ["USR2", "SIGUSR2"]
])

const accepted = (patterns: ReadonlyArray<string>, name: string) =>
  patterns.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : p === name))

const environment = (ctx: SshServer.SessionContext, options: LocalProcessOptions): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(options.env ?? process.env)) if (v !== undefined) env[k] = v
  for (const [k, v] of Object.entries(ctx.env)) {
    if (accepted(options.acceptEnv ?? [], k) && !k.includes("=") && !v.includes("\0")) env[k] = v
  }
  // DISPLAY and XAUTHORITY of X11 forwarding come from the server, not the client: no AcceptEnv for them.
  Object.assign(env, ctx.serverEnv)
  if (ctx.pty !== undefined) {
    env.TERM = ctx.pty.term
    env.COLUMNS = String(ctx.pty.cols)
    env.LINES = String(ctx.pty.rows)
  }
  // The session's forwarded agent, and never the server's own (sshd's children do not inherit its environment).
  if (ctx.agentSocket !== undefined) env.SSH_AUTH_SOCK = ctx.agentSocket
  else if (options.env === undefined || !Object.hasOwn(options.env, "SSH_AUTH_SOCK")) delete env.SSH_AUTH_SOCK
  env.USER = ctx.username
  env.LOGNAME = ctx.username
  return env
}

/**
 * Copies a child's pipe into a session output. Through the output's synchronous side when it has one: each chunk
 * is sealed in the pipe's own 'data' callback and the pipe pauses while the peer's window or the socket is full
 * (DESIGN.md §6: no fiber or Effect per chunk; the pipe's 64 KiB reads were one Stream chunk, one fiber wake-up
 * and one Sink step each). Otherwise (an output wrapped by ChannelTimeout, say) as a Stream. Ends when the pipe
 * does; a failed output (the channel closed) destroys the pipe, as the Stream's end does.
 */
const copy = (readable: Readable, output: SshServer.SessionContext["stdout"]): Effect.Effect<void> => {
  const direct = Output.directOf(output)
  if (direct === undefined) return Effect.ignore(Stream.run(NodeStream.fromReadable(() => readable, (e) => e), output))
  return Effect.async<void>((resume) => {
    const queue: Array<Uint8Array> = []
    let offset = 0
    let ended = false
    let done = false
    let forget: (() => void) | undefined
    const finish = (failed: boolean) => {
      if (done) return
      done = true
      readable.off("data", onData)
      readable.off("end", onEnd)
      readable.off("close", onEnd)
      readable.off("error", onEnd)
      if (failed || !readable.readableEnded) readable.destroy()
      resume(Effect.void)
    }
    // Sends the queue's head from `offset`; pauses the pipe until the output can take more.
    const push = (): void => {
      forget = undefined
      while (!done && queue.length > 0) {
        const chunk = queue[0]!
        const r = direct.send(chunk, offset)
        if (typeof r !== "number") return finish(true)
        if (r < chunk.length) {
          offset = r
          readable.pause()
          let woken = false
          const f = direct.onceSendable(() => {
            woken = true
            push()
          })
          // A wake-up that ran at once (the connection closed meanwhile) already went on.
          if (!woken) forget = f
          return
        }
        queue.shift()
        offset = 0
      }
      if (ended) return finish(false)
      if (readable.isPaused()) readable.resume()
    }
    const onData = (chunk: Uint8Array) => {
      queue.push(chunk)
      if (forget === undefined) push()
    }
    const onEnd = () => {
      ended = true
      if (forget === undefined && queue.length === 0) finish(false)
    }
    readable.on("data", onData)
    readable.on("end", onEnd)
    readable.on("close", onEnd)
    readable.on("error", onEnd)
    return Effect.sync(() => {
      forget?.()
      finish(true)
    })
  })
}

/**
 * Runs `command` (or the shell itself when undefined) as a child process with piped stdin, stdout and stderr,
 * delivering the client's signals to it; returns its exit status, or the signal that killed it (RFC 4254
 * §6.10). The child is killed when the session ends first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  ctx: SshServer.SessionContext,
  command: string | undefined,
  options: LocalProcessOptions = {}
): Effect.Effect<SshServer.SessionExit> =>
  Effect.gen(function*() {
    const shell = options.shell ?? "/bin/sh"
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(shell, command === undefined ? [] : ["-c", command], {
          stdio: ["pipe", "pipe", "pipe"],
          cwd: options.cwd,
          env: environment(ctx, options)
        })
      ),
      (c) => Effect.sync(() => c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))
    )
    yield* Effect.logDebug(`${ctx.username} runs ${command === undefined ? "a shell" : JSON.stringify(command)}`)
    const closed = Effect.async<SshServer.SessionExit>((resume) => {
      child.once("error", () => resume(Effect.succeed(127)))
      child.once("close", (code, signal) =>
        resume(Effect.succeed(signal !== null ? { signal: signal.replace(/^SIG/, "") } : (code ?? 255))))
    })
    const exitFiber = yield* Effect.fork(closed)
    child.stdin.on("error", () => {}) // EPIPE when the command does not read its stdin
    const stdinFiber = yield* Effect.fork(
      Stream.runForEach(ctx.stdin, (chunk) =>
        Effect.async<void>((resume) => {
          if (!child.stdin.writable) return resume(Effect.void)
          child.stdin.write(chunk, () => resume(Effect.void))
        })).pipe(Effect.ensuring(Effect.sync(() => child.stdin.end())), Effect.ignore)
    )
    const signalFiber = yield* Effect.fork(
      Stream.runForEach(ctx.signals, (name) =>
        Effect.sync(() => {
          const signal = SIGNALS.get(name)
          if (signal !== undefined && child.exitCode === null) child.kill(signal)
        }))
    )
    const out = yield* Effect.fork(copy(child.stdout, ctx.stdout))
    const err = yield* Effect.fork(copy(child.stderr, ctx.stderr))
    const exit = yield* Fiber.join(exitFiber)
    // The child's output is delivered in full before the exit status (RFC 4254 §6.10 comes last).
    yield* Effect.ignore(Fiber.join(out))
    yield* Effect.ignore(Fiber.join(err))
    yield* Fiber.interrupt(stdinFiber)
    yield* Fiber.interrupt(signalFiber)
    yield* Effect.logDebug(`exit ${JSON.stringify(exit)}`)
    return exit
  }).pipe(Effect.scoped)

/**
 * `exec` and `shell` handlers running local child processes; spread them into `ServerHandlers`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handlers = (options: LocalProcessOptions = {}): {
  readonly exec: SshServer.SessionHandler<{ readonly command: string }>
  readonly shell: SshServer.SessionHandler
} => ({
  exec: (ctx) => run(ctx, ctx.command, options),
  shell: (ctx) => run(ctx, undefined, options)
})
