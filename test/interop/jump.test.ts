/**
 * Jump hosts and ProxyCommand against OpenSSH's sshd: `via: [hop]` and `via: [hop1, hop2]` (each hop over the
 * previous hop's direct-tcpip channel, seen in each hop's log), an unreachable target through a hop as a typed
 * error, everything closed with one Scope; ProxyCommand as a Dialer with OpenSSH's `ssh -W %h:%p` as the
 * command, in both argument-list and /bin/sh string forms; SEC-69 token validation before any spawn.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, Scope } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as NodeProxyCommand from "../../src/node/NodeProxyCommand.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { keyFromFile } from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh()
const user = os.userInfo().username
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-jump-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-t", "ed25519", "-q", "-N", "", "-f", keyFile])
const authorized = () => [fs.readFileSync(`${keyFile}.pub`, "utf8").trim()]

const sshd = (log: Array<string>) =>
  OpenSsh.sshdTcp({ authorizedKeys: authorized(), logLevel: "DEBUG1", extra: ["AllowTcpForwarding yes"] }, log)

const hop = (port: number): Omit<SshClient.SshClientOptions, "via"> => ({
  host: "127.0.0.1",
  port,
  username: user,
  auth: [Auth.privateKey(keyFromFile(keyFile))],
  hostKeys: HostKeyPolicy.insecureAcceptAny
})

/** sshd logs each direct-tcpip it serves: "server_request_direct_tcpip: originator … target 127.0.0.1 port N". */
const directTo = (log: Array<string>, port: number) =>
  log.join("").includes(`target 127.0.0.1 port ${port}`)

describe.skipIf(!has)("jump hosts (via) against OpenSSH sshd", () => {
  it.scopedLive("one hop and two hops: each connection goes through the previous hop's direct-tcpip", () =>
    Effect.gen(function*() {
      const [log1, log2, logT]: Array<Array<string>> = [[], [], []]
      const h1 = yield* sshd(log1)
      const h2 = yield* sshd(log2)
      const target = yield* sshd(logT)
      const one = yield* SshClient.connect({ ...hop(target.port), via: [hop(h1.port)] })
      assert.strictEqual(yield* one.string("echo via-one"), "via-one\n")
      assert.isTrue(directTo(log1, target.port), "hop 1 forwarded to the target")
      const scope = yield* Scope.make()
      const two = yield* SshClient.connect({ ...hop(target.port), via: [hop(h1.port), hop(h2.port)] }).pipe(
        Scope.extend(scope)
      )
      assert.strictEqual(yield* two.string("echo via-two"), "via-two\n")
      assert.isTrue(directTo(log1, h2.port), "hop 1 forwarded to hop 2")
      assert.isTrue(directTo(log2, target.port), "hop 2 forwarded to the target")
      // One Scope: closing it ends the target connection and both hops.
      yield* Scope.close(scope, Exit.void)
      const closed = yield* Effect.flip(two.string("echo after"))
      assert.strictEqual(closed._tag, "TransportError")
      // The one-hop connection, in another Scope, is untouched.
      assert.strictEqual(yield* one.string("echo still"), "still\n")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("an unreachable target behind a hop is a TransportError ConnectFailed", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const h1 = yield* sshd(log)
      const e = yield* Effect.flip(SshClient.connect({ ...hop(1), via: [hop(h1.port)] }))
      assert.strictEqual(e._tag, "TransportError")
      if (e._tag === "TransportError") {
        assert.strictEqual(e.reason, "ConnectFailed")
        assert.include(e.description, "through the jump host")
      }
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})

describe.skipIf(!has)("ProxyCommand (NodeProxyCommand) against OpenSSH sshd", () => {
  const sshW = (jumpPort: number) => [
    ...OpenSsh.sshLogin(jumpPort, keyFile),
    "-W",
    "%h:%p",
    "127.0.0.1"
  ]

  it.scopedLive("`ssh -W %h:%p` as an argument list (no shell) and as a /bin/sh string", () =>
    Effect.gen(function*() {
      const [logJ, logT]: Array<Array<string>> = [[], []]
      const jump = yield* sshd(logJ)
      const target = yield* sshd(logT)
      const viaList = yield* SshClient.connect(hop(target.port)).pipe(
        Effect.provide(NodeProxyCommand.layer([OpenSsh.SSH, ...sshW(jump.port)], { stderr: "ignore" }))
      )
      assert.strictEqual(yield* viaList.string("echo list"), "list\n")
      const asString = [OpenSsh.SSH, ...sshW(jump.port)].join(" ")
      const viaString = yield* SshClient.connect(hop(target.port)).pipe(
        Effect.provide(NodeProxyCommand.layer(asString, { stderr: "ignore" }))
      )
      assert.strictEqual(yield* viaString.string("echo string"), "string\n")
      assert.isTrue(directTo(logJ, target.port), "the jump host's sshd served ssh -W")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.effect("SEC-69: hosts and users with shell metacharacters are refused before anything is spawned", () =>
    Effect.gen(function*() {
      const marker = path.join(keyDir, "pwn")
      for (const host of [`a;touch ${marker}`, `\`touch ${marker}\``, `-oProxyCommand=touch ${marker}`, "a b", "a\0b"]) {
        assert.isTrue(Either.isLeft(NodeProxyCommand.expand("nc %h %p", host, 22)), host)
        const e = yield* Effect.flip(Effect.scoped(NodeProxyCommand.dialer(`touch ${marker}; nc %h %p`).dial(host, 22)))
        assert.strictEqual(e.reason, "ConnectFailed")
      }
      for (const u of ["x\nid>/tmp/pwn", "-oops", "a$(id)", "a'b", "a\u0085b"]) {
        assert.isTrue(Either.isLeft(NodeProxyCommand.expand("ssh -l %r %h", "example.com", 22, u)), JSON.stringify(u))
      }
      assert.isFalse(fs.existsSync(marker))
      // Accepted values are single-quoted in the shell form and passed verbatim in the list form.
      assert.deepStrictEqual(
        NodeProxyCommand.expand("ssh -W %h:%p -l %r jump 100%%", "[::1]", 2222, "deploy"),
        Either.right(["/bin/sh", "-c", "exec ssh -W '[::1]':'2222' -l 'deploy' jump 100%"])
      )
      assert.deepStrictEqual(
        NodeProxyCommand.expand(["ssh", "-W", "%h:%p", "jump"], "db.internal", 5432),
        Either.right(["ssh", "-W", "db.internal:5432", "jump"])
      )
    }))
})
