import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as KexMessages from "../../../src/wire/KexMessages.js"
import * as Writer from "../../../src/wire/Writer.js"
import { arbEdit, assertNoBug, mutate, reason } from "../../helpers/Fuzz.js"

const numRuns = process.env.FUZZ ? 100_000 : 100
const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => parseInt(b, 16)))

const arbBytes = FastCheck.uint8Array({ maxLength: 300 })
const arbU32 = FastCheck.nat({ max: 0xffffffff })

const arbEcdh: FastCheck.Arbitrary<KexMessages.EcdhMessage> = FastCheck.oneof(
  FastCheck.record({ _tag: FastCheck.constant("KexEcdhInit" as const), clientValue: arbBytes }),
  FastCheck.record({
    _tag: FastCheck.constant("KexEcdhReply" as const),
    hostKey: arbBytes,
    serverValue: arbBytes,
    signature: arbBytes
  })
)
const arbGex: FastCheck.Arbitrary<KexMessages.GexMessage> = FastCheck.oneof(
  FastCheck.record({ _tag: FastCheck.constant("GexRequestOld" as const), n: arbU32 }),
  FastCheck.record({
    _tag: FastCheck.constant("GexGroup" as const),
    p: FastCheck.oneof(FastCheck.bigUintN(8192), FastCheck.bigUintN(64)),
    g: FastCheck.bigUintN(16)
  }),
  FastCheck.record({ _tag: FastCheck.constant("GexInit" as const), e: arbBytes }),
  FastCheck.record({ _tag: FastCheck.constant("GexReply" as const), hostKey: arbBytes, f: arbBytes, signature: arbBytes }),
  FastCheck.record({ _tag: FastCheck.constant("GexRequest" as const), min: arbU32, n: arbU32, max: arbU32 })
)
const arbMessage: FastCheck.Arbitrary<KexMessages.KexMessage> = FastCheck.oneof(arbEcdh, arbGex)
const arbFamily = FastCheck.constantFrom<KexMessages.KexFamily>("ecdh", "gex")


