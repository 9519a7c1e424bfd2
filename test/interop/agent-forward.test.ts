/**
 * Agent forwarding both ways (OpenSSH PROTOCOL.agent, auth-agent-req@openssh.com / auth-agent@openssh.com):
 * OpenSSH `ssh -A` into our SshServer and into `effect-ssh serve`, where `ssh-add -l` on the far side lists the key
 * of the local ssh-agent, through a private socket (0700 directory, 0600 socket) that is gone after the session;
 * refused without permission (no agentForwarding option, authorized_keys no-agent-forwarding / restrict,
 * AllowAgentForwarding no or unnamed) — SEC-48, SEC-61. Our client's `forwardAgent` into sshd: the remote
 * ssh-add lists the keys of an OpenSSH ssh-agent and of our in-process AgentServer; without the option the
 * session has no agent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as AgentServer from "../../src/agent/AgentServer.js"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as AgentForwarding from "../../src/client/AgentForwarding.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as NodeAgent from "../../src/node/NodeAgent.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as NodeLocalProcess from "../../src/node/NodeLocalProcess.js"
import type * as SshServer from "../../src/server/SshServer.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"
import * as Servers from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh() && OpenSshAgent.haveAgent()
const me = os.userInfo().username
const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")

/** Prints the agent's keys, the socket, and the modes of the socket and its directory. */
const PROBE = "ssh-add -l; echo \"rc=$?\"; echo \"sock=$SSH_AUTH_SOCK\"; " +
  "if [ -n \"$SSH_AUTH_SOCK\" ]; then stat -c 'mode=%a' \"$SSH_AUTH_SOCK\" \"$(dirname \"$SSH_AUTH_SOCK\")\"; fi"

/** An OpenSSH ssh-agent holding a fresh ed25519 key, a login key, and their fingerprint/comment. */
const setup = Effect.gen(function*() {
  const dir = yield* OpenSshAgent.tempDir("effect-ssh-agent-fwd-")
  const sock = yield* OpenSshAgent.sshAgent()
  const agentKey = path.join(dir, "agent_key")
  yield* OpenSshAgent.keygen(agentKey, "ed25519", "forwarded@test")
  const added = yield* OpenSshAgent.sshAdd(sock, [agentKey])
  assert.strictEqual(added.code, 0, added.stderr)
  const loginKey = path.join(dir, "login_key")
  const loginPub = yield* OpenSshAgent.keygen(loginKey, "ed25519", "login@test")
  return { dir, sock, loginKey, loginPub }
})

const sockOf = (out: string) => /sock=(.*)/.exec(out)?.[1] ?? ""

/** Waits (bounded) until `file` no longer exists; the session's Scope closes just after the channel does. */
const gone = (file: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100 && fs.existsSync(file); i++) yield* Effect.sleep("20 millis")
    return !fs.existsSync(file)
  })

const sshA = (port: number, identity: string, agent: string, command: string, extra: ReadonlyArray<string> = ["-A"]) =>
  OpenSsh.ssh([...OpenSsh.sshLogin(port, identity), ...extra, `${me}@127.0.0.1`, command], {
    env: { SSH_AUTH_SOCK: agent }
  })

