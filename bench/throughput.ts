/**
 * Bulk transport throughput, our client ↔ our server over TCP on 127.0.0.1 (NodeTransport.serve and
 * NodeTransport.connect, node:crypto), beside OpenSSH's ssh ← sshd moving the same bytes (DESIGN.md §10).
 *
 * The server sends 256 MiB as 32 KiB CHANNEL_DATA payloads (message 94: recipient channel, then a 32 KiB string)
 * to the client, which takes them with `receiveAll`; the figure is data bytes over the time from the client's
 * request to the last message, the faster of two transfers on one connection after an 8 MiB warm-up. Server → client, like `ssh host head -c 256M /dev/zero`. Two set-ups:
 * - one process: server and client share one JavaScript thread, so the figure is limited by sealing plus
 *   opening on one core (the "seal+open est." column, from the packet bench);
 * - two processes: the server runs in a child process (this file with `--serve`), as in any real deployment.
 *
 * OpenSSH: `ssh -c CIPHER [-m MAC] host head -c 268435456 /dev/zero` against sshd with a public key login, its
 * stdout to /dev/null, the faster of two runs; the median time of three runs of the same command with `true`
 * (process start, key exchange, auth, session) is subtracted, so that the figure covers the transfer alone.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import { Crypto } from "../src/crypto/Crypto.js"
import * as HostKey from "../src/crypto/HostKey.js"
import { NodeCrypto } from "../src/node/NodeCrypto.js"
import * as NodeTransport from "../src/node/NodeTransport.js"
import type * as Transport from "../src/transport/Transport.js"
import * as Writer from "../src/wire/Writer.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"
import type { PacketBenchRow } from "./packets.js"
import * as Receive from "../src/transport/internal/receive.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ThroughputCase {
  readonly cipher: string
  readonly mac?: string | undefined
}

/**
 * @since 0.1.0
 * @category defaults
 */
export const CASES: ReadonlyArray<ThroughputCase> = [
  { cipher: "aes128-gcm@openssh.com" },
  { cipher: "chacha20-poly1305@openssh.com" },
  { cipher: "aes128-ctr", mac: "hmac-sha2-256-etm@openssh.com" }
]

/**
 * MB/s (10^6 bytes per second) of each set-up; `undefined` when it could not be measured.
 *
 * @since 0.1.0
 * @category models
 */
export interface ThroughputRow extends ThroughputCase {
  readonly oneProcess: number | undefined
  readonly twoProcesses: number | undefined
  readonly openssh: number | undefined
}

const CHUNK = 32 * 1024
const TOTAL = 256 * 1024 * 1024
const MESSAGES = TOTAL / CHUNK
const WARM_UP = 256
/**
 * The client's request, "send me n data messages": a CHANNEL_REQUEST (RFC 4254 §5.4) of a private type whose
 * last field is n. The transport passes connection-protocol messages up without reading them.
 */
const REQUEST = 98
const request = (n: number) =>
  Writer.build((w) => w.byte(REQUEST).uint32(0).string("bench-send@effect-ssh").boolean(false).uint32(n))

const dataPayload = Writer.build((w) => w.byte(94).uint32(0).string(new Uint8Array(CHUNK)))

/** The server side: answers each request for n messages with n CHANNEL_DATA payloads. */
const source = (t: Transport.Transport) =>
  Effect.forever(Effect.gen(function*() {
    const m = yield* Receive.receive(t)
    if (m[0] !== REQUEST) return
    const n = new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(m.byteLength - 4)
    for (let i = 0; i < n; i++) yield* t.send(dataPayload)
  }))

/** Asks for n messages and returns the seconds until the last one arrived. */
const fetch = (t: Transport.Transport, n: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* t.send(request(n))
    let got = 0
    while (got < n) {
      for (const m of yield* Receive.receiveAll(t)) if (m[0] === 94) got++
    }
    return (performance.now() - start) / 1000
  })

const clientRun = (port: number, fingerprint: string, c: ThroughputCase) =>
  Effect.gen(function*() {
    const t = yield* NodeTransport.connect({
      host: "127.0.0.1",
      port,
      hostKeys: HostKeyPolicy.pinned([fingerprint]),
      algorithms: { cipher: [c.cipher], ...(c.mac !== undefined ? { mac: [c.mac] } : {}) }
    })
    yield* fetch(t, WARM_UP)
    const first = yield* fetch(t, MESSAGES)
    const second = yield* fetch(t, MESSAGES)
    return TOTAL / 1e6 / Math.min(first, second)
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("no result within 60 s") }),
    Effect.catchAll((e) => Effect.as(Effect.logWarning(`${c.cipher}: ${e.message}`), undefined))
  )

const serveSource = Effect.gen(function*() {
  const key = NodeCrypto.generateKey({ type: "ed25519" })
  const fingerprint = HostKey.fingerprintSha256(HostKey.encodePublicKey(HostKey.publicKeyOf(key)))
  const address = yield* NodeTransport.serve({ host: "127.0.0.1", port: 0, hostKeys: [key] }, source)
  return { port: address._tag === "TcpAddress" ? address.port : 0, fingerprint }
})

const thisFile = fileURLToPath(import.meta.url)

/** This file again with `--serve`, in a child process; killed when the Scope closes. */
const childServer = Effect.gen(function*() {
  const child = yield* Effect.acquireRelease(
    Effect.sync(() =>
      spawn(process.execPath, [...process.execArgv, thisFile, "--serve"], { stdio: ["pipe", "pipe", "inherit"] })
    ),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )
  const ready = yield* Deferred.make<{ port: number; fingerprint: string }, Error>()
  readline.createInterface({ input: child.stdout! }).once("line", (line) => {
    Deferred.unsafeDone(ready, Effect.try(() => JSON.parse(line) as { port: number; fingerprint: string }))
  })
  child.once("exit", (code) => Deferred.unsafeDone(ready, Effect.fail(new Error(`server exited with ${code}`))))
  return yield* Deferred.await(ready).pipe(Effect.timeout("30 seconds"))
})

