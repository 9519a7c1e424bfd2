/**
 * Session features of our SshServer (served by `SshServer.run` on `NodeSshServer.layer`) against OpenSSH's
 * `ssh` and our own client: `ssh -tt` with a pty, SendEnv, exit by signal, window-change and signal requests
 * reaching the handler, and the ready-made local child-process handlers (NodeLocalProcess).
 */
import * as SocketServer from "@effect/platform/SocketServer"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeHostKeys from "../../src/node/NodeHostKeys.js"
import * as NodeLocalProcess from "../../src/node/NodeLocalProcess.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as NodeSshServer from "../../src/node/NodeSshServer.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as Servers from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh()
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sessions-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const authorizedBlob = has ? fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]! : ""
const encoder = new TextEncoder()

const auth: SshServer.ServerHandlers["auth"] = {
  publicKey: ({ key }) => Effect.succeed(Buffer.from(key.blob).toString("base64") === authorizedBlob)
}

const say = (sink: SshServer.SessionContext["stdout"], text: string) => Stream.run(Stream.make(encoder.encode(text)), sink)

const handlers: SshServer.ServerHandlers = {
  auth,
  exec: (ctx) =>
    Effect.gen(function*() {
      switch (ctx.command) {
        case "pty":
          yield* say(
            ctx.stdout,
            ctx.pty === undefined ? "no pty\n" : `${ctx.pty.term} ${ctx.pty.cols}x${ctx.pty.rows} modes=${ctx.pty.modes.length}\n`
          )
          return 0
        case "env":
          yield* say(ctx.stdout, `${JSON.stringify(ctx.env)}\n`)
          return 0
        case "killed":
          return { signal: "TERM", message: "terminated by the test" }
        case "events": {
          // The first window change and the first signal the client sends while this runs.
          const size = yield* Stream.runHead(ctx.windowChanges)
          const signal = yield* Stream.runHead(ctx.signals)
          yield* say(ctx.stdout, `${JSON.stringify(size)} ${JSON.stringify(signal)}\n`)
          return 0
        }
        default:
          return 1
      }
    })
}

describe.skipIf(!has)("OpenSSH ssh ↔ our SshServer: sessions", () => {
  it.scopedLive("ssh -tt: the handler sees the pty (TERM, modes)", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      const r = yield* OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), "-tt", "alice@127.0.0.1", "pty"], {
        env: { TERM: "xterm-effect" }
      })
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stdout.toString(), /^xterm-effect \d+x\d+ modes=\d+/)
      const plain = yield* OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), "-T", "alice@127.0.0.1", "pty"])
      assert.strictEqual(plain.stdout.toString(), "no pty\n")
    }))

  it.scopedLive("SendEnv: the handler sees the variables the client sent", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      const r = yield* OpenSsh.ssh(
        [...OpenSsh.sshLogin(port, keyFile), "-o", "SendEnv=EFFECT_SSH_*", "alice@127.0.0.1", "env"],
        { env: { EFFECT_SSH_GREETING: "hello there", EFFECT_SSH_OTHER: "x" } }
      )
      assert.strictEqual(r.code, 0, r.stderr)
      assert.deepStrictEqual(JSON.parse(r.stdout.toString()), { EFFECT_SSH_GREETING: "hello there", EFFECT_SSH_OTHER: "x" })
    }))

  it.scopedLive("exit by signal: ssh reports the remote signal and exits 255", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      const r = yield* OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), "alice@127.0.0.1", "killed"])
      assert.strictEqual(r.code, 255)
    }))

  it.scopedLive("our client: window-change and signal requests reach the running handler", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      const ssh = yield* Servers.connect(port, keyFile)
      const out = yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* ssh.exec("events", { pty: { term: "vt100", cols: 80, rows: 24 } })
        yield* p.resize({ cols: 132, rows: 43 })
        yield* p.signal("USR1")
        const text = yield* p.stdout.pipe(Stream.decodeText(), Stream.mkString)
        const status = yield* p.exitStatus
        return { text, status }
      }))
      assert.strictEqual(out.text, `{"_id":"Option","_tag":"Some","value":{"cols":132,"rows":43,"widthPx":0,"heightPx":0}} {"_id":"Option","_tag":"Some","value":"USR1"}\n`)
      assert.strictEqual(out.status.status, 0)
    }).pipe(Effect.provide(NodeSsh.layer)))
})

