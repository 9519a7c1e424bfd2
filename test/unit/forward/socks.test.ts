/**
 * The SOCKS 4/4a/5 parser of dynamic forwarding (SEC-49): valid requests parse with every prefix asking for more,
 * random and mutated bytes never throw, and nothing of `MAX_REQUEST_BYTES` or more is ever left undecided (so the
 * -D listener never buffers past that bound). Also the StreamLocal payload codecs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as Socks from "../../../src/forward/Socks.js"
import * as StreamLocal from "../../../src/forward/StreamLocal.js"
import { arbEdit, mutate } from "../../helpers/Fuzz.js"

const te = new TextEncoder()
const arbHost = FastCheck.stringMatching(/^[a-z0-9.-]{1,255}$/)
const arbPort = FastCheck.integer({ min: 0, max: 65535 })

const socks5Request = (host: string, port: number) =>
  Uint8Array.from([5, 1, 0, 3, host.length, ...te.encode(host), port >> 8, port & 255])
const socks4aRequest = (user: string, host: string, port: number) =>
  Uint8Array.from([4, 1, port >> 8, port & 255, 0, 0, 0, 9, ...te.encode(user), 0, ...te.encode(host), 0])

/** Every outcome is well formed, and a buffer of MAX_REQUEST_BYTES or more is never "need more" (SEC-49). */
const checkBounded = <A>(buf: Uint8Array, r: Socks.Parsed<A>) => {
  assert.include(["NeedMore", "Invalid", "Done"], r._tag)
  if (r._tag === "Done") assert.isTrue(r.consumed > 0 && r.consumed <= Math.min(buf.length, Socks.MAX_REQUEST_BYTES))
  if (buf.length >= Socks.MAX_REQUEST_BYTES) assert.notStrictEqual(r._tag, "NeedMore")
}

