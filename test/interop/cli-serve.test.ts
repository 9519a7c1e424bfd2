/**
 * `effect-ssh serve` as a child process (bin/effect-ssh.mjs) with OpenSSH's `ssh` against it: the echo service,
 * `--exec local` (output and exit status), the generated host key (read by ssh-keygen, its fingerprint as
 * printed), an unauthorized key refused, password login through SSH_ASKPASS.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const BIN = path.resolve(__dirname, "../../bin/effect-ssh.mjs")

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-cli-serve-"))
const keyFile = path.join(dir, "id_ed25519")
const otherKey = path.join(dir, "other")
const authorized = path.join(dir, "authorized_keys")
if (has) {
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", otherKey])
  fs.writeFileSync(
    authorized,
    `# a comment\nno-such-option ${fs.readFileSync(`${keyFile}.pub`, "utf8")}${fs.readFileSync(`${keyFile}.pub`, "utf8")}`
  )
}

interface Server {
  readonly port: number
  readonly stdout: () => string
  readonly stderr: () => string
}

/** Starts `effect-ssh serve --listen 127.0.0.1:0 …`, waits for its address line; killed by the scope. */
const serve = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [BIN, "serve", "--listen", "127.0.0.1:0", ...args], {
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, ...env }
        })
      ),
      (c: ChildProcess) => Effect.sync(() => c.kill("SIGKILL"))
    )
    let out = ""
    let err = ""
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    const port = yield* Effect.async<number, Error>((resume) => {
      const timer = setTimeout(() => resume(Effect.fail(new Error(`no address in 20s: ${out} ${err}`))), 20_000)
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString()
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out)
        if (m !== null && /echo service|running commands locally/.test(out)) {
          clearTimeout(timer)
          resume(Effect.succeed(Number(m[1])))
        }
      })
      child.once("exit", (code) => {
        clearTimeout(timer)
        resume(Effect.fail(new Error(`serve exited with ${code}: ${out} ${err}`)))
      })
    })
    return { port, stdout: () => out, stderr: () => err } satisfies Server
  })

const ssh = (port: number, identity: string, command: string, extra: ReadonlyArray<string> = [], env = {}) =>
  Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
    const child = spawn(OpenSsh.SSH, [
      "-F", "/dev/null", "-p", String(port), "-i", identity,
      "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
      ...extra, "user@127.0.0.1", command
    ], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
    let out = ""
    let err = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout: out, stderr: err }))
    })
  })

const batch = ["-o", "BatchMode=yes"]

describe.skipIf(!has)("effect-ssh serve ↔ OpenSSH ssh", () => {
  it.scopedLive("echo service; the host key is generated on first start, ssh-keygen reads it", () =>
    Effect.gen(function*() {
      const hostKey = path.join(dir, "host_echo")
      const server = yield* serve(["--host-key", hostKey, "--authorized-keys", authorized])
      const r = yield* ssh(server.port, keyFile, "echo hi", batch)
      assert.strictEqual(r.stdout, "you ran: echo hi\n", r.stderr)
      assert.strictEqual(r.code, 0)
      // Generated: mode 0600, openssh-key-v1 that ssh-keygen reads, the printed fingerprint is its own.
      assert.strictEqual(fs.statSync(hostKey).mode & 0o777, 0o600)
      const pub = execFileSync(OpenSsh.SSH_KEYGEN, ["-y", "-f", hostKey]).toString()
      assert.match(pub, /^ssh-ed25519 AAAA/)
      const fingerprint = execFileSync(OpenSsh.SSH_KEYGEN, ["-l", "-f", hostKey]).toString().split(" ")[1]!
      assert.match(fingerprint, /^SHA256:/)
      assert.include(server.stdout(), `256 ${fingerprint} ${hostKey} (ED25519)`)
      // The line with an unknown option was skipped with a warning (SEC-64).
      assert.include(server.stderr(), "line skipped")
    }))

  it.scopedLive("the saved host key is read again on the next start (same fingerprint)", () =>
    Effect.gen(function*() {
      const hostKey = path.join(dir, "host_again")
      const first = yield* Effect.scoped(
        Effect.map(serve(["--host-key", hostKey, "--authorized-keys", authorized]), (s) => s.stdout())
      )
      const second = yield* serve(["--host-key", hostKey, "--authorized-keys", authorized])
      const fp = (s: string) => /host key 256 (SHA256:\S+)/.exec(s)?.[1]
      assert.include(first, "generated host key")
      assert.notInclude(second.stdout(), "generated host key")
      assert.strictEqual(fp(second.stdout()), fp(first))
      assert.isDefined(fp(first))
    }))

  it.scopedLive("--exec local: output and exit status of local commands", () =>
    Effect.gen(function*() {
      const server = yield* serve(["--host-key", path.join(dir, "host_local"), "--authorized-keys", authorized, "--exec", "local"])
      const hi = yield* ssh(server.port, keyFile, "echo hi", batch)
      assert.strictEqual(hi.stdout, "hi\n", hi.stderr)
      assert.strictEqual(hi.code, 0)
      const four = yield* ssh(server.port, keyFile, "echo oops >&2; exit 4", batch)
      assert.strictEqual(four.code, 4)
      assert.include(four.stderr, "oops")
    }))

  it.scopedLive("an unauthorized key is refused: ssh exits 255", () =>
    Effect.gen(function*() {
      const server = yield* serve(["--host-key", path.join(dir, "host_refuse"), "--authorized-keys", authorized])
      const r = yield* ssh(server.port, otherKey, "echo hi", batch)
      assert.strictEqual(r.code, 255)
      assert.include(r.stderr, "Permission denied")
      assert.strictEqual(r.stdout, "")
    }))

  it.scopedLive("--password USER with $EFFECT_SSH_PASSWORD (ssh through SSH_ASKPASS)", () =>
    Effect.gen(function*() {
      const server = yield* serve(
        ["--host-key", path.join(dir, "host_password"), "--password", "user"],
        { EFFECT_SSH_PASSWORD: "s3cret" }
      )
      const askpass = (pw: string) => {
        const file = path.join(dir, `askpass-${pw}`)
        fs.writeFileSync(file, `#!/bin/sh\necho '${pw}'\n`, { mode: 0o700 })
        return { SSH_ASKPASS: file, SSH_ASKPASS_REQUIRE: "force", DISPLAY: ":0" }
      }
      const opts = ["-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1"]
      const ok = yield* ssh(server.port, keyFile, "x", opts, askpass("s3cret"))
      assert.strictEqual(ok.stdout, "you ran: x\n", ok.stderr)
      const bad = yield* ssh(server.port, keyFile, "x", opts, askpass("wrong"))
      assert.strictEqual(bad.code, 255)
    }))

  it.effect("--password without $EFFECT_SSH_PASSWORD fails at start", () =>
    Effect.sync(() => {
      const env = { ...process.env }
      delete env.EFFECT_SSH_PASSWORD
      let code = 0
      let stderr = ""
      try {
        execFileSync(process.execPath, [BIN, "serve", "--listen", "127.0.0.1:0", "--host-key", path.join(dir, "host_nopw"), "--password", "u"], {
          env,
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 20_000
        })
      } catch (e) {
        const err = e as { status: number; stderr: Buffer }
        code = err.status
        stderr = err.stderr.toString()
      }
      assert.strictEqual(code, 1)
      assert.include(stderr, "EFFECT_SSH_PASSWORD")
      assert.isFalse(fs.existsSync(path.join(dir, "host_nopw")))
    }))
})