describe.skipIf(!has)("OpenSSH ssh -A into our SshServer", () => {
  const server = (restrictions?: SshServer.ServerHandlers["auth"], agentForwarding = true) =>
    Servers.serve({
      auth: restrictions ?? { publicKey: () => Effect.succeed(true) },
      ...NodeLocalProcess.handlers(),
      agentForwarding: agentForwarding ? NodeAgent.serverForwarding() : undefined
    })

  it.scopedLive("ssh-add -l on the far side lists the forwarded key; the socket is private and gone after", () =>
    Effect.gen(function*() {
      const { loginKey, sock } = yield* setup
      const port = yield* server()
      const r = yield* sshA(port, loginKey, sock, PROBE)
      const out = r.stdout.toString()
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(out, "forwarded@test (ED25519)")
      assert.include(out, "rc=0")
      assert.match(out, /mode=600\nmode=700\n/)
      const forwarded = sockOf(out)
      assert.notStrictEqual(forwarded, sock)
      assert.isTrue(yield* gone(forwarded), `${forwarded} still exists`)
      assert.isFalse(fs.existsSync(path.dirname(forwarded)))
    }), { timeout: 60_000 })

  it.scopedLive("without -A, without the server option, or with no-agent-forwarding / restrict: no agent (SEC-48)", () =>
    Effect.gen(function*() {
      const { loginKey, sock } = yield* setup
      const noAgent = (out: string) => {
        assert.notInclude(out, "forwarded@test")
        assert.include(out, "rc=2")
        assert.include(out, "sock=\n")
      }
      const open = yield* server()
      noAgent((yield* sshA(open, loginKey, sock, PROBE, [])).stdout.toString())
      noAgent((yield* sshA(yield* server(undefined, false), loginKey, sock, PROBE)).stdout.toString())
      for (const restriction of [{ agentForwarding: false }, { agentForwarding: false, pty: false, portForwarding: false }]) {
        const restricted = yield* server({
          publicKey: () => Effect.succeed({ _tag: "Accept", restrictions: restriction } as const)
        })
        const r = yield* sshA(restricted, loginKey, sock, PROBE)
        assert.strictEqual(r.code, 0, r.stderr)
        noAgent(r.stdout.toString())
      }
    }), { timeout: 60_000 })
})

/** `effect-ssh serve --exec local` with sshd_config lines; resolves with its port once listening. */
const serveCli = (dir: string, authorized: string, lines: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const config = path.join(dir, `sshd_config_${lines.length}_${Math.abs(lines.join().length)}`)
    fs.writeFileSync(config, lines.join("\n") + "\n")
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [
          BIN, "serve", "--listen", "127.0.0.1:0", "--host-key", path.join(dir, "host_key"),
          "--authorized-keys", authorized, "--exec", "local", "-f", config
        ], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SSH_AUTH_SOCK: "" } })
      ),
      (c: ChildProcess) => Effect.sync(() => c.kill("SIGKILL"))
    )
    let out = ""
    child.stderr!.on("data", () => {})
    return yield* Effect.async<number, Error>((resume) => {
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString()
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out)
        if (m !== null && /running commands locally/.test(out)) resume(Effect.succeed(Number(m[1])))
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`serve exited with ${code}: ${out}`))))
    }).pipe(Effect.timeout("20 seconds"))
  })

describe.skipIf(!has)("OpenSSH ssh -A into effect-ssh serve", () => {
  it.scopedLive("AllowAgentForwarding yes forwards; no, unnamed, DisableForwarding, no-agent-forwarding do not", () =>
    Effect.gen(function*() {
      const { dir, loginKey, loginPub, sock } = yield* setup
      const authorized = path.join(dir, "authorized_keys")
      fs.writeFileSync(authorized, `${loginPub}\n`)
      const yes = yield* serveCli(dir, authorized, ["AllowAgentForwarding yes"])
      const r = yield* sshA(yes, loginKey, sock, PROBE)
      const out = r.stdout.toString()
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(out, "forwarded@test (ED25519)")
      assert.match(out, /mode=600\nmode=700\n/)
      assert.isTrue(yield* gone(sockOf(out)))
      const refused = (text: string) => {
        assert.notInclude(text, "forwarded@test")
        assert.include(text, "sock=\n")
      }
      for (const lines of [["AllowAgentForwarding no"], [], ["AllowAgentForwarding yes", "DisableForwarding yes"]]) {
        const port = yield* serveCli(dir, authorized, lines)
        refused((yield* sshA(port, loginKey, sock, PROBE)).stdout.toString())
      }
      fs.writeFileSync(authorized, `no-agent-forwarding ${loginPub}\n`)
      refused((yield* sshA(yes, loginKey, sock, PROBE)).stdout.toString())
    }), { timeout: 90_000 })
})

