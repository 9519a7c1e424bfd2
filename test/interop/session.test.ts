/**
 * The connection layer and sessions against OpenSSH's sshd: exec with stdout, stderr and exit status, exit by
 * signal, stdin through `cat` with a checksum, and concurrent channels on one connection.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Chunk, Effect, Stream } from "effect"
import * as os from "node:os"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as SshProcess from "../../src/session/SshProcess.js"
import * as Transport from "../../src/transport/Transport.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as RawAuth from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username

const connect = Effect.gen(function*() {
  // MaxSessions: sshd allows 10 sessions per connection by default; the concurrency test opens 20.
  const socket = yield* OpenSsh.sshdInetd({
    authorizedKeys: [RawAuth.authorizedKeyLine(userKey)],
    logLevel: "ERROR",
    extra: ["MaxSessions 32"]
  })
  const t = yield* Transport.make(socket, { role: "client", verifyHostKey: () => Effect.void })
  yield* RawAuth.publickey(t, NodeCrypto, user, userKey, "ssh-ed25519")
  return yield* ConnectionMux.make(t, { username: user, methods: ["publickey"] })
}).pipe(Effect.provideService(Crypto, NodeCrypto))

const text = (s: Stream.Stream<Uint8Array, unknown>) =>
  s.pipe(Stream.decodeText(), Stream.runCollect, Effect.map((c) => Chunk.join(c, "")))

describe.skipIf(!has)("sessions against OpenSSH sshd", () => {
  it.scopedLive("exec: stdout, stderr and the exit status", () =>
    Effect.gen(function*() {
      const mux = yield* connect
      const p = yield* SshProcess.start(mux, { _tag: "Exec", command: "echo hello; echo oops >&2; exit 3" })
      const [out, err] = yield* Effect.all([text(p.stdout), text(p.stderr)], { concurrency: 2 })
      assert.strictEqual(out, "hello\n")
      assert.strictEqual(err, "oops\n")
      assert.deepStrictEqual(yield* p.exitStatus, { status: 3 })
    }))

  it.scopedLive("exec: a process killed by a signal reports exit-signal", () =>
    Effect.gen(function*() {
      const mux = yield* connect
      const p = yield* SshProcess.start(mux, { _tag: "Exec", command: "kill -TERM $$" })
      yield* Stream.runDrain(p.stdout)
      const status = yield* p.exitStatus
      assert.strictEqual(status.signal, "TERM")
      assert.isUndefined(status.status)
    }))

  it.scopedLive("stdin round trip through cat: 8 MiB with a checksum", () =>
    Effect.gen(function*() {
      const mux = yield* connect
      const p = yield* SshProcess.start(mux, { _tag: "Exec", command: "cat" })
      const total = 8 * 1024 * 1024
      const block = new Uint8Array(64 * 1024).map((_, i) => (i * 31 + 7) & 0xff)
      const sent = sha256.create()
      const input = Stream.range(1, total / block.length).pipe(Stream.map(() => {
        sent.update(block)
        return block
      }))
      const got = sha256.create()
      let n = 0
      yield* Effect.all([
        Stream.run(input, p.stdin),
        Stream.runForEach(p.stdout, (c) => Effect.sync(() => {
          got.update(c)
          n += c.length
        }))
      ], { concurrency: 2 })
      assert.strictEqual(n, total)
      assert.deepStrictEqual(got.digest(), sent.digest())
      assert.deepStrictEqual(yield* p.exitStatus, { status: 0 })
    }))

  it.scopedLive("20 concurrent channels on one connection", () =>
    Effect.gen(function*() {
      const mux = yield* connect
      const results = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
        Effect.gen(function*() {
          const p = yield* SshProcess.start(mux, { _tag: "Exec", command: `echo channel-${i}; exit ${i}` })
          const out = yield* text(p.stdout)
          return [out, (yield* p.exitStatus).status] as const
        }).pipe(Effect.scoped), { concurrency: 20 })
      results.forEach(([out, status], i) => {
        assert.strictEqual(out, `channel-${i}\n`)
        assert.strictEqual(status, i)
      })
      assert.strictEqual(yield* mux.channelCount, 0)
    }))

  it.scopedLive("a refused subsystem is a ChannelError RequestFailed", () =>
    Effect.gen(function*() {
      const mux = yield* connect
      const e = yield* Effect.flip(SshProcess.start(mux, { _tag: "Subsystem", name: "no-such-subsystem" }))
      assert.strictEqual(e._tag, "ChannelError")
      if (e._tag === "ChannelError") assert.strictEqual(e.reason, "RequestFailed")
    }))
})
