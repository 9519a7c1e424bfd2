import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { MessageId, messageName } from "../../../src/wire/MessageId.js"
import * as TransportMessages from "../../../src/wire/TransportMessages.js"
import * as Writer from "../../../src/wire/Writer.js"
import { arbEdit, assertNoBug, mutate, reason } from "../../helpers/Fuzz.js"

const numRuns = process.env.FUZZ ? 100_000 : 100
const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => parseInt(b, 16)))

// Captured from `ssh` (OpenSSH_9.2p1 Debian-2+deb12u10) against a test listener: its first packet's payload.
const OPENSSH_9_2_CLIENT_KEXINIT = [
  "14f922b86a6d83606cd756e7347835717a00000148736e747275703736317832353531392d7368613531322c736e7472757037363178",
  "32353531392d736861353132406f70656e7373682e636f6d2c637572766532353531392d7368613235362c637572766532353531392d",
  "736861323536406c69627373682e6f72672c656364682d736861322d6e697374703235362c656364682d736861322d6e697374703338",
  "342c656364682d736861322d6e697374703532312c6469666669652d68656c6c6d616e2d67726f75702d65786368616e67652d736861",
  "3235362c6469666669652d68656c6c6d616e2d67726f757031362d7368613531322c6469666669652d68656c6c6d616e2d67726f7570",
  "31382d7368613531322c6469666669652d68656c6c6d616e2d67726f757031342d7368613235362c6578742d696e666f2d632c6b6578",
  "2d7374726963742d632d763030406f70656e7373682e636f6d000001cf7373682d656432353531392d636572742d763031406f70656e",
  "7373682e636f6d2c65636473612d736861322d6e697374703235362d636572742d763031406f70656e7373682e636f6d2c6563647361",
  "2d736861322d6e697374703338342d636572742d763031406f70656e7373682e636f6d2c65636473612d736861322d6e697374703532",
  "312d636572742d763031406f70656e7373682e636f6d2c736b2d7373682d656432353531392d636572742d763031406f70656e737368",
  "2e636f6d2c736b2d65636473612d736861322d6e697374703235362d636572742d763031406f70656e7373682e636f6d2c7273612d73",
  "6861322d3531322d636572742d763031406f70656e7373682e636f6d2c7273612d736861322d3235362d636572742d763031406f7065",
  "6e7373682e636f6d2c7373682d656432353531392c65636473612d736861322d6e697374703235362c65636473612d736861322d6e69",
  "7374703338342c65636473612d736861322d6e697374703532312c736b2d7373682d65643235353139406f70656e7373682e636f6d2c",
  "736b2d65636473612d736861322d6e69737470323536406f70656e7373682e636f6d2c7273612d736861322d3531322c7273612d7368",
  "61322d3235360000006c63686163686132302d706f6c7931333035406f70656e7373682e636f6d2c6165733132382d6374722c616573",
  "3139322d6374722c6165733235362d6374722c6165733132382d67636d406f70656e7373682e636f6d2c6165733235362d67636d406f",
  "70656e7373682e636f6d0000006c63686163686132302d706f6c7931333035406f70656e7373682e636f6d2c6165733132382d637472",
  "2c6165733139322d6374722c6165733235362d6374722c6165733132382d67636d406f70656e7373682e636f6d2c6165733235362d67",
  "636d406f70656e7373682e636f6d000000d5756d61632d36342d65746d406f70656e7373682e636f6d2c756d61632d3132382d65746d",
  "406f70656e7373682e636f6d2c686d61632d736861322d3235362d65746d406f70656e7373682e636f6d2c686d61632d736861322d35",
  "31322d65746d406f70656e7373682e636f6d2c686d61632d736861312d65746d406f70656e7373682e636f6d2c756d61632d3634406f",
  "70656e7373682e636f6d2c756d61632d313238406f70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861",
  "322d3531322c686d61632d73686131000000d5756d61632d36342d65746d406f70656e7373682e636f6d2c756d61632d3132382d6574",
  "6d406f70656e7373682e636f6d2c686d61632d736861322d3235362d65746d406f70656e7373682e636f6d2c686d61632d736861322d",
  "3531322d65746d406f70656e7373682e636f6d2c686d61632d736861312d65746d406f70656e7373682e636f6d2c756d61632d363440",
  "6f70656e7373682e636f6d2c756d61632d313238406f70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d7368",
  "61322d3531322c686d61632d736861310000001a6e6f6e652c7a6c6962406f70656e7373682e636f6d2c7a6c69620000001a6e6f6e65",
  "2c7a6c6962406f70656e7373682e636f6d2c7a6c696200000000000000000000000000",
].join("")