describe("KexMessages", () => {
  it.prop("decode ∘ encode = id (in the message's family)", [arbMessage], ([msg]) => {
    assert.deepStrictEqual(
      KexMessages.decode(KexMessages.familyOf(msg), KexMessages.encode(msg)),
      Either.right(msg)
    )
  }, { fastCheck: { numRuns } })

  it.prop("decodeEcdh / decodeGex agree with decode", [arbEcdh, arbGex], ([e, g]) => {
    assert.deepStrictEqual(KexMessages.decodeEcdh(KexMessages.encode(e)), Either.right(e))
    assert.deepStrictEqual(KexMessages.decodeGex(KexMessages.encode(g)), Either.right(g))
  }, { fastCheck: { numRuns } })

  it.prop("decode never throws on random bytes", [arbFamily, FastCheck.uint8Array({ maxLength: 300 })], ([f, bytes]) => {
    assertNoBug(KexMessages.decode(f, bytes))
  }, { fastCheck: { numRuns } })

  it.prop("decode never throws on random bytes after a valid number", [
    arbFamily,
    FastCheck.integer({ min: 30, max: 34 }),
    FastCheck.uint8Array({ maxLength: 300 })
  ], ([f, id, body]) => {
    assertNoBug(KexMessages.decode(f, Uint8Array.of(id, ...body)))
  }, { fastCheck: { numRuns } })

  it.prop("decode never throws on mutated valid encodings, in either family", [
    arbMessage,
    arbFamily,
    FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 })
  ], ([msg, f, edits]) => {
    assertNoBug(KexMessages.decode(f, mutate(KexMessages.encode(msg), edits)))
  }, { fastCheck: { numRuns } })

  it("hand-written vectors (RFC 4419 §3, §5; RFC 5656 §4)", () => {
    assert.deepStrictEqual(
      KexMessages.encode({ _tag: "GexRequest", min: 2048, n: 3072, max: 8192 }),
      hex("22 00000800 00000c00 00002000")
    )
    assert.deepStrictEqual(KexMessages.encode({ _tag: "GexRequestOld", n: 2048 }), hex("1e 00000800"))
    assert.deepStrictEqual(KexMessages.encode({ _tag: "GexGroup", p: 0xffn, g: 2n }), hex("1f 00000002 00ff 00000001 02"))
    assert.deepStrictEqual(KexMessages.encode({ _tag: "KexEcdhInit", clientValue: hex("0102") }), hex("1e 00000002 0102"))
    assert.deepStrictEqual(
      KexMessages.decode("ecdh", hex("1f 00000001 aa 00000001 bb 00000001 cc")),
      Either.right({ _tag: "KexEcdhReply", hostKey: hex("aa"), serverValue: hex("bb"), signature: hex("cc") })
    )
  })

  it("RFC 4250 §4.1.2: numbers 30/31 mean different messages per family", () => {
    assert.deepStrictEqual(KexMessages.decode("gex", hex("1e 00000800")), Either.right({ _tag: "GexRequestOld", n: 2048 }))
    assert.deepStrictEqual(
      KexMessages.decode("ecdh", hex("1e 00000000")),
      Either.right({ _tag: "KexEcdhInit", clientValue: new Uint8Array(0) })
    )
    assert.deepStrictEqual(KexMessages.decode("gex", hex("1f 00000001 17 00000001 02")), Either.right({ _tag: "GexGroup", p: 23n, g: 2n }))
  })

  it("a number outside the family is Invalid", () => {
    for (const id of [32, 33, 34, 20, 21, 50]) {
      assert.strictEqual(reason(KexMessages.decode("ecdh", Uint8Array.of(id))), "Invalid")
      assert.isFalse(KexMessages.isKexMessageId("ecdh", id))
    }
    for (const id of [29, 35, 20, 21]) assert.strictEqual(reason(KexMessages.decode("gex", Uint8Array.of(id))), "Invalid")
    assert.isTrue(KexMessages.isKexMessageId("gex", 34))
    assert.strictEqual(reason(KexMessages.decode("gex", new Uint8Array(0))), "Truncated")
  })

  it("SEC-09: one trailing byte after any message is rejected", () => {
    const samples: ReadonlyArray<KexMessages.KexMessage> = [
      { _tag: "KexEcdhInit", clientValue: new Uint8Array(32) },
      { _tag: "KexEcdhReply", hostKey: new Uint8Array(1), serverValue: new Uint8Array(2), signature: new Uint8Array(3) },
      { _tag: "GexRequestOld", n: 2048 },
      { _tag: "GexGroup", p: 23n, g: 5n },
      { _tag: "GexInit", e: hex("05") },
      { _tag: "GexReply", hostKey: new Uint8Array(0), f: hex("07"), signature: new Uint8Array(0) },
      { _tag: "GexRequest", min: 2048, n: 4096, max: 8192 }
    ]
    for (const m of samples) {
      const bytes = Uint8Array.of(...KexMessages.encode(m), 0)
      assert.strictEqual(reason(KexMessages.decode(KexMessages.familyOf(m), bytes)), "TrailingBytes", m._tag)
    }
  })

  it("SEC-09: GEX_GROUP with a negative, non-minimal or over-16384-bit p is rejected", () => {
    assert.strictEqual(reason(KexMessages.decode("gex", hex("1f 00000001 80 00000001 02"))), "Invalid")
    assert.strictEqual(reason(KexMessages.decode("gex", hex("1f 00000002 0017 00000001 02"))), "Invalid")
    const huge = new Uint8Array(2050)
    huge[0] = 1
    const bytes = Writer.build((w) => w.byte(31).string(huge).string(hex("02")))
    assert.strictEqual(reason(KexMessages.decode("gex", bytes)), "TooLarge")
  })

  it("SEC-09: a declared string length beyond the payload is Truncated", () => {
    assert.strictEqual(reason(KexMessages.decode("ecdh", hex("1e ffffffff 00"))), "Truncated")
    assert.strictEqual(reason(KexMessages.decode("gex", hex("21 00000000 7fffffff"))), "Truncated")
  })

  it("decoded byte fields are copies that never alias the payload", () => {
    const payload = KexMessages.encode({ _tag: "KexEcdhInit", clientValue: Uint8Array.of(9, 9) })
    const m = Either.getOrThrow(KexMessages.decode("ecdh", payload))
    payload.fill(0)
    assert.deepStrictEqual(m, { _tag: "KexEcdhInit", clientValue: Uint8Array.of(9, 9) })
  })

  it("kexFamily", () => {
    assert.strictEqual(KexMessages.kexFamily("diffie-hellman-group-exchange-sha256"), "gex")
    assert.strictEqual(KexMessages.kexFamily("diffie-hellman-group-exchange-sha1"), "gex")
    for (const n of ["curve25519-sha256", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256", "mlkem768x25519-sha256"]) {
      assert.strictEqual(KexMessages.kexFamily(n), "ecdh")
    }
  })
})
