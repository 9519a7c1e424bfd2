/**
 * The ssh-agent codec (RFC 9987, PROTOCOL.agent): every request and response round-trips; hostile bytes are a
 * WireError, never a throw, a hang or an allocation sized by the peer (SEC-60, LIM-30).
 */
import { assert, describe, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as Agent from "../../../src/agent/AgentProtocol.js"
import type { PrivateKeyMaterial } from "../../../src/crypto/Backend.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import * as Writer from "../../../src/wire/Writer.js"
import { arbEdit, assertNoBug, mutate } from "../../helpers/Fuzz.js"

const numRuns = process.env.FUZZ ? 100_000 : 100
const fuzz = { fastCheck: { numRuns }, ...(process.env.FUZZ ? { timeout: 3_600_000 } : {}) }

const ed = NodeCrypto.generateKey({ type: "ed25519" })
const ec = NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp384" })
const rsa = NodeCrypto.generateKey({ type: "rsa", bits: 2048 })
const blob = (k: PrivateKeyMaterial) => HostKey.encodePublicKey(HostKey.publicKeyOf(k))

const payload = (frame: Uint8Array): Uint8Array => {
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0)
  assert.strictEqual(length, frame.length - 4)
  return frame.subarray(4)
}

const sameKey = (a: PrivateKeyMaterial, b: PrivateKeyMaterial) =>
  assert.deepStrictEqual(blob(a), blob(b))

