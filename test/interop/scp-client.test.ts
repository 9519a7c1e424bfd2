/**
 * Scp.upload / Scp.download against OpenSSH's sshd (its scp is the remote side): files and directories both
 * ways, recursive, times and modes preserved, progress reported; names with spaces, quotes and `;` round-trip with
 * no command run (SEC-59); a path with a newline is refused before anything is sent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as Scp from "../../src/scp/Scp.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { tree } from "../helpers/TempDir.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"
import { authorizedKeyLine } from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh() && fs.existsSync("/usr/bin/scp")
const key = NodeCrypto.generateKey({ type: "ed25519" })
const me = os.userInfo().username
/** These tests drive the legacy protocol (scp -O): sshd's own scp is the remote side. */
const legacy = { protocol: "scp" } as const

const connect = Effect.gen(function*() {
  const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [authorizedKeyLine(key)], logLevel: "INFO" })
  return yield* SshClient.connect({
    host: "127.0.0.1",
    port,
    username: me,
    auth: [Auth.privateKey(key)],
    hostKeys: HostKeyPolicy.insecureAcceptAny
  })
})

const write = (file: string, text: string, mode = 0o644, mtime?: number) => {
  fs.mkdirSync(path.dirname(file), { ...legacy, recursive: true })
  fs.writeFileSync(file, text, { mode })
  fs.chmodSync(file, mode)
  if (mtime !== undefined) fs.utimesSync(file, mtime, mtime)
}


describe.skipIf(!has)("Scp ↔ OpenSSH sshd (scp -t / scp -f)", () => {
  it.scopedLive("upload and download one file; -p keeps mtime and mode; progress counts every byte", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-scp-")
      const ssh = yield* connect
      const src = path.join(dir, "local.txt")
      const big = "x".repeat(200_000)
      write(src, big, 0o640, 1_000_000_000)
      const progress: Array<number> = []
      yield* Scp.upload(ssh, [src], path.join(dir, "remote.txt"), {
        ...legacy,
        preserve: true,
        onProgress: (p) => Effect.sync(() => progress.push(p.bytes))
      })
      const remote = path.join(dir, "remote.txt")
      assert.strictEqual(fs.readFileSync(remote, "utf8"), big)
      assert.strictEqual(fs.statSync(remote).mode & 0o777, 0o640)
      assert.strictEqual(Math.floor(fs.statSync(remote).mtimeMs / 1000), 1_000_000_000)
      assert.strictEqual(progress[progress.length - 1], 200_000)
      const back = path.join(dir, "back.txt")
      yield* Scp.download(ssh, remote, back, { ...legacy, preserve: true })
      assert.strictEqual(fs.readFileSync(back, "utf8"), big)
      assert.strictEqual(Math.floor(fs.statSync(back).mtimeMs / 1000), 1_000_000_000)
      // Into a directory: the file keeps its name.
      const into = path.join(dir, "into")
      fs.mkdirSync(into)
      yield* Scp.download(ssh, remote, into, legacy)
      assert.strictEqual(fs.readFileSync(path.join(into, "remote.txt"), "utf8"), big)
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("recursive both ways: nested directories, an empty file, several sources into a directory", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-scp-")
      const ssh = yield* connect
      const src = path.join(dir, "src")
      write(path.join(src, "a.txt"), "A")
      write(path.join(src, "sub", "b.txt"), "B")
      write(path.join(src, "sub", "deeper", "empty"), "")
      const up = path.join(dir, "up")
      fs.mkdirSync(up)
      yield* Scp.upload(ssh, [src, path.join(dir, "src", "a.txt")], up, { ...legacy, recursive: true })
      assert.deepStrictEqual(tree(up), { "a.txt": "A", "src/a.txt": "A", "src/sub/b.txt": "B", "src/sub/deeper/empty": "" })
      const down = path.join(dir, "down")
      yield* Scp.download(ssh, path.join(up, "src"), down, { ...legacy, recursive: true })
      assert.deepStrictEqual(tree(down), { "a.txt": "A", "sub/b.txt": "B", "sub/deeper/empty": "" })
      // Without recursive, a directory is refused locally.
      const e = yield* Effect.flip(Scp.upload(ssh, [src], up, legacy))
      assert.strictEqual(e._tag === "ScpError" && e.reason, "Local")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("SEC-59: names with spaces, quotes, `;`, $(…) and backquotes round-trip, and no command runs", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-scp-")
      const ssh = yield* connect
      const src = path.join(dir, "payload")
      write(src, "data")
      const marker = path.join(dir, "pwn")
      const names = [
        `x\`touch ${marker}1\``,
        `$(touch ${marker}2)`,
        `a;touch ${marker}3`,
        "-oProxyCommand=x",
        "it's a \"file\" with spaces"
      ]
      for (const name of names) {
        // Relative to the remote home would leave files behind: target a path inside the temp dir.
        const remote = path.join(dir, name.replace(/\//g, "_"))
        yield* Scp.upload(ssh, [src], remote, legacy)
        assert.strictEqual(fs.readFileSync(remote, "utf8"), "data", name)
        const back = path.join(dir, `back-${names.indexOf(name)}`)
        yield* Scp.download(ssh, remote, back, legacy)
        assert.strictEqual(fs.readFileSync(back, "utf8"), "data", name)
      }
      for (const n of [1, 2, 3]) assert.isFalse(fs.existsSync(`${marker}${n}`), `pwn${n} must not exist`)
      const e = yield* Effect.flip(Scp.upload(ssh, [src], path.join(dir, "a\nb"), legacy))
      assert.strictEqual(e._tag === "ScpError" && e.reason, "BadPath")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("a missing remote file: ScpError Remote with scp's message", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-scp-")
      const ssh = yield* connect
      const e = yield* Effect.flip(Scp.download(ssh, path.join(dir, "nope"), path.join(dir, "x"), legacy))
      assert.strictEqual(e._tag === "ScpError" && e.reason, "Remote")
      assert.include(e.message, "No such file")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})

