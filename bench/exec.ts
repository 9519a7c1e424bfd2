/**
 * The client against OpenSSH's sshd over TCP on 127.0.0.1 (DESIGN.md §10), beside OpenSSH's own `ssh` and the npm
 * `ssh2` client measured in the same run:
 *
 * 1. bulk exec throughput: `head -c SIZE /dev/zero` on the server, its stdout counted by the client, for each
 *    cipher (and MAC, for the non-AEAD case) forced on both sides;
 * 2. sequential connection set-up: TCP connect, key exchange, publickey auth, exec `true` to its end, close.
 *
 * Throughput figures are the fastest of two rounds (each client makes one transfer per round, in turn), with
 * the CPU time (user + system) per GiB of that transfer. What each figure covers:
 *
 * - ours: `SshClient.connect` with `NodeSsh.layer` (node:crypto) in this warm process. Throughput: from `exec`
 *   to the end of its stdout Stream (folded into a byte count), on a connection made beforehand, after a 16 MiB
 *   warm-up on the same connection; CPU of this process. Set-up: `SshClient.connect` + `run("true")` + closing
 *   the Scope.
 * - ssh: `ssh -F /dev/null -o Ciphers=… [-o MACs=…] -i KEY -p PORT user@127.0.0.1 CMD`, stdout to /dev/null.
 *   Throughput: the run's wall time minus the median of three runs of the same ssh with `true` (process start,
 *   kex, auth, session): the transfer alone; ssh's CPU from `times` in a /bin/sh wrapper, minus likewise.
 *   Set-up: the whole `ssh … true` run, process start included (a library user pays no process start; the
 *   "ssh spawn" column, ssh against a closed port, estimates it).
 * - ssh2: `new Client().connect({ privateKey, algorithms })` in this process, `conn.exec`, bytes counted in the
 *   'data' handler. Throughput as for ours (from `exec` to the stream's 'close'); set-up: connect + exec `true`
 *   to its 'close' + `end()` to the connection's 'close'. Whether ssh2 loaded its native crypto addon
 *   (`bindingAvailable`) is printed; with `pureJs`, ssh2 is also measured in a child process in which loading
 *   the addon is made to fail, so that it falls back to JavaScript (and its WebAssembly Poly1305).
 *
 * All three clients verify the host key (pinned fingerprint, a known_hosts file, a hostVerifier) and log in with
 * the same ed25519 user key (an OpenSSH key file made by ssh-keygen). For set-up, sshd is restricted to
 * curve25519-sha256 and ssh-ed25519 so that all clients do the same key exchange (OpenSSH's client would
 * otherwise choose sntrup761x25519-sha512).
 *
 * A benchmark, not a test: nothing is asserted; a client that fails prints a warning and shows "n/a".
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import * as HostKey from "../src/crypto/HostKey.js"
import * as PrivateKey from "../src/keys/PrivateKey.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"
import type { PacketBenchRow } from "./packets.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecCase {
  readonly cipher: string
  readonly mac?: string | undefined
  /** Compression for every client (ours: this method; ssh: `-C`; ssh2: this method); none by default. */
  readonly compression?: "zlib@openssh.com" | undefined
}

/**
 * @since 0.1.0
 * @category defaults
 */
export const CASES: ReadonlyArray<ExecCase> = [
  { cipher: "aes128-gcm@openssh.com" },
  { cipher: "aes256-gcm@openssh.com" },
  { cipher: "chacha20-poly1305@openssh.com" },
  { cipher: "aes128-ctr", mac: "hmac-sha2-256-etm@openssh.com" },
  { cipher: "aes128-gcm@openssh.com", compression: "zlib@openssh.com" }
]

/**
 * One cipher's throughput, MB/s (10^6 bytes per second), and each client's CPU seconds (user + system) per GiB
 * during that transfer; `undefined` when a client could not be measured.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecRow extends ExecCase {
  readonly bytes: number
  /** Transfers made by each client; its figures are those of its fastest. */
  readonly rounds: number
  readonly ours: number | undefined
  readonly openssh: number | undefined
  readonly ssh2: number | undefined
  readonly ssh2PureJs: number | undefined
  readonly cpu: {
    readonly ours: number | undefined
    readonly openssh: number | undefined
    readonly ssh2: number | undefined
    readonly ssh2PureJs: number | undefined
  }
}

