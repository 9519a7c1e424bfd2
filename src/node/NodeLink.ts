/**
 * The transport's `Link` over a Node `net.Socket` (DESIGN.md §6): chunks go to the engine in the socket's
 * `data` event, writes of one tick are corked and leave in one `writev` (no concatenation copy), reading pauses
 * when the engine asks (the platform Socket cannot), and closing ends the socket after its queue is flushed.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import type * as Net from "node:net"
import * as Link from "../transport/Link.js"

/** How long a closed socket may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000

/**
 * A link over `conn`. The caller owns `conn`'s lifetime; `close` ends it (destroyed after a grace period).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (conn: Net.Socket): Link.Link => {
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
      conn.on("data", sink.onData)
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
export const register = (socket: Socket.Socket, conn: Net.Socket): Socket.Socket => Link.register(socket, make(conn))
