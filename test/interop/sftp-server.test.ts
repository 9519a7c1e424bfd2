/**
 * OpenSSH's `sftp` against our SFTP server, every batch command: through our SshServer on 127.0.0.1 (the "sftp"
 * subsystem) and directly on stdio with `sftp -D`. Files are checked on disk with checksums; a read-only server
 * refuses writes (SEC-55) and paths stay inside the root (SEC-54).
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as SshServer from "../../src/server/SshServer.js"
import * as NodeSftp from "../../src/node/NodeSftp.js"
import * as SftpServer from "../../src/sftp/SftpServer.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as Servers from "../helpers/Servers.js"

const SFTP = "/usr/bin/sftp"
const has = OpenSsh.haveOpenSsh() && fs.existsSync(SFTP)
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftpd-keys-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const authorizedBlob = has ? fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]! : ""

const auth: SshServer.ServerHandlers["auth"] = {
  publicKey: ({ key }) => Effect.succeed(Buffer.from(key.blob).toString("base64") === authorizedBlob)
}

const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex")

/** Runs OpenSSH sftp (never through a shell) with a batch file; resolves with its exit code and output. */
const sftp = (args: ReadonlyArray<string>, batch: string) =>
  Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-batch-")), "batch")
    fs.writeFileSync(file, batch)
    const child = spawn(SFTP, ["-b", file, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const overSsh = (port: number) => [
  "-F", "/dev/null", "-P", String(port), "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
  "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "alice@127.0.0.1"
]

/** A `sftp -D` program: our server on stdio over `root`. */
const direct = (root: string, readOnly = false) => {
  const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftpd-")), "sftp-server")
  const helper = path.resolve(import.meta.dirname, "../helpers/SftpServerStdio.ts")
  fs.writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" --import tsx "${helper}" "${root}"${readOnly ? " --read-only" : ""}\n`, { mode: 0o755 })
  return ["-D", script, "unused"]
}

const fixtures = () => {
  const local = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftp-local-"))
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftp-root-"))
  fs.writeFileSync(path.join(local, "src.bin"), Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 5 }, (_, i) => (i * 31) & 0xff)))
  // Prefixes of src.bin, for reput (remote) and reget (local) to resume from.
  fs.writeFileSync(path.join(local, "part.bin"), fs.readFileSync(path.join(local, "src.bin")).subarray(0, 1024 * 1024))
  fs.writeFileSync(path.join(local, "down.bin"), fs.readFileSync(path.join(local, "src.bin")).subarray(0, 777_777))
  fs.mkdirSync(path.join(local, "tree/sub"), { recursive: true })
  fs.writeFileSync(path.join(local, "tree/a.txt"), "a\n")
  fs.writeFileSync(path.join(local, "tree/sub/b.txt"), "b\n")
  return { local, root }
}

const everyCommand = (local: string) => `pwd
mkdir d
cd d
put ${local}/part.bin up.bin
reput ${local}/src.bin up.bin
reget up.bin ${local}/down.bin
get up.bin ${local}/down2.bin
ls -l
rename up.bin moved.bin
ln -s moved.bin sym
ln moved.bin hard
chmod 600 moved.bin
df
rm hard
-rm nonexistent
cd ..
put -r ${local}/tree tree
get -r tree ${local}/tree-back
mkdir e
rmdir e
ls /../../
progress
`

const check = (r: { code: number | null; stdout: string; stderr: string }, local: string, root: string) => {
  assert.strictEqual(r.code, 0, r.stderr)
  assert.include(r.stdout, "Remote working directory: /")
  assert.strictEqual(sha(path.join(root, "d/moved.bin")), sha(path.join(local, "src.bin")))
  assert.strictEqual(sha(path.join(local, "down.bin")), sha(path.join(local, "src.bin")))
  assert.strictEqual(sha(path.join(local, "down2.bin")), sha(path.join(local, "src.bin")))
  assert.strictEqual(fs.readlinkSync(path.join(root, "d/sym")), "moved.bin")
  assert.isFalse(fs.existsSync(path.join(root, "d/hard")))
  assert.strictEqual(fs.statSync(path.join(root, "d/moved.bin")).mode & 0o777, 0o600)
  assert.strictEqual(fs.readFileSync(path.join(root, "tree/sub/b.txt"), "utf8"), "b\n")
  assert.strictEqual(fs.readFileSync(path.join(local, "tree-back/sub/b.txt"), "utf8"), "b\n")
  assert.isFalse(fs.existsSync(path.join(root, "e")))
  assert.match(r.stdout, /moved\.bin|up\.bin/)
}

describe.skipIf(!has)("OpenSSH sftp against our SFTP server", () => {
  it.scopedLive("sftp -b over SSH (our SshServer's sftp subsystem on a directory): every command", () =>
    Effect.gen(function*() {
      const { local, root } = fixtures()
      const port = yield* Servers.serve({ auth, subsystems: { sftp: SftpServer.handler(yield* NodeSftp.fileSystem(root)) } })
      check(yield* sftp(overSsh(port), everyCommand(local)), local, root)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("sftp -D (our server on stdio): every command", () =>
    Effect.gen(function*() {
      const { local, root } = fixtures()
      check(yield* sftp(direct(root), everyCommand(local)), local, root)
    }))

  it.scopedLive("SEC-55: a read-only server lets sftp read and refuses put, mkdir, rm, rename, chmod", () =>
    Effect.gen(function*() {
      const { local, root } = fixtures()
      fs.writeFileSync(path.join(root, "f"), "data")
      const r = yield* sftp(direct(root, true), `get f ${local}/f\n-put ${local}/src.bin x\n-mkdir m\n-rm f\n-rename f g\n-chmod 777 f\n`)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(fs.readFileSync(path.join(local, "f"), "utf8"), "data")
      assert.deepStrictEqual(fs.readdirSync(root), ["f"])
      assert.strictEqual(fs.statSync(path.join(root, "f")).mode & 0o777, 0o644)
      assert.include(r.stderr, "Permission denied")
    }))

  it.scopedLive("SEC-54: sftp cannot reach outside the root with .., absolute paths or a link to /", () =>
    Effect.gen(function*() {
      const { local, root } = fixtures()
      const outside = path.join(path.dirname(root), `${path.basename(root)}0`)
      fs.mkdirSync(outside)
      fs.writeFileSync(path.join(outside, "secret"), "s")
      fs.symlinkSync("/", path.join(root, "rootlink"))
      const rel = path.basename(outside)
      const r = yield* sftp(direct(root), `-get ../${rel}/secret ${local}/s1\n-get /../${rel}/secret ${local}/s2\n-get rootlink${outside}/secret ${local}/s3\n-get ${outside}/secret ${local}/s4\n`)
      assert.strictEqual(r.code, 0, r.stderr)
      for (const f of ["s1", "s2", "s3", "s4"]) assert.isFalse(fs.existsSync(path.join(local, f)), f)
    }))
})
