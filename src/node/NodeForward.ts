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
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import type { ByteSink } from "../connection/Channel.js"
import { ForwardError } from "../forward/ForwardError.js"
import { type Endpoint, type LocalConnection, LocalNet } from "../forward/LocalNet.js"
import * as NodeDialer from "./NodeDialer.js"

const show = (e: Endpoint) => (e._tag === "Tcp" ? `${e.host}:${e.port}` : e.path)
const reason = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/**
 * Bytes a local socket may hold unsent before a writer waits: a few SSH packets ahead, so that a writer does not
 * wait for the kernel after every packet (Node's own mark, 16 KiB, is below one 32 KiB packet), with bounded
 * memory per tunnel.
 */
const WRITE_AHEAD = 256 * 1024

/** Resumes once `socket` emits `event` or closes; the listeners go when it resumes or is interrupted. */
const until = (socket: Net.Socket, event: "drain" | "finish", resume: (effect: Effect.Effect<void>) => void) => {
  if (socket.destroyed) {
    resume(Effect.void)
    return Effect.void
  }
  const off = () => {
    socket.off(event, done)
    socket.off("close", done)
  }
  const done = () => {
    off()
    resume(Effect.void)
  }
  socket.once(event, done)
  socket.once("close", done)
  return Effect.sync(off)
}

/**
 * The socket's write side as a synchronous `ByteSink`: the chunks written in one turn leave in one `writev` (the
 * socket is corked until the next tick: one system call for the packets of one read from the SSH socket, no
 * concatenation copy); full at `WRITE_AHEAD` bytes queued, ready again at 'drain'.
 */
const sinkOf = (socket: Net.Socket): ByteSink => {
  let corked = false
  const uncork = () => {
    corked = false
    socket.uncork()
  }
  return {
    write: (chunk) => {
      if (socket.destroyed || socket.writableEnded) return false
      if (!corked) {
        corked = true
        socket.cork()
        process.nextTick(uncork)
      }
      socket.write(chunk)
      return socket.writableLength < WRITE_AHEAD
    },
    onReady: (resume) => void until(socket, "drain", () => resume()),
    isClosed: () => socket.destroyed || socket.writableEnded
  }
}

/**
 * The socket's input into `sink` (LocalConnection.pipeTo): in flowing mode, each chunk Node reads (up to 64 KiB)
 * handed over in its 'data' turn; paused while the sink is full, resumed at its `onReady`. Ends after 'end' once
 * the sink took everything.
 */