/**
 * Connection set-up medians in milliseconds over `runs` sequential connections of each client.
 *
 * @since 0.1.0
 * @category models
 */
export interface SetupRow {
  readonly runs: number
  readonly ours: number | undefined
  readonly openssh: number | undefined
  readonly sshSpawn: number | undefined
  readonly ssh2: number | undefined
}

/** 1 GiB. */
export const GIB = 1024 * 1024 * 1024
const WARM_UP = 16 * 1024 * 1024
const USER = os.userInfo().username

/**
 * True when sshd, ssh and ssh-keygen are installed.
 *
 * @since 0.1.0
 * @category utils
 */
export const available = (): boolean => [OpenSsh.SSHD, OpenSsh.SSH, OpenSsh.SSH_KEYGEN].every((p) => fs.existsSync(p))

// ---- ssh2 (CommonJS, loaded lazily so that the child can block its addon first) ----

interface Ssh2Module {
  readonly Client: typeof import("ssh2").Client
}
const require = createRequire(import.meta.url)
let ssh2Module: Ssh2Module | undefined
const ssh2 = (): Ssh2Module => (ssh2Module ??= require("ssh2") as Ssh2Module)

/**
 * Whether ssh2 loaded its native crypto addon in this process (ssh2/lib/protocol/crypto.js `bindingAvailable`).
 *
 * @since 0.1.0
 * @category utils
 */
export const ssh2Native = (): boolean => {
  ssh2()
  return (require("ssh2/lib/protocol/crypto.js") as { bindingAvailable: boolean }).bindingAvailable
}

/**
 * The installed ssh2's version.
 *
 * @since 0.1.0
 * @category utils
 */
export const ssh2Version = (): string => (require("ssh2/package.json") as { version: string }).version

// ---- shared fixtures ----

interface Fixture {
  readonly dir: string
  /** The OpenSSH private key file (ed25519, unencrypted). */
  readonly keyFile: string
  readonly keyText: string
  readonly parsed: PrivateKey.ParsedPrivateKey
  readonly authorizedKey: string
}

const fixture = Effect.acquireRelease(
  Effect.sync((): Fixture => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-exec-"))
    const keyFile = path.join(dir, "id_ed25519")
    execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", keyFile])
    const keyText = fs.readFileSync(keyFile, "utf8")
    const parsed = PrivateKey.parsePrivateKey(keyText)
    if (Either.isLeft(parsed)) throw new Error(`cannot parse the bench key: ${parsed.left.message}`)
    return { dir, keyFile, keyText, parsed: parsed.right, authorizedKey: fs.readFileSync(`${keyFile}.pub`, "utf8").trim() }
  }),
  (f) => Effect.sync(() => fs.rmSync(f.dir, { recursive: true, force: true }))
)

/** The sshd's ed25519 host key: its blob (for ssh2's hostVerifier), fingerprint (ours) and known_hosts text. */
const hostKey = () => {
  const pub = fs.readFileSync(path.join(OpenSsh.hostKeyDir(), "ssh_host_ed25519_key.pub"), "utf8").split(" ")
  const blob = Buffer.from(pub[1]!, "base64")
  return { blob, fingerprint: HostKey.fingerprintSha256(Uint8Array.from(blob)), line: `${pub[0]} ${pub[1]}` }
}

const knownHostsFile = (f: Fixture, port: number): string => {
  const file = path.join(f.dir, `known_hosts_${port}`)
  fs.writeFileSync(file, `[127.0.0.1]:${port} ${hostKey().line}\n`)
  return file
}

// ---- ours ----

const oursOptions = (f: Fixture, port: number, c: ExecCase | undefined): SshClient.SshClientOptions => ({
  host: "127.0.0.1",
  port,
  username: USER,
  auth: [Auth.privateKey(f.parsed)],
  hostKeys: HostKeyPolicy.pinned([hostKey().fingerprint]),
  ...(c === undefined ? {} : {
    algorithms: {
      cipher: [c.cipher],
      ...(c.mac !== undefined ? { mac: [c.mac] } : {}),
      ...(c.compression !== undefined ? { compression: [c.compression] } : {})
    }
  })
})

