/**
 * `npx tsx bench/profile.ts [--server=PATH] [--mib=N] [--cipher=NAME]`: a per-packet profile of our server
 * (DESIGN.md §6). bench/serverProcess.ts (or the one at PATH, e.g. another checkout's, for a before/after
 * comparison) runs under `node --cpu-prof`; OpenSSH's `ssh` downloads N MiB (default 256) with `head -c`; the
 * profile's self time is then summed by where it was spent:
 *
 * - Effect runtime: node_modules/effect (fibers, scheduling, Streams, Sinks);
 * - effect-ssh: our own code under src/ (packet codec, engine, channels);
 * - crypto, GC, idle, other: node's crypto bindings, "(garbage collector)", "(idle)", the rest;
 *
 * counting only the samples of the transfer (its duration, back from the server's exit).
 *
 * Copies per packet are not sampled: they are the design's (docs/architecture.md) and printed for reference.
 * A benchmark, not a test: nothing is asserted.
 *
 * @since 0.1.0
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"

const args = new Map(process.argv.slice(2).map((a) => {
  const m = /^--([a-z]+)=(.*)$/.exec(a)
  return m === null ? [a, ""] : [m[1]!, m[2]!]
}))
const here = path.dirname(fileURLToPath(import.meta.url))
const serverFile = args.get("server") ??
  path.join(here, import.meta.url.endsWith(".ts") ? "serverProcess.ts" : "serverProcess.mjs")
const mib = Number(args.get("mib") ?? 256)
const cipher = args.get("cipher") ?? "aes128-gcm@openssh.com"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string }
}
interface Profile {
  readonly endTime: number
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const category = (n: Node): string => {
  const { url, functionName } = n.callFrame
  if (functionName === "(garbage collector)") return "GC"
  if (functionName === "(idle)") return "idle"
  if (url.includes("node_modules/effect/") || url.includes("node_modules/@effect/")) return "Effect runtime"
  if (url.includes("/src/") || url.includes("/dist/bench/")) return "effect-ssh"
  if (functionName.toLowerCase().includes("cipher") || url.includes("internal/crypto")) return "crypto"
  return "other"
}

const main = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-profile-"))
  const key = (name: string) => {
    const file = path.join(dir, name)
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file])
    return file
  }
  const user = key("id_ed25519")
  const host = key("ssh_host_ed25519_key")
  const child = spawn(process.execPath, [...process.execArgv, "--cpu-prof", `--cpu-prof-dir=${dir}`, serverFile, "ours", host, `${user}.pub`], {
    stdio: ["pipe", "pipe", "inherit"],
    cwd: path.resolve(here, import.meta.url.endsWith(".ts") ? ".." : "../..")
  })
  const port = await new Promise<number>((resolve) => {
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = /"port":\s*(\d+)/.exec(line)
      if (m !== null) resolve(Number(m[1]))
    })
  })
  const t0 = performance.now()
  execFileSync("ssh", [
    "-F", "/dev/null", "-i", user, "-p", String(port), "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", `Ciphers=${cipher}`,
    `${os.userInfo().username}@127.0.0.1`, `head -c ${mib * 1024 * 1024} /dev/zero`
  ], { stdio: ["ignore", "ignore", "inherit"], maxBuffer: 1 })
  const seconds = (performance.now() - t0) / 1000
  child.stdin!.end()
  await new Promise((resolve) => child.once("exit", resolve))
  const file = fs.readdirSync(dir).find((f) => f.endsWith(".cpuprofile"))!
  const profile = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as Profile
  fs.rmSync(dir, { recursive: true, force: true })
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const totals = new Map<string, number>()
  let all = 0
  // Only the transfer: the samples of its last `seconds` before the server exited (start-up and set-up excluded).
  let t = profile.endTime
  const at: Array<number> = []
  for (let i = profile.samples.length - 1; i >= 0; i--) {
    at[i] = t
    t -= profile.timeDeltas[i] ?? 0
  }
  const from = profile.endTime - seconds * 1e6
  profile.samples.forEach((id, i) => {
    if (at[i]! < from) return
    const dt = profile.timeDeltas[i] ?? 0
    const c = category(byId.get(id)!)
    totals.set(c, (totals.get(c) ?? 0) + dt)
    all += dt
  })
  const busy = all - (totals.get("idle") ?? 0)
  const packets = (mib * 1024 * 1024) / (32 * 1024)
  console.log(`server ${serverFile}, ${cipher}, ${mib} MiB in ${seconds.toFixed(1)} s (${(mib * 1.048576 / seconds).toFixed(0)} MB/s)`)
  console.log(`busy ${(busy / 1000).toFixed(0)} ms of ${(all / 1000).toFixed(0)} ms sampled; per 32 KiB packet ${(busy / packets).toFixed(1)} µs`)
  for (const c of ["Effect runtime", "effect-ssh", "crypto", "GC", "other", "idle"]) {
    const t = totals.get(c) ?? 0
    console.log(`  ${c.padEnd(15)} ${(t / 1000).toFixed(0).padStart(7)} ms  ${(100 * t / (c === "idle" ? all : busy)).toFixed(1).padStart(5)} %${c === "idle" ? " of sampled" : " of busy"}`)
  }
}

void main()
