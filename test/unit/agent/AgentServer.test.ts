/**
 * Our agent client against our agent server over an in-memory socket pair, and each against a hostile peer:
 * constraints are enforced or refused (SEC-61), replies are checked against requests and frames bounded (SEC-60).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Redacted, TestClock } from "effect"
import * as Socket from "@effect/platform/Socket"
import * as AgentProtocol from "../../../src/agent/AgentProtocol.js"
import * as AgentServer from "../../../src/agent/AgentServer.js"
import * as SshAgent from "../../../src/agent/SshAgent.js"
import type { PrivateKeyMaterial } from "../../../src/crypto/Backend.js"
import { Crypto } from "../../../src/crypto/Crypto.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import * as Writer from "../../../src/wire/Writer.js"
import * as MemorySocket from "../../helpers/MemorySocket.js"

const ed = NodeCrypto.generateKey({ type: "ed25519" })
const rsa = NodeCrypto.generateKey({ type: "rsa", bits: 2048 })
const blob = (k: PrivateKeyMaterial) => HostKey.encodePublicKey(HostKey.publicKeyOf(k))

/** Our client talking to our server. */
const pair = (options?: AgentServer.AgentServerOptions) =>
  Effect.gen(function*() {
    const [a, b] = yield* MemorySocket.pair()
    const server = yield* AgentServer.make(options)
    yield* Effect.forkScoped(server.serve(b))
    const client = yield* Effect.provideService(SshAgent.make, Socket.Socket, a)
    return { server, client }
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

/** Our client against a peer that answers each request with `reply` (raw bytes). */
const hostile = (reply: Uint8Array) =>
  Effect.gen(function*() {
    const [a, b] = yield* MemorySocket.pair()
    const write = yield* b.writer
    yield* Effect.forkScoped(b.run(() => write(reply)))
    return yield* Effect.provideService(SshAgent.make, Socket.Socket, a)
  })

const raw = (server: AgentServer.AgentServer, payload: Uint8Array) => server.handle(payload, AgentServer.connection())

describe("AgentServer ↔ SshAgent", () => {
  it.scoped("add, list, sign (rsa-sha2-512 / -256 / ssh-rsa by flags), remove, lock", () =>
    Effect.gen(function*() {
      const { client } = yield* pair()
      yield* client.add(ed, { comment: "ed" })
      yield* client.add(rsa, { comment: "rsa" })
      assert.deepStrictEqual((yield* client.identities).map((i) => i.comment), ["ed", "rsa"])
      const data = new Uint8Array([1, 2, 3])
      for (const algorithm of ["rsa-sha2-512", "rsa-sha2-256"]) {
        const sig = yield* client.sign(blob(rsa), data, { algorithm })
        assert.isTrue(HostKey.verify(NodeCrypto, algorithm, blob(rsa), data, sig))
      }
      const plain = yield* client.sign(blob(rsa), data)
      assert.isTrue(HostKey.verify(NodeCrypto, "ssh-rsa", blob(rsa), data, plain))
      yield* client.lock("pw")
      assert.strictEqual((yield* client.identities).length, 0)
      assert.strictEqual((yield* Effect.flip(client.sign(blob(ed), data))).reason, "Refused")
      assert.strictEqual((yield* Effect.flip(client.lock("again"))).reason, "Refused")
      yield* client.unlock("pw")
      yield* client.remove(blob(ed))
      assert.strictEqual((yield* Effect.flip(client.remove(blob(ed)))).reason, "Refused")
      yield* client.removeAll
      assert.strictEqual((yield* client.identities).length, 0)
    }))

  it.scoped("SEC-61: a lifetime removes the key when it ends (TestClock)", () =>
    Effect.gen(function*() {
      const { client } = yield* pair()
      yield* client.add(ed, { lifetime: "10 seconds" })
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual((yield* client.identities).length, 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* client.identities).length, 0)
      assert.strictEqual((yield* Effect.flip(client.sign(blob(ed), new Uint8Array(1)))).reason, "Refused")
    }))

  it.scoped("SEC-61: confirm without a handler → FAILURE; unknown extension constraint → FAILURE; MaxSign → FAILURE", () =>
    Effect.gen(function*() {
      const { client } = yield* pair()
      assert.strictEqual((yield* Effect.flip(client.add(ed, { confirm: true }))).reason, "Refused")
      const ext = { _tag: "Extension", name: "restrict-destination-v00@openssh.com", data: new Uint8Array(4) } as const
      assert.strictEqual((yield* Effect.flip(client.add(ed, { constraints: [ext] }))).reason, "Refused")
      assert.strictEqual((yield* Effect.flip(client.add(ed, { constraints: [{ _tag: "MaxSign", signatures: 5 }] }))).reason, "Refused")
      assert.strictEqual((yield* client.identities).length, 0)
    }))

  it.scoped("SEC-61: with a handler, each signature by a confirm key asks it; a failing handler denies", () =>
    Effect.gen(function*() {
      let answer: Effect.Effect<boolean, string> = Effect.succeed(false)
      let asked = 0
      const { client } = yield* pair({ confirm: () => Effect.suspend(() => (asked++, answer)) })
      yield* client.add(ed, { confirm: true })
      assert.strictEqual((yield* Effect.flip(client.sign(blob(ed), new Uint8Array(1)))).reason, "Refused")
      answer = Effect.succeed(true)
      yield* client.sign(blob(ed), new Uint8Array(1))
      answer = Effect.fail("no terminal")
      assert.strictEqual((yield* Effect.flip(client.sign(blob(ed), new Uint8Array(1)))).reason, "Refused")
      assert.strictEqual(asked, 3)
    }))

  it.effect("SEC-61: ADD_SMARTCARD_KEY (/tmp/evil.so) → FAILURE, forwarded or not; SEC-60: a 10-byte ed25519 key → FAILURE", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer.make()
      const smartcard = Writer.build((w) => w.byte(20).string("/tmp/evil.so").string(""))
      assert.deepStrictEqual(yield* raw(server, smartcard), { _tag: "Failure" })
      assert.deepStrictEqual(yield* server.handle(smartcard, AgentServer.connection(true)), { _tag: "Failure" })
      const short = Writer.build((w) => w.byte(17).string("ssh-ed25519").string(new Uint8Array(10)).string(new Uint8Array(10)).string(""))
      assert.deepStrictEqual(yield* raw(server, short), { _tag: "Failure" })
      const truncated = new Uint8Array([...AgentProtocol.encodeRequest({ _tag: "AddIdentity", identity: { key: Redacted.make(ed), comment: "" }, constraints: [] }).subarray(4), 0xff, 0, 0])
      truncated[0] = 25
      assert.deepStrictEqual(yield* raw(server, truncated), { _tag: "Failure" })
      assert.strictEqual((yield* server.identities).length, 0)
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))

  it.effect("SEC-61 / LIM-30: session-bind needs the host key's signature; the 17th binding and a rebind after auth are refused", () =>
    Effect.gen(function*() {
      const server = yield* AgentServer.make()
      const host = NodeCrypto.generateKey({ type: "ed25519" })
      const bind = (c: AgentServer.AgentConnection, forwarding: boolean, sid = NodeCrypto.randomBytes(32), sig?: Uint8Array) =>
        server.handle(
          AgentProtocol.encodeRequest(AgentProtocol.encodeSessionBind({
            hostKey: blob(host),
            sessionId: sid,
            signature: sig ?? HostKey.sign(NodeCrypto, "ssh-ed25519", host, sid),
            forwarding
          })).subarray(4),
          c
        )
      const forwarded = AgentServer.connection(true)
      for (let i = 0; i < 16; i++) assert.deepStrictEqual(yield* bind(forwarded, true), { _tag: "Success" })
      assert.deepStrictEqual(yield* bind(forwarded, true), { _tag: "Failure" })
      const auth = AgentServer.connection()
      assert.deepStrictEqual(yield* bind(auth, false), { _tag: "Success" })
      assert.deepStrictEqual(yield* bind(auth, false), { _tag: "Failure" })
      const forged = HostKey.sign(NodeCrypto, "ssh-ed25519", NodeCrypto.generateKey({ type: "ed25519" }), new Uint8Array(32))
      assert.deepStrictEqual(yield* bind(AgentServer.connection(), false, new Uint8Array(32), forged), { _tag: "Failure" })
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))
})

describe("SshAgent against a hostile agent (SEC-60)", () => {
  it.scoped("SIGN reply replaced by SUCCESS → ProtocolViolation, not a crash", () =>
    Effect.gen(function*() {
      const client = yield* hostile(AgentProtocol.encodeResponse({ _tag: "Success" }))
      const e = yield* Effect.flip(client.sign(blob(ed), new Uint8Array(1)))
      assert.strictEqual(e.reason, "ProtocolViolation")
      const l = yield* Effect.flip(client.identities)
      assert.strictEqual(l.reason, "ProtocolViolation")
    }))

  it.scoped("a reply length of 0xFFFFFFFF → ProtocolViolation without allocation; the client stays failed", () =>
    Effect.gen(function*() {
      const client = yield* hostile(new Uint8Array([0xff, 0xff, 0xff, 0xff, 12]))
      const e = yield* Effect.flip(client.identities)
      assert.strictEqual(e.reason, "ProtocolViolation")
      assert.strictEqual((yield* Effect.flip(client.identities)).reason, "ProtocolViolation")
    }))

  it.scoped("IDENTITIES_ANSWER with nkeys 0x7FFFFFFF → ProtocolViolation", () =>
    Effect.gen(function*() {
      const payload = Writer.build((w) => w.byte(12).uint32(0x7fffffff))
      const client = yield* hostile(Writer.build((w) => w.uint32(payload.length).raw(payload)))
      assert.strictEqual((yield* Effect.flip(client.identities)).reason, "ProtocolViolation")
    }))

  it.scoped("the agent closing the socket fails the pending request with Closed", () =>
    Effect.gen(function*() {
      const [a, b] = yield* MemorySocket.pair()
      const write = yield* b.writer
      yield* Effect.forkScoped(b.run(() => write(new Socket.CloseEvent())))
      const client = yield* Effect.provideService(SshAgent.make, Socket.Socket, a)
      const fiber = yield* Effect.fork(client.identities)
      const r = yield* Fiber.join(fiber).pipe(Effect.either)
      assert.isTrue(Either.isLeft(r) && r.left.reason === "Closed")
    }))
})
