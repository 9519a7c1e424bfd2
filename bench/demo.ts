/**
 * `npm start`: effect-ssh end to end on 127.0.0.1, needing no outside host (DESIGN.md §2). An in-process
 * SshServer listens with a freshly generated ed25519 host key and a small command service; our client connects
 * with that key's fingerprint pinned, logs in with a generated user key, runs commands, streams output, sends
 * stdin through `cat`, moves files over SFTP (an in-memory filesystem on the server), opens a tunnel to a service
 * the server runs in-process (direct-tcpip, no socket), jumps through that server to a second in-process server
 * (ProxyJump: the inner connection runs over a direct-tcpip channel of the outer one), rekeys, and prints what it
 * did and how long each step took.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Console, Duration, Effect, Stream } from "effect"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import * as HostKey from "../src/crypto/HostKey.js"
import { NodeCrypto } from "../src/node/NodeCrypto.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as NodeSshServer from "../src/node/NodeSshServer.js"
import type * as SshServer from "../src/server/SshServer.js"
import * as Sftp from "../src/sftp/Sftp.js"
import * as SftpMemoryFileSystem from "../src/sftp/SftpMemoryFileSystem.js"
import * as SftpServer from "../src/sftp/SftpServer.js"

const ms = (d: Duration.Duration): string => `${Duration.toMillis(d).toFixed(1).padStart(7)} ms`
const timed = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>, detail: (a: A) => string = () => "") =>
  Effect.timed(effect).pipe(
    Effect.tap(([d, a]) => Console.log(`  ${label.padEnd(40)}${ms(d)}   ${detail(a)}`)),
    Effect.map(([, a]) => a)
  )

const encoder = new TextEncoder()
const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const userBlob = HostKey.encodePublicKey(HostKey.publicKeyOf(userKey))
const sameBlob = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * The demo's command service: a few built-in commands, nothing from the host's shell. Tunnels reach the virtual
 * service, and `jumpTo` (the second server, for ProxyJump) on 127.0.0.1.
 */
const handlers = (jumpTo: number): SshServer.ServerHandlers => ({
  auth: { publicKey: ({ key }) => Effect.succeed(sameBlob(key.blob, userBlob)) },
  exec: ({ command, stdin, stdout, stderr, username }) => {
    const say = (sink: typeof stdout, text: string) => Stream.run(Stream.make(encoder.encode(text)), sink)
    switch (command.split(" ")[0]) {
      case "whoami":
        return Effect.as(say(stdout, `${username}\n`), 0)
      case "count":
        return Effect.as(
          Stream.range(1, Number(command.split(" ")[1] ?? 5)).pipe(
            Stream.map((i) => encoder.encode(`line ${i}\n`)),
            Stream.run(stdout)
          ),
          0
        )
      case "cat":
        return Effect.as(Stream.run(stdin, stdout), 0)
      default:
        return Effect.as(say(stderr, `${command}: command not found\n`), 127)
    }
  },
  // SFTP on a filesystem that lives in memory: nothing on this machine's disk is reachable.
  subsystems: { sftp: SftpServer.handler(SftpMemoryFileSystem.make()) },
  // Tunnels (ssh -L, openTcp) to one virtual service the server runs itself: it answers in upper case.
  forwarding: {
    allowTcpForwarding: "local",
    permitOpen: ["upper.internal:7", `127.0.0.1:${jumpTo}`],
    directTcpip: (request) =>
      Effect.succeed(
        request.host === "upper.internal"
          ? {
            _tag: "Serve" as const,
            serve: (tunnel) =>
              tunnel.stream.pipe(
                Stream.decodeText(),
                Stream.map((text) => encoder.encode(text.toUpperCase())),
                Stream.run(tunnel.sink)
              )
          }
          : { _tag: "Connect" as const }
      )
  }
})

/** The second server, reached only through the first (a bastion): it answers `whoami` with its own name. */
const inner: SshServer.ServerHandlers = {
  auth: { publicKey: ({ key }) => Effect.succeed(sameBlob(key.blob, userBlob)) },
  exec: ({ stdout, username }) => Effect.as(Stream.run(Stream.make(encoder.encode(`${username} on the inner server\n`)), stdout), 0)
}

