/**
 * OpenSSH `ssh` against `effect-ssh serve -f sshd_config` (served in-process by `Serve.start`), configured each
 * way: AllowUsers/DenyUsers, Match Address (clients from 127.0.0.1 and 127.0.0.2), Match User with ForceCommand
 * and AcceptEnv/SetEnv, MaxAuthTries, ClientAliveInterval dropping a dead client and keeping a live one (SEC-50,
 * LIM-24), RevokedKeys with KRLs from `ssh-keygen -k` for plain keys and for certificates of a TrustedUserCAKeys
 * CA (SEC-67), PermitRootLogin.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Serve from "../../src/cli/Serve.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sshd-serve-"))
const file = (name: string) => path.join(dir, name)
const keygen = (...args: Array<string>) => execFileSync(OpenSsh.SSH_KEYGEN, args, { stdio: "pipe" })

if (has) {
  keygen("-q", "-t", "ed25519", "-N", "", "-f", file("host"))
  for (const k of ["alice", "bob", "revoked", "ca", "certkey", "certkey2"]) keygen("-q", "-t", "ed25519", "-N", "", "-f", file(k))
  fs.writeFileSync(file("authorized_keys"), ["alice", "bob", "revoked"].map((k) => fs.readFileSync(file(`${k}.pub`), "utf8")).join(""))
  keygen("-q", "-s", file("ca"), "-I", "good", "-n", "carol", "-z", "7", file("certkey.pub"))
  keygen("-q", "-s", file("ca"), "-I", "bad", "-n", "carol", "-z", "13", file("certkey2.pub"))
  fs.writeFileSync(file("krl.spec"), "serial: 10-20\n")
  keygen("-k", "-f", file("krl"), "-s", file("ca.pub"), file("krl.spec"))
  keygen("-k", "-u", "-f", file("krl"), file("revoked.pub"))
}

/** Serves `config` (plus the host key and authorized_keys) on 127.0.0.1:0 with local commands; returns the port. */
const serve = (config: string, extra: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const cfg = file(`cfg-${Math.random().toString(36).slice(2)}`)
    const keys = /AuthorizedKeysFile/.test(config) ? "" : `AuthorizedKeysFile ${file("authorized_keys")}\n`
    fs.writeFileSync(cfg, `HostKey ${file("host")}\n${keys}ListenAddress 127.0.0.1:0\n${config}`)
    const [bound] = yield* Serve.start(["-f", cfg, "--exec", "local", ...extra])
    return bound!.port
  })

const login = (port: number, user: string, identity: string, command: string, extra: ReadonlyArray<string> = []) =>
  Effect.map(
    OpenSsh.ssh([...OpenSsh.sshLogin(port, file(identity)), ...extra, `${user}@127.0.0.1`, command]),
    (r) => ({ code: r.code, stdout: r.stdout.toString(), stderr: r.stderr })
  )