const sshArgs = (key: string, port: number, c: ThroughputCase, command: string) => [
  "-F", "/dev/null",
  "-i", key,
  "-p", String(port),
  "-o", "BatchMode=yes",
  "-o", "IdentitiesOnly=yes",
  "-o", "StrictHostKeyChecking=no",
  "-o", "UserKnownHostsFile=/dev/null",
  "-o", "LogLevel=ERROR",
  "-o", `Ciphers=${c.cipher}`,
  ...(c.mac !== undefined ? ["-o", `MACs=${c.mac}`] : []),
  `${os.userInfo().username}@127.0.0.1`,
  command
]

/** Seconds from spawning ssh to its exit; fails unless it exits with 0. */
const sshTimed = (args: ReadonlyArray<string>): Effect.Effect<number, Error> =>
  Effect.async((resume) => {
    const start = performance.now()
    const child = spawn(OpenSsh.SSH, args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("close", (code) =>
      resume(
        code === 0
          ? Effect.succeed((performance.now() - start) / 1000)
          : Effect.fail(new Error(`ssh exited with ${code}: ${stderr.trim()}`))
      ))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

const opensshRun = (cases: ReadonlyArray<ThroughputCase>) =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const key = path.join(dir, "id_ed25519")
    execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", key])
    const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [fs.readFileSync(`${key}.pub`, "utf8").trim()] })
    const out = new Map<string, number>()
    for (const c of cases) {
      const setup: Array<number> = []
      for (let i = 0; i < 3; i++) setup.push(yield* sshTimed(sshArgs(key, port, c, "true")))
      const first = yield* sshTimed(sshArgs(key, port, c, `head -c ${TOTAL} /dev/zero`))
      const second = yield* sshTimed(sshArgs(key, port, c, `head -c ${TOTAL} /dev/zero`))
      out.set(c.cipher + (c.mac ?? ""), TOTAL / 1e6 / (Math.min(first, second) - median(setup)))
    }
    return out
  }).pipe(Effect.scoped)

/**
 * Measures every case in one process, in two processes and with OpenSSH (when `openssh` is true).
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const run = (options?: {
  readonly cases?: ReadonlyArray<ThroughputCase> | undefined
  readonly openssh?: boolean | undefined
}) =>
  Effect.gen(function*() {
    const cases = options?.cases ?? CASES
    const one = yield* Effect.scoped(Effect.flatMap(serveSource, ({ fingerprint, port }) =>
      Effect.forEach(cases, (c) => clientRun(port, fingerprint, c))))
    const two = yield* Effect.scoped(Effect.flatMap(childServer, ({ fingerprint, port }) =>
      Effect.forEach(cases, (c) => clientRun(port, fingerprint, c)))).pipe(
        Effect.catchAll((e) => Effect.as(Effect.logWarning(`two-process run failed: ${e}`), undefined))
      )
    const openssh = options?.openssh === false ? undefined : yield* opensshRun(cases).pipe(
      Effect.catchAll((e) => Effect.as(Effect.logWarning(`OpenSSH run failed: ${e.message}`), undefined))
    )
    return cases.map((c, i): ThroughputRow => ({
      ...c,
      oneProcess: one[i],
      twoProcesses: two?.[i],
      openssh: openssh?.get(c.cipher + (c.mac ?? ""))
    }))
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

const mbps = (x: number | undefined): string => x === undefined ? "n/a" : x.toFixed(0)
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b <= 0 ? "n/a" : `${(a / b).toFixed(2)}×`

/**
 * The rows as table cells. With packet bench rows, adds the crypto-only estimate for one thread that both seals
 * and opens every packet: 1 / (1/seal + 1/open) of node:crypto at 32 KiB (measured at another moment, so on a
 * busy machine it is off either way).
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (
  rows: ReadonlyArray<ThroughputRow>,
  packets: ReadonlyArray<PacketBenchRow> = []
): ReadonlyArray<ReadonlyArray<string>> => [
  [
    "cipher",
    "mac",
    "ours 1 proc MB/s",
    "ours 2 procs MB/s",
    "OpenSSH MB/s",
    "1 proc ÷ OpenSSH",
    "2 procs ÷ OpenSSH",
    "seal+open est. MB/s",
    "1 proc ÷ est."
  ],
  ...rows.map((r) => {
    const p = packets.find((p) =>
      p.backend === "node" && p.payload === CHUNK && p.cipher === r.cipher && p.mac === (r.mac ?? "(aead)")
    )
    const bound = p === undefined ? undefined : 1 / (1 / p.sealMBps + 1 / p.openMBps)
    return [
      r.cipher,
      r.mac ?? "(aead)",
      mbps(r.oneProcess),
      mbps(r.twoProcesses),
      mbps(r.openssh),
      ratio(r.oneProcess, r.openssh),
      ratio(r.twoProcesses, r.openssh),
      mbps(bound),
      ratio(r.oneProcess, bound)
    ]
  })
]

if (process.argv[2] === "--serve" && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // Child-process server: prints where it listens, serves until the parent closes stdin or kills it.
  process.stdin.on("end", () => process.exit(0))
  process.stdin.resume()
  Effect.runFork(
    Effect.gen(function*() {
      const where = yield* serveSource
      process.stdout.write(`${JSON.stringify(where)}\n`)
      return yield* Effect.never
    }).pipe(Effect.scoped, Effect.provideService(Crypto, NodeCrypto))
  )
}
