/**
 * Robustness of our SshServer (SshServer.run on NodeSshServer.layer): connections leave nothing behind
 * (SEC-72), a client that vanishes mid-transfer frees its connection, and MaxStartups refuses floods of
 * unauthenticated connections before any version string is sent (LIM-19, SEC-38).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream, Supervisor } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as Servers from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh()
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-robust-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const authorizedBlob = has ? fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]! : ""
const chunk = new Uint8Array(32 * 1024).fill(0x61)

const handlers: SshServer.ServerHandlers = {
  auth: { publicKey: ({ key }) => Effect.succeed(Buffer.from(key.blob).toString("base64") === authorizedBlob) },
  exec: ({ command, stdout }) =>
    command === "flood"
      ? Effect.as(Stream.run(Stream.repeatValue(chunk), stdout), 0)
      : Effect.succeed(0)
}

/** Node handles of one kind that are alive now (TCPSocketWrap, TCPServerWrap …). */
const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length

/** Polls `condition` every 20 ms for at most 5 s (a bound that only catches leaks, never measures speed). */
const eventually = (condition: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 250; i++) {
      if (yield* condition) return true
      yield* Effect.sleep("20 millis")
    }
    return yield* condition
  })

describe.skipIf(!has)("SshServer robustness", () => {
  it.live("SEC-72: 200 connections opened and closed leave no fiber, socket or listener behind", () =>
    Effect.gen(function*() {
      const sockets0 = count("TCPSocketWrap")
      const listeners0 = count("TCPServerWrap")
      const supervisor = yield* Supervisor.track
      yield* Effect.scoped(Effect.gen(function*() {
        const port = yield* Servers.serve(handlers, {}, supervisor)
        yield* Effect.sleep("50 millis")
        const idleFibers = (yield* supervisor.value).length
        assert.strictEqual(count("TCPServerWrap"), listeners0 + 1)
        for (let i = 0; i < 200; i++) {
          const r = yield* Effect.scoped(Effect.flatMap(
            Servers.connect(port, keyFile),
            (ssh) => ssh.run("true")
          ))
          assert.strictEqual(r.exitCode, 0)
        }
        const settled = yield* eventually(Effect.map(supervisor.value, (f) =>
          f.length === idleFibers && count("TCPSocketWrap") === sockets0))
        assert.isTrue(settled, `fibers ${(yield* supervisor.value).length} (idle ${idleFibers}), sockets ${count("TCPSocketWrap")} (before ${sockets0})`)
      }))
      // The listener and its fibers end with the scope.
      assert.isTrue(yield* eventually(Effect.sync(() => count("TCPServerWrap") === listeners0)))
      assert.isTrue(yield* eventually(Effect.map(supervisor.value, (f) => f.length === 0)))
    }).pipe(Effect.provide(NodeSsh.layer), Effect.withLogSpan("robustness")), { timeout: 120_000 })

  it.live("SEC-72: a client killed in the middle of a transfer frees its connection's fibers and socket", () =>
    Effect.gen(function*() {
      const sockets0 = count("TCPSocketWrap")
      const supervisor = yield* Supervisor.track
      yield* Effect.scoped(Effect.gen(function*() {
        const port = yield* Servers.serve(handlers, {}, supervisor)
        yield* Effect.sleep("50 millis")
        const idleFibers = (yield* supervisor.value).length
        const received = yield* Effect.async<number>((resume) => {
          const child = spawn(OpenSsh.SSH, [...OpenSsh.sshLogin(port, keyFile), "alice@127.0.0.1", "flood"], {
            stdio: ["ignore", "pipe", "ignore"]
          })
          let bytes = 0
          child.stdout.on("data", (d: Buffer) => {
            bytes += d.length
            // Vanish without a word once 4 MiB have arrived: no DISCONNECT, no FIN from ssh's side first.
            if (bytes >= 4 << 20 && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
          })
          child.once("close", () => resume(Effect.succeed(bytes)))
        })
        assert.isAtLeast(received, 4 << 20)
        const settled = yield* eventually(Effect.map(supervisor.value, (f) =>
          f.length === idleFibers && count("TCPSocketWrap") === sockets0))
        assert.isTrue(settled, `fibers ${(yield* supervisor.value).length} (idle ${idleFibers}), sockets ${count("TCPSocketWrap")}`)
      }))
    }), { timeout: 60_000 })

  it.live("LIM-19/SEC-38: MaxStartups 10:30:100 refuses a flood of silent connections before the version string; a real login then works", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const port = yield* Servers.serve(handlers, {
          maxStartups: { start: 10, rate: 30, full: 100 },
          timeouts: { hello: "3 seconds", handshake: "3 seconds" }
        })
        const outcomes: Array<{ greeted: boolean; closedAt: number | undefined }> = []
        const sockets: Array<net.Socket> = []
        yield* Effect.addFinalizer(() => Effect.sync(() => sockets.forEach((s) => s.destroy())))
        for (let i = 0; i < 150; i++) {
          const outcome: { greeted: boolean; closedAt: number | undefined } = { greeted: false, closedAt: undefined }
          outcomes.push(outcome)
          yield* Effect.async<void>((resume) => {
            const s = net.connect(port, "127.0.0.1", () => resume(Effect.void))
            sockets.push(s)
            s.on("data", () => (outcome.greeted = true))
            s.on("error", () => {})
            s.on("close", () => (outcome.closedAt = Date.now()))
          })
        }
        // Each connection is either greeted (admitted) or closed without a byte (refused).
        const decided = yield* eventually(Effect.sync(() => outcomes.every((o) => o.greeted || o.closedAt !== undefined)))
        assert.isTrue(decided, JSON.stringify(outcomes.map((o, i) => [i, o.greeted, o.closedAt !== undefined])))
        const admitted = outcomes.filter((o) => o.greeted).length
        const refused = outcomes.filter((o) => !o.greeted && o.closedAt !== undefined).length
        assert.strictEqual(admitted + refused, 150)
        assert.isTrue(outcomes.slice(0, 10).every((o) => o.greeted), "the first 10 are always served")
        assert.isAtMost(admitted, 100)
        assert.isAtLeast(refused, 50)
        // The admitted ones are closed when their grace runs out (3 s here; 2 s of slack for a loaded machine).
        yield* Effect.sleep("3 seconds")
        assert.isTrue(yield* eventually(Effect.sync(() => outcomes.every((o) => o.closedAt !== undefined))))
        const r = yield* OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), "alice@127.0.0.1", "true"])
        assert.strictEqual(r.code, 0, r.stderr)
      }))
    }), { timeout: 60_000 })
})