describe.skipIf(!has)("serve -f sshd_config ↔ OpenSSH ssh", () => {
  it.scopedLive("AllowUsers / DenyUsers: only the allowed user logs in", () =>
    Effect.gen(function*() {
      const port = yield* serve("AllowUsers alice bob\nDenyUsers bob\n")
      const a = yield* login(port, "alice", "alice", "echo in")
      assert.strictEqual(a.stdout, "in\n", a.stderr)
      const b = yield* login(port, "bob", "bob", "echo in")
      assert.strictEqual(b.code, 255)
      assert.include(b.stderr, "Permission denied")
      const c = yield* login(port, "mallory", "alice", "echo in")
      assert.strictEqual(c.code, 255)
    }))

  it.scopedLive("Match Address: a client from 127.0.0.2 is allowed where 127.0.0.1 is not", () =>
    Effect.gen(function*() {
      const port = yield* serve("AllowUsers nobody\nMatch Address 127.0.0.2\n  AllowUsers alice\n")
      const from2 = yield* login(port, "alice", "alice", "echo in", ["-b", "127.0.0.2"])
      assert.strictEqual(from2.stdout, "in\n", from2.stderr)
      const from1 = yield* login(port, "alice", "alice", "echo in", ["-b", "127.0.0.1"])
      assert.strictEqual(from1.code, 255)
    }))

  it.scopedLive("Match User: ForceCommand (SSH_ORIGINAL_COMMAND), AcceptEnv, SetEnv, PermitTTY", () =>
    Effect.gen(function*() {
      const port = yield* serve(
        "AcceptEnv LC_*\nSetEnv FROM_CONFIG=yes\nMatch User bob\n  ForceCommand echo forced:$SSH_ORIGINAL_COMMAND\n  PermitTTY no\n"
      )
      const bob = yield* login(port, "bob", "bob", "id")
      assert.strictEqual(bob.stdout, "forced:id\n", bob.stderr)
      const alice = yield* OpenSsh.ssh(
        [...OpenSsh.sshLogin(port, file("alice")), "-o", "SendEnv=LC_X OTHER_X", "alice@127.0.0.1", "echo $LC_X:$OTHER_X:$FROM_CONFIG"],
        { env: { LC_X: "sent", OTHER_X: "dropped" } }
      )
      // AcceptEnv LC_* passes LC_X, not OTHER_X; SetEnv adds its variable.
      assert.strictEqual(alice.stdout.toString(), "sent::yes\n", alice.stderr)
    }))

  it.scopedLive("Match User decides Banner, AuthenticationMethods and MaxAuthTries once the user name is known", () =>
    Effect.gen(function*() {
      fs.writeFileSync(file("banner-all"), "welcome, everyone\n")
      fs.writeFileSync(file("banner-bob"), "bob has his own banner\n")
      const port = yield* serve(
        `Banner ${file("banner-all")}\nMatch User bob\n  Banner ${file("banner-bob")}\n  AuthenticationMethods password\n` +
          "Match User carol\n  MaxAuthTries 1\n"
      )
      const as = (user: string, keys: ReadonlyArray<string>) =>
        Effect.map(
          OpenSsh.ssh([
            "-F", "/dev/null", "-p", String(port), ...keys.flatMap((k) => ["-i", file(k)]), "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=INFO", `${user}@127.0.0.1`, "echo in"
          ]),
          (r) => ({ code: r.code, stdout: r.stdout.toString(), stderr: r.stderr })
        )
      const alice = yield* as("alice", ["alice"])
      assert.strictEqual(alice.stdout, "in\n", alice.stderr)
      assert.include(alice.stderr, "welcome, everyone")
      // bob's key is authorized, but his Match block asks for a password (BatchMode has none) and shows his banner.
      const bob = yield* as("bob", ["bob"])
      assert.strictEqual(bob.code, 255)
      assert.include(bob.stderr, "bob has his own banner")
      assert.notInclude(bob.stderr, "welcome, everyone")
      assert.include(bob.stderr, "Permission denied (password)")
      // carol may fail once: the unauthorized key ends it before alice's (authorized) key is tried.
      const carol = yield* as("carol", ["ca", "alice"])
      assert.strictEqual(carol.code, 255)
      assert.include(carol.stderr, "Too many authentication failures")
      const carolOk = yield* as("carol", ["alice"])
      assert.strictEqual(carolOk.stdout, "in\n", carolOk.stderr)
    }))

  it.scopedLive("authorized_keys environment= follows PermitUserEnvironment, not AcceptEnv (as sshd)", () =>
    Effect.gen(function*() {
      fs.writeFileSync(file("env_keys"), `environment="FROM_KEY=1",environment="LC_KEY=2" ${fs.readFileSync(file("alice.pub"), "utf8")}`)
      const run = (config: string) =>
        Effect.gen(function*() {
          const port = yield* serve(`AuthorizedKeysFile ${file("env_keys")}\n${config}`)
          return yield* login(port, "alice", "alice", "echo $FROM_KEY:$LC_KEY")
        })
      // AcceptEnv is about what the client sends: it neither admits nor drops the key's variables.
      assert.strictEqual((yield* run("PermitUserEnvironment yes\n")).stdout, "1:2\n")
      assert.strictEqual((yield* run("PermitUserEnvironment no\nAcceptEnv *\n")).stdout, ":\n")
      assert.strictEqual((yield* run("PermitUserEnvironment LC_*\n")).stdout, ":2\n")
    }))

  it.scopedLive("MaxAuthTries 2: the third key is never tried, the server disconnects", () =>
    Effect.gen(function*() {
      fs.writeFileSync(file("only_alice"), fs.readFileSync(file("alice.pub")))
      const port = yield* serve(`MaxAuthTries 2\nAuthorizedKeysFile ${file("only_alice")}\n`)
      const args = ["-i", file("bob"), "-i", file("revoked"), "-i", file("alice")]
      const r = yield* login(port, "alice", "bob", "echo in", args)
      assert.strictEqual(r.code, 255)
      assert.include(r.stderr, "Too many authentication failures")
      const ok = yield* login(port, "alice", "alice", "echo in")
      assert.strictEqual(ok.stdout, "in\n")
    }))

  it.scopedLive("SEC-50 / LIM-24: ClientAliveInterval drops a client that stopped answering; a live one stays", () =>
    Effect.gen(function*() {
      const port = yield* serve("ClientAliveInterval 1\nClientAliveCountMax 2\n")
      // A live client answers the keepalives: a 4 s command completes.
      const live = yield* login(port, "alice", "alice", "sleep 4; echo done")
      assert.strictEqual(live.stdout, "done\n", live.stderr)
      // A stopped client (SIGSTOP) answers nothing: the server closes the connection; once resumed, ssh sees it.
      const child: ChildProcess = spawn(OpenSsh.SSH, [...OpenSsh.sshLogin(port, file("alice")), "alice@127.0.0.1", "sleep 30; echo survived"], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      let err = ""
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
      yield* Effect.sleep("2 seconds")
      child.kill("SIGSTOP")
      yield* Effect.sleep("8 seconds")
      child.kill("SIGCONT")
      const code = yield* Effect.async<number | null>((resume) => {
        child.once("close", (c) => resume(Effect.succeed(c)))
      })
      assert.strictEqual(code, 255, err)
      assert.notInclude(out, "survived")
    }), 60_000)

  it.scopedLive("SEC-67: RevokedKeys (a KRL) refuses a revoked key that authorized_keys lists, and revoked certificate serials", () =>
    Effect.gen(function*() {
      const port = yield* serve(`RevokedKeys ${file("krl")}\nTrustedUserCAKeys ${file("ca.pub")}\n`)
      const revoked = yield* login(port, "alice", "revoked", "echo in")
      assert.strictEqual(revoked.code, 255)
      const fine = yield* login(port, "alice", "alice", "echo in")
      assert.strictEqual(fine.stdout, "in\n", fine.stderr)
      const goodCert = yield* login(port, "carol", "certkey", "echo cert", ["-o", `CertificateFile=${file("certkey-cert.pub")}`])
      assert.strictEqual(goodCert.stdout, "cert\n", goodCert.stderr)
      const badCert = yield* login(port, "carol", "certkey2", "echo cert", ["-o", `CertificateFile=${file("certkey2-cert.pub")}`])
      assert.strictEqual(badCert.code, 255)
      // Without RevokedKeys, the same certificate logs in: the KRL is what refused it.
      const port2 = yield* serve(`TrustedUserCAKeys ${file("ca.pub")}\n`)
      const again = yield* login(port2, "carol", "certkey2", "echo cert", ["-o", `CertificateFile=${file("certkey2-cert.pub")}`])
      assert.strictEqual(again.stdout, "cert\n", again.stderr)
    }))

  it.scopedLive("PermitRootLogin no refuses root; prohibit-password (the default) lets root in by key", () =>
    Effect.gen(function*() {
      const no = yield* serve("PermitRootLogin no\n")
      assert.strictEqual((yield* login(no, "root", "alice", "echo in")).code, 255)
      const dflt = yield* serve("")
      assert.strictEqual((yield* login(dflt, "root", "alice", "echo in")).stdout, "in\n")
    }))
})
