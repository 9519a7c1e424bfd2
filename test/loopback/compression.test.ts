/**
 * Compression through the whole stack, our client ↔ our server over an in-memory socket pair (RFC 4253 §6.2,
 * OpenSSH PROTOCOL §1.2): zlib@openssh.com really waits for USERAUTH_SUCCESS, plain zlib starts at NEWKEYS, data
 * survives rekeys mid-transfer, defaults never compress unless both sides ask, and a raw peer's decompression bomb
 * or broken stream ends the connection with DISCONNECT 6 (SEC-51, LIM-08).
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Deferred, Effect, Stream } from "effect"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import type { SshConnection } from "../../src/client/SshConnection.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import { NodeCompression } from "../../src/node/NodeCompression.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as SshServer from "../../src/server/SshServer.js"
import { DisconnectReason } from "../../src/SshError.js"
import { Compression } from "../../src/transport/Compression.js"
import * as Transport from "../../src/transport/Transport.js"
import { MessageId } from "../../src/wire/MessageId.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import * as Writer from "../../src/wire/Writer.js"
import * as Loopback from "../helpers/Loopback.js"
import * as MemorySocket from "../helpers/MemorySocket.js"
import * as RawPeer from "../helpers/RawPeer.js"

const zlib = NodeCompression.zlib!
const userKey = Loopback.testHostKeys()[0]!
const userBlob = HostKey.encodePublicKey(HostKey.publicKeyOf(userKey))

const handlers: SshServer.ServerHandlers = {
  auth: {
    publicKey: ({ key }) => Effect.succeed(key.blob.length === userBlob.length && key.blob.every((b, i) => b === userBlob[i]))
  },
  exec: ({ stdin, stdout }) => Effect.as(Stream.run(stdin, stdout), 0)
}

/** `size` bytes of log-like text: compressible (about 3:1), but not trivially. */
const textData = (size: number): Uint8Array => {
  const out = new Uint8Array(size)
  const line = new TextEncoder().encode("2024-05-01T12:00:00Z host-000 sshd[4242]: Accepted key SHA256:0000000000000000\n")
  const hex = new TextEncoder().encode("0123456789abcdef")
  let x = 1
  for (let i = 0; i < size; i++) {
    const at = i % line.length
    if (at >= line.length - 17 && at < line.length - 1) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0
      out[i] = hex[x >>> 28]!
    } else {
      out[i] = line[at]!
    }
  }
  return out
}

interface Ends {
  readonly ssh: SshConnection
  readonly server: Transport.Transport
}

/** Our server (node:zlib, `serverCompression` or its default) and our client asking for `clientCompression`. */
const connect = (o: {
  readonly client?: Transport.AlgorithmList | undefined
  readonly server?: Transport.AlgorithmList | undefined
  readonly rekeyBytes?: number | undefined
}) =>
  Effect.gen(function*() {
    const [a, b] = yield* MemorySocket.pair()
    const serverTransport = yield* Deferred.make<Transport.Transport>()
    yield* Transport.make(b, {
      role: "server",
      hostKeys: Loopback.testHostKeys(),
      algorithms: { compression: o.server },
      rekey: { bytes: o.rekeyBytes }
    }).pipe(
      Effect.tap((t) => Deferred.succeed(serverTransport, t)),
      Effect.flatMap((t) => SshServer.handleConnection(t, handlers)),
      Effect.scoped,
      Effect.provideService(Crypto, NodeCrypto),
      Effect.provideService(Compression, NodeCompression),
      Effect.ignore,
      Effect.forkScoped
    )
    const ssh = yield* SshClient.connectOver(a, {
      host: "memory",
      username: "alice",
      auth: [Auth.privateKey(userKey)],
      hostKeys: HostKeyPolicy.insecureAcceptAny,
      algorithms: { compression: o.client },
      rekey: { bytes: o.rekeyBytes }
    }).pipe(Effect.provideService(Crypto, NodeCrypto), Effect.provideService(Compression, NodeCompression))
    return { ssh, server: yield* Deferred.await(serverTransport) } satisfies Ends
  })

/** Pipes `data` through `cat` on the server in 1 MiB writes; returns the echoed bytes' SHA-256 and count. */
const catThrough = (ssh: Ends["ssh"], data: Uint8Array) =>
  Effect.scoped(Effect.gen(function*() {
    const p = yield* ssh.exec("cat")
    const chunks = Array.from({ length: Math.ceil(data.length / (1 << 20)) }, (_, k) => data.subarray(k << 20, (k + 1) << 20))
    const [, echoed] = yield* Effect.all([
      Stream.run(Stream.fromIterable(chunks), p.stdin),
      p.stdout.pipe(Stream.runFold({ h: sha256.create(), n: 0 }, (acc, c) => {
        acc.h.update(c)
        return { h: acc.h, n: acc.n + c.length }
      }))
    ], { concurrency: 2 })
    return { digest: echoed.h.digest(), bytes: echoed.n }
  }))

