/**
 * Our server (DESIGN.md §10) beside OpenSSH's sshd and the npm ssh2 package's `Server`, measured in the same run,
 * each server in its own process (ours and ssh2: bench/serverProcess.ts) so that its CPU time and memory are its
 * own and do not mix with the client's:
 *
 * 1. bulk throughput: OpenSSH's `ssh` (stdout to /dev/null) runs `head -c N /dev/zero` on each server with the
 *    cipher forced on the client. sshd runs the real `head`; ours and ssh2 write N zero bytes in 32 KiB writes
 *    from their exec handlers. The server's CPU time comes from /proc/PID/stat: user + system time of the server
 *    process and of its reaped children (cutime + cstime). For sshd the PID is the listener, which reaps the
 *    per-connection sshd, which reaps its privilege-separated child, which reaps `head`: its figure is all of
 *    sshd's work for the connection plus `head` writing into a pipe (ours and ssh2 make their zeros in process).
 *    Wall time and CPU time of a transfer are one run minus the medians of three `ssh … true` runs (process
 *    start, kex, auth, session), so that they cover the transfer alone, as in bench/exec.ts.
 * 2. idle connections (bench/idle.ts, with the server processes and keys of this file).
 *
 * A benchmark, not a test: nothing is asserted; a server that cannot be measured shows "n/a" and a warning.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"
import * as OpenSsh from "../test/helpers/OpenSsh.js"

/**
 * @since 0.1.0
 * @category models
 */
export type ServerName = "ours" | "sshd" | "ssh2"

/**
 * One server's throughput with one cipher: MB/s (10^6 bytes per second) of its fastest transfer and the server's
 * CPU seconds (user + system) per GiB during that transfer; `undefined` when not measured.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerRow {
  readonly server: ServerName
  readonly cipher: string
  readonly bytes: number
  readonly mbps: number | undefined
  readonly cpu: number | undefined
}

/**
 * @since 0.1.0
 * @category defaults
 */
export const CIPHERS: ReadonlyArray<string> = ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]

const GIB = 1024 * 1024 * 1024
const WARM_UP = 16 * 1024 * 1024
const USER = os.userInfo().username
// Beside this file: bench/serverProcess.ts under tsx, dist/bench/serverProcess.mjs when compiled (bench/run.mjs).
const serverProcessFile = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  import.meta.url.endsWith(".ts") ? "serverProcess.ts" : "serverProcess.mjs"
)

// ---- fixture: the user key and the host key of ours and ssh2 (sshd uses the test host keys) ----

/**
 * The temp dir with the ed25519 user key and the ed25519 host key of ours and ssh2 (ssh-keygen made).
 *
 * @since 0.1.0
 * @category models
 */
export interface Fixture {
  readonly dir: string
  readonly userKey: string
  readonly userPub: string
  readonly hostKey: string
  readonly hostBlob: Buffer
}

/**
 * Makes the keys; removes them when the Scope closes.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const fixture = Effect.acquireRelease(
  Effect.sync((): Fixture => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-server-"))
    const key = (name: string) => {
      const file = path.join(dir, name)
      execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", `bench-${name}`, "-f", file])
      return file
    }
    const userKey = key("id_ed25519")
    const hostKey = key("ssh_host_ed25519_key")
    const hostBlob = Buffer.from(fs.readFileSync(`${hostKey}.pub`, "utf8").split(" ")[1] ?? "", "base64")
    return { dir, userKey, userPub: `${userKey}.pub`, hostKey, hostBlob }
  }),
  (f) => Effect.sync(() => fs.rmSync(f.dir, { recursive: true, force: true }))
)

// ---- the server processes ----

/**
 * A listening server: its process (sshd: the listener) and port.
 *
 * @since 0.1.0
 * @category models
 */
export interface Running {
  readonly server: ServerName
  readonly port: number
  readonly pid: number
}

const kill = (child: ChildProcess) =>
  Effect.sync(() => {
    child.stdin?.end()
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  })

/** Waits until `child` writes a line that `ready` turns into a port; fails if it exits first. */
const awaitReady = (child: ChildProcess, stream: NodeJS.ReadableStream, ready: (line: string) => number | undefined) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<number, Error>()
    const tail: Array<string> = []
    readline.createInterface({ input: stream }).on("line", (line) => {
      tail.push(line)
      if (tail.length > 20) tail.shift()
      const port = ready(line)
      if (port !== undefined) Deferred.unsafeDone(done, Effect.succeed(port))
    })
    child.once("exit", (code) =>
      Deferred.unsafeDone(done, Effect.fail(new Error(`server exited with ${code}: ${tail.join("\n")}`))))
    return yield* Deferred.await(done).pipe(
      Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("server not ready within 60 s") })
    )
  })

