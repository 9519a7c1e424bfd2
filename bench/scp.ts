/**
 * SCP throughput: our `Scp.upload` / `Scp.download` beside OpenSSH's `scp`, both against the same sshd on
 * 127.0.0.1 (its sftp-server, or its scp with -O, on the far side), a 256 MiB file each way, over SFTP (both
 * scp's default) and over the legacy protocol (-O), aes128-gcm@openssh.com, the faster of two runs. OpenSSH's
 * figure includes its process start and login; ours includes only the transfer (the connection is made once), so
 * the login time of `ssh … true` is subtracted from OpenSSH's for a like-for-like figure.
 *
 * A section of `npm run bench` (`npm run bench -- scp`, size `--scp-mib=N`), or alone: `npx tsx bench/scp.ts
 * [--mib=N]`. A benchmark, not a test: nothing is asserted.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as Scp from "../src/scp/Scp.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"
import { keyFromFile } from "../test/helpers/Servers.js"

const CIPHER = "aes128-gcm@openssh.com"

const best = <E, R>(run: Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    let fastest = Infinity
    for (let i = 0; i < 2; i++) {
      const start = performance.now()
      yield* run
      fastest = Math.min(fastest, performance.now() - start)
    }
    return fastest
  })

/**
 * One row: MiB/s of ours and of OpenSSH's scp for one direction and protocol.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScpRow {
  readonly what: string
  readonly ours: number
  readonly openssh: number
}

/**
 * Measures `mib` MiB each way over SFTP and the legacy protocol.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (mib = 256) => Effect.gen(function*() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-scp-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
  const id = path.join(dir, "id")
  spawnSync("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", id])
  const { port } = yield* OpenSsh.sshdTcp({
    authorizedKeys: [fs.readFileSync(`${id}.pub`, "utf8")],
    logLevel: "INFO",
    ciphers: CIPHER,
    extra: ["Subsystem sftp /usr/lib/openssh/sftp-server"]
  })
  const src = path.join(dir, "src.bin")
  fs.writeFileSync(src, Buffer.alloc(mib * 1024 * 1024, 7))
  const ssh = yield* SshClient.connect({
    host: "127.0.0.1",
    port,
    username: os.userInfo().username,
    auth: [Auth.privateKey(keyFromFile(id))],
    hostKeys: HostKeyPolicy.insecureAcceptAny,
    algorithms: { cipher: [CIPHER] }
  })
  const common = [
    "-F", "/dev/null", "-i", id, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-c", CIPHER
  ]
  const timed = (file: string, args: ReadonlyArray<string>) =>
    Effect.sync(() => {
      const r = spawnSync(file, [...args])
      if (r.status !== 0) throw new Error(`${file} failed: ${r.stderr}`)
    })
  const login = yield* best(timed("/usr/bin/ssh", [...common, "-p", String(port), "127.0.0.1", "true"]))
  const rate = (ms: number) => mib / (ms / 1000)
  const rows: Array<ScpRow> = []
  for (const protocol of ["sftp", "scp"] as const) {
    const flag = protocol === "scp" ? ["-O"] : []
    const name = protocol === "scp" ? "scp -O" : "sftp"
    const up = yield* best(Scp.upload(ssh, [src], path.join(dir, `up-ours-${protocol}.bin`), { protocol }))
    const upSsh = (yield* best(timed("/usr/bin/scp", [...flag, ...common, "-P", String(port), src, `127.0.0.1:${path.join(dir, `up-ssh-${protocol}.bin`)}`]))) - login
    rows.push({ what: `upload (${name})`, ours: rate(up), openssh: rate(upSsh) })
    const down = yield* best(Scp.download(ssh, src, path.join(dir, `down-ours-${protocol}.bin`), { protocol }))
    const downSsh = (yield* best(timed("/usr/bin/scp", [...flag, ...common, "-P", String(port), `127.0.0.1:${src}`, path.join(dir, `down-ssh-${protocol}.bin`)]))) - login
    rows.push({ what: `download (${name})`, ours: rate(down), openssh: rate(downSsh) })
  }
  return rows
}).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

/**
 * The rows as table cells, with ratios.
 *
 * @since 0.1.0
 * @category constructors
 */
export const table = (rows: ReadonlyArray<ScpRow>): ReadonlyArray<ReadonlyArray<string>> => [
  ["transfer", "ours MiB/s", "OpenSSH scp MiB/s", "ours ÷ OpenSSH"],
  ...rows.map((r) => [r.what, r.ours.toFixed(0), r.openssh.toFixed(0), `${(r.ours / r.openssh).toFixed(2)}×`])
]

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const mib = Number(/^--mib=(\d+)$/.exec(process.argv[2] ?? "")?.[1] ?? 256)
  NodeRuntime.runMain(Effect.gen(function*() {
    const rows = yield* run(mib)
    console.log(`scp of ${mib} MiB, ${CIPHER}, 127.0.0.1, against sshd (MiB/s, faster of two runs)`)
    for (const row of table(rows)) console.log(row.map((c, i) => (i === 0 ? c.padEnd(20) : c.padStart(18))).join(""))
  }))
}
