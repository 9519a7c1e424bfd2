/**
 * Plain Node sockets for the forwarding tests: an echo server that counts its open connections, a client that
 * sends bytes and checks the echo by SHA-256, minimal SOCKS 4/4a/5 clients, and a temp dir for UNIX sockets.
 */
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface EchoServer {
  readonly port: number
  readonly path: string | undefined
  /** Connections open right now. */
  readonly open: () => number
  /** Connections accepted so far. */
  readonly accepted: () => number
}

/** An echo server on 127.0.0.1:0 or on a UNIX socket path, closed with the Scope. */
export const echoServer = (socketPath?: string): Effect.Effect<EchoServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: net.Server; sockets: Set<net.Socket>; info: EchoServer }>((resume) => {
      const sockets = new Set<net.Socket>()
      let accepted = 0
      const server = net.createServer({ allowHalfOpen: true }, (s) => {
        accepted++
        sockets.add(s)
        s.on("error", () => {})
        s.on("close", () => sockets.delete(s))
        s.pipe(s)
      })
      const done = () => {
        const a = server.address()
        resume(Effect.succeed({
          server,
          sockets,
          info: {
            port: typeof a === "object" && a !== null ? a.port : 0,
            path: socketPath,
            open: () => sockets.size,
            accepted: () => accepted
          }
        }))
      }
      if (socketPath === undefined) server.listen(0, "127.0.0.1", done)
      else server.listen(socketPath, done)
    }),
    ({ server, sockets }) => Effect.async<void>((resume) => {
      for (const s of sockets) s.destroy()
      server.close(() => resume(Effect.void))
    })
  ).pipe(Effect.map(({ info }) => info))

export const sha256 = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

/**
 * Connects to a TCP port or UNIX path, optionally sends a preamble and reads its reply first (for SOCKS), then
 * sends `size` random bytes, half-closes, and reads until the peer closes; returns both checksums.
 */
export const echoThrough = (
  target: { port: number } | { path: string },
  size: number,
  handshake?: (socket: net.Socket) => Promise<void>
): Effect.Effect<{ sent: string; received: string; bytes: number }, Error> =>
  Effect.tryPromise({
    try: () =>
      new Promise<{ sent: string; received: string; bytes: number }>((resolve, reject) => {
        const payload = crypto.randomBytes(size)
        const socket = "port" in target
          ? net.createConnection({ host: "127.0.0.1", port: target.port, allowHalfOpen: true })
          : net.createConnection({ path: target.path, allowHalfOpen: true })
        const chunks: Array<Buffer> = []
        socket.once("error", reject)
        socket.once("connect", async () => {
          try {
            if (handshake) await handshake(socket)
          } catch (e) {
            socket.destroy()
            return reject(e)
          }
          socket.on("data", (d: Buffer) => chunks.push(d))
          socket.once("end", () => {
            const all = Buffer.concat(chunks)
            socket.destroy()
            resolve({ sent: sha256(payload), received: sha256(all), bytes: all.length })
          })
          socket.end(payload)
        })
      }),
    catch: (e) => (e instanceof Error ? e : new Error(String(e)))
  })

/** Reads exactly `n` bytes from a socket (before any other 'data' listener is attached). */
export const readExactly = (socket: net.Socket, n: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (buf.length >= n) {
        socket.off("data", onData)
        socket.off("close", onClose)
        if (buf.length > n) socket.unshift(buf.subarray(n))
        resolve(buf.subarray(0, n))
      }
    }
    const onClose = () => reject(new Error(`closed after ${buf.length} of ${n} bytes`))
    socket.on("data", onData)
    socket.once("close", onClose)
  })

/** A SOCKS 5 CONNECT to a domain name (no authentication); rejects unless granted. */
export const socks5 = (host: string, port: number) => async (socket: net.Socket) => {
  socket.write(Buffer.from([5, 1, 0]))
  const m = await readExactly(socket, 2)
  if (m[1] !== 0) throw new Error(`SOCKS 5 method ${m[1]}`)
  const h = Buffer.from(host)
  socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, h.length]), h, Buffer.from([port >> 8, port & 255])]))
  const r = await readExactly(socket, 10)
  if (r[1] !== 0) throw new Error(`SOCKS 5 reply ${r[1]}`)
}

/** A SOCKS 4 CONNECT to an IPv4 address, or SOCKS 4a to a host name. */
export const socks4 = (host: string, port: number) => async (socket: net.Socket) => {
  const ip = net.isIPv4(host) ? host.split(".").map(Number) : [0, 0, 0, 1]
  const tail = net.isIPv4(host) ? Buffer.from([0]) : Buffer.concat([Buffer.from([0]), Buffer.from(host), Buffer.from([0])])
  socket.write(Buffer.concat([Buffer.from([4, 1, port >> 8, port & 255, ...ip]), Buffer.from("user"), tail]))
  const r = await readExactly(socket, 8)
  if (r[1] !== 90) throw new Error(`SOCKS 4 reply ${r[1]}`)
}

/** A fresh temp directory for UNIX sockets (short path: sun_path is 108 bytes). */
export const socketDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "fwd-"))

/** True when something accepts TCP connections on 127.0.0.1:port. */
export const accepts = (port: number): Effect.Effect<boolean> =>
  Effect.async((resume) => {
    const s = net.createConnection({ host: "127.0.0.1", port })
    s.once("connect", () => {
      s.destroy()
      resume(Effect.succeed(true))
    })
    s.once("error", () => resume(Effect.succeed(false)))
  })

/** The TCP port of a bound endpoint (0 for a UNIX socket). */
export const portOf = (address: { readonly _tag: "Tcp"; readonly port: number } | { readonly _tag: "Unix" }): number =>
  address._tag === "Tcp" ? address.port : 0
