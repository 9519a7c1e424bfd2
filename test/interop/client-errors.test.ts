/**
 * Errors a newcomer meets in the first hour (issue 11), as `SshClient.connect` raises them: they name host and
 * port; a host key verdict is a typed field (`hostKeyVerdict`), not something to dig out of `cause`; a server that
 * accepts TCP and says nothing fails with "no SSH version string … within N" (reason Timeout, LIM-03); messages
 * read as sentences with real line breaks in our own multi-line text, while peer text stays escaped (SEC-12).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import { AuthError, TransportError } from "../../src/SshError.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { tempDir } from "../helpers/TempDir.js"
import { authorizedKeyLine } from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const stranger = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username

const failure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail" ? Effect.succeed(exit.cause.error) : Effect.die(`expected a failure, got ${String(exit)}`))

/** A TCP server on 127.0.0.1 that accepts and never says anything. */
const silentServer = Effect.acquireRelease(
  Effect.async<{ server: net.Server; port: number }>((resume) => {
    const sockets: Array<net.Socket> = []
    const server = net.createServer((s) => sockets.push(s))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, port: (server.address() as net.AddressInfo).port })))
    server.on("close", () => sockets.forEach((s) => s.destroy()))
  }),
  ({ server }) => Effect.sync(() => server.close())
)

describe("TransportError and AuthError messages", () => {
  it("read as sentences and name the server", () => {
    const refused = new TransportError({
      reason: "ConnectFailed",
      origin: "Local",
      code: 10,
      description: "connect ECONNREFUSED 127.0.0.1:1",
      host: "127.0.0.1",
      port: 1
    })
    assert.strictEqual(refused.message, "127.0.0.1:1: could not connect: connect ECONNREFUSED 127.0.0.1:1")
    const byPeer = new TransportError({ reason: "Disconnected", origin: "Remote", code: 11, description: "bye\nnow", host: "::1", port: 22 })
    // SEC-12: the peer's text stays escaped, line breaks included
    assert.strictEqual(byPeer.message, "[::1]:22: the peer disconnected (ByApplication): bye\\nnow")
    const ours = new TransportError({ reason: "HostKeyRejected", origin: "Local", code: 9, description: "line one\nline two" })
    assert.strictEqual(ours.message, "the host key was rejected (we sent DISCONNECT HostKeyNotVerifiable): line one\nline two")
    const auth = new AuthError({
      reason: "NoMoreMethods",
      username: "deploy",
      tried: ["none rejected", "password rejected"],
      allowed: ["publickey"],
      partialSuccess: false,
      host: "example.com",
      port: 2222
    })
    assert.strictEqual(
      auth.message,
      "authentication as deploy on example.com:2222 failed: the server refused every method tried\n" +
        "  tried: none (rejected); password (rejected)\n  the server allows: publickey"
    )
  })
})

describe.skipIf(!has)("SshClient.connect errors", () => {
  it.scopedLive("a server that accepts TCP and stays silent: Timeout, no SSH version string, host and port named (LIM-03)", () =>
    Effect.gen(function*() {
      const { port } = yield* silentServer
      const e = yield* failure(SshClient.connect({
        host: "127.0.0.1",
        port,
        username: user,
        auth: [Auth.privateKey(userKey)],
        hostKeys: HostKeyPolicy.insecureAcceptAny,
        timeouts: { handshake: "2 seconds" }
      }).pipe(Effect.provide(NodeSsh.layer)))
      assert.instanceOf(e, TransportError)
      const t = e as TransportError
      assert.strictEqual(t.reason, "Timeout")
      // A typed field names the limit; the client's wording does not depend on the transport's text.
      assert.strictEqual(t.timeout, "VersionExchange")
      assert.deepStrictEqual([t.host, t.port], ["127.0.0.1", port])
      assert.strictEqual(t.message, `127.0.0.1:${port}: timed out: no SSH version string from the server within 2s (LIM-03)`)
    }))

  it.scopedLive("an unknown host key: hostKeyVerdict \"Unknown\" on the TransportError, a multi-line message", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("effect-ssh-errors-")
      const knownHosts = path.join(dir, "known_hosts")
      fs.writeFileSync(knownHosts, "")
      const socket = yield* OpenSsh.sshdInetd({ authorizedKeys: [authorizedKeyLine(userKey)], logLevel: "ERROR" })
      const e = yield* failure(SshClient.connectOver(socket, {
        host: "server.test",
        port: 2200,
        username: user,
        auth: [Auth.privateKey(userKey)],
        hostKeys: HostKeyPolicy.knownHosts({ files: [knownHosts] })
      }).pipe(Effect.provide(NodeSsh.layer)))
      assert.instanceOf(e, TransportError)
      const t = e as TransportError
      assert.deepStrictEqual([t.reason, t.hostKeyVerdict, t.host, t.port], ["HostKeyRejected", "Unknown", "server.test", 2200])
      // The policy's HostKeyRejected survives as the cause when host and port are added.
      const cause = Cause.isCause(t.cause) ? Cause.squash(t.cause) : t.cause
      assert.instanceOf(cause, HostKeyPolicy.HostKeyRejected)
      assert.isTrue(t.message.startsWith("server.test:2200: the host key was rejected"))
      assert.notInclude(t.message, "\\n")
    }))

  it.scopedLive("a refused login: AuthError with host and port", () =>
    Effect.gen(function*() {
      const socket = yield* OpenSsh.sshdInetd({ authorizedKeys: [authorizedKeyLine(userKey)], logLevel: "ERROR" })
      const e = yield* failure(SshClient.connectOver(socket, {
        host: "server.test",
        username: user,
        auth: [Auth.privateKey(stranger)],
        hostKeys: HostKeyPolicy.insecureAcceptAny
      }).pipe(Effect.provide(NodeSsh.layer)))
      assert.instanceOf(e, AuthError)
      const a = e as AuthError
      assert.deepStrictEqual([a.host, a.port], ["server.test", 22])
      assert.match(a.message, /^authentication as \S+ on server\.test:22 failed: the server refused every method tried\n  tried: /)
    }))
})

