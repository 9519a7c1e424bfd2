/**
 * Memory held by idle authenticated connections on our server (DESIGN.md §10: ≤ 25 KiB per extra connection),
 * beside the npm ssh2 package's `Server`. The server runs in its own process (bench/serverProcess.ts, started
 * with --expose-gc); this process opens connections to it with the matching client (ours: `SshClient.connect`,
 * publickey auth, host key pinned; ssh2: its `Client`), 20 at a time, and keeps them open. The server reports
 * its RSS after a full GC through an exec request `rss` on the first connection: once with that connection alone
 * (after one warm-up `rss`, so that both readings include the exec path) and once with all of them open.
 * This process holds the clients: its own RSS and heap (after a full GC) are read at the same two moments, so
 * the client side's bytes per connection show beside the server's.
 * Everything is closed when the section's Scope closes (connections, then the server process).
 *
 * A benchmark, not a test: nothing is asserted; a server that cannot be measured is left out with a warning.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import type { SshConnection } from "../src/client/SshConnection.js"
import * as HostKey from "../src/crypto/HostKey.js"
import * as PrivateKey from "../src/keys/PrivateKey.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import { type Fixture, fixture, nodeServer, type ServerName, warnNa } from "./server.js"

/**
 * Resident set sizes of one server process (bytes) with one connection and with `connections` of them, and the
 * seconds it took to open all of them.
 *
 * @since 0.1.0
 * @category models
 */
export interface IdleRow {
  readonly server: ServerName
  readonly connections: number
  readonly rss1: number
  readonly rssN: number
  /** V8's heapUsed (bytes) at the same two moments. */
  readonly heap1: number
  readonly heapN: number
  readonly openSeconds: number
  /** This process (the clients): RSS and heapUsed (bytes) after a full GC, with one connection and with all. */
  readonly client1: ClientMemory
  readonly clientN: ClientMemory
}

interface ClientMemory {
  readonly rss: number
  readonly heap: number
}

/** A full GC in this process (started without --expose-gc), for the client side's figures. */
const collect: () => void = (() => {
  v8.setFlagsFromString("--expose-gc")
  const gc = vm.runInNewContext("gc") as unknown
  return typeof gc === "function" ? () => void gc() : () => {}
})()

let clientSnapshots = 0

const clientMemory = Effect.sync((): ClientMemory => {
  collect()
  collect()
  // With BENCH_HEAP_SNAPSHOT=DIR (bench/heapCensus.ts), this process's heap is written beside the server's.
  const dir = process.env["BENCH_HEAP_SNAPSHOT"]
  if (dir !== undefined && dir !== "") v8.writeHeapSnapshot(`${dir}/client-${++clientSnapshots}.heapsnapshot`)
  const m = process.memoryUsage()
  return { rss: m.rss, heap: m.heapUsed }
})

const USER = os.userInfo().username
const require = createRequire(import.meta.url)

/** The server's answer to `rss`: "RSS heapUsed". */
const parseMemory = (text: string): { readonly rss: number; readonly heap: number } | undefined => {
  const m = /^(\d+) (\d+)$/.exec(text.trim())
  return m === null ? undefined : { rss: Number(m[1]), heap: Number(m[2]) }
}

const oursRss = (conn: SshConnection) =>
  Effect.flatMap(conn.run("rss"), (r) => {
    const m = parseMemory(r.stdout)
    return r.exitCode === 0 && m !== undefined ? Effect.succeed(m) : Effect.fail(new Error(`rss: ${r.stdout} ${r.stderr}`))
  })

const oursIdle = (f: Fixture, connections: number, concurrency: number) =>
  Effect.gen(function*() {
    const s = yield* nodeServer("ours", f)
    const parsed = PrivateKey.parsePrivateKey(fs.readFileSync(f.userKey, "utf8"))
    if (Either.isLeft(parsed)) return yield* Effect.fail(new Error(parsed.left.message))
    const options: SshClient.SshClientOptions = {
      host: "127.0.0.1",
      port: s.port,
      username: USER,
      auth: [Auth.privateKey(parsed.right)],
      hostKeys: HostKeyPolicy.pinned([HostKey.fingerprintSha256(Uint8Array.from(f.hostBlob))])
    }
    const first = yield* SshClient.connect(options)
    yield* oursRss(first) // the exec path's code and caches warm, so that both readings include them
    const m1 = yield* oursRss(first)
    const client1 = yield* clientMemory
    const t0 = performance.now()
    const rest = yield* Effect.forEach(
      Array.from({ length: connections - 1 }),
      () => Effect.either(SshClient.connect(options)),
      { concurrency }
    )
    const openSeconds = (performance.now() - t0) / 1000
    const opened = 1 + rest.filter(Either.isRight).length
    const mN = yield* oursRss(first)
    const clientN = yield* clientMemory
    return { server: "ours", connections: opened, rss1: m1.rss, rssN: mN.rss, heap1: m1.heap, heapN: mN.heap, openSeconds, client1, clientN } satisfies IdleRow
  }).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

