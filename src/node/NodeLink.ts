/**
 * The transport's `Link` over a Node `net.Socket` (DESIGN.md §6): chunks go to the engine in the socket's
 * `data` event (or, for sockets we dial, straight from the read into the engine's buffer: `Reads`), writes of one tick are corked and leave in one `writev` (no concatenation copy), reading pauses
 * when the engine asks (the platform Socket cannot), and closing ends the socket after its queue is flushed.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import type * as Net from "node:net"
import * as Link from "../transport/Link.js"

/** How long a closed socket may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000

/** A read's size when the engine does not choose the buffer (Node's own). */
const READ_SIZE = 64 * 1024

/**
 * The reads of a socket created with `onread` (pass `onread` in its connect options): each read lands in the
 * buffer the engine offers (`LinkSink.readBuffer`) and reaches it in the read's callback — no stream machinery,
 * no allocation per read, no copy of a packet split between reads. Reads before the link starts are kept
 * (copied) and delivered when it does.
 *
 * @since 0.1.0
 * @category models
 */
export class Reads {
  #sink: Link.LinkSink | undefined = undefined
  #early: Array<Uint8Array> = []

  /** The connect option (`net.connect({ ..., onread })`). */
  readonly onread: Net.OnReadOpts = {
    buffer: () => this.#sink?.readBuffer?.() ?? new Uint8Array(READ_SIZE),
    callback: (n, buf) => {
      const chunk = buf.subarray(0, n)
      if (this.#sink === undefined) this.#early.push(chunk.slice())
      else this.#sink.onData(chunk)
      // Reading pauses only when the engine asks (Link.pause).
      return true
    }
  }

  /** Delivers to `sink` from now on (what came before first). */
  start(sink: Link.LinkSink): void {
    this.#sink = sink
    for (const chunk of this.#early.splice(0)) sink.onData(chunk)
  }
}

/**
 * A link over `conn`. The caller owns `conn`'s lifetime; `close` ends it (destroyed after a grace period).
 * `reads`: the socket was created with its `onread` (reads do not go through the stream's `data` events).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (conn: Net.Socket, reads?: Reads): Link.Link => {
  let corked = false
  let closed = false
  let endReported = false
  const uncork = () => {
    corked = false
    conn.uncork()
  }
  return {
    start: (sink) => {
      const end = (failure: unknown) => {
        if (endReported) return
        endReported = true
        sink.onEnd(failure)
      }
      if (reads !== undefined) reads.start(sink)
      else conn.on("data", sink.onData)
      conn.on("drain", sink.onDrain)
      conn.on("end", () => end(undefined))
      conn.on("error", (e) => end(e))
      conn.on("close", () => end(undefined))
      if (conn.destroyed) end(undefined)
    },
    write: (bytes) => {
      if (closed || conn.destroyed) return
      if (!corked) {
        // One flush per tick: everything written in this turn leaves together (writev).
        corked = true
        conn.cork()
        process.nextTick(uncork)
      }
      conn.write(bytes)
    },
    pending: () => conn.writableLength,
    pause: () => {
      conn.pause()
      return true
    },
    resume: () => {
      conn.resume()
    },
    close: () => {
      if (closed) return
      closed = true
      if (conn.destroyed) return
      if (corked) uncork()
      conn.end()
      setTimeout(() => conn.destroy(), CLOSE_GRACE_MS).unref()
    }
  }
}

/**
 * Registers a link over `conn` for the platform `socket` made from it, so the transport uses it.
 *
 * @since 0.1.0
 * @category utils
 */
export const register = (socket: Socket.Socket, conn: Net.Socket, reads?: Reads): Socket.Socket =>
  Link.register(socket, make(conn, reads))
