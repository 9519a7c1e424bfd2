/**
 * OpenSSH's `ssh -L/-R/-D/-W` through our SshServer's forwarding (SEC-48): data checked by SHA-256 of a few MiB,
 * UNIX sockets both ways, a virtual direct-tcpip service served in-process, deny by default (ssh sees
 * "administratively prohibited"), AllowTcpForwarding local/remote, permitopen / permitlisten from the key's
 * restrictions, privileged ports, and remote listeners closed with the connection.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import type * as ForwardPolicy from "../../src/forward/ForwardPolicy.js"
import type { Restrictions } from "../../src/auth/ServerAuth.js"
import type * as SshServer from "../../src/server/SshServer.js"
import * as Fwd from "../helpers/ForwardNet.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as Servers from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh()
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-fwd-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const authorizedBlob = has ? fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]! : ""
const MiB = 1 << 20

const server = (forwarding: ForwardPolicy.ForwardingOptions | undefined, restrictions?: Restrictions) => {
  const handlers: SshServer.ServerHandlers = {
    auth: {
      publicKey: ({ key }) => {
        const ok = btoa(String.fromCharCode(...key.blob)) === authorizedBlob
        return Effect.succeed(ok && restrictions !== undefined ? { _tag: "Accept", restrictions } as const : ok)
      }
    },
    forwarding
  }
  return Servers.serve(handlers)
}

const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
)

/** `ssh -N` with forwarding flags, in the background until the Scope closes; resolves once `ready` holds. */
const sshN = (port: number, args: ReadonlyArray<string>, ready: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    let stderr = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = spawn(OpenSsh.SSH, [...OpenSsh.sshLogin(port, keyFile), "-N", "-o", "ExitOnForwardFailure=yes", ...args, "127.0.0.1"], {
          stdio: ["ignore", "ignore", "pipe"]
        })
        c.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
        return c
      }),
      (c: ChildProcess) => Effect.sync(() => c.kill("SIGKILL"))
    )
    for (let i = 0; i < 200; i++) {
      if (yield* ready) return { child, stderr: () => stderr }
      if (child.exitCode !== null) break
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.fail(new Error(`ssh did not become ready (exit ${child.exitCode}): ${stderr}`))
  })

/** `ssh -W host:port` with `input` on stdin; its stdout and stderr. */
const sshW = (port: number, target: string, input: Uint8Array) =>
  // LogLevel INFO (the first value wins) so that ssh prints the server's reason for a refused channel.
  OpenSsh.ssh(["-o", "LogLevel=INFO", ...OpenSsh.sshLogin(port, keyFile), "-W", target, "127.0.0.1"], { input })

const random = (n: number) => {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 9)) & 255
  return b
}

const curl = (args: ReadonlyArray<string>) =>
  Effect.async<string, Error>((resume) => {
    execFile("curl", ["-sS", "--max-time", "20", ...args], (err, stdout) =>
      resume(err ? Effect.fail(err) : Effect.succeed(stdout)))
  })

const httpServer: Effect.Effect<number, never, Scope.Scope> = Effect.gen(function*() {
  const http = yield* Effect.promise(() => import("node:http"))
  const s = http.createServer((_req, res) => res.end("served"))
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => void s.listen(0, "127.0.0.1", () => resume(Effect.void))),
    () => Effect.sync(() => s.close())
  )
  return (s.address() as net.AddressInfo).port
})

