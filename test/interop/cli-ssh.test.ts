/**
 * `effect-ssh ssh` (and its alias `exec`) against OpenSSH's sshd on 127.0.0.1: destinations resolved through
 * ssh_config (-F) with Host/Match/tokens, -C, the issue-11 command-line fixes, a host certificate trusted
 * through a `@cert-authority` line, and the interactive shell on a real pseudo-terminal (Python's pty module):
 * the prompt, `stty size` before and after a resize, `exit 3`, and the `~?` / `~.` escapes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Cli from "../helpers/Cli.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const { BIN } = Cli
const PYTHON = "/usr/bin/python3"
const has = OpenSsh.haveOpenSsh()
const withTerminal = has && fs.existsSync(PYTHON)
if (has && !withTerminal && process.env.CI) throw new Error("python3 is required for the pty tests when CI=true")
const user = os.userInfo().username

const setup = () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-cli-ssh-"))
  const key = path.join(home, "id_ed25519")
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "cli-ssh", "-f", key])
  return { home, key, authorized: fs.readFileSync(`${key}.pub`, "utf8").trim() }
}

const run = (home: string, args: ReadonlyArray<string>) => Cli.cli(args, { home })

const config = (home: string, text: string) => {
  const file = path.join(home, "config")
  fs.writeFileSync(file, text)
  return file
}

describe.skipIf(!has)("effect-ssh ssh against sshd", () => {
  it.scopedLive("an alias from -F: HostName, Port, User, IdentityFile, Match and a %h/%p known_hosts file", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [t.authorized], logLevel: "INFO" })
      const cfg = config(t.home, [
        "Host web",
        "  HostName 127.0.0.1",
        `  User ${user}`,
        "  IdentityFile " + t.key,
        `Match originalhost web`,
        `  Port ${port}`,
        "Host *",
        "  StrictHostKeyChecking accept-new",
        `  UserKnownHostsFile ${t.home}/kh_%h_%p`,
        "  Port 1"
      ].join("\n"))
      const r = yield* run(t.home, ["ssh", "-F", cfg, "web", "echo", "hello;", "exit 4"])
      assert.strictEqual(r.stdout, "hello\n", r.stderr)
      assert.strictEqual(r.code, 4)
      // accept-new recorded the key in the token-expanded file.
      assert.match(fs.readFileSync(path.join(t.home, `kh_127.0.0.1_${port}`), "utf8"), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /)
      // exec is the same command, and strict checking now trusts the recorded key.
      const again = yield* run(t.home, ["exec", "-F", cfg, "-o", "StrictHostKeyChecking=yes", "web", "echo again"])
      assert.strictEqual(again.stdout, "again\n", again.stderr)
      assert.strictEqual(again.code, 0)
    }), { timeout: 180_000 })

  it.scopedLive("-C offers zlib@openssh.com, and sshd agrees (-o Compression=yes does the same)", () =>
    Effect.gen(function*() {
      const t = setup()
      const log: Array<string> = []
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [t.authorized], logLevel: "DEBUG1" }, log)
      const base = ["-F", "none", "-p", `${port}`, "-i", t.key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
      const r = yield* run(t.home, ["ssh", "-C", ...base, "127.0.0.1", "echo z"])
      assert.strictEqual(r.stdout, "z\n", r.stderr)
      const o = yield* run(t.home, ["ssh", ...base, "-o", "Compression=yes", "127.0.0.1", "echo z"])
      assert.strictEqual(o.code, 0, o.stderr)
      const negotiated = log.join("").match(/compression: zlib@openssh\.com/g) ?? []
      assert.isAtLeast(negotiated.length, 2, log.join(""))
    }), { timeout: 180_000 })

  it.scopedLive("a repeated -p/-l keeps the first value; a bad port is named; the unknown-host hint names ssh's option", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [t.authorized], logLevel: "INFO" })
      const insecure = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
      const r = yield* run(t.home, ["exec", "-F", "none", "-p", `${port}`, "-p", "1", "-l", user, "-l", "nobody", "-i", t.key, ...insecure, "127.0.0.1", "echo first"])
      assert.strictEqual(r.stdout, "first\n", r.stderr)
      const badPort = yield* run(t.home, ["exec", "-p", "x", "127.0.0.1", "true"])
      assert.strictEqual(badPort.code, 255)
      assert.include(badPort.stderr, "Bad port 'x'")
      assert.notInclude(badPort.stderr, "a integer")
      fs.writeFileSync(path.join(t.home, "empty"), "")
      const strict = yield* run(t.home, [
        "ssh", "-F", "none", "-p", `${port}`, "-i", t.key, "-o", "StrictHostKeyChecking=yes",
        "-o", `UserKnownHostsFile=${t.home}/empty`, "-o", "GlobalKnownHostsFile=none", "127.0.0.1", "true"
      ])
      assert.strictEqual(strict.code, 255)
      assert.include(strict.stderr, "-o StrictHostKeyChecking=accept-new")
      assert.notInclude(strict.stderr, "HostKeyPolicy")
    }), { timeout: 180_000 })

  it.scopedLive("known_hosts with only a @cert-authority line: a server with a host certificate is trusted (as ssh)", () =>
    Effect.gen(function*() {
      const t = setup()
      const ca = path.join(t.home, "host_ca")
      execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", ca])
      const certDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-hostcert-"))
      const pub = path.join(certDir, "host.pub")
      fs.copyFileSync(path.join(OpenSsh.hostKeyDir(), "ssh_host_ed25519_key.pub"), pub)
      execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-s", ca, "-I", "test-host", "-h", "-n", "127.0.0.1", pub])
      const { port } = yield* OpenSsh.sshdTcp({
        authorizedKeys: [t.authorized],
        logLevel: "INFO",
        extra: [`HostCertificate ${path.join(certDir, "host-cert.pub")}`]
      })
      const knownHosts = path.join(t.home, "known_hosts")
      fs.writeFileSync(knownHosts, `@cert-authority * ${fs.readFileSync(`${ca}.pub`, "utf8").trim()}\n`)
      const args = ["-F", "none", "-p", `${port}`, "-i", t.key, "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=none", "-o", "BatchMode=yes", `${user}@127.0.0.1`, "echo certified"]
      // OpenSSH's ssh connects with that known_hosts…
      const theirs = yield* OpenSsh.runSsh(args)
      assert.strictEqual(theirs.stdout, "certified\n", theirs.stderr)
      // …and so does effect-ssh.
      const ours = yield* run(t.home, ["exec", ...args])
      assert.strictEqual(ours.stdout, "certified\n", ours.stderr)
      assert.strictEqual(ours.code, 0)
    }), { timeout: 180_000 })

  it.scopedLive("keyscan prints what ssh-keyscan prints", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* OpenSsh.sshdTcp({ logLevel: "INFO" })
      const ours = yield* run(t.home, ["keyscan", "-p", `${port}`, "127.0.0.1"])
      assert.strictEqual(ours.code, 0, ours.stderr)
      const theirs = execFileSync("/usr/bin/ssh-keyscan", ["-p", `${port}`, "127.0.0.1"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      const sorted = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).sort()
      assert.deepStrictEqual(sorted(ours.stdout), sorted(theirs))
      assert.strictEqual(sorted(ours.stdout).length, 3)
    }), { timeout: 180_000 })

  it.live("-G prints without connecting; ProxyJump is followed, not silently ignored", () =>
    Effect.gen(function*() {
      const t = setup()
      const cfg = config(t.home, "Host behind\n  ProxyJump gw\n  HostName 127.0.0.1\n  Port 1\n")
      const g = yield* run(t.home, ["ssh", "-G", "-F", cfg, "behind"])
      assert.strictEqual(g.code, 0)
      assert.include(g.stdout, "proxyjump gw\n")
      const r = yield* run(t.home, ["ssh", "-F", cfg, "behind", "true"])
      assert.strictEqual(r.code, 255)
      // The hop is dialed first (and cannot be reached), not the destination directly.
      assert.match(r.stderr, /gw:22: could not connect/)
    }), { timeout: 180_000 })
})

describe.skipIf(!has)("effect-ssh keygen and ssh-keygen read each other's keys", () => {
  it.live("our encrypted ed25519 key: ssh-keygen fingerprints it and derives the same public key; theirs: same -l/-lv/-y output", () =>
    Effect.gen(function*() {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-keygen-"))
      const ours = path.join(home, "ours")
      const made = yield* run(home, ["keygen", "-q", "-t", "ed25519", "-C", "made-here", "-N", "secret", "-f", ours])
      assert.strictEqual(made.code, 0, made.stderr)
      assert.strictEqual(fs.statSync(ours).mode & 0o777, 0o600)
      const pub = fs.readFileSync(`${ours}.pub`, "utf8")
      assert.strictEqual(execFileSync(OpenSsh.SSH_KEYGEN, ["-y", "-P", "secret", "-f", ours], { encoding: "utf8" }), pub)
      assert.match(execFileSync(OpenSsh.SSH_KEYGEN, ["-l", "-f", ours], { encoding: "utf8" }), /^256 SHA256:\S+ made-here \(ED25519\)\n$/)
      for (const type of ["ecdsa", "rsa"]) {
        const theirs = path.join(home, `theirs_${type}`)
        execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", type, "-N", "", "-C", "made-there", "-f", theirs])
        for (const flags of [["-l"], ["-lv"], ["-l", "-E", "md5"], ["-y"]]) {
          const expected = execFileSync(OpenSsh.SSH_KEYGEN, [...flags, "-f", theirs], { encoding: "utf8" })
          const r = yield* run(home, ["keygen", ...flags, "-f", theirs])
          assert.strictEqual(r.stdout, expected, `${type} ${flags.join(" ")}: ${r.stderr}`)
        }
      }
    }), { timeout: 180_000 })
})

describe("effect-ssh ssh -E", () => {
  it.live("-E sends the log to a file; the error itself stays on stderr", () =>
    Effect.gen(function*() {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-log-"))
      const log = path.join(home, "log")
      const r = yield* run(home, ["ssh", "-F", "none", "-v", "-E", log, "-p", "1", "127.0.0.1", "true"])
      assert.strictEqual(r.code, 255)
      assert.include(fs.readFileSync(log, "utf8"), "effect-ssh: debug: connecting to 127.0.0.1 port 1")
      assert.notInclude(r.stderr, "debug:")
      assert.include(r.stderr, "ECONNREFUSED")
    }))
})

/** Runs the CLI on a pseudo-terminal of 30×100 and plays `steps`: each sends text (or resizes) and waits for a pattern. */
const DRIVER = `
import fcntl, json, os, pty, re, select, struct, sys, termios, time
node, bin, home, steps, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    os.environ["HOME"] = home
    os.environ["TERM"] = "xterm"
    os.execv(node, [node, bin] + args)
out = b""
def read(timeout):
    global out
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return False
    try:
        data = os.read(fd, 65536)
    except OSError:
        return None
    if not data:
        return None
    out += data
    return True
failed = None
for step in steps:
    if "resize" in step:
        rows, cols = step["resize"]
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        continue
    start = len(out)
    deadline = time.time() + 30
    sent_at = 0
    while True:
        if time.time() - sent_at > step.get("every", 1000):
            os.write(fd, step["send"].encode())
            sent_at = time.time()
        if re.search(step["expect"].encode(), out[start:]):
            break
        if time.time() > deadline:
            failed = step
            break
        if read(0.2) is None:
            break
    if failed:
        break
while read(30):
    pass
if failed:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "out": out.decode(errors="replace"), "failed": failed}))
`

