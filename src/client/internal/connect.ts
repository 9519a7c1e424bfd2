/**
 * SshClient.connect: Dialer → ClientTransport (host key policy) → ClientAuth → ConnectionMux → SshConnection.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type * as Socket from "@effect/platform/Socket"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ClientAuth from "../../auth/ClientAuth.js"
import * as ConnectionMux from "../../connection/ConnectionMux.js"
import * as LocalForward from "../../forward/LocalForward.js"
import * as RemoteForward from "../../forward/RemoteForward.js"
import * as Tunnel from "../../forward/Tunnel.js"
import * as SshProcess from "../../session/SshProcess.js"
import { DisconnectReason, ExitError } from "../../SshError.js"
import * as ClientTransport from "../ClientTransport.js"
import { Dialer } from "../Dialer.js"
import type { SshClientOptions } from "../SshClient.js"
import type { RunResult, SshConnection } from "../SshConnection.js"
import * as Jump from "./jump.js"

const collect = <E>(s: Stream.Stream<Uint8Array, E>) =>
  s.pipe(Stream.decodeText(), Stream.runCollect, Effect.map((c) => Chunk.join(c, "")))

/** @internal */
export const connectOver = (socket: Socket.Socket, options: SshClientOptions, hostAddress?: string) =>
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
      timeouts: { handshake: options.timeouts?.handshake }
    })
    const home = yield* Config.string("HOME").pipe(Effect.orElseSucceed(() => ""))
    const authenticated = yield* ClientAuth.authenticate(transport, {
      username: options.username,
      auth: options.auth,
      onBanner: options.onBanner,
      timeout: options.timeouts?.login,
      readFile: (file) =>
        fs.readFileString(file.startsWith("~/") && home !== "" ? path.join(home, file.slice(2)) : file)
    })
    const mux = yield* ConnectionMux.make(transport, authenticated, {
      keepalive: options.keepalive,
      requestTimeout: options.timeouts?.request
    })
    const remoteForwards = yield* RemoteForward.make(mux)
    const exec = (command: string, o?: SshProcess.ProcessOptions) =>
      SshProcess.start(mux, { _tag: "Exec", command }, o)
    const run = (command: string, o?: SshProcess.ProcessOptions) =>
      Effect.gen(function*() {
        const p = yield* exec(command, o)
        const [stdout, stderr] = yield* Effect.all([collect(p.stdout), collect(p.stderr)], { concurrency: 2 })
        const status = yield* p.exitStatus
        return { stdout, stderr, exitCode: status.status, signal: status.signal } satisfies RunResult
      }).pipe(Effect.scoped)
    const connection: SshConnection = {
      transport,
      authenticated,
      mux,
      exec,
      shell: (o) => SshProcess.start(mux, { _tag: "Shell" }, o ?? { pty: {} }),
      subsystem: (name) => SshProcess.start(mux, { _tag: "Subsystem", name }),
      run,
      string: (command, o) =>
        Effect.flatMap(run(command, o), (r) =>
          r.exitCode === 0
            ? Effect.succeed(r.stdout)
            : Effect.fail(
              new ExitError({
                command,
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
      return yield* connectOver(socket, options, address)
    }
    const socket = yield* dialer.dial(options.host, port, options.timeouts?.connect)
    return yield* connectOver(socket, options)
  })

/** @internal */
export const connect = (options: SshClientOptions) => Jump.connectVia(options, connectDirect, connectOver)

/** @internal */
export const unwrapConfig = (options: Config.Config.Wrap<SshClientOptions>) => Config.unwrap(options)