const pipeTo = (socket: Net.Socket, sink: ByteSink) =>
  Effect.async<void, ForwardError>((resume) => {
    let ended = false
    let waiting = false
    let done = false
    const closed = (description: string, cause?: unknown) =>
      Effect.fail(new ForwardError({ reason: "Closed", description, cause }))
    const off = () => {
      socket.off("data", onData)
      socket.off("end", onEnd)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    const finish = (exit: Effect.Effect<void, ForwardError>) => {
      if (done) return
      done = true
      off()
      resume(exit)
    }
    const onReady = () => {
      waiting = false
      if (done) return
      if (sink.isClosed()) return finish(closed("the channel closed before the input ended"))
      if (ended) return finish(Effect.void)
      socket.resume()
    }
    function onData(chunk: Buffer) {
      if (sink.write(chunk) || waiting) return
      if (sink.isClosed()) return finish(closed("the channel closed before the input ended"))
      waiting = true
      socket.pause()
      sink.onReady(onReady)
    }
    function onEnd() {
      ended = true
      if (!waiting) finish(Effect.void)
    }
    function onError(cause: Error) {
      finish(closed(`reading: ${reason(cause)}`, cause))
    }
    function onClose() {
      if (!ended) finish(closed("reading: the socket closed before its EOF"))
    }
    socket.on("data", onData)
    socket.on("end", onEnd)
    socket.on("error", onError)
    socket.on("close", onClose)
    if (socket.readableEnded) onEnd()
    else if (socket.destroyed) onClose()
    else socket.resume()
    return Effect.sync(() => {
      done = true
      off()
    })
  })

/**
 * A connected socket as a LocalConnection. Chunks are written as they are, without a copy: the transport never
 * overwrites the bytes of a payload it has handed out (PacketCodec: fresh buffers once a payload may view one).
 */
const toConnection = (socket: Net.Socket): LocalConnection => {
  let inputRead = false
  return {
    sink: sinkOf(socket),
    // `input` and `pipeTo` read the same socket: once `input` was read (a handshake peeled off its first bytes), a
    // connection passed on with a new `input` must drop `pipeTo`; one that does not fails loudly here, not by a hang.
    pipeTo: (sink) =>
      inputRead
        ? Effect.dieMessage("LocalConnection.pipeTo after its input was read: replace pipeTo with undefined with the input")
        : pipeTo(socket, sink),
    input: Stream.suspend(() => {
      inputRead = true
      return NodeStream.fromReadable<ForwardError, Uint8Array>(
        () => socket,
        (cause) => new ForwardError({ reason: "Closed", description: `reading: ${reason(cause)}`, cause }),
        { closeOnDone: false }
      )
    }),
    write: (data) =>
      Effect.async<void, ForwardError>((resume) => {
        if (socket.destroyed || socket.writableEnded) {
          return resume(Effect.fail(new ForwardError({ reason: "Closed", description: "writing: the socket is closed" })))
        }
        socket.write(data)
        if (socket.writableLength < WRITE_AHEAD) return resume(Effect.void)
        return until(socket, "drain", resume)
      }),
    // EOF once everything queued has gone to the kernel ('finish'): the socket is destroyed when its handler returns,
    // and destroying it earlier would drop what Node still holds — the cause of the truncated UNIX-socket tunnels
    // seen under load when writes first ran ahead of the kernel.
    end: Effect.async<void>((resume) => {
      if (socket.destroyed || socket.writableFinished) return resume(Effect.void)
      const cancel = until(socket, "finish", resume)
      if (!socket.writableEnded) socket.end()
      return cancel
    }),
    peer: socket.remoteAddress !== undefined && socket.remotePort !== undefined
      ? { _tag: "Tcp", host: socket.remoteAddress, port: socket.remotePort }
      : undefined
  }
}

/** uid and gid of `username` from /etc/passwd, when it names one. */
const passwdIds = (username: string): { readonly uid: number; readonly gid: number } | undefined => {
  try {
    for (const line of Fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , uid, gid] = line.split(":")
      if (name === username && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) }
    }
  } catch {
    return undefined
  }
  return undefined
}

/**
 * SEC-48 (Dropbear CVE-2025-14282): a UNIX socket a server running as root creates for a user belongs to that
 * user (when /etc/passwd names them), so the user's own permissions decide who may connect.
 */
const chownForUser = (path: string, owner: string | undefined): void => {
  if (owner === undefined || process.getuid?.() !== 0) return
  const ids = passwdIds(owner)
  if (ids !== undefined) Fs.chownSync(path, ids.uid, ids.gid)
}

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
  listen: (endpoint, onConnection, options) =>
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
            if (endpoint._tag === "Unix") {
              try {
                chownForUser(endpoint.path, options?.owner)
              } catch (cause) {
                server.close()
                return onError(cause instanceof Error ? cause : new Error(String(cause)))
              }
            }
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
  hostname: () => Os.hostname(),
  connect: (endpoint) =>
    NodeDialer.connectNet(
      endpoint._tag === "Tcp"
        ? { host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true }
        : { path: endpoint.path, allowHalfOpen: true },
      (cause) => new ForwardError({ reason: "ConnectFailed", description: `${show(endpoint)}: ${reason(cause)}`, cause })
    ).pipe(Effect.map(toConnection))
}

/**
 * Provides the Node `LocalNet`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LocalNet> = Layer.succeed(LocalNet, localNet)
