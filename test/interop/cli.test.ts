/**
 * The `effect-ssh exec` command line: bin/effect-ssh.mjs run as a child process (node + tsx, never a shell)
 * against OpenSSH's sshd on 127.0.0.1, with a user key made by ssh-keygen for each run. Exit codes follow ssh:
 * the remote exit status, 255 for connection, login and usage failures and for a command killed by a signal.
 * `exec` is `effect-ssh ssh` (test/interop/cli-ssh.test.ts has the ssh_config and pty cases).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as OpenSsh from "../helpers/OpenSsh.js"

const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const has = OpenSsh.haveOpenSsh()
const user = os.userInfo().username
const PYTHON = "/usr/bin/python3"
// The terminal tests create a user with a password (as client-auth.test.ts does) and drive the CLI through a
// pseudo-terminal made by Python's pty module.
const withTerminal = has && process.getuid?.() === 0 && fs.existsSync(PYTHON)
if (has && !withTerminal) console.warn("\n*** not root or no python3: the CLI's terminal prompt tests are SKIPPED ***\n")

/** A fresh HOME (so that the machine's ~/.ssh plays no part) with an authorized and an unauthorized key. */
const setup = () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-cli-"))
  const key = path.join(home, "id_ed25519")
  const stranger = path.join(home, "id_stranger")
  for (const k of [key, stranger]) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "cli-test", "-f", k])
  return { home, key, stranger, authorized: fs.readFileSync(`${key}.pub`, "utf8").trim() }
}

interface Result {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderrBytes: Buffer
  /** stderr decoded as UTF-8. */
  readonly stderr: string
}

