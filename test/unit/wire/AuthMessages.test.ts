import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as AuthMessages from "../../../src/wire/AuthMessages.js"
import type { WireError } from "../../../src/wire/WireError.js"
import * as Writer from "../../../src/wire/Writer.js"
import { arbEdit, assertNoBug, mutate, reason } from "../../helpers/Fuzz.js"

const numRuns = process.env.FUZZ ? 100_000 : 100
// FUZZ=1 runs take minutes per property; the default 60 s test timeout would cut them short.
const fuzz = { fastCheck: { numRuns }, ...(process.env.FUZZ ? { timeout: 3_600_000 } : {}) }
const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => parseInt(b, 16)))
const field = <A>(e: Either.Either<A, WireError>) => Either.isLeft(e) ? AuthMessages.requestErrorField(e.left) : "no error"

// RFC 4251 §6 names: printable US-ASCII without comma, 1..64 characters.
const arbName = FastCheck.stringMatching(/^[\x21-\x2b\x2d-\x7e]{1,64}$/)
const arbAscii = FastCheck.stringMatching(/^[\x20-\x7e]{0,40}$/)
// A leading U+FEFF is included on purpose: a default TextDecoder would strip it and break the round trip.
const arbText = FastCheck.oneof(
  FastCheck.fullUnicodeString({ maxLength: 60 }),
  FastCheck.fullUnicodeString({ maxLength: 60 }).map((s) => `\uFEFF${s}`)
)
const arbBytes = FastCheck.uint8Array({ maxLength: 128 })
const arbUser = FastCheck.fullUnicodeString({ maxLength: 40 }).filter((u) =>
  Either.isRight(AuthMessages.validateUsername(u))
)
const KNOWN_METHODS = ["none", "password", "publickey", "keyboard-interactive", "hostbased"]

const arbMethod: FastCheck.Arbitrary<AuthMessages.AuthMethod> = FastCheck.oneof(
  FastCheck.constant({ _tag: "none" as const }),
  FastCheck.record({ _tag: FastCheck.constant("password" as const), changing: FastCheck.constant(false as const), password: arbBytes }),
  FastCheck.record({
    _tag: FastCheck.constant("password" as const),
    changing: FastCheck.constant(true as const),
    password: arbBytes,
    newPassword: arbBytes
  }),
  FastCheck.record({
    _tag: FastCheck.constant("publickey" as const),
    hasSignature: FastCheck.constant(false as const),
    algorithm: arbAscii,
    publicKey: arbBytes
  }),
  FastCheck.record({
    _tag: FastCheck.constant("publickey" as const),
    hasSignature: FastCheck.constant(true as const),
    algorithm: arbAscii,
    publicKey: arbBytes,
    signature: arbBytes
  }),
  FastCheck.record({ _tag: FastCheck.constant("keyboard-interactive" as const), language: arbText, submethods: arbText }),
  FastCheck.record({
    _tag: FastCheck.constant("hostbased" as const),
    algorithm: arbAscii,
    hostKey: arbBytes,
    hostname: arbAscii,
    hostUser: arbText,
    signature: arbBytes
  }),
  FastCheck.record({
    _tag: FastCheck.constant("other" as const),
    name: arbAscii.filter((n) => !KNOWN_METHODS.includes(n)),
    rest: arbBytes
  })
)

const arbDecoded: FastCheck.Arbitrary<AuthMessages.DecodedAuthMessage> = FastCheck.oneof(
  FastCheck.record({ _tag: FastCheck.constant("UserauthRequest" as const), user: arbUser, service: arbAscii, method: arbMethod }),
  FastCheck.record({
    _tag: FastCheck.constant("UserauthFailure" as const),
    methods: FastCheck.array(arbName, { maxLength: 8 }),
    partialSuccess: FastCheck.boolean()
  }),
  FastCheck.constant({ _tag: "UserauthSuccess" as const }),
  FastCheck.record({ _tag: FastCheck.constant("UserauthBanner" as const), message: arbText, language: arbText }),
  FastCheck.record({
    _tag: FastCheck.constant("UserauthInfoResponse" as const),
    responses: FastCheck.array(arbText, { maxLength: 10 })
  })
)
const arbPkOk = FastCheck.record({ _tag: FastCheck.constant("UserauthPkOk" as const), algorithm: arbAscii, publicKey: arbBytes })
const arbPasswdChangeReq = FastCheck.record({
  _tag: FastCheck.constant("UserauthPasswdChangeReq" as const),
  prompt: arbText,
  language: arbText
})
const arbInfoRequest = FastCheck.record({
  _tag: FastCheck.constant("UserauthInfoRequest" as const),
  name: arbText,
  instruction: arbText,
  language: arbText,
  prompts: FastCheck.array(FastCheck.record({ prompt: arbText, echo: FastCheck.boolean() }), { maxLength: 10 })
})
const arbAny: FastCheck.Arbitrary<AuthMessages.AuthMessage> = FastCheck.oneof(
  arbDecoded,
  arbPkOk,
  arbPasswdChangeReq,
  arbInfoRequest
)