describe.skipIf(!has)("NodeLocalProcess: local child processes behind our SshServer", () => {
  const local: SshServer.ServerHandlers = { auth, ...NodeLocalProcess.handlers({ acceptEnv: ["LANG", "EFFECT_OK_*"] }) }

  it.scopedLive("exec through /bin/sh: stdout, stderr, exit status, stdin, and only AcceptEnv'd variables", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(local)
      const r = yield* OpenSsh.ssh(
        [
          ...OpenSsh.sshLogin(port, keyFile), "-o", "SendEnv=LANG EFFECT_*", "alice@127.0.0.1",
          "echo \"$LANG|$EFFECT_OK_A|${EFFECT_NO:-unset}|$USER\"; echo oops >&2; wc -c; exit 7"
        ],
        { env: { LANG: "C.UTF-8", EFFECT_OK_A: "yes", EFFECT_NO: "leaked" }, input: new Uint8Array(12345) }
      )
      assert.strictEqual(r.code, 7, r.stderr)
      assert.strictEqual(r.stdout.toString(), "C.UTF-8|yes|unset|alice\n12345\n")
      assert.include(r.stderr, "oops")
    }))

  it.scopedLive("shell without a command reads its script from stdin", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(local)
      const r = yield* OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), "-T", "alice@127.0.0.1"], {
        input: encoder.encode("echo from the shell\nexit 3\n")
      })
      assert.strictEqual(r.code, 3, r.stderr)
      assert.strictEqual(r.stdout.toString(), "from the shell\n")
    }))

  it.scopedLive("a child's output beyond the window reaches a slow reader whole and in order, stderr beside it (issue 10: sealed in the pipe's callback, the pipe paused on a full window)", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(local)
      const expected = execFileSync("seq", ["1", "700000"], { maxBuffer: 64 << 20 })
      const expectedErr = execFileSync("seq", ["1", "50000"])
      // OpenSSH's ssh reads at its own pace: several MiB through its 2 MiB window.
      const r = yield* OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), "alice@127.0.0.1", "seq 1 700000; seq 1 50000 >&2"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.isTrue(r.stdout.equals(expected), `stdout: ${r.stdout.length} bytes, expected ${expected.length}`)
      assert.strictEqual(r.stderr, expectedErr.toString())
      // Our client, pausing after each of the first chunks: the window runs out while the child keeps writing.
      const ssh = yield* Servers.connect(port, keyFile)
      const got = yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* ssh.exec("seq 1 700000")
        let n = 0
        const chunks = yield* p.stdout.pipe(
          Stream.tap(() => (n++ < 20 ? Effect.sleep("20 millis") : Effect.void)),
          Stream.runCollect
        )
        const status = yield* p.exitStatus
        return { bytes: Buffer.concat(Chunk.toArray(chunks)), status }
      }))
      assert.strictEqual(got.status.status, 0)
      assert.isTrue(got.bytes.equals(expected), `stdout: ${got.bytes.length} bytes, expected ${expected.length}`)
    }).pipe(Effect.provide(NodeSsh.layer)))

  it.scopedLive("closing the channel while the child still writes ends its pipe: the child goes, the connection serves on", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(local)
      const ssh = yield* Servers.connect(port, keyFile)
      const marker = `effect-ssh-yes-${process.pid}-${Date.now()}`
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* ssh.exec(`exec yes ${marker}`)
        // Some output, then the Scope closes the channel while `yes` writes without end.
        return yield* p.stdout.pipe(Stream.take(8), Stream.runCollect, Effect.map(Chunk.size))
      }))
      assert.strictEqual(first, 8)
      // The child's pipe is destroyed when the channel refuses data (SIGPIPE ends `yes`): no process is left.
      let left = 1
      for (let i = 0; i < 100 && left > 0; i++) {
        yield* Effect.sleep("50 millis")
        left = execFileSync("ps", ["-eo", "args"]).toString().split("\n").filter((l) => l.includes(marker)).length
      }
      assert.strictEqual(left, 0)
      const again = yield* Effect.scoped(Effect.flatMap(ssh.exec("echo again"), (p) => p.exitStatus))
      assert.strictEqual(again.status, 0)
    }).pipe(Effect.provide(NodeSsh.layer)))

  it.scopedLive("a signal from the client kills the child: exit-signal TERM", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(local)
      const ssh = yield* Servers.connect(port, keyFile)
      const status = yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* ssh.exec("echo started; exec sleep 30")
        // Wait until the child runs, then signal it.
        yield* p.stdout.pipe(Stream.take(1), Stream.runCollect, Effect.map(Chunk.size))
        yield* p.signal("TERM")
        return yield* p.exitStatus
      }))
      assert.strictEqual(status.signal, "TERM")
    }).pipe(Effect.provide(NodeSsh.layer)))
})

