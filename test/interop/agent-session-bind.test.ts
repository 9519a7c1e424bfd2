/**
 * session-bind@openssh.com (OpenSSH PROTOCOL.agent §1) from our client to OpenSSH's ssh-agent, with keys added
 * under destination constraints (`ssh-add -h`, ssh-agent(1) "-h destination_constraint"):
 *
 * - Auth.agent binds its agent connection to the session before offering keys, as ssh does: a key constrained to
 *   the sshd's host keys then signs, where an unbound connection is refused ("refusing use of
 *   destination-constrained key to sign on unbound connection").
 * - A forwarded agent channel relayed to the local agent (`NodeAgent.forwarding`) is bound with the forwarding flag,
 *   as ssh's client_request_agent does: a key permitted to log in to that host but not beyond is hidden from the
 *   remote side, where an unbound relay would make the agent take the remote user for a local one (SEC-61).
 *
 * Both send the first exchange's H and host-key signature (SEC-19: the session id never changes).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as NodeAgent from "../../src/node/NodeAgent.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"
import * as Servers from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh() && OpenSshAgent.haveAgent()
const me = os.userInfo().username

/** A known_hosts file naming the test sshd's host keys "sshd-under-test", for `ssh-add -H … -h sshd-under-test`. */
const knownHosts = (dir: string): string => {
  const keys = OpenSsh.hostKeyDir()
  const lines = fs.readdirSync(keys).filter((f) => f.endsWith(".pub"))
    .map((f) => `sshd-under-test ${fs.readFileSync(path.join(keys, f), "utf8").trim()}`)
  const file = path.join(dir, "known_hosts")
  fs.writeFileSync(file, lines.join("\n") + "\n")
  return file
}

describe.skipIf(!has)("session-bind@openssh.com with OpenSSH's ssh-agent", () => {
  it.scopedLive("Auth.agent binds the session: a key constrained to this sshd logs in", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-bind-")
      const sock = yield* OpenSshAgent.sshAgent()
      const key = path.join(dir, "constrained")
      const pub = yield* OpenSshAgent.keygen(key, "ed25519", "constrained@test")
      const added = yield* OpenSshAgent.sshAdd(sock, ["-H", knownHosts(dir), "-h", "sshd-under-test", key])
      assert.strictEqual(added.code, 0, added.stderr)
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [pub] })

      const login = Effect.scoped(Effect.gen(function*() {
        const agent = yield* NodeAgent.make(sock)
        const ssh = yield* SshClient.connect({
          host: "127.0.0.1",
          port,
          username: me,
          auth: [Auth.agent(agent)],
          hostKeys: HostKeyPolicy.insecureAcceptAny
        })
        return (yield* ssh.run("echo bound")).stdout
      }))
      assert.strictEqual(yield* login, "bound\n")

      // The same agent without the extension (a signer that cannot bind) is refused by ssh-agent: the constraint
      // is what the bind satisfies.
      const unbound = Effect.scoped(Effect.gen(function*() {
        const agent = yield* NodeAgent.make(sock)
        const signer: Auth.AgentSigner = { identities: agent.identities, sign: agent.sign }
        return yield* SshClient.connect({
          host: "127.0.0.1",
          port,
          username: me,
          auth: [Auth.agent(signer)],
          hostKeys: HostKeyPolicy.insecureAcceptAny
        })
      }))
      const refused = yield* Effect.either(unbound)
      assert.isTrue(refused._tag === "Left", "an unbound agent connection must not sign with a constrained key")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("a forwarded agent channel is bound as forwarded: a key permitted only up to this host is hidden beyond it", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-bind-fwd-")
      const sock = yield* OpenSshAgent.sshAgent()
      const constrained = path.join(dir, "constrained")
      yield* OpenSshAgent.keygen(constrained, "ed25519", "only-to-sshd@test")
      const free = path.join(dir, "free")
      yield* OpenSshAgent.keygen(free, "ecdsa", "anywhere@test")
      const kh = knownHosts(dir)
      const a1 = yield* OpenSshAgent.sshAdd(sock, ["-H", kh, "-h", "sshd-under-test", constrained])
      assert.strictEqual(a1.code, 0, a1.stderr)
      const a2 = yield* OpenSshAgent.sshAdd(sock, [free])
      assert.strictEqual(a2.code, 0, a2.stderr)
      const loginKey = path.join(dir, "login")
      const loginPub = yield* OpenSshAgent.keygen(loginKey, "ed25519", "login@test")
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [loginPub], extra: ["AllowAgentForwarding yes"] })

      const out = yield* Effect.scoped(Effect.gen(function*() {
        const ssh = yield* SshClient.connect({
          host: "127.0.0.1",
          port,
          username: me,
          auth: [Auth.privateKey(Servers.keyFromFile(loginKey))],
          hostKeys: HostKeyPolicy.insecureAcceptAny
        })
        return yield* ssh.run("ssh-add -l; echo rc=$?", { forwardAgent: NodeAgent.forwarding(sock) })
      }))
      // Locally both keys are listed (the constraint does not hide a key from its owner).
      const local = yield* OpenSshAgent.sshAdd(sock, ["-l"])
      assert.include(local.stdout, "only-to-sshd@test")
      // Through the forwarded, bound channel only the unconstrained key is offered to the remote side.
      assert.include(out.stdout, "anywhere@test (ECDSA)", out.stderr)
      assert.notInclude(out.stdout, "only-to-sshd@test")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})
