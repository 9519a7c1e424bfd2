/**
 * The forwarding of `effect-ssh ssh`: -L/-R/-D and LocalForward/RemoteForward/DynamicForward set up over the
 * connection (ExitOnForwardFailure makes a failed one fatal, as in ssh), -W's stdio forward, and the dialers of
 * ProxyJump (-J) and ProxyCommand.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type { Dialer } from "../client/Dialer.js"
import type { SshConnection } from "../client/SshConnection.js"
import * as SshConfig from "../config/SshConfig.js"
import type { ForwardError } from "../forward/ForwardError.js"
import * as LocalNet from "../forward/LocalNet.js"
import type * as RemoteForward from "../forward/RemoteForward.js"
import { DisconnectReason, TransportError } from "../SshError.js"
import { LocalIoError, write } from "./Exec.js"
import * as SshArgs from "./SshArgs.js"
import * as SshEscape from "./SshEscape.js"
import * as SshRemoteDynamic from "./SshRemoteDynamic.js"
import * as Tty from "./Tty.js"

type Endpoint = SshConfig.ForwardSpec["listen"]

/**
 * A local listener's address: loopback unless an address is given, or every interface with GatewayPorts yes
 * (-g) when none is (channels.c channel_fwd_bind_addr); `*` or "" = all.
 */
const localListen = (e: Endpoint, gatewayPorts: boolean): number | LocalNet.Endpoint =>
  e._tag === "Unix"
    ? LocalNet.unix(e.path)
    : e.host === undefined && gatewayPorts
    ? LocalNet.tcp("0.0.0.0", e.port)
    : e.host === undefined || e.host === "localhost"
    ? e.port
    : LocalNet.tcp(e.host === "*" || e.host === "" ? "0.0.0.0" : e.host, e.port)

/** What the server listens on for -R: ssh sends "localhost" when no address is given. */
const remoteListen = (e: Endpoint): RemoteForward.RemoteListen =>
  e._tag === "Unix" ? { path: e.path } : e.host === undefined ? e.port : { host: e.host, port: e.port }

const target = (e: Endpoint): LocalNet.Endpoint =>
  e._tag === "Unix" ? LocalNet.unix(e.path) : LocalNet.tcp(e.host ?? "localhost", e.port)

const show = (e: Endpoint) => (e._tag === "Unix" ? e.path : `${e.host ?? "localhost"}:${e.port}`)

