/**
 * Our agent client (SshAgent over NodeAgent) against OpenSSH's ssh-agent, keys loaded with ssh-add: it lists keys
 * and certificates, signs with ed25519, ecdsa and rsa (rsa-sha2-256/512 flags), adds keys with lifetime and confirm
 * constraints, removes, locks and unlocks, binds a session; and `Auth.agent` logs in to sshd with the agent's
 * keys, a certificate included.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import type { PrivateKeyMaterial } from "../../src/crypto/Backend.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as NodeAgent from "../../src/node/NodeAgent.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import { AuthError } from "../../src/SshError.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"
import { authorizedKeyLine } from "../helpers/RawAuth.js"
import { keyFromFile } from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh() && OpenSshAgent.haveAgent()
const me = os.userInfo().username

/** An ssh-agent holding ed25519 (with a certificate), ecdsa and rsa keys added by ssh-add. */
const loadedAgent = Effect.gen(function*() {
  const sock = yield* OpenSshAgent.sshAgent()
  const dir = yield* OpenSshAgent.tempDir("effect-ssh-agent-keys-")
  const files = { ed25519: path.join(dir, "id_ed25519"), ecdsa: path.join(dir, "id_ecdsa"), rsa: path.join(dir, "id_rsa") }
  for (const [type, file] of Object.entries(files)) yield* OpenSshAgent.keygen(file, type, `${type}@test`)
  const ca = path.join(dir, "ca")
  yield* OpenSshAgent.keygen(ca, "ed25519", "ca")
  const signed = yield* OpenSshAgent.run("/usr/bin/ssh-keygen", ["-q", "-s", ca, "-I", "agent-cert", "-n", me, `${files.ed25519}.pub`])
  assert.strictEqual(signed.code, 0, signed.stderr)
  for (const file of Object.values(files)) {
    const added = yield* OpenSshAgent.sshAdd(sock, [file])
    assert.strictEqual(added.code, 0, added.stderr)
  }
  return { sock, dir, files, ca }
})

const blobOf = (k: PrivateKeyMaterial) => HostKey.encodePublicKey(HostKey.publicKeyOf(k))

describe.skipIf(!has)("SshAgent ↔ OpenSSH ssh-agent", () => {
  it.scopedLive("lists keys and the certificate ssh-add loaded; signs with each, RSA with rsa-sha2-256 and -512", () =>
    Effect.gen(function*() {
      const { sock } = yield* loadedAgent
      const agent = yield* NodeAgent.make(sock)
      const ids = yield* agent.identities
      assert.deepStrictEqual(ids.map((i) => i.keyType).sort(), [
        "ecdsa-sha2-nistp256",
        "ssh-ed25519",
        "ssh-ed25519-cert-v01@openssh.com",
        "ssh-rsa"
      ])
      assert.isTrue(ids.some((i) => i.isCertificate && i.comment.includes("ed25519@test")))
      const data = new TextEncoder().encode("sign me")
      for (const id of ids) {
        const algorithms = id.keyType === "ssh-rsa" ? ["rsa-sha2-256", "rsa-sha2-512"] : [id.keyType]
        for (const algorithm of algorithms) {
          const signature = yield* agent.sign(id.publicKey, data, { algorithm })
          const plain = HostKey.signatureAlgorithm(algorithm)
          assert.isTrue(HostKey.verify(NodeCrypto, algorithm, id.publicKey, data, signature), `${algorithm} verifies`)
          assert.isTrue(new TextDecoder().decode(signature).includes(plain))
        }
      }
      // A key it does not hold: SSH_AGENT_FAILURE is a typed refusal.
      const other = blobOf(NodeCrypto.generateKey({ type: "ed25519" }))
      const refused = yield* Effect.flip(agent.sign(other, data))
      assert.strictEqual(refused.reason, "Refused")
    }), { timeout: 60_000 })

  it.scopedLive("add (with lifetime and confirm) / remove / remove all / lock / unlock, as ssh-add -l sees them", () =>
    Effect.gen(function*() {
      const { sock } = yield* loadedAgent
      const agent = yield* NodeAgent.make(sock)
      const key = NodeCrypto.generateKey({ type: "ed25519" })
      const fp = HostKey.fingerprintSha256(blobOf(key))
      yield* agent.add(key, { comment: "added-by-effect-ssh", lifetime: "1 hour" })
      let listed = yield* OpenSshAgent.sshAdd(sock, ["-l"])
      assert.include(listed.stdout, fp)
      assert.include(listed.stdout, "added-by-effect-ssh")
      yield* agent.remove(blobOf(key))
      listed = yield* OpenSshAgent.sshAdd(sock, ["-l"])
      assert.notInclude(listed.stdout, fp)
      // confirm: ssh-agent keeps the constraint and asks ssh-askpass on use; with none, it refuses to sign.
      const confirmed = NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp256" })
      yield* agent.add(confirmed, { confirm: true, comment: "confirm" })
      const notConfirmed = yield* Effect.flip(agent.sign(blobOf(confirmed), new Uint8Array([1])))
      assert.strictEqual(notConfirmed.reason, "Refused")
      // lock: the agent lists nothing and refuses to sign until unlocked with the same passphrase.
      yield* agent.lock("sesame")
      assert.strictEqual((yield* agent.identities).length, 0)
      assert.include((yield* OpenSshAgent.sshAdd(sock, ["-l"])).stdout, "no identities")
      assert.strictEqual((yield* Effect.flip(agent.unlock("wrong"))).reason, "Refused")
      yield* agent.unlock("sesame")
      assert.strictEqual((yield* agent.identities).length, 5)
      yield* agent.removeAll
      assert.strictEqual((yield* agent.identities).length, 0)
    }), { timeout: 60_000 })

  it.scopedLive("a key added with a 1 s lifetime is gone after it (ssh-agent enforces what we sent)", () =>
    Effect.gen(function*() {
      const sock = yield* OpenSshAgent.sshAgent()
      const agent = yield* NodeAgent.make(sock)
      yield* agent.add(NodeCrypto.generateKey({ type: "ed25519" }), { lifetime: "1 second" })
      assert.strictEqual((yield* agent.identities).length, 1)
      let left = 1
      for (let i = 0; i < 100 && left > 0; i++) {
        yield* Effect.sleep("100 millis")
        left = (yield* agent.identities).length
      }
      assert.strictEqual(left, 0)
    }), { timeout: 30_000 })

  it.scopedLive("session-bind@openssh.com: a valid host-key signature binds; a bad one is refused", () =>
    Effect.gen(function*() {
      const sock = yield* OpenSshAgent.sshAgent()
      const agent = yield* NodeAgent.make(sock)
      const hostKey = NodeCrypto.generateKey({ type: "ed25519" })
      const sessionId = NodeCrypto.randomBytes(32)
      const signature = HostKey.sign(NodeCrypto, "ssh-ed25519", hostKey, sessionId)
      yield* agent.sessionBind({ hostKey: blobOf(hostKey), sessionId, signature, forwarding: false })
      const other = yield* NodeAgent.make(sock)
      const bad = yield* Effect.flip(other.sessionBind({
        hostKey: blobOf(hostKey),
        sessionId: NodeCrypto.randomBytes(32),
        signature,
        forwarding: false
      }))
      assert.strictEqual(bad.reason, "Refused")
    }), { timeout: 30_000 })

  it.scopedLive("NodeAgent.layer: SSH_AUTH_SOCK unset is NoAgent; a missing socket is NoAgent", () =>
    Effect.gen(function*() {
      const saved = process.env.SSH_AUTH_SOCK
      delete process.env.SSH_AUTH_SOCK
      const unset = yield* Effect.flip(Effect.scoped(Effect.flatMap(NodeAgent.socketPath, NodeAgent.make)))
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved
      assert.strictEqual(unset.reason, "NoAgent")
      const missing = yield* Effect.flip(NodeAgent.make(path.join(os.tmpdir(), "no-such-agent.sock")))
      assert.strictEqual(missing.reason, "NoAgent")
    }))
})

