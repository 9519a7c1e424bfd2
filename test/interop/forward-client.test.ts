/**
 * Our client's tunnels and forwards against OpenSSH's sshd (AllowTcpForwarding yes): direct-tcpip and
 * direct-streamlocal tunnels as Streams and Sockets, -L (TCP and UNIX sockets either side), -R (port 0 and UNIX
 * sockets, cancelled with the Scope), -D (SOCKS 4, 4a, 5 with host names; curl), handleForwarded — data checked by
 * SHA-256 of a few MiB each way, and every forward closing with its Scope (listeners gone, echo-server sockets
 * and channels counted back to zero).
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Scope, Stream } from "effect"
import { execFile } from "node:child_process"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as Fwd from "../helpers/ForwardNet.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as RawAuth from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username
const MiB = 1 << 20

const connect = (extra: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const { port } = yield* OpenSsh.sshdTcp({
      authorizedKeys: [RawAuth.authorizedKeyLine(userKey)],
      logLevel: "INFO",
      extra: ["AllowTcpForwarding yes", "AllowStreamLocalForwarding yes", ...extra]
    })
    return yield* SshClient.connect({
      host: "127.0.0.1",
      port,
      username: user,
      auth: [Auth.privateKey(userKey)],
      hostKeys: HostKeyPolicy.insecureAcceptAny
    })
  })

const bytes = (n: number) => {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 255
  return b
}
const concat = (c: Chunk.Chunk<Uint8Array>) => Buffer.concat(Chunk.toReadonlyArray(c))

/** Waits (bounded) until `f` holds: sockets close asynchronously after a Scope closes. */
const eventually = (f: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100 && !f(); i++) yield* Effect.sleep("20 millis")
    return f()
  })

