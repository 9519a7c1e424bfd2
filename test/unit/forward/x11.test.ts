/**
 * X11 forwarding's pure parts: DISPLAY parsing (bounded numbers, OpenSSH 9998c93d5), cookies (hex only: SEC-46,
 * CVE-2016-3115), the x11-req decoder refusing a newline in the cookie, and the X11 connection setup check that
 * accepts only the fake cookie (SEC-27) and rewrites it with the real one, in both byte orders.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as X11 from "../../../src/forward/X11.js"
import * as ChannelRequests from "../../../src/wire/ChannelRequests.js"

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])
const enc = new TextEncoder()

/** An X11 connection setup (X Window System Protocol §8) with `name` and `data`, then `rest`. */
const setup = (order: "B" | "l", name: string, data: Uint8Array, rest: Uint8Array = new Uint8Array(0)) => {
  const pad = (n: number) => (n + 3) & ~3
  const n = enc.encode(name)
  const out = new Uint8Array(12 + pad(n.length) + pad(data.length) + rest.length)
  const u16 = (at: number, v: number) => out.set(order === "B" ? [v >> 8, v & 255] : [v & 255, v >> 8], at)
  out[0] = order.charCodeAt(0)
  u16(2, 11)
  u16(6, n.length)
  u16(8, data.length)
  out.set(n, 12)
  out.set(data, 12 + pad(n.length))
  out.set(rest, 12 + pad(n.length) + pad(data.length))
  return out
}

describe("X11 pure parts", () => {
  it("parseDisplay: UNIX socket, TCP 6000+N, screen; out-of-range numbers and odd hosts refused", () => {
    assert.deepStrictEqual(Either.getOrThrow(X11.parseDisplay(":0")), {
      endpoint: { _tag: "Unix", path: "/tmp/.X11-unix/X0" },
      number: 0,
      screen: 0
    })
    assert.deepStrictEqual(Either.getOrThrow(X11.parseDisplay("unix:3.1")).endpoint, { _tag: "Unix", path: "/tmp/.X11-unix/X3" })
    assert.deepStrictEqual(Either.getOrThrow(X11.parseDisplay("localhost:10.2")), {
      endpoint: { _tag: "Tcp", host: "localhost", port: 6010 },
      number: 10,
      screen: 2
    })
    for (const bad of ["", "localhost", ":60000", "host:1.99999999", "a b:0", "h;rm:0", ":0\n"]) {
      assert.isTrue(Either.isLeft(X11.parseDisplay(bad)), bad)
    }
  })

  it("SEC-46: cookies are hex only, and x11-req with `abcd\\nadd evil` as its cookie does not decode", () => {
    assert.isTrue(X11.isHexCookie("00112233445566778899aabbccddeeff"))
    for (const bad of ["", "abc", "abcd\nadd evil", "ab cd", "zz"]) assert.isFalse(X11.isHexCookie(bad), bad)
    const good = ChannelRequests.encodeRequest({ _tag: "X11Req", singleConnection: false, authProtocol: X11.MIT_MAGIC_COOKIE, authCookie: "abcd", screen: 0 })
    assert.isTrue(Either.isRight(ChannelRequests.decodeRequest(good.request, good.data)))
    const evil = ChannelRequests.encodeRequest({ _tag: "X11Req", singleConnection: false, authProtocol: X11.MIT_MAGIC_COOKIE, authCookie: "abcd\nadd evil", screen: 0 })
    assert.isTrue(Either.isLeft(ChannelRequests.decodeRequest(evil.request, evil.data)))
  })

  it("SEC-27: checkSetup accepts the fake cookie only, rewrites it with the real one and keeps what follows", () => {
    const fakes = [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)]
    const reals = [new Uint8Array(16).fill(0xa1), new Uint8Array(16).fill(0xa2)]
    const compared: Array<number> = []
    const spy = (a: Uint8Array, b: Uint8Array) => (compared.push(a.length), equal(a, b))
    for (const order of ["B", "l"] as const) {
      const rest = enc.encode("requests")
      const check = X11.checkSetup(setup(order, X11.MIT_MAGIC_COOKIE, fakes[1]!, rest), X11.MIT_MAGIC_COOKIE, fakes, reals, spy)
      assert.strictEqual(check._tag, "Accepted")
      if (check._tag !== "Accepted") continue
      assert.strictEqual(check.index, 1)
      assert.deepStrictEqual(check.rewritten, setup(order, X11.MIT_MAGIC_COOKIE, reals[1]!, rest))
      // Every fake was compared with the comparator (no early exit, no `===` on the secret).
      assert.isAtLeast(compared.length, 2)
      compared.length = 0
      const forged = X11.checkSetup(setup(order, X11.MIT_MAGIC_COOKIE, new Uint8Array(16).fill(9)), X11.MIT_MAGIC_COOKIE, fakes, reals, spy)
      assert.strictEqual(forged._tag, "Refused")
    }
    // Another protocol, or a cookie of another length, is refused from the 12-byte head alone.
    assert.strictEqual(X11.checkSetup(setup("l", "XDM-AUTHORIZATION-1", fakes[0]!), X11.MIT_MAGIC_COOKIE, fakes, reals, equal)._tag, "Refused")
    assert.strictEqual(X11.checkSetup(setup("l", X11.MIT_MAGIC_COOKIE, new Uint8Array(8)).subarray(0, 12), X11.MIT_MAGIC_COOKIE, fakes, reals, equal)._tag, "Refused")
    assert.strictEqual(X11.checkSetup(setup("l", "", new Uint8Array(0)), X11.MIT_MAGIC_COOKIE, fakes, reals, equal)._tag, "Refused")
    assert.strictEqual(X11.checkSetup(new Uint8Array([0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), X11.MIT_MAGIC_COOKIE, fakes, reals, equal)._tag, "Refused")
    // Every prefix of a good setup is NeedMore: nothing is decided on partial data.
    const whole = setup("B", X11.MIT_MAGIC_COOKIE, fakes[0]!)
    for (let i = 0; i < whole.length; i++) {
      assert.strictEqual(X11.checkSetup(whole.subarray(0, i), X11.MIT_MAGIC_COOKIE, fakes, reals, equal)._tag, "NeedMore", String(i))
    }
  })

  it("the x11 channel's open data round-trips; an empty one (OpenSSH < 2.3) decodes as no originator", () => {
    assert.deepStrictEqual(Either.getOrThrow(X11.decodeOpen(X11.encodeOpen({ address: "127.0.0.1", port: 4711 }))), { address: "127.0.0.1", port: 4711 })
    assert.deepStrictEqual(Either.getOrThrow(X11.decodeOpen(new Uint8Array(0))), { address: "", port: 0 })
    assert.isTrue(Either.isLeft(X11.decodeOpen(new Uint8Array([0, 0, 0, 1]))))
  })
})
