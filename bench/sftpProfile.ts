/**
 * `node bench/run.mjs sftpProfile [--mode=get|put|serve|raw|exec] [--mib=N] [--rounds=N] [--requests=N] [--block=N]
 * [--profile=FILE] [--compare]` (compiled; `npx tsx bench/sftpProfile.ts …` runs the TypeScript, slower: tsx's
 * keepNames): one SFTP path at a time, for profiling (DESIGN.md §10):
 *
 * - get / put: our client against sshd's sftp-server over SSH (aes128-gcm), a local file as source or sink;
 * - exec: the floor under get: the same file read with `cat` over an exec channel into the same local sink;
 * - raw: our client against `sftp-server` on a child's stdio (no SSH);
 * - serve: OpenSSH `sftp -b get` from our SshServer in this process.
 *
 * With `--profile=FILE` the process's own CPU profile (node:inspector) of the timed rounds is written to FILE
 * and its self time summed by function (top 40). Nothing asserted: a tool.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as inspector from "node:inspector"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import * as PrivateKey from "../src/keys/PrivateKey.js"
import * as NodeSftp from "../src/node/NodeSftp.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as Sftp from "../src/sftp/Sftp.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"
import * as Servers from "../test/helpers/Servers.js"

const args = new Map(process.argv.slice(2).map((a) => {
  const m = /^--([a-z]+)(?:=(.*))?$/.exec(a)
  return m === null ? [a, ""] : [m[1]!, m[2] ?? ""]
}))
const mode = args.get("mode") ?? "get"
const mib = Number(args.get("mib") ?? 64)
const rounds = Number(args.get("rounds") ?? 3)
const profileFile = args.get("profile")
const options: Sftp.SftpOptions = {
  requests: args.has("requests") ? Number(args.get("requests")) : undefined,
  blockSize: args.has("block") ? Number(args.get("block")) : undefined
}
const USER = os.userInfo().username
const CIPHER = "aes128-gcm@openssh.com"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const session = new inspector.Session()
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) =>
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))))

const summarise = (p: Profile) => {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!
    const f = n.callFrame
    const where = f.url.replace(/^.*\/(node_modules|src)\//, "$1/")
    const k = `${f.functionName || "(anon)"} ${where}:${f.lineNumber + 1}`
    const dt = p.timeDeltas[i] ?? 0
    self.set(k, (self.get(k) ?? 0) + dt)
    total += dt
  })
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40)
  for (const [k, v] of rows) console.log(`${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`)
}

const sftpCli = (port: number, keyFile: string, batch: string, dir: string) =>
  Effect.async<void, Error>((resume) => {
    const file = path.join(dir, "batch")
    fs.writeFileSync(file, batch)
    const child = spawn("/usr/bin/sftp", [
      "-b", file, "-F", "/dev/null", "-P", String(port), "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o",
      "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
      "-o", `Ciphers=${CIPHER}`, `${USER}@127.0.0.1`
    ], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("close", (code) => resume(code === 0 ? Effect.void : Effect.fail(new Error(`sftp failed: ${stderr}`))))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const program = Effect.gen(function*() {
  const bytes = mib * 1024 * 1024
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftp-profile-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
  const keyFile = path.join(dir, "id_ed25519")
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
  const parsed = PrivateKey.parsePrivateKey(fs.readFileSync(keyFile, "utf8"))
  if (Either.isLeft(parsed)) return yield* Effect.die(parsed.left)
  const src = path.join(dir, "src.bin")
  const block = new Uint8Array(1024 * 1024)
  for (let i = 0; i < block.length; i += 65536) crypto.getRandomValues(block.subarray(i, i + 65536))
  const fd = fs.openSync(src, "w")
  for (let i = 0; i < mib; i++) fs.writeSync(fd, block)
  fs.closeSync(fd)
  const out = path.join(dir, "out.bin")

  let once: Effect.Effect<void, unknown> = Effect.void
  let sshdPort: number | undefined
  if (args.has("compare") || (mode !== "serve" && mode !== "raw")) {
    sshdPort = (yield* OpenSsh.sshdTcp({
      authorizedKeys: [fs.readFileSync(`${keyFile}.pub`, "utf8").trim()],
      ciphers: CIPHER,
      logLevel: "INFO",
      extra: ["Subsystem sftp /usr/lib/openssh/sftp-server"]
    })).port
  }
  if (mode === "serve") {
    const blob = fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]!
    const port = yield* Servers.serve({
      auth: { publicKey: ({ key }) => Effect.succeed(Buffer.from(key.blob).toString("base64") === blob) },
      subsystems: { sftp: NodeSftp.subsystem("/") }
    })
    once = sftpCli(port, keyFile, `get ${src} ${out}\n`, dir)
  } else {
    let sftp: Sftp.Sftp | undefined
    if (mode === "raw") {
      const child = spawn("/usr/lib/openssh/sftp-server", [], { stdio: ["pipe", "pipe", "inherit"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill()))
      sftp = yield* Sftp.makeFromPipe({
        output: NodeStream.fromReadable<Error, Uint8Array>(() => child.stdout, (e) => e as Error),
        write: (b) => Effect.async<void>((resume) => void child.stdin.write(b, () => resume(Effect.void)))
      }, options)
    } else {
      const port = sshdPort!
      const conn = yield* SshClient.connect({
        host: "127.0.0.1",
        port,
        username: USER,
        auth: [Auth.privateKey(parsed.right)],
        hostKeys: HostKeyPolicy.insecureAcceptAny,
        algorithms: { cipher: [CIPHER] }
      })
      if (mode === "exec") {
        once = Effect.scoped(Effect.gen(function*() {
          const o = fs.openSync(out, "w")
          const proc = yield* conn.exec(`cat ${src}`)
          yield* proc.stdout.pipe(Stream.runForEach((c) => Effect.sync(() => fs.writeSync(o, c))))
          fs.closeSync(o)
        }))
      } else sftp = yield* Sftp.make(conn, options)
    }
    if (sftp !== undefined) once = mode === "put"
      ? Effect.asVoid(
        NodeStream.fromReadable<Error, Uint8Array>(() => fs.createReadStream(src, { highWaterMark: 256 * 1024 }), (e) => e as Error).pipe(
          Stream.run(sftp!.sink(out))
        )
      )
      : Effect.gen(function*() {
        const o = fs.openSync(out, "w")
        yield* sftp!.stream(src).pipe(Stream.runForEach((c) => Effect.sync(() => fs.writeSync(o, c))))
        fs.closeSync(o)
      })
  }
  yield* once // warm-up
  if (profileFile !== undefined) {
    session.connect()
    yield* Effect.promise(() => post("Profiler.enable"))
    yield* Effect.promise(() => post("Profiler.setSamplingInterval", { interval: 200 }))
    yield* Effect.promise(() => post("Profiler.start"))
  }
  // --compare: OpenSSH sftp (get or put, from sshd) interleaved with ours, for a ratio on a loaded machine.
  const reference = args.has("compare") && sshdPort !== undefined
    ? sftpCli(sshdPort, keyFile, `${mode === "put" ? "put" : "get"} ${src} ${out}.ref\n`, dir)
    : undefined
  let base = 0
  if (reference !== undefined) {
    base = Number.POSITIVE_INFINITY
    for (let i = 0; i < 2; i++) {
      const t = performance.now()
      yield* sftpCli(sshdPort!, keyFile, "pwd\n", dir)
      base = Math.min(base, (performance.now() - t) / 1000)
    }
  }
  let bestS = Number.POSITIVE_INFINITY
  let bestRef = Number.POSITIVE_INFINITY
  let cpuOurs = 0
  let cpuMin = Number.POSITIVE_INFINITY
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    yield* once
    const c1 = process.cpuUsage(c0)
    cpuOurs += c1.user + c1.system
    cpuMin = Math.min(cpuMin, c1.user + c1.system)
    bestS = Math.min(bestS, (performance.now() - t0) / 1000)
    if (reference !== undefined) {
      const t1 = performance.now()
      yield* reference
      bestRef = Math.min(bestRef, (performance.now() - t1) / 1000 - base)
    }
  }
  if (profileFile !== undefined) {
    const { profile } = (yield* Effect.promise(() => post("Profiler.stop"))) as { profile: Profile }
    fs.writeFileSync(profileFile, JSON.stringify(profile))
    summarise(profile)
  }
  const ref = reference === undefined ? "" : `; OpenSSH sftp ${(bytes / 1e6 / bestRef).toFixed(0)} MB/s; ours ÷ OpenSSH ${(bestRef / bestS).toFixed(2)}×`
  // CPU time of this process per MB moved (user + system): steadier than MB/s on a loaded machine.
  const cpuPerMB = cpuOurs / rounds / (bytes / 1e6)
  console.log(`${mode} ${mib} MiB: ${(bytes / 1e6 / bestS).toFixed(0)} MB/s (best of ${rounds}), this process ${cpuPerMB.toFixed(0)} µs CPU/MB (least ${(cpuMin / (bytes / 1e6)).toFixed(0)})${ref}`)
}).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

Effect.runPromise(program).then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
