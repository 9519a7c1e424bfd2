/**
 * LIM-07: every packet we originate stays ≤ 35 000 bytes (RFC 4253 §6.1's floor every peer must accept), in both
 * roles, including channel data that a writer hands over in 1 MiB chunks. The connection runs under
 * aes128-gcm@openssh.com, whose packet_length travels in the clear (RFC 5647 §7.2), so a tap on each direction of
 * the in-memory socket reads every packet's length from the bytes actually written.
 */
import { NodeContext } from "@effect/platform-node"
import * as Socket from "@effect/platform/Socket"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as Transport from "../../src/transport/Transport.js"
import * as Loopback from "../helpers/Loopback.js"
import * as MemorySocket from "../helpers/MemorySocket.js"

const LIMIT = 35_000
const GCM_TAG = 16
const NEWKEYS = 21

/** The socket, with every chunk it writes copied into `written`. */
const tapped = (socket: Socket.Socket, written: Array<Uint8Array>): Socket.Socket => ({
  ...socket,
  writer: Effect.map(socket.writer, (write) => (chunk: Uint8Array | string | Socket.CloseEvent) => {
    if (chunk instanceof Uint8Array) written.push(chunk.slice())
    return write(chunk)
  })
})

/** packet_length of every packet in one direction: the identification line, plain packets, then AES-GCM ones. */
const packetLengths = (chunks: ReadonlyArray<Uint8Array>): ReadonlyArray<number> => {
  const buf = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let o = 0
  for (const c of chunks) buf.set(c, (o += c.length) - c.length)
  let i = buf.indexOf(0x0a) + 1
  let encrypted = false
  const out: Array<number> = []
  while (i + 4 <= buf.length) {
    const len = new DataView(buf.buffer, buf.byteOffset + i).getUint32(0)
    out.push(len)
    // Our NEWKEYS is the last plain packet; everything after it carries a 16-byte tag.
    const wasNewKeys = !encrypted && buf[i + 5] === NEWKEYS
    i += 4 + len + (encrypted ? GCM_TAG : 0)
    if (wasNewKeys) encrypted = true
  }
  assert.strictEqual(i, buf.length, "the tap ends on a packet boundary")
  return out
}

const userKey = Loopback.testHostKeys()[0]!

describe("LIM-07: outbound packets ≤ 35 000 bytes", () => {
  it.scopedLive("LIM-07: client and server stay under the limit while 4 MiB cross each way", () =>
    Effect.gen(function*() {
      const [a, b] = yield* MemorySocket.pair()
      const fromClient: Array<Uint8Array> = []
      const fromServer: Array<Uint8Array> = []
      const algorithms = { cipher: ["aes128-gcm@openssh.com"] }
      yield* Transport.make(tapped(b, fromServer), { role: "server", hostKeys: Loopback.testHostKeys(), algorithms }).pipe(
        Effect.flatMap((t) =>
          SshServer.handleConnection(t, {
            auth: { publicKey: () => Effect.succeed(true) },
            exec: ({ stdin, stdout }) => Effect.as(Stream.run(stdin, stdout), 0)
          })
        ),
        Effect.scoped,
        Effect.ignore,
        Effect.forkScoped
      )
      const ssh = yield* SshClient.connectOver(tapped(a, fromClient), {
        host: "memory",
        username: "alice",
        auth: [Auth.privateKey(userKey)],
        hostKeys: HostKeyPolicy.insecureAcceptAny,
        algorithms
      })
      const total = yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* ssh.exec("cat")
        const chunk = new Uint8Array(1 << 20).fill(0x61)
        const [, n] = yield* Effect.all([
          Stream.run(Stream.make(chunk, chunk, chunk, chunk), p.stdin),
          p.stdout.pipe(Stream.runFold(0, (n, c) => n + c.length))
        ], { concurrency: 2 })
        yield* p.exitStatus
        return n
      }))
      assert.strictEqual(total, 4 << 20)
      for (const [who, chunks] of [["client", fromClient], ["server", fromServer]] as const) {
        const lengths = packetLengths(chunks)
        const max = Math.max(...lengths)
        assert.isAtMost(max, LIMIT, `${who}: largest packet ${max}`)
        // The data went as full-size packets (near the 32 KiB channel maximum), so the bound was exercised.
        assert.isAbove(max, 32_768, `${who}: largest packet ${max}`)
        assert.isAbove(lengths.length, 128, who)
      }
    }).pipe(Effect.provideService(Crypto, NodeCrypto), Effect.provide(NodeContext.layer)), { timeout: 120_000 })
})
