/**
 * The child process of bench/server.ts: one SSH server, ours (`SshServer.run` on `NodeSshServer.layer`) or the
 * npm ssh2 package's `Server`, on 127.0.0.1, so that its CPU time and memory are its own.
 *
 * Usage: `node [tsx loader] --expose-gc bench/serverProcess.ts ours|ssh2 HOST_KEY_FILE AUTHORIZED_KEY_FILE`.
 * It prints one JSON line `{ "port": N }` when it listens, and exits when its stdin ends (or when killed).
 *
 * Both servers accept only the one ed25519 user key of AUTHORIZED_KEY_FILE (publickey auth) and answer three
 * exec commands:
 *
 * - `head -c N /dev/zero`: N zero bytes on stdout in 32 KiB writes (ssh2: respecting backpressure, waiting for
 *   'drain' when `write` returns false), exit status 0; what sshd does with the real `head` (ours with
 *   BENCH_LOCAL_PROCESS=1 in its environment: the real `head` too, through NodeLocalProcess);
 * - `true`: exit status 0 (the set-up measurement);
 * - `rss`: runs a full GC when the process was started with `--expose-gc`, then prints
 *   `process.memoryUsage()`'s `rss` and `heapUsed` in bytes, separated by a space.
 *
 * A benchmark helper, not a test.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as SocketServer from "@effect/platform/SocketServer"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import type * as net from "node:net"
import * as v8 from "node:v8"
import * as NodeLocalProcess from "../src/node/NodeLocalProcess.js"
import * as NodeSshServer from "../src/node/NodeSshServer.js"
import * as SshServer from "../src/server/SshServer.js"

/** The size of each write of zeros. */
const CHUNK = 32 * 1024
const HEAD = /^head -c (\d+) \/dev\/zero$/

let snapshots = 0

/**
 * "RSS heapUsed" after a full collection (when `global.gc` exists: node --expose-gc). With BENCH_HEAP_SNAPSHOT=DIR
 * a V8 heap snapshot is written there at each reading too (bench/heapCensus.ts compares two of them).
 */
const rss = (): string => {
  globalThis.gc?.()
  globalThis.gc?.()
  const dir = process.env["BENCH_HEAP_SNAPSHOT"]
  if (dir !== undefined && dir !== "") v8.writeHeapSnapshot(`${dir}/server-${++snapshots}.heapsnapshot`)
  const m = process.memoryUsage()
  return `${m.rss} ${m.heapUsed}`
}

const ready = (port: number) => process.stdout.write(`${JSON.stringify({ port })}\n`)

// ---- ours ----

const zeros = new Uint8Array(CHUNK)

/** `n` zero bytes as 32 KiB chunks (one buffer, never written to, handed on each time). */
const zeroStream = (n: number): Stream.Stream<Uint8Array> => {
  const full = Math.floor(n / CHUNK)
  const rest = n % CHUNK
  return Stream.concat(
    Stream.take(Stream.repeatValue(zeros), full),
    rest > 0 ? Stream.make(zeros.subarray(0, rest)) : Stream.empty
  )
}

const ours = (hostKeyFile: string, authorizedBlob: string) => {
  const handlers: SshServer.ServerHandlers = {
    auth: { publicKey: ({ key }) => Effect.succeed(Buffer.from(key.blob).toString("base64") === authorizedBlob) },
    exec: (ctx) =>
      Effect.gen(function*() {
        const head = HEAD.exec(ctx.command)
        // BENCH_LOCAL_PROCESS=1: the real `head` as a child process behind NodeLocalProcess, as sshd runs it.
        if (head !== null && process.env["BENCH_LOCAL_PROCESS"] === "1") return yield* NodeLocalProcess.run(ctx, ctx.command)
        if (head !== null) {
          yield* Stream.run(zeroStream(Number(head[1])), ctx.stdout)
          return 0
        }
        if (ctx.command === "true") return 0
        if (ctx.command === "rss") {
          yield* Stream.run(Stream.make(new TextEncoder().encode(`${rss()}\n`)), ctx.stdout)
          return 0
        }
        return 127
      })
  }
  Effect.runFork(
    Effect.gen(function*() {
      const context = yield* Layer.build(NodeSshServer.layer({
        hostKeyFiles: [hostKeyFile],
        // The idle bench opens connections 20 at a time: far below these, so none is dropped (LIM-19).
        maxStartups: { start: 200, rate: 30, full: 400 }
      }))
      const address = Context.get(context, SocketServer.SocketServer).address
      yield* Effect.forkScoped(Effect.provide(SshServer.run(handlers), context))
      yield* Effect.sync(() => ready(address._tag === "TcpAddress" ? address.port : 0))
      return yield* Effect.never
    }).pipe(Effect.scoped)
  )
}

// ---- ssh2 ----

const require = createRequire(import.meta.url)

const ssh2 = (hostKeyFile: string, authorizedLine: string) => {
  const { Server, utils } = require("ssh2") as typeof import("ssh2")
  const authorized = utils.parseKey(authorizedLine)
  if (authorized instanceof Error) throw authorized
  const blob = authorized.getPublicSSH()
  const server = new Server({ hostKeys: [fs.readFileSync(hostKeyFile)] }, (client) => {
    client.on("error", () => {})
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey" || !ctx.key.data.equals(blob)) return ctx.reject(["publickey"])
      // Without a signature the client only asks whether the key would do (RFC 4252 §7).
      if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept()
      return authorized.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject()
    })
    client.on("ready", () => {
      client.on("session", (acceptSession) => {
        const session = acceptSession()
        session.on("exec", (accept, _reject, info) => {
          const stream = accept()
          stream.on("error", () => {})
          const finish = (code: number) => {
            stream.exit(code)
            stream.end()
          }
          const head = HEAD.exec(info.command)
          if (head !== null) {
            let left = Number(head[1])
            const buffer = Buffer.alloc(CHUNK)
            const pump = () => {
              while (left > 0) {
                const n = Math.min(CHUNK, left)
                left -= n
                if (!stream.write(n === CHUNK ? buffer : buffer.subarray(0, n))) {
                  stream.once("drain", pump)
                  return
                }
              }
              finish(0)
            }
            pump()
          } else if (info.command === "true") finish(0)
          else if (info.command === "rss") {
            stream.write(`${rss()}\n`)
            finish(0)
          } else finish(127)
        })
      })
    })
  })
  server.listen(0, "127.0.0.1", () => ready((server.address() as net.AddressInfo).port))
}

// ---- main ----

const [kind, hostKeyFile, authorizedKeyFile] = process.argv.slice(2)
if (hostKeyFile === undefined || authorizedKeyFile === undefined || (kind !== "ours" && kind !== "ssh2")) {
  process.stderr.write("usage: serverProcess.ts ours|ssh2 HOST_KEY_FILE AUTHORIZED_KEY_FILE\n")
  process.exit(2)
}
process.stdin.on("end", () => process.exit(0))
process.stdin.resume()
const line = fs.readFileSync(authorizedKeyFile, "utf8").trim()
if (kind === "ours") ours(hostKeyFile, line.split(" ")[1] ?? "")
else ssh2(hostKeyFile, line)