// RFC 4251 §6 names: printable US-ASCII without comma, 1..64 characters.
const arbName = FastCheck.stringMatching(/^[\x21-\x2b\x2d-\x7e]{1,64}$/)
const arbNames = FastCheck.array(arbName, { maxLength: 12 })
const arbAscii = FastCheck.stringMatching(/^[\x20-\x7e]{0,40}$/)
const arbText = FastCheck.fullUnicodeString({ maxLength: 80 })
const arbU32 = FastCheck.nat({ max: 0xffffffff })

const arbKexInit = FastCheck.record({
  _tag: FastCheck.constant("KexInit" as const),
  cookie: FastCheck.uint8Array({ minLength: 16, maxLength: 16 }),
  kex: arbNames,
  hostKey: arbNames,
  cipherC2S: arbNames,
  cipherS2C: arbNames,
  macC2S: arbNames,
  macS2C: arbNames,
  compressionC2S: arbNames,
  compressionS2C: arbNames,
  languageC2S: arbNames,
  languageS2C: arbNames,
  firstKexPacketFollows: FastCheck.boolean(),
  reserved: arbU32
})

const arbMessage: FastCheck.Arbitrary<TransportMessages.TransportMessage> = FastCheck.oneof(
  FastCheck.record({
    _tag: FastCheck.constant("Disconnect" as const),
    code: arbU32,
    description: arbText,
    language: arbText
  }),
  FastCheck.record({ _tag: FastCheck.constant("Ignore" as const), data: FastCheck.uint8Array({ maxLength: 512 }) }),
  FastCheck.record({ _tag: FastCheck.constant("Unimplemented" as const), seq: arbU32 }),
  FastCheck.record({
    _tag: FastCheck.constant("Debug" as const),
    alwaysDisplay: FastCheck.boolean(),
    message: arbText,
    language: arbText
  }),
  FastCheck.record({ _tag: FastCheck.constant("ServiceRequest" as const), name: arbAscii }),
  FastCheck.record({ _tag: FastCheck.constant("ServiceAccept" as const), name: arbAscii }),
  FastCheck.record({
    _tag: FastCheck.constant("ExtInfo" as const),
    extensions: FastCheck.array(
      FastCheck.record({ name: arbAscii, value: FastCheck.uint8Array({ maxLength: 64 }) }),
      { maxLength: 16 }
    )
  }),
  arbKexInit,
  FastCheck.constant({ _tag: "NewKeys" as const })
)


const extInfoBytes = (count: number, body: Uint8Array = new Uint8Array(0)) =>
  Writer.build((w) => w.byte(MessageId.EXT_INFO).uint32(count).raw(body))

