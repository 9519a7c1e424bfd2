/**
 * `effect-ssh ssh` options against sshd on 127.0.0.1: -f (the detached re-exec with a ready pipe) with -N -L,
 * a jump host's own ProxyJump followed (as ssh's -J recursion does), ClearAllForwardings, PubkeyAcceptedAlgorithms
 * and HostKeyAlias applied (checked against OpenSSH's ssh on the same config), the agent not contacted without
 * publickey in PreferredAuthentications, and ssh's permission check on ~/.ssh/config and Included files.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Fwd from "../helpers/ForwardNet.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const has = OpenSsh.haveOpenSsh()
const user = os.userInfo().username

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI; resolves at its exit (not when its stdio closes: a -f background copy keeps them open). */
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.async<Result>((resume) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("exit", (code) => setTimeout(() => resume(Effect.succeed({ code, stdout, stderr })), 50))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`effect-ssh ${args.join(" ")} hung`) }), Effect.orDie)

const server = (extra: ReadonlyArray<string> = [], log?: Array<string>) =>
  Effect.gen(function*() {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-cli-opts-"))
    const key = path.join(home, "id_ed25519")
    execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "cli-opts", "-f", key])
    const { port } = yield* OpenSsh.sshdTcp({
      authorizedKeys: [fs.readFileSync(`${key}.pub`, "utf8").trim()],
      logLevel: log === undefined ? "INFO" : "DEBUG1",
      extra: ["AllowTcpForwarding yes", ...extra]
    }, log)
    const common = ["Host *", `  User ${user}`, `  IdentityFile ${key}`, "  IdentitiesOnly yes", "  BatchMode yes"]
    const cfg = path.join(home, "config")
    fs.writeFileSync(cfg, [...common, "  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null"].join("\n") + "\n")
    return { home, key, port, cfg, common }
  })

describe.skipIf(!has)("effect-ssh ssh -f", () => {
  it.scopedLive("-f -N -L: the foreground exits 0 once logged in, the tunnel lives on in the background", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const local = yield* Fwd.freePort
      const r = yield* run(["ssh", "-F", s.cfg, "-f", "-N", "-L", `${local}:127.0.0.1:${s.port}`, "-p", String(s.port), "127.0.0.1"])
      assert.strictEqual(r.code, 0, r.stderr)
      // Through the background copy's -L: sshd's own banner.
      const banner = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect(local, "127.0.0.1")
          socket.once("data", (d) => {
            resolve(d.toString())
            socket.destroy()
          })
          socket.once("error", reject)
        })
      )
      assert.match(banner, /^SSH-2\.0-OpenSSH/)
    }), { timeout: 120_000 })

  it.scopedLive("-f with a failing login exits with the background copy's status and message; -f alone is refused", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const r = yield* run(["ssh", "-F", s.cfg, "-f", "-o", "IdentityFile=/nonexistent", "-o", "IdentitiesOnly=yes", "-l", "nobody-here", "-p", String(s.port), "127.0.0.1", "true"])
      assert.strictEqual(r.code, 255)
      assert.match(r.stderr, /authentication as nobody-here on 127\.0\.0\.1:\d+ failed/, r.stderr)
      const alone = yield* run(["ssh", "-F", s.cfg, "-f", "-p", String(s.port), "127.0.0.1"])
      assert.strictEqual(alone.code, 255)
      assert.include(alone.stderr, "Cannot fork into background without a command to execute.")
    }), { timeout: 120_000 })
})

const CURL = "/usr/bin/curl"
if (has && !fs.existsSync(CURL) && process.env.CI) throw new Error("curl is required for the -R dynamic test when CI=true")

