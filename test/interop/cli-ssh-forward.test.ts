/**
 * `effect-ssh ssh`'s forwarding flags against OpenSSH's sshd (AllowTcpForwarding yes), with the built CLI: -N -L
 * and -N -R with data through them (SHA-256 of 1 MiB each way), -D through curl --socks5-hostname, -W as
 * OpenSSH's own ProxyCommand for an `ssh` login, -J through one hop, a ProxyCommand from an ssh_config file, and
 * ExitOnForwardFailure making a forward sshd refuses fatal (exit 255).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import * as Fwd from "../helpers/ForwardNet.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const CURL = "/usr/bin/curl"
const has = OpenSsh.haveOpenSsh()
if (has && !fs.existsSync(CURL) && process.env.CI) throw new Error("curl is required for the -D test when CI=true")
const user = os.userInfo().username
const MiB = 1 << 20

const setup = () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-cli-fwd-"))
  const key = path.join(home, "id_ed25519")
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "cli-fwd", "-f", key])
  return { home, key, authorized: fs.readFileSync(`${key}.pub`, "utf8").trim() }
}

/** An sshd that allows TCP forwarding, and an ssh_config whose every host uses the test key. */
const server = (extra: ReadonlyArray<string> = [], log?: Array<string>) =>
  Effect.gen(function*() {
    const t = setup()
    const { port } = yield* OpenSsh.sshdTcp({
      authorizedKeys: [t.authorized],
      logLevel: log === undefined ? "INFO" : "DEBUG1",
      extra: ["AllowTcpForwarding yes", ...extra]
    }, log)
    const cfg = path.join(t.home, "config")
    const lines = [
      "Host *",
      `  User ${user}`,
      `  IdentityFile ${t.key}`,
      "  StrictHostKeyChecking no",
      "  UserKnownHostsFile /dev/null",
      "  BatchMode yes"
    ]
    fs.writeFileSync(cfg, lines.join("\n") + "\n")
    return { ...t, port, cfg, lines }
  })

/** The CLI as a long-running child (killed with the Scope); its stderr text so far. */
const background = (home: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, HOME: home } })
      const state = { stderr: "", exited: false as boolean, child: child as ChildProcess }
      child.stderr!.on("data", (d: Buffer) => (state.stderr += d.toString()))
      child.once("exit", () => (state.exited = true))
      return state
    }),
    (s) => Effect.sync(() => s.child.kill("SIGKILL"))
  )

