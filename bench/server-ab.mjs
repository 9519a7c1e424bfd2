// A/B of our server's send path between checkouts (issue 10): `node bench/server-ab.mjs --trees=/work/main,.
// [--mib=256] [--rounds=9] [--cipher=aes128-gcm@openssh.com] [--local]`. Each tree's bench/serverProcess.ts is
// bundled as bench/run.mjs does (esbuild, dependencies external) into this checkout's dist/server-ab/N/, one server
// process per tree is started, and OpenSSH's `ssh` downloads `head -c MIB MiB /dev/zero` from each in turn, round
// after round (interleaved, so that the machine's load hits both alike). Per transfer: the server's CPU seconds
// per GiB (utime+stime+cutime+cstime from /proc, minus the median CPU of three `ssh … true` set-ups) and system
// seconds per GiB; µs per 32 KiB packet = CPU s/GiB × 10^6 / 32 768. `--local`: the servers run the real `head`
// through NodeLocalProcess (BENCH_LOCAL_PROCESS=1). The first round carries the servers' warm-up: compare medians.
// A tool, not a test: nothing is asserted.
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"

const root = path.resolve(import.meta.dirname, "..")
const args = new Map(process.argv.slice(2).map((a) => {
  const m = /^--([a-z]+)(?:=(.*))?$/.exec(a)
  return m === null ? [a, ""] : [m[1], m[2] ?? ""]
}))
const trees = (args.get("trees") ?? `/work/main,${root}`).split(",").map((t) => path.resolve(t))
const mib = Number(args.get("mib") ?? 256)
const rounds = Number(args.get("rounds") ?? 9)
const cipher = args.get("cipher") ?? "aes128-gcm@openssh.com"
const local = args.has("local")

const esbuild = await import("esbuild")
const files = []
for (const [i, tree] of trees.entries()) {
  const outdir = path.join(root, "dist/server-ab", String(i))
  fs.rmSync(outdir, { recursive: true, force: true })
  await esbuild.build({
    absWorkingDir: tree, outdir, bundle: true, format: "esm", platform: "node", target: "node20", packages: "external",
    keepNames: false, outExtension: { ".js": ".mjs" }, logLevel: "warning",
    entryPoints: { serverProcess: "bench/serverProcess.ts" }
  })
  files.push(path.join(outdir, "serverProcess.mjs"))
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-server-ab-"))
const key = (name) => {
  const file = path.join(dir, name)
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file])
  return file
}
const user = key("id_ed25519")
const host = key("ssh_host_ed25519_key")
const ticks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
const stat = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ").map(Number)
  return { cpu: (f[11] + f[12] + f[13] + f[14]) / ticks, sys: (f[12] + f[14]) / ticks }
}
const start = (file) =>
  new Promise((resolve) => {
    const env = { ...process.env, ...(local ? { BENCH_LOCAL_PROCESS: "1" } : {}) }
    const child = spawn(process.execPath, [file, "ours", host, `${user}.pub`], { stdio: ["pipe", "pipe", "inherit"], env })
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /"port":\s*(\d+)/.exec(line)
      if (m !== null) resolve({ file, child, port: Number(m[1]), results: [] })
    })
  })
const ssh = (port, command) =>
  new Promise((resolve, reject) =>
    spawn("ssh", [
      "-F", "/dev/null", "-i", user, "-p", String(port), "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", `Ciphers=${cipher}`,
      `${os.userInfo().username}@127.0.0.1`, command
    ], { stdio: ["ignore", "ignore", "inherit"] }).on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ssh exited ${code}`))))
  )
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const servers = await Promise.all(files.map(start))
for (const s of servers) {
  await ssh(s.port, `head -c ${32 << 20} /dev/zero`)
  const setup = []
  for (let i = 0; i < 3; i++) {
    const before = stat(s.child.pid)
    await ssh(s.port, "true")
    setup.push(stat(s.child.pid).cpu - before.cpu)
  }
  s.setup = median(setup)
}
for (let r = 0; r < rounds; r++) {
  for (const s of servers) {
    const before = stat(s.child.pid)
    await ssh(s.port, `head -c ${mib << 20} /dev/zero`)
    const after = stat(s.child.pid)
    s.results.push({ cpu: (after.cpu - before.cpu - s.setup) * 1024 / mib, sys: (after.sys - before.sys) * 1024 / mib })
  }
}
console.log(`${cipher}, ${mib} MiB per transfer, ${rounds} interleaved rounds${local ? ", head through NodeLocalProcess" : ""}`)
for (const [i, s] of servers.entries()) {
  const cpu = s.results.map((x) => x.cpu)
  const m = median(cpu)
  console.log(`${trees[i]}\n  CPU s/GiB ${cpu.map((x) => x.toFixed(2)).join(" ")}  median ${m.toFixed(2)} (${(m * 1e6 / 32768).toFixed(1)} µs per 32 KiB packet)  system s/GiB median ${median(s.results.map((x) => x.sys)).toFixed(2)}`)
  s.child.stdin.end()
}
fs.rmSync(dir, { recursive: true, force: true })
