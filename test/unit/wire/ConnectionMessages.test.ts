import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as ChannelRequests from "../../../src/wire/ChannelRequests.js"
import * as ConnectionMessages from "../../../src/wire/ConnectionMessages.js"
import * as ForwardingMessages from "../../../src/wire/ForwardingMessages.js"
import * as Writer from "../../../src/wire/Writer.js"
import { assertNoBug, mutate, reason } from "../../helpers/Fuzz.js"

const numRuns = process.env.FUZZ ? 100_000 : 100
// FUZZ=1 runs take minutes per property; the default 60 s test timeout would cut them short.
const fuzz = { fastCheck: { numRuns }, ...(process.env.FUZZ ? { timeout: 3_600_000 } : {}) }
const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => parseInt(b, 16)))

const arbAscii = (max: number) => FastCheck.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${Math.min(max, 40)}}$`))
// A leading U+FEFF is included on purpose: a default TextDecoder would strip it and break the round trip.
const arbText = FastCheck.oneof(
  FastCheck.fullUnicodeString({ maxLength: 60 }),
  FastCheck.fullUnicodeString({ maxLength: 60 }).map((s) => `\uFEFF${s}`)
)
const arbNoNul = arbText.filter((s) => !s.includes("\0"))
const arbHost = FastCheck.fullUnicodeString({ maxLength: 40 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s))
const arbBytes = FastCheck.uint8Array({ maxLength: 128 })
const arbU32 = FastCheck.nat({ max: 0xffffffff })
const arbPort = FastCheck.nat({ max: 0xffff })
const tag = <T extends string>(t: T) => FastCheck.constant(t)

const arbMessage: FastCheck.Arbitrary<ConnectionMessages.ConnectionMessage> = FastCheck.oneof(
  FastCheck.record({ _tag: tag("GlobalRequest"), name: arbAscii(40), wantReply: FastCheck.boolean(), data: arbBytes }),
  FastCheck.record({ _tag: tag("RequestSuccess"), data: arbBytes }),
  FastCheck.constant({ _tag: "RequestFailure" as const }),
  FastCheck.record({
    _tag: tag("ChannelOpen"),
    channelType: arbAscii(40),
    sender: arbU32,
    initialWindow: arbU32,
    maxPacket: arbU32,
    data: arbBytes
  }),
  FastCheck.record({
    _tag: tag("ChannelOpenConfirmation"),
    recipient: arbU32,
    sender: arbU32,
    initialWindow: arbU32,
    maxPacket: arbU32,
    data: arbBytes
  }),
  FastCheck.record({ _tag: tag("ChannelOpenFailure"), recipient: arbU32, reason: arbU32, description: arbText, language: arbText }),
  FastCheck.record({ _tag: tag("ChannelWindowAdjust"), recipient: arbU32, bytes: arbU32 }),
  FastCheck.record({ _tag: tag("ChannelData"), recipient: arbU32, data: FastCheck.uint8Array({ maxLength: 2048 }) }),
  FastCheck.record({ _tag: tag("ChannelExtendedData"), recipient: arbU32, dataType: arbU32, data: arbBytes }),
  FastCheck.record({
    _tag: FastCheck.constantFrom("ChannelEof" as const, "ChannelClose" as const, "ChannelSuccess" as const, "ChannelFailure" as const),
    recipient: arbU32
  }),
  FastCheck.record({ _tag: tag("ChannelRequest"), recipient: arbU32, request: arbAscii(40), wantReply: FastCheck.boolean(), data: arbBytes })
)

const KNOWN_REQUESTS: ReadonlyArray<string> = Object.values(ChannelRequests.RequestName)
const arbPayload: FastCheck.Arbitrary<ChannelRequests.ChannelRequestPayload> = FastCheck.oneof(
  FastCheck.record({
    _tag: tag("PtyReq"),
    term: arbAscii(256),
    cols: arbU32,
    rows: arbU32,
    widthPx: arbU32,
    heightPx: arbU32,
    modes: arbBytes
  }),
  FastCheck.record({
    _tag: tag("X11Req"),
    singleConnection: FastCheck.boolean(),
    authProtocol: arbAscii(64),
    authCookie: FastCheck.stringMatching(/^[0-9a-fA-F]{0,64}$/),
    screen: arbPort
  }),
  FastCheck.record({ _tag: tag("Env"), name: arbNoNul.filter((s) => !s.includes("=")), value: arbNoNul }),
  FastCheck.record({ _tag: tag("Exec"), command: arbBytes.map((b) => b.map((x) => x || 1)) }),
  FastCheck.record({ _tag: tag("Subsystem"), name: arbAscii(256) }),
  FastCheck.record({ _tag: tag("WindowChange"), cols: arbU32, rows: arbU32, widthPx: arbU32, heightPx: arbU32 }),
  FastCheck.record({ _tag: tag("XonXoff"), clientCanDo: FastCheck.boolean() }),
  FastCheck.record({ _tag: tag("Signal"), name: arbAscii(64) }),
  FastCheck.record({ _tag: tag("ExitStatus"), status: arbU32 }),
  FastCheck.record({
    _tag: tag("ExitSignal"),
    signal: arbAscii(64),
    coreDumped: FastCheck.boolean(),
    message: arbNoNul,
    language: arbNoNul
  }),
  FastCheck.record({ _tag: FastCheck.constantFrom("Shell" as const, "Keepalive" as const, "Eow" as const) }),
  FastCheck.record({
    _tag: tag("Unknown"),
    request: arbAscii(40).filter((n) => !KNOWN_REQUESTS.includes(n)),
    data: arbBytes
  })
)

const arbTcpip = FastCheck.record({ host: arbHost, port: arbPort, originatorAddress: arbHost, originatorPort: arbPort })
const arbOpenKind: FastCheck.Arbitrary<ForwardingMessages.ChannelOpenKind> = FastCheck.oneof(
  FastCheck.constant({ _tag: "Session" as const }),
  FastCheck.record({ _tag: tag("DirectTcpip"), target: arbTcpip }),
  FastCheck.record({ _tag: tag("ForwardedTcpip"), target: arbTcpip }),
  FastCheck.record({
    _tag: tag("Other"),
    channelType: arbAscii(40).filter((t) => !["session", "direct-tcpip", "forwarded-tcpip"].includes(t)),
    data: arbBytes
  })
)
const arbParams = FastCheck.record({ sender: arbU32, initialWindow: arbU32, maxPacket: arbU32 })
const arbModes = FastCheck.array(
  FastCheck.record({ opcode: FastCheck.integer({ min: 1, max: 159 }), value: arbU32 }),
  { maxLength: 204 }
)

const arbEdits = FastCheck.array(
  FastCheck.tuple(FastCheck.constantFrom("flip", "truncate", "insert", "delete"), FastCheck.nat(), FastCheck.integer({ min: 0, max: 255 })),
  { minLength: 1, maxLength: 4 }
)
const allDecoders = (bytes: Uint8Array) => {
  assertNoBug(ConnectionMessages.decode(bytes))
  assertNoBug(ConnectionMessages.decodeChannelData(bytes))
  assertNoBug(ForwardingMessages.decodeTcpipForward(bytes))
  assertNoBug(ForwardingMessages.decodeTcpipForwardReply(bytes))
  assertNoBug(ForwardingMessages.decodeTcpipChannel(bytes))
  assertNoBug(ChannelRequests.decodeTerminalModes(bytes))
  for (const name of KNOWN_REQUESTS) assertNoBug(ChannelRequests.decodeRequest(name, bytes))
}
const trailing = (b: Uint8Array) => Uint8Array.of(...b, 0)

describe("ConnectionMessages", () => {
  it.prop("decode ∘ encode = id", [arbMessage], ([msg]) => {
    assert.deepStrictEqual(ConnectionMessages.decode(ConnectionMessages.encode(msg)), Either.right(msg))
  }, fuzz)

  it.prop("CHANNEL_DATA fast path: decodeChannelData ∘ encodeChannelData = id, same bytes as encode", [
    arbU32,
    FastCheck.uint8Array({ maxLength: 4096 })
  ], ([recipient, data]) => {
    const payload = ConnectionMessages.encodeChannelData(recipient, data)
    assert.deepStrictEqual(payload, ConnectionMessages.encode({ _tag: "ChannelData", recipient, data }))
    assert.deepStrictEqual(ConnectionMessages.decodeChannelData(payload), Either.right({ _tag: "ChannelData", recipient, data }))
  }, fuzz)

  it.prop("no decoder throws on random bytes", [FastCheck.uint8Array({ maxLength: 300 })], ([bytes]) => {
    allDecoders(bytes)
  }, fuzz)

  it.prop("no decoder throws on random bytes after a connection message number", [
    FastCheck.constantFrom(80, 81, 82, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100),
    FastCheck.uint8Array({ maxLength: 300 })
  ], ([id, body]) => {
    allDecoders(Uint8Array.of(id, ...body))
  }, fuzz)

  it.prop("no decoder throws on mutated valid encodings", [arbMessage, arbEdits], ([msg, edits]) => {
    allDecoders(mutate(ConnectionMessages.encode(msg), edits))
  }, fuzz)

  it("hand-written vectors (RFC 4254 §5)", () => {
    assert.deepStrictEqual(ConnectionMessages.encodeChannelData(1, hex("6869")), hex("5e 00000001 00000002 6869"))
    assert.deepStrictEqual(ConnectionMessages.encodeChannelData(0xfffffffe, hex("")), hex("5e fffffffe 00000000"))
    assert.deepStrictEqual(
      ConnectionMessages.decode(hex("5d 00000000 00200000")),
      Either.right({ _tag: "ChannelWindowAdjust", recipient: 0, bytes: 0x200000 })
    )
    assert.deepStrictEqual(
      ConnectionMessages.encode(
        ForwardingMessages.channelOpen({ sender: 0, initialWindow: 2097152, maxPacket: 32768 }, { _tag: "Session" })
      ),
      hex("5a 00000007 73657373696f6e 00000000 00200000 00008000")
    )
    assert.deepStrictEqual(
      ConnectionMessages.decode(hex("5c 00000002 00000001 00000000 00000000")),
      Either.right({ _tag: "ChannelOpenFailure", recipient: 2, reason: 1, description: "", language: "" })
    )
    assert.deepStrictEqual(
      ConnectionMessages.encode(ForwardingMessages.tcpipForwardRequest("tcpip-forward", { address: "", port: 0 })),
      hex("50 0000000d 74637069702d666f7277617264 01 00000000 00000000")
    )
    assert.deepStrictEqual(ConnectionMessages.encode({ _tag: "ChannelClose", recipient: 7 }), hex("61 00000007"))
    assert.deepStrictEqual(ConnectionMessages.decode(hex("52")), Either.right({ _tag: "RequestFailure" }))
  })

  it("decodeChannelData returns a view of the payload; decode returns a copy", () => {
    const payload = ConnectionMessages.encodeChannelData(3, hex("010203"))
    const view = Either.getOrThrow(ConnectionMessages.decodeChannelData(payload))
    const copy = Either.getOrThrow(ConnectionMessages.decode(payload))
    assert.strictEqual(view.data.buffer, payload.buffer)
    payload[9] = 0xff
    assert.deepStrictEqual(view.data, hex("ff0203"))
    assert.deepStrictEqual(copy, { _tag: "ChannelData", recipient: 3, data: hex("010203") })
  })

  it("SEC-09: decodeChannelData rejects a wrong number, truncation and trailing bytes", () => {
    assert.strictEqual(reason(ConnectionMessages.decodeChannelData(hex("5f 00000001 00000000"))), "Invalid")
    assert.strictEqual(reason(ConnectionMessages.decodeChannelData(hex(""))), "Truncated")
    assert.strictEqual(reason(ConnectionMessages.decodeChannelData(hex("5e 00000001 0000"))), "Truncated")
    assert.strictEqual(reason(ConnectionMessages.decodeChannelData(hex("5e 00000001 ffffffff 00"))), "Truncated")
    assert.strictEqual(reason(ConnectionMessages.decodeChannelData(hex("5e 00000001 00000001 0102"))), "TrailingBytes")
  })

  it("SEC-09: one trailing byte after any fixed-layout message is rejected; unknown numbers are Invalid", () => {
    const samples: ReadonlyArray<ConnectionMessages.ConnectionMessage> = [
      { _tag: "RequestFailure" },
      { _tag: "ChannelOpenFailure", recipient: 1, reason: 2, description: "no", language: "" },
      { _tag: "ChannelWindowAdjust", recipient: 1, bytes: 2 },
      { _tag: "ChannelData", recipient: 1, data: hex("00") },
      { _tag: "ChannelExtendedData", recipient: 1, dataType: 1, data: hex("00") },
      { _tag: "ChannelEof", recipient: 1 },
      { _tag: "ChannelClose", recipient: 1 },
      { _tag: "ChannelSuccess", recipient: 1 },
      { _tag: "ChannelFailure", recipient: 1 }
    ]
    for (const m of samples) {
      assert.strictEqual(reason(ConnectionMessages.decode(trailing(ConnectionMessages.encode(m)))), "TrailingBytes", m._tag)
    }
    for (const id of [0, 20, 50, 79, 83, 89, 101, 192]) {
      assert.strictEqual(reason(ConnectionMessages.decode(Uint8Array.of(id))), "Invalid")
      assert.isFalse(ConnectionMessages.isConnectionMessageId(id))
    }
  })
})

describe("ConnectionMessages typed payloads (RFC 4254 §7)", () => {
  it.prop("tcpip-forward data and its reply round-trip", [arbHost, arbPort], ([address, port]) => {
    assert.deepStrictEqual(
      ForwardingMessages.decodeTcpipForward(ForwardingMessages.encodeTcpipForward({ address, port })),
      Either.right({ address, port })
    )
    assert.deepStrictEqual(
      ForwardingMessages.decodeTcpipForwardReply(ForwardingMessages.encodeTcpipForwardReply(port)),
      Either.right(Option.some(port))
    )
  }, fuzz)

  it.prop("decodeChannelOpenKind ∘ channelOpen = id, through encode/decode", [arbParams, arbOpenKind], ([params, kind]) => {
    const decoded = Either.getOrThrow(ConnectionMessages.decode(ConnectionMessages.encode(ForwardingMessages.channelOpen(params, kind))))
    assert.strictEqual(decoded._tag, "ChannelOpen")
    if (decoded._tag !== "ChannelOpen") return
    assert.deepStrictEqual(ForwardingMessages.decodeChannelOpenKind(decoded), Either.right(kind))
  }, fuzz)

  it("direct-tcpip vector; an empty REQUEST_SUCCESS means no bound port", () => {
    const target = { host: "db", port: 5432, originatorAddress: "127.0.0.1", originatorPort: 40000 }
    const data = hex("00000002 6462 00001538 00000009 3132372e302e302e31 00009c40")
    assert.deepStrictEqual(ForwardingMessages.encodeTcpipChannel(target), data)
    assert.deepStrictEqual(ForwardingMessages.decodeTcpipChannel(data), Either.right(target))
    assert.deepStrictEqual(ForwardingMessages.decodeTcpipForwardReply(hex("")), Either.right(Option.none()))
  })

  it("SEC-09: ports over 65535, NUL or control bytes in hosts, extra data and data on `session` are rejected", () => {
    const fwd = (host: Uint8Array | string, port: number) => Writer.build((w) => w.string(host).uint32(port))
    assert.strictEqual(reason(ForwardingMessages.decodeTcpipForward(fwd("h", 65536))), "Invalid")
    assert.strictEqual(reason(ForwardingMessages.decodeTcpipForward(fwd("a\x00b", 22))), "Invalid")
    assert.strictEqual(reason(ForwardingMessages.decodeTcpipForward(fwd("a\nb", 22))), "Invalid")
    assert.strictEqual(reason(ForwardingMessages.decodeTcpipForward(fwd(hex("c328"), 22))), "BadUtf8")
    assert.strictEqual(reason(ForwardingMessages.decodeTcpipForward(fwd("x".repeat(1025), 22))), "TooLarge")
    assert.strictEqual(reason(ForwardingMessages.decodeTcpipForward(trailing(fwd("h", 22)))), "TrailingBytes")
    assert.strictEqual(reason(ForwardingMessages.decodeTcpipForwardReply(hex("000000"))), "Truncated")
    const session = ForwardingMessages.channelOpen({ sender: 0, initialWindow: 0, maxPacket: 0 }, { _tag: "Session" })
    assert.strictEqual(reason(ForwardingMessages.decodeChannelOpenKind({ ...session, data: hex("00") })), "TrailingBytes")
  })
})

describe("ChannelRequests (RFC 4254 §6)", () => {
  it.prop("decodeRequest ∘ encodeRequest = id for every payload", [arbPayload], ([payload]) => {
    const { data, request } = ChannelRequests.encodeRequest(payload)
    assert.deepStrictEqual(ChannelRequests.decodeRequest(request, data), Either.right(payload))
  }, fuzz)

  it.prop("a typed request survives CHANNEL_REQUEST encode/decode", [arbU32, arbPayload, FastCheck.boolean()], ([recipient, payload, wantReply]) => {
    const msg = ChannelRequests.channelRequest(recipient, payload, wantReply)
    const decoded = Either.getOrThrow(ConnectionMessages.decode(ConnectionMessages.encode(msg)))
    assert.deepStrictEqual(decoded, msg)
    if (decoded._tag !== "ChannelRequest") return assert.fail("not a ChannelRequest")
    assert.deepStrictEqual(ChannelRequests.decodeChannelRequest(decoded), Either.right(payload))
  }, fuzz)

  it.prop("no payload decoder throws on mutated valid encodings", [arbPayload, arbEdits], ([payload, edits]) => {
    const { data, request } = ChannelRequests.encodeRequest(payload)
    assertNoBug(ChannelRequests.decodeRequest(request, mutate(data, edits)))
  }, fuzz)

  it("hand-written vectors: exec, exit-status, pty-req", () => {
    assert.deepStrictEqual(
      ConnectionMessages.encode(ChannelRequests.channelRequest(5, { _tag: "Exec", command: new TextEncoder().encode("ls") }, true)),
      hex("62 00000005 00000004 65786563 01 00000002 6c73")
    )
    assert.deepStrictEqual(
      ConnectionMessages.encode(ChannelRequests.channelRequest(3, { _tag: "ExitStatus", status: 0 }, false)),
      hex("62 00000003 0000000b 657869742d737461747573 00 00000000")
    )
    const modes = ChannelRequests.encodeTerminalModes([{ opcode: ChannelRequests.TerminalMode.ECHO, value: 1 }])
    assert.deepStrictEqual(modes, hex("35 00000001 00"))
    const pty = ChannelRequests.encodeRequest({ _tag: "PtyReq", term: "xterm", cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes })
    assert.strictEqual(pty.request, "pty-req")
    assert.deepStrictEqual(pty.data, hex("00000005 787465726d 00000050 00000018 00000000 00000000 00000006 3500000001 00"))
  })

  it("SEC-46 / SEC-09: exit-status is exactly one uint32 (2 bytes: Truncated; 5 bytes: TrailingBytes)", () => {
    assert.strictEqual(reason(ChannelRequests.decodeRequest("exit-status", hex("0000"))), "Truncated")
    assert.strictEqual(reason(ChannelRequests.decodeRequest("exit-status", hex("00000001 00"))), "TrailingBytes")
    assert.strictEqual(reason(ChannelRequests.decodeRequest("shell", hex("00"))), "TrailingBytes")
    assert.strictEqual(reason(ChannelRequests.decodeRequest("window-change", hex("00000050 00000018 00000000"))), "Truncated")
  })

  it("SEC-46: x11 cookie with a newline, env name with `=` or NUL, NUL in exec, long TERM are rejected", () => {
    const x11 = (cookie: string) => Writer.build((w) => w.boolean(false).string("MIT-MAGIC-COOKIE-1").string(cookie).uint32(0))
    assert.isTrue(Either.isRight(ChannelRequests.decodeRequest("x11-req", x11("0123abcdEF"))))
    assert.strictEqual(reason(ChannelRequests.decodeRequest("x11-req", x11("abcd\nadd evil"))), "Invalid")
    assert.strictEqual(reason(ChannelRequests.decodeRequest("x11-req", x11("abcd evil"))), "Invalid")
    const screen = Writer.build((w) => w.boolean(false).string("MIT-MAGIC-COOKIE-1").string("00").uint32(65536))
    assert.strictEqual(reason(ChannelRequests.decodeRequest("x11-req", screen)), "Invalid")
    const env = (name: string, value: string) => Writer.build((w) => w.string(name).string(value))
    assert.deepStrictEqual(
      ChannelRequests.decodeRequest("env", env("LANG", "C.UTF-8")),
      Either.right({ _tag: "Env", name: "LANG", value: "C.UTF-8" })
    )
    assert.strictEqual(reason(ChannelRequests.decodeRequest("env", env("A=B", "x"))), "Invalid")
    assert.strictEqual(reason(ChannelRequests.decodeRequest("env", env("A\x00", "x"))), "Invalid")
    assert.strictEqual(reason(ChannelRequests.decodeRequest("env", env("A", "x".repeat(4097)))), "TooLarge")
    assert.strictEqual(reason(ChannelRequests.decodeRequest("exec", Writer.build((w) => w.string(hex("6c 00 73"))))), "Invalid")
    // exec commands are bytes: not UTF-8 is fine.
    assert.isTrue(Either.isRight(ChannelRequests.decodeRequest("exec", Writer.build((w) => w.string(hex("ff fe"))))))
    const pty = (term: string) =>
      Writer.build((w) => w.string(term).uint32(80).uint32(24).uint32(0).uint32(0).string(hex("00")))
    assert.isTrue(Either.isRight(ChannelRequests.decodeRequest("pty-req", pty("x".repeat(256)))))
    assert.strictEqual(reason(ChannelRequests.decodeRequest("pty-req", pty("x".repeat(257)))), "TooLarge")
    assert.strictEqual(reason(ChannelRequests.decodeRequest("pty-req", pty("xterm\x1b"))), "Invalid")
  })

  it("unknown requests decode as Unknown with a copy of their data", () => {
    const data = hex("0102")
    const d = ChannelRequests.decodeRequest("x-unknown@test", data)
    data.fill(0)
    assert.deepStrictEqual(d, Either.right({ _tag: "Unknown", request: "x-unknown@test", data: hex("0102") }))
  })

  it("auth-agent-req@openssh.com has no data; trailing bytes are refused (SEC-09)", () => {
    const { data, request } = ChannelRequests.encodeRequest({ _tag: "AuthAgentReq" })
    assert.strictEqual(request, "auth-agent-req@openssh.com")
    assert.strictEqual(data.length, 0)
    assert.deepStrictEqual(ChannelRequests.decodeRequest(request, data), Either.right({ _tag: "AuthAgentReq" }))
    assert.isTrue(Either.isLeft(ChannelRequests.decodeRequest(request, hex("00"))))
  })
})

describe("ChannelRequests terminal modes (RFC 4254 §8)", () => {
  it.prop("decodeTerminalModes ∘ encodeTerminalModes = id", [arbModes], ([modes]) => {
    assert.deepStrictEqual(ChannelRequests.decodeTerminalModes(ChannelRequests.encodeTerminalModes(modes)), Either.right(modes))
  }, fuzz)

  it("SEC-08 / SEC-46: modes without TTY_OP_END fail", () => {
    assert.strictEqual(reason(ChannelRequests.decodeTerminalModes(hex("35 00000001"))), "Truncated")
    assert.strictEqual(reason(ChannelRequests.decodeTerminalModes(hex("35 00000001 36 00"))), "Truncated")
    assert.strictEqual(reason(ChannelRequests.decodeTerminalModes(hex("35 00000001 00 00"))), "TrailingBytes")
  })

  it("SEC-46: 131 records decode; 1000 records (> 1 KiB) fail at once; opcode 200 stops parsing", () => {
    const records = (n: number) => Array.from({ length: n }, (_, i) => ({ opcode: 1 + (i % 159), value: i }))
    const ok = ChannelRequests.decodeTerminalModes(ChannelRequests.encodeTerminalModes(records(131)))
    assert.strictEqual(Either.isRight(ok) ? ok.right.length : -1, 131)
    assert.isTrue(Either.isRight(ChannelRequests.decodeTerminalModes(ChannelRequests.encodeTerminalModes(records(204)))))
    const start = performance.now()
    assert.strictEqual(reason(ChannelRequests.decodeTerminalModes(ChannelRequests.encodeTerminalModes(records(1000)))), "TooLarge")
    assert.strictEqual(reason(ChannelRequests.decodeTerminalModes(ChannelRequests.encodeTerminalModes(records(257)))), "TooLarge")
    assert.isBelow(performance.now() - start, 2000)
    assert.deepStrictEqual(
      ChannelRequests.decodeTerminalModes(hex("35 00000001 c8 ffffff 0102")),
      Either.right([{ opcode: 53, value: 1 }])
    )
    // A pty-req carrying 1000 records still decodes: the modes are checked when applied (FAILURE or ignored).
    const pty = ChannelRequests.encodeRequest({
      _tag: "PtyReq",
      term: "xterm",
      cols: 80,
      rows: 24,
      widthPx: 0,
      heightPx: 0,
      modes: ChannelRequests.encodeTerminalModes(records(1000))
    })
    assert.isTrue(Either.isRight(ChannelRequests.decodeRequest(pty.request, pty.data)))
  })

  it("an empty modes string is no modes (paramiko sends one); encoding rejects opcodes outside 1..159", () => {
    assert.deepStrictEqual(ChannelRequests.decodeTerminalModes(hex("")), Either.right([]))
    assert.deepStrictEqual(ChannelRequests.decodeTerminalModes(hex("00")), Either.right([]))
    for (const opcode of [0, 160, 255, 1.5]) {
      assert.throws(() => ChannelRequests.encodeTerminalModes([{ opcode, value: 0 }]), RangeError)
    }
  })
})