/**
 * Ours or ssh2 in bench/serverProcess.ts, with the tsx loader of this process and --expose-gc; killed when the
 * Scope closes.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const nodeServer = (server: "ours" | "ssh2", f: Fixture): Effect.Effect<Running, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [...process.execArgv, "--expose-gc", serverProcessFile, server, f.hostKey, f.userPub], {
          stdio: ["pipe", "pipe", "inherit"]
        })
      ),
      kill
    )
    const port = yield* awaitReady(child, child.stdout!, (line) => {
      const m = /^\{"port":(\d+)\}$/.exec(line)
      return m === null ? undefined : Number(m[1])
    })
    return { server, port, pid: child.pid ?? -1 }
  })

const freePort: Effect.Effect<number> = Effect.async((resume) => {
  const srv = net.createServer()
  srv.listen(0, "127.0.0.1", () => {
    const port = (srv.address() as net.AddressInfo).port
    srv.close(() => resume(Effect.succeed(port)))
  })
})

/** `sshd -D -e` on a free port, its log drained (a full pipe would stop it); killed when the Scope closes. */
const sshdServer = (f: Fixture): Effect.Effect<Running, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const cfg = OpenSsh.writeSshdConfig({
      authorizedKeys: [fs.readFileSync(f.userPub, "utf8").trim()],
      logLevel: "INFO"
    })
    const port = yield* freePort
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(OpenSsh.SSHD, ["-D", "-e", "-f", cfg, "-o", `ListenAddress=127.0.0.1:${port}`], {
          stdio: ["ignore", "ignore", "pipe"]
        })
      ),
      kill
    )
    yield* awaitReady(child, child.stderr!, (line) => (line.includes("Server listening on") ? port : undefined))
    return { server: "sshd", port, pid: child.pid ?? -1 }
  })

// ---- CPU time from /proc ----

const ticks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** utime + stime + cutime + cstime of `pid` in seconds (proc(5) fields 14–17); undefined without /proc. */
const cpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces: count from the closing parenthesis (field 3 is the state).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number)
    const sum = f[11]! + f[12]! + f[13]! + f[14]!
    return Number.isFinite(sum) ? sum / ticks : undefined
  } catch {
    return undefined
  }
}

/** Waits (≤ 5 s) until `pid` has no children: sshd's per-connection process has exited and been reaped. */
const reaped = (pid: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const children = yield* Effect.sync(() => {
        try {
          return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim()
        } catch {
          return ""
        }
      })
      if (children === "") return
      yield* Effect.sleep("10 millis")
    }
  })

// ---- the client: OpenSSH's ssh ----

const sshArgs = (port: number, cipher: string, f: Fixture, command: string) => [
  "-F", "/dev/null",
  "-i", f.userKey,
  "-p", String(port),
  "-o", "BatchMode=yes",
  "-o", "IdentitiesOnly=yes",
  "-o", "StrictHostKeyChecking=no",
  "-o", "UserKnownHostsFile=/dev/null",
  "-o", "LogLevel=ERROR",
  "-o", `Ciphers=${cipher}`,
  `${USER}@127.0.0.1`,
  command
]

/**
 * Runs ssh to its exit; stdout to /dev/null, or counted when `count`. Returns the wall time and the server's
 * CPU seconds meanwhile (read once the server has reaped its connection's processes).
 */
const sshRun = (s: Running, cipher: string, f: Fixture, command: string, count = false) =>
  Effect.gen(function*() {
    const cpu0 = cpuSeconds(s.pid)
    const t0 = performance.now()
    const bytes = yield* Effect.async<number, Error>((resume) => {
      const child = spawn(OpenSsh.SSH, sshArgs(s.port, cipher, f, command), {
        stdio: ["ignore", count ? "pipe" : "ignore", "pipe"]
      })
      let n = 0
      let stderr = ""
      child.stdout?.on("data", (d: Buffer) => (n += d.length))
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
      child.once("close", (code) =>
        resume(code === 0 ? Effect.succeed(n) : Effect.fail(new Error(`ssh exited with ${code}: ${stderr.trim()}`))))
      return Effect.sync(() => child.kill("SIGKILL"))
    })
    const ms = performance.now() - t0
    yield* reaped(s.pid)
    const cpu1 = cpuSeconds(s.pid)
    return { ms, bytes, cpu: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0 }
  })

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/**
 * Turns a failure or a 300 s timeout into a warning and `undefined` ("n/a").
 *
 * @since 0.1.0
 * @category utils
 */