describe.skipIf(!has)("Auth.agent ↔ OpenSSH sshd", () => {
  const login = (sock: string, extra: ReadonlyArray<string>, authorizedKeys?: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const { port } = yield* OpenSsh.sshdTcp({ logLevel: "INFO", extra, ...(authorizedKeys ? { authorizedKeys } : {}) })
      const agent = yield* NodeAgent.make(sock)
      const logs: Array<string> = []
      const ssh = yield* SshClient.connect({
        host: "127.0.0.1",
        port,
        username: me,
        auth: [Auth.agent(agent)],
        hostKeys: HostKeyPolicy.insecureAcceptAny
      }).pipe(
        Logger.withMinimumLogLevel(LogLevel.Debug),
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      return { ssh, logs }
    })

  it.scopedLive("logs in with the agent's rsa key (rsa-sha2-512) after the other keys are refused", () =>
    Effect.gen(function*() {
      const { files, sock } = yield* loadedAgent
      const rsa = keyFromFile(files.rsa)
      const { logs, ssh } = yield* login(sock, [], [authorizedKeyLine(rsa)])
      assert.strictEqual(yield* ssh.string("echo agent-ok"), "agent-ok\n")
      assert.isTrue(logs.some((l) => l.includes("(rsa-sha2-512)")), logs.join("\n"))
      assert.deepStrictEqual(ssh.authenticated.methods, ["publickey"])
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("logs in with the agent's certificate (TrustedUserCAKeys, no authorized_keys)", () =>
    Effect.gen(function*() {
      const { ca, sock } = yield* loadedAgent
      const { logs, ssh } = yield* login(sock, [`TrustedUserCAKeys ${ca}.pub`])
      assert.strictEqual(yield* ssh.string("echo cert-ok"), "cert-ok\n")
      assert.isTrue(logs.some((l) => l.includes("ssh-ed25519-cert-v01@openssh.com")), logs.join("\n"))
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("an empty agent: AuthError KeyUnusable, nothing sent", () =>
    Effect.gen(function*() {
      const sock = yield* OpenSshAgent.sshAgent()
      const e = yield* Effect.flip(login(sock, []))
      assert.instanceOf(e, AuthError)
      if (e instanceof AuthError) {
        assert.strictEqual(e.reason, "KeyUnusable")
        assert.isTrue(e.tried.some((t) => t.includes("holds no keys")), e.message)
      }
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})