type Ssh2Client = import("ssh2").Client

const ssh2Connect = (f: Fixture, port: number, keyText: string): Effect.Effect<Ssh2Client, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Ssh2Client, Error>((resume) => {
      const conn = new (require("ssh2") as typeof import("ssh2")).Client()
      conn.once("ready", () => resume(Effect.succeed(conn)))
      // Kept for the connection's life: an error after 'ready' (resume then does nothing) must not crash the bench.
      conn.on("error", (e) => resume(Effect.fail(e)))
      conn.connect({
        host: "127.0.0.1",
        port,
        username: USER,
        privateKey: keyText,
        hostVerifier: (key: Buffer) => key.equals(f.hostBlob),
        readyTimeout: 60_000
      })
    }),
    (conn) => Effect.sync(() => conn.end())
  )

const ssh2Rss = (conn: Ssh2Client) =>
  Effect.async<{ readonly rss: number; readonly heap: number }, Error>((resume) => {
    conn.exec("rss", (err, stream) => {
      if (err) return resume(Effect.fail(err))
      let out = ""
      stream.on("data", (d: Buffer) => (out += d.toString()))
      stream.stderr.resume()
      stream.once("close", () => {
        const m = parseMemory(out)
        resume(m !== undefined ? Effect.succeed(m) : Effect.fail(new Error(`rss: ${out}`)))
      })
    })
  })

const ssh2Idle = (f: Fixture, connections: number, concurrency: number) =>
  Effect.gen(function*() {
    const s = yield* nodeServer("ssh2", f)
    const keyText = fs.readFileSync(f.userKey, "utf8")
    const first = yield* ssh2Connect(f, s.port, keyText)
    yield* ssh2Rss(first)
    const m1 = yield* ssh2Rss(first)
    const client1 = yield* clientMemory
    const t0 = performance.now()
    const rest = yield* Effect.forEach(
      Array.from({ length: connections - 1 }),
      () => Effect.either(ssh2Connect(f, s.port, keyText)),
      { concurrency }
    )
    const openSeconds = (performance.now() - t0) / 1000
    const opened = 1 + rest.filter(Either.isRight).length
    const mN = yield* ssh2Rss(first)
    const clientN = yield* clientMemory
    return { server: "ssh2", connections: opened, rss1: m1.rss, rssN: mN.rss, heap1: m1.heap, heapN: mN.heap, openSeconds, client1, clientN } satisfies IdleRow
  }).pipe(Effect.scoped)

/**
 * RSS of our server (and, with `ssh2`, of ssh2's server) with one and with `connections` (default 1 000) idle
 * authenticated connections, opened `concurrency` (default 20) at a time; all are closed at the end.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runIdle = (options?: {
  readonly connections?: number | undefined
  readonly concurrency?: number | undefined
  readonly ssh2?: boolean | undefined
}) =>
  Effect.gen(function*() {
    const connections = options?.connections ?? 1000
    const concurrency = options?.concurrency ?? 20
    const f = yield* fixture
    const rows: Array<IdleRow> = []
    const ours = yield* oursIdle(f, connections, concurrency).pipe(warnNa("ours, idle connections"))
    if (ours !== undefined) rows.push(ours)
    if (options?.ssh2 !== false) {
      const s2 = yield* ssh2Idle(f, connections, concurrency).pipe(warnNa("ssh2, idle connections"))
      if (s2 !== undefined) rows.push(s2)
    }
    return rows
  }).pipe(Effect.scoped)

/**
 * RSS with one and with N connections, and the KiB each extra connection holds, beside the goal.
 *
 * @since 0.1.0
 * @category formatting
 */
export const idleTable = (rows: ReadonlyArray<IdleRow>): ReadonlyArray<ReadonlyArray<string>> => [
  [
    "server",
    "connections",
    "RSS 1 conn MiB",
    "RSS N conns MiB",
    "RSS KiB per extra conn",
    "goal KiB",
    "heap KiB per extra conn",
    "open N s",
    "client RSS KiB per conn",
    "client heap KiB per conn"
  ],
  ...rows.map((r) => [
    r.server,
    String(r.connections),
    (r.rss1 / 1024 / 1024).toFixed(1),
    (r.rssN / 1024 / 1024).toFixed(1),
    r.connections > 1 ? ((r.rssN - r.rss1) / (r.connections - 1) / 1024).toFixed(1) : "n/a",
    r.server === "ours" ? "≤ 25" : "",
    r.connections > 1 ? ((r.heapN - r.heap1) / (r.connections - 1) / 1024).toFixed(1) : "n/a",
    r.openSeconds.toFixed(1),
    r.connections > 1 ? ((r.clientN.rss - r.client1.rss) / (r.connections - 1) / 1024).toFixed(1) : "n/a",
    r.connections > 1 ? ((r.clientN.heap - r.client1.heap) / (r.connections - 1) / 1024).toFixed(1) : "n/a"
  ])
]
