/**
 * `effect-ssh agent command…` (ssh-agent(1)'s command mode): the command runs with SSH_AUTH_SOCK and SSH_AGENT_PID
 * set, ssh-add drives the agent from inside it, the exit status is the command's, and the socket (and its default
 * private directory) is gone afterwards. The command is run without a shell (SEC-69).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"

const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const has = OpenSshAgent.haveAgent()

describe.skipIf(!has)("effect-ssh agent command", () => {
  it.scopedLive("runs the command under the agent, returns its status, and removes the socket", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-agent-cmd-")
      const key = path.join(dir, "k")
      yield* OpenSshAgent.keygen(key, "ed25519", "under-agent@test")
      const script = `ssh-add -q ${key} && ssh-add -l && echo "sock=$SSH_AUTH_SOCK pid=$SSH_AGENT_PID"; exit 3`
      const r = yield* OpenSshAgent.run(process.execPath, [BIN, "agent", "sh", "-c", script], { SSH_AUTH_SOCK: "" })
      assert.strictEqual(r.code, 3, r.stderr)
      assert.include(r.stdout, "under-agent@test (ED25519)")
      const sock = /sock=(\S+) pid=(\d+)/.exec(r.stdout)
      assert.isNotNull(sock)
      assert.isFalse(fs.existsSync(sock![1]!))
      assert.isFalse(fs.existsSync(path.dirname(sock![1]!)))
      // With -a the given socket is used, and removed too; the words are not given to a shell.
      const given = path.join(dir, "given.sock")
      const quoted = yield* OpenSshAgent.run(process.execPath, [BIN, "agent", "-a", given, "printf", "%s|", "$HOME", "a b"])
      assert.strictEqual(quoted.code, 0, quoted.stderr)
      assert.strictEqual(quoted.stdout, "$HOME|a b|")
      assert.isFalse(fs.existsSync(given))
      const missing = yield* OpenSshAgent.run(process.execPath, [BIN, "agent", path.join(dir, "no-such-program")])
      assert.strictEqual(missing.code, 1)
    }), { timeout: 60_000 })
})
