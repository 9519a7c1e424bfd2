/**
 * SCP between two remote hosts through this machine (scp -3, OpenSSH's default since 8.7), remote globs in SFTP
 * mode (`host:*.txt`, expanded on the server as OpenSSH 9's scp does), and the progress meter of `effect-ssh scp`
 * on a terminal — against two OpenSSH sshd with sftp-server. `Scp.copy` over SFTP (recursive, -p: contents,
 * mtimes, modes) and over the legacy protocol (scp -f relayed to scp -t); the CLI with ssh_config aliases.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as Scp from "../../src/scp/Scp.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"
import * as Servers from "../helpers/Servers.js"
import { tree } from "../helpers/TempDir.js"

const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const SFTP_SERVER = "/usr/lib/openssh/sftp-server"
const has = OpenSsh.haveOpenSsh() && fs.existsSync(SFTP_SERVER) && fs.existsSync("/usr/bin/script")
const me = os.userInfo().username

/** Two sshd (the "hosts"), one key, a tree to copy, and an ssh_config naming the hosts h1 and h2. */
const setup = Effect.gen(function*() {
  const dir = yield* OpenSshAgent.tempDir("effect-ssh-scp-remote-")
  const key = path.join(dir, "id")
  const pub = yield* OpenSshAgent.keygen(key, "ed25519", "scp-remote@test")
  const sshd = { authorizedKeys: [pub], logLevel: "INFO", extra: [`Subsystem sftp ${SFTP_SERVER}`] }
  const h1 = yield* OpenSsh.sshdTcp(sshd)
  const h2 = yield* OpenSsh.sshdTcp(sshd)
  fs.mkdirSync(path.join(dir, "tree", "sub"), { recursive: true })
  fs.writeFileSync(path.join(dir, "tree", "a.txt"), "a\n")
  fs.writeFileSync(path.join(dir, "tree", "b.txt"), "b\n")
  fs.writeFileSync(path.join(dir, "tree", "c.log"), "c\n")
  fs.writeFileSync(path.join(dir, "tree", "sub", "f"), "F".repeat(100_000))
  fs.chmodSync(path.join(dir, "tree", "sub", "f"), 0o640)
  fs.utimesSync(path.join(dir, "tree", "sub", "f"), 1_000_000_000, 1_000_000_000)
  const config = path.join(dir, "ssh_config")
  fs.writeFileSync(config, [
    ...[["h1", h1.port], ["h2", h2.port]].flatMap(([name, port]) => [
      `Host ${name}`, "  HostName 127.0.0.1", `  Port ${port}`, `  User ${me}`, `  IdentityFile ${key}`
    ]),
    "Host *", "  IdentitiesOnly yes", "  BatchMode yes", "  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null"
  ].join("\n") + "\n")
  return { dir, key, config, h1: h1.port, h2: h2.port }
})

const cli = (config: string, args: ReadonlyArray<string>) =>
  OpenSshAgent.run(process.execPath, [BIN, "scp", "-F", config, ...args], { SSH_AUTH_SOCK: "" }, { timeoutMs: 60_000 })

