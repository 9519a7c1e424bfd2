/**
 * `npm run soak` (not part of `npm test`): our server under sustained load, then back to its baseline.
 *   1. 1 000 concurrent connections of our client (logged in, one exec each, all open at once);
 *   2. 100 concurrent OpenSSH `ssh` sessions, each sending 1 MiB through an echo exec and checking the SHA-256 of
 *      what comes back; every 10th ssh is killed (SIGKILL) in the middle of its transfer;
 *   3. 1 000 connect / exec / close cycles (10 at a time).
 * Afterwards: live server fibers (a Supervisor), open server connections, file descriptors (/proc/self/fd) and
 * RSS/heap after GC, against the baseline taken before phase 1. SOAK_SCALE=0.1 runs a tenth of each count;
 * SOAK_KEX=default uses the default key exchange list instead of curve25519-sha256.
 * Run as `npm run soak` (tsx with --expose-gc through NODE_OPTIONS when available).
 *
 * Phase 1 once held only 137 of 1 000 (863 "connection lost"): its ramp forked each client under
 * `concurrency: 20`, but a fork returns at once, so all 1 000 handshakes started together in the one event loop
 * that also runs the server. The burst overflowed the listen backlog (Node's default 511: the kernel drops the
 * final ACK of the excess and resets them later — "connection lost" ~11 s in), and with a larger backlog the
 * clients waiting behind 1 000 handshakes hit their 30 s version-exchange timeout (LIM-03) instead. A server
 * facing such a burst relies on MaxStartups (default 10:30:100) to shed it; the soak admits everything
 * (5000:100:5000) to measure resources, so it now ramps 20 handshakes at a time, as intended, and holds all.
 */
import { Cause, Deferred, Effect, Fiber, Logger, LogLevel, Stream, Supervisor } from "effect"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as Servers from "../helpers/Servers.js"

const scale = Number(process.env.SOAK_SCALE ?? 1)
const kexDefault = process.env.SOAK_KEX === "default"
const n = (x: number) => Math.max(1, Math.round(x * scale))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-soak-"))
const key = path.join(dir, "id")
const SSH = "/usr/bin/ssh"

const gc = () => (globalThis as { gc?: () => void }).gc?.()
const fds = () => fs.readdirSync("/proc/self/fd").length
const mib = (b: number) => (b / 1024 / 1024).toFixed(1)
const snapshot = (label: string, connections: number, fibers: number) => {
  gc()
  gc()
  const m = process.memoryUsage()
  const s = { label, rss: m.rss, heap: m.heapUsed, fds: fds(), connections, fibers }
  console.log(`${label.padEnd(26)} rss ${mib(s.rss).padStart(7)} MiB  heap ${mib(s.heap).padStart(7)} MiB  fds ${String(s.fds).padStart(5)}  server connections ${String(connections).padStart(5)}  server fibers ${fibers}`)
  return s
}

/** One ssh session: 1 MiB in, echoed back, SHA-256 compared; `kill` ends it with SIGKILL midway. */
const sshEcho = (port: number, kill: boolean) =>
  Effect.async<"ok" | "killed" | string>((resume) => {
    const data = crypto.randomBytes(1 << 20)
    const child = spawn(SSH, [
      "-F", "/dev/null", "-p", String(port), "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
      "soak@127.0.0.1", "echo"
    ], { stdio: ["pipe", "pipe", "pipe"] })
    const hash = crypto.createHash("sha256")
    let got = 0
    child.stdout.on("data", (d: Buffer) => {
      hash.update(d)
      got += d.length
      if (kill && got > data.length / 2) child.kill("SIGKILL")
    })
    child.stdin.on("error", () => {})
    child.stdin.end(data)
    child.once("close", (code, signal) => {
      if (kill) return resume(Effect.succeed(signal === "SIGKILL" ? "killed" : `not killed (${code})`))
      const ok = got === data.length && hash.digest("hex") === crypto.createHash("sha256").update(data).digest("hex")
      resume(Effect.succeed(ok ? "ok" : `mismatch: ${got} bytes, exit ${code}`))
    })
  })

