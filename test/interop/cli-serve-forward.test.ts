/**
 * `effect-ssh serve -f sshd_config` applying the forwarding keywords (SEC-48), with OpenSSH's `ssh -L` against
 * it: AllowTcpForwarding yes carries data (SHA-256 of 1 MiB), AllowTcpForwarding no and DisableForwarding refuse
 * the channel, PermitOpen lets one destination through and refuses another, a Match Address block turning
 * forwarding off for the connection, a Match User block's PermitOpen checked once the user is known, and `serve -T` printing the keywords as sshd -T does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Fwd from "../helpers/ForwardNet.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const MiB = 1 << 20

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-serve-fwd-"))
const keyFile = path.join(dir, "id_ed25519")
const hostKey = path.join(dir, "host_ed25519")
const authorized = path.join(dir, "authorized_keys")
if (has) {
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
  fs.writeFileSync(authorized, fs.readFileSync(`${keyFile}.pub`))
}

let configs = 0
const configFile = (lines: ReadonlyArray<string>) => {
  const file = path.join(dir, `sshd_config_${configs++}`)
  fs.writeFileSync(file, [`HostKey ${hostKey}`, `AuthorizedKeysFile ${authorized}`, ...lines].join("\n") + "\n")
  return file
}

/** `effect-ssh serve -f cfg --listen 127.0.0.1:0`, once it prints its address; killed with the Scope. */
const serve = (lines: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [BIN, "serve", "-f", configFile(lines), "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] })
      ),
      (c: ChildProcess) => Effect.sync(() => c.kill("SIGKILL"))
    )
    let out = ""
    let err = ""
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    return yield* Effect.async<number, Error>((resume) => {
      const timer = setTimeout(() => resume(Effect.fail(new Error(`no address in 20s: ${out} ${err}`))), 20_000)
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString()
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out)
        if (m !== null && /echo service/.test(out)) {
          clearTimeout(timer)
          resume(Effect.succeed(Number(m[1])))
        }
      })
      child.once("exit", (code) => {
        clearTimeout(timer)
        resume(Effect.fail(new Error(`serve exited with ${code}: ${out} ${err}`)))
      })
    })
  })

/** Bytes that came back through a forward: 0 when the server refused the channel (ssh closes or resets). */
const echoed = (port: number, size: number) =>
  Effect.map(Effect.either(Fwd.echoThrough({ port }, size)), (r) => (r._tag === "Left" ? 0 : r.right.bytes))

/** OpenSSH `ssh -N -L …` to the server, running until the Scope closes; its stderr so far. */
const sshForward = (port: number, forwards: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const state = { stderr: "" }
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(OpenSsh.SSH, [
          // Before sshLogin's LogLevel=ERROR (the first value wins): ssh reports a refused channel at INFO.
          "-o", "LogLevel=INFO",
          ...OpenSsh.sshLogin(port, keyFile),
          "-N",
          ...forwards.flatMap((f) => ["-L", f]),
          "user@127.0.0.1"
        ], { stdio: ["ignore", "ignore", "pipe"] })
      ),
      (c) => Effect.sync(() => c.kill("SIGKILL"))
    )
    child.stderr.on("data", (d: Buffer) => (state.stderr += d.toString()))
    return state
  })

const listening = (port: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      if (yield* Fwd.accepts(port)) return
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`ssh -L never listened on ${port}`)
  })

