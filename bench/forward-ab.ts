/**
 * A/B of the local-forward (-L) path between two source trees — `--old` (default /work/main) and `--new` (default
 * this checkout) — beside OpenSSH's `ssh -L`, against one sshd per cipher, in interleaved rounds (the order
 * rotates each round, so that the machine's load falls on all three alike).
 *
 * Each tree's client is bench/forward-ab-client.ts bundled with esbuild against that tree's src/ (compiled, as
 * `npm run bench` runs it: no tsx keepNames) into dist/ab/, and run as its own process that reads the transfer
 * through its own forward (the reading socket in the client's process, as in bench/forward.ts). For ssh -L the
 * reading socket is in this process, and its CPU is added to ssh's.
 *
 * Per transfer: MB/s; client CPU seconds per GiB (user + system of the process: ours, or ssh + the reader);
 * sshd CPU seconds per GiB (that connection's sshd processes, from /proc); the client's event-loop idle share;
 * GC ms per GiB. Printed: the median of the rounds (MB/s: also the best). While other work shares the machine,
 * MB/s is noise; CPU per GiB is the figure to compare.
 *
 * Run: `npx tsx bench/forward-ab.ts [--mib=64] [--rounds=4] [--old=DIR] [--new=DIR] [--cipher=aes|chacha]
 *       [--prof=old|new]` (`--prof` starts that client with --cpu-prof into dist/ab/prof-*). `--tree=NAME=DIR`
 *       (repeatable) compares any trees instead of old and new (a tree needs src/ and bench/). `--heap=NAME`:
 *       a sampling heap profile of that client's allocations (GC'd objects included) in dist/ab/heap-NAME.heapprofile.
 *       `--up`: the other direction — each client writes the transfer through its forward to a target that counts
 *       it (the writing socket in the client's process; for ssh -L in this one).
 */
import * as esbuild from "esbuild"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import * as OpenSsh from "../test/helpers/OpenSsh.js"

const MiB = 1 << 20

/** `--up`: the target of the forwards, which reads to EOF, answers with the count of bytes and closes. */
const SINK = `
const net = require("node:net")
const server = net.createServer({ allowHalfOpen: true }, (s) => {
  s.on("error", () => {})
  let n = 0
  s.on("data", (d) => { n += d.length })
  s.on("end", () => s.end(String(n)))
})
server.listen(0, "127.0.0.1", () => console.log(server.address().port))
`
const upload = process.argv.includes("--up")
const here = path.resolve(import.meta.dirname, "..")
const opt = (name: string, d: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? d
const bytes = Number(opt("mib", "64")) * MiB
const rounds = Number(opt("rounds", "4"))
/** The trees compared, in order: `--tree=NAME=DIR` (repeatable), else old and new. */
const trees: Record<string, string> = Object.fromEntries(
  process.argv.filter((a) => a.startsWith("--tree=")).map((a) => a.slice(7).split("=") as [string, string])
    .map(([k, v]) => [k, path.resolve(v)])
)
if (Object.keys(trees).length === 0) {
  trees.old = path.resolve(opt("old", "/work/main"))
  trees.new = path.resolve(opt("new", here))
}
const prof = opt("prof", "")
const ciphers = ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"].filter((c) => c.startsWith(opt("cipher", "")))
const outdir = path.join(here, "dist/ab")
const TICK = 100 // USER_HZ on Linux

/** The client bundled against `tree`'s sources (the same client program for both trees). */
const build = async (name: string, tree: string): Promise<string> => {
  const outfile = path.join(outdir, `${name}.mjs`)
  await esbuild.build({
    stdin: {
      contents: fs.readFileSync(path.join(here, "bench/forward-ab-client.ts"), "utf8"),
      resolveDir: path.join(tree, "bench"),
      sourcefile: "forward-ab-client.ts",
      loader: "ts"
    },
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    keepNames: false,
    logLevel: "warning"
  })
  return outfile
}

const cpuOf = (pids: ReadonlyArray<number>): number => {
  let ticks = 0
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      ticks += Number(f[11]) + Number(f[12]) // utime, stime (fields 14 and 15)
    } catch {
      // gone
    }
  }
  return ticks / TICK
}

const descendants = (root: number): Array<number> => {
  const parent = new Map<number, number>()
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8")
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {
      // gone
    }
  }
  const out: Array<number> = []
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) (out.push(c), walk(c))
  }
  walk(root)
  return out
}