describe("TransportMessages", () => {
  it.prop("decode ∘ encode = id", [arbMessage], ([msg]) => {
    assert.deepStrictEqual(TransportMessages.decode(TransportMessages.encode(msg)), Either.right(msg))
  }, { fastCheck: { numRuns } })

  it.prop("decode never throws on random bytes", [FastCheck.uint8Array({ maxLength: 300 })], ([bytes]) => {
    assertNoBug(TransportMessages.decode(bytes))
  }, { fastCheck: { numRuns } })

  it.prop("decode never throws on random bytes after a valid message number", [
    FastCheck.constantFrom(1, 2, 3, 4, 5, 6, 7, 20, 21),
    FastCheck.uint8Array({ maxLength: 300 })
  ], ([id, body]) => {
    assertNoBug(TransportMessages.decode(Uint8Array.of(id, ...body)))
  }, { fastCheck: { numRuns } })

  it.prop("decode never throws on mutated valid encodings", [
    arbMessage,
    FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 })
  ], ([msg, edits]) => {
    assertNoBug(TransportMessages.decode(mutate(TransportMessages.encode(msg), edits)))
  }, { fastCheck: { numRuns } })

  it("decodes a real OpenSSH 9.2 client KEXINIT", () => {
    const d = TransportMessages.decode(hex(OPENSSH_9_2_CLIENT_KEXINIT))
    assert.isTrue(Either.isRight(d))
    const m = Either.getOrThrow(d)
    assert.strictEqual(m._tag, "KexInit")
    if (m._tag !== "KexInit") return
    assert.strictEqual(m.cookie.length, 16)
    assert.deepStrictEqual(m.kex.slice(-2), ["ext-info-c", "kex-strict-c-v00@openssh.com"])
    assert.include(m.kex, "curve25519-sha256")
    assert.deepStrictEqual(m.compressionC2S, ["none", "zlib@openssh.com", "zlib"])
    assert.deepStrictEqual(m.languageC2S, [])
    assert.isFalse(m.firstKexPacketFollows)
    assert.strictEqual(m.reserved, 0)
    // The encoding is canonical: re-encoding gives the same bytes (I_C in the exchange hash).
    assert.deepStrictEqual(TransportMessages.encode(m), hex(OPENSSH_9_2_CLIENT_KEXINIT))
  })

  it("hand-written vectors", () => {
    assert.deepStrictEqual(TransportMessages.encode({ _tag: "NewKeys" }), hex("15"))
    assert.deepStrictEqual(TransportMessages.encode({ _tag: "Unimplemented", seq: 0xfffffffe }), hex("03 fffffffe"))
    assert.deepStrictEqual(
      TransportMessages.encode({ _tag: "Disconnect", code: 2, description: "bye", language: "" }),
      hex("01 00000002 00000003 627965 00000000")
    )
    assert.deepStrictEqual(
      TransportMessages.decode(hex("05 0000000c 7373682d7573657261757468")),
      Either.right({ _tag: "ServiceRequest", name: "ssh-userauth" })
    )
    // RFC 4251 §5: any non-zero boolean is TRUE.
    assert.deepStrictEqual(
      TransportMessages.decode(hex("04 07 00000000 00000000")),
      Either.right({ _tag: "Debug", alwaysDisplay: true, message: "", language: "" })
    )
  })

  it("SEC-09: one trailing byte after any message is rejected", () => {
    const samples: ReadonlyArray<TransportMessages.TransportMessage> = [
      { _tag: "NewKeys" },
      { _tag: "Ignore", data: new Uint8Array(3) },
      { _tag: "Unimplemented", seq: 1 },
      { _tag: "ServiceAccept", name: "ssh-userauth" },
      { _tag: "ExtInfo", extensions: [] },
      TransportMessages.decode(hex(OPENSSH_9_2_CLIENT_KEXINIT)).pipe(Either.getOrThrow)
    ]
    for (const m of samples) {
      const bytes = TransportMessages.encode(m)
      assert.strictEqual(reason(TransportMessages.decode(Uint8Array.of(...bytes, 0))), "TrailingBytes", m._tag)
    }
  })

  it("SEC-09: empty payload, unknown numbers and bad UTF-8 fail without throwing", () => {
    assert.strictEqual(reason(TransportMessages.decode(new Uint8Array(0))), "Truncated")
    for (const id of [0, 8, 22, 30, 50, 94, 150, 192, 255]) {
      assert.strictEqual(reason(TransportMessages.decode(Uint8Array.of(id))), "Invalid", messageName(id))
      assert.isFalse(TransportMessages.isTransportMessageId(id))
    }
    assert.strictEqual(reason(TransportMessages.decode(hex("01 00000002 00000002 c328 00000000"))), "BadUtf8")
    assert.strictEqual(reason(TransportMessages.decode(hex("05 00000003 610062"))), "Invalid")
  })

  it("SEC-09: KEXINIT with a short cookie is Truncated", () => {
    assert.strictEqual(reason(TransportMessages.decode(hex("14 00112233"))), "Truncated")
  })

  it("SEC-16: KEXINIT with a 65-char name, `a,,b`, or a control char is rejected", () => {
    const kexinit = (kexList: string) =>
      Writer.build((w) => {
        w.byte(MessageId.KEXINIT).raw(new Uint8Array(16)).string(kexList)
        for (let i = 0; i < 9; i++) w.string("none")
        w.boolean(false).uint32(0)
      })
    assert.isTrue(Either.isRight(TransportMessages.decode(kexinit("curve25519-sha256"))))
    assert.strictEqual(reason(TransportMessages.decode(kexinit("a".repeat(65)))), "Invalid")
    assert.strictEqual(reason(TransportMessages.decode(kexinit("a,,b"))), "Invalid")
    assert.strictEqual(reason(TransportMessages.decode(kexinit("a\x1bb"))), "Invalid")
  })

  it("SEC-16 / LIM-12: KEXINIT with 3000 names × 64 chars is rejected promptly", () => {
    const list = Array.from({ length: 3000 }, (_, i) => i.toString().padStart(64, "x")).join(",")
    const bytes = Writer.build((w) => {
      w.byte(MessageId.KEXINIT).raw(new Uint8Array(16)).string(list)
      for (let i = 0; i < 9; i++) w.string("none")
      w.boolean(false).uint32(0)
    })
    const start = performance.now()
    assert.strictEqual(reason(TransportMessages.decode(bytes)), "TooLarge")
    assert.isBelow(performance.now() - start, 2000)
  })

  it("SEC-08 / LIM-13: EXT_INFO with nr-extensions = 0xFFFFFFFF and an empty body fails at once", () => {
    const start = performance.now()
    assert.strictEqual(reason(TransportMessages.decode(extInfoBytes(0xffffffff))), "TooLarge")
    assert.isBelow(performance.now() - start, 2000)
  })

  it("SEC-21 / LIM-13: EXT_INFO with 1025 entries is rejected, 1024 accepted", () => {
    const entries = (n: number) => Writer.build((w) => {
      for (let i = 0; i < n; i++) w.string(`e${i}`).string("")
    })
    assert.strictEqual(reason(TransportMessages.decode(extInfoBytes(1025, entries(1025)))), "TooLarge")
    const ok = TransportMessages.decode(extInfoBytes(1024, entries(1024)))
    assert.isTrue(Either.isRight(ok))
    const m = Either.getOrThrow(ok)
    assert.strictEqual(m._tag === "ExtInfo" ? m.extensions.length : -1, 1024)
  })

  it("SEC-08: EXT_INFO count × 8 beyond the remaining bytes is rejected before looping", () => {
    assert.strictEqual(reason(TransportMessages.decode(extInfoBytes(1000, new Uint8Array(16)))), "Truncated")
    assert.strictEqual(reason(TransportMessages.decode(extInfoBytes(2, new Uint8Array(15)))), "Truncated")
  })

  it("decoded byte fields are copies that never alias the payload", () => {
    const payload = TransportMessages.encode({ _tag: "Ignore", data: Uint8Array.of(1, 2, 3) })
    const m = Either.getOrThrow(TransportMessages.decode(payload))
    payload.fill(0)
    assert.deepStrictEqual(m, { _tag: "Ignore", data: Uint8Array.of(1, 2, 3) })
  })
})

