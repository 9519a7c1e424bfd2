/**
 * SCP throughput: our `Scp.upload` / `Scp.download` beside OpenSSH's `scp -O`, both against the same sshd on
 * 127.0.0.1 (its scp as the remote side), a 256 MiB file each way, aes128-gcm@openssh.com, the faster of two runs.
 * OpenSSH's figure includes its process start and login; ours includes only the transfer (the connection is made
 * once), so the login time of `ssh … true` is subtracted from OpenSSH's for a like-for-like figure.
 *
 * Run: `npx tsx bench/scp.ts [--mib=N]`. A benchmark, not a test: nothing is asserted.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as Scp from "../src/scp/Scp.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"
import { keyFromFile } from "../test/helpers/Servers.js"

const mib = Number(/^--mib=(\d+)$/.exec(process.argv[2] ?? "")?.[1] ?? 256)
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

const program = Effect.gen(function*() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-scp-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
  const id = path.join(dir, "id")
  spawnSync("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", id])
  const { port } = yield* OpenSsh.sshdTcp({
    authorizedKeys: [fs.readFileSync(`${id}.pub`, "utf8")],
    logLevel: "INFO",
    ciphers: CIPHER
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
  const ours = {
    upload: yield* best(Scp.upload(ssh, [src], path.join(dir, "up-ours.bin"))),
    download: yield* best(Scp.download(ssh, src, path.join(dir, "down-ours.bin")))
  }
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
  const openssh = {
    upload: (yield* best(timed("/usr/bin/scp", ["-O", ...common, "-P", String(port), src, `127.0.0.1:${path.join(dir, "up-ssh.bin")}`]))) - login,
    download: (yield* best(timed("/usr/bin/scp", ["-O", ...common, "-P", String(port), `127.0.0.1:${src}`, path.join(dir, "down-ssh.bin")]))) - login
  }
  const rate = (ms: number) => (mib / (ms / 1000)).toFixed(0)
  console.log(`scp of ${mib} MiB, ${CIPHER}, 127.0.0.1, sshd's scp on the far side (MiB/s, faster of two runs)`)
  console.log(`direction  ours  openssh-scp-O  ours/openssh`)
  for (const d of ["upload", "download"] as const) {
    console.log(`${d.padEnd(9)} ${rate(ours[d]).padStart(5)} ${rate(openssh[d]).padStart(14)} ${(openssh[d] / ours[d]).toFixed(2).padStart(13)}`)
  }
}).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

NodeRuntime.runMain(program)