describe.skipIf(!has)("scp between two remote hosts, and remote globs", () => {
  it.scopedLive("Scp.copy over SFTP (recursive, -p, a glob) and over the legacy protocol", () =>
    Effect.gen(function*() {
      const t = yield* setup
      const connect = (port: number) =>
        SshClient.connect({
          host: "127.0.0.1",
          port,
          username: me,
          auth: [Auth.privateKey(Servers.keyFromFile(t.key))],
          hostKeys: HostKeyPolicy.insecureAcceptAny
        })
      const a = yield* connect(t.h1)
      const b = yield* connect(t.h2)
      const expected = tree(path.join(t.dir, "tree"))
      const viaSftp = path.join(t.dir, "copy-sftp")
      yield* Scp.copy(a, path.join(t.dir, "tree"), b, viaSftp, { recursive: true, preserve: true })
      assert.deepStrictEqual(tree(viaSftp), expected)
      const f = path.join(viaSftp, "sub", "f")
      assert.strictEqual(Math.floor(fs.statSync(f).mtimeMs / 1000), 1_000_000_000)
      assert.strictEqual(fs.statSync(f).mode & 0o777, 0o640)
      // A glob on the source server: only the matches, each into the target directory by name.
      const globbed = path.join(t.dir, "globbed")
      fs.mkdirSync(globbed)
      yield* Scp.copy(a, path.join(t.dir, "tree", "*.txt"), b, globbed)
      assert.deepStrictEqual(fs.readdirSync(globbed).sort(), ["a.txt", "b.txt"])
      // Several matches need a directory.
      const notDir = yield* Effect.flip(Scp.copy(a, path.join(t.dir, "tree", "*.txt"), b, path.join(t.dir, "nodir")))
      assert.include(notDir.message, "Not a directory")
      const legacy = path.join(t.dir, "copy-legacy")
      yield* Scp.copy(a, path.join(t.dir, "tree"), b, legacy, { protocol: "scp", recursive: true, preserve: true })
      assert.deepStrictEqual(tree(legacy), expected)
      assert.strictEqual(fs.statSync(path.join(legacy, "sub", "f")).mode & 0o777, 0o640)
      const missing = yield* Effect.flip(Scp.copy(a, path.join(t.dir, "nope"), b, legacy, { protocol: "scp" }))
      assert.include(missing.message, "nope")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 90_000 })

  it.scopedLive("effect-ssh scp h1:… h2:… (with and without -O, -3 accepted) and h1:'*.txt' into a local directory", () =>
    Effect.gen(function*() {
      const t = yield* setup
      const expected = tree(path.join(t.dir, "tree"))
      for (const mode of [[], ["-O"], ["-3"]]) {
        const dest = path.join(t.dir, `cli-${mode.join("") || "sftp"}`)
        const r = yield* cli(t.config, [...mode, "-r", "-p", `h1:${path.join(t.dir, "tree")}`, `h2:${dest}`])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.deepStrictEqual(tree(dest), expected)
        assert.strictEqual(r.stdout, "")
      }
      const local = path.join(t.dir, "local-glob")
      fs.mkdirSync(local)
      const g = yield* cli(t.config, [`h1:${path.join(t.dir, "tree")}/*.txt`, local])
      assert.strictEqual(g.code, 0, g.stderr)
      assert.deepStrictEqual(fs.readdirSync(local).sort(), ["a.txt", "b.txt"])
      const none = yield* cli(t.config, [`h1:${path.join(t.dir, "tree")}/*.none`, local])
      assert.strictEqual(none.code, 1)
      assert.include(none.stderr, "*.none")
      const r = yield* cli(t.config, ["-R", "h1:x", "h2:y"])
      assert.strictEqual(r.code, 1)
      assert.include(r.stderr, "-R is not supported")
    }), { timeout: 120_000 })

  it.scopedLive("on a terminal, a progress meter (name, percent, size, rate, time); none with -q or off a terminal", () =>
    Effect.gen(function*() {
      const t = yield* setup
      const src = path.join(t.dir, "tree", "sub", "f")
      const onTty = (args: ReadonlyArray<string>) =>
        // script(1) gives the command a pseudo-terminal as stdout, as a user's shell would.
        OpenSshAgent.run("/usr/bin/script", [
          "-qec", [process.execPath, BIN, "scp", "-F", t.config, ...args].map((w) => `'${w}'`).join(" "), "/dev/null"
        ], { SSH_AUTH_SOCK: "", COLUMNS: "80" }, { timeoutMs: 60_000 })
      const shown = yield* onTty([src, `h1:${path.join(t.dir, "meter")}`])
      assert.strictEqual(shown.code, 0, shown.stdout)
      assert.match(shown.stdout, /f\s+100%\s+98KB\s+\S+\/s\s+\d\d:\d\d/)
      const quiet = yield* onTty(["-q", src, `h1:${path.join(t.dir, "meter-q")}`])
      assert.strictEqual(quiet.code, 0, quiet.stdout)
      assert.notInclude(quiet.stdout, "100%")
      const piped = yield* cli(t.config, [src, `h1:${path.join(t.dir, "meter-pipe")}`])
      assert.strictEqual(piped.stdout, "")
    }), { timeout: 90_000 })
})
