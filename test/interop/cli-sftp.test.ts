/**
 * `effect-ssh sftp -b batch` (bin/effect-ssh.mjs as a child process) against OpenSSH's sshd on 127.0.0.1 with
 * the sftp-server subsystem: every batch command with contents and checksums checked, the `-` prefix and the
 * exit codes compared with OpenSSH's own `sftp -b` on the same batch, and the progress meter drawn on a
 * pseudo-terminal (python3 pty) but not when stdout is a pipe.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Sftp from "../../src/cli/Sftp.js"
import * as Commands from "../../src/cli/internal/sftpCommands.js"
import * as Progress from "../../src/cli/internal/sftpProgress.js"
import * as Cli from "../helpers/Cli.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const { BIN } = Cli
const SFTP = "/usr/bin/sftp"
const SFTP_SERVER = "/usr/lib/openssh/sftp-server"
const PYTHON = "/usr/bin/python3"
const has = OpenSsh.haveOpenSsh() && fs.existsSync(SFTP) && fs.existsSync(SFTP_SERVER)
if (process.env.CI === "true" && !has) throw new Error("sftp or sftp-server missing (CI=true)")
const user = os.userInfo().username
const insecure = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

const setup = () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftpcli-"))
  const key = path.join(home, "id_ed25519")
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", key])
  const remote = path.join(home, "remote")
  const local = path.join(home, "local")
  fs.mkdirSync(remote)
  fs.mkdirSync(local)
  return { home, key, remote, local, authorized: fs.readFileSync(`${key}.pub`, "utf8").trim() }
}

const run = (file: string, args: ReadonlyArray<string>, cwd: string, home: string, input?: string) =>
  Cli.run(file, args, { cwd, home, input, timeout: "60 seconds" })

const sshd = (authorized: string) =>
  OpenSsh.sshdTcp({ authorizedKeys: [authorized], logLevel: "INFO", extra: [`Subsystem sftp ${SFTP_SERVER}`] })

const ours = (t: ReturnType<typeof setup>, port: number, batch: string, extra: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const file = path.join(t.home, `batch-${crypto.randomBytes(4).toString("hex")}`)
    fs.writeFileSync(file, batch)
    return yield* run(process.execPath, [BIN, "sftp", "-b", file, "-P", `${port}`, "-i", t.key, ...insecure, ...extra, `${user}@127.0.0.1`], t.local, t.home)
  })
const openssh = (t: ReturnType<typeof setup>, port: number, batch: string) =>
  Effect.gen(function*() {
    const file = path.join(t.home, `batch-${crypto.randomBytes(4).toString("hex")}`)
    fs.writeFileSync(file, batch)
    return yield* run(SFTP, ["-b", file, "-P", `${port}`, "-i", t.key, ...insecure, `${user}@127.0.0.1`], t.local, t.home)
  })

describe("effect-ssh sftp: the command line", () => {
  it("parses sftp's flags and [user@]host[:path]", () => {
    const f = Either.getOrThrow(Sftp.parseArgs(["-P2222", "-b", "-", "-R", "16", "-pr", "-i", "k", "-o", "Port=1", "-J", "j@jump", "u@h:/tmp/x"]))
    assert.deepStrictEqual([f.port, f.batchFile, f.requests, f.preserve, f.recursive, f.destination, f.path], [2222, "-", 16, true, true, "u@h", "/tmp/x"])
    assert.deepStrictEqual(f.identityFiles, ["k"])
    assert.deepStrictEqual([f.options, f.jump], [["Port=1"], "j@jump"])
    assert.isTrue(Either.isLeft(Sftp.parseArgs(["-P", "0", "h"])))
    assert.isTrue(Either.isLeft(Sftp.parseArgs(["-Z", "h"])))
    assert.isTrue(Either.isLeft(Sftp.parseArgs([])))
  })

  it("splits command words with quotes and backslashes, as sftp does", () => {
    assert.deepStrictEqual(Commands.words(`put "a b" 'c d' e\\ f`), ["put", "a b", "c d", "e f"])
    assert.strictEqual(Commands.words(`get "open`), undefined)
  })

  it("draws meter lines as OpenSSH's progressmeter", () => {
    const line = Progress.renderLine("big.bin", 5 * 1024 * 1024, 10 * 1024 * 1024, 2, false, 80)
    assert.strictEqual(line.length, 79)
    assert.match(line, /^big\.bin +50% +5120KB +2\.5MB\/s +00:02 ETA$/)
    assert.match(Progress.renderLine("f", 10, 10, 1, true, 60), /100% +10B +10\.0B\/s +00:01 +$/)
  })
})

describe.skipIf(!has)("effect-ssh sftp -b against OpenSSH sshd (sftp-server)", () => {
  it.scopedLive("runs every batch command; files and checksums match", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const big = crypto.randomBytes(3 * 1024 * 1024 + 123)
      fs.writeFileSync(path.join(t.local, "big.bin"), big)
      fs.mkdirSync(path.join(t.local, "tree/sub"), { recursive: true })
      fs.writeFileSync(path.join(t.local, "tree/a.txt"), "alpha\n")
      fs.writeFileSync(path.join(t.local, "tree/sub/b.txt"), "beta\n")
      fs.chmodSync(path.join(t.local, "tree/a.txt"), 0o640)
      fs.utimesSync(path.join(t.local, "tree/a.txt"), 1_000_000_000, 1_000_000_000)
      const r = t.remote
      const batch = [
        `cd ${r}`,
        "pwd",
        "lpwd",
        "put big.bin",
        "put -r -p tree",
        "mkdir dir",
        "rename big.bin dir/moved.bin",
        "ln -s dir/moved.bin link.bin",
        "symlink dir/moved.bin link2.bin",
        "ln dir/moved.bin hard.bin",
        "chmod 600 dir/moved.bin",
        `chown ${process.getuid?.() ?? 0} dir/moved.bin`,
        `chgrp ${process.getgid?.() ?? 0} dir/moved.bin`,
        // By name: the server's users-groups-by-id@openssh.com gives the id.
        `chown ${user} dir/moved.bin`,
        "ls",
        "ls -l dir",
        "ls -a",
        "df",
        "lcd ..",
        "lls",
        "lcd local",
        "mkdir empty",
        "rmdir empty",
        "get dir/moved.bin copy.bin",
        "get -r -p tree tree-back",
        "version",
        "progress",
        "rm hard.bin",
        "bye",
        "rm link.bin"
      ].join("\n")
      const res = yield* ours(t, port, batch)
      assert.strictEqual(res.code, 0, res.stderr)
      assert.include(res.stdout, "sftp> put big.bin")
      assert.include(res.stdout, `Remote working directory: ${fs.realpathSync(r)}`)
      assert.include(res.stdout, `Local working directory: ${t.local}`)
      assert.match(res.stdout, /(^|\s)dir\s/m)
      assert.match(res.stdout, /^-rw------- .* dir\/moved\.bin$/m)
      assert.match(res.stdout, /(^|\s)\.\.\s/m)
      assert.match(res.stdout, /Size +Used +Avail/)
      assert.match(res.stdout, /^local$/m)
      assert.include(res.stdout, "SFTP protocol version 3")
      assert.include(res.stdout, "Progress meter enabled")
      assert.notInclude(res.stdout, "sftp> rm link.bin")
      // Contents and checksums, both ways.
      assert.strictEqual(sha(fs.readFileSync(path.join(r, "dir/moved.bin"))), sha(big))
      assert.strictEqual(sha(fs.readFileSync(path.join(t.local, "copy.bin"))), sha(big))
      assert.strictEqual(fs.readlinkSync(path.join(r, "link2.bin")), "dir/moved.bin")
      assert.isTrue(fs.existsSync(path.join(r, "link.bin")))
      assert.isFalse(fs.existsSync(path.join(r, "hard.bin")))
      assert.isFalse(fs.existsSync(path.join(r, "empty")))
      assert.strictEqual(fs.statSync(path.join(r, "dir/moved.bin")).mode & 0o777, 0o600)
      assert.strictEqual(fs.readFileSync(path.join(r, "tree/sub/b.txt"), "utf8"), "beta\n")
      assert.strictEqual(fs.readFileSync(path.join(t.local, "tree-back/a.txt"), "utf8"), "alpha\n")
      // -p kept modes and times on the way up and back.
      assert.strictEqual(fs.statSync(path.join(r, "tree/a.txt")).mode & 0o777, 0o640)
      assert.strictEqual(fs.statSync(path.join(t.local, "tree-back/a.txt")).mtimeMs, 1_000_000_000_000)
    }))

  it.scopedLive("ls, ls -1, -l, -n, -h, -a, -S, -t, a subdirectory and a glob print what OpenSSH's sftp -b prints", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const r = t.remote
      const names = ["alpha", "beta", "a-rather-long-file-name.txt", "e", "f", "g", "h", "i", "j", "k", ".hidden"]
      names.forEach((n, i) => fs.writeFileSync(path.join(r, n), "x".repeat(i * 997)))
      fs.writeFileSync(path.join(r, "big"), Buffer.alloc(5_000_000))
      fs.utimesSync(path.join(r, "alpha"), 1_000_000_000, 1_000_000_000)
      fs.mkdirSync(path.join(r, "sub"))
      for (const n of ["one", "two", "three"]) fs.writeFileSync(path.join(r, "sub", n), n)
      const batch = `cd ${r}\nls\nls -1\nls -l\nls -ln\nls -lh\nls -la\nls sub\nls -l sub\nls b*\nls -1S\nls -lt\n`
      const a = yield* ours(t, port, batch)
      const b = yield* openssh(t, port, batch)
      assert.strictEqual(b.code, 0, b.stderr)
      assert.strictEqual(a.code, 0, a.stderr)
      assert.strictEqual(a.stdout, b.stdout)
      assert.match(a.stdout, /^a-rather-long-file-name\.txt +alpha +\nbeta +big +\n/m)
    }))

  it.scopedLive("reget and reput finish a partial transfer", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      const data = crypto.randomBytes(1024 * 1024 + 7)
      fs.writeFileSync(path.join(t.remote, "down.bin"), data)
      fs.writeFileSync(path.join(t.local, "down.bin"), data.subarray(0, 300_000))
      fs.writeFileSync(path.join(t.local, "up.bin"), data)
      fs.writeFileSync(path.join(t.remote, "up.bin"), data.subarray(0, 500_000))
      const res = yield* ours(t, port, `cd ${t.remote}\nreget down.bin\nreput up.bin\n`)
      assert.strictEqual(res.code, 0, res.stderr)
      assert.strictEqual(sha(fs.readFileSync(path.join(t.local, "down.bin"))), sha(data))
      assert.strictEqual(sha(fs.readFileSync(path.join(t.remote, "up.bin"))), sha(data))
    }))

  it.scopedLive("the - prefix and exit codes are those of OpenSSH's sftp -b on the same batch", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      fs.writeFileSync(path.join(t.remote, "f"), "x")
      const cases = [
        { batch: `cd ${t.remote}\n-rm nothing-here\n-get missing\nmkdir made\n`, code: 0 },
        { batch: `cd ${t.remote}\nrm nothing-here\nmkdir never\n`, code: 1 },
        { batch: `cd ${t.remote}\n-cd /no/such/dir\nget /no/such/file\nmkdir never2\n`, code: 1 },
        { batch: `cd ${t.remote}\nls f\nexit\nrm f\n`, code: 0 }
      ]
      for (const c of cases) {
        // Each client works in its own copy of the directory, so both see the same starting state.
        fs.cpSync(t.remote, `${t.remote}-openssh`, { recursive: true })
        const a = yield* ours(t, port, c.batch)
        const b = yield* openssh(t, port, c.batch.replace(`cd ${t.remote}\n`, `cd ${t.remote}-openssh\n`))
        fs.rmSync(`${t.remote}-openssh`, { recursive: true })
        assert.strictEqual(b.code, c.code, `OpenSSH: ${b.stderr}`)
        assert.strictEqual(a.code, b.code, `ours: ${a.stderr}`)
        if (a.code !== 0) assert.isAbove(a.stderr.length, 0)
      }
      assert.isTrue(fs.existsSync(path.join(t.remote, "made")))
      assert.isFalse(fs.existsSync(path.join(t.remote, "never")))
      assert.isFalse(fs.existsSync(path.join(t.remote, "never2")))
      assert.isTrue(fs.existsSync(path.join(t.remote, "f")))
    }))

  it.scopedLive("-b - reads stdin; host:file fetches the file; interactive mode goes on after an error; ls -S", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      fs.writeFileSync(path.join(t.remote, "small"), "s")
      fs.writeFileSync(path.join(t.remote, "large"), "l".repeat(5000))
      const login = ["-P", `${port}`, "-i", t.key, ...insecure]
      const stdin = yield* run(process.execPath, [BIN, "sftp", "-b", "-", ...login, `${user}@127.0.0.1`], t.local, t.home, `cd ${t.remote}\nls -S\nls -l nothing\npwd\n`)
      assert.strictEqual(stdin.code, 1)
      assert.match(stdin.stdout, /^large +small +\n/m)
      assert.notInclude(stdin.stdout, "sftp> pwd")
      // Without -b the session goes on after a failure and ends at EOF with 0.
      const inter = yield* run(process.execPath, [BIN, "sftp", ...login, `${user}@127.0.0.1`], t.local, t.home, `cd ${t.remote}\nls -l nothing\npwd\n`)
      assert.strictEqual(inter.code, 0, inter.stderr)
      assert.include(inter.stdout, `Remote working directory: ${fs.realpathSync(t.remote)}`)
      assert.include(inter.stderr, "nothing")
      const fetch = yield* run(process.execPath, [BIN, "sftp", ...login, `${user}@127.0.0.1:${t.remote}/large`], t.local, t.home)
      assert.strictEqual(fetch.code, 0, fetch.stderr)
      assert.strictEqual(fs.readFileSync(path.join(t.local, "large"), "utf8"), "l".repeat(5000))
      // -F: the host is an ssh_config alias, resolved as effect-ssh ssh resolves it.
      const cfg = path.join(t.home, "ssh_config")
      fs.writeFileSync(cfg, `Host files\n  HostName 127.0.0.1\n  Port ${port}\n  User ${user}\n  IdentityFile ${t.key}\n` +
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
      const config = yield* run(process.execPath, [BIN, "sftp", "-F", cfg, "-b", "-", "files"], t.local, t.home, `cd ${t.remote}\nls\n`)
      assert.strictEqual(config.code, 0, config.stderr)
      assert.match(config.stdout, /^large +small +$/m)
    }))

  it.scopedLive("a refused connection exits 255 with a sentence naming host and port", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x")
      const res = yield* ours(t, port, "pwd\n")
      assert.strictEqual(res.code, 255)
      assert.include(res.stderr, `127.0.0.1 port ${port}`)
    }))

  it.scopedLive.skipIf(!fs.existsSync(PYTHON))("draws the progress meter on a terminal and not on a pipe", () =>
    Effect.gen(function*() {
      const t = setup()
      const { port } = yield* sshd(t.authorized)
      fs.writeFileSync(path.join(t.local, "meter.bin"), crypto.randomBytes(4 * 1024 * 1024))
      const batch = path.join(t.home, "meter-batch")
      fs.writeFileSync(batch, `progress\ncd ${t.remote}\nput meter.bin\nget meter.bin back.bin\n`)
      const args = ["sftp", "-b", batch, "-P", `${port}`, "-i", t.key, ...insecure, `${user}@127.0.0.1`]
      const driver = `import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.chdir(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])
out, typed = b"", 0
answers = [a.encode() for a in os.environ.get("ANSWERS", "").split("|") if a]
while True:
    try:
        d = os.read(fd, 65536)
    except OSError:
        break
    if not d: break
    out += d
    # readline redraws its prompt with escape codes: type everything once the first prompt shows.
    if typed == 0 and answers and b"sftp> " in out:
        os.write(fd, b"".join(a + b"\\r" for a in answers))
        typed = 1
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))`
      const onPty = yield* run(PYTHON, ["-c", driver, t.local, process.execPath, BIN, ...args], t.local, t.home)
      assert.strictEqual(onPty.code, 0, onPty.stdout)
      assert.match(onPty.stdout, /meter\.bin +100% +4096KB +\S+\/s +\d\d:\d\d/)
      const piped = yield* run(process.execPath, [BIN, ...args], t.local, t.home)
      // Interactive on a terminal: the "sftp> " prompt, the meter on by default, an error does not end it.
      process.env.ANSWERS = `cd ${t.remote}|get nothing-here|get meter.bin again.bin|bye`
      const interactive = yield* run(PYTHON, ["-c", driver, t.local, process.execPath, BIN, "sftp", ...args.slice(3)], t.local, t.home).pipe(
        Effect.ensuring(Effect.sync(() => delete process.env.ANSWERS))
      )
      assert.strictEqual(interactive.code, 0, JSON.stringify(interactive.stdout))
      assert.match(interactive.stdout, /meter\.bin +100% +4096KB/)
      assert.include(interactive.stdout, "nothing-here")
      assert.strictEqual(fs.statSync(path.join(t.local, "again.bin")).size, 4 * 1024 * 1024)
      assert.strictEqual(piped.code, 0, piped.stderr)
      assert.notMatch(piped.stdout, /%/)
      assert.strictEqual(sha(fs.readFileSync(path.join(t.local, "back.bin"))), sha(fs.readFileSync(path.join(t.local, "meter.bin"))))
    }))
})