const allDecoders = (bytes: Uint8Array) => {
  assertNoBug(AuthMessages.decode(bytes))
  assertNoBug(AuthMessages.decodePkOk(bytes))
  assertNoBug(AuthMessages.decodePasswdChangeReq(bytes))
  assertNoBug(AuthMessages.decodeInfoRequest(bytes))
}

const request = (user: string | Uint8Array, method: (w: Writer.Writer) => void = (w) => w.string("none")) =>
  Writer.build((w) => method(w.byte(50).string(user).string("ssh-connection")))
const infoRequest = (count: number, body: Uint8Array = new Uint8Array(0)) =>
  Writer.build((w) => w.byte(60).string("").string("").string("").uint32(count).raw(body))
const prompts = (n: number) => Writer.build((w) => {
  for (let i = 0; i < n; i++) w.string(`p${i}`).boolean(false)
})

describe("AuthMessages", () => {
  it.prop("decode ∘ encode = id (50–53, 61)", [arbDecoded], ([msg]) => {
    assert.deepStrictEqual(AuthMessages.decode(AuthMessages.encode(msg)), Either.right(msg))
  }, fuzz)

  it.prop("decodePkOk ∘ encode = id", [arbPkOk], ([msg]) => {
    assert.deepStrictEqual(AuthMessages.decodePkOk(AuthMessages.encode(msg)), Either.right(msg))
  }, fuzz)

  it.prop("decodePasswdChangeReq ∘ encode = id", [arbPasswdChangeReq], ([msg]) => {
    assert.deepStrictEqual(AuthMessages.decodePasswdChangeReq(AuthMessages.encode(msg)), Either.right(msg))
  }, fuzz)

  it.prop("decodeInfoRequest ∘ encode = id", [arbInfoRequest], ([msg]) => {
    assert.deepStrictEqual(AuthMessages.decodeInfoRequest(AuthMessages.encode(msg)), Either.right(msg))
  }, fuzz)

  it.prop("no decoder throws on random bytes", [FastCheck.uint8Array({ maxLength: 300 })], ([bytes]) => {
    allDecoders(bytes)
  }, fuzz)

  it.prop("no decoder throws on random bytes after an auth message number", [
    FastCheck.integer({ min: 50, max: 61 }),
    FastCheck.uint8Array({ maxLength: 300 })
  ], ([id, body]) => {
    allDecoders(Uint8Array.of(id, ...body))
  }, fuzz)

  it.prop("no decoder throws on mutated valid encodings", [
    arbAny,
    FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 })
  ], ([msg, edits]) => {
    allDecoders(mutate(AuthMessages.encode(msg), edits))
  }, fuzz)

  it("hand-written vectors (RFC 4252 §5–§8, RFC 4256 §3)", () => {
    const none = hex("32 00000001 75 0000000e 7373682d636f6e6e656374696f6e 00000004 6e6f6e65")
    const noneMsg: AuthMessages.UserauthRequest = {
      _tag: "UserauthRequest",
      user: "u",
      service: "ssh-connection",
      method: { _tag: "none" }
    }
    assert.deepStrictEqual(AuthMessages.encode(noneMsg), none)
    assert.deepStrictEqual(AuthMessages.decode(none), Either.right(noneMsg))
    assert.deepStrictEqual(
      AuthMessages.encode({
        _tag: "UserauthRequest",
        user: "bob",
        service: "ssh-connection",
        method: { _tag: "password", changing: false, password: "pw" }
      }),
      hex("32 00000003 626f62 0000000e 7373682d636f6e6e656374696f6e 00000008 70617373776f7264 00 00000002 7077")
    )
    assert.deepStrictEqual(
      AuthMessages.decode(hex("33 00000012 7075626c69636b65792c70617373776f7264 01")),
      Either.right({ _tag: "UserauthFailure", methods: ["publickey", "password"], partialSuccess: true })
    )
    assert.deepStrictEqual(AuthMessages.encode({ _tag: "UserauthSuccess" }), hex("34"))
    assert.deepStrictEqual(
      AuthMessages.decodePkOk(hex("3c 0000000b 7373682d65643235353139 00000001 aa")),
      Either.right({ _tag: "UserauthPkOk", algorithm: "ssh-ed25519", publicKey: hex("aa") })
    )
    assert.deepStrictEqual(
      AuthMessages.decodeInfoRequest(hex("3c 00000000 00000000 00000000 00000001 0000000a 50617373776f72643a20 00")),
      Either.right({
        _tag: "UserauthInfoRequest",
        name: "",
        instruction: "",
        language: "",
        prompts: [{ prompt: "Password: ", echo: false }]
      })
    )
    assert.deepStrictEqual(
      AuthMessages.encode({ _tag: "UserauthInfoResponse", responses: ["hi"] }),
      hex("3d 00000001 00000002 6869")
    )
  })

  it("publickeySignedData is the RFC 4252 §7 layout and matches the signed request", () => {
    const signed = AuthMessages.publickeySignedData(hex("0102"), "u", "ssh-connection", "ssh-ed25519", hex("aa"))
    assert.deepStrictEqual(
      signed,
      hex(
        "00000002 0102 32 00000001 75 0000000e 7373682d636f6e6e656374696f6e 00000009 7075626c69636b6579 01" +
          "0000000b 7373682d65643235353139 00000001 aa"
      )
    )
    // The request carrying the signature is the signed data without the session id, plus the signature.
    const req = AuthMessages.encode({
      _tag: "UserauthRequest",
      user: "u",
      service: "ssh-connection",
      method: { _tag: "publickey", hasSignature: true, algorithm: "ssh-ed25519", publicKey: hex("aa"), signature: hex("5151") }
    })
    assert.deepStrictEqual(req, Uint8Array.of(...signed.subarray(6), ...hex("00000002 5151")))
  })

  it("passwords: strings are sent as UTF-8, decoded passwords are byte copies", () => {
    const payload = request("bob", (w) => w.string("password").boolean(false).string("pässwörd"))
    const m = Either.getOrThrow(AuthMessages.decode(payload))
    assert.isTrue(m._tag === "UserauthRequest" && m.method._tag === "password")
    if (m._tag !== "UserauthRequest" || m.method._tag !== "password") return
    assert.deepStrictEqual(m.method.password, new TextEncoder().encode("pässwörd"))
    assert.deepStrictEqual(AuthMessages.passwordBytes("pässwörd"), new TextEncoder().encode("pässwörd"))
    // Non-UTF-8 passwords are not a protocol error (they are compared as bytes).
    const raw = Either.getOrThrow(AuthMessages.decode(request("bob", (w) => w.string("password").boolean(false).string(hex("ff")))))
    assert.isTrue(raw._tag === "UserauthRequest" && raw.method._tag === "password")
    payload.fill(0)
    assert.deepStrictEqual(m.method.password, new TextEncoder().encode("pässwörd"))
  })

  it("unknown methods decode as `other` with the rest of the payload", () => {
    const payload = request("u", (w) => w.string("gssapi-with-mic").uint32(1).string("oid"))
    assert.deepStrictEqual(
      AuthMessages.decode(payload),
      Either.right({
        _tag: "UserauthRequest",
        user: "u",
        service: "ssh-connection",
        method: { _tag: "other", name: "gssapi-with-mic", rest: hex("00000001 00000003 6f6964") }
      })
    )
  })

  it("message 60 needs the method: decode refuses it, the 60-decoders refuse other numbers", () => {
    assert.strictEqual(reason(AuthMessages.decode(hex("3c 00000000 00000000"))), "Invalid")
    assert.strictEqual(reason(AuthMessages.decodePkOk(hex("3d 00000000"))), "Invalid")
    assert.strictEqual(reason(AuthMessages.decodeInfoRequest(new Uint8Array(0))), "Truncated")
    for (const id of [0, 20, 49, 54, 62, 80, 255]) {
      assert.strictEqual(reason(AuthMessages.decode(Uint8Array.of(id))), "Invalid")
    }
  })

  it("SEC-09: one trailing byte after any message is rejected (USERAUTH_REQUEST included)", () => {
    const samples: ReadonlyArray<AuthMessages.AuthMessage> = [
      { _tag: "UserauthRequest", user: "root", service: "ssh-connection", method: { _tag: "none" } },
      {
        _tag: "UserauthRequest",
        user: "root",
        service: "ssh-connection",
        method: { _tag: "password", changing: true, password: "a", newPassword: "b" }
      },
      {
        _tag: "UserauthRequest",
        user: "root",
        service: "ssh-connection",
        method: { _tag: "publickey", hasSignature: false, algorithm: "ssh-ed25519", publicKey: hex("01") }
      },
      {
        _tag: "UserauthRequest",
        user: "root",
        service: "ssh-connection",
        method: { _tag: "keyboard-interactive", language: "", submethods: "" }
      },
      { _tag: "UserauthFailure", methods: ["publickey"], partialSuccess: false },
      { _tag: "UserauthSuccess" },
      { _tag: "UserauthBanner", message: "hi", language: "" },
      { _tag: "UserauthInfoResponse", responses: ["x"] }
    ]
    for (const m of samples) {
      const bytes = Uint8Array.of(...AuthMessages.encode(m), 0)
      assert.strictEqual(reason(AuthMessages.decode(bytes)), "TrailingBytes", m._tag)
      assert.isUndefined(field(AuthMessages.decode(bytes)))
    }
    const trailing = (m: AuthMessages.AuthMessage) => Uint8Array.of(...AuthMessages.encode(m), 0)
    assert.strictEqual(reason(AuthMessages.decodePkOk(trailing({ _tag: "UserauthPkOk", algorithm: "a", publicKey: hex("") }))), "TrailingBytes")
    assert.strictEqual(
      reason(AuthMessages.decodePasswdChangeReq(trailing({ _tag: "UserauthPasswdChangeReq", prompt: "", language: "" }))),
      "TrailingBytes"
    )
    assert.strictEqual(
      reason(AuthMessages.decodeInfoRequest(trailing({ _tag: "UserauthInfoRequest", name: "", instruction: "", language: "", prompts: [] }))),
      "TrailingBytes"
    )
  })

  it("SEC-35 / LIM-18: a 1025-byte user name is rejected as a user-name error, 1024 bytes accepted", () => {
    assert.isTrue(Either.isRight(AuthMessages.decode(request("a".repeat(1024)))))
    const long = AuthMessages.decode(request("a".repeat(1025)))
    assert.strictEqual(reason(long), "TooLarge")
    assert.strictEqual(field(long), "user")
    assert.isTrue(Either.isLeft(AuthMessages.validateUsername("é".repeat(513))))
  })

  it("SEC-35: NUL, other C0, DEL and C1 characters and bad UTF-8 in the user name are user-name errors", () => {
    for (const user of ["\x00root", "ro\x00ot", "root\n", "a\x1bb", "a\x7f", "a\u0085b"]) {
      const d = AuthMessages.decode(request(user))
      assert.strictEqual(reason(d), "Invalid", JSON.stringify(user))
      assert.strictEqual(field(d), "user")
      assert.isTrue(Either.isLeft(AuthMessages.validateUsername(user)))
    }
    const bad = AuthMessages.decode(request(hex("c328")))
    assert.strictEqual(reason(bad), "BadUtf8")
    assert.strictEqual(field(bad), "user")
    assert.deepStrictEqual(AuthMessages.validateUsername("zoë"), Either.right("zoë"))
  })

  it("SEC-35 / LIM-18: passwords over 1024 bytes are password errors (FAILURE), found fast even at 1 MiB", () => {
    const pw = (n: number, changing = false) =>
      AuthMessages.decode(request("bob", (w) => {
        w.string("password").boolean(changing).string(new Uint8Array(n).fill(0x61))
        if (changing) w.string(new Uint8Array(n + 1).fill(0x62))
      }))
    assert.isTrue(Either.isRight(pw(1024)))
    assert.strictEqual(field(pw(1025)), "password")
    assert.strictEqual(field(pw(1024, true)), "password") // the new password is 1025 bytes
    const start = performance.now()
    assert.strictEqual(field(pw(1 << 20)), "password")
    assert.isBelow(performance.now() - start, 2000)
  })

  it("SEC-08 / LIM-18: INFO_REQUEST with num-prompts 0xFFFFFFFF and no body fails at once", () => {
    const start = performance.now()
    assert.strictEqual(reason(AuthMessages.decodeInfoRequest(infoRequest(0xffffffff))), "TooLarge")
    assert.isBelow(performance.now() - start, 2000)
  })

  it("SEC-35 / LIM-18: INFO_REQUEST with 101 prompts fails, 100 are accepted", () => {
    assert.strictEqual(reason(AuthMessages.decodeInfoRequest(infoRequest(101, prompts(101)))), "TooLarge")
    const ok = AuthMessages.decodeInfoRequest(infoRequest(100, prompts(100)))
    assert.strictEqual(Either.isRight(ok) ? ok.right.prompts.length : -1, 100)
  })

  it("SEC-08: INFO_REQUEST count × 5 beyond the remaining bytes is rejected before looping", () => {
    assert.strictEqual(reason(AuthMessages.decodeInfoRequest(infoRequest(10, new Uint8Array(49)))), "Truncated")
    assert.strictEqual(reason(AuthMessages.decodeInfoRequest(infoRequest(1, new Uint8Array(4)))), "Truncated")
  })

  it("SEC-35: an INFO_REQUEST prompt over 16 KiB is rejected", () => {
    const body = (n: number) => Writer.build((w) => w.string("x".repeat(n)).boolean(true))
    assert.isTrue(Either.isRight(AuthMessages.decodeInfoRequest(infoRequest(1, body(16384)))))
    assert.strictEqual(reason(AuthMessages.decodeInfoRequest(infoRequest(1, body(16385)))), "TooLarge")
  })

  it("SEC-35 / LIM-18: INFO_RESPONSE with count 0xFFFFFFFF or 101 fails at once; count × 4 is checked", () => {
    const response = (count: number, body: Uint8Array = new Uint8Array(0)) => Writer.build((w) => w.byte(61).uint32(count).raw(body))
    const start = performance.now()
    assert.strictEqual(reason(AuthMessages.decode(response(0xffffffff))), "TooLarge")
    assert.isBelow(performance.now() - start, 2000)
    const strings = (n: number) => Writer.build((w) => {
      for (let i = 0; i < n; i++) w.string("r")
    })
    assert.strictEqual(reason(AuthMessages.decode(response(101, strings(101)))), "TooLarge")
    assert.isTrue(Either.isRight(AuthMessages.decode(response(100, strings(100)))))
    assert.strictEqual(reason(AuthMessages.decode(response(3, new Uint8Array(11)))), "Truncated")
  })

  it("a leading U+FEFF is kept, not stripped (user name, banner, prompt, response)", () => {
    const bom = "\uFEFFroot"
    const req = Either.getOrThrow(AuthMessages.decode(request(bom)))
    assert.strictEqual(req._tag === "UserauthRequest" ? req.user : undefined, bom)
    const banner = AuthMessages.decode(AuthMessages.encode({ _tag: "UserauthBanner", message: bom, language: "" }))
    assert.deepStrictEqual(banner, Either.right({ _tag: "UserauthBanner", message: bom, language: "" }))
    const info: AuthMessages.UserauthInfoRequest = {
      _tag: "UserauthInfoRequest",
      name: bom,
      instruction: "",
      language: "",
      prompts: [{ prompt: bom, echo: true }]
    }
    assert.deepStrictEqual(AuthMessages.decodeInfoRequest(AuthMessages.encode(info)), Either.right(info))
    const response: AuthMessages.UserauthInfoResponse = { _tag: "UserauthInfoResponse", responses: [bom] }
    assert.deepStrictEqual(AuthMessages.decode(AuthMessages.encode(response)), Either.right(response))
  })

  it("decoded byte fields are copies that never alias the payload", () => {
    const msg: AuthMessages.UserauthRequest = {
      _tag: "UserauthRequest",
      user: "u",
      service: "ssh-connection",
      method: { _tag: "publickey", hasSignature: true, algorithm: "ssh-ed25519", publicKey: hex("0102"), signature: hex("0304") }
    }
    const payload = AuthMessages.encode(msg)
    const m = Either.getOrThrow(AuthMessages.decode(payload))
    payload.fill(0)
    assert.deepStrictEqual(m, msg)
  })
})