describe("TransportMessages server-sig-algs (RFC 8308 §3.1)", () => {
  const algs = ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"]

  it("round-trips through EXT_INFO", () => {
    const payload = TransportMessages.encodeServerSigAlgs(algs, [{ name: "ping@openssh.com", value: hex("30") }])
    const m = Either.getOrThrow(TransportMessages.decode(payload))
    assert.strictEqual(m._tag, "ExtInfo")
    if (m._tag !== "ExtInfo") return
    assert.deepStrictEqual(TransportMessages.serverSigAlgs(m), algs)
    assert.deepStrictEqual(m.extensions[1], { name: "ping@openssh.com", value: hex("30") })
    assert.deepStrictEqual(TransportMessages.extInfoWithServerSigAlgs(algs).extensions[0]?.name, "server-sig-algs")
  })

  it("absent → undefined", () => {
    assert.isUndefined(TransportMessages.serverSigAlgs({ _tag: "ExtInfo", extensions: [] }))
  })

  it("SEC-21: a malformed value is never used (a,,b; 65-char name; 129 names; NUL)", () => {
    const enc = new TextEncoder()
    const bad = ["a,,b", "x".repeat(65), Array.from({ length: 129 }, (_, i) => `a${i}`).join(","), "a\x00b", "a b"]
    for (const text of bad) {
      const ext: TransportMessages.ExtInfo = {
        _tag: "ExtInfo",
        extensions: [{ name: "server-sig-algs", value: enc.encode(text) }]
      }
      assert.isUndefined(TransportMessages.serverSigAlgs(ext), JSON.stringify(text).slice(0, 40))
      assert.isTrue(Either.isLeft(TransportMessages.decodeServerSigAlgs(enc.encode(text))))
    }
  })

  it.prop("decodeServerSigAlgs never throws", [FastCheck.uint8Array({ maxLength: 200 })], ([bytes]) => {
    assertNoBug(TransportMessages.decodeServerSigAlgs(bytes))
  }, { fastCheck: { numRuns } })
})

describe("MessageId", () => {
  it("RFC 4250 §4.1 numbers and names", () => {
    assert.strictEqual(MessageId.KEXINIT, 20)
    assert.strictEqual(MessageId.CHANNEL_FAILURE, 100)
    assert.strictEqual(MessageId.PING, 192)
    assert.strictEqual(messageName(20), "KEXINIT(20)")
    assert.strictEqual(messageName(31), "KEXDH_REPLY|KEX_DH_GEX_GROUP(31)")
    assert.strictEqual(messageName(150), "Reserved(150)")
    assert.strictEqual(messageName(200), "Local(200)")
    assert.strictEqual(messageName(0), "Invalid(0)")
    assert.strictEqual(messageName(-1), "Invalid(-1)")
  })
})