/**
 * Sets up every forward of the command line and the config while the Scope lives. A forward that cannot be set
 * up is a warning, or fatal (a `SshUsageError`) with ExitOnForwardFailure; each tunnel that fails later is
 * reported on stderr, as ssh's "open failed" lines are.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (connection: SshConnection, resolved: SshConfig.Resolved, a: SshArgs.SshArgs, quiet: boolean) =>
  Effect.gen(function*() {
    const onError = (e: ForwardError) => quiet ? Effect.void : Tty.printError(`channel: open failed: ${e.message}`)
    const failed = (what: string, why: string) =>
      resolved.exitOnForwardFailure
        ? Effect.fail(new SshArgs.SshUsageError({ reason: `Error: ${what} (${why})` }))
        : quiet
        ? Effect.void
        : Tty.printError(`Warning: ${what} (${why})`)
    // ClearAllForwardings: none from the config nor the command line (ssh.c clears both lists).
    const clear = resolved.clearAllForwardings
    const locals = clear ? [] : [...a.localForwards, ...resolved.localForwards]
    const dynamics = clear ? [] : a.dynamicForwards
    const remotes = clear ? [] : [...a.remoteForwards, ...resolved.remoteForwards]
    for (const spec of [...locals, ...dynamics]) {
      const listen = localListen(spec.listen, resolved.gatewayPorts)
      const started = spec.connect === undefined
        ? connection.forwardDynamic({ listen, onError })
        : connection.forwardLocal({ listen, to: target(spec.connect), onError })
      yield* Effect.catchAll(started, (e) => failed(`Could not request local forwarding for ${show(spec.listen)}.`, e.message))
    }
    for (const spec of remotes) {
      if (spec.connect === undefined) {
        // ssh -R port: a SOCKS proxy run here for the server's connections (SshRemoteDynamic).
        yield* SshRemoteDynamic.start(connection, remoteListen(spec.listen), resolved.permitRemoteOpen, onError).pipe(
          Effect.tap((f) =>
            spec.listen._tag === "Tcp" && spec.listen.port === 0 && f.address._tag === "Tcp" && !quiet
              ? Tty.printError(`Allocated port ${f.address.port} for remote forward`)
              : Effect.void
          ),
          Effect.catchAll((e) => failed(`remote port forwarding failed for listen port ${show(spec.listen)}`, e.message))
        )
        continue
      }
      const to = target(spec.connect)
      yield* connection.forwardRemote({ listen: remoteListen(spec.listen), to, onError }).pipe(
        Effect.tap((f) =>
          spec.listen._tag === "Tcp" && spec.listen.port === 0 && f.address._tag === "Tcp" && !quiet
            ? Tty.printError(`Allocated port ${f.address.port} for remote forward to ${show(spec.connect!)}`)
            : Effect.void
        ),
        Effect.catchAll((e) => failed(`remote port forwarding failed for listen port ${show(spec.listen)}`, e.message))
      )
    }
  })

/**
 * The `~C` command line's forwards (clientloop.c process_cmdline): `-L`, `-R`, `-D` start one for as long as the
 * connection lives, `-KL`, `-KR`, `-KD` `[bind_address:]port` cancel one started from this command line.
 * Returns what to print (ssh's wording). The forwards are closed with the caller's Scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const commandLine = (connection: SshConnection, resolved: SshConfig.Resolved, quiet: boolean) =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const running = new Map<string, Scope.CloseableScope>()
    const onError = (e: ForwardError) => quiet ? Effect.void : Tty.printError(`channel: open failed: ${e.message}\r`)
    const keyOf = (kind: string, e: Endpoint) => `${kind} ${e._tag === "Unix" ? e.path : `${e.host ?? ""}:${e.port}`}`
    return (line: string): Effect.Effect<string, never, LocalNet.LocalNet> =>
      Effect.gen(function*() {
        const command = SshEscape.parseCommand(line)
        switch (command._tag) {
          case "Empty":
            return ""
          case "Help":
            return SshEscape.COMMAND_HELP
          case "Invalid":
            return "Invalid command.\r\n"
          case "Cancel": {
            // -K takes [bind_address:]port: the port alone matches a forward made without an address.
            const m = /^(?:(.*):)?(\d+)$/.exec(command.spec)
            const key = m === null ? `${command.kind} ${command.spec}` : `${command.kind} ${m[1] ?? ""}:${m[2]}`
            const scope = running.get(key)
            if (scope === undefined) return "Unknown port forwarding.\r\n"
            running.delete(key)
            yield* Scope.close(scope, Exit.void)
            return "Canceled forwarding.\r\n"
          }
          case "Forward": {
            const kind = command.kind === "L" ? "local" : command.kind === "R" ? "remote" : "dynamic"
            const spec = SshConfig.parseForward(command.spec, kind)
            if (spec === undefined) return `Bad forwarding specification.\r\n`
            const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
            const started: Effect.Effect<unknown, ForwardError, Scope.Scope | LocalNet.LocalNet> =
              command.kind === "R" && spec.connect === undefined
                ? SshRemoteDynamic.start(connection, remoteListen(spec.listen), resolved.permitRemoteOpen, onError)
                : command.kind === "D" || spec.connect === undefined
                ? connection.forwardDynamic({ listen: localListen(spec.listen, resolved.gatewayPorts), onError })
                : command.kind === "L"
                ? connection.forwardLocal({ listen: localListen(spec.listen, resolved.gatewayPorts), to: target(spec.connect), onError })
                : connection.forwardRemote({ listen: remoteListen(spec.listen), to: target(spec.connect), onError })
            const r = yield* Effect.either(Scope.extend(started, scope))
            if (r._tag === "Left") {
              yield* Scope.close(scope, Exit.void)
              return `Port forwarding failed: ${r.left.message}\r\n`
            }
            running.set(keyOf(command.kind, spec.listen), scope)
            return "Forwarding port.\r\n"
          }
        }
      })
  })

/**
 * ssh -W host:port: a `direct-tcpip` tunnel joined to this process's stdin and stdout; returns the exit code when
 * the far end closes (0) or the tunnel cannot be opened (255, with ssh's message).
 *
 * @since 0.1.0
 * @category constructors
 */
export const stdio = (connection: SshConnection, to: { readonly host: string; readonly port: number }) =>
  Effect.gen(function*() {
    const tunnel = yield* connection.openTcp(to.host, to.port).pipe(
      Effect.mapError((e) => new SshArgs.SshUsageError({ reason: `stdio forwarding failed: ${e.message}` }))
    )
    yield* Effect.sync(() => process.stdout.on("error", () => {}))
    const stdin = NodeStream.fromReadable<LocalIoError>(
      () => process.stdin,
      (cause) => new LocalIoError({ stream: "stdin", cause })
    )
    // Our stdin's end becomes the channel's EOF (the sink sends it); the far end closing ends the session.
    const input = yield* Effect.fork(Effect.ignore(Stream.run(stdin, tunnel.sink)))
    yield* Stream.runForEach(tunnel.stream, (chunk) => write(process.stdout, "stdout", chunk)).pipe(Effect.ignore)
    // The far end closed: stop reading stdin (the copy would otherwise keep the process alive).
    yield* Fiber.interrupt(input)
    yield* Effect.sync(() => process.stdin.destroy())
    return 0
  }).pipe(Effect.scoped)

/**
 * A Dialer that reaches each address through `connection`'s `direct-tcpip` channels: ProxyJump's next hop.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialerVia = (connection: SshConnection): Dialer => ({
  dial: (host, port) =>
    Effect.map(
      Effect.mapError(connection.openTcp(host, port), (e) => transportFailure(`cannot reach ${host} port ${port} through the jump host: ${e.message}`, e)),
      (tunnel) => tunnel.socket
    )
})


const transportFailure = (description: string, cause: unknown) =>
  new TransportError({ reason: "ConnectFailed", origin: "Local", code: DisconnectReason.ConnectionLost, description, cause })
