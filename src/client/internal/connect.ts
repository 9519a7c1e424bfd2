/**
 * SshClient.connect: Dialer → ClientTransport (host key policy) → ClientAuth → ConnectionMux → SshConnection.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as ClientAuth from "../../auth/ClientAuth.js"
import * as ConnectionMux from "../../connection/ConnectionMux.js"
import * as LocalForward from "../../forward/LocalForward.js"
import * as RemoteForward from "../../forward/RemoteForward.js"
import * as Tunnel from "../../forward/Tunnel.js"
import * as X11Client from "../../forward/X11Client.js"
import * as SshProcess from "../../session/SshProcess.js"
import { AuthError, ChannelError, DisconnectReason, ExitError, TransportError } from "../../SshError.js"
import * as ClientTransport from "../ClientTransport.js"
import * as HostKeyPolicy from "../HostKeyPolicy.js"
import { HostKeyRejected } from "../HostKeyPolicy.js"
import * as ShellQuote from "../ShellQuote.js"
import { Dialer } from "../Dialer.js"
import type { SshClientOptions } from "../SshClient.js"
import type { RunOptions, RunResult, SshConnection } from "../SshConnection.js"
import * as X11Request from "./x11.js"
import * as Jump from "./jump.js"
import * as UpdateHostKeys from "./updateHostKeys.js"

const collect = <E>(s: Stream.Stream<Uint8Array, E>) =>
  s.pipe(Stream.decodeText(), Stream.runCollect, Effect.map((c) => Chunk.join(c, "")))

const utf8 = new TextEncoder()

/** What `run` writes to stdin before EOF. */
const stdinStream = <E>(stdin: RunOptions<E>["stdin"]): Stream.Stream<Uint8Array, E> =>
  stdin === undefined ? Stream.empty :
    typeof stdin === "string" ? Stream.make(utf8.encode(stdin)) :
    stdin instanceof Uint8Array ? Stream.make(stdin) :
    stdin

/** The version exchange's own limit (LIM-03), never longer than the whole handshake's. */
const DEFAULT_HELLO = Duration.seconds(30)

/**
 * Names the server in the errors of a connection attempt, lifts a host key verdict into a typed field, and says
 * what a silent server did in words (no version string: a port that is not SSH, or a stalled server).
 */
const locate = (host: string, port: number, hello: Duration.Duration) =>
(e: TransportError | AuthError): TransportError | AuthError => {
  if (e instanceof TransportError && e.host === undefined) {
    // The transport keeps the policy's failure as a Cause; its HostKeyRejected carries the verdict.
    const rejected = Cause.isCause(e.cause) ? Cause.squash(e.cause) : e.cause
    const description = e.timeout === "VersionExchange"
      ? `no SSH version string from the server within ${Duration.format(hello)} (LIM-03)`
      : e.description.replace(/^host key rejected: /, "")
    // `cause` is not an own enumerable property of an Effect error: `...e` alone would drop it.
    return new TransportError({
      ...e,
      host,
      port,
      description,
      ...(e.cause === undefined ? {} : { cause: e.cause }),
      ...(rejected instanceof HostKeyRejected ? { hostKeyVerdict: rejected.reason } : {})
    })
  }
  if (e instanceof AuthError && e.host === undefined) {
    return new AuthError({ ...e, host, port, ...(e.cause === undefined ? {} : { cause: e.cause }) })
  }
  return e
}

/** @internal */
export const connectOver = (socket: Socket.Socket, options: SshClientOptions, hostAddress?: string) =>
  connectOverUnlocated(socket, options, hostAddress).pipe(Effect.mapError(locate(options.host, options.port ?? 22, helloOf(options))))

const helloOf = (options: SshClientOptions): Duration.Duration => {
  const handshake = options.timeouts?.handshake
  return handshake === undefined ? DEFAULT_HELLO : Duration.min(DEFAULT_HELLO, Duration.decode(handshake))
}