const main = Effect.gen(function*() {
  yield* Effect.sync(() => spawn("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).once("close", () => {}))
  yield* Effect.sleep("1 second")
  const supervisor = yield* Supervisor.track
  let open = 0
  const port = yield* Servers.serve({
    auth: { publicKey: () => Effect.succeed(true) },
    exec: ({ command, stdin, stdout }) =>
      Effect.acquireUseRelease(
        Effect.sync(() => open++),
        () => (command === "echo" ? Effect.as(Stream.run(stdin, stdout), 0) : Effect.as(Stream.runDrain(stdin), 0)),
        () => Effect.sync(() => open--)
      )
  }, {
    maxStartups: { start: 5000, rate: 100, full: 5000 },
    // Clients and server share one event loop here: curve25519 keeps each handshake's CPU small, so the
    // figures measure the server's resources rather than the pure-TypeScript post-quantum KEX (DESIGN.md §5).
    // SOAK_KEX=default runs the default list (post-quantum first) instead.
    ...(kexDefault ? {} : { algorithms: { kex: ["curve25519-sha256"] } })
  }, supervisor)
  console.log(`kex: ${kexDefault ? "the default list (post-quantum hybrids first)" : "curve25519-sha256"}`)
  const fibers = () => Effect.map(supervisor.value, (fs) => fs.length)
  const base = snapshot("baseline", open, yield* fibers())
  const t0 = Date.now()

  // 1. 1 000 concurrent connections, all logged in and holding an exec open. They are opened 20 handshakes at a
  // time: each fiber is forked once the one before it in its slot holds its exec (forking alone returns at once,
  // so `concurrency` on the fork would start all 1 000 handshakes together — see the note in the header).
  let failed = 0
  const held = yield* Effect.forEach(Array.from({ length: n(1000) }), () =>
    Effect.gen(function*() {
      const ready = yield* Deferred.make<void>()
      const fiber = yield* Effect.gen(function*() {
        const conn = yield* Servers.connect(port, key, "soak")
        yield* conn.exec("hold")
      }).pipe(
        Effect.ensuring(Deferred.succeed(ready, undefined)),
        Effect.zipRight(Effect.never),
        Effect.scoped,
        Effect.tapErrorCause((cause) =>
          Effect.sync(() => {
            if (failed++ === 0) console.log(`phase 1: first failure: ${Cause.pretty(cause).split("\n")[0]}`)
          })
        ),
        Effect.fork
      )
      yield* Deferred.await(ready)
      return fiber
    }), { concurrency: 20 })
  while (open + failed < n(1000)) yield* Effect.sleep("100 millis")
  if (failed > 0) console.log(`phase 1: ${failed} connections failed`)
  const peak = snapshot(`${n(1000)} connections open`, open, yield* fibers())
  yield* Fiber.interruptAll(held)
  console.log(`phase 1: ${n(1000)} concurrent connections in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  // 2. 100 concurrent OpenSSH sessions, 1 MiB each with checksums; every 10th killed midway.
  const t1 = Date.now()
  const results = yield* Effect.forEach(Array.from({ length: n(100) }, (_, i) => i), (i) => sshEcho(port, i % 10 === 9), {
    concurrency: "unbounded"
  })
  const ok = results.filter((r) => r === "ok").length
  const killed = results.filter((r) => r === "killed").length
  const bad = results.filter((r) => r !== "ok" && r !== "killed")
  console.log(`phase 2: ${ok} ssh sessions moved 1 MiB intact, ${killed} killed midway, ${bad.length} bad ${bad.slice(0, 3).join("; ")} (${((Date.now() - t1) / 1000).toFixed(1)} s)`)

  // 3. 1 000 connect / exec / close cycles.
  const t2 = Date.now()
  yield* Effect.forEach(Array.from({ length: n(1000) }), () =>
    Effect.gen(function*() {
      const conn = yield* Servers.connect(port, key, "soak")
      const p = yield* conn.exec("drain")
      yield* Effect.scoped(Stream.runDrain(Stream.make(new Uint8Array(16)).pipe(Stream.run(p.stdin))))
      yield* p.exitStatus
    }).pipe(Effect.scoped), { concurrency: 10, discard: true })
  console.log(`phase 3: ${n(1000)} connect/exec/close cycles in ${((Date.now() - t2) / 1000).toFixed(1)} s`)

  yield* Effect.sleep("2 seconds")
  const after = snapshot("after", open, yield* fibers())
  console.log(`peak over baseline: rss +${mib(peak.rss - base.rss)} MiB, heap +${mib(peak.heap - base.heap)} MiB`)
  console.log(`after over baseline: rss +${mib(after.rss - base.rss)} MiB, heap +${mib(after.heap - base.heap)} MiB, fds ${after.fds - base.fds}, server connections ${after.connections - base.connections}, server fibers ${after.fibers - base.fibers}`)
  const leaked = after.fds - base.fds > 5 || after.connections !== base.connections || after.fibers > base.fibers + 5 ||
    bad.length > 0 || failed > 0 || ok < n(100) - Math.floor(n(100) / 10)
  return leaked ? 1 : 0
})

Effect.runPromise(main.pipe(Effect.scoped, Effect.provide(NodeSsh.layer), Logger.withMinimumLogLevel(LogLevel.Error))).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
