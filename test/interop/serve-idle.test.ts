/**
 * LIM-25: sshd 9.2's idle limits enforced by `effect-ssh serve -o …` against OpenSSH ssh. UnusedConnectionTimeout
 * closes an authenticated connection that opens no channel (`ssh -N`) and leaves one with a session alone;
 * ChannelTimeout closes a session that moves no data and keeps one that does, and the same for a direct-tcpip
 * channel (`ssh -W`); a silent forwarded-tcpip channel (`ssh -R`), which the server opens, is closed too.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Serve from "../../src/cli/Serve.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-idle-"))
const file = (name: string) => path.join(dir, name)
const user = os.userInfo().username

if (has) {
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", file("host")])
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", file("alice")])
  fs.writeFileSync(file("authorized_keys"), fs.readFileSync(file("alice.pub")))
}

const serve = (options: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const cfg = file("sshd_config")
    fs.writeFileSync(cfg, `HostKey ${file("host")}\nAuthorizedKeysFile ${file("authorized_keys")}\nListenAddress 127.0.0.1:0\n`)
    const [bound] = yield* Serve.start(["-f", cfg, "--exec", "local", ...options.flatMap((o) => ["-o", o])])
    return bound!.port
  })

const ssh = (port: number, args: ReadonlyArray<string>) =>
  Effect.map(
    OpenSsh.ssh([...OpenSsh.sshLogin(port, file("alice")), ...args], { timeoutMs: 60_000 }),
    (r) => ({ code: r.code, signal: r.signal, stdout: r.stdout.toString(), stderr: r.stderr })
  )

describe.skipIf(!has)("LIM-25: effect-ssh serve idle limits against OpenSSH ssh", () => {
  it.scopedLive("LIM-25: UnusedConnectionTimeout closes a connection without channels, not one with a session", () =>
    Effect.gen(function*() {
      const port = yield* serve(["UnusedConnectionTimeout=2"])
      // ssh -N opens no channel: the server closes the connection (ssh would otherwise wait for ever; the helper
      // kills it after 60 s, which would show as signal SIGKILL).
      const idle = yield* ssh(port, ["-N", `${user}@127.0.0.1`])
      assert.strictEqual(idle.signal, null, idle.stderr)
      assert.strictEqual(idle.code, 255, idle.stderr)
      // A session that outlives the timeout is an open channel all along.
      const busy = yield* ssh(port, [`${user}@127.0.0.1`, "sleep 4; echo done"])
      assert.strictEqual(busy.stdout, "done\n", busy.stderr)
      assert.strictEqual(busy.code, 0)
    }), { timeout: 90_000 })

  it.scopedLive("LIM-25: ChannelTimeout closes a silent session, not one that moves data", () =>
    Effect.gen(function*() {
      const port = yield* serve(["ChannelTimeout=session:*=2"])
      const silent = yield* ssh(port, [`${user}@127.0.0.1`, "sleep 40; echo late"])
      assert.strictEqual(silent.signal, null, silent.stderr)
      assert.strictEqual(silent.stdout, "")
      assert.notStrictEqual(silent.code, 0)
      const talking = yield* ssh(port, [`${user}@127.0.0.1`, "for i in 1 2 3 4 5; do echo $i; sleep 1; done"])
      assert.strictEqual(talking.stdout, "1\n2\n3\n4\n5\n", talking.stderr)
      assert.strictEqual(talking.code, 0)
    }), { timeout: 120_000 })

  it.scopedLive("LIM-25: ChannelTimeout direct-tcpip closes a silent ssh -W channel, not one that moves data", () =>
    Effect.gen(function*() {
      // A TCP service that keeps a connection open without a byte ("silent"), or sends one byte every 500 ms, five
      // times, then closes ("ticking"); half-open, so ssh's EOF on stdin does not end it.
      const service = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on("error", () => {})
        socket.once("data", (first) => {
          if (first.toString().startsWith("silent")) return
          let n = 0
          const timer = setInterval(() => {
            socket.write("x")
            if (++n === 5) {
              clearInterval(timer)
              socket.end()
            }
          }, 500)
        })
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void service.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => void service.close())
      )
      const servicePort = (service.address() as net.AddressInfo).port
      const port = yield* serve(["AllowTcpForwarding=yes", "ChannelTimeout=direct-tcpip=2"])
      const w = (input: string) =>
        Effect.map(
          OpenSsh.ssh([...OpenSsh.sshLogin(port, file("alice")), "-W", `127.0.0.1:${servicePort}`, `${user}@127.0.0.1`], {
            input: new TextEncoder().encode(input),
            timeoutMs: 60_000
          }),
          (r) => ({ code: r.code, signal: r.signal, stdout: r.stdout.toString(), stderr: r.stderr })
        )
      // Without the timeout ssh -W would wait for ever (the helper kills it after 60 s: signal SIGKILL).
      const silent = yield* w("silent\n")
      assert.strictEqual(silent.signal, null, silent.stderr)
      assert.strictEqual(silent.stdout, "")
      const ticking = yield* w("tick\n")
      assert.strictEqual(ticking.stdout, "xxxxx", ticking.stderr)
      assert.strictEqual(ticking.signal, null, ticking.stderr)
    }), { timeout: 120_000 })

  it.scopedLive("LIM-25: ChannelTimeout forwarded-tcpip closes a silent channel the server opened (ssh -R)", () =>
    Effect.gen(function*() {
      // The service behind ssh -R: its connection from ssh ends once the server closes the channel.
      let closed!: () => void
      const closedNow = new Promise<void>((resolve) => (closed = resolve))
      const service = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on("error", () => {})
        // ssh shuts its side down (FIN) when the server closes the channel.
        socket.on("end", () => closed())
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void service.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => void service.close())
      )
      const servicePort = (service.address() as net.AddressInfo).port
      const port = yield* serve(["AllowTcpForwarding=yes", "ChannelTimeout=forwarded-tcpip=2"])
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(OpenSsh.SSH, ["-o", "LogLevel=INFO", ...OpenSsh.sshLogin(port, file("alice")), "-N", "-R", `0:127.0.0.1:${servicePort}`, `${user}@127.0.0.1`], {
            stdio: ["ignore", "ignore", "pipe"]
          })
        ),
        (c) => Effect.sync(() => void c.kill("SIGKILL"))
      )
      // ssh prints the port the server allocated (at LogLevel INFO; the first -o wins over sshLogin's ERROR).
      const remotePort = yield* Effect.async<number>((resume) => {
        let text = ""
        child.stderr!.on("data", (d: Buffer) => {
          text += d.toString()
          const m = /Allocated port (\d+)/.exec(text)
          if (m !== null) resume(Effect.succeed(Number(m[1])))
        })
      }).pipe(Effect.timeout("30 seconds"))
      // A client of the forwarded port that never sends a byte.
      const client = net.connect({ port: remotePort, host: "127.0.0.1", allowHalfOpen: true })
      client.on("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => void client.destroy()))
      // Without the timeout the channel, and ssh's connection to the service, would stay open: this would time out.
      yield* Effect.promise(() => closedNow).pipe(Effect.timeout("60 seconds"))
      assert.strictEqual(child.exitCode, null, "ssh -R itself stays connected: only the channel was closed")
    }), { timeout: 120_000 })
})