const until = <A>(f: () => Effect.Effect<A | undefined>, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      const v = yield* f()
      if (v !== undefined) return v
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

/** The CLI run to completion, stdin closed. */
const run = (home: string, args: ReadonlyArray<string>) =>
  Effect.async<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, HOME: home }, timeout: 45_000 }, (_e, stdout, stderr) =>
      resume(Effect.succeed({ code: child.exitCode, stdout, stderr })))
    child.stdin?.end()
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe.skipIf(!has)("effect-ssh ssh forwarding against sshd", () => {
  it.scopedLive("-N -L: data through the local listener; -N keeps running until killed", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const echo = yield* Fwd.echoServer()
      const local = yield* Fwd.freePort
      const child = yield* background(s.home, ["ssh", "-F", s.cfg, "-N", "-p", String(s.port), "-L", `${local}:127.0.0.1:${echo.port}`, "127.0.0.1"])
      yield* until(() => Effect.map(Fwd.accepts(local), (ok) => (ok ? true : undefined)), "the -L listener")
      const r = yield* Fwd.echoThrough({ port: local }, MiB)
      assert.strictEqual(r.received, r.sent)
      assert.strictEqual(r.bytes, MiB)
      const again = yield* Fwd.echoThrough({ port: local }, 1000)
      assert.strictEqual(again.received, again.sent)
      // -N: no session, and the process still runs after its tunnels closed.
      yield* Effect.sleep("300 millis")
      assert.isFalse(child.exited, child.stderr)
    }), { timeout: 120_000 })

  it.scopedLive("-N -R 0: sshd allocates a port, announced as ssh does; data comes back to the local target", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const echo = yield* Fwd.echoServer()
      const child = yield* background(s.home, ["ssh", "-F", s.cfg, "-N", "-p", String(s.port), "-R", `0:127.0.0.1:${echo.port}`, "127.0.0.1"])
      const allocated = yield* until(
        () => Effect.sync(() => /Allocated port (\d+) for remote forward/.exec(child.stderr)?.[1]),
        "the allocated port"
      )
      const r = yield* Fwd.echoThrough({ port: Number(allocated) }, MiB)
      assert.strictEqual(r.received, r.sent)
      assert.strictEqual(r.bytes, MiB)
      assert.strictEqual(echo.accepted(), 1)
    }), { timeout: 120_000 })

  it.scopedLive("-N -D: curl --socks5-hostname fetches a page through the SOCKS listener", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const web = yield* Effect.acquireRelease(
        Effect.async<http.Server>((resume) => {
          const srv = http.createServer((_req, res) => res.end("hello through socks\n"))
          srv.listen(0, "127.0.0.1", () => resume(Effect.succeed(srv)))
        }),
        (srv) => Effect.sync(() => srv.close())
      )
      const address = web.address()
      const webPort = typeof address === "object" && address !== null ? address.port : 0
      const socks = yield* Fwd.freePort
      yield* background(s.home, ["ssh", "-F", s.cfg, "-N", "-p", String(s.port), "-D", String(socks), "127.0.0.1"])
      yield* until(() => Effect.map(Fwd.accepts(socks), (ok) => (ok ? true : undefined)), "the -D listener")
      const body = yield* Effect.async<string>((resume) => {
        execFile(CURL, ["-s", "--max-time", "20", "--socks5-hostname", `127.0.0.1:${socks}`, `http://localhost:${webPort}/`], (_e, out) =>
          resume(Effect.succeed(out)))
      })
      assert.strictEqual(body, "hello through socks\n")
    }), { timeout: 120_000 })

  it.scopedLive("-W host:port serves as OpenSSH's ProxyCommand for an ssh login", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const proxy = `${process.execPath} ${BIN} ssh -F ${s.cfg} -p ${s.port} -W %h:%p 127.0.0.1`
      const r = yield* OpenSsh.ssh([
        ...OpenSsh.sshLogin(s.port, s.key),
        "-o", `ProxyCommand=${proxy}`,
        "-l", user, "127.0.0.1", "echo via-stdio-forward"
      ], { env: { HOME: s.home } })
      assert.strictEqual(r.stdout.toString(), "via-stdio-forward\n", r.stderr)
      assert.strictEqual(r.code, 0)
    }), { timeout: 120_000 })

  it.scopedLive("-J through one hop, and a ProxyCommand from the ssh_config file (SEC-69: %h %p quoted by NodeProxyCommand)", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const s = yield* server([], log)
      const jumped = yield* run(s.home, ["ssh", "-F", s.cfg, "-J", `${user}@127.0.0.1:${s.port}`, "-p", String(s.port), "127.0.0.1", "echo jumped"])
      assert.strictEqual(jumped.stdout, "jumped\n", jumped.stderr)
      assert.strictEqual(jumped.code, 0)
      // The hop (this same sshd) served a direct-tcpip to the target: the login went through it.
      assert.include(log.join(""), `target 127.0.0.1 port ${s.port}`)
      // The ProxyCommand is OpenSSH's ssh -W, its %h %p filled in (quoted) by effect-ssh.
      const login = OpenSsh.sshLogin(s.port, s.key).join(" ")
      const cfg = path.join(s.home, "proxied")
      fs.writeFileSync(cfg, [
        "Host behind",
        "  HostName 127.0.0.1",
        `  Port ${s.port}`,
        `  ProxyCommand ${OpenSsh.SSH} ${login} -l ${user} -W %h:%p 127.0.0.1`,
        ...s.lines
      ].join("\n") + "\n")
      const proxied = yield* run(s.home, ["ssh", "-F", cfg, "behind", "echo proxied"])
      assert.strictEqual(proxied.stdout, "proxied\n", proxied.stderr)
      assert.strictEqual(proxied.code, 0)
    }), { timeout: 120_000 })

  it.scopedLive("ExitOnForwardFailure: a remote forward sshd refuses ends the command with 255; without it, a warning", () =>
    Effect.gen(function*() {
      const s = yield* server(["PermitListen 127.0.0.1:1"])
      const echo = yield* Fwd.echoServer()
      const fatal = yield* run(s.home, [
        "ssh", "-F", s.cfg, "-o", "ExitOnForwardFailure=yes", "-p", String(s.port), "-R", `0:127.0.0.1:${echo.port}`, "127.0.0.1", "echo ran"
      ])
      assert.strictEqual(fatal.code, 255)
      assert.strictEqual(fatal.stdout, "")
      assert.match(fatal.stderr, /remote port forwarding failed/)
      const warned = yield* run(s.home, ["ssh", "-F", s.cfg, "-p", String(s.port), "-R", `0:127.0.0.1:${echo.port}`, "127.0.0.1", "echo ran"])
      assert.strictEqual(warned.stdout, "ran\n", warned.stderr)
      assert.match(warned.stderr, /Warning: remote port forwarding failed/)
    }), { timeout: 120_000 })
})
