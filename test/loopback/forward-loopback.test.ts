/**
 * Our client's forwards against our server's forwarding, and the client's refusal of forwarded channels it did
 * not ask for (SEC-47): -L and -R with data checked by SHA-256, port 0 allocated and cancelled with the Scope,
 * a jump through our own server, and forwarded-tcpip for an unknown port refused with OPEN_FAILURE(1).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import * as RemoteForward from "../../src/forward/RemoteForward.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as ForwardingMessages from "../../src/wire/ForwardingMessages.js"
import * as Fwd from "../helpers/ForwardNet.js"
import * as Loopback from "../helpers/Loopback.js"
import * as Servers from "../helpers/Servers.js"

const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-fwdloop-"))
const keyFile = path.join(keyDir, "id_ed25519")
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const MiB = 1 << 20

const ours = Servers.serve({
  auth: { publicKey: () => Effect.succeed(true) },
  exec: () => Effect.succeed(0),
  forwarding: { allowTcpForwarding: "yes" }
})

describe("our client ↔ our server forwarding", () => {
  it.scopedLive("forwardLocal and forwardRemote (port 0) with checksums; the remote listener cancelled with its Scope", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const port = yield* ours
      const ssh = yield* Servers.connect(port, keyFile)
      const l = yield* ssh.forwardLocal({ listen: 0, to: { _tag: "Tcp", host: "127.0.0.1", port: echo.port } })
      const r1 = yield* Fwd.echoThrough({ port: Fwd.portOf(l.address) }, 3 * MiB)
      assert.strictEqual(r1.received, r1.sent)
      const scope = yield* Scope.make()
      const r = yield* ssh.forwardRemote({ listen: 0, to: { _tag: "Tcp", host: "127.0.0.1", port: echo.port } }).pipe(
        Scope.extend(scope)
      )
      const rport = Fwd.portOf(r.address)
      assert.isAbove(rport, 0)
      const r2 = yield* Fwd.echoThrough({ port: rport }, 3 * MiB)
      assert.strictEqual(r2.received, r2.sent)
      yield* Scope.close(scope, Exit.void)
      // cancel-tcpip-forward has been answered: the server's listener is closed.
      assert.isFalse(yield* Fwd.accepts(rport))
      // The same port can be forwarded again (the server released it).
      const again = yield* ssh.forwardRemote({ listen: rport, to: { _tag: "Tcp", host: "127.0.0.1", port: echo.port } })
      assert.deepStrictEqual(again.address, { _tag: "Tcp", host: "localhost", port: rport })
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("concurrent port-0 remote forwards get their own ports; maxListeners bounds them (SEC-48)", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const port = yield* Servers.serve({
        auth: { publicKey: () => Effect.succeed(true) },
        forwarding: { allowTcpForwarding: "remote", maxListeners: 2 }
      })
      const ssh = yield* Servers.connect(port, keyFile)
      const to = { _tag: "Tcp", host: "127.0.0.1", port: echo.port } as const
      const [a, b] = yield* Effect.all([ssh.forwardRemote({ listen: 0, to }), ssh.forwardRemote({ listen: 0, to })], {
        concurrency: 2
      })
      assert.notStrictEqual(Fwd.portOf(a.address), Fwd.portOf(b.address))
      for (const f of [a, b]) {
        const r = yield* Fwd.echoThrough({ port: Fwd.portOf(f.address) }, 256 * 1024)
        assert.strictEqual(r.received, r.sent)
      }
      const third = yield* Effect.flip(ssh.forwardRemote({ listen: 0, to }))
      assert.strictEqual(third.reason, "Refused")
      // -L is not allowed by "remote": the tunnel is refused, typed.
      const l = yield* Effect.flip(Effect.scoped(ssh.openTcp("127.0.0.1", echo.port)))
      assert.strictEqual(l.reason, "ConnectFailed")
      assert.include(l.description, "administratively prohibited")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("SEC-49: -D closes on a truncated greeting, an unknown command or too many bytes; errors are typed", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const port = yield* ours
      const ssh = yield* Servers.connect(port, keyFile)
      const errors: Array<string> = []
      const d = yield* ssh.forwardDynamic({ listen: 0, onError: (e) => Effect.sync(() => errors.push(e.reason)) })
      const dport = Fwd.portOf(d.address)
      /** Sends bytes (then EOF when `end`), returns what the listener answered before closing. */
      const exchange = (bytes: ReadonlyArray<number>, end: boolean) =>
        Effect.async<Buffer>((resume) => {
          const s = net.createConnection({ host: "127.0.0.1", port: dport })
          const got: Array<Buffer> = []
          s.on("data", (b: Buffer) => got.push(b))
          s.on("error", () => {})
          s.once("close", () => resume(Effect.succeed(Buffer.concat(got))))
          s.once("connect", () => (end ? s.end(Buffer.from(bytes)) : s.write(Buffer.from(bytes))))
        })
      // 255 methods announced, 3 sent, then EOF: closed without a reply.
      assert.strictEqual((yield* exchange([5, 255, 0, 1, 2], true)).length, 0)
      // BIND (2) is refused with a SOCKS 5 general failure after the method reply.
      assert.deepStrictEqual([...(yield* exchange([5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80], false))], [5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0])
      // A SOCKS 4 user id that never ends: closed once the bound is reached, without buffering more.
      assert.strictEqual((yield* exchange([4, 1, 0, 80, 127, 0, 0, 1, ...new Array(600).fill(0x61)], false)).length, 0)
      // The listener still works.
      const ok = yield* Fwd.echoThrough({ port: dport }, MiB, Fwd.socks5("127.0.0.1", echo.port))
      assert.strictEqual(ok.received, ok.sent)
      assert.deepStrictEqual(errors, ["Protocol", "Protocol", "Protocol"])
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("a jump through our own server (via) to our own server", () =>
    Effect.gen(function*() {
      const jump = yield* ours
      const target = yield* Servers.serve({
        auth: { publicKey: () => Effect.succeed(true) },
        exec: ({ command, stdout }) =>
          Effect.as(Stream.run(Stream.make(new TextEncoder().encode(`target ran ${command}`)), stdout), 0)
      })
      const hop = (port: number) => ({
        host: "127.0.0.1",
        port,
        username: "alice",
        auth: [Auth.privateKey(Servers.keyFromFile(keyFile))],
        hostKeys: HostKeyPolicy.insecureAcceptAny
      })
      const ssh = yield* SshClient.connect({ ...hop(target), via: [hop(jump)] })
      assert.strictEqual(yield* ssh.string("x"), "target ran x")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})

describe("SEC-47: the client refuses forwarded channels it did not ask for", () => {
  it.scopedLive("forwarded-tcpip for a port without a forward gets OPEN_FAILURE(1)", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Loopback.pair({ backend: NodeCrypto })
      const clientMux = yield* ConnectionMux.make(client, { username: "t", methods: ["none"] })
      const serverMux = yield* ConnectionMux.make(server, { username: "t", methods: ["none"] })
      yield* RemoteForward.make(clientMux)
      const e = yield* Effect.flip(Effect.scoped(serverMux.open(
        "forwarded-tcpip",
        ForwardingMessages.encodeTcpipChannel({ host: "localhost", port: 2222, originatorAddress: "1.2.3.4", originatorPort: 5 })
      )))
      assert.strictEqual(e._tag, "ChannelError")
      if (e._tag === "ChannelError") assert.strictEqual(e.openFailure, 1)
      const s = yield* Effect.flip(Effect.scoped(serverMux.open("forwarded-streamlocal@openssh.com", new Uint8Array([0, 0, 0, 1, 0x2f]))))
      if (s._tag === "ChannelError") assert.strictEqual(s.openFailure, 1)
      else assert.fail("expected a ChannelError")
    }))
})
