/**
 * Default credentials from the ssh-agent, as ssh uses them: OpenSSH's ssh-agent holds a key that is not on disk
 * for the test user; `effect-ssh ssh` (the built CLI) and the library's `NodeSshConfig.connect` log in to sshd
 * with it through SSH_AUTH_SOCK or IdentityAgent; IdentitiesOnly yes with another IdentityFile keeps the agent
 * key out (the login fails, as OpenSSH ssh's does on the same config); `IdentityAgent none` turns the agent off;
 * a dead socket is skipped and the identity file still logs in.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as NodeSshConfig from "../../src/node/NodeSshConfig.js"
import * as Cli from "../helpers/Cli.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"

const has = OpenSsh.haveOpenSsh() && OpenSshAgent.haveAgent()
const user = os.userInfo().username

const cli = (home: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  Cli.cli(args, { home, env: { SSH_AUTH_SOCK: "", ...env } })

/** An agent holding a key whose files are deleted after ssh-add, a disk key sshd does not accept, and sshd. */
const setup = Effect.gen(function*() {
  const home = yield* OpenSshAgent.tempDir("effect-ssh-cli-agent-")
  const sock = yield* OpenSshAgent.sshAgent()
  const agentKey = path.join(home, "agent_key")
  yield* OpenSshAgent.keygen(agentKey, "ed25519", "agent-only")
  const authorized = fs.readFileSync(`${agentKey}.pub`, "utf8").trim()
  const added = yield* OpenSshAgent.sshAdd(sock, [agentKey])
  assert.strictEqual(added.code, 0, added.stderr)
  fs.rmSync(agentKey)
  fs.rmSync(`${agentKey}.pub`)
  const other = path.join(home, "other_key")
  yield* OpenSshAgent.keygen(other, "ed25519", "other")
  const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [authorized], logLevel: "INFO" })
  const config = (name: string, lines: ReadonlyArray<string>) => {
    const file = path.join(home, name)
    fs.writeFileSync(file, [
      "Host web",
      "  HostName 127.0.0.1",
      `  Port ${port}`,
      `  User ${user}`,
      "  StrictHostKeyChecking no",
      "  UserKnownHostsFile /dev/null",
      "  BatchMode yes",
      "  PreferredAuthentications publickey",
      ...lines.map((l) => `  ${l}`)
    ].join("\n") + "\n")
    return file
  }
  return { home, sock, other, port, authorized, config }
})