describe("AgentProtocol", () => {
  it("requests round-trip: identities, sign with flags, remove, lock/unlock, extension", () => {
    const requests: ReadonlyArray<Agent.Request> = [
      { _tag: "RequestIdentities" },
      { _tag: "SignRequest", publicKey: blob(rsa), data: new Uint8Array([1, 2, 3]), flags: Agent.SignFlags.RSA_SHA2_512 },
      { _tag: "RemoveIdentity", publicKey: blob(ed) },
      { _tag: "RemoveAllIdentities" },
      { _tag: "Extension", name: "query", data: new Uint8Array(0) }
    ]
    for (const r of requests) {
      assert.deepStrictEqual(Agent.decodeRequest(payload(Agent.encodeRequest(r))), Either.right(r))
    }
    const lock = Agent.decodeRequest(payload(Agent.encodeRequest({ _tag: "Lock", passphrase: Redacted.make("pw") })))
    assert.isTrue(Either.isRight(lock) && lock.right._tag === "Lock" && Redacted.value(lock.right.passphrase) === "pw")
  })

  it("ADD_IDENTITY round-trips ed25519, ecdsa and rsa keys with lifetime, confirm and an extension constraint", () => {
    for (const key of [ed, ec, rsa]) {
      const constraints: ReadonlyArray<Agent.Constraint> = [
        { _tag: "Lifetime", seconds: 60 },
        { _tag: "Confirm" },
        { _tag: "Extension", name: "x@example.com", data: new Uint8Array([9]) }
      ]
      const frame = Agent.encodeRequest({
        _tag: "AddIdentity",
        identity: { key: Redacted.make(key), comment: "me@host" },
        constraints
      })
      assert.strictEqual(frame[4], Agent.MessageNumber.ADD_ID_CONSTRAINED)
      const decoded = Agent.decodeRequest(payload(frame))
      assert.isTrue(Either.isRight(decoded))
      const req = Either.getOrThrow(decoded)
      assert.strictEqual(req._tag, "AddIdentity")
      if (req._tag !== "AddIdentity") return
      sameKey(Redacted.value(req.identity.key), key)
      assert.strictEqual(req.identity.comment, "me@host")
      assert.deepStrictEqual(req.constraints, constraints)
    }
    const plain = Agent.encodeRequest({ _tag: "AddIdentity", identity: { key: Redacted.make(ed), comment: "" }, constraints: [] })
    assert.strictEqual(plain[4], Agent.MessageNumber.ADD_IDENTITY)
  })

  it("responses round-trip", () => {
    const responses: ReadonlyArray<Agent.Response> = [
      { _tag: "Failure" },
      { _tag: "Success" },
      { _tag: "IdentitiesAnswer", identities: [{ publicKey: blob(ed), comment: "a" }, { publicKey: blob(rsa), comment: "é" }] },
      { _tag: "SignResponse", signature: new Uint8Array([7, 7]) },
      { _tag: "ExtensionFailure" },
      { _tag: "ExtensionResponse", data: new Uint8Array([1]) }
    ]
    for (const r of responses) {
      assert.deepStrictEqual(Agent.decodeResponse(payload(Agent.encodeResponse(r))), Either.right(r))
    }
  })

  it("session-bind@openssh.com round-trips; a session id over 128 bytes is refused (LIM-30)", () => {
    const bind = { hostKey: blob(ed), sessionId: new Uint8Array(32).fill(1), signature: new Uint8Array([1]), forwarding: true }
    const req = Agent.encodeSessionBind(bind)
    assert.strictEqual(req._tag === "Extension" && req.name, "session-bind@openssh.com")
    if (req._tag !== "Extension") return
    assert.deepStrictEqual(Agent.decodeSessionBind(req.data), Either.right(bind))
    const long = Agent.encodeSessionBind({ ...bind, sessionId: new Uint8Array(129) })
    assert.isTrue(long._tag === "Extension" && Either.isLeft(Agent.decodeSessionBind(long.data)))
  })

  it("SEC-60: a frame length of 0xFFFFFFFF is an error before anything is buffered; frames split anywhere reassemble", () => {
    const reader = new Agent.FrameReader()
    const bad = reader.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]))
    assert.isTrue(Either.isLeft(bad) && bad.left.reason === "TooLarge")
    assert.isTrue(Either.isLeft(new Agent.FrameReader().push(new Uint8Array([0, 4, 0, 1]))))
    assert.isTrue(Either.isLeft(new Agent.FrameReader().push(new Uint8Array([0, 0, 0, 0]))))
    const frames = [Agent.encodeResponse({ _tag: "Success" }), Agent.encodeResponse({ _tag: "SignResponse", signature: new Uint8Array(300) })]
    const all = new Uint8Array([...frames[0]!, ...frames[1]!])
    for (let cut = 0; cut <= all.length; cut++) {
      const r = new Agent.FrameReader()
      const a = Either.getOrThrow(r.push(all.subarray(0, cut)))
      const b = Either.getOrThrow(r.push(all.subarray(cut)))
      assert.deepStrictEqual([...a, ...b], frames.map(payload))
      assert.isFalse(r.pending)
    }
  })

  it("SEC-60 / LIM-30: IDENTITIES_ANSWER with nkeys 0x7FFFFFFF or 2 049 is an error, without a loop over the count", () => {
    const huge = Writer.build((w) => w.byte(12).uint32(0x7fffffff))
    const r = Agent.decodeResponse(huge)
    assert.isTrue(Either.isLeft(r) && r.left.reason === "TooLarge")
    const over = Agent.encodeResponse({
      _tag: "IdentitiesAnswer",
      identities: Array.from({ length: 2049 }, () => ({ publicKey: new Uint8Array(1), comment: "" }))
    })
    assert.isTrue(Either.isLeft(Agent.decodeResponse(payload(over))))
    const exactly = Agent.encodeResponse({
      _tag: "IdentitiesAnswer",
      identities: Array.from({ length: 2048 }, () => ({ publicKey: new Uint8Array(1), comment: "" }))
    })
    assert.isTrue(Either.isRight(Agent.decodeResponse(payload(exactly))))
  })

  it("SEC-60: ADD_IDENTITY with a 10-byte ed25519 key, a key that does not match, or a truncated 0xFF constraint is an error", () => {
    const short = Writer.build((w) => w.byte(17).string("ssh-ed25519").string(new Uint8Array(10)).string(new Uint8Array(10)).string("c"))
    assert.isTrue(Either.isLeft(Agent.decodeRequest(short)))
    const good = payload(Agent.encodeRequest({ _tag: "AddIdentity", identity: { key: Redacted.make(ed), comment: "c" }, constraints: [] }))
    const tampered = good.slice()
    tampered[tampered.length - 10] ^= 1 // inside the trailing copy of the public key
    assert.isTrue(Either.isLeft(Agent.decodeRequest(tampered)))
    const constrained = new Uint8Array([...good, 0xff, 0, 0])
    constrained[0] = 25
    const c = Agent.decodeRequest(constrained)
    assert.isTrue(Either.isLeft(c))
    const twice = new Uint8Array([...good, 2, 2])
    twice[0] = 25
    assert.isTrue(Either.isLeft(Agent.decodeRequest(twice)))
  })

  it("unknown message numbers and trailing bytes are errors; SUCCESS decodes as Success (the client checks the type)", () => {
    assert.isTrue(Either.isLeft(Agent.decodeRequest(new Uint8Array([99]))))
    assert.isTrue(Either.isLeft(Agent.decodeResponse(new Uint8Array([6, 0]))))
    assert.deepStrictEqual(Agent.decodeResponse(new Uint8Array([6])), Either.right({ _tag: "Success" }))
  })

  it.prop("SEC-60: decoding mutated requests and responses never throws", [FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 }), FastCheck.nat(7)], ([edits, which]) => {
    const samples = [
      Agent.encodeRequest({ _tag: "AddIdentity", identity: { key: Redacted.make(ed), comment: "c" }, constraints: [{ _tag: "Lifetime", seconds: 5 }] }),
      Agent.encodeRequest({ _tag: "AddIdentity", identity: { key: Redacted.make(ec), comment: "c" }, constraints: [{ _tag: "Confirm" }] }),
      Agent.encodeRequest({ _tag: "AddIdentity", identity: { key: Redacted.make(rsa), comment: "c" }, constraints: [] }),
      Agent.encodeRequest({ _tag: "SignRequest", publicKey: blob(ed), data: new Uint8Array(20), flags: 4 }),
      Agent.encodeResponse({ _tag: "IdentitiesAnswer", identities: [{ publicKey: blob(ec), comment: "x" }] }),
      Agent.encodeResponse({ _tag: "SignResponse", signature: new Uint8Array(64) }),
      Agent.encodeRequest(Agent.encodeSessionBind({ hostKey: blob(ed), sessionId: new Uint8Array(32), signature: new Uint8Array(83), forwarding: false })),
      Agent.encodeRequest({ _tag: "Unlock", passphrase: Redacted.make("x") })
    ]
    const bytes = mutate(samples[which]!.subarray(4), edits)
    assertNoBug(Agent.decodeRequest(bytes))
    assertNoBug(Agent.decodeResponse(bytes))
    assertNoBug(Agent.decodeSessionBind(bytes))
    const framed = mutate(samples[which]!, edits)
    const r = new Agent.FrameReader().push(framed)
    assert.isTrue(Either.isEither(r))
  }, fuzz)
})