describe.skipIf(!has || !fs.existsSync(CURL))("effect-ssh ssh -R port (remote dynamic forward)", () => {
  it.scopedLive("curl --socks5-hostname through sshd's listener reaches a local web server; PermitRemoteOpen refuses others", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const web = yield* Effect.acquireRelease(
        Effect.async<http.Server>((resume) => {
          const srv = http.createServer((_req, res) => res.end("hello through remote socks\n"))
          srv.listen(0, "127.0.0.1", () => resume(Effect.succeed(srv)))
        }),
        (srv) => Effect.sync(() => srv.close())
      )
      const address = web.address()
      const webPort = typeof address === "object" && address !== null ? address.port : 0
      const curl = (socks: number) =>
        Effect.async<string>((resume) => {
          execFile(CURL, ["-s", "--max-time", "20", "--socks5-hostname", `127.0.0.1:${socks}`, `http://127.0.0.1:${webPort}/`], (_e, out) =>
            resume(Effect.succeed(out)))
        })
      // -f: the foreground returns once the server listens, so curl can go at once.
      const open = yield* Fwd.freePort
      const r = yield* run(["ssh", "-F", s.cfg, "-f", "-N", "-R", String(open), "-p", String(s.port), "127.0.0.1"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(yield* curl(open), "hello through remote socks\n")
      const limited = yield* Fwd.freePort
      const r2 = yield* run([
        "ssh", "-F", s.cfg, "-f", "-N", "-o", "PermitRemoteOpen=127.0.0.1:1 localhost:*", "-R", String(limited), "-p", String(s.port), "127.0.0.1"
      ])
      assert.strictEqual(r2.code, 0, r2.stderr)
      assert.strictEqual(yield* curl(limited), "")
    }), { timeout: 120_000 })
})

describe.skipIf(!has)("effect-ssh ssh: hops, forwarding and authentication options", () => {
  it.scopedLive("a jump host's own ProxyJump is followed: target ← hop2 ← hop1, two direct-tcpip requests in sshd's log", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const s = yield* server([], log)
      const cfg = path.join(s.home, "chain")
      fs.writeFileSync(cfg, [
        "Host target hop1 hop2",
        "  HostName 127.0.0.1",
        `  Port ${s.port}`,
        "Host target",
        "  ProxyJump hop2",
        "Host hop2",
        "  ProxyJump hop1",
        ...s.common,
        "  StrictHostKeyChecking no",
        "  UserKnownHostsFile /dev/null"
      ].join("\n") + "\n")
      const r = yield* run(["ssh", "-F", cfg, "target", "echo chained"])
      assert.strictEqual(r.stdout, "chained\n", r.stderr)
      const requests = log.join("").match(/server_request_direct_tcpip: originator/g) ?? []
      assert.strictEqual(requests.length, 2)
      // -o reaches the destination only (ssh passes no -o to the ssh it runs for a hop): of the three key
      // exchanges, one uses the cipher asked for.
      log.length = 0
      const forced = yield* run(["ssh", "-F", cfg, "-o", "Ciphers=aes128-ctr", "target", "echo forced"])
      assert.strictEqual(forced.stdout, "forced\n", forced.stderr)
      const text = log.join("")
      assert.strictEqual((text.match(/kex: client->server cipher: aes128-ctr/g) ?? []).length, 1, text)
      assert.strictEqual((text.match(/kex: client->server cipher: /g) ?? []).length, 3)
    }), { timeout: 120_000 })

  it.scopedLive("ClearAllForwardings drops -L: the remote command finds the port closed; without it, open", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const local = yield* Fwd.freePort
      // The remote command runs on this machine: it probes the forward's local port.
      const probe = `python3 -c "import socket; socket.create_connection(('127.0.0.1', ${local})); print('open')" 2>/dev/null || echo closed`
      const base = ["ssh", "-F", s.cfg, "-L", `${local}:127.0.0.1:${s.port}`, "-p", String(s.port), "127.0.0.1"]
      const cleared = yield* run([...base.slice(0, 3), "-o", "ClearAllForwardings=yes", ...base.slice(3), probe])
      assert.strictEqual(cleared.stdout, "closed\n", cleared.stderr)
      const kept = yield* run([...base, probe])
      assert.strictEqual(kept.stdout, "open\n", kept.stderr)
    }), { timeout: 120_000 })

  it.scopedLive("PubkeyAcceptedAlgorithms: an Ed25519 key is not offered when the list excludes it, as with OpenSSH's ssh", () =>
    Effect.gen(function*() {
      const s = yield* server()
      for (const [list, works] of [["ssh-ed25519", true], ["rsa-sha2-512,rsa-sha2-256", false], ["-ssh-ed25519*", false], ["+ssh-rsa", true]] as const) {
        const args = ["-F", s.cfg, "-o", `PubkeyAcceptedAlgorithms=${list}`, "-p", String(s.port), "127.0.0.1", "echo in"]
        const ours = yield* run(["ssh", ...args])
        const theirs = yield* OpenSsh.ssh(args, { env: { HOME: s.home } })
        assert.strictEqual(ours.code === 0, works, `${list}: ${ours.stderr}`)
        assert.strictEqual(theirs.code === 0, works, `OpenSSH ${list}: ${theirs.stderr}`)
      }
    }), { timeout: 180_000 })

  it.scopedLive("HostKeyAlias: known_hosts is searched under the alias (no port), as OpenSSH's ssh searches it", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const keys = OpenSsh.hostKeyDir()
      const known = path.join(s.home, "known_hosts")
      fs.writeFileSync(known, fs.readdirSync(keys).filter((f) => f.endsWith(".pub"))
        .map((f) => `myalias ${fs.readFileSync(path.join(keys, f), "utf8").trim().split(" ").slice(0, 2).join(" ")}`).join("\n") + "\n")
      const cfg = path.join(s.home, "strict")
      fs.writeFileSync(cfg, [...s.common, "  StrictHostKeyChecking yes", `  UserKnownHostsFile ${known}`, "  GlobalKnownHostsFile /dev/null"].join("\n") + "\n")
      const args = ["-F", cfg, "-p", String(s.port), "127.0.0.1", "echo trusted"]
      const aliased = ["-o", "HostKeyAlias=myalias", ...args]
      assert.strictEqual((yield* run(["ssh", ...aliased])).stdout, "trusted\n")
      assert.strictEqual((yield* OpenSsh.ssh(aliased, { env: { HOME: s.home } })).code, 0)
      assert.strictEqual((yield* run(["ssh", ...args])).code, 255)
      assert.strictEqual((yield* OpenSsh.ssh(args, { env: { HOME: s.home } })).code, 255)
    }), { timeout: 120_000 })

  it.scopedLive("the agent is contacted only when PreferredAuthentications names publickey", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const socketPath = path.join(Fwd.socketDir(), "agent.sock")
      let contacts = 0
      const agent = net.createServer((c) => {
        contacts++
        c.destroy()
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => agent.listen(socketPath, resolve))),
        () => Effect.sync(() => agent.close())
      )
      const env = { SSH_AUTH_SOCK: socketPath }
      const common = ["ssh", "-F", s.cfg, "-o", "IdentitiesOnly=no", "-p", String(s.port), "127.0.0.1"]
      const pw = yield* run([...common.slice(0, 3), "-o", "PreferredAuthentications=password", ...common.slice(3), "true"], env)
      assert.strictEqual(pw.code, 255)
      assert.strictEqual(contacts, 0)
      const pk = yield* run([...common, "echo key"], env)
      assert.strictEqual(pk.stdout, "key\n", pk.stderr)
      assert.isAtLeast(contacts, 1)
    }), { timeout: 120_000 })
})