describe.skipIf(!has)("client forwarding against OpenSSH sshd", () => {
  it.scopedLive("openTcp: a direct-tcpip tunnel as Stream/Sink and as a Socket; a refused one is a typed error", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const ssh = yield* connect()
      const data = bytes(3 * MiB)
      const got = yield* Effect.gen(function*() {
        const t = yield* ssh.openTcp("127.0.0.1", echo.port)
        const [, out] = yield* Effect.all([Stream.run(Stream.make(data), t.sink), Stream.runCollect(t.stream)], {
          concurrency: 2
        })
        return concat(out)
      }).pipe(Effect.scoped)
      assert.strictEqual(Fwd.sha256(got), Fwd.sha256(data))
      // The same through the @effect/platform Socket view.
      const viaSocket = yield* Effect.gen(function*() {
        const t = yield* ssh.openTcp("127.0.0.1", echo.port)
        const received: Array<Uint8Array> = []
        const write = yield* t.socket.writer
        yield* Effect.fork(Effect.zipRight(write(new TextEncoder().encode("hello socket")), Effect.scoped(Effect.void)))
        yield* t.socket.run((chunk) => {
          received.push(chunk)
          if (Buffer.concat(received).length >= 12) return Effect.interrupt
        }).pipe(Effect.catchAllCause(() => Effect.void))
        return Buffer.concat(received).toString()
      }).pipe(Effect.scoped)
      assert.strictEqual(viaSocket, "hello socket")
      // A closed port: the server refuses the channel; the connection carries on.
      const closed = yield* Effect.scoped(Effect.gen(function*() {
        const dead = yield* Fwd.echoServer()
        return dead.port
      }))
      const e = yield* Effect.flip(Effect.scoped(ssh.openTcp("127.0.0.1", closed)))
      assert.strictEqual(e._tag, "ForwardError")
      assert.strictEqual(e.reason, "ConnectFailed")
      assert.strictEqual(yield* ssh.string("echo still-up"), "still-up\n")
      assert.isTrue(yield* eventually(() => echo.open() === 0))
      assert.strictEqual(yield* ssh.mux.channelCount, 0)
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("forwardLocal (-L): TCP → TCP, concurrent connections, all closed with the Scope", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const ssh = yield* connect()
      const scope = yield* Scope.make()
      const fwd = yield* ssh.forwardLocal({ listen: 0, to: { _tag: "Tcp", host: "127.0.0.1", port: echo.port } }).pipe(
        Scope.extend(scope)
      )
      assert.strictEqual(fwd.address._tag, "Tcp")
      const port = Fwd.portOf(fwd.address)
      // SEC-49: bound to loopback when only a port is given.
      assert.strictEqual(fwd.address._tag === "Tcp" ? fwd.address.host : "", "127.0.0.1")
      const results = yield* Effect.all([1, 2, 3].map((i) => Fwd.echoThrough({ port }, i * MiB)), { concurrency: 3 })
      for (const [i, r] of results.entries()) {
        assert.strictEqual(r.bytes, (i + 1) * MiB)
        assert.strictEqual(r.received, r.sent)
      }
      assert.strictEqual(echo.accepted(), 3)
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(yield* Fwd.accepts(port), "the listener is closed")
      assert.isTrue(yield* eventually(() => echo.open() === 0), "every tunnelled socket is closed")
      assert.strictEqual(yield* ssh.mux.channelCount, 0)
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("closing the Scope closes a tunnel that is still open (listener and socket counted)", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const ssh = yield* connect()
      const scope = yield* Scope.make()
      const fwd = yield* ssh.forwardLocal({ listen: 0, to: { _tag: "Tcp", host: "127.0.0.1", port: echo.port } }).pipe(
        Scope.extend(scope)
      )
      const port = Fwd.portOf(fwd.address)
      // A client that never finishes: it connects and waits.
      const net = yield* Effect.promise(() => import("node:net"))
      const client = net.createConnection({ host: "127.0.0.1", port })
      client.on("error", () => {})
      const closedByForward = new Promise<void>((resolve) => client.once("close", () => resolve()))
      assert.isTrue(yield* eventually(() => echo.open() === 1))
      assert.strictEqual(yield* ssh.mux.channelCount, 1)
      yield* Scope.close(scope, Exit.void)
      yield* Effect.promise(() => closedByForward)
      assert.isTrue(yield* eventually(() => echo.open() === 0))
      assert.strictEqual(yield* ssh.mux.channelCount, 0)
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("forwardLocal: a UNIX-socket listener to TCP, and a TCP listener to a UNIX socket on the server", () =>
    Effect.gen(function*() {
      const dir = Fwd.socketDir()
      const echoTcp = yield* Fwd.echoServer()
      yield* Fwd.echoServer(path.join(dir, "echo.sock"))
      const ssh = yield* connect()
      const a = yield* ssh.forwardLocal({
        listen: { _tag: "Unix", path: path.join(dir, "local.sock") },
        to: { _tag: "Tcp", host: "127.0.0.1", port: echoTcp.port }
      })
      const r1 = yield* Fwd.echoThrough({ path: path.join(dir, "local.sock") }, 2 * MiB)
      assert.strictEqual(r1.received, r1.sent)
      const b = yield* ssh.forwardLocal({ listen: 0, to: { _tag: "Unix", path: path.join(dir, "echo.sock") } })
      const r2 = yield* Fwd.echoThrough({ port: Fwd.portOf(b.address) }, 2 * MiB)
      assert.strictEqual(r2.received, r2.sent)
      assert.strictEqual(a.address._tag, "Unix")
      // A UNIX destination that does not exist: that tunnel fails, typed, and is reported.
      const errors: Array<string> = []
      const c = yield* ssh.forwardLocal({
        listen: 0,
        to: { _tag: "Unix", path: path.join(dir, "missing.sock") },
        onError: (e) => Effect.sync(() => errors.push(`${e._tag}:${e.reason}`))
      })
      // The local client sees its connection closed (EOF or reset, depending on timing), nothing echoed.
      const r3 = yield* Effect.either(Fwd.echoThrough({ port: Fwd.portOf(c.address) }, 10))
      if (r3._tag === "Right") assert.strictEqual(r3.right.bytes, 0)
      assert.isTrue(yield* eventually(() => errors.length === 1))
      assert.deepStrictEqual(errors, ["ForwardError:ConnectFailed"])
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("a UNIX-socket tunnel whose half-closed reader starts late gets every byte (EOF waits for the flush)", () =>
    Effect.gen(function*() {
      const dir = Fwd.socketDir()
      // Less than the kernel's socket buffer plus the write-ahead: all of it is handed over while nobody reads.
      const data = bytes(384 * 1024)
      // A source on the server's side that writes it and closes at once.
      const source = net.createServer((s) => s.end(data))
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void source.listen(path.join(dir, "source.sock"), () => resume(Effect.void))),
        () => Effect.sync(() => source.close())
      )
      const ssh = yield* connect()
      yield* ssh.forwardLocal({ listen: { _tag: "Unix", path: path.join(dir, "in.sock") }, to: { _tag: "Unix", path: path.join(dir, "source.sock") } })
      for (let round = 0; round < 3; round++) {
        const got = yield* Effect.promise(() =>
          new Promise<Buffer>((resolve, reject) => {
            const chunks: Array<Buffer> = []
            const c = net.createConnection({ path: path.join(dir, "in.sock"), allowHalfOpen: true })
            // This side is done at once (EOF through the tunnel), so the tunnel ends as soon as the far end's bytes
            // are handed over: they must not be dropped with Node's queue when the tunnel's socket is destroyed.
            c.end()
            c.pause()
            // The far end has sent everything and closed before this reader takes anything.
            setTimeout(() => c.resume(), 400)
            c.on("data", (d: Buffer) => chunks.push(d))
            c.on("end", () => resolve(Buffer.concat(chunks)))
            c.on("error", reject)
          })
        )
        assert.strictEqual(got.length, data.length, `round ${round}`)
        assert.strictEqual(Fwd.sha256(got), Fwd.sha256(data))
      }
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("forwardRemote (-R): port 0 allocated by sshd, data both ways, cancelled with the Scope", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const ssh = yield* connect()
      const scope = yield* Scope.make()
      const fwd = yield* ssh.forwardRemote({ listen: 0, to: { _tag: "Tcp", host: "127.0.0.1", port: echo.port } }).pipe(
        Scope.extend(scope)
      )
      assert.strictEqual(fwd.address._tag, "Tcp")
      const port = Fwd.portOf(fwd.address)
      assert.isAbove(port, 0)
      const results = yield* Effect.all([Fwd.echoThrough({ port }, 3 * MiB), Fwd.echoThrough({ port }, MiB)], {
        concurrency: 2
      })
      for (const r of results) assert.strictEqual(r.received, r.sent)
      yield* Scope.close(scope, Exit.void)
      // cancel-tcpip-forward: sshd no longer listens.
      assert.isFalse(yield* Fwd.accepts(port))
      assert.isTrue(yield* eventually(() => echo.open() === 0))
      // A fixed port that is in use is refused, typed; the connection lives on.
      const e = yield* Effect.flip(
        Effect.scoped(ssh.forwardRemote({ listen: { host: "127.0.0.1", port: echo.port }, to: { _tag: "Tcp", host: "127.0.0.1", port: echo.port } }))
      )
      assert.strictEqual(e.reason, "Refused")
      assert.strictEqual(yield* ssh.string("echo ok"), "ok\n")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("forwardRemote to and from UNIX sockets (streamlocal-forward@openssh.com)", () =>
    Effect.gen(function*() {
      const dir = Fwd.socketDir()
      const echo = yield* Fwd.echoServer(path.join(dir, "echo.sock"))
      const ssh = yield* connect()
      const remotePath = path.join(dir, "remote.sock")
      const scope = yield* Scope.make()
      yield* ssh.forwardRemote({ listen: { path: remotePath }, to: { _tag: "Unix", path: path.join(dir, "echo.sock") } })
        .pipe(Scope.extend(scope))
      const r = yield* Fwd.echoThrough({ path: remotePath }, 2 * MiB)
      assert.strictEqual(r.received, r.sent)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(yield* eventually(() => echo.open() === 0))
      // cancel-streamlocal-forward: nothing listens there any more (sshd leaves the file, as it always does).
      const after = yield* Effect.either(Fwd.echoThrough({ path: remotePath }, 10))
      assert.isTrue(after._tag === "Left", "the remote UNIX listener is closed")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("handleForwarded: connections to a remote port served by an Effect handler", () =>
    Effect.gen(function*() {
      const ssh = yield* connect()
      const fwd = yield* ssh.handleForwarded(0, ({ tunnel, originator }) =>
        Stream.make(new TextEncoder().encode(`hello ${originator?.host}\n`)).pipe(Stream.run(tunnel.sink)))
      const port = Fwd.portOf(fwd.address)
      const out = yield* ssh.string(`exec 3<>/dev/tcp/127.0.0.1/${port}; cat <&3`)
      assert.strictEqual(out, "hello 127.0.0.1\n")
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("forwardDynamic (-D): SOCKS 5 with a host name, SOCKS 4 and 4a; curl through socks5h and socks4a", () =>
    Effect.gen(function*() {
      const echo = yield* Fwd.echoServer()
      const ssh = yield* connect()
      const fwd = yield* ssh.forwardDynamic({ listen: 0 })
      const port = Fwd.portOf(fwd.address)
      for (const handshake of [Fwd.socks5("localhost", echo.port), Fwd.socks4("127.0.0.1", echo.port), Fwd.socks4("localhost", echo.port)]) {
        const r = yield* Fwd.echoThrough({ port }, 2 * MiB, handshake)
        assert.strictEqual(r.received, r.sent)
      }
      // A destination that refuses: SOCKS 5 reply 5 (connection refused), the -D listener carries on.
      const dead = yield* Effect.scoped(Effect.map(Fwd.echoServer(), (e) => e.port))
      const refused = yield* Effect.flip(Fwd.echoThrough({ port }, 10, Fwd.socks5("127.0.0.1", dead)))
      assert.include(refused.message, "SOCKS 5 reply 5")
      // curl: an HTTP server on the far side, reached through socks5h (the server resolves) and socks4a.
      const http = yield* Effect.promise(() => import("node:http"))
      const server = http.createServer((_req, res) => res.end("through the tunnel"))
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const httpPort = (server.address() as { port: number }).port
      for (const proto of ["socks5h", "socks4a"]) {
        const body = yield* Effect.async<string, Error>((resume) => {
          execFile("curl", ["-sS", "--max-time", "20", "-x", `${proto}://127.0.0.1:${port}`, `http://localhost:${httpPort}/`], (err, stdout) =>
            resume(err ? Effect.fail(err) : Effect.succeed(stdout)))
        })
        assert.strictEqual(body, "through the tunnel")
      }
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})