const runCli = (home: string, args: ReadonlyArray<string>, input: Uint8Array = new Uint8Array(0)) =>
  Effect.async<Result>((resume) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, HOME: home }
    })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => err.push(d))
    // The CLI may exit without reading all of its stdin (a refused connection): that is not the test's error.
    child.stdin.on("error", () => {})
    child.stdin.end(input)
    child.once("close", (code) => {
      const stderrBytes = Buffer.concat(err)
      resume(Effect.succeed({ code, stdout: Buffer.concat(out), stderrBytes, stderr: stderrBytes.toString() }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(Effect.timeoutFail({ duration: "45 seconds", onTimeout: () => new Error(`effect-ssh ${args.join(" ")} hung`) }), Effect.orDie)

/**
 * Runs the CLI on a pseudo-terminal (stdin, stdout and stderr all on it) and types `answers` one by one, each
 * when the output ends with a prompt ("…: " or "…? "). Returns everything the terminal showed.
 */
const DRIVER = `
import json, os, pty, select, sys
node, bin, home, answers, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = home
    os.execv(node, [node, bin] + args)
out, typed = b"", 0
while True:
    ready, _, _ = select.select([fd], [], [], 40)
    if not ready:
        os.kill(pid, 9)
        break
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
    if typed < len(answers) and (out.endswith(b": ") or out.endswith(b"? ")):
        os.write(fd, answers[typed].encode() + b"\\r")
        typed += 1
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "out": out.decode(errors="replace")}))
`

const runOnTerminal = (home: string, args: ReadonlyArray<string>, answers: ReadonlyArray<string>) =>
  Effect.sync(() => {
    const driver = path.join(home, "pty-driver.py")
    fs.writeFileSync(driver, DRIVER)
    const r = execFileSync(PYTHON, [driver, process.execPath, BIN, home, JSON.stringify(answers), ...args], { timeout: 60_000 })
    return JSON.parse(r.toString()) as { readonly code: number; readonly out: string }
  })

const insecure = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]

const hostFingerprints = (): Array<string> =>
  fs.readdirSync(OpenSsh.hostKeyDir()).filter((f) => f.endsWith(".pub")).map((f) =>
    execFileSync(OpenSsh.SSH_KEYGEN, ["-l", "-f", path.join(OpenSsh.hostKeyDir(), f)]).toString().split(" ")[1]!
  )

// The command line itself (SshArgs) and -o values (ssh_config) are tested in test/unit/config/.

describe.skipIf(!has)("effect-ssh exec against OpenSSH sshd", () => {
  const sshd = (authorized: string) => OpenSsh.sshdTcp({ authorizedKeys: [authorized], logLevel: "INFO" })

  it.scopedLive("prints the remote stdout and exits with the remote exit status", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const r = yield* runCli(t.home, ["exec", "-p", `${port}`, "-i", t.key, ...insecure, `${user}@127.0.0.1`, "echo hi; exit 3"])
      assert.strictEqual(r.stdout.toString(), "hi\n", r.stderr)
      assert.strictEqual(r.code, 3, r.stderr)
      // StrictHostKeyChecking=no says on stderr that it trusted the key without checking it.
      assert.match(r.stderr, /^effect-ssh: warning: .*without verification/m)
    }))

  it.scopedLive("passes stdin through (1 MiB through cat) and joins the command words with spaces", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const input = crypto.randomBytes(1024 * 1024)
      const r = yield* runCli(t.home, ["exec", "-p", `${port}`, "-i", t.key, ...insecure, "127.0.0.1", "cat"], input)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.length, input.length)
      assert.isTrue(r.stdout.equals(input), "cat returned other bytes")
      // Words after the destination belong to the command, options included (ssh joins them with spaces).
      const w = yield* runCli(t.home, ["exec", "-p", `${port}`, "-i", t.key, ...insecure, "127.0.0.1", "echo", "--help", "-p", "x"])
      assert.strictEqual(w.stdout.toString(), "--help -p x\n", w.stderr)
      assert.strictEqual(w.code, 0)
    }), { timeout: 180_000 })

  it.scopedLive("passes the remote stderr through as bytes, separately from stdout", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const r = yield* runCli(t.home, [
        "exec",
        `-p${port}`,
        "-i",
        t.key,
        ...insecure,
        "127.0.0.1",
        "printf out; printf 'e\\001\\377r\\n' >&2"
      ])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout.toString(), "out")
      // Bytes, not text: 0xff is no UTF-8 and arrives unchanged.
      const tail = Buffer.from([0x65, 0x01, 0xff, 0x72, 0x0a])
      assert.isTrue(r.stderrBytes.subarray(-tail.length).equals(tail), r.stderrBytes.toString("hex"))
    }))

  it.scopedLive("a command killed by a signal exits 255, as ssh does", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const r = yield* runCli(t.home, ["exec", "-p", `${port}`, "-i", t.key, ...insecure, "127.0.0.1", "kill -9 $$"])
      assert.strictEqual(r.code, 255, r.stderr)
    }))

  it.scopedLive("a key the server does not accept: exit 255 and the AuthError on stderr", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const r = yield* runCli(t.home, ["exec", "-p", `${port}`, "-i", t.stranger, ...insecure, "127.0.0.1", "true"])
      assert.strictEqual(r.code, 255)
      assert.isTrue(r.stderr.startsWith("effect-ssh:"), r.stderr)
      assert.match(r.stderr, /^effect-ssh: authentication as .* failed/m)
      assert.include(r.stderr, t.stranger)
      assert.strictEqual(r.stdout.length, 0)
    }))

  it.live("a refused port: exit 255 with the connection error", () =>
    Effect.gen(function*() {
      const t = setup()
      const r = yield* runCli(t.home, ["exec", "-p", "1", "-i", t.key, ...insecure, "127.0.0.1", "true"])
      assert.strictEqual(r.code, 255)
      assert.match(r.stderr, /^effect-ssh: .*ECONNREFUSED/)
    }))

  it.live("an unknown -o key or flag: exit 255 and the key or flag named, as ssh names them", () =>
    Effect.gen(function*() {
      const t = setup()
      const r = yield* runCli(t.home, ["exec", "-o", "NoSuchOption=yes", "127.0.0.1", "true"])
      assert.strictEqual(r.code, 255)
      assert.match(r.stderr, /^effect-ssh: command-line line 1: Bad configuration option: nosuchoption/)
      const u = yield* runCli(t.home, ["exec", "-Z", "127.0.0.1", "true"])
      assert.strictEqual(u.code, 255)
      assert.match(u.stderr, /unknown option -- Z/)
    }))

  it.scopedLive("StrictHostKeyChecking=yes with an empty known_hosts: exit 255, the fingerprint on stderr", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const knownHosts = path.join(t.home, "known_hosts")
      fs.writeFileSync(knownHosts, "")
      const args = (mode: string) => [
        "exec",
        "-p",
        `${port}`,
        "-i",
        t.key,
        "-o",
        `StrictHostKeyChecking=${mode}`,
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "127.0.0.1",
        "echo ok"
      ]
      const r = yield* runCli(t.home, args("yes"))
      assert.strictEqual(r.code, 255)
      const fingerprint = /SHA256:[A-Za-z0-9+/]{43}/.exec(r.stderr)?.[0]
      assert.isDefined(fingerprint, r.stderr)
      assert.include(hostFingerprints(), fingerprint)
      assert.strictEqual(r.stdout.length, 0)
      // accept-new records the key; after that, strict checking trusts it.
      const added = yield* runCli(t.home, args("accept-new"))
      assert.strictEqual(added.code, 0, added.stderr)
      assert.match(added.stderr, /Permanently added '\[127\.0\.0\.1\]:\d+'/)
      // Recorded in plain or hashed form (HashKnownHosts, as Debian's /etc/ssh/ssh_config sets it).
      assert.match(fs.readFileSync(knownHosts, "utf8"), /^(\[127\.0\.0\.1\]:\d+|\|1\|\S+) /)
      const again = yield* runCli(t.home, args("yes"))
      assert.strictEqual(again.stdout.toString(), "ok\n", again.stderr)
      assert.strictEqual(again.code, 0)
    }), { timeout: 180_000 })

  it.scopedLive("algorithm options in OpenSSH syntax reach the key exchange (-v shows it)", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const r = yield* runCli(t.home, [
        "exec",
        "-v",
        "-p",
        `${port}`,
        "-i",
        t.key,
        ...insecure,
        "-o",
        "KexAlgorithms=ecdh-sha2-nistp256",
        "-o",
        "Ciphers=aes256-ctr",
        "-o",
        "MACs=hmac-sha2-512-etm@openssh.com",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "BatchMode=yes",
        "127.0.0.1",
        "true"
      ])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stderr, /key exchange complete: ecdh-sha2-nistp256 aes256-ctr/)
    }))
})

