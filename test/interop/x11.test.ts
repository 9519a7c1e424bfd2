/**
 * X11 forwarding against a real X server (Xvfb, cookies checked) in both roles: OpenSSH `ssh -Y`/`-X` through our
 * server runs xdpyinfo and xprop remotely and sees the Xvfb's screen (only a fake cookie ever reaches our server's
 * xauth); our client against sshd with X11Forwarding yes, and through our own server, does the same, and refuses
 * an X11 connection that carries a forged cookie (SEC-27, SEC-47); our server refuses x11-req unless
 * X11Forwarding is on (SEC-48).
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Redacted, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeLocalProcess from "../../src/node/NodeLocalProcess.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as NodeX11 from "../../src/node/NodeX11.js"
import type * as SshServer from "../../src/server/SshServer.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as RawAuth from "../helpers/RawAuth.js"
import * as Servers from "../helpers/Servers.js"
import * as TempDir from "../helpers/TempDir.js"
import * as Xvfb from "../helpers/Xvfb.js"

const has = OpenSsh.haveOpenSsh() && Xvfb.haveX11()
const CLI = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-x11-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username
const text = (c: Chunk.Chunk<Uint8Array>) => Buffer.concat(Chunk.toReadonlyArray(c)).toString()

/**
 * xdpyinfo's screen lines and xprop's first root property, as X clients print them through the forward. Each is
 * tried up to 3 times: about one X connection in 16 fails the same way with OpenSSH's ssh -Y against OpenSSH's
 * sshd here (ssh's socket to Xvfb reads EPIPE right after a previous x11 channel closes), so one failure is not
 * ours.
 */
const PROBE = "for t in 1 2 3; do xdpyinfo > /tmp/xdpy.$$ && break; done; grep -E 'name of display|dimensions' /tmp/xdpy.$$; " +
  "rm -f /tmp/xdpy.$$; for t in 1 2 3; do xprop -root > /tmp/xprop.$$ && break; done; head -1 /tmp/xprop.$$; rm -f /tmp/xprop.$$"

/** Our server: exec runs /bin/sh -c, X11 forwarding as given, xauth writing `authority`. */
const ourServer = (forwarding: SshServer.ServerHandlers["forwarding"]) =>
  Servers.serve({
    auth: { publicKey: () => Effect.succeed(true) },
    exec: (ctx) => NodeLocalProcess.run(ctx, ctx.command, { acceptEnv: [] }),
    forwarding
  })

