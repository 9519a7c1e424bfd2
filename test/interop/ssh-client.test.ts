/**
 * The public client API against OpenSSH's sshd over TCP: SshClient.connect with NodeSsh.layer, run/string,
 * SshConnection.layer, and the typed failures of the client issue (unknown and changed host key, refused
 * connection, timeout, rejected credentials, a non-zero exit).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as SshConnection from "../../src/client/SshConnection.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as RawAuth from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username
const sshd = (extra: ReadonlyArray<string> = []) =>
  OpenSsh.sshdTcp({ authorizedKeys: [RawAuth.authorizedKeyLine(userKey)], logLevel: "INFO", extra })

const options = (port: number, overrides: Partial<SshClient.SshClientOptions> = {}): SshClient.SshClientOptions => ({
  host: "127.0.0.1",
  port,
  username: user,
  auth: [Auth.privateKey(userKey)],
  hostKeys: HostKeyPolicy.insecureAcceptAny,
  ...overrides
})

describe.skipIf(!has)("SshClient against OpenSSH sshd", () => {
  it.scopedLive("connect, run, string", () =>
    Effect.gen(function*() {
      const { port } = yield* sshd()
      const ssh = yield* SshClient.connect(options(port))
      const r = yield* ssh.run("echo out; echo err >&2; exit 4")
      assert.deepStrictEqual(r, { stdout: "out\n", stderr: "err\n", exitCode: 4, signal: undefined })
      assert.strictEqual(yield* ssh.string("printf hello"), "hello")
      const e = yield* Effect.flip(ssh.string("echo failing >&2; exit 2"))
      assert.strictEqual(e._tag, "ExitError")
      if (e._tag === "ExitError") {
        assert.strictEqual(e.status, 2)
        assert.include(e.stderrTail, "failing")
        assert.include(e.message, "exited with status 2")
      }
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("SshConnection.layer provides one connection to a program", () =>
    Effect.gen(function*() {
      const { port } = yield* sshd()
      const hostname = yield* Effect.gen(function*() {
        const ssh = yield* SshConnection.SshConnection
        return yield* ssh.string("hostname")
      }).pipe(Effect.provide(SshConnection.layer(options(port)).pipe(Layer.provide(NodeSsh.layer))))
      assert.strictEqual(hostname.trim(), os.hostname())
    }).pipe(Effect.provide(NodeSsh.layer)))

  it.scopedLive("an unknown host key fails with TransportError HostKeyRejected (strict known_hosts)", () =>
    Effect.gen(function*() {
      const { port } = yield* sshd()
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-kh-"))
      const e = yield* Effect.flip(
        SshClient.connect(options(port, { hostKeys: HostKeyPolicy.knownHosts({ files: [path.join(dir, "known_hosts")] }) }))
      )
      assert.strictEqual(e._tag, "TransportError")
      if (e._tag === "TransportError") {
        assert.strictEqual(e.reason, "HostKeyRejected")
        assert.strictEqual(e.code, 9)
        assert.match(e.message, /SHA256:[A-Za-z0-9+/]{43}/)
      }
    }).pipe(Effect.provide(NodeSsh.layer)))

  it.scopedLive("a changed host key fails and names the known_hosts line", () =>
    Effect.gen(function*() {
      const { port } = yield* sshd()
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-kh-"))
      const file = path.join(dir, "known_hosts")
      const other = execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")])
      void other
      const pub = fs.readFileSync(path.join(dir, "k.pub"), "utf8").split(" ").slice(0, 2).join(" ")
      fs.writeFileSync(file, `[127.0.0.1]:${port} ${pub}\n`)
      const e = yield* Effect.flip(SshClient.connect(options(port, { hostKeys: HostKeyPolicy.knownHosts({ files: [file] }) })))
      assert.strictEqual(e._tag, "TransportError")
      if (e._tag === "TransportError") {
        assert.strictEqual(e.reason, "HostKeyRejected")
        assert.include(e.message, `${file}:1`)
      }
    }).pipe(Effect.provide(NodeSsh.layer)))

  it.scopedLive("a refused connection is TransportError ConnectFailed", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const srv = net.createServer().listen(0, "127.0.0.1", () => {
            const p = (srv.address() as net.AddressInfo).port
            srv.close(() => resolve(p))
          })
        })
      )
      const e = yield* Effect.flip(SshClient.connect(options(port)))
      assert.strictEqual(e._tag, "TransportError")
      if (e._tag === "TransportError") {
        assert.strictEqual(e.reason, "ConnectFailed")
        assert.include(e.description, "ECONNREFUSED")
      }
    }).pipe(Effect.provide(NodeSsh.layer)))

  it.scopedLive("a server that never speaks: TransportError Timeout", () =>
    Effect.gen(function*() {
      const srv = net.createServer(() => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => srv.close()))
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => srv.listen(0, "127.0.0.1", () => resolve((srv.address() as net.AddressInfo).port)))
      )
      const e = yield* Effect.flip(SshClient.connect(options(port, { timeouts: { handshake: "500 millis" } })))
      assert.strictEqual(e._tag, "TransportError")
      if (e._tag === "TransportError") assert.strictEqual(e.reason, "Timeout")
    }).pipe(Effect.provide(NodeSsh.layer)))

  it.scopedLive("a key the server does not accept: AuthError with what was tried and what is allowed", () =>
    Effect.gen(function*() {
      const { port } = yield* sshd()
      const stranger = NodeCrypto.generateKey({ type: "ed25519" })
      const e = yield* Effect.flip(SshClient.connect(options(port, { auth: [Auth.privateKey(stranger)] })))
      assert.strictEqual(e._tag, "AuthError")
      if (e._tag === "AuthError") {
        assert.strictEqual(e.reason, "NoMoreMethods")
        assert.include(e.allowed, "publickey")
        assert.isAbove(e.tried.length, 0)
      }
    }).pipe(Effect.provide(NodeSsh.layer)))
})