const connectOverUnlocated = (socket: Socket.Socket, options: SshClientOptions, hostAddress?: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const port = options.port ?? 22
    const transport = yield* ClientTransport.make(socket, {
      host: options.host,
      hostAddress,
      port,
      hostKeys: options.hostKeys,
      algorithms: options.algorithms,
      rekey: options.rekey,
      timeouts: { handshake: options.timeouts?.handshake, hello: helloOf(options) }
    })
    const home = yield* Config.string("HOME").pipe(Effect.orElseSucceed(() => ""))
    const authenticated = yield* ClientAuth.authenticate(transport, {
      username: options.username,
      auth: options.auth,
      onBanner: options.onBanner,
      rejectTrivialAuth: options.rejectTrivialAuth,
      timeout: options.timeouts?.login,
      readFile: (file) =>
        fs.readFileString(file.startsWith("~/") && home !== "" ? path.join(home, file.slice(2)) : file)
    })
    // SEC-71: the server's hostkeys-00@openssh.com, handled by the host key policy when it updates known_hosts. The
    // handler is in place before the mux dispatches anything: the announcement follows USERAUTH_SUCCESS at once.
    const muxReady = yield* Deferred.make<ConnectionMux.ConnectionMux>()
    const hostKeysUpdate = yield* UpdateHostKeys.prepare(muxReady, transport, options.hostKeys ?? HostKeyPolicy.defaultPolicy, {
      host: options.host,
      port,
      hostKeyAlgorithms: options.algorithms?.hostKey
    })
    const mux = yield* ConnectionMux.make(transport, authenticated, {
      keepalive: options.keepalive,
      requestTimeout: options.timeouts?.request,
      globalRequests: hostKeysUpdate?.globalRequests
    })
    yield* Deferred.succeed(muxReady, mux)
    if (hostKeysUpdate !== undefined) yield* Effect.addFinalizer(() => hostKeysUpdate.awaitDone)
    const remoteForwards = yield* RemoteForward.make(mux)
    const x11 = yield* X11Client.make(mux)
    // Each forwarded agent channel learns which session it came through (session-bind@openssh.com, forwarding).
    const binding: SshProcess.AgentSessionBinding = {
      hostKey: transport.hostKey,
      sessionId: transport.sessionId,
      signature: transport.hostKeySignature
    }
    const bindAgent = (o: SshProcess.ProcessOptions | undefined): SshProcess.ProcessOptions | undefined => {
      const forward = o?.forwardAgent
      return forward === undefined ? o : { ...o, forwardAgent: { serve: (channel) => forward.serve(channel, binding) } }
    }
    const start = (what: Parameters<typeof SshProcess.start>[1], o?: SshProcess.ProcessOptions) =>
      o?.forwardAgent !== undefined && authenticated.trivial === true
        // SEC-39 (asyncssh CVE-2023-46446): a server that let us in without any proof may be a rogue one; it does
        // not get the agent.
        ? Effect.fail(
          new ChannelError({
            reason: "RequestFailed",
            channelType: "session",
            request: "auth-agent-req@openssh.com",
            description:
              `agent forwarding refused: ${options.host} port ${port} granted access without any proof (SEC-39); log in with a credential the server must check`
          })
        )
        : Effect.flatMap(X11Request.request(x11, o?.x11), (req) => SshProcess.start(mux, what, bindAgent(o), req))
    const exec = (command: ShellQuote.CommandLine, o?: SshProcess.ProcessOptions) =>
      start({ _tag: "Exec", command: ShellQuote.commandLine(command) }, o)
    const run = <E>(command: ShellQuote.CommandLine, o?: RunOptions<E>) =>
      Effect.gen(function*() {
        const p = yield* exec(command, o)
        // stdin is fed beside the output (a command may write before it has read everything), then EOF. A command
        // that exits without reading it all ends the feeding; a write refused because the channel closed meanwhile
        // is not the run's failure (the output and the status say how the command ended), the stream's own is.
        const feeding = yield* Stream.run(stdinStream(o?.stdin), p.stdin).pipe(
          Effect.catchIf((e): e is ChannelError | TransportError => e instanceof ChannelError || e instanceof TransportError, () => Effect.void),
          Effect.fork
        )
        const [stdout, stderr] = yield* Effect.all([collect(p.stdout), collect(p.stderr)], { concurrency: 2 })
        const status = yield* p.exitStatus
        const fed = yield* Fiber.interrupt(feeding)
        if (Exit.isFailure(fed) && !Cause.isInterruptedOnly(fed.cause)) return yield* Effect.failCause(fed.cause)
        return { stdout, stderr, exitCode: status.status, signal: status.signal } satisfies RunResult
      }).pipe(Effect.scoped)
    const connection: SshConnection = {
      transport,
      authenticated,
      mux,
      exec,
      shell: (o) => start({ _tag: "Shell" }, o ?? { pty: {} }),
      subsystem: (name, o) => start({ _tag: "Subsystem", name }, o),
      run,
      string: (command, o) =>
        Effect.flatMap(run(command, o), (r) =>
          r.exitCode === 0
            ? Effect.succeed(r.stdout)
            : Effect.fail(
              new ExitError({
                command: ShellQuote.commandLine(command),
                ...(r.exitCode === undefined ? {} : { status: r.exitCode }),
                ...(r.signal === undefined ? {} : { signal: r.signal }),
                stderrTail: r.stderr.slice(-2048)
              })
            )),
      globalRequest: mux.globalRequest,
      openTcp: (host, port) => Tunnel.openTcp(mux, host, port),
      openUnix: (path) => Tunnel.openUnix(mux, path),
      forwardLocal: (o) => LocalForward.forwardLocal(mux, o),
      forwardRemote: remoteForwards.forward,
      forwardDynamic: (o) => LocalForward.forwardDynamic(mux, o),
      handleForwarded: remoteForwards.handle,
      disconnect: transport.disconnect(DisconnectReason.ByApplication, "disconnected by the application")
    }
    return connection
  })

/** One connection, dialed directly (no hops). */
const connectDirect = (options: SshClientOptions) =>
  Effect.gen(function*() {
    const dialer = yield* Dialer
    const port = options.port ?? 22
    if (dialer.dialAddress !== undefined) {
      const { address, socket } = yield* dialer.dialAddress(options.host, port, options.timeouts?.connect)
      return yield* connectOverUnlocated(socket, options, address)
    }
    const socket = yield* dialer.dial(options.host, port, options.timeouts?.connect)
    return yield* connectOverUnlocated(socket, options)
  }).pipe(Effect.mapError(locate(options.host, options.port ?? 22, helloOf(options))))

/** @internal */
export const connect = (options: SshClientOptions) => Jump.connectVia(options, connectDirect, connectOver)

/** @internal */
export const unwrapConfig = (options: Config.Config.Wrap<SshClientOptions>) => Config.unwrap(options)