const lines = (child: ChildProcess) => {
  const waiting: Array<(l: string) => void> = []
  readline.createInterface({ input: child.stdout! }).on("line", (l) => waiting.shift()?.(l))
  return () => new Promise<string>((resolve) => waiting.push(resolve))
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createConnection({ host: "127.0.0.1", port })
    s.once("connect", () => (s.destroy(), resolve(true)))
    s.once("error", () => resolve(false))
  })

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

/** Reads one transfer through `port` in this process; its CPU is the reader's share of the ssh -L row. */
const drain = (port: number) =>
  new Promise<{ bytes: number; seconds: number; cpu: number }>((resolve, reject) => {
    const cpu0 = process.cpuUsage()
    const start = performance.now()
    const s = net.createConnection({ host: "127.0.0.1", port })
    let n = 0
    s.once("error", reject)
    s.on("data", (d: Buffer) => void (n += d.length))
    s.once("end", () => {
      s.destroy()
      const c = process.cpuUsage(cpu0)
      resolve({ bytes: n, seconds: (performance.now() - start) / 1000, cpu: (c.user + c.system) / 1e6 })
    })
  })

/** Writes one transfer through `port` in this process and waits for the target's count (`--up`). */
const push = (port: number) =>
  new Promise<{ bytes: number; seconds: number; cpu: number }>((resolve, reject) => {
    const cpu0 = process.cpuUsage()
    const start = performance.now()
    const s = net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true })
    const block = Buffer.alloc(256 * 1024, 1)
    let left = bytes
    let answer = ""
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length)
        left -= n
        if (!s.write(n === block.length ? block : block.subarray(0, n))) return void s.once("drain", pump)
      }
      s.end()
    }
    s.once("connect", pump)
    s.once("error", reject)
    s.on("data", (d: Buffer) => void (answer += d.toString()))
    s.once("end", () => {
      s.destroy()
      const c = process.cpuUsage(cpu0)
      resolve({ bytes: Number(answer), seconds: (performance.now() - start) / 1000, cpu: (c.user + c.system) / 1e6 })
    })
  })