describe("Socks", () => {
  it.prop("SOCKS 5 domain requests parse; every proper prefix needs more", [arbHost, arbPort], ([host, port]) => {
    const req = socks5Request(host, port)
    const r = Socks.parseSocks5Request(req)
    assert.deepStrictEqual(r, { _tag: "Done", value: { version: 5, host, port }, consumed: req.length })
    for (let i = 0; i < req.length; i++) assert.strictEqual(Socks.parseSocks5Request(req.subarray(0, i))._tag, "NeedMore")
  })

  it.prop("SOCKS 4a requests parse; every proper prefix needs more", [
    FastCheck.stringMatching(/^[a-z]{0,255}$/),
    arbHost,
    arbPort
  ], ([user, host, port]) => {
    const req = socks4aRequest(user, host, port)
    const r = Socks.parseFirst(req)
    assert.deepStrictEqual(r, { _tag: "Done", value: { _tag: "Socks4", request: { version: 4, host, port } }, consumed: req.length })
    for (let i = 0; i < req.length; i++) assert.strictEqual(Socks.parseFirst(req.subarray(0, i))._tag, "NeedMore")
  })

  it("SOCKS 4 with an IPv4 address, SOCKS 5 with IPv4 and IPv6 addresses", () => {
    assert.deepStrictEqual(Socks.parseFirst(Uint8Array.from([4, 1, 0, 80, 10, 0, 0, 1, 0])), {
      _tag: "Done",
      value: { _tag: "Socks4", request: { version: 4, host: "10.0.0.1", port: 80 } },
      consumed: 9
    })
    assert.deepStrictEqual(Socks.parseSocks5Request(Uint8Array.from([5, 1, 0, 1, 127, 0, 0, 1, 1, 0])), {
      _tag: "Done",
      value: { version: 5, host: "127.0.0.1", port: 256 },
      consumed: 10
    })
    const v6 = Socks.parseSocks5Request(Uint8Array.from([5, 1, 0, 4, ...new Array(15).fill(0), 1, 0, 22]))
    assert.deepStrictEqual(v6, { _tag: "Done", value: { version: 5, host: "0:0:0:0:0:0:0:1", port: 22 }, consumed: 22 })
  })

  it("SEC-49: unknown commands, versions and address types, empty or unprintable names, and overlong fields are refused", () => {
    const invalid = (r: Socks.Parsed<unknown>) => assert.strictEqual(r._tag, "Invalid")
    invalid(Socks.parseFirst(Uint8Array.from([4, 2, 0, 80, 1, 2, 3, 4, 0]))) // BIND
    invalid(Socks.parseFirst(Uint8Array.from([6])))
    invalid(Socks.parseFirst(Uint8Array.from([5, 0])))
    invalid(Socks.parseSocks5Request(Uint8Array.from([5, 3, 0, 1, 1, 2, 3, 4, 0, 80]))) // UDP ASSOCIATE
    invalid(Socks.parseSocks5Request(Uint8Array.from([5, 1, 0, 9])))
    invalid(Socks.parseSocks5Request(Uint8Array.from([5, 1, 1, 1, 1, 2, 3, 4, 0, 80])))
    invalid(Socks.parseSocks5Request(Uint8Array.from([5, 1, 0, 3, 0, 0, 80])))
    invalid(Socks.parseSocks5Request(Uint8Array.from([5, 1, 0, 3, 3, 0x61, 0x0a, 0x62, 0, 80])))
    // A user id of 256 bytes without its NUL: refused at once, not buffered further.
    invalid(Socks.parseFirst(Uint8Array.from([4, 1, 0, 80, 1, 2, 3, 4, ...new Array(256).fill(0x61)])))
    // A greeting announcing 255 methods, truncated: needs more (the -D listener closes at EOF or at the bound).
    assert.strictEqual(Socks.parseFirst(Uint8Array.from([5, 255, 0, 1, 2]))._tag, "NeedMore")
    const full = Socks.parseFirst(Uint8Array.from([5, 255, ...new Array(255).fill(2)]))
    assert.deepStrictEqual(full, { _tag: "Done", value: { _tag: "Socks5Greeting", noAuth: false }, consumed: 257 })
  })

  it.prop("random bytes never throw and never stay undecided past the bound", [
    FastCheck.uint8Array({ maxLength: 700 })
  ], ([bytes]) => {
    checkBounded(bytes, Socks.parseFirst(bytes))
    checkBounded(bytes, Socks.parseSocks5Request(bytes))
    const v4 = Uint8Array.from([4, 1, ...bytes])
    checkBounded(v4, Socks.parseFirst(v4))
    const v5 = Uint8Array.from([5, 1, 0, 3, ...bytes])
    checkBounded(v5, Socks.parseSocks5Request(v5))
  })

  it.prop("mutated valid requests never throw", [arbHost, arbPort, FastCheck.array(arbEdit, { maxLength: 6 })], ([host, port, edits]) => {
    const a = mutate(socks5Request(host, port), edits)
    checkBounded(a, Socks.parseSocks5Request(a))
    const b = mutate(socks4aRequest("u", host, port), edits)
    checkBounded(b, Socks.parseFirst(b))
  })

  it("replies", () => {
    assert.deepStrictEqual([...Socks.connectReply(4, true)], [0, 90, 0, 0, 0, 0, 0, 0])
    assert.deepStrictEqual([...Socks.connectReply(5, false)], [5, 5, 0, 1, 0, 0, 0, 0, 0, 0])
    assert.deepStrictEqual([...Socks.socks5MethodReply(false)], [5, 0xff])
  })
})

describe("StreamLocal payloads", () => {
  it.prop("round trips", [FastCheck.stringMatching(/^\/[a-z0-9/._-]{1,200}$/)], ([p]) => {
    assert.deepStrictEqual(StreamLocal.decodeDirect(StreamLocal.encodeDirect(p)), Either.right(p))
    assert.deepStrictEqual(StreamLocal.decodeForwarded(StreamLocal.encodeForwarded(p)), Either.right(p))
    assert.deepStrictEqual(StreamLocal.decodeForwardRequest(StreamLocal.encodeForwardRequest(p)), Either.right(p))
  })
  it.prop("mutated payloads never throw", [FastCheck.array(arbEdit, { maxLength: 6 })], ([edits]) => {
    for (const decode of [StreamLocal.decodeDirect, StreamLocal.decodeForwarded, StreamLocal.decodeForwardRequest]) {
      const r = decode(mutate(StreamLocal.encodeDirect("/tmp/x.sock"), edits))
      assert.isTrue(Either.isEither(r))
      if (Either.isLeft(r)) assert.notStrictEqual(r.left.reason, "Unknown")
    }
  })
  it("control bytes and empty paths are refused", () => {
    assert.isTrue(Either.isLeft(StreamLocal.decodeForwardRequest(StreamLocal.encodeForwardRequest(""))))
    assert.isTrue(Either.isLeft(StreamLocal.decodeForwardRequest(StreamLocal.encodeForwardRequest("/tmp/a\nb"))))
  })
})