describe.skipIf(!has)("NodeHostKeys: host keys from files, generated and saved when missing", () => {
  it.scopedLive("ed25519, ecdsa and rsa keys generated on first start (0600, ssh-keygen reads them), reused after, each presented to ssh", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-hostkeys-"))
      const files = [
        { path: path.join(dir, "ed25519"), generate: { type: "ed25519" as const }, algorithm: "ssh-ed25519" },
        { path: path.join(dir, "ecdsa"), generate: { type: "ecdsa" as const, curve: "nistp384" as const }, algorithm: "ecdsa-sha2-nistp384" },
        { path: path.join(dir, "rsa"), generate: { type: "rsa" as const, bits: 2048 }, algorithm: "rsa-sha2-512" }
      ]
      const first = yield* Effect.forEach(files, (f) => NodeHostKeys.loadOrGenerate(f.path, f.generate))
      assert.deepStrictEqual(first.map((r) => r.generated), [true, true, true])
      const fingerprints = files.map((f) => {
        assert.strictEqual(fs.statSync(f.path).mode & 0o777, 0o600)
        return execFileSync(OpenSsh.SSH_KEYGEN, ["-l", "-f", f.path]).toString().split(" ")[1]!
      })
      const again = yield* Effect.forEach(files, (f) => NodeHostKeys.loadOrGenerate(f.path, f.generate))
      assert.deepStrictEqual(again.map((r) => r.generated), [false, false, false])
      assert.deepStrictEqual(again.map((r) => r.key), first.map((r) => r.key))
      // A plain path that does not exist is an error naming the file, not a silent generation.
      const missing = yield* Effect.flip(NodeHostKeys.load(path.join(dir, "nope")))
      assert.include(missing.message, path.join(dir, "nope"))

      const context = yield* Layer.build(NodeSshServer.layer({ hostKeyFiles: files }))
      yield* SshServer.run(handlers).pipe(Effect.provide(context), Effect.forkScoped)
      const address = Context.get(context, SocketServer.SocketServer).address
      const port = address._tag === "TcpAddress" ? address.port : -1
      for (let i = 0; i < files.length; i++) {
        const r = yield* OpenSsh.ssh([
          ...OpenSsh.sshLogin(port, keyFile).map((a) => (a === "LogLevel=ERROR" ? "LogLevel=DEBUG" : a)),
          "-o", `HostKeyAlgorithms=${files[i]!.algorithm}`, "alice@127.0.0.1", "env"
        ])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.include(r.stderr, `Server host key: ${files[i]!.algorithm.replace(/^rsa-sha2-512$/, "ssh-rsa")} ${fingerprints[i]}`)
      }
    }), { timeout: 60_000 })
})
