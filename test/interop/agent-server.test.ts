/**
 * Our agent (AgentServer on NodeAgent.serve, and the `effect-ssh agent` command) driven by OpenSSH: ssh-add adds,
 * lists (-l, -L), deletes (-d, -D), adds with a lifetime (-t) that expires, locks and unlocks (-x, -X); ssh logs in
 * to sshd with keys held by our agent (rsa with rsa-sha2-512, session-bind verified); `-c` keys are refused
 * without a confirmation program and asked through SSH_ASKPASS with one (SEC-61).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as AgentServer from "../../src/agent/AgentServer.js"
import * as NodeAgent from "../../src/node/NodeAgent.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"

const has = OpenSsh.haveOpenSsh() && OpenSshAgent.haveAgent()
const me = os.userInfo().username
const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")

/** Our agent on a temp socket, with key files of three types. */
const ourAgent = (options?: AgentServer.AgentServerOptions) =>
  Effect.gen(function*() {
    const dir = yield* OpenSshAgent.tempDir("effect-ssh-our-agent-")
    const sock = path.join(dir, "agent.sock")
    const agent = yield* AgentServer.make(options)
    yield* NodeAgent.serve(agent, sock)
    const files = { ed25519: path.join(dir, "id_ed25519"), ecdsa: path.join(dir, "id_ecdsa"), rsa: path.join(dir, "id_rsa") }
    const pubs: Record<string, string> = {}
    for (const [type, file] of Object.entries(files)) pubs[type] = yield* OpenSshAgent.keygen(file, type, `${type}@test`)
    return { agent, dir, sock, files, pubs }
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

const fingerprint = (file: string) =>
  Effect.map(OpenSshAgent.run("/usr/bin/ssh-keygen", ["-lf", file]), (r) => r.stdout.split(" ")[1]!)

/** An SSH_ASKPASS program that prints `answer` (a passphrase) and exits with `status`. */
const askpassScript = (dir: string, answer: string, status = 0): string => {
  const file = path.join(dir, `askpass-${status}`)
  fs.writeFileSync(file, `#!/bin/sh\necho '${answer}'\nexit ${status}\n`, { mode: 0o700 })
  return file
}

describe.skipIf(!has)("our agent driven by ssh-add", () => {
  it.scopedLive("ssh-add adds, -l lists, -L prints, -d deletes, -D deletes all", () =>
    Effect.gen(function*() {
      const { files, pubs, sock } = yield* ourAgent()
      for (const file of Object.values(files)) {
        const r = yield* OpenSshAgent.sshAdd(sock, [file])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.include(r.stderr, "Identity added")
      }
      const listed = yield* OpenSshAgent.sshAdd(sock, ["-l"])
      for (const file of Object.values(files)) assert.include(listed.stdout, yield* fingerprint(file))
      assert.include(listed.stdout, "(RSA)")
      const printed = yield* OpenSshAgent.sshAdd(sock, ["-L"])
      for (const pub of Object.values(pubs)) assert.include(printed.stdout, pub)
      const deleted = yield* OpenSshAgent.sshAdd(sock, ["-d", files.ecdsa])
      assert.strictEqual(deleted.code, 0, deleted.stderr)
      assert.notInclude((yield* OpenSshAgent.sshAdd(sock, ["-L"])).stdout, pubs.ecdsa)
      const all = yield* OpenSshAgent.sshAdd(sock, ["-D"])
      assert.strictEqual(all.code, 0, all.stderr)
      assert.include((yield* OpenSshAgent.sshAdd(sock, ["-l"])).stdout, "no identities")
    }), { timeout: 60_000 })

  it.scopedLive("ssh-add -t 1: the key is gone once its lifetime ends (SEC-61)", () =>
    Effect.gen(function*() {
      const { files, sock } = yield* ourAgent()
      const r = yield* OpenSshAgent.sshAdd(sock, ["-t", "1", files.ed25519])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stderr, "Lifetime set to 1 seconds")
      let listed = (yield* OpenSshAgent.sshAdd(sock, ["-l"])).stdout
      assert.include(listed, "ED25519")
      for (let i = 0; i < 100 && !listed.includes("no identities"); i++) {
        yield* Effect.sleep("100 millis")
        listed = (yield* OpenSshAgent.sshAdd(sock, ["-l"])).stdout
      }
      assert.include(listed, "no identities")
    }), { timeout: 60_000 })

  it.scopedLive("ssh-add -x locks (nothing listed, nothing added), -X with a wrong passphrase fails, the right one unlocks", () =>
    Effect.gen(function*() {
      const { dir, files, sock } = yield* ourAgent()
      yield* OpenSshAgent.sshAdd(sock, [files.ed25519])
      const env = (answer: string) => ({ SSH_AUTH_SOCK: sock, SSH_ASKPASS: askpassScript(dir, answer), SSH_ASKPASS_REQUIRE: "force" })
      const locked = yield* OpenSshAgent.run(OpenSshAgent.SSH_ADD, ["-x"], env("sesame"))
      assert.strictEqual(locked.code, 0, locked.stderr)
      assert.include(locked.stderr, "Agent locked")
      assert.include((yield* OpenSshAgent.sshAdd(sock, ["-l"])).stdout, "no identities")
      assert.notStrictEqual((yield* OpenSshAgent.sshAdd(sock, [files.rsa])).code, 0)
      const wrong = yield* OpenSshAgent.run(OpenSshAgent.SSH_ADD, ["-X"], env("wrong"))
      assert.notStrictEqual(wrong.code, 0)
      const right = yield* OpenSshAgent.run(OpenSshAgent.SSH_ADD, ["-X"], env("sesame"))
      assert.strictEqual(right.code, 0, right.stderr)
      assert.include((yield* OpenSshAgent.sshAdd(sock, ["-l"])).stdout, "ED25519")
    }), { timeout: 60_000 })

  it.scopedLive("SEC-61: ssh-add -c is refused without a confirm handler; with one, each signature asks it", () =>
    Effect.gen(function*() {
      const { files, sock } = yield* ourAgent()
      const refused = yield* OpenSshAgent.sshAdd(sock, ["-c", files.ed25519])
      assert.notStrictEqual(refused.code, 0)
      assert.include(refused.stderr, "agent refused operation")
      const asked: Array<string> = []
      let allow = false
      const confirming = yield* ourAgent({
        confirm: ({ identity }) => Effect.sync(() => (asked.push(identity.fingerprint), allow))
      })
      const added = yield* OpenSshAgent.sshAdd(confirming.sock, ["-c", confirming.files.ed25519])
      assert.strictEqual(added.code, 0, added.stderr)
      // ssh-add -T signs with the key and verifies the signature: denied, then allowed.
      const pub = `${confirming.files.ed25519}.pub`
      assert.notStrictEqual((yield* OpenSshAgent.sshAdd(confirming.sock, ["-T", pub])).code, 0)
      allow = true
      const tested = yield* OpenSshAgent.sshAdd(confirming.sock, ["-T", pub])
      assert.strictEqual(tested.code, 0, tested.stderr)
      assert.strictEqual(asked.length, 2)
      assert.strictEqual(asked[0], yield* fingerprint(confirming.files.ed25519))
      void files
    }), { timeout: 60_000 })
})

describe.skipIf(!has)("ssh logs in with keys held by our agent", () => {
  for (const type of ["ed25519", "rsa"] as const) {
    it.scopedLive(`${type}${type === "rsa" ? " (rsa-sha2-512 flag)" : ""}`, () =>
      Effect.gen(function*() {
        const { files, pubs, sock } = yield* ourAgent()
        yield* OpenSshAgent.sshAdd(sock, [files[type]])
        const log: Array<string> = []
        const { port } = yield* OpenSsh.sshdTcp({ logLevel: "DEBUG1", authorizedKeys: [pubs[type]!] }, log)
        const r = yield* OpenSsh.ssh([
          "-F", "/dev/null", "-p", String(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", `IdentityAgent=${sock}`, "-v", `${me}@127.0.0.1`, "echo via-our-agent"
        ])
        assert.strictEqual(r.code, 0, r.stderr + log.join(""))
        assert.strictEqual(r.stdout.toString(), "via-our-agent\n")
        // ssh binds the agent connection to the session; our agent verified the host key's signature.
        assert.notInclude(r.stderr, "bind failed")
        assert.include(r.stderr, "agent")
        if (type === "rsa") assert.isTrue(log.some((l) => l.includes("rsa-sha2-512")), log.join(""))
      }), { timeout: 60_000 })
  }
})

describe.skipIf(!has)("effect-ssh agent (the command)", () => {
  it.scopedLive("prints ssh-agent's sh lines, serves ssh-add in the background, and -k kills it", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-agent-cli-")
      const sock = path.join(dir, "s")
      const started = yield* OpenSshAgent.run(process.execPath, [BIN, "agent", "-s", "-a", sock, "-t", "1h"], {}, { timeoutMs: 30_000 })
      assert.strictEqual(started.code, 0, started.stderr)
      const pid = Number(/SSH_AGENT_PID=(\d+); export SSH_AGENT_PID;/.exec(started.stdout)?.[1])
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // Already ended by -k.
        }
      }))
      assert.include(started.stdout, `SSH_AUTH_SOCK=${sock}; export SSH_AUTH_SOCK;\n`)
      assert.include(started.stdout, `echo Agent pid ${pid};`)
      assert.strictEqual(fs.statSync(sock).mode & 0o777, 0o600)
      const key = path.join(dir, "k")
      yield* OpenSshAgent.keygen(key, "ed25519", "cli@test")
      assert.strictEqual((yield* OpenSshAgent.sshAdd(sock, [key])).code, 0)
      assert.include((yield* OpenSshAgent.sshAdd(sock, ["-l"])).stdout, "cli@test")
      const killed = yield* OpenSshAgent.run(process.execPath, [BIN, "agent", "-s", "-k"], { SSH_AGENT_PID: String(pid) })
      assert.strictEqual(killed.code, 0, killed.stderr)
      assert.strictEqual(killed.stdout, `unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\necho Agent pid ${pid} killed;\n`)
      let gone = false
      for (let i = 0; i < 100 && !gone; i++) {
        yield* Effect.sleep("50 millis")
        gone = !fs.existsSync(sock)
      }
      assert.isTrue(gone, "the socket is removed when the agent ends")
    }), { timeout: 60_000 })

  it.scopedLive("-D stays in the foreground; a bad -t is refused with ssh-agent's message", () =>
    Effect.gen(function*() {
      const bad = yield* OpenSshAgent.run(process.execPath, [BIN, "agent", "-t", "soon"])
      assert.strictEqual(bad.code, 1)
      assert.include(bad.stderr, "Invalid lifetime")
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-agent-cli-")
      const sock = path.join(dir, "s")
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => spawn(process.execPath, [BIN, "agent", "-D", "-a", sock], { stdio: ["ignore", "pipe", "pipe"] })),
        (c) => Effect.sync(() => c.kill("SIGKILL"))
      )
      const first = yield* Effect.async<string>((resume) => {
        child.stdout.once("data", (d: Buffer) => resume(Effect.succeed(d.toString())))
      })
      assert.strictEqual(first, `SSH_AUTH_SOCK=${sock}; export SSH_AUTH_SOCK;\necho Agent pid ${child.pid};\n`)
      assert.include((yield* OpenSshAgent.sshAdd(sock, ["-l"])).stdout, "no identities")
    }), { timeout: 60_000 })
})