/** Bytes of the command's stdout, counted chunk by chunk as an application would consume them. */
const countStdout = (conn: import("../src/client/SshConnection.js").SshConnection, bytes: number) =>
  Effect.scoped(Effect.gen(function*() {
    const p = yield* conn.exec(`head -c ${bytes} /dev/zero`)
    const n = yield* p.stdout.pipe(
      Stream.runFold(0, (n, c) => n + c.length)
    )
    if (n !== bytes) return yield* Effect.fail(new Error(`got ${n} bytes, expected ${bytes}`))
  }))

/**
 * Our MB/s over one transfer of `bytes` after a warm-up on a fresh connection, and the CPU seconds per GiB of this
 * process meanwhile.
 */
const oursThroughput = (f: Fixture, port: number, c: ExecCase, bytes: number) =>
  Effect.gen(function*() {
    const conn = yield* SshClient.connect(oursOptions(f, port, c))
    yield* countStdout(conn, WARM_UP)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    yield* countStdout(conn, bytes)
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    return { mbps: bytes / 1e6 / seconds, cpu: (cpu.user + cpu.system) / 1e6 / (bytes / GIB) }
  }).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

/** Milliseconds of connect + run("true") + closing the Scope. */
const oursSetup = (f: Fixture, port: number) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    yield* Effect.scoped(Effect.gen(function*() {
      const conn = yield* SshClient.connect(oursOptions(f, port, undefined))
      const r = yield* conn.run("true")
      if (r.exitCode !== 0) return yield* Effect.fail(new Error(`true exited with ${r.exitCode}`))
    }))
    return performance.now() - t0
  }).pipe(Effect.provide(NodeSsh.layer))

// ---- OpenSSH ----

const sshArgs = (f: Fixture, port: number, c: ExecCase | undefined, command: string) => [
  "-F", "/dev/null",
  "-i", f.keyFile,
  "-p", String(port),
  "-o", "BatchMode=yes",
  "-o", "IdentitiesOnly=yes",
  "-o", "StrictHostKeyChecking=yes",
  "-o", `UserKnownHostsFile=${knownHostsFile(f, port)}`,
  "-o", "LogLevel=ERROR",
  ...(c === undefined ? [] : ["-o", `Ciphers=${c.cipher}`, ...(c.mac !== undefined ? ["-o", `MACs=${c.mac}`] : [])]),
  ...(c?.compression !== undefined ? ["-C"] : []),
  `${USER}@127.0.0.1`,
  command
]

/**
 * Milliseconds from spawning ssh to its exit and ssh's CPU seconds (user + system), taken from `times` of a
 * `/bin/sh` that runs it; fails unless ssh exits with 0 (or, with `expectFailure`, unless it does not).
 */
