/**
 * OpenSSH's `ssh` client against our SshServer (NodeSshServer on 127.0.0.1): publickey login through a
 * ServerAuth handler, then exec with stdout, stderr, exit status and stdin, a refused command, and several
 * sessions on one connection through OpenSSH's multiplexing (ControlMaster).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { execFileSync } from "node:child_process"
import * as NodeSshServer from "../../src/node/NodeSshServer.js"
import type * as SshServer from "../../src/server/SshServer.js"
import * as Loopback from "../helpers/Loopback.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()

const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-server-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const authorizedBlob = has ? fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]! : ""

const encoder = new TextEncoder()
const handlers: SshServer.ServerHandlers = {
  auth: {
    publicKey: ({ key }) => Effect.succeed(btoa(String.fromCharCode(...key.blob)) === authorizedBlob)
  },
  exec: ({ command, stderr, stdin, stdout, username }) =>
    command === "cat"
      ? Effect.as(Stream.run(stdin, stdout), 0)
      : Effect.gen(function*() {
        yield* Stream.run(Stream.make(encoder.encode(`${username} ran: ${command}\n`)), stdout)
        yield* Stream.run(Stream.make(encoder.encode("to stderr\n")), stderr)
        return command === "fail" ? 3 : 0
      })
}

const ssh = (port: number, args: ReadonlyArray<string>, input?: Uint8Array) =>
  Effect.async<{ code: number | null; stdout: Buffer; stderr: string }>((resume) => {
    const child = spawn(OpenSsh.SSH, [
      "-F", "/dev/null", "-p", String(port), "-i", keyFile,
      "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
      ...args
    ], { stdio: ["pipe", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    let err = ""
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    child.stdin.end(input ?? new Uint8Array(0))
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout: Buffer.concat(out), stderr: err }))
    })
  })

const start = NodeSshServer.serve({ hostKeys: Loopback.testHostKeys() }, handlers).pipe(
  Effect.map((a) => (a._tag === "TcpAddress" ? a.port : -1))
)

describe.skipIf(!has)("OpenSSH ssh ↔ our SshServer", () => {
  it.scopedLive("exec: stdout, stderr and the exit status", () =>
    Effect.gen(function*() {
      const port = yield* start
      const ok = yield* ssh(port, ["alice@127.0.0.1", "hello", "world"])
      assert.strictEqual(ok.stdout.toString(), "alice ran: hello world\n", ok.stderr)
      assert.include(ok.stderr, "to stderr")
      assert.strictEqual(ok.code, 0)
      const failed = yield* ssh(port, ["alice@127.0.0.1", "fail"])
      assert.strictEqual(failed.code, 3)
    }))

  it.scopedLive("stdin passes through (1 MiB through a cat handler)", () =>
    Effect.gen(function*() {
      const port = yield* start
      const input = new Uint8Array(1024 * 1024).map((_, i) => (i * 7 + 3) & 0xff)
      const r = yield* ssh(port, ["bob@127.0.0.1", "cat"], input)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.length, input.length)
      assert.isTrue(Buffer.from(input).equals(r.stdout))
    }))

  it.scopedLive("an unknown key is refused (deny by default): ssh exits 255 with Permission denied", () =>
    Effect.gen(function*() {
      const port = yield* start
      const other = path.join(keyDir, "other")
      if (!fs.existsSync(other)) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", other])
      const r = yield* Effect.async<{ code: number | null; stderr: string }>((resume) => {
        const child = spawn(OpenSsh.SSH, [
          "-F", "/dev/null", "-p", String(port), "-i", other, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
          "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "127.0.0.1", "true"
        ], { stdio: ["ignore", "ignore", "pipe"] })
        let err = ""
        child.stderr.on("data", (d: Buffer) => (err += d.toString()))
        child.once("close", (code) => resume(Effect.succeed({ code, stderr: err })))
      })
      assert.strictEqual(r.code, 255)
      assert.include(r.stderr, "Permission denied")
    }))

  it.scopedLive("no shell handler: a shell request is refused", () =>
    Effect.gen(function*() {
      const port = yield* start
      const r = yield* ssh(port, ["-T", "alice@127.0.0.1"])
      assert.notStrictEqual(r.code, 0)
    }))

  it.scopedLive("several sessions on one connection (ControlMaster)", () =>
    Effect.gen(function*() {
      const port = yield* start
      const control = path.join(keyDir, `cm-${port}`)
      const master = spawn(OpenSsh.SSH, [
        "-F", "/dev/null", "-p", String(port), "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-M", "-S", control, "-N",
        "alice@127.0.0.1"
      ], { stdio: "ignore" })
      yield* Effect.addFinalizer(() => Effect.sync(() => master.kill("SIGKILL")))
      // Wait for the control socket.
      for (let i = 0; i < 100 && !fs.existsSync(control); i++) yield* Effect.sleep("50 millis")
      const results = yield* Effect.forEach([1, 2, 3], (i) => ssh(port, ["-S", control, "alice@127.0.0.1", `n${i}`]), {
        concurrency: 3
      })
      results.forEach((r, i) => assert.strictEqual(r.stdout.toString(), `alice ran: n${i + 1}\n`, r.stderr))
    }))
})