describe.skipIf(!has)("agent keys by default (SSH_AUTH_SOCK / IdentityAgent / IdentitiesOnly)", () => {
  it.scopedLive("effect-ssh ssh logs in with an agent-only key; IdentitiesOnly with another IdentityFile refuses it, as ssh does", () =>
    Effect.gen(function*() {
      const t = yield* setup
      const plain = t.config("plain", [`IdentityFile ${t.other}`])
      const ok = yield* cli(t.home, ["ssh", "-F", plain, "web", "echo", "from-agent"], { SSH_AUTH_SOCK: t.sock })
      assert.strictEqual(ok.stdout, "from-agent\n", ok.stderr)
      assert.strictEqual(ok.code, 0)
      // OpenSSH agrees on the same setup.
      const ossh = yield* OpenSsh.ssh(["-F", plain, "web", "echo from-agent"], { env: { SSH_AUTH_SOCK: t.sock } })
      assert.strictEqual(ossh.stdout.toString(), "from-agent\n", ossh.stderr)

      const only = t.config("only", [`IdentityFile ${t.other}`, "IdentitiesOnly yes"])
      const refused = yield* cli(t.home, ["ssh", "-F", only, "web", "echo", "nope"], { SSH_AUTH_SOCK: t.sock })
      assert.strictEqual(refused.stdout, "")
      assert.strictEqual(refused.code, 255, refused.stderr)
      assert.match(refused.stderr, /Permission denied|publickey/, refused.stderr)
      const osshRefused = yield* OpenSsh.ssh(["-F", only, "web", "echo nope"], { env: { SSH_AUTH_SOCK: t.sock } })
      assert.strictEqual(osshRefused.code, 255)
      assert.match(osshRefused.stderr, /Permission denied/)

      // IdentityAgent names the socket without SSH_AUTH_SOCK; `none` turns the agent off.
      const named = t.config("named", [`IdentityFile ${t.other}`, `IdentityAgent ${t.sock}`])
      const viaConfig = yield* cli(t.home, ["ssh", "-F", named, "web", "echo", "named"], {})
      assert.strictEqual(viaConfig.stdout, "named\n", viaConfig.stderr)
      const off = t.config("off", [`IdentityFile ${t.other}`, "IdentityAgent none"])
      const noAgent = yield* cli(t.home, ["ssh", "-F", off, "web", "echo", "off"], { SSH_AUTH_SOCK: t.sock })
      assert.strictEqual(noAgent.code, 255, noAgent.stderr)
      const osshOff = yield* OpenSsh.ssh(["-F", off, "web", "echo off"], { env: { SSH_AUTH_SOCK: t.sock } })
      assert.strictEqual(osshOff.code, 255)
    }), { timeout: 180_000 })

  it.scopedLive("a dead agent socket is skipped: the identity file still logs in (CLI and scp)", () =>
    Effect.gen(function*() {
      const t = yield* setup
      // sshd accepts the disk key too in this run.
      const disk = path.join(t.home, "disk_key")
      yield* OpenSshAgent.keygen(disk, "ed25519", "disk")
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [fs.readFileSync(`${disk}.pub`, "utf8").trim()], logLevel: "INFO" })
      const cfg = path.join(t.home, "disk")
      fs.writeFileSync(cfg, [
        "Host web", "  HostName 127.0.0.1", `  Port ${port}`, `  User ${user}`, "  StrictHostKeyChecking no",
        "  UserKnownHostsFile /dev/null", "  BatchMode yes", `  IdentityFile ${disk}`
      ].join("\n") + "\n")
      const dead = path.join(t.home, "no-such-agent.sock")
      const r = yield* cli(t.home, ["ssh", "-F", cfg, "web", "echo", "disk"], { SSH_AUTH_SOCK: dead })
      assert.strictEqual(r.stdout, "disk\n", r.stderr)
      assert.strictEqual(r.code, 0)
      assert.notMatch(r.stderr, /agent/i)
      // scp logs in through the same path, here with the agent-only key of the first sshd (legacy -O: that sshd has no sftp).
      const src = path.join(t.home, "src.txt")
      fs.writeFileSync(src, "agent scp\n")
      const plain = t.config("plain2", [])
      const dst = path.join(t.home, "dst.txt")
      const copied = yield* cli(t.home, ["scp", "-O", "-F", plain, src, `web:${dst}`], { SSH_AUTH_SOCK: t.sock })
      assert.strictEqual(copied.code, 0, copied.stderr)
      assert.strictEqual(fs.readFileSync(dst, "utf8"), "agent scp\n")
    }), { timeout: 180_000 })

  it.scopedLive("NodeSshConfig.connect tries IdentityAgent's keys first; IdentitiesOnly filters them", () =>
    Effect.gen(function*() {
      const t = yield* setup
      const named = t.config("lib", [`IdentityFile ${t.other}`, `IdentityAgent ${t.sock}`])
      const out = yield* Effect.scoped(Effect.flatMap(NodeSshConfig.connect("web", { configFile: named }), (ssh) => ssh.string("echo lib")))
      assert.strictEqual(out, "lib\n")
      const only = t.config("libonly", [`IdentityFile ${t.other}`, `IdentityAgent ${t.sock}`, "IdentitiesOnly yes"])
      const refused = yield* Effect.either(Effect.scoped(NodeSshConfig.connect("web", { configFile: only })))
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "AuthError", String(refused))
      const dead = t.config("libdead", [`IdentityFile ${t.other}`, `IdentityAgent ${path.join(t.home, "dead.sock")}`])
      const skipped = yield* Effect.either(Effect.scoped(NodeSshConfig.connect("web", { configFile: dead })))
      // The dead agent is skipped; the other key is refused: an AuthError, not an agent error.
      assert.isTrue(Either.isLeft(skipped) && skipped.left._tag === "AuthError", String(skipped))
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 180_000 })
})