const uncompressed = (s: Transport.TransportStats) => ({ in: s.packetsIn - s.compressedIn, out: s.packetsOut - s.compressedOut })

describe("compression: our client ↔ our server", () => {
  for (const method of ["zlib@openssh.com", "zlib"] as const) {
    it.scopedLive(`${method}: 16 MiB through cat with rekeys every 512 KiB on the wire, intact and compressed`, () =>
      Effect.gen(function*() {
        const { ssh, server } = yield* connect({
          client: [method],
          server: method === "zlib" ? "+zlib" : undefined,
          // Rekeying counts bytes on the wire, after compression (as OpenSSH does).
          rekeyBytes: 512 << 10
        })
        const n = yield* ssh.transport.negotiated
        assert.deepStrictEqual([n.compressionC2S, n.compressionS2C], [method, method])
        const data = textData(16 << 20)
        const r = yield* catThrough(ssh, data)
        assert.strictEqual(r.bytes, data.length)
        assert.deepStrictEqual(r.digest, sha256(data))
        const c = yield* ssh.transport.stats
        const s = yield* server.stats
        assert.isAtLeast(c.kexCount, 4)
        assert.isAtLeast(s.kexCount, 4)
        // Both ways, 16 MiB of text crossed as far fewer bytes.
        assert.isBelow(c.bytesOut, data.length / 2)
        assert.isBelow(c.bytesIn, data.length / 2)
        // What one side sent uncompressed, the other read uncompressed.
        assert.deepStrictEqual(uncompressed(c), { in: uncompressed(s).out, out: uncompressed(s).in })
        if (method === "zlib") {
          // RFC 4253 §6.2: only KEXINIT, the key exchange message and NEWKEYS go out before compression starts.
          assert.deepStrictEqual(uncompressed(c), { in: 3, out: 3 })
        } else {
          // SEC-51: the delayed method also left SERVICE_REQUEST/ACCEPT, ext-info and the USERAUTH exchange
          // (up to and including USERAUTH_SUCCESS) uncompressed.
          assert.isAtLeast(uncompressed(c).out, 5)
          assert.isAtLeast(uncompressed(c).in, 6)
        }
      }).pipe(Effect.provide(NodeContext.layer)), { timeout: 120_000 })
  }

  it.scopedLive("SEC-51: by default nothing is compressed (the client offers only none), even with a zlib backend", () =>
    Effect.gen(function*() {
      const { ssh, server } = yield* connect({})
      const n = yield* ssh.transport.negotiated
      assert.deepStrictEqual([n.compressionC2S, n.compressionS2C], ["none", "none"])
      const r = yield* catThrough(ssh, textData(1 << 20))
      assert.strictEqual(r.bytes, 1 << 20)
      const s = yield* server.stats
      assert.deepStrictEqual([s.compressedIn, s.compressedOut], [0, 0])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("SEC-51: a client offering only zlib to a default server → no common algorithm, DISCONNECT 3", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(connect({ client: ["zlib"] }))
      assert.strictEqual(e._tag, "TransportError")
      if (e._tag !== "TransportError") return
      assert.strictEqual(e.code, DisconnectReason.KeyExchangeFailed)
      assert.include(e.description, "compression")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("without a zlib backend (the portable default) asking for zlib@openssh.com fails before connecting", () =>
    Effect.gen(function*() {
      const [a] = yield* MemorySocket.pair()
      const e = yield* Effect.flip(Transport.make(a, {
        role: "client",
        verifyHostKey: () => Effect.void,
        algorithms: { compression: ["zlib@openssh.com"] }
      }))
      assert.strictEqual(e.reason, "NoCommonAlgorithm")
      assert.include(e.description, "compression backend")
    }))
})

/** The raw client's publickey authentication against our server (RFC 4252 §7), up to USERAUTH_SUCCESS. */
const rawLogin = (peer: RawPeer.RawPeer) =>
  Effect.gen(function*() {
    yield* peer.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" }))
    yield* peer.expect(MessageId.SERVICE_ACCEPT)
    const body = (w: Writer.Writer) =>
      w.byte(50).string("alice").string("ssh-connection").string("publickey").boolean(true).string("ssh-ed25519")
        .string(userBlob)
    const signature = HostKey.sign(NodeCrypto, "ssh-ed25519", userKey, Writer.build((w) => body(w.string(peer.sessionId!))))
    yield* peer.send(Writer.build((w) => body(w).string(signature)))
    yield* peer.expect(MessageId.USERAUTH_SUCCESS)
  })

/** A fresh zlib stream's first packet that inflates to `size` zero bytes (~1 000:1). */
const bomb = (size: number): Uint8Array => {
  const d = zlib.deflater()
  const zeros = new Uint8Array(1 << 20)
  const parts: Array<Uint8Array> = []
  for (let done = 0; done < size; done += zeros.length) parts.push(d.compress(zeros).slice())
  d.close()
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0)
  return out
}

/** Sends a hand-made (already compressed) payload past the raw peer's own deflater; returns what followed. */
const sendRaw = (peer: RawPeer.RawPeer, compressed: Uint8Array) =>
  Effect.gen(function*() {
    yield* peer.write(peer.seal(peer.packet(compressed)))
    const received = yield* peer.untilClosed
    return { disconnect: RawPeer.disconnectOf(received), error: yield* peer.victimError }
  })

describe("SEC-51 / LIM-08: hostile compressed input → DISCONNECT 6", () => {
  it.scopedLive("SEC-51 / LIM-08: after auth with zlib@openssh.com, one packet inflating to 240 MiB → D(6)", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "server", victimOptions: { compression: NodeCompression } })
      const t = yield* peer.handshake({ compressionC2S: ["zlib@openssh.com"], compressionS2C: ["zlib@openssh.com"] })
      yield* SshServer.handleConnection(t, handlers).pipe(Effect.ignore, Effect.forkScoped)
      yield* rawLogin(peer)
      // OpenSSH packet.c: both directions compress from the packet after USERAUTH_SUCCESS.
      peer.reader.inflater = zlib.inflater()
      const packet = bomb(240 << 20)
      assert.isBelow(packet.length, 262_144)
      const r = yield* sendRaw(peer, packet)
      assert.strictEqual(r.disconnect?.code, DisconnectReason.CompressionError)
      assert.strictEqual(r.error.code, DisconnectReason.CompressionError)
      assert.strictEqual(r.error.origin, "Local")
    }))

  it.scopedLive("SEC-51: zlib@openssh.com before auth: the server reads packets as they are, not inflated", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "server", victimOptions: { compression: NodeCompression } })
      const t = yield* peer.handshake({ compressionC2S: ["zlib@openssh.com"], compressionS2C: ["zlib@openssh.com"] })
      assert.strictEqual((yield* t.negotiated).compressionC2S, "zlib@openssh.com")
      yield* SshServer.handleConnection(t, handlers).pipe(Effect.ignore, Effect.forkScoped)
      // A compressed SERVICE_REQUEST before authentication is read as message 0x78 (the zlib header's first byte),
      // which no one implements: UNIMPLEMENTED, not an inflated message.
      const d = zlib.deflater()
      const request = TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" })
      yield* peer.write(peer.seal(peer.packet(d.compress(request).slice())))
      yield* peer.expect(MessageId.UNIMPLEMENTED)
      // Uncompressed, the login works, and only then does compression start.
      yield* rawLogin(peer)
      assert.strictEqual((yield* t.stats).compressedIn, 0)
      peer.reader.inflater = zlib.inflater()
      peer.writer.deflater = zlib.deflater()
      yield* peer.send(TransportMessages.encode({ _tag: "Ignore", data: new Uint8Array(1000) }))
      yield* peer.send(TransportMessages.encode({ _tag: "Debug", alwaysDisplay: false, message: "compressed", language: "" }))
      yield* Effect.repeat(t.stats, { until: (s) => s.compressedIn === 2 }).pipe(Effect.timeout("10 seconds"))
    }))

  for (const victim of ["server", "client"] as const) {
    it.scopedLive(`SEC-51: zlib (opted in): a malformed deflate stream sent to our ${victim} → D(6)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({
          victim,
          victimOptions: { compression: NodeCompression, algorithms: { compression: ["zlib"] } }
        })
        yield* peer.handshake({ compressionC2S: ["zlib"], compressionS2C: ["zlib"] })
        peer.reader.inflater = zlib.inflater()
        const r = yield* sendRaw(peer, Uint8Array.of(0x78, 0x9c, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37))
        assert.strictEqual(r.disconnect?.code, DisconnectReason.CompressionError)
        assert.strictEqual(r.error.code, DisconnectReason.CompressionError)
      }))

    it.scopedLive(`SEC-51 / LIM-08: zlib (opted in): a bomb sent to our ${victim} right after NEWKEYS → D(6)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({
          victim,
          victimOptions: { compression: NodeCompression, algorithms: { compression: ["zlib"] } }
        })
        yield* peer.handshake({ compressionC2S: ["zlib"], compressionS2C: ["zlib"] })
        peer.reader.inflater = zlib.inflater()
        const r = yield* sendRaw(peer, bomb(64 << 20))
        assert.strictEqual(r.disconnect?.code, DisconnectReason.CompressionError)
        assert.include(r.error.description, "262144")
      }))
  }
})
