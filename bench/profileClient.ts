/**
 * Where our client's CPU goes while it reads a command's stdout from OpenSSH sshd (`head -c N /dev/zero`,
 * consumed as a Stream the way bench/exec.ts does): a CPU profile of this process during the transfer (after a
 * warm-up), summed by category — Effect runtime, our code, crypto, GC — per 32 KiB packet.
 *
 * Usage: `node bench/run.mjs profileClient [--mib=256] [--cipher=aes128-gcm@openssh.com] [--noprof=1]
 * [--save=FILE.cpuprofile] [--top=25]`. A diagnostic. `--noprof=1` measures CPU per GiB without the profiler;
 * `--save` keeps the transfer's profile for other tools.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as inspector from "node:inspector"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import type { SshConnection } from "../src/client/SshConnection.js"
import * as HostKey from "../src/crypto/HostKey.js"
import * as PrivateKey from "../src/keys/PrivateKey.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"

const args = new Map(process.argv.slice(2).map((a) => {
  const m = /^--([a-z]+)=(.*)$/.exec(a)
  return m === null ? [a, ""] : [m[1]!, m[2]!]
}))
const mib = Number(args.get("mib") ?? 256)
const cipher = args.get("cipher") ?? "aes128-gcm@openssh.com"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const category = (n: ProfileNode): string => {
  const { functionName, url } = n.callFrame
  if (functionName === "(garbage collector)") return "GC"
  if (functionName === "(idle)" || functionName === "(program)") return functionName === "(idle)" ? "idle" : "other"
  if (url.includes("node_modules/effect/") || url.includes("node_modules/@effect/")) return "Effect runtime"
  if (url.includes("/src/") || url.includes("/dist/")) return "effect-ssh"
  if (url.includes("internal/crypto") || url.includes("@noble")) return "crypto"
  return "other"
}

const post = <T>(session: inspector.Session, method: string): Promise<T> =>
  new Promise((resolve, reject) =>
    session.post(method, (err, result) => (err === null ? resolve(result as T) : reject(err)))
  )

const read = (conn: SshConnection, bytes: number) =>
  Effect.scoped(Effect.gen(function*() {
    const p = yield* conn.exec(`head -c ${bytes} /dev/zero`)
    const n = yield* p.stdout.pipe(Stream.runFold(0, (n, c) => n + c.length))
    if (n !== bytes) return yield* Effect.fail(new Error(`got ${n} bytes, expected ${bytes}`))
  }))

const main = Effect.gen(function*() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-profile-client-"))
  const keyFile = path.join(dir, "id_ed25519")
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
  const parsed = PrivateKey.parsePrivateKey(fs.readFileSync(keyFile, "utf8"))
  if (Either.isLeft(parsed)) return yield* Effect.fail(new Error(parsed.left.message))
  const { port } = yield* OpenSsh.sshdTcp({
    ciphers: cipher,
    authorizedKeys: [fs.readFileSync(`${keyFile}.pub`, "utf8").trim()],
    logLevel: "INFO"
  })
  const pub = fs.readFileSync(path.join(OpenSsh.hostKeyDir(), "ssh_host_ed25519_key.pub"), "utf8").split(" ")
  const conn = yield* SshClient.connect({
    host: "127.0.0.1",
    port,
    username: os.userInfo().username,
    auth: [Auth.privateKey(parsed.right)],
    hostKeys: HostKeyPolicy.pinned([HostKey.fingerprintSha256(Uint8Array.from(Buffer.from(pub[1]!, "base64")))]),
    algorithms: { cipher: [cipher] }
  })
  yield* read(conn, 32 * 1024 * 1024)
  const profiling = !args.has("noprof")
  const session = new inspector.Session()
  session.connect()
  if (profiling) {
    yield* Effect.promise(() => post(session, "Profiler.enable"))
    yield* Effect.promise(() => post(session, "Profiler.start"))
  }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  yield* read(conn, mib * 1024 * 1024)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const { profile } = profiling
    ? yield* Effect.promise(() => post<{ profile: Profile }>(session, "Profiler.stop"))
    : { profile: undefined }
  session.disconnect()
  const save = args.get("save")
  if (profile !== undefined && save !== undefined) fs.writeFileSync(save, JSON.stringify(profile))
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(`client ← sshd, ${cipher}, ${mib} MiB in ${seconds.toFixed(1)} s (${(mib * 1.048576 / seconds).toFixed(0)} MB/s)`)
  console.log(`CPU ${((cpu.user + cpu.system) / 1e6 / (mib / 1024)).toFixed(2)} s/GiB`)
  if (profile !== undefined) summarize(profile)
}).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

/** Sums a profile's samples by category and by function (self time). */
const summarize = (profile: Profile): void => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const totals = new Map<string, number>()
  const fns = new Map<string, number>()
  let all = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    const n = byId.get(id)!
    const c = category(n)
    totals.set(c, (totals.get(c) ?? 0) + dt)
    const f = `${n.callFrame.functionName || "(anonymous)"} ${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber}`
    if (c !== "idle") fns.set(f, (fns.get(f) ?? 0) + dt)
    all += dt
  })
  const busy = all - (totals.get("idle") ?? 0)
  const packets = (mib * 1024 * 1024) / (32 * 1024)
  console.log(`busy ${(busy / 1000).toFixed(0)} ms of ${(all / 1000).toFixed(0)} ms sampled; per 32 KiB packet ${(busy / packets).toFixed(1)} µs`)
  for (const c of ["Effect runtime", "effect-ssh", "crypto", "GC", "other", "idle"]) {
    const t = totals.get(c) ?? 0
    console.log(`  ${c.padEnd(15)} ${(t / 1000).toFixed(0).padStart(7)} ms  ${(100 * t / (c === "idle" ? all : busy)).toFixed(1).padStart(5)} %${c === "idle" ? " of sampled" : " of busy"}`)
  }
  console.log("top functions (self time):")
  for (const [f, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(args.get("top") ?? 25))) {
    console.log(`  ${(t / 1000).toFixed(0).padStart(6)} ms  ${f}`)
  }
}

// `--analyze=FILE`: summarise a .cpuprofile written by `node --cpu-prof` (no in-process profiler running).
const analyze = args.get("analyze")
if (analyze !== undefined) summarize(JSON.parse(fs.readFileSync(analyze, "utf8")) as Profile)
else Effect.runPromise(main).catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
