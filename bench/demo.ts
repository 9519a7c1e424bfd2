/**
 * `npm start`: the transport layer end to end on 127.0.0.1, needing no outside host. Our server role listens
 * with a freshly generated ed25519 host key; our client connects with that key's fingerprint pinned, runs the
 * version exchange and key exchange, rekeys, and asks for the ssh-userauth service, which the server side
 * accepts. Every step is timed. Authentication, sessions and SFTP are later releases, so the demo stops at the
 * service request (DESIGN.md §2 describes the full demo).
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ClientTransport from "../src/client/ClientTransport.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as HostKey from "../src/crypto/HostKey.js"
import * as NodeCrypto from "../src/node/NodeCrypto.js"
import * as NodeTransport from "../src/node/NodeTransport.js"
import { DisconnectReason } from "../src/SshError.js"
import type { Negotiated } from "../src/transport/KexMachine.js"
import type * as Transport from "../src/transport/Transport.js"
import * as TransportMessages from "../src/wire/TransportMessages.js"

const ms = (d: Duration.Duration): string => `${Duration.toMillis(d).toFixed(1).padStart(7)} ms`

const step = (label: string, d: Duration.Duration, detail = "") =>
  Console.log(`  ${label.padEnd(38)}${ms(d)}${detail ? `   ${detail}` : ""}`)

const showNegotiated = (n: Negotiated) =>
  Console.log(
    [
      `    kex          ${n.kex}`,
      `    host key     ${n.hostKey}`,
      `    cipher       ${n.cipherC2S === n.cipherS2C ? n.cipherC2S : `${n.cipherC2S} / ${n.cipherS2C}`}`,
      `    mac          ${n.macC2S ?? "(implicit: AEAD)"}${n.macS2C !== n.macC2S ? ` / ${n.macS2C ?? "(implicit)"}` : ""}`,
      `    compression  ${n.compressionC2S}`
    ].join("\n")
  )

const showStats = (who: string, s: Transport.TransportStats) =>
  Console.log(
    `  ${who.padEnd(7)} sent ${String(s.packetsOut).padStart(3)} packets / ${String(s.bytesOut).padStart(5)} bytes,` +
      ` received ${String(s.packetsIn).padStart(3)} packets / ${String(s.bytesIn).padStart(5)} bytes,` +
      ` ${s.kexCount} key exchanges`
  )

/**
 * The server side's stand-in for the layers above the transport: it accepts the ssh-userauth service and
 * refuses any other (RFC 4253 §10), until the client goes away.
 */
const serviceDesk = (t: Transport.Transport) =>
  Effect.forever(Effect.gen(function*() {
    const message = TransportMessages.decode(yield* t.receive)
    if (Either.isRight(message) && message.right._tag === "ServiceRequest") {
      if (message.right.name === "ssh-userauth") {
        yield* t.send(TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" }))
      } else {
        yield* t.disconnect(DisconnectReason.ServiceNotAvailable, `no service ${message.right.name}`)
      }
    }
  }))

const hex = (bytes: Uint8Array): string =>
  Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("") + "…"

const portOf = (address: SocketServer.Address): number => address._tag === "TcpAddress" ? address.port : 0

const program = Effect.gen(function*() {
  yield* Console.log("effect-ssh demo: our SSH server and client talking over TCP on 127.0.0.1\n")

  const [keygen, hostKey] = yield* Effect.timed(Effect.sync(() => NodeCrypto.NodeCrypto.generateKey({ type: "ed25519" })))
  const fingerprint = HostKey.fingerprintSha256(HostKey.encodePublicKey(HostKey.publicKeyOf(hostKey)))
  yield* step("generate ed25519 host key", keygen, fingerprint)

  const serverSide = yield* Deferred.make<Transport.Transport>()
  const [listen, address] = yield* Effect.timed(
    NodeTransport.serve({ host: "127.0.0.1", port: 0, hostKeys: [hostKey] }, (t) =>
      Deferred.succeed(serverSide, t).pipe(Effect.zipRight(serviceDesk(t))))
  )
  const port = portOf(address)
  yield* step("listen", listen, `127.0.0.1:${port}`)

  const [dial, socket] = yield* Effect.timed(NodeTransport.dial({ host: "127.0.0.1", port }))
  yield* step("TCP connect (TCP_NODELAY)", dial)
  const [handshake, client] = yield* Effect.timed(
    ClientTransport.make(socket, { host: "127.0.0.1", port, hostKeys: HostKeyPolicy.pinned([fingerprint]) })
  )
  yield* step("version exchange + key exchange", handshake, `host key pinned: ${fingerprint}`)
  yield* Console.log(`    server says  ${client.peerVersion}`)
  yield* showNegotiated(yield* client.negotiated)

  const [rekey] = yield* Effect.timed(client.rekey)
  const after = yield* client.negotiated
  yield* step("rekey (client-initiated, RFC 4253 §9)", rekey, `key exchanges so far: ${(yield* client.stats).kexCount}`)
  yield* Console.log(`    fresh keys by ${after.kex}, ${after.cipherC2S}; session id unchanged: ${hex(client.sessionId)}`)

  const [service, accepted] = yield* Effect.timed(
    client.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" })).pipe(
      Effect.zipRight(client.receive),
      Effect.map(TransportMessages.decode)
    )
  )
  const answer = Either.isRight(accepted) && accepted.right._tag === "ServiceAccept"
    ? `SERVICE_ACCEPT ${accepted.right.name}`
    : "unexpected reply"
  yield* step("SERVICE_REQUEST ssh-userauth", service, answer)

  yield* Console.log("\nTraffic:")
  yield* showStats("client", yield* client.stats)
  yield* showStats("server", yield* Effect.flatMap(Deferred.await(serverSide), (t) => t.stats))

  yield* client.disconnect(DisconnectReason.ByApplication, "demo finished")
  yield* Console.log(
    "\nThis release is the SSH transport layer (RFC 4253). Authentication, sessions (exec, shell), port forwarding" +
      "\nand SFTP come in later releases; the full demo of DESIGN.md §2 will run them here."
  )
}).pipe(Effect.scoped, Effect.provide(NodeCrypto.layer))

NodeRuntime.runMain(program)
