/**
 * The library path of ssh_config: `NodeSshConfig.connect("alias", { configFile })` against OpenSSH's sshd —
 * HostName/Port/User/IdentityFile and StrictHostKeyChecking accept-new into a UserKnownHostsFile with tokens;
 * a user certificate found as the identity's `-cert.pub` (sshd trusts only the CA); SetEnv reaching the
 * session through `SshClientConfig.sessionEnv`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SshClientConfig from "../../src/client/SshClientConfig.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as NodeSshConfig from "../../src/node/NodeSshConfig.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const user = os.userInfo().username

const keyPair = (dir: string, name: string) => {
  const key = path.join(dir, name)
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key])
  return key
}

describe.skipIf(!has)("ssh_config in the library", () => {
  it.scopedLive("connects to an alias: HostName, Port, User, IdentityFile, accept-new into %h_%p, SetEnv", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-cfg-connect-"))
      const key = keyPair(dir, "id_ed25519")
      const { port } = yield* OpenSsh.sshdTcp({
        authorizedKeys: [fs.readFileSync(`${key}.pub`, "utf8").trim()],
        logLevel: "INFO",
        extra: ["AcceptEnv EFFECT_SSH_*"]
      })
      const cfg = path.join(dir, "config")
      fs.writeFileSync(cfg, [
        "Host web",
        "  HostName 127.0.0.1",
        `  Port ${port}`,
        `  User ${user}`,
        `  IdentityFile ${key}`,
        "  StrictHostKeyChecking accept-new",
        `  UserKnownHostsFile ${dir}/kh_%h_%p`,
        "  GlobalKnownHostsFile none",
        "  SetEnv EFFECT_SSH_GREETING=hello"
      ].join("\n"))
      const resolved = yield* NodeSshConfig.resolve("web", { configFile: cfg })
      const ssh = yield* NodeSshConfig.connect("web", { configFile: cfg })
      const out = yield* ssh.string("echo $USER:$EFFECT_SSH_GREETING", { env: SshClientConfig.sessionEnv(resolved, {}) })
      assert.strictEqual(out, `${user}:hello\n`)
      assert.match(fs.readFileSync(path.join(dir, `kh_127.0.0.1_${port}`), "utf8"), /^\[127\.0\.0\.1\]:\d+ ssh-/)
    }).pipe(Effect.provide(NodeSsh.layer)))

  it.scopedLive("a user certificate next to the identity file is used (sshd trusts only the CA)", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-cfg-cert-"))
      const ca = keyPair(dir, "user_ca")
      const key = keyPair(dir, "id_ed25519")
      execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-s", ca, "-I", "cfg-test", "-n", user, `${key}.pub`])
      const { port } = yield* OpenSsh.sshdTcp({ logLevel: "INFO", extra: [`TrustedUserCAKeys ${ca}.pub`] })
      const cfg = path.join(dir, "config")
      fs.writeFileSync(cfg, `Host certified\n  HostName 127.0.0.1\n  Port ${port}\n  User ${user}\n  IdentityFile ${key}\n  StrictHostKeyChecking no\n`)
      const ssh = yield* NodeSshConfig.connect("certified", { configFile: cfg })
      assert.strictEqual(yield* ssh.string("echo cert-ok"), "cert-ok\n")
    }).pipe(Effect.provide(NodeSsh.layer)))
})
