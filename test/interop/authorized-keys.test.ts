/**
 * authorized_keys options enforced by our SshServer against OpenSSH's `ssh` (SEC-64, SEC-66): the server reads
 * the file through NodeAuthorizedKeys at every attempt, so each case rewrites it. command= overrides the
 * command (exec, shell and the sftp subsystem alike), from= refuses other addresses, no-pty and restrict refuse
 * a pty, expiry-time refuses once passed, environment= sets variables.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeAuthorizedKeys from "../../src/node/NodeAuthorizedKeys.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as Servers from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-authkeys-"))
fs.chmodSync(dir, 0o755)
const keyFile = path.join(dir, "id_ed25519")
const authorized = path.join(dir, "authorized_keys")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const publicLine = has ? fs.readFileSync(`${keyFile}.pub`, "utf8").trim() : ""
const encoder = new TextEncoder()

const writeAuthorized = (text: string) => fs.writeFileSync(authorized, `${text}\n`, { mode: 0o600 })

/** Reports what ran: the command, pty or not, and the interesting environment. */
const report: SshServer.SessionHandler<{ readonly command: string }> = (ctx) =>
  Effect.as(
    Stream.run(
      Stream.make(encoder.encode(`${JSON.stringify({
        command: ctx.command,
        pty: ctx.pty !== undefined,
        original: ctx.env.SSH_ORIGINAL_COMMAND ?? null,
        greeting: ctx.env.GREETING ?? null
      })}\n`)),
      ctx.stdout
    ),
    0
  )

const handlers: SshServer.ServerHandlers = {
  auth: { publicKey: NodeAuthorizedKeys.file(authorized) },
  exec: report,
  shell: (ctx) => report({ ...ctx, command: "<shell>" }),
  subsystems: { sftp: (ctx) => report({ ...ctx, command: "<sftp subsystem>" }) }
}

const login = (port: number, ...args: ReadonlyArray<string>) =>
  OpenSsh.ssh([...OpenSsh.sshLogin(port, keyFile), ...args])

const parse = (r: { stdout: Buffer; stderr: string }) => {
  try {
    return JSON.parse(r.stdout.toString().trim()) as Record<string, unknown>
  } catch {
    throw new Error(`not a report: ${r.stdout.toString()} / ${r.stderr}`)
  }
}