describe.skipIf(!has)("effect-ssh ssh: config file permissions (readconf.c SSHCONF_CHECKPERM)", () => {
  it.live("~/.ssh/config writable by others is refused; -F is not checked, but a file it Includes is, as OpenSSH's ssh -G does", () =>
    Effect.gen(function*() {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-perm-"))
      fs.mkdirSync(path.join(home, ".ssh"))
      const userConfig = path.join(home, ".ssh", "config")
      fs.writeFileSync(userConfig, "Host x\n  Port 2222\n")
      fs.chmodSync(userConfig, 0o666)
      const bad = yield* run(["ssh", "-G", "x"], { HOME: home })
      assert.strictEqual(bad.code, 255)
      assert.include(bad.stderr, `Bad owner or permissions on ${userConfig}`)
      fs.chmodSync(userConfig, 0o600)
      const good = yield* run(["ssh", "-G", "x"], { HOME: home })
      assert.include(good.stdout, "port 2222\n", good.stderr)
      // -F itself may be writable by others; what it Includes may not (ssh checks every Include).
      const top = path.join(home, "top")
      const inc = path.join(home, "inc.conf")
      fs.writeFileSync(top, `Include ${inc}\n`)
      fs.writeFileSync(inc, "Host y\n  Port 2200\n")
      fs.chmodSync(top, 0o666)
      fs.chmodSync(inc, 0o600)
      assert.include((yield* run(["ssh", "-F", top, "-G", "y"])).stdout, "port 2200\n")
      assert.include(execFileSync(OpenSsh.SSH, ["-F", top, "-G", "y"], { encoding: "utf8" }), "port 2200\n")
      fs.chmodSync(inc, 0o666)
      const refused = yield* run(["ssh", "-F", top, "-G", "y"])
      assert.strictEqual(refused.code, 255)
      assert.include(refused.stderr, `Bad owner or permissions on ${inc}`)
      const theirs = yield* OpenSsh.runSsh(["-F", top, "-G", "y"])
      assert.strictEqual(theirs.code, 255)
      assert.include(theirs.stderr, `Bad owner or permissions on ${inc}`)
    }), { timeout: 120_000 })
})