describe.skipIf(!has)("OpenSSH ssh forwarding through our server", () => {
  it.scopedLive("ssh -L and ssh -W: direct-tcpip to a TCP echo, a few MiB checked; ssh -D with curl", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const port = yield* server({ allowTcpForwarding: "yes" })
      const lport = yield* freePort
      yield* sshN(port, ["-L", `${lport}:127.0.0.1:${echo.port}`], Fwd.accepts(lport))
      const results = yield* Effect.all([Fwd.echoThrough({ port: lport }, 4 * MiB), Fwd.echoThrough({ port: lport }, MiB)], {
        concurrency: 2
      })
      for (const r of results) assert.strictEqual(r.received, r.sent)
      const data = random(2 * MiB)
      const w = yield* sshW(port, `127.0.0.1:${echo.port}`, data)
      assert.strictEqual(w.code, 0, w.stderr)
      assert.strictEqual(Fwd.sha256(w.stdout), Fwd.sha256(data))
      const http = yield* httpServer
      const dport = yield* freePort
      yield* sshN(port, ["-D", `127.0.0.1:${dport}`], Fwd.accepts(dport))
      assert.strictEqual(yield* curl(["-x", `socks5h://127.0.0.1:${dport}`, `http://localhost:${http}/`]), "served")
    }), { timeout: 60_000 })

  it.scopedLive("ssh -R: tcpip-forward on loopback, data both ways, listener gone when ssh disconnects", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const port = yield* server({ allowTcpForwarding: "yes" })
      const rport = yield* freePort
      const fwd = yield* Effect.forkScoped(Effect.scoped(Effect.gen(function*() {
        yield* sshN(port, ["-R", `${rport}:127.0.0.1:${echo.port}`], Fwd.accepts(rport))
        const r = yield* Fwd.echoThrough({ port: rport }, 3 * MiB)
        assert.strictEqual(r.received, r.sent)
      })))
      const exit = yield* fwd.await
      assert.strictEqual(exit._tag, "Success")
      // The ssh process is gone: its connection's Scope closed the listener.
      let open = true
      for (let i = 0; i < 100 && open; i++) {
        open = yield* Fwd.accepts(rport)
        if (open) yield* Effect.sleep("20 millis")
      }
      assert.isFalse(open)
    }), { timeout: 60_000 })

  it.scopedLive("UNIX sockets: ssh -L to a socket path (direct-streamlocal) and ssh -R from one (streamlocal-forward)", () =>
    Effect.gen(function*() {
      const dir = Fwd.socketDir()
      const echoPath = path.join(dir, "echo.sock")
      const echo = yield* Fwd.echoServer(echoPath)
      const tcpEcho = yield* Fwd.echoServer()
      const port = yield* server({ allowStreamLocalForwarding: "yes", allowTcpForwarding: "no" })
      const lport = yield* freePort
      yield* sshN(port, ["-L", `${lport}:${echoPath}`], Fwd.accepts(lport))
      const r1 = yield* Fwd.echoThrough({ port: lport }, 2 * MiB)
      assert.strictEqual(r1.received, r1.sent)
      // The readiness probe went through the tunnel too.
      assert.isAtLeast(echo.accepted(), 2)
      const remote = path.join(dir, "remote.sock")
      yield* sshN(port, ["-R", `${remote}:127.0.0.1:${tcpEcho.port}`], Effect.sync(() => fs.existsSync(remote)))
      const r2 = yield* Fwd.echoThrough({ path: remote }, 2 * MiB)
      assert.strictEqual(r2.bytes, 2 * MiB, "every byte came back")
      assert.strictEqual(r2.received, r2.sent)
    }), { timeout: 60_000 })

  it.scopedLive("SEC-48: a streamlocal socket made for user nobody is nobody's; forUser (Match User) decides -R per user", () =>
    Effect.gen(function*() {
      const nobody = Number(execFileSync("id", ["-u", "nobody"]).toString().trim())
      const dir = Fwd.socketDir()
      fs.chmodSync(dir, 0o755)
      const tcpEcho = yield* Fwd.echoServer()
      const port = yield* server({
        allowTcpForwarding: "no",
        allowStreamLocalForwarding: "no",
        // Only nobody may forward remotely (TCP and UNIX sockets); every other user gets nothing.
        forUser: (user) =>
          user === "nobody" ? { allowTcpForwarding: "remote", allowStreamLocalForwarding: "remote" } : { allowTcpForwarding: "no" }
      })
      const remote = path.join(dir, "nobody.sock")
      yield* sshN(port, ["-l", "nobody", "-R", `${remote}:127.0.0.1:${tcpEcho.port}`], Effect.sync(() => fs.existsSync(remote)))
      // The server runs as root in the tests: the socket is chowned to the user it was made for.
      assert.strictEqual(fs.statSync(remote).uid, process.getuid?.() === 0 ? nobody : process.getuid?.())
      const r = yield* Fwd.echoThrough({ path: remote }, MiB)
      assert.strictEqual(r.received, r.sent)
      const rport = yield* freePort
      yield* sshN(port, ["-l", "nobody", "-R", `${rport}:127.0.0.1:${tcpEcho.port}`], Fwd.accepts(rport))
      const other = yield* freePort
      const refused = yield* Effect.flip(sshN(port, ["-R", `${other}:127.0.0.1:${tcpEcho.port}`], Fwd.accepts(other)))
      assert.include(refused.message, "remote port forwarding failed")
    }), { timeout: 60_000 })

  it.scopedLive("a virtual service: the directTcpip handler serves the tunnel itself, no socket", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const port = yield* server({
        allowTcpForwarding: "local",
        directTcpip: (req) =>
          Effect.sync(() => {
            seen.push(`${req.username}@${req.host}:${req.port}`)
            return req.host === "virtual.internal"
              ? {
                _tag: "Serve",
                serve: (tunnel) =>
                  Stream.run(
                    Stream.concat(Stream.make(new TextEncoder().encode("virtual:")), tunnel.stream),
                    tunnel.sink
                  )
              } as const
              : { _tag: "Deny" } as const
          })
      })
      const w = yield* sshW(port, "virtual.internal:80", new TextEncoder().encode("hi"))
      assert.strictEqual(w.stdout.toString(), "virtual:hi")
      const denied = yield* sshW(port, "other.internal:80", new Uint8Array(0))
      assert.notStrictEqual(denied.code, 0)
      assert.include(denied.stderr, "administratively prohibited")
      assert.deepStrictEqual(seen, [`${os.userInfo().username}@virtual.internal:80`, `${os.userInfo().username}@other.internal:80`])
    }), { timeout: 60_000 })

  it.scopedLive("SEC-48: deny by default; AllowTcpForwarding local/remote; unreachable is connect failed", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const none = yield* server(undefined)
      const w = yield* sshW(none, `127.0.0.1:${echo.port}`, new Uint8Array(0))
      assert.notStrictEqual(w.code, 0)
      assert.include(w.stderr, "administratively prohibited")
      const rport = yield* freePort
      const r = yield* Effect.either(Effect.scoped(sshN(none, ["-R", `${rport}:127.0.0.1:${echo.port}`], Fwd.accepts(rport))))
      assert.strictEqual(r._tag, "Left")
      if (r._tag === "Left") assert.include(r.left.message, "remote port forwarding failed")
      const localOnly = yield* server({ allowTcpForwarding: "local" })
      const r2 = yield* Effect.either(Effect.scoped(sshN(localOnly, ["-R", `${rport}:127.0.0.1:${echo.port}`], Fwd.accepts(rport))))
      assert.strictEqual(r2._tag, "Left")
      const ok = yield* sshW(localOnly, `127.0.0.1:${echo.port}`, new TextEncoder().encode("x"))
      assert.strictEqual(ok.stdout.toString(), "x")
      const remoteOnly = yield* server({ allowTcpForwarding: "remote" })
      const w2 = yield* sshW(remoteOnly, `127.0.0.1:${echo.port}`, new Uint8Array(0))
      assert.include(w2.stderr, "administratively prohibited")
      const dead = yield* Effect.scoped(Effect.map(Fwd.echoServer(), (e) => e.port))
      const w3 = yield* sshW(localOnly, `127.0.0.1:${dead}`, new Uint8Array(0))
      assert.include(w3.stderr, "connect failed")
      // A privileged port needs an explicit PermitListen entry.
      const all = yield* server({ allowTcpForwarding: "yes" })
      const r3 = yield* Effect.either(Effect.scoped(sshN(all, ["-R", `1000:127.0.0.1:${echo.port}`], Fwd.accepts(1000))))
      assert.strictEqual(r3._tag, "Left")
    }), { timeout: 60_000 })

  it.scopedLive("SEC-48: permitopen and permitlisten from the key's restrictions; PermitOpen from the config", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const other = yield* Fwd.echoServer()
      const allowedListen = yield* freePort
      const port = yield* server({ allowTcpForwarding: "yes" }, {
        permitOpen: [`127.0.0.1:${echo.port}`],
        permitListen: [`localhost:${allowedListen}`]
      })
      const ok = yield* sshW(port, `127.0.0.1:${echo.port}`, new TextEncoder().encode("ok"))
      assert.strictEqual(ok.stdout.toString(), "ok")
      const no = yield* sshW(port, `127.0.0.1:${other.port}`, new Uint8Array(0))
      assert.include(no.stderr, "administratively prohibited")
      yield* Effect.scoped(sshN(port, ["-R", `localhost:${allowedListen}:127.0.0.1:${echo.port}`], Fwd.accepts(allowedListen)))
      const elsewhere = yield* freePort
      const r = yield* Effect.either(Effect.scoped(sshN(port, ["-R", `localhost:${elsewhere}:127.0.0.1:${echo.port}`], Fwd.accepts(elsewhere))))
      assert.strictEqual(r._tag, "Left")
      // no-port-forwarding (restrict) turns everything off, whatever the config allows.
      const restricted = yield* server({ allowTcpForwarding: "yes", allowStreamLocalForwarding: "yes" }, { portForwarding: false })
      const w = yield* sshW(restricted, `127.0.0.1:${echo.port}`, new Uint8Array(0))
      assert.include(w.stderr, "administratively prohibited")
      // PermitOpen in the server's configuration.
      const cfg = yield* server({ allowTcpForwarding: "yes", permitOpen: [`localhost:${other.port}`] })
      const c1 = yield* sshW(cfg, `localhost:${other.port}`, new TextEncoder().encode("c"))
      assert.strictEqual(c1.stdout.toString(), "c")
      const c2 = yield* sshW(cfg, `127.0.0.1:${other.port}`, new Uint8Array(0))
      assert.include(c2.stderr, "administratively prohibited")
    }), { timeout: 60_000 })

  it.scopedLive("ssh -J: OpenSSH jumps through our server (its ProxyJump is ssh -W on our direct-tcpip)", () =>
    Effect.gen(function*() {
      const target = yield* Servers.serve({
        auth: { publicKey: ({ key }) => Effect.succeed(btoa(String.fromCharCode(...key.blob)) === authorizedBlob) },
        exec: ({ command, stdout }) =>
          Effect.as(Stream.run(Stream.make(new TextEncoder().encode(`target: ${command}\n`)), stdout), 0)
      })
      const jump = yield* server({ allowTcpForwarding: "local" })
      // The jump's own ssh reads options from -F only, so the test identity goes into a config file.
      const cfg = path.join(keyDir, "ssh_config")
      fs.writeFileSync(cfg, [
        "Host *",
        `  IdentityFile ${keyFile}`,
        "  IdentitiesOnly yes",
        "  BatchMode yes",
        "  StrictHostKeyChecking no",
        "  UserKnownHostsFile /dev/null",
        "  LogLevel ERROR"
      ].join("\n") + "\n")
      const r = yield* OpenSsh.ssh(["-F", cfg, "-J", `127.0.0.1:${jump}`, "-p", String(target), "127.0.0.1", "hello"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.toString(), "target: hello\n")
    }), { timeout: 60_000 })
})