export const warnNa = (what: string) => <A, R>(self: Effect.Effect<A, unknown, R>) =>
  self.pipe(
    Effect.timeoutFail({ duration: "300 seconds", onTimeout: () => new Error("no result within 300 s") }),
    Effect.catchAllCause((cause) => Effect.as(Effect.logWarning(`${what}: not measured`, cause), undefined))
  )

/** A warm-up transfer (its bytes counted and checked), then the medians of three `true` runs. */
const prepare = (s: Running, cipher: string, f: Fixture) =>
  Effect.gen(function*() {
    const warm = yield* sshRun(s, cipher, f, `head -c ${WARM_UP} /dev/zero`, true)
    if (warm.bytes !== WARM_UP) return yield* Effect.fail(new Error(`warm-up got ${warm.bytes} bytes of ${WARM_UP}`))
    const runs = yield* Effect.forEach([1, 2, 3], () => sshRun(s, cipher, f, "true"))
    const cpus = runs.flatMap((r) => (r.cpu === undefined ? [] : [r.cpu]))
    return { ms: median(runs.map((r) => r.ms)), cpu: cpus.length === runs.length ? median(cpus) : undefined }
  })

/**
 * Bulk throughput of each server per cipher: per cipher, a warm-up and set-up runs of each server, then `rounds`
 * rounds (default 2) of one transfer of `bytes` from each server in turn; each figure is of the fastest.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runThroughput = (options?: {
  readonly bytes?: number | undefined
  readonly rounds?: number | undefined
  readonly ciphers?: ReadonlyArray<string> | undefined
}) =>
  Effect.gen(function*() {
    const bytes = options?.bytes ?? GIB
    const rounds = options?.rounds ?? 2
    const f = yield* fixture
    const servers = yield* Effect.all([nodeServer("ours", f), sshdServer(f), nodeServer("ssh2", f)])
    const rows: Array<ServerRow> = []
    for (const cipher of options?.ciphers ?? CIPHERS) {
      const prepared = yield* Effect.forEach(servers, (s) =>
        Effect.map(prepare(s, cipher, f).pipe(warnNa(`${s.server}, ${cipher}, set-up`)), (setup) => ({ s, setup })))
      const best = new Map<ServerName, { mbps: number; cpu: number | undefined }>()
      for (let round = 0; round < rounds; round++) {
        for (const { s, setup } of prepared) {
          if (setup === undefined) continue
          const r = yield* sshRun(s, cipher, f, `head -c ${bytes} /dev/zero`).pipe(warnNa(`${s.server}, ${cipher}`))
          if (r === undefined) continue
          const mbps = bytes / 1e6 / ((r.ms - setup.ms) / 1000)
          const cpu = r.cpu === undefined || setup.cpu === undefined ? undefined : (r.cpu - setup.cpu) / (bytes / GIB)
          const prev = best.get(s.server)
          if (prev === undefined || mbps > prev.mbps) best.set(s.server, { mbps, cpu })
        }
      }
      for (const s of servers) {
        rows.push({ server: s.server, cipher, bytes, mbps: best.get(s.server)?.mbps, cpu: best.get(s.server)?.cpu })
      }
    }
    return rows
  }).pipe(Effect.scoped)

// ---- formatting ----

const fixed = (x: number | undefined, digits: number): string =>
  x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits)
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a) ? "n/a" : `${(a / b).toFixed(2)}×`

/**
 * One row per server and cipher; the ratios (MB/s, and server CPU per GiB) on our rows.
 *
 * @since 0.1.0
 * @category formatting
 */
export const throughputTable = (rows: ReadonlyArray<ServerRow>): ReadonlyArray<ReadonlyArray<string>> => [
  ["server", "cipher", "MiB", "MB/s", "CPU s/GiB (server)", "ours ÷ sshd", "ours ÷ ssh2", "CPU ours ÷ sshd", "CPU ours ÷ ssh2"],
  ...rows.map((r) => {
    const other = (server: ServerName) => rows.find((o) => o.server === server && o.cipher === r.cipher)
    const ours = r.server === "ours"
    return [
      r.server,
      r.cipher,
      String(r.bytes / 1024 / 1024),
      fixed(r.mbps, 0),
      fixed(r.cpu, 2),
      ours ? ratio(r.mbps, other("sshd")?.mbps) : "",
      ours ? ratio(r.mbps, other("ssh2")?.mbps) : "",
      ours ? ratio(r.cpu, other("sshd")?.cpu) : "",
      ours ? ratio(r.cpu, other("ssh2")?.cpu) : ""
    ]
  })
]