interface Step {
  readonly send?: string
  readonly expect?: string
  /** Resend every this many seconds until the pattern shows (a resize reaches the remote pty asynchronously). */
  readonly every?: number
  readonly resize?: readonly [number, number]
}

const onTerminal = (home: string, args: ReadonlyArray<string>, steps: ReadonlyArray<Step>) =>
  Effect.sync(() => {
    const driver = path.join(home, "pty-driver.py")
    fs.writeFileSync(driver, DRIVER)
    const r = execFileSync(PYTHON, [driver, process.execPath, BIN, home, JSON.stringify(steps), ...args], { timeout: 120_000 })
    return JSON.parse(r.toString()) as { readonly code: number; readonly out: string; readonly failed: Step | null }
  })

describe.skipIf(!withTerminal)("effect-ssh ssh: the interactive shell on a pty", () => {
  const login = (port: number, key: string) => [
    "ssh", "-F", "none", "-p", `${port}`, "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", `${user}@127.0.0.1`
  ]

  it.scopedLive("prompt, stty size, a resize, exit 3", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [t.authorized], logLevel: "INFO" })
      const r = yield* onTerminal(t.home, login(port, t.key), [
        { send: "echo READY$((40+2))\r", expect: "READY42" },
        { send: "stty size\r", expect: "30 100\\r\\n" },
        { resize: [40, 120] },
        { send: "stty size\r", expect: "40 120\\r\\n", every: 2 },
        { send: "exit 3\r", expect: "logout|exit" }
      ])
      assert.isNull(r.failed, r.out)
      assert.strictEqual(r.code, 3, r.out)
    }))

  it.scopedLive("~? lists the escapes and ~. disconnects with 255", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [t.authorized], logLevel: "INFO" })
      const r = yield* onTerminal(t.home, login(port, t.key), [
        { send: "echo READY$((40+2))\r", expect: "READY42" },
        { send: "\r~?", expect: "Supported escape sequences" },
        { send: "\r~.", expect: "Connection to 127\\.0\\.0\\.1 closed" }
      ])
      assert.isNull(r.failed, r.out)
      assert.strictEqual(r.code, 255, r.out)
    }))
})