describe.skipIf(!has)("effect-ssh serve -f: forwarding keywords ↔ OpenSSH ssh -L", () => {
  it.scopedLive("AllowTcpForwarding yes: data through ssh -L; no: the channel is refused (SEC-48)", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const allowed = yield* serve(["AllowTcpForwarding yes"])
      const local = yield* Fwd.freePort
      yield* sshForward(allowed, [`${local}:127.0.0.1:${echo.port}`])
      yield* listening(local)
      const r = yield* Fwd.echoThrough({ port: local }, MiB)
      assert.strictEqual(r.received, r.sent)
      assert.strictEqual(r.bytes, MiB)
      // The probe that waited for the listener and the data connection.
      const reached = echo.accepted()
      assert.isAtLeast(reached, 1)

      // No AllowTcpForwarding line at all: effect-ssh serve forwards nothing (DESIGN.md §2; sshd would allow it).
      for (const lines of [[], ["AllowTcpForwarding no"], ["AllowTcpForwarding yes", "DisableForwarding yes"]]) {
        const refused = yield* serve(lines)
        const local2 = yield* Fwd.freePort
        const ssh = yield* sshForward(refused, [`${local2}:127.0.0.1:${echo.port}`])
        yield* listening(local2)
        assert.strictEqual(yield* echoed(local2, 1000), 0, lines.join(", "))
        for (let i = 0; i < 100 && !/open failed/.test(ssh.stderr); i++) yield* Effect.sleep("50 millis")
        assert.match(ssh.stderr, /open failed: administratively prohibited/)
      }
      // Only the allowed server's tunnels reached the target.
      assert.strictEqual(echo.accepted(), reached)
    }), { timeout: 120_000 })

  it.scopedLive("PermitOpen lets its destination through and refuses another; Match Address and Match User apply", () =>
    Effect.gen(function*() {
      const permitted = yield* Fwd.echoServer()
      const other = yield* Fwd.echoServer()
      const port = yield* serve(["AllowTcpForwarding yes", `PermitOpen 127.0.0.1:${permitted.port}`])
      const [a, b] = [yield* Fwd.freePort, yield* Fwd.freePort]
      yield* sshForward(port, [`${a}:127.0.0.1:${permitted.port}`, `${b}:127.0.0.1:${other.port}`])
      yield* listening(a)
      yield* listening(b)
      const ok = yield* Fwd.echoThrough({ port: a }, 64 * 1024)
      assert.strictEqual(ok.received, ok.sent)
      assert.strictEqual(yield* echoed(b, 1000), 0)
      assert.strictEqual(other.accepted(), 0)
      const reached = permitted.accepted()

      // Per connection: a Match block for the client's address overrides the global yes.
      const matched = yield* serve(["AllowTcpForwarding yes", "Match Address 127.0.0.1", "  AllowTcpForwarding no"])
      const c = yield* Fwd.freePort
      yield* sshForward(matched, [`${c}:127.0.0.1:${permitted.port}`])
      yield* listening(c)
      assert.strictEqual(yield* echoed(c, 1000), 0)
      assert.strictEqual(permitted.accepted(), reached)

      // Per user, once known: a Match User block's PermitOpen is checked for each direct-tcpip.
      const perUser = yield* serve(["AllowTcpForwarding yes", "Match User user", `  PermitOpen 127.0.0.1:${other.port}`])
      const d = yield* Fwd.freePort
      yield* sshForward(perUser, [`${d}:127.0.0.1:${permitted.port}`])
      yield* listening(d)
      assert.strictEqual(yield* echoed(d, 1000), 0)
      assert.strictEqual(permitted.accepted(), reached)
    }), { timeout: 120_000 })

  it("serve -T prints the forwarding keywords as sshd -T does", () => {
    const out = execFileSync(process.execPath, [BIN, "serve", "-T", "-f", configFile([
      "AllowTcpForwarding local",
      "GatewayPorts clientspecified",
      "PermitOpen 127.0.0.1:80 [::1]:22",
      "PermitListen 8080",
      "DisableForwarding yes"
    ])]).toString()
    assert.include(out, "allowtcpforwarding local\n")
    assert.include(out, "gatewayports clientspecified\n")
    assert.include(out, "disableforwarding yes\n")
    assert.include(out, "permitopen 127.0.0.1:80 [::1]:22\n")
    // sshd -T prints a bare port with the "*" host.
    assert.include(out, "permitlisten *:8080\n")
  })
})
