/**
 * `effect-ssh serve` as a child process, for the defects of issue 11: a port in use is named as such (not
 * "Open"), a failed password is logged as sshd logs it (not "Fiber terminated"), and the generated host key goes
 * to the per-user state directory (`$XDG_STATE_HOME/effect-ssh`), not the current directory, and says where.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const BIN = path.resolve(__dirname, "../../bin/effect-ssh.mjs")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-serve-errors-"))

const run = (args: ReadonlyArray<string>, env: Record<string, string>, cwd: string) =>
  Effect.acquireRelease(
    Effect.sync(() => spawn(process.execPath, [BIN, "serve", ...args], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })),
    (c: ChildProcess) => Effect.sync(() => c.kill("SIGKILL"))
  ).pipe(Effect.map((child) => {
    const out = { stdout: "", stderr: "" }
    child.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()))
    child.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()))
    const exit = Effect.async<number | null>((resume) => {
      if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
      child.once("exit", (code) => resume(Effect.succeed(code)))
    })
    const until = (re: RegExp) =>
      Effect.async<RegExpExecArray, Error>((resume) => {
        const check = () => {
          const m = re.exec(out.stdout + out.stderr)
          if (m !== null) resume(Effect.succeed(m))
        }
        child.stdout!.on("data", check)
        child.stderr!.on("data", check)
        child.once("exit", () => resume(Effect.fail(new Error(`exited: ${out.stdout} ${out.stderr}`))))
        check()
      })
    return { out, exit, until }
  }))

describe.skipIf(!has)("effect-ssh serve: errors and defaults (issue 11)", () => {
  it.scopedLive("a port in use: 'cannot listen on 127.0.0.1:N: address already in use', exit 1", () =>
    Effect.gen(function*() {
      const busy = net.createServer()
      const port = yield* Effect.async<number>((resume) => {
        busy.listen(0, "127.0.0.1", () => resume(Effect.succeed((busy.address() as net.AddressInfo).port)))
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => busy.close()))
      const p = yield* run(["--listen", `127.0.0.1:${port}`, "--host-key", path.join(dir, "hk_busy")], {}, dir)
      assert.strictEqual(yield* p.exit, 1)
      assert.include(p.out.stderr, `cannot listen on 127.0.0.1:${port}: address already in use`)
      assert.notInclude(p.out.stderr, ": Open")
    }), 60_000)

  it.scopedLive("the host key is generated in $XDG_STATE_HOME/effect-ssh (said on stdout); a failed password is logged as 'Failed password'", () =>
    Effect.gen(function*() {
      const cwd = fs.mkdtempSync(path.join(dir, "cwd-"))
      const state = path.join(dir, "state")
      const p = yield* run(["--listen", "127.0.0.1:0", "--password", "alice", "-v"], {
        XDG_STATE_HOME: state,
        EFFECT_SSH_PASSWORD: "right"
      }, cwd)
      const m = yield* p.until(/listening on 127\.0\.0\.1:(\d+)[\s\S]*echo service/)
      const key = path.join(state, "effect-ssh", "ssh_host_ed25519_key")
      assert.include(p.out.stdout, `generated host key ${key}`)
      assert.strictEqual(fs.statSync(key).mode & 0o777, 0o600)
      assert.deepStrictEqual(fs.readdirSync(cwd), [], "nothing is written into the current directory")
      const askpass = path.join(dir, "askpass")
      fs.writeFileSync(askpass, "#!/bin/sh\necho wrong\n", { mode: 0o755 })
      const r = yield* OpenSsh.ssh([
        "-F", "/dev/null", "-p", m[1]!, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1", "-o", "LogLevel=ERROR",
        "alice@127.0.0.1", "true"
      ], { env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: "none" } })
      assert.strictEqual(r.code, 255)
      yield* p.until(/Failed password for alice from 127\.0\.0\.1/)
      assert.notInclude(p.out.stderr, "Fiber terminated")
    }), 60_000)
})