const sshTimed = (
  args: ReadonlyArray<string>,
  expectFailure = false
): Effect.Effect<{ readonly ms: number; readonly cpu: number }, Error> =>
  Effect.async((resume) => {
    const start = performance.now()
    const child = spawn("/bin/sh", ["-c", "\"$0\" \"$@\"; s=$?; times >&2; exit $s", OpenSsh.SSH, ...args], {
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("close", (code) => {
      const ms = performance.now() - start
      // The second line of `times`: the children's user and system time, "0m1.230000s 0m0.450000s".
      const t = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(stderr)
      const cpu = t === null ? NaN : 60 * Number(t[1]) + Number(t[2]) + 60 * Number(t[3]) + Number(t[4])
      resume(
        (code === 0) !== expectFailure
          ? Effect.succeed({ ms, cpu })
          : Effect.fail(new Error(`ssh exited with ${code}: ${stderr.trim()}`))
      )
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The median wall time and CPU time of three `ssh … true` runs: what a transfer run spends besides the transfer. */
const opensshSetup = (f: Fixture, port: number, c: ExecCase) =>
  Effect.gen(function*() {
    const runs: Array<{ ms: number; cpu: number }> = []
    for (let i = 0; i < 3; i++) runs.push(yield* sshTimed(sshArgs(f, port, c, "true")))
    return { ms: median(runs.map((s) => s.ms)), cpu: median(runs.map((s) => s.cpu)) }
  })

/** ssh's MB/s and CPU seconds per GiB for the transfer alone: one run minus the set-up medians. */
const opensshThroughput = (
  f: Fixture,
  port: number,
  c: ExecCase,
  bytes: number,
  setup: { readonly ms: number; readonly cpu: number }
) =>
  Effect.map(sshTimed(sshArgs(f, port, c, `head -c ${bytes} /dev/zero`)), (total) => ({
    mbps: bytes / 1e6 / ((total.ms - setup.ms) / 1000),
    cpu: (total.cpu - setup.cpu) / (bytes / GIB)
  }))

/** A port nothing listens on: bound, then closed again. */
const closedPort: Effect.Effect<number> = Effect.async((resume) => {
  const srv = net.createServer()
  srv.listen(0, "127.0.0.1", () => {
    const port = (srv.address() as net.AddressInfo).port
    srv.close(() => resume(Effect.succeed(port)))
  })
})

// ---- ssh2 ----

interface Ssh2Options {
  readonly port: number
  readonly keyText: string
  readonly hostKey: Buffer
  readonly cipher?: string | undefined
  readonly mac?: string | undefined
  readonly compression?: string | undefined
}

/** Connects; resolves with the ready client. */
const ssh2Connect = (o: Ssh2Options) =>
  new Promise<import("ssh2").Client>((resolve, reject) => {
    const conn = new (ssh2().Client)()
    conn.once("ready", () => resolve(conn))
    conn.once("error", reject)
    conn.connect({
      host: "127.0.0.1",
      port: o.port,
      username: USER,
      privateKey: o.keyText,
      hostVerifier: (key: Buffer) => key.equals(o.hostKey),
      readyTimeout: 30_000,
      ...(o.cipher === undefined ? {} : {
        algorithms: {
          cipher: [o.cipher as never],
          ...(o.mac === undefined ? {} : { hmac: [o.mac as never] }),
          ...(o.compression === undefined ? {} : { compress: [o.compression as never] })
        }
      })
    })
  })

/** Runs `command`, counting stdout bytes; resolves at the channel's close. */
const ssh2Exec = (conn: import("ssh2").Client, command: string) =>
  new Promise<number>((resolve, reject) => {
    conn.exec(command, (err, stream) => {
      if (err) return reject(err)
      let n = 0
      stream.on("data", (d: Buffer) => (n += d.length))
      stream.stderr.resume()
      stream.once("close", () => resolve(n))
    })
  })

const ssh2End = (conn: import("ssh2").Client) =>
  new Promise<void>((resolve) => {
    conn.once("close", () => resolve())
    conn.end()
  })

/**
 * ssh2's MB/s over one transfer of `bytes` after a warm-up on a fresh connection, and this process's CPU seconds
 * per GiB meanwhile (plain Promises: this also runs in the child).
 */
const ssh2ThroughputPromise = async (o: Ssh2Options, bytes: number): Promise<{ mbps: number; cpu: number }> => {
  const conn = await ssh2Connect(o)
  try {
    await ssh2Exec(conn, `head -c ${WARM_UP} /dev/zero`)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const n = await ssh2Exec(conn, `head -c ${bytes} /dev/zero`)
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    if (n !== bytes) throw new Error(`got ${n} bytes, expected ${bytes}`)
    return { mbps: bytes / 1e6 / seconds, cpu: (cpu.user + cpu.system) / 1e6 / (bytes / GIB) }
  } finally {
    await ssh2End(conn)
  }
}

const ssh2Setup = (o: Ssh2Options) =>
  Effect.promise(async () => {
    const t0 = performance.now()
    const conn = await ssh2Connect(o)
    await ssh2Exec(conn, "true")
    await ssh2End(conn)
    return performance.now() - t0
  })

const thisFile = fileURLToPath(import.meta.url)

/**
 * ssh2 in a child process (this file with `--ssh2-pure-js`) in which `require` of the addon throws, so that
 * ssh2 uses its JavaScript fallback; prints the MB/s and CPU seconds per GiB as JSON.
 */
const ssh2PureJsThroughput = (
  o: Ssh2Options,
  bytes: number
): Effect.Effect<{ readonly mbps: number; readonly cpu: number }, Error> =>
  Effect.async((resume) => {
    const child = spawn(process.execPath, [...process.execArgv, thisFile, "--ssh2-pure-js"], {
      stdio: ["pipe", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    child.once("close", (code) => {
      try {
        const r = JSON.parse(out) as { mbps: number; cpu: number; native: boolean }
        if (r.native) resume(Effect.fail(new Error("the child still loaded ssh2's addon")))
        else resume(Effect.succeed({ mbps: r.mbps, cpu: r.cpu }))
      } catch {
        resume(Effect.fail(new Error(`child exited with ${code}: ${err.trim().slice(-400)}`)))
      }
    })
    child.stdin!.end(JSON.stringify({ ...o, hostKey: o.hostKey.toString("base64"), bytes }))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

// ---- the sections ----

const warnNa = (what: string) => <A, R>(self: Effect.Effect<A, unknown, R>) =>
  self.pipe(
    Effect.timeoutFail({ duration: "180 seconds", onTimeout: () => new Error("no result within 180 s") }),
    Effect.catchAllCause((cause) => Effect.as(Effect.logWarning(`${what}: not measured`, cause), undefined))
  )

/** The faster of the measured transfers, with its CPU figure; undefined when none was measured. */
const fastest = (xs: ReadonlyArray<{ readonly mbps: number; readonly cpu: number } | undefined>) =>
  xs.reduce<{ readonly mbps: number; readonly cpu: number } | undefined>(
    (best, x) => x !== undefined && (best === undefined || x.mbps > best.mbps) ? x : best,
    undefined
  )

/**
 * Bulk exec throughput for each case, one sshd per case restricted to that cipher (and MAC). Per case, `rounds`
 * rounds (default 2) of ours, ssh, ssh2 (and ssh2 without its addon, with `pureJs`) in turn, each one transfer of
 * `bytes` on a fresh connection; each client's figure is its fastest transfer.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runThroughput = (options?: {
  readonly cases?: ReadonlyArray<ExecCase> | undefined
  readonly bytes?: number | undefined
  readonly rounds?: number | undefined
  readonly pureJs?: boolean | undefined
}) =>
  Effect.gen(function*() {
    const bytes = options?.bytes ?? GIB
    const rounds = options?.rounds ?? 2
    const f = yield* fixture
    const rows: Array<ExecRow> = []
    for (const c of options?.cases ?? CASES) {
      const name = c.cipher + (c.mac === undefined ? "" : ` + ${c.mac}`) +
        (c.compression === undefined ? "" : ` + ${c.compression}`)
      const row = yield* Effect.scoped(Effect.gen(function*() {
        const { port } = yield* OpenSsh.sshdTcp({
          ciphers: c.cipher,
          ...(c.mac !== undefined ? { macs: c.mac } : {}),
          authorizedKeys: [f.authorizedKey],
          logLevel: "INFO"
        })
        const o: Ssh2Options = {
          port,
          keyText: f.keyText,
          hostKey: hostKey().blob,
          cipher: c.cipher,
          mac: c.mac,
          compression: c.compression
        }
        const sshSetup = yield* opensshSetup(f, port, c).pipe(warnNa(`ssh set-up, ${name}`))
        const ours: Array<{ mbps: number; cpu: number } | undefined> = []
        const ssh: Array<{ mbps: number; cpu: number } | undefined> = []
        const s2: Array<{ mbps: number; cpu: number } | undefined> = []
        const s2js: Array<{ mbps: number; cpu: number } | undefined> = []
        for (let round = 0; round < rounds; round++) {
          ours.push(yield* oursThroughput(f, port, c, bytes).pipe(warnNa(`ours, ${name}`)))
          if (sshSetup !== undefined) {
            ssh.push(yield* opensshThroughput(f, port, c, bytes, sshSetup).pipe(warnNa(`ssh, ${name}`)))
          }
          s2.push(yield* Effect.tryPromise(() => ssh2ThroughputPromise(o, bytes)).pipe(warnNa(`ssh2, ${name}`)))
          if (options?.pureJs === true) {
            s2js.push(yield* ssh2PureJsThroughput(o, bytes).pipe(warnNa(`ssh2 pure JS, ${name}`)))
          }
        }
        const best = { ours: fastest(ours), ssh: fastest(ssh), ssh2: fastest(s2), ssh2js: fastest(s2js) }
        return {
          ...c,
          bytes,
          rounds,
          ours: best.ours?.mbps,
          openssh: best.ssh?.mbps,
          ssh2: best.ssh2?.mbps,
          ssh2PureJs: best.ssh2js?.mbps,
          cpu: { ours: best.ours?.cpu, openssh: best.ssh?.cpu, ssh2: best.ssh2?.cpu, ssh2PureJs: best.ssh2js?.cpu }
        } satisfies ExecRow
      }))
      rows.push(row)
    }
    return rows
  }).pipe(Effect.scoped)

/**
 * Sequential connection set-up: one warm-up of each client, then `runs` rounds of ours, ssh, ssh2 in turn
 * (interleaved, so that a disturbance on a shared machine hits all three).
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runSetup = (options?: { readonly runs?: number | undefined }) =>
  Effect.gen(function*() {
    const runs = options?.runs ?? 20
    const f = yield* fixture
    const { port } = yield* OpenSsh.sshdTcp({
      kex: "curve25519-sha256",
      hostKeyAlgorithms: "ssh-ed25519",
      authorizedKeys: [f.authorizedKey],
      logLevel: "INFO"
    })
    const o: Ssh2Options = { port, keyText: f.keyText, hostKey: hostKey().blob }
    const refused = yield* closedPort
    const sshSpawn = yield* Effect.forEach(
      Array.from({ length: 5 }),
      () => sshTimed(sshArgs(f, refused, undefined, "true"), true)
    ).pipe(Effect.map((runs) => median(runs.map((r) => r.ms))), warnNa("ssh spawn"))
    const measure = <E>(what: string, once: Effect.Effect<number, E>) =>
      Effect.gen(function*() {
        const warm = yield* once.pipe(warnNa(`${what} set-up`))
        return warm === undefined ? undefined : { once, times: [] as Array<number> }
      })
    const ours = yield* measure("ours", oursSetup(f, port))
    const ssh = yield* measure("ssh", Effect.map(sshTimed(sshArgs(f, port, undefined, "true")), (r) => r.ms))
    const s2 = yield* measure("ssh2", ssh2Setup(o))
    for (let i = 0; i < runs; i++) {
      for (const m of [ours, ssh, s2]) {
        if (m === undefined) continue
        const t = yield* Effect.either(m.once)
        if (Either.isRight(t)) m.times.push(t.right)
      }
    }
    const med = (m: { times: Array<number> } | undefined) =>
      m === undefined || m.times.length === 0 ? undefined : median(m.times)
    return { runs, ours: med(ours), openssh: med(ssh), sshSpawn, ssh2: med(s2) } satisfies SetupRow
  }).pipe(Effect.scoped)

// ---- formatting ----

/** The cipher column: the cipher, and the compression when there is one. */
const label = (r: ExecCase): string => r.compression === undefined ? r.cipher : `${r.cipher} + ${r.compression}`
const mbps = (x: number | undefined): string => x === undefined ? "n/a" : x.toFixed(0)
const ms = (x: number | undefined): string => x === undefined ? "n/a" : x.toFixed(1)
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !(b > 0) || Number.isNaN(a) ? "n/a" : `${(a / b).toFixed(2)}×`

/**
 * MB/s of each client and the ratios.
 *
 * @since 0.1.0
 * @category formatting
 */
export const throughputTable = (rows: ReadonlyArray<ExecRow>): ReadonlyArray<ReadonlyArray<string>> => {
  const pure = rows.some((r) => r.ssh2PureJs !== undefined)
  return [
    [
      "cipher",
      "mac",
      "MiB",
      "ours MB/s",
      "ssh MB/s",
      "ssh2 MB/s",
      ...(pure ? ["ssh2 JS MB/s"] : []),
      "ours ÷ ssh",
      "ours ÷ ssh2",
      ...(pure ? ["ours ÷ ssh2 JS"] : [])
    ],
    ...rows.map((r) => [
      label(r),
      r.mac ?? "(aead)",
      String(r.bytes / 1024 / 1024),
      mbps(r.ours),
      mbps(r.openssh),
      mbps(r.ssh2),
      ...(pure ? [mbps(r.ssh2PureJs)] : []),
      ratio(r.ours, r.openssh),
      ratio(r.ours, r.ssh2),
      ...(pure ? [ratio(r.ours, r.ssh2PureJs)] : [])
    ])
  ]
}

/**
 * CPU seconds per GiB of each client during its transfer, and how far ours is from the packet-level bound: the
 * node:crypto open rate of 32 KiB packets from the packet bench (when its rows are given), as seconds per GiB.
 *
 * @since 0.1.0
 * @category formatting
 */
export const cpuTable = (
  rows: ReadonlyArray<ExecRow>,
  packets: ReadonlyArray<PacketBenchRow> = []
): ReadonlyArray<ReadonlyArray<string>> => {
  const pure = rows.some((r) => r.cpu.ssh2PureJs !== undefined)
  const bound = (r: ExecRow) => {
    // The packet bench has no compression: no bound for compressed rows.
    if (r.compression !== undefined) return undefined
    const p = packets.find((p) =>
      p.backend === "node" && p.payload === 32768 && p.cipher === r.cipher && p.mac === (r.mac ?? "(aead)")
    )
    return p === undefined ? undefined : GIB / 1e6 / p.openMBps
  }
  const s = (x: number | undefined) => x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(2)
  return [
    [
      "cipher",
      "mac",
      "ours CPU s/GiB",
      "ssh CPU s/GiB",
      "ssh2 CPU s/GiB",
      ...(pure ? ["ssh2 JS CPU s/GiB"] : []),
      "ours ÷ ssh CPU",
      "open bound s/GiB",
      "ours ÷ bound"
    ],
    ...rows.map((r) => [
      label(r),
      r.mac ?? "(aead)",
      s(r.cpu.ours),
      s(r.cpu.openssh),
      s(r.cpu.ssh2),
      ...(pure ? [s(r.cpu.ssh2PureJs)] : []),
      ratio(r.cpu.ours, r.cpu.openssh),
      s(bound(r)),
      ratio(r.cpu.ours, bound(r))
    ])
  ]
}

/**
 * @since 0.1.0
 * @category formatting
 */
export const setupTable = (row: SetupRow): ReadonlyArray<ReadonlyArray<string>> => [
  ["runs", "ours ms", "ssh ms", "ssh spawn ms", "ssh2 ms", "ours ÷ ssh", "ours ÷ (ssh − spawn)", "ours ÷ ssh2"],
  [
    String(row.runs),
    ms(row.ours),
    ms(row.openssh),
    ms(row.sshSpawn),
    ms(row.ssh2),
    ratio(row.ours, row.openssh),
    row.openssh === undefined || row.sshSpawn === undefined ? "n/a" : ratio(row.ours, row.openssh - row.sshSpawn),
    ratio(row.ours, row.ssh2)
  ]
]

// ---- the pure-JS ssh2 child ----

if (process.argv[2] === "--ssh2-pure-js" && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // Make ssh2's `require('./crypto/build/Release/sshcrypto.node')` throw, as on a machine where it was not built.
  const Module = require("node:module") as { _load: (request: string, ...rest: Array<unknown>) => unknown }
  const load = Module._load
  Module._load = function(request: string, ...rest: Array<unknown>) {
    if (request.endsWith("sshcrypto.node")) throw new Error("ssh2 addon blocked by the bench")
    return load.call(this, request, ...rest)
  }
  let input = ""
  process.stdin.on("data", (d: Buffer) => (input += d.toString()))
  process.stdin.on("end", () => {
    const o = JSON.parse(input) as Omit<Ssh2Options, "hostKey"> & { hostKey: string; bytes: number }
    const native = ssh2Native()
    ssh2ThroughputPromise({ ...o, hostKey: Buffer.from(o.hostKey, "base64") }, o.bytes).then(
      (r) => {
        process.stdout.write(JSON.stringify({ ...r, native }))
        process.exit(0)
      },
      (e) => {
        process.stderr.write(String(e))
        process.exit(1)
      }
    )
  })
}
