/**
 * SFTP throughput (DESIGN.md §10): a file of SIZE (default 256 MiB) downloaded and uploaded over SSH on
 * 127.0.0.1, aes128-gcm@openssh.com, in one run:
 *
 * - ours: `Sftp.make(conn)` on `SshClient.connect` (NodeSsh.layer) against OpenSSH sshd's sftp-server;
 *   `sftp.stream(remote)` written to a local file / a local file read into `sftp.sink(remote)`;
 * - sftp: OpenSSH's `sftp -b` with `get`/`put` (minus a run with an empty batch: process start, kex, auth);
 * - ssh2: the npm ssh2 client's `fastGet` / `fastPut` (its defaults: 64 requests of 32 KiB);
 * - our server: OpenSSH `sftp -b get` from our SshServer (in this process, NodeSftp on a directory) against the
 *   same `sftp` from sshd.
 *
 * Each figure is the faster of two transfers, MB/s (10^6 B/s). A benchmark: nothing asserted.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import * as PrivateKey from "../src/keys/PrivateKey.js"
import * as NodeSftp from "../src/node/NodeSftp.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Sftp from "../src/sftp/Sftp.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"
import * as Servers from "../test/helpers/Servers.js"

const USER = os.userInfo().username
const CIPHER = "aes128-gcm@openssh.com"
const require = createRequire(import.meta.url)

/**
 * One row: MB/s per client (undefined when it could not be measured).
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpRow {
  readonly what: string
  readonly ours: number | undefined
  readonly openssh: number | undefined
  readonly ssh2: number | undefined
}

const best = <E, R>(bytes: number, run: Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    let bestS = Number.POSITIVE_INFINITY
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now()
      yield* run
      bestS = Math.min(bestS, (performance.now() - t0) / 1000)
    }
    return bytes / 1e6 / bestS
  })

/** Seconds of one `sftp -b` run; spawned asynchronously, as our server may be in this process. */
const sftpCli = (args: ReadonlyArray<string>, batch: string, dir: string) =>
  Effect.async<number, Error>((resume) => {
    const file = path.join(dir, "batch")
    fs.writeFileSync(file, batch)
    const t0 = performance.now()
    const child = spawn("/usr/bin/sftp", ["-b", file, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("close", (code) =>
      resume(code === 0 ? Effect.succeed((performance.now() - t0) / 1000) : Effect.fail(new Error(`sftp failed: ${stderr}`))))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const sftpBest = (args: ReadonlyArray<string>, batch: string, dir: string, bytes: number) =>
  Effect.gen(function*() {
    const base = Math.min(yield* sftpCli(args, "pwd\n", dir), yield* sftpCli(args, "pwd\n", dir))
    const t = Math.min(yield* sftpCli(args, batch, dir), yield* sftpCli(args, batch, dir))
    return bytes / 1e6 / Math.max(1e-3, t - base)
  })

const ssh2Transfer = (port: number, keyText: string, op: "fastGet" | "fastPut", from: string, to: string) =>
  Effect.async<void, Error>((resume) => {
    const Client = (require("ssh2") as typeof import("ssh2")).Client
    const conn = new Client()
    conn.once("error", (e: Error) => resume(Effect.fail(e)))
    conn.once("ready", () =>
      conn.sftp((e, sftp) => {
        if (e) return resume(Effect.fail(e))
        sftp[op](from, to, (err?: Error | null) => {
          conn.end()
          resume(err ? Effect.fail(err) : Effect.void)
        })
      }))
    conn.connect({
      host: "127.0.0.1",
      port,
      username: USER,
      privateKey: keyText,
      algorithms: { cipher: [CIPHER as never] }
    })
  })

/**
 * Runs the section; `mib` is the file size.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (mib = 256) =>
  Effect.gen(function*() {
    const bytes = mib * 1024 * 1024
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-sftp-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    const keyFile = path.join(dir, "id_ed25519")
    execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
    const keyText = fs.readFileSync(keyFile, "utf8")
    const parsed = PrivateKey.parsePrivateKey(keyText)
    if (Either.isLeft(parsed)) return yield* Effect.die(parsed.left)
    const src = path.join(dir, "src.bin")
    // Incompressible contents, written 1 MiB at a time.
    const block = new Uint8Array(1024 * 1024)
    for (let i = 0; i < block.length; i += 65536) crypto.getRandomValues(block.subarray(i, i + 65536))
    const fd = fs.openSync(src, "w")
    for (let i = 0; i < mib; i++) fs.writeSync(fd, block)
    fs.closeSync(fd)
    const { port } = yield* OpenSsh.sshdTcp({
      authorizedKeys: [fs.readFileSync(`${keyFile}.pub`, "utf8").trim()],
      ciphers: CIPHER,
      logLevel: "INFO",
      extra: ["Subsystem sftp /usr/lib/openssh/sftp-server"]
    })
    const cliArgs = (p: number) => [
      "-F", "/dev/null", "-P", String(p), "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
      "-o", `Ciphers=${CIPHER}`, `${USER}@127.0.0.1`
    ]
    const local = (n: string) => path.join(dir, n)

    // ours, against sshd
    const conn = yield* SshClient.connect({
      host: "127.0.0.1",
      port,
      username: USER,
      auth: [Auth.privateKey(parsed.right)],
      hostKeys: HostKeyPolicy.insecureAcceptAny,
      algorithms: { cipher: [CIPHER] }
    })
    const sftp = yield* Sftp.make(conn)
    const oursGet = yield* best(bytes, Effect.gen(function*() {
      const out = fs.openSync(local("ours-get.bin"), "w")
      yield* sftp.stream(src).pipe(Stream.runForEach((c) => Effect.sync(() => fs.writeSync(out, c))))
      fs.closeSync(out)
    }))
    const oursPut = yield* best(bytes, Effect.asVoid(
      NodeStream.fromReadable<Error, Uint8Array>(() => fs.createReadStream(src, { highWaterMark: 256 * 1024 }), (e) => e as Error).pipe(
        Stream.run(sftp.sink(local("ours-put.bin")))
      )
    ))
    const opensshGet = yield* sftpBest(cliArgs(port), `get ${src} ${local("ssh-get.bin")}\n`, dir, bytes)
    const opensshPut = yield* sftpBest(cliArgs(port), `put ${src} ${local("ssh-put.bin")}\n`, dir, bytes)
    const ssh2Get = yield* Effect.option(best(bytes, ssh2Transfer(port, keyText, "fastGet", src, local("ssh2-get.bin"))))
    const ssh2Put = yield* Effect.option(best(bytes, ssh2Transfer(port, keyText, "fastPut", src, local("ssh2-put.bin"))))

    // OpenSSH sftp from our server vs from sshd
    const authorizedBlob = fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]!
    const ourPort = yield* Servers.serve({
      auth: { publicKey: ({ key }) => Effect.succeed(Buffer.from(key.blob).toString("base64") === authorizedBlob) },
      subsystems: { sftp: NodeSftp.subsystem("/") }
    })
    const fromOurs = yield* sftpBest(cliArgs(ourPort), `get ${src} ${local("from-ours.bin")}\n`, dir, bytes)
    const fromSshd = yield* sftpBest(cliArgs(port), `get ${src} ${local("from-sshd.bin")}\n`, dir, bytes)
    const rows: ReadonlyArray<SftpRow> = [
      { what: `download ${mib} MiB`, ours: oursGet, openssh: opensshGet, ssh2: ssh2Get._tag === "Some" ? ssh2Get.value : undefined },
      { what: `upload ${mib} MiB`, ours: oursPut, openssh: opensshPut, ssh2: ssh2Put._tag === "Some" ? ssh2Put.value : undefined },
      { what: `sftp get: our server vs sshd`, ours: fromOurs, openssh: fromSshd, ssh2: undefined }
    ]
    return rows
  }).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

const f = (n: number | undefined) => (n === undefined ? "n/a" : n.toFixed(0))
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? "n/a" : `${(a / b).toFixed(2)}×`)

/**
 * The rows as table cells, with ratios.
 *
 * @since 0.1.0
 * @category constructors
 */
export const table = (rows: ReadonlyArray<SftpRow>): ReadonlyArray<ReadonlyArray<string>> => [
  ["transfer", "ours MB/s", "OpenSSH MB/s", "ssh2 MB/s", "ours ÷ OpenSSH", "ours ÷ ssh2"],
  ...rows.map((r) => [r.what, f(r.ours), f(r.openssh), f(r.ssh2), ratio(r.ours, r.openssh), ratio(r.ours, r.ssh2)])
]
