/**
 * SEC-11 and LIM-01…LIM-04 at the lowest layer: the identification-line parser, fed byte streams by hand.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Identification from "../../../src/transport/Identification.js"
import { countCopies } from "../../helpers/Fuzz.js"

const enc = (s: string) => new TextEncoder().encode(s)

/** Feeds `bytes` in chunks of `chunk` bytes; returns the first non-NeedMore result and how many bytes it took. */
const feed = (parser: Identification.IdentificationParser, bytes: Uint8Array, chunk = bytes.length) => {
  for (let off = 0; off < bytes.length; off += chunk) {
    const r = parser.push(bytes.subarray(off, off + chunk))
    if (r._tag !== "NeedMore") return { result: r, consumed: Math.min(off + chunk, bytes.length) }
  }
  return { result: { _tag: "NeedMore" } as const, consumed: bytes.length }
}

const parse = (role: "client" | "server", text: string | Uint8Array, chunk?: number) =>
  feed(new Identification.IdentificationParser(role), typeof text === "string" ? enc(text) : text, chunk).result

const roles = ["client", "server"] as const


describe("Identification (SEC-11, LIM-01…LIM-04)", () => {
  it("SEC-11: C→S SSH-1.5-HALLO is refused (proto-mismatch.sh)", () => {
    const r = parse("server", "SSH-1.5-HALLO\r\n")
    assert.strictEqual(r._tag, "Failed")
    assert.include(r._tag === "Failed" ? r.description : "", "Protocol major versions differ")
  })

  for (const role of roles) {
    it(`LIM-04: only 2.0 and 1.99 are accepted (we are ${role})`, () => {
      for (const v of ["SSH-1.5-x", "SSH-1.0-x", "SSH-2.1-x", "SSH-3.0-x", "SSH-20-x", "SSH--x", "SSH-2.0"]) {
        assert.strictEqual(parse(role, v + "\r\n")._tag, "Failed", v)
      }
      for (const v of ["SSH-2.0-x", "SSH-1.99-x", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"]) {
        const r = parse(role, v + "\r\n")
        assert.strictEqual(r._tag, "Done", v)
        assert.strictEqual(r._tag === "Done" ? r.version : "", v)
      }
    })

    it(`SEC-11: 10 MiB of 'A' without a newline fails after at most 8 192 bytes (we are ${role})`, () => {
      const blob = new Uint8Array(10 * 1024 * 1024).fill(0x41)
      const parser = new Identification.IdentificationParser(role)
      const { consumed, result } = feed(parser, blob, 1024)
      assert.strictEqual(result._tag, "Failed")
      assert.isAtMost(consumed, 8192 + 1024)
      // The same byte by byte: the parser never holds more than 8 192 bytes.
      const slow = feed(new Identification.IdentificationParser(role), blob.subarray(0, 20_000), 1)
      assert.strictEqual(slow.result._tag, "Failed")
      assert.isAtMost(slow.consumed, 8193)
    })

    it(`SEC-11: NUL in the version line is refused (we are ${role})`, () => {
      assert.strictEqual(parse(role, "SSH-2.0-x\0y\r\n")._tag, "Failed")
    })

    it(`SEC-11: a CR not followed by LF is refused (we are ${role})`, () => {
      assert.strictEqual(parse(role, "SSH-2.0-x\ry\r\n")._tag, "Failed")
    })

    it(`SEC-11: a bare LF line end is accepted (we are ${role})`, () => {
      const r = parse(role, "SSH-2.0-x\n")
      assert.strictEqual(r._tag, "Done")
      assert.strictEqual(r._tag === "Done" ? r.version : "", "SSH-2.0-x")
    })

    it(`SEC-11: the line split across one-byte chunks, and the bytes after it kept (we are ${role})`, () => {
      const bytes = enc("SSH-2.0-OpenSSH_9.2p1 comment\r\n\x00\x00\x00\x0c")
      const r = parse(role, bytes, 1)
      assert.strictEqual(r._tag, "Done")
      if (r._tag === "Done") {
        assert.strictEqual(r.version, "SSH-2.0-OpenSSH_9.2p1 comment")
        assert.strictEqual(r.software, "OpenSSH_9.2p1")
      }
      const r2 = parse(role, bytes)
      assert.deepStrictEqual(r2._tag === "Done" ? Array.from(r2.rest) : [], [0, 0, 0, 12])
    })

    it(`LIM-01: the SSH- line is at most 255 bytes including CR LF (we are ${role})`, () => {
      const ok = "SSH-2.0-" + "x".repeat(255 - 2 - 8)
      assert.strictEqual(ok.length + 2, 255)
      assert.strictEqual(parse(role, ok + "\r\n")._tag, "Done")
      assert.strictEqual(parse(role, ok + "x\r\n")._tag, "Failed")
      // Without a line end: fails once more than 255 bytes are pending, not later.
      const long = feed(new Identification.IdentificationParser(role), enc("SSH-2.0-" + "x".repeat(1000)), 1)
      assert.strictEqual(long.result._tag, "Failed")
      assert.isAtMost(long.consumed, 256)
    })
  }

  it("SEC-11: the server refuses any line before the client's version (hello, then a version)", () => {
    assert.strictEqual(parse("server", "hello\r\nSSH-2.0-x\r\n")._tag, "Failed")
    // …already at the first line end, without waiting for more.
    assert.strictEqual(parse("server", "hello\r\n")._tag, "Failed")
  })

  it("LIM-02: the client skips up to 1 024 lines before the server's version", () => {
    const lines = (n: number) => "Banner line\r\n".repeat(n) + "SSH-2.0-x\r\n"
    assert.strictEqual(parse("client", lines(1000))._tag, "Done")
    assert.strictEqual(parse("client", lines(1024))._tag, "Done")
    assert.strictEqual(parse("client", lines(1025))._tag, "Failed")
    // asyncssh test_too_many_banner_lines
    assert.strictEqual(parse("client", lines(2048))._tag, "Failed")
    // In small chunks, too.
    assert.strictEqual(parse("client", lines(1000), 7)._tag, "Done")
    assert.strictEqual(parse("client", lines(2048), 7)._tag, "Failed")
  })

  it("LIM-02: a pre-version line is at most 8 192 bytes (asyncssh test_banner_line_too_long)", () => {
    const line = (n: number) => "B".repeat(n - 2) + "\r\n"
    assert.strictEqual(parse("client", line(8192) + "SSH-2.0-x\r\n")._tag, "Done")
    assert.strictEqual(parse("client", line(8193) + "SSH-2.0-x\r\n")._tag, "Failed")
    assert.strictEqual(parse("client", line(8193) + "SSH-2.0-x\r\n", 100)._tag, "Failed")
  })

  it("SEC-11 / LIM-02: 64 banner lines of 8 192 bytes in 16-byte chunks cost linear copying, not quadratic", () => {
    const parser = new Identification.IdentificationParser("client")
    const line = enc("D".repeat(8190) + "\r\n")
    let result: Identification.IdentificationResult = { _tag: "NeedMore" }
    const copied = countCopies(() => {
      for (let l = 0; l < 64; l++) {
        for (let i = 0; i < line.length; i += 16) {
          result = parser.push(line.subarray(i, i + 16))
          if (result._tag !== "NeedMore") return
        }
      }
      result = parser.push(enc("SSH-2.0-x\r\n"))
    })
    assert.strictEqual(result._tag, "Done")
    // A parser that re-copies the pending line on every push copies ~134 MB here.
    assert.isAtMost(copied, 4 * 64 * line.length)
  })

  it("LIM-02: skipped lines are not retained (the buffer holds only the current line)", () => {
    const parser = new Identification.IdentificationParser("client")
    // 1 000 lines of 8 000 bytes: ~8 MB in total, each chunk one line; must finish and not fail.
    const line = enc("C".repeat(7998) + "\r\n")
    for (let i = 0; i < 1000; i++) assert.strictEqual(parser.push(line)._tag, "NeedMore")
    assert.strictEqual(parser.push(enc("SSH-2.0-x\r\n"))._tag, "Done")
  })

  it("LIM-01: an identification line we may not send (too long, CR LF, NUL, not 2.0) is refused by encode", () => {
    for (const bad of ["SSH-2.0-" + "x".repeat(246), "SSH-2.0-x\r\nSSH-1.5-y", "SSH-2.0-a\0b", "SSH-1.5-x", "SSH-2.0-", "SSH-2.0-a-b", "x"]) {
      assert.throws(() => Identification.encode(bad), RangeError, undefined, JSON.stringify(bad))
    }
    for (const ok of ["SSH-2.0-" + "x".repeat(245), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10", "SSH-2.0-x "]) {
      assert.strictEqual(Identification.encode(ok).length, ok.length + 2)
    }
  })

  it("LIM-01: our own identification line is at most 255 bytes and well formed", () => {
    const line = Identification.encode()
    assert.isAtMost(line.length, 255)
    const text = new TextDecoder().decode(line)
    assert.match(text, /^SSH-2\.0-[\x21-\x7e]+( [\x20-\x7e]*)?\r\n$/)
    assert.strictEqual(parse("client", line)._tag, "Done")
    assert.strictEqual(parse("server", line)._tag, "Done")
  })
})
