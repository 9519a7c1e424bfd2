/**
 * ProxyCommand as a `Dialer`: the SSH connection runs over a child process's stdin and stdout (ssh_config(5)
 * ProxyCommand, e.g. `ssh -W %h:%p bastion`). Tokens `%h` (host), `%p` (port), `%r` (remote user) and `%%` are
 * expanded after validation (SEC-69): a command given as an argument list is spawned without any shell; a command
 * given as one string runs under `/bin/sh -c "exec …"` like OpenSSH's, with every expanded value single-quoted.
 * Host names must match `[A-Za-z0-9._:-]` (brackets allowed for IPv6), users may not contain control or shell
 * metacharacters nor start with `-`, and NUL is refused anywhere.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { spawn } from "node:child_process"
import { Duplex } from "node:stream"
import { Dialer } from "../client/Dialer.js"
import { DisconnectReason, TransportError } from "../SshError.js"

/**
 * The command to run: one string (run by `/bin/sh`, tokens single-quoted) or an argument list (no shell).
 *
 * @since 0.1.0
 * @category models
 */
export type ProxyCommand = string | ReadonlyArray<string>

/**
 * Options of the ProxyCommand dialer.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyCommandOptions {
  /** The remote user, for `%r`. */
  readonly user?: string | undefined
  /** What to do with the command's stderr (default: inherit, as ssh does). */
  readonly stderr?: "inherit" | "ignore" | undefined
}

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._:-]+)$/
// Shell metacharacters, quotes, whitespace, C0/C1 controls and DEL (CVE-2025-61984, CVE-2026-35386).
const BAD_USER = /[\s\x00-\x1f\x7f-\x9f'"`$&|;<>()\\*?[\]{}!~#]/

/** SEC-69: the values that may be put into a command line. */
const validate = (host: string, port: number, user: string | undefined): string | undefined => {
  if (!HOST.test(host) || host.startsWith("-")) return `host name ${JSON.stringify(host)} is not allowed in a ProxyCommand`
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `port ${port} is out of range`
  if (user !== undefined && (user === "" || user.startsWith("-") || BAD_USER.test(user))) {
    return `user name ${JSON.stringify(user)} is not allowed in a ProxyCommand`
  }
  return undefined
}

/** POSIX single quoting: the value is one word, never interpreted by the shell. */
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

const expandWith = (text: string, values: Record<string, string | undefined>, q: (s: string) => string) =>
  text.replace(/%(.)/g, (all, c: string) => {
    if (c === "%") return "%"
    const v = values[c]
    return v === undefined ? all : q(v)
  })

/**
 * Expands `%h %p %r %%` in a ProxyCommand for `host:port` (and `user`), validating them first (SEC-69). A
 * string becomes `["/bin/sh", "-c", "exec …"]` with every value single-quoted; a list keeps one argument per
 * element with no shell. Fails (Left) with the reason when a value is not allowed or NUL appears.
 *
 * @since 0.1.0
 * @category constructors
 */
export const expand = (
  command: ProxyCommand,
  host: string,
  port: number,
  user?: string
): Either.Either<ReadonlyArray<string>, string> => {
  const parts = typeof command === "string" ? [command] : command
  if (parts.length === 0 || parts[0] === "") return Either.left("empty ProxyCommand")
  if (parts.some((p) => p.includes("\0"))) return Either.left("NUL in the ProxyCommand")
  const invalid = validate(host, port, user)
  if (invalid !== undefined) return Either.left(invalid)
  const values = { h: host, p: String(port), r: user }
  if (typeof command === "string") return Either.right(["/bin/sh", "-c", `exec ${expandWith(command, values, quote)}`])
  return Either.right(parts.map((p) => expandWith(p, values, (s) => s)))
}

const failed = (description: string, cause?: unknown) =>
  new TransportError({ reason: "ConnectFailed", origin: "Local", code: DisconnectReason.ConnectionLost, description, cause })

/**
 * A Dialer that runs `command` for each connection and speaks SSH over its stdio; the child is killed when the
 * connection's Scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialer = (command: ProxyCommand, options: ProxyCommandOptions = {}): Dialer => ({
  dial: (host, port) =>
    Effect.gen(function*() {
      const argv = expand(command, host, port, options.user)
      if (Either.isLeft(argv)) return yield* Effect.fail(failed(`ProxyCommand: ${argv.left}`))
      const [file, ...args] = argv.right
      const child = yield* Effect.acquireRelease(
        Effect.async<ReturnType<typeof spawn>, TransportError>((resume) => {
          // SEC-69: an argument vector, never the `shell` option of spawn.
          const child = spawn(file!, args, { stdio: ["pipe", "pipe", options.stderr ?? "inherit"], shell: false })
          child.once("error", (cause) => resume(Effect.fail(failed(`ProxyCommand ${file}: ${cause.message}`, cause))))
          child.once("spawn", () => resume(Effect.succeed(child)))
        }),
        (child) =>
          Effect.sync(() => {
            if (child.exitCode === null) child.kill("SIGTERM")
          })
      )
      const duplex = Duplex.from({ readable: child.stdout!, writable: child.stdin! })
      // The child exiting ends the stream; the transport reports that, not an unhandled error.
      duplex.on("error", () => {})
      return yield* NodeSocket.fromDuplex(Effect.succeed(duplex))
    })
})

/**
 * Provides the ProxyCommand dialer as the `Dialer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (command: ProxyCommand, options?: ProxyCommandOptions): Layer.Layer<Dialer> =>
  Layer.succeed(Dialer, dialer(command, options))
