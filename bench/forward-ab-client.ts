/**
 * The client half of bench/forward-ab.ts, bundled once per source tree (old and new) and run as its own process:
 * connects to the sshd it is given, opens a local forward (-L) to the source, prints `ready`, then for every `go`
 * line on stdin reads one transfer through its own forward (the reading socket in this process, as in
 * bench/forward.ts) — or with `--up=N` writes N bytes through it to a target that answers with the count — and
 * prints one JSON line: bytes, wall seconds, this process's CPU seconds (user + system),
 * the event loop's idle share over the transfer, and GC milliseconds.
 *
 * Not run directly: `npx tsx bench/forward-ab.ts` builds and starts it.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as inspector from "node:inspector"
import * as net from "node:net"
import * as os from "node:os"
import { PerformanceObserver, performance } from "node:perf_hooks"
import * as readline from "node:readline"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import * as LocalNet from "../src/forward/LocalNet.js"
import * as PrivateKey from "../src/keys/PrivateKey.js"
import * as NodeSsh from "../src/node/NodeSsh.js"

const arg = (name: string): string => {
  const v = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  if (v === undefined) throw new Error(`--${name}= is required`)
  return v
}

let gcMs = 0
let gcMajor = 0
let gcMinor = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcMs += e.duration
    // perf_hooks.constants: NODE_PERFORMANCE_GC_MAJOR = 4, MINOR = 1, INCREMENTAL = 8, WEAKCB = 16.
    const kind = ((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind
    if (kind === 4) gcMajor++
    else if (kind === 1) gcMinor++
  }
}).observe({ entryTypes: ["gc"] })

/** `--up=N`: each transfer writes N bytes through the forward instead of reading (the target counts them). */
const up = Number(process.argv.find((a) => a.startsWith("--up="))?.slice(5) ?? 0)

const drainOnce = (port: number) =>
  new Promise<{ bytes: number; seconds: number; cpu: number; idle: number; gcMs: number; major: number; minor: number; counters?: Record<string, number> | undefined }>((resolve, reject) => {
    const elu0 = performance.eventLoopUtilization()
    const cpu0 = process.cpuUsage()
    const gc0 = gcMs
    const major0 = gcMajor
    const minor0 = gcMinor
    const start = performance.now()
    const s = net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true })
    let bytes = 0
    s.once("error", reject)
    if (up > 0) {
      // Upload: write `up` bytes, then EOF; the far end answers with the count it read, then closes.
      const block = Buffer.alloc(256 * 1024, 1)
      let left = up
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, block.length)
          left -= n
          if (!s.write(n === block.length ? block : block.subarray(0, n))) return void s.once("drain", pump)
        }
        s.end()
      }
      s.once("connect", pump)
    }
    let answer = ""
    s.on("data", (d: Buffer) => {
      if (up > 0) answer += d.toString()
      else bytes += d.length
    })
    s.once("end", () => {
      if (up > 0) bytes = Number(answer)
      s.destroy()
      const seconds = (performance.now() - start) / 1000
      const cpu = process.cpuUsage(cpu0)
      const elu = performance.eventLoopUtilization(elu0)
      // Let a GC entry that ended with the transfer be delivered before reading the total.
      // Counters a tree built for inspection may keep in globalThis.__flow (printed, then reset).
      const g = globalThis as { __flow?: Record<string, number> }
      const counters = g.__flow
      delete g.__flow
      setImmediate(() =>
        resolve({ bytes, seconds, cpu: (cpu.user + cpu.system) / 1e6, idle: 1 - elu.utilization, gcMs: gcMs - gc0, major: gcMajor - major0, minor: gcMinor - minor0, counters })
      )
    })
  })

const main = Effect.gen(function*() {
  const keyFile = arg("key")
  const parsed = PrivateKey.parsePrivateKey(fs.readFileSync(keyFile, "utf8"))
  if (parsed._tag === "Left") return yield* Effect.dieMessage(parsed.left.message)
  const ssh = yield* SshClient.connect({
    host: "127.0.0.1",
    port: Number(arg("port")),
    username: os.userInfo().username,
    auth: [Auth.privateKey(parsed.right.material)],
    hostKeys: HostKeyPolicy.insecureAcceptAny,
    algorithms: { cipher: [arg("cipher")] }
  })
  const forward = yield* ssh.forwardLocal({ listen: 0, to: LocalNet.tcp("127.0.0.1", Number(arg("src"))) })
  const port = forward.address._tag === "Tcp" ? forward.address.port : 0
  // FORWARD_AB_HEAP=FILE: a sampling heap profile of the transfers, objects collected by GC included (allocation
  // sites, not what stays), written when the client ends.
  const heapFile = process.env.FORWARD_AB_HEAP
  const session = heapFile === undefined ? undefined : new inspector.Session()
  if (session !== undefined) {
    session.connect()
    session.post("HeapProfiler.startSampling", {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    })
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) =>
        session.post("HeapProfiler.stopSampling", (_err, r) => {
          fs.writeFileSync(heapFile!, JSON.stringify(r.profile))
          resume(Effect.void)
        })
      )
    )
  }
  console.log("ready")
  const lines = readline.createInterface({ input: process.stdin })
  yield* Effect.promise(async () => {
    for await (const line of lines) {
      if (line !== "go") break
      console.log(JSON.stringify(await drainOnce(port)))
    }
  })
}).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

Effect.runPromise(main).then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