describe.skipIf(!has)("authorized_keys options, OpenSSH ssh ↔ our SshServer (SEC-64)", () => {
  it.scopedLive("a plain line: the client's command runs, with a pty when asked", () =>
    Effect.gen(function*() {
      writeAuthorized(publicLine)
      const port = yield* Servers.serve(handlers)
      const r = yield* login(port, "-tt", "alice@127.0.0.1", "hello")
      assert.strictEqual(r.code, 0, r.stderr)
      assert.deepStrictEqual(parse(r), { command: "hello", pty: true, original: null, greeting: null })
    }))

  it.scopedLive("SEC-66: command= replaces exec, shell and the sftp subsystem; SSH_ORIGINAL_COMMAND shows the request", () =>
    Effect.gen(function*() {
      writeAuthorized(`command="forced thing" ${publicLine}`)
      const port = yield* Servers.serve(handlers)
      const exec = yield* login(port, "alice@127.0.0.1", "rm -rf /")
      assert.deepStrictEqual(parse(exec), { command: "forced thing", pty: false, original: "rm -rf /", greeting: null })
      const shell = yield* login(port, "-T", "alice@127.0.0.1")
      assert.deepStrictEqual(parse(shell), { command: "forced thing", pty: false, original: null, greeting: null })
      const sftp = yield* login(port, "-s", "alice@127.0.0.1", "sftp")
      assert.deepStrictEqual(parse(sftp), { command: "forced thing", pty: false, original: null, greeting: null })
    }))

  it.scopedLive("from= refuses other addresses and accepts the listed one", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      writeAuthorized(`from="10.0.0.0/8" ${publicLine}`)
      const refused = yield* login(port, "alice@127.0.0.1", "x")
      assert.strictEqual(refused.code, 255)
      assert.include(refused.stderr, "Permission denied")
      writeAuthorized(`from="10.0.0.0/8,127.0.0.1" ${publicLine}`)
      const ok = yield* login(port, "alice@127.0.0.1", "x")
      assert.strictEqual(ok.code, 0, ok.stderr)
      writeAuthorized(`from="127.0.0.0/8,!127.0.0.1" ${publicLine}`)
      const negated = yield* login(port, "alice@127.0.0.1", "x")
      assert.strictEqual(negated.code, 255)
    }))

  it.scopedLive("no-pty and restrict refuse a pty (ssh -tt then gives up, as against sshd)", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      for (const options of ["no-pty", "restrict"]) {
        writeAuthorized(`${options} ${publicLine}`)
        const r = yield* login(port, "-tt", "alice@127.0.0.1", "hello")
        assert.include(r.stderr, "PTY allocation request failed")
        assert.notInclude(r.stdout.toString(), "\"pty\":true")
        // Without a pty request the same key runs the command.
        const plain = yield* login(port, "-T", "alice@127.0.0.1", "hello")
        assert.deepStrictEqual(parse(plain), { command: "hello", pty: false, original: null, greeting: null })
      }
      writeAuthorized(`restrict,pty ${publicLine}`)
      const again = yield* login(port, "-tt", "alice@127.0.0.1", "hello")
      assert.strictEqual(parse(again).pty, true)
    }))

  it.scopedLive("expiry-time: a past time refuses the key, a future one accepts it", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      writeAuthorized(`expiry-time="20200101Z" ${publicLine}`)
      const expired = yield* login(port, "alice@127.0.0.1", "x")
      assert.strictEqual(expired.code, 255)
      writeAuthorized(`expiry-time="29990101Z" ${publicLine}`)
      const ok = yield* login(port, "alice@127.0.0.1", "x")
      assert.strictEqual(ok.code, 0, ok.stderr)
    }))

  it.scopedLive("environment= sets a variable for the session; an unknown option disables the line", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      writeAuthorized(`environment="GREETING=hi there" ${publicLine}`)
      const r = yield* login(port, "alice@127.0.0.1", "x")
      assert.strictEqual(parse(r).greeting, "hi there")
      writeAuthorized(`frobnicate ${publicLine}`)
      const refused = yield* login(port, "alice@127.0.0.1", "x")
      assert.strictEqual(refused.code, 255)
    }))

  it.scopedLive("StrictModes: a group-writable authorized_keys authorises nothing", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve(handlers)
      writeAuthorized(publicLine)
      fs.chmodSync(authorized, 0o664)
      const r = yield* login(port, "alice@127.0.0.1", "x")
      fs.chmodSync(authorized, 0o600)
      assert.strictEqual(r.code, 255)
    }))

  it.scopedLive("SEC-66: a user certificate via cert-authority: force-command replaces exec and sftp, no permit-pty means no pty", () =>
    Effect.gen(function*() {
      const caFile = path.join(dir, "ca")
      const certUser = path.join(dir, "cert_user")
      if (!fs.existsSync(caFile)) {
        execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", caFile])
        execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", certUser])
      }
      execFileSync(OpenSsh.SSH_KEYGEN, [
        "-q", "-s", caFile, "-I", "cert-user", "-n", "alice", "-O", "force-command=forced by cert", "-O", "no-pty",
        `${certUser}.pub`
      ])
      writeAuthorized(`cert-authority ${fs.readFileSync(`${caFile}.pub`, "utf8").trim()}`)
      const port = yield* Servers.serve(handlers)
      const asCert = (...args: ReadonlyArray<string>) => OpenSsh.ssh([...OpenSsh.sshLogin(port, certUser), ...args])
      const exec = yield* asCert("alice@127.0.0.1", "id")
      assert.deepStrictEqual(parse(exec), { command: "forced by cert", pty: false, original: "id", greeting: null })
      const sftp = yield* asCert("-s", "alice@127.0.0.1", "sftp")
      assert.deepStrictEqual(parse(sftp), { command: "forced by cert", pty: false, original: null, greeting: null })
      const tty = yield* asCert("-tt", "alice@127.0.0.1", "x")
      assert.include(tty.stderr, "PTY allocation request failed")
      // Another user name is not among the certificate's principals.
      const bob = yield* asCert("bob@127.0.0.1", "x")
      assert.strictEqual(bob.code, 255)
    }))
})
