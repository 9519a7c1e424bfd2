/**
 * SCP over SFTP (OpenSSH 9's default) against OpenSSH's sshd with its sftp-server: `effect-ssh scp` with and
 * without -O, both directions, recursive with -p (contents, mtimes and modes checked), and the library's
 * `Scp.upload/download` with `protocol: "sftp"`. SEC-57/58: a download into a directory writes only under it.
 * And the other way round: OpenSSH's `scp` in its SFTP mode (no -O) against `effect-ssh serve` (in-process sftp).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as Scp from "../../src/scp/Scp.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { tree } from "../helpers/TempDir.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"

const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const SFTP_SERVER = "/usr/lib/openssh/sftp-server"
const has = OpenSsh.haveOpenSsh() && fs.existsSync(SFTP_SERVER)
const me = os.userInfo().username


const setup = Effect.gen(function*() {
  const dir = yield* OpenSshAgent.tempDir("effect-ssh-scp-sftp-")
  const pub = yield* OpenSshAgent.keygen(path.join(dir, "id"), "ed25519", "scp-sftp@test")
  const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [pub], logLevel: "INFO", extra: [`Subsystem sftp ${SFTP_SERVER}`] })
  fs.mkdirSync(path.join(dir, "tree", "sub", "deeper"), { recursive: true })
  fs.writeFileSync(path.join(dir, "tree", "top.txt"), "top\n")
  fs.writeFileSync(path.join(dir, "tree", "sub", "f"), "F")
  fs.writeFileSync(path.join(dir, "tree", "sub", "deeper", "empty"), "")
  fs.chmodSync(path.join(dir, "tree", "sub", "f"), 0o640)
  fs.utimesSync(path.join(dir, "tree", "sub", "f"), 1_000_000_000, 1_000_000_000)
  return { dir, port }
})

describe.skipIf(!has)("scp over SFTP ↔ OpenSSH sshd + sftp-server", () => {
  it.scopedLive("effect-ssh scp -r -p both ways, over SFTP (default) and the legacy protocol (-O)", () =>
    Effect.gen(function*() {
      const t = yield* setup
      const scp = (args: ReadonlyArray<string>) =>
        OpenSshAgent.run(process.execPath, [
          BIN, "scp", "-P", String(t.port), "-i", path.join(t.dir, "id"), "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", ...args
        ], {}, { timeoutMs: 60_000 })
      const expected = tree(path.join(t.dir, "tree"))
      for (const mode of [[], ["-O"]]) {
        const name = mode.length === 0 ? "sftp" : "legacy"
        const remote = path.join(t.dir, `remote-${name}`)
        const up = yield* scp([...mode, "-r", "-p", path.join(t.dir, "tree"), `127.0.0.1:${remote}`])
        assert.strictEqual(up.code, 0, up.stderr)
        assert.deepStrictEqual(tree(remote), expected)
        const f = path.join(remote, "sub", "f")
        assert.strictEqual(Math.floor(fs.statSync(f).mtimeMs / 1000), 1_000_000_000)
        assert.strictEqual(fs.statSync(f).mode & 0o777, 0o640)
        const back = path.join(t.dir, `back-${name}`)
        fs.mkdirSync(back)
        const down = yield* scp([...mode, "-r", "-p", `127.0.0.1:${remote}`, back])
        assert.strictEqual(down.code, 0, down.stderr)
        // Into an existing directory: by the source's base name, and nothing beside it (SEC-57/58).
        assert.deepStrictEqual(fs.readdirSync(back), [`remote-${name}`])
        assert.deepStrictEqual(tree(path.join(back, `remote-${name}`)), expected)
        const g = path.join(back, `remote-${name}`, "sub", "f")
        assert.strictEqual(Math.floor(fs.statSync(g).mtimeMs / 1000), 1_000_000_000)
        assert.strictEqual(fs.statSync(g).mode & 0o777, 0o640)
      }
      // The default really is SFTP: an sshd without the sftp subsystem refuses it, and -O still works there.
      const pub = fs.readFileSync(path.join(t.dir, "id.pub"), "utf8").trim()
      const bare = yield* OpenSsh.sshdTcp({ authorizedKeys: [pub], logLevel: "INFO" })
      const viaBare = (args: ReadonlyArray<string>) =>
        OpenSshAgent.run(process.execPath, [
          BIN, "scp", "-P", String(bare.port), "-i", path.join(t.dir, "id"), "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", ...args
        ], {}, { timeoutMs: 60_000 })
      const noSftp = yield* viaBare([path.join(t.dir, "tree", "top.txt"), `127.0.0.1:${path.join(t.dir, "bare-sftp.txt")}`])
      assert.strictEqual(noSftp.code, 1, noSftp.stderr)
      assert.isFalse(fs.existsSync(path.join(t.dir, "bare-sftp.txt")))
      const legacyOk = yield* viaBare(["-O", path.join(t.dir, "tree", "top.txt"), `127.0.0.1:${path.join(t.dir, "bare-scp.txt")}`])
      assert.strictEqual(legacyOk.code, 0, legacyOk.stderr)
      assert.strictEqual(fs.readFileSync(path.join(t.dir, "bare-scp.txt"), "utf8"), "top\n")
      const missing = yield* scp([`127.0.0.1:${path.join(t.dir, "nope")}`, path.join(t.dir, "x")])
      assert.strictEqual(missing.code, 1)
      assert.match(missing.stderr, /No such file/)
      assert.isFalse(fs.existsSync(path.join(t.dir, "x")))
    }), { timeout: 180_000 })

  it.scopedLive("Scp.upload/download with protocol sftp: several sources into a directory, progress counts every byte", () =>
    Effect.gen(function*() {
      const t = yield* setup
      const ssh = yield* SshClient.connect({
        host: "127.0.0.1",
        port: t.port,
        username: me,
        auth: [Auth.privateKeyFile(path.join(t.dir, "id"))],
        hostKeys: HostKeyPolicy.insecureAcceptAny
      })
      const into = path.join(t.dir, "into")
      fs.mkdirSync(into)
      let bytes = 0
      yield* Scp.upload(ssh, [path.join(t.dir, "tree", "top.txt"), path.join(t.dir, "tree", "sub", "f")], into, {
        protocol: "sftp",
        onProgress: (p) => Effect.sync(() => (bytes = Math.max(bytes, p.bytes)))
      })
      assert.deepStrictEqual(tree(into), { "top.txt": "top\n", f: "F" })
      assert.isAtLeast(bytes, 1)
      // Several sources into something that is not a directory: refused before any transfer.
      const e = yield* Effect.flip(Scp.upload(ssh, [path.join(t.dir, "tree", "top.txt"), path.join(t.dir, "tree", "sub", "f")], path.join(into, "top.txt")))
      assert.strictEqual(e._tag, "ScpError")
      const single = path.join(t.dir, "single.txt")
      yield* Scp.download(ssh, path.join(into, "top.txt"), single)
      assert.strictEqual(fs.readFileSync(single, "utf8"), "top\n")
      const dirErr = yield* Effect.flip(Scp.download(ssh, into, path.join(t.dir, "nodir")))
      assert.strictEqual(dirErr._tag, "ScpError")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 120_000 })

  it.scopedLive("OpenSSH scp (SFTP mode, no -O) -r -p both ways against effect-ssh serve", () =>
    Effect.gen(function*() {
      const t = yield* setup
      const hostKey = path.join(t.dir, "host_key")
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, [
            BIN, "serve", "--listen", "127.0.0.1:0", "--host-key", hostKey, "--authorized-keys", path.join(t.dir, "id.pub")
          ], { stdio: ["ignore", "pipe", "pipe"] })
        ),
        (c) => Effect.sync(() => c.kill("SIGKILL"))
      )
      const port = yield* Effect.async<number, Error>((resume) => {
        let out = ""
        const timer = setTimeout(() => resume(Effect.fail(new Error(`no address in 20s: ${out}`))), 20_000)
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString()
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out)
          if (m !== null && /echo service/.test(out)) {
            clearTimeout(timer)
            resume(Effect.succeed(Number(m[1])))
          }
        })
      })
      const scp = (args: ReadonlyArray<string>) =>
        OpenSshAgent.run("/usr/bin/scp", [
          "-F", "/dev/null", "-P", String(port), "-i", path.join(t.dir, "id"), "-o", "IdentitiesOnly=yes",
          "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", ...args
        ], {}, { timeoutMs: 60_000 })
      const expected = tree(path.join(t.dir, "tree"))
      const remote = path.join(t.dir, "served")
      const up = yield* scp(["-r", "-p", path.join(t.dir, "tree"), `127.0.0.1:${remote}`])
      assert.strictEqual(up.code, 0, up.stderr)
      assert.deepStrictEqual(tree(remote), expected)
      assert.strictEqual(Math.floor(fs.statSync(path.join(remote, "sub", "f")).mtimeMs / 1000), 1_000_000_000)
      const back = path.join(t.dir, "served-back")
      const down = yield* scp(["-r", "-p", `127.0.0.1:${remote}`, back])
      assert.strictEqual(down.code, 0, down.stderr)
      assert.deepStrictEqual(tree(back), expected)
      assert.strictEqual(fs.statSync(path.join(back, "sub", "f")).mode & 0o777, 0o640)
      // It was SFTP: this server runs no commands (its exec is the echo service), so `scp -t`/`-f` could not work.
      const legacy = yield* scp(["-O", path.join(t.dir, "tree", "top.txt"), `127.0.0.1:${path.join(t.dir, "legacy.txt")}`])
      assert.notStrictEqual(legacy.code, 0)
      assert.isFalse(fs.existsSync(path.join(t.dir, "legacy.txt")))
    }), { timeout: 120_000 })
})