const program = Effect.gen(function*() {
  yield* Console.log("effect-ssh demo: an SSH server and client in one process, on 127.0.0.1\n")
  const hostKey = NodeCrypto.generateKey({ type: "ed25519" })
  const fingerprint = HostKey.fingerprintSha256(HostKey.encodePublicKey(HostKey.publicKeyOf(hostKey)))
  const innerKey = NodeCrypto.generateKey({ type: "ed25519" })
  const innerFingerprint = HostKey.fingerprintSha256(HostKey.encodePublicKey(HostKey.publicKeyOf(innerKey)))
  const innerAddress = yield* NodeSshServer.serve({ hostKeys: [innerKey] }, inner)
  if (innerAddress._tag !== "TcpAddress") return
  const address = yield* timed("server: listen", NodeSshServer.serve({ hostKeys: [hostKey] }, handlers(innerAddress.port)), (a) =>
    a._tag === "TcpAddress" ? `127.0.0.1:${a.port}, host key ${fingerprint}` : "")
  if (address._tag !== "TcpAddress") return
  const ssh = yield* timed(
    "client: connect, kex, publickey login",
    SshClient.connect({
      host: "127.0.0.1",
      port: address.port,
      username: "demo",
      auth: [Auth.privateKey(userKey)],
      hostKeys: HostKeyPolicy.pinned([fingerprint])
    }),
    () => `host key pinned`
  )
  const n = yield* ssh.transport.negotiated
  yield* Console.log(`    negotiated ${n.kex}, ${n.hostKey}, ${n.cipherC2S}${n.macC2S ? ` + ${n.macC2S}` : ""}`)
  yield* timed("exec whoami", ssh.string("whoami"), (s) => JSON.stringify(s))
  yield* timed(
    "exec count 5 (streamed line by line)",
    Effect.scoped(Effect.gen(function*() {
      const p = yield* ssh.exec("count 5")
      return yield* p.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect)
    })),
    (lines) => Chunk.toReadonlyArray(lines).join(" | ")
  )
  yield* timed("exec nope (a typed failure)", Effect.either(ssh.string("nope")), (r) =>
    r._tag === "Left" ? `${r.left._tag}: ${r.left.message.trim()}` : "unexpected success")
  const size = 64 * 1024 * 1024
  yield* timed(
    "stdin → cat → stdout, 64 MiB",
    Effect.scoped(Effect.gen(function*() {
      const p = yield* ssh.exec("cat")
      const block = new Uint8Array(1024 * 1024).fill(0x61)
      const [, bytes] = yield* Effect.all([
        Stream.run(Stream.range(1, size / block.length).pipe(Stream.as(block)), p.stdin),
        p.stdout.pipe(Stream.runFold(0, (total, c) => total + c.length))
      ], { concurrency: 2 })
      return bytes
    })),
    (bytes) => `${bytes} bytes back`
  )
  const sftp = yield* Sftp.make(ssh)
  const file = new Uint8Array(16 * 1024 * 1024).fill(0x62)
  yield* timed("sftp: write 16 MiB", sftp.writeFile("/demo.bin", file), () => "/demo.bin on the server's memory fs")
  yield* timed("sftp: read it back", sftp.readFile("/demo.bin"), (b) =>
    `${b.length} bytes, ${b.every((x) => x === 0x62) ? "identical" : "DIFFERENT"}`)
  yield* timed("sftp: list /", sftp.listdir("/"), (names) => names.join(", "))
  yield* timed(
    "openTcp upper.internal:7 (in-process)",
    Effect.scoped(Effect.gen(function*() {
      const tunnel = yield* ssh.openTcp("upper.internal", 7)
      yield* Stream.run(Stream.make(encoder.encode("hello through the tunnel")), tunnel.sink)
      return yield* tunnel.stream.pipe(Stream.decodeText(), Stream.mkString)
    })),
    (text) => JSON.stringify(text)
  )
  yield* timed(
    "jump: via this server to a second one",
    Effect.scoped(Effect.gen(function*() {
      const hop = { host: "127.0.0.1", port: address.port, username: "demo", auth: [Auth.privateKey(userKey)], hostKeys: HostKeyPolicy.pinned([fingerprint]) }
      const far = yield* SshClient.connect({
        host: "127.0.0.1",
        port: innerAddress.port,
        username: "demo",
        auth: [Auth.privateKey(userKey)],
        hostKeys: HostKeyPolicy.pinned([innerFingerprint]),
        via: [hop]
      })
      return yield* far.string("whoami")
    })),
    (s) => `${JSON.stringify(s.trim())} (ProxyJump, both host keys pinned)`
  )
  yield* timed("rekey", ssh.transport.rekey, () => "new keys in both directions")
  const stats = yield* ssh.transport.stats
  yield* Console.log(
    `\n  client transport: ${stats.packetsOut} packets / ${stats.bytesOut} bytes out, ` +
      `${stats.packetsIn} packets / ${stats.bytesIn} bytes in, ${stats.kexCount} key exchanges`
  )
}).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))

NodeRuntime.runMain(program)