describe.skipIf(!has)("X11 forwarding with Xvfb", () => {
  it.scopedLive("OpenSSH ssh -Y and ssh -X through our server: xdpyinfo/xprop see the Xvfb; xauth got only a fake cookie", () =>
    Effect.gen(function*() {
      const x = yield* Xvfb.xvfb
      const dir = yield* TempDir.tempDir("effect-ssh-x11srv-")
      const authority = path.join(dir, "Xauthority")
      const port = yield* ourServer({ x11Forwarding: true, xauth: NodeX11.xauth({ file: () => authority }) })
      for (const flag of ["-Y", "-X"]) {
        const r = yield* OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), flag, "127.0.0.1", PROBE], {
          env: { DISPLAY: x.display, XAUTHORITY: x.authority }
        })
        const out = r.stdout.toString()
        assert.strictEqual(r.code, 0, `${flag}: ${r.stderr}`)
        assert.match(out, /name of display:\s+localhost:1\d\.0/, flag)
        assert.include(out, `dimensions:    ${x.dimensions} pixels`, flag)
        assert.match(out, /^[A-Z_]+\(/m, `${flag}: xprop printed a root property: ${out} ${r.stderr}`)
      }
      // The server's authority file holds the fake cookies ssh made up, never the Xvfb's real one.
      const listed = execFileSync("xauth", ["-f", authority, "list"]).toString()
      assert.match(listed, /unix:1\d\s+MIT-MAGIC-COOKIE-1\s+[0-9a-f]{32}/)
      assert.notInclude(listed, x.cookie)
    }), { timeout: 60_000 })

  it.scopedLive("X11UseLocalhost no: our server names the display after the machine as sshd does (hostname:N.0), and X clients reach it", () =>
    Effect.gen(function*() {
      const x = yield* Xvfb.xvfb
      const dir = yield* TempDir.tempDir("effect-ssh-x11any-")
      const authority = path.join(dir, "Xauthority")
      const port = yield* ourServer({
        x11Forwarding: true,
        x11UseLocalhost: false,
        xauth: NodeX11.xauth({ file: () => authority })
      })
      const r = yield* OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), "-Y", "127.0.0.1", `echo DISPLAY=$DISPLAY; ${PROBE}`], {
        env: { DISPLAY: x.display, XAUTHORITY: x.authority }
      })
      const out = r.stdout.toString()
      assert.strictEqual(r.code, 0, r.stderr)
      const host = os.hostname().replace(/[.]/g, "\\.")
      assert.match(out, new RegExp(`^DISPLAY=${host}:1\\d\\.0$`, "m"))
      assert.match(out, new RegExp(`name of display:\\s+${host}:1\\d\\.0`))
      assert.include(out, `dimensions:    ${x.dimensions} pixels`)
      // The cookie is added for the display as named (sshd: auth_display = display without X11UseLocalhost); xauth
      // lists this machine's own name as host/unix:N.
      const listed = execFileSync("xauth", ["-f", authority, "list"]).toString()
      assert.match(listed, new RegExp(`^${host}(/unix)?:1\\d\\s+MIT-MAGIC-COOKIE-1`, "m"), listed)
    }), { timeout: 60_000 })

  it.scopedLive("our client through our server: xdpyinfo on the server side reaches the client's Xvfb", () =>
    Effect.gen(function*() {
      const x = yield* Xvfb.xvfb
      const dir = yield* TempDir.tempDir("effect-ssh-x11ours-")
      const port = yield* ourServer({ x11Forwarding: true, xauth: NodeX11.xauth({ file: () => path.join(dir, "Xauthority") }) })
      const ssh = yield* Servers.connect(port, keyFile)
      const out = yield* Effect.gen(function*() {
        const p = yield* ssh.exec(PROBE, { x11: { display: x.display, cookie: Redacted.make(x.cookie), singleConnection: false } })
        return text(yield* Stream.runCollect(p.stdout))
      }).pipe(Effect.scoped)
      assert.match(out, /name of display:\s+localhost:1\d\.0/)
      assert.include(out, `dimensions:    ${x.dimensions} pixels`)
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("SEC-48: our server refuses x11-req unless X11Forwarding is on (ssh warns, the command still runs)", () =>
    Effect.gen(function*() {
      const x = yield* Xvfb.xvfb
      const port = yield* ourServer({ allowTcpForwarding: "yes" })
      const r = yield* OpenSsh.ssh(
        [...OpenSsh.sshLogin(port, keyFile), "-o", "LogLevel=INFO", "-Y", "127.0.0.1", "echo DISPLAY=$DISPLAY"],
        { env: { DISPLAY: x.display, XAUTHORITY: x.authority } }
      )
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.toString().trim(), "DISPLAY=")
      assert.include(r.stderr, "X11 forwarding request failed")
    }), { timeout: 60_000 })

  it.scopedLive("our client against sshd X11Forwarding yes: xdpyinfo reaches the Xvfb; a forged cookie is refused (SEC-27)", () =>
    Effect.gen(function*() {
      const x = yield* Xvfb.xvfb
      const dir = yield* TempDir.tempDir("effect-ssh-x11sshd-")
      const { port } = yield* OpenSsh.sshdTcp({
        authorizedKeys: [RawAuth.authorizedKeyLine(userKey)],
        logLevel: "INFO",
        // sshd runs xauth with the session's environment: its cookie goes to this file, not ~/.Xauthority.
        extra: ["X11Forwarding yes", "X11UseLocalhost yes", `SetEnv XAUTHORITY=${path.join(dir, "Xauthority")}`]
      })
      const ssh = yield* SshClient.connect({
        host: "127.0.0.1",
        port,
        username: user,
        auth: [Auth.privateKey(userKey)],
        hostKeys: HostKeyPolicy.insecureAcceptAny
      })
      const x11 = { display: x.display, cookie: Redacted.make(x.cookie) }
      const run = (command: string) =>
        Effect.gen(function*() {
          const p = yield* ssh.exec(command, { x11 })
          const [out, err] = yield* Effect.all([Stream.runCollect(p.stdout), Stream.runCollect(p.stderr)], { concurrency: 2 })
          return { out: text(out), err: text(err), status: (yield* p.exitStatus).status }
        }).pipe(Effect.scoped)
      const ok = yield* run(PROBE)
      assert.strictEqual(ok.status, 0, ok.err)
      assert.match(ok.out, /name of display:\s+localhost:1\d\.0/)
      assert.include(ok.out, `dimensions:    ${x.dimensions} pixels`)
      // An X client on the server with a cookie of the right form that is not the session's fake one.
      const forged = path.join(dir, "forged")
      const bad = yield* run(
        `xauth -f ${forged} add "$DISPLAY" MIT-MAGIC-COOKIE-1 00112233445566778899aabbccddeeff && XAUTHORITY=${forged} xdpyinfo`
      )
      assert.notStrictEqual(bad.status, 0)
      assert.include(bad.err, "unable to open display")
      assert.notInclude(bad.out, x.dimensions)
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("effect-ssh ssh -Y and -X against sshd reach the Xvfb; -x and no flag forward nothing", () =>
    Effect.gen(function*() {
      const x = yield* Xvfb.xvfb
      const dir = yield* TempDir.tempDir("effect-ssh-x11cli-")
      const key = path.join(dir, "id_ed25519")
      execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", key])
      const { port } = yield* OpenSsh.sshdTcp({
        authorizedKeys: [fs.readFileSync(`${key}.pub`, "utf8").trim()],
        logLevel: "INFO",
        extra: ["X11Forwarding yes", `SetEnv XAUTHORITY=${path.join(dir, "Xauthority")}`]
      })
      const cli = (flags: ReadonlyArray<string>, command: string) =>
        Effect.sync(() => {
          try {
            return execFileSync(process.execPath, [
              CLI, "ssh", ...flags, "-F", "/dev/null", "-i", key, "-p", String(port), "-o", "StrictHostKeyChecking=no",
              "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", `${user}@127.0.0.1`, command
            ], { env: { ...process.env, DISPLAY: x.display, XAUTHORITY: x.authority, HOME: dir }, timeout: 30_000 }).toString()
          } catch (e) {
            return `failed: ${String(e)}`
          }
        })
      for (const flags of [["-Y"], ["-X", "-o", "ForwardX11Trusted=yes"]]) {
        const out = yield* cli(flags, PROBE)
        assert.match(out, /name of display:\s+localhost:1\d\.0/, `${flags.join(" ")}: ${out}`)
        assert.include(out, `dimensions:    ${x.dimensions} pixels`, flags.join(" "))
      }
      // -X alone (ForwardX11Trusted no, upstream ssh's default; Debian's ssh defaults to yes) forwards with an
      // untrusted cookie from `xauth generate`, which this Xvfb does not accept: only the forward is checked.
      assert.match(yield* cli(["-X"], "echo DISPLAY=$DISPLAY"), /^DISPLAY=localhost:1\d\.0$/m)
      // -x, and no flag at all (ForwardX11 defaults to no): no x11-req, no DISPLAY.
      assert.strictEqual((yield* cli(["-x"], "echo DISPLAY=$DISPLAY")).trim(), "DISPLAY=")
      assert.strictEqual((yield* cli([], "echo DISPLAY=$DISPLAY")).trim(), "DISPLAY=")
    }), { timeout: 90_000 })
})