interface Sample {
  readonly mbps: number
  readonly cpuPerGiB: number
  readonly sshdPerGiB: number
  readonly idle: number | undefined
  readonly gcPerGiB: number | undefined
  /** Scavenges and mark-compacts per GiB. */
  readonly gcCounts?: readonly [number, number] | undefined
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const main = async () => {
  fs.mkdirSync(outdir, { recursive: true })
  const bundles: Record<string, string> = {}
  for (const [k, dir] of Object.entries(trees)) bundles[k] = await build(k, dir)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-ab-"))
  const keyFile = path.join(dir, "id_ed25519")
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
  const { source } = await import("./forward.js")
  const Effect = await import("effect/Effect")
  const Scope = await import("effect/Scope")
  const Exit = await import("effect/Exit")
  console.log(`${Object.entries(trees).map(([k, v]) => `${k} = ${v}`).join(", ")}; ${bytes / MiB} MiB per transfer, ${rounds} rounds`)
  for (const cipher of ciphers) {
    const children: Array<ChildProcess> = []
    const scope = Effect.runSync(Scope.make())
    try {
      const cfg = OpenSsh.writeSshdConfig({
        ciphers: cipher,
        authorizedKeys: [fs.readFileSync(`${keyFile}.pub`, "utf8").trim()],
        logLevel: "ERROR",
        extra: ["AllowTcpForwarding yes"]
      })
      const port = await freePort()
      const sshd = spawn(OpenSsh.SSHD, ["-D", "-e", "-f", cfg, "-o", `ListenAddress=127.0.0.1:${port}`], { stdio: "ignore" })
      children.push(sshd)
      while (!(await accepts(port))) await new Promise((r) => setTimeout(r, 25))
      const src = upload
        ? await new Promise<number>((resolve) => {
          const sink = spawn(process.execPath, ["-e", SINK], { stdio: ["ignore", "pipe", "inherit"] })
          children.push(sink)
          sink.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())))
        })
        : await Effect.runPromise(Scope.extend(source(bytes), scope))
      const known = new Set(descendants(sshd.pid!))
      const sessionPids = () => {
        const now = descendants(sshd.pid!).filter((p) => !known.has(p))
        for (const p of now) known.add(p)
        return now
      }
      type Runner = { readonly run: () => Promise<Sample> }
      const runners: Record<string, Runner> = {}
      for (const k of Object.keys(trees)) {
        const args = prof === k ? ["--cpu-prof", `--cpu-prof-dir=${path.join(outdir, `prof-${k}`)}`] : []
        const child = spawn(process.execPath, [
          ...args, bundles[k], `--port=${port}`, `--key=${keyFile}`, `--cipher=${cipher}`, `--src=${src}`,
          ...(upload ? [`--up=${bytes}`] : [])
        ], {
          stdio: ["pipe", "pipe", "inherit"],
          env: opt("heap", "") === k ? { ...process.env, FORWARD_AB_HEAP: path.join(outdir, `heap-${k}.heapprofile`) } : process.env
        })
        children.push(child)
        const next = lines(child)
        while ((await next()) !== "ready"); // the host-key warning is logged on stdout first
        await new Promise((r) => setTimeout(r, 200))
        const pids = sessionPids()
        runners[k] = {
          run: async () => {
            const s0 = cpuOf(pids)
            child.stdin!.write("go\n")
            let line = await next()
            while (!line.startsWith("{")) line = await next()
            const r = JSON.parse(line) as { bytes: number; seconds: number; cpu: number; idle: number; gcMs: number; major: number; minor: number; counters?: unknown }
            if (r.bytes !== bytes) throw new Error(`${k}: ${r.bytes} of ${bytes} bytes`)
            if (r.counters !== undefined) console.log(`  ${k} counters: ${JSON.stringify(r.counters)}`)
            const gib = r.bytes / (1 << 30)
            return { mbps: r.bytes / r.seconds / 1e6, cpuPerGiB: r.cpu / gib, sshdPerGiB: (cpuOf(pids) - s0) / gib, idle: r.idle, gcPerGiB: r.gcMs / gib, gcCounts: [r.minor / gib, r.major / gib] }
          }
        }
      }
      const lport = await freePort()
      const ssh = spawn(OpenSsh.SSH, [
        ...OpenSsh.sshLogin(port, keyFile), "-c", cipher, "-N", "-L", `${lport}:127.0.0.1:${src}`, "127.0.0.1"
      ], { stdio: "ignore" })
      children.push(ssh)
      for (let i = 0; i < 400 && !(await accepts(lport)); i++) await new Promise((r) => setTimeout(r, 25))
      await new Promise((r) => setTimeout(r, 200))
      const sshPids = sessionPids()
      runners["ssh -L"] = {
        run: async () => {
          const c0 = cpuOf([ssh.pid!])
          const s0 = cpuOf(sshPids)
          const r = upload ? await push(lport) : await drain(lport)
          if (r.bytes !== bytes) throw new Error(`ssh: ${r.bytes} of ${bytes} bytes`)
          const gib = r.bytes / (1 << 30)
          return {
            mbps: r.bytes / r.seconds / 1e6,
            cpuPerGiB: (cpuOf([ssh.pid!]) - c0 + r.cpu) / gib,
            sshdPerGiB: (cpuOf(sshPids) - s0) / gib,
            idle: undefined,
            gcPerGiB: undefined
          }
        }
      }
      const names = Object.keys(runners)
      for (const n of names) await runners[n]!.run() // warm-up
      const samples: Record<string, Array<Sample>> = Object.fromEntries(names.map((n) => [n, []]))
      for (let i = 0; i < rounds; i++) {
        for (let j = 0; j < names.length; j++) {
          const n = names[(i + j) % names.length]!
          samples[n]!.push(await runners[n]!.run())
        }
      }
      console.log(`\n${cipher}`)
      console.log(["", "MB/s med", "MB/s best", "client CPU s/GiB", "sshd CPU s/GiB", "idle", "GC ms/GiB", "GCs/GiB minor+major"].join("\t"))
      for (const n of names) {
        const s = samples[n]!
        const idle = s.map((x) => x.idle).filter((x): x is number => x !== undefined)
        const gc = s.map((x) => x.gcPerGiB).filter((x): x is number => x !== undefined)
        console.log([
          n.padEnd(8),
          median(s.map((x) => x.mbps)).toFixed(0),
          Math.max(...s.map((x) => x.mbps)).toFixed(0),
          median(s.map((x) => x.cpuPerGiB)).toFixed(2),
          median(s.map((x) => x.sshdPerGiB)).toFixed(2),
          idle.length ? `${(median(idle) * 100).toFixed(0)} %` : "-",
          gc.length ? median(gc).toFixed(0) : "-",
          s[0]?.gcCounts === undefined ? "-" : `${median(s.map((x) => x.gcCounts![0])).toFixed(0)}+${median(s.map((x) => x.gcCounts![1])).toFixed(0)}`
        ].join("\t"))
      }
    } finally {
      for (const c of children.reverse()) {
        if (c.exitCode !== null) continue
        if (c.stdin !== null) {
          // A client ends on the end of its input (and writes its --cpu-prof then).
          const exited = new Promise((r) => c.once("exit", r))
          c.stdin.end()
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
        }
        if (c.exitCode === null) c.kill("SIGTERM")
      }
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