describe.skipIf(!has)("our client's forwardAgent into sshd", () => {
  const connect = (port: number, keyFile: string) =>
    SshClient.connect({
      host: "127.0.0.1",
      port,
      username: me,
      auth: [Auth.privateKey(Servers.keyFromFile(keyFile))],
      hostKeys: HostKeyPolicy.insecureAcceptAny
    })

  it.scopedLive("the remote ssh-add lists the keys of an OpenSSH ssh-agent and of our in-process agent", () =>
    Effect.gen(function*() {
      const { dir, loginKey, loginPub, sock } = yield* setup
      const { port } = yield* OpenSsh.sshdTcp({
        logLevel: "INFO",
        authorizedKeys: [loginPub],
        extra: ["AllowAgentForwarding yes"]
      })
      const viaOpenSsh = yield* Effect.scoped(Effect.flatMap(connect(port, loginKey), (ssh) =>
        ssh.run(PROBE, { forwardAgent: NodeAgent.forwarding(sock) })))
      assert.include(viaOpenSsh.stdout, "forwarded@test (ED25519)", viaOpenSsh.stderr)
      assert.include(viaOpenSsh.stdout, "rc=0")
      const remoteSock = sockOf(viaOpenSsh.stdout)
      assert.notStrictEqual(remoteSock, "")

      const agent = yield* AgentServer.make().pipe(Effect.provideService(Crypto, NodeCrypto))
      const inProcess = path.join(dir, "in_process")
      yield* OpenSshAgent.keygen(inProcess, "ecdsa", "in-process@test")
      yield* agent.add(Servers.keyFromFile(inProcess), { comment: "in-process@test" })
      const viaOurs = yield* Effect.scoped(Effect.flatMap(connect(port, loginKey), (ssh) =>
        Effect.gen(function*() {
          const forwarded = yield* ssh.run(PROBE, { forwardAgent: AgentForwarding.fromAgentServer(agent) })
          const plain = yield* ssh.run(PROBE)
          return { forwarded, plain }
        })))
      assert.include(viaOurs.forwarded.stdout, "in-process@test (ECDSA)", viaOurs.forwarded.stderr)
      assert.notInclude(viaOurs.forwarded.stdout, "forwarded@test")
      // sshd keeps one agent socket per connection (session.c auth_sock_name), so a later session without the
      // option still sees SSH_AUTH_SOCK: its channel is refused by our client, no forwarding session being live
      // (SEC-47), and ssh-add gets no keys.
      assert.notInclude(viaOurs.plain.stdout, "in-process@test")
      assert.notInclude(viaOurs.plain.stdout, "rc=0")
      // sshd removes the socket when the session that asked for it ends.
      assert.isTrue(yield* gone(remoteSock), `${remoteSock} still exists`)
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})

describe.skipIf(!has)("effect-ssh ssh -A / ForwardAgent into sshd", () => {
  const cli = (port: number, identity: string, extra: ReadonlyArray<string>, env: Record<string, string>) =>
    OpenSshAgent.run(process.execPath, [
      BIN, "ssh", "-F", "/dev/null", "-p", String(port), "-i", identity, "-o", "IdentitiesOnly=yes",
      "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
      ...extra, `${me}@127.0.0.1`, PROBE
    ], env, { timeoutMs: 30_000 })

  it.scopedLive("-A forwards SSH_AUTH_SOCK, ForwardAgent=$VAR the socket the variable names; without them none", () =>
    Effect.gen(function*() {
      const { loginKey, loginPub, sock } = yield* setup
      const { port } = yield* OpenSsh.sshdTcp({ logLevel: "INFO", authorizedKeys: [loginPub], extra: ["AllowAgentForwarding yes"] })
      const a = yield* cli(port, loginKey, ["-A"], { SSH_AUTH_SOCK: sock })
      assert.strictEqual(a.code, 0, a.stderr)
      assert.include(a.stdout, "forwarded@test (ED25519)")
      const viaVar = yield* cli(port, loginKey, ["-o", "ForwardAgent=$FWD_SOCK"], { SSH_AUTH_SOCK: "", FWD_SOCK: sock })
      assert.include(viaVar.stdout, "forwarded@test (ED25519)", viaVar.stderr)
      const path_ = yield* cli(port, loginKey, ["-o", `ForwardAgent=${sock}`], { SSH_AUTH_SOCK: "" })
      assert.include(path_.stdout, "forwarded@test (ED25519)", path_.stderr)
      for (const extra of [[], ["-a"], ["-o", "ForwardAgent=no"]]) {
        const none = yield* cli(port, loginKey, extra, { SSH_AUTH_SOCK: sock })
        assert.strictEqual(none.code, 0, none.stderr)
        assert.include(none.stdout, "sock=\n")
      }
    }), { timeout: 90_000 })
})
