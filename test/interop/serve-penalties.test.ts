/**
 * Per-source limits of `effect-ssh serve` (OpenSSH 9.8 PerSourcePenalties, PerSourceMaxStartups; SEC-37, SEC-38):
 * 60 stalled connections from 127.0.0.1 and a real OpenSSH login from 127.0.0.2 coexist; once the stalled ones
 * exceed LoginGraceTime, 127.0.0.1 is under penalty (refused before any byte) while 127.0.0.2 still logs in.
 * Also the pure penalty table: accumulation, the `min` threshold, expiry, the exempt list and the bounded size.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Serve from "../../src/cli/Serve.js"
import * as Penalties from "../../src/server/internal/penalties.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-penalties-"))
const file = (name: string) => path.join(dir, name)
if (has) {
  for (const k of ["host", "alice"]) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", file(k)])
}

/** A TCP connection from `from` that sends nothing; resolves how it went: got the server's version, or closed. */
const stalled = (port: number, from: string) =>
  Effect.async<{ readonly socket: net.Socket; readonly greeted: Promise<boolean> }>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from })
    socket.on("error", () => {})
    const greeted = new Promise<boolean>((done) => {
      socket.once("data", () => done(true))
      socket.once("close", () => done(false))
    })
    socket.once("connect", () => resume(Effect.succeed({ socket, greeted })))
  })

const closed = (socket: net.Socket) =>
  Effect.async<void>((resume) => {
    if (socket.destroyed || socket.readyState === "closed") return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
  })

describe("PerSourcePenalties table", () => {
  it("penalties accumulate up to max; a source is refused once the penalty reaches min, until it expires", () => {
    const p = new Penalties.Penalties({ ...Penalties.DEFAULTS, exempt: "10.0.0.0/8" })
    p.record("1.2.3.4", "authfail", 0)
    p.record("1.2.3.4", "authfail", 0)
    assert.isFalse(p.blocked("1.2.3.4", 1))
    p.record("1.2.3.4", "authfail", 0)
    assert.isTrue(p.blocked("1.2.3.4", 1))
    assert.isTrue(p.blocked("1.2.3.4", 14_000))
    assert.isFalse(p.blocked("1.2.3.4", 15_001))
    for (let i = 0; i < 100; i++) p.record("5.6.7.8", "crash", 0)
    assert.isTrue(p.blocked("5.6.7.8", 599_000))
    assert.isFalse(p.blocked("5.6.7.8", 600_001))
    p.record("10.1.1.1", "crash", 0)
    assert.isFalse(p.blocked("10.1.1.1", 1))
  })

  it("the table is bounded: when full, expired entries go, and new sources are not recorded (overflow: permissive)", () => {
    const p = new Penalties.Penalties({ ...Penalties.DEFAULTS, maxSources: 3 })
    for (const a of ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"]) p.record(a, "crash", 0)
    assert.strictEqual(p.size, 3)
    assert.isFalse(p.blocked("1.1.1.4", 1))
    p.record("1.1.1.5", "crash", 100_000)
    assert.strictEqual(p.size, 1)
    assert.isTrue(p.blocked("1.1.1.5", 100_001))
  })

  it("PerSourcePenalties arguments parse like sshd_config(5)", () => {
    assert.deepStrictEqual(Penalties.parse(["no"]), "off")
    const o = Penalties.parse(["crash:60", "authfail:2", "min:10", "max-sources4:100"])
    assert.isObject(o)
    if (typeof o === "object") assert.deepInclude(o, { crash: 60, authfail: 2, min: 10, maxSources: 100, noauth: 1 })
    assert.isString(Penalties.parse(["bogus:1"]))
  })
})

describe.skipIf(!has)("serve: stalled connections from one source do not lock out another", () => {
  it.scopedLive("60 stalled connections from 127.0.0.1 and a real login from 127.0.0.2 coexist", () =>
    Effect.gen(function*() {
      const cfg = file("sshd_config")
      fs.writeFileSync(cfg, `HostKey ${file("host")}\nListenAddress 127.0.0.1:0\nAuthorizedKeysFile ${file("alice.pub")}\nLoginGraceTime 3\n`)
      const [bound] = yield* Serve.start(["-f", cfg, "--exec", "local"])
      const port = bound!.port
      const floods = yield* Effect.forEach(Array.from({ length: 60 }), () => stalled(port, "127.0.0.1"), {
        concurrency: 10
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => floods.forEach((f) => f.socket.destroy())))
      const greeted = yield* Effect.promise(() => Promise.all(floods.map((f) => f.greeted)))
      // PerSourceMaxStartups (default 8 for serve): the rest were closed before any byte.
      assert.strictEqual(greeted.filter((g) => g).length, Serve.DEFAULT_PER_SOURCE_MAX_STARTUPS)
      assert.strictEqual(greeted.filter((g) => !g).length, 60 - Serve.DEFAULT_PER_SOURCE_MAX_STARTUPS)
      const login = () =>
        OpenSsh.ssh([...OpenSsh.sshLogin(port, file("alice")), "-b", "127.0.0.2", "alice@127.0.0.1", "echo in"])
      for (let i = 0; i < 5; i++) {
        const r = yield* login()
        assert.strictEqual(r.stdout.toString(), "in\n", r.stderr)
      }
      // LoginGraceTime ends the stalled ones: each costs 127.0.0.1 a grace-exceeded penalty (20 s ≥ min 15 s).
      yield* Effect.forEach(floods.filter((_, i) => greeted[i]), (f) => closed(f.socket), { discard: true })
      const after = yield* stalled(port, "127.0.0.1")
      assert.isFalse(yield* Effect.promise(() => after.greeted), "127.0.0.1 is refused while under penalty")
      const r = yield* login()
      assert.strictEqual(r.stdout.toString(), "in\n", r.stderr)
    }), 90_000)
})