describe.skipIf(!withTerminal)("effect-ssh exec on a terminal: host key question, password and passphrase prompts", () => {
  it.scopedLive("asks about an unknown host, asks for the password again after a wrong one, never echoes it", () =>
    Effect.gen(function*() {
      const t = setup()
      const testUser = `effsshcli${crypto.randomBytes(3).toString("hex")}`
      const password = `pw-${crypto.randomBytes(9).toString("base64url")}`
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          execFileSync("/usr/sbin/useradd", ["-M", "-s", "/bin/sh", testUser])
          execFileSync("/usr/sbin/chpasswd", { input: `${testUser}:${password}\n` })
        }),
        () => Effect.sync(() => execFileSync("/usr/sbin/userdel", [testUser]))
      )
      const encrypted = path.join(t.home, "id_encrypted")
      execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "pass phrase", "-C", "enc", "-f", encrypted])
      // sshd keeps the first value of an option, and the harness writes PasswordAuthentication no; a Match block
      // at the end turns passwords on for the test user only.
      const { port } = yield* OpenSsh.sshdTcp({
        authorizedKeys: [fs.readFileSync(`${encrypted}.pub`, "utf8").trim()],
        logLevel: "INFO",
        extra: [`Match User ${testUser}`, "  PasswordAuthentication yes"]
      })
      const command = "echo logged in as $(id -un)"
      const r = yield* runOnTerminal(t.home, ["exec", "-p", `${port}`, `${testUser}@127.0.0.1`, command], [
        "yes",
        "wrong-password",
        password
      ])
      assert.strictEqual(r.code, 0, r.out)
      assert.match(r.out, /The authenticity of host '\[127\.0\.0\.1\]:\d+' can't be established/)
      assert.match(r.out, /Permission denied, please try again\./)
      assert.include(r.out, `logged in as ${testUser}`)
      assert.notInclude(r.out, password)
      assert.notInclude(r.out, "wrong-password")
      assert.match(fs.readFileSync(path.join(t.home, ".ssh", "known_hosts"), "utf8"), /^(\[127\.0\.0\.1\]:\d+|\|1\|\S+) ssh-/)
      // The host is known now; an encrypted key asks for its passphrase.
      const k = yield* runOnTerminal(t.home, ["exec", "-p", `${port}`, "-i", encrypted, "127.0.0.1", "echo key ok"], [
        "pass phrase"
      ])
      assert.strictEqual(k.code, 0, k.out)
      assert.match(k.out, /Enter passphrase for key '.*id_encrypted': /)
      assert.include(k.out, "key ok")
      // BatchMode never asks.
      const b = yield* runOnTerminal(t.home, ["exec", "-o", "BatchMode=yes", "-p", `${port}`, `${testUser}@127.0.0.1`, "true"], [])
      assert.strictEqual(b.code, 255, b.out)
      assert.notInclude(b.out, "password: ")
      assert.match(b.out, /effect-ssh: authentication as .* failed/)
    }))
})
