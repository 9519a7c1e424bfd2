import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Reader from "../../../src/wire/Reader.js"
import * as Writer from "../../../src/wire/Writer.js"

const numRuns = process.env.FUZZ ? 100_000 : 100
const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => parseInt(b, 16)))
const read = <A>(bytes: Uint8Array, f: (r: Reader.Reader) => A) =>
  Reader.run(bytes, (r) => {
    const a = f(r)
    r.end_()
    return a
  })
const reason = <A>(e: Either.Either<A, { readonly reason: string }>): string | undefined =>
  Either.isLeft(e) ? e.left.reason : undefined
const nameListBytes = (text: string): Uint8Array => Writer.build((w) => w.string(text))

describe("Reader / Writer primitives (RFC 4251 §5)", () => {
  it("SEC-09: FF FF FF FF decodes to 4294967295", () => {
    assert.deepStrictEqual(read(hex("ffffffff"), (r) => r.uint32()), Either.right(4294967295))
  })

  it("SEC-09: uint32 ≥ 2^31 round-trips without sign trouble", () => {
    const bytes = Writer.build((w) => w.uint32(0x80000000))
    assert.deepStrictEqual(bytes, hex("80000000"))
    assert.deepStrictEqual(read(bytes, (r) => r.uint32()), Either.right(0x80000000))
  })

  it("SEC-09: uint64 is a bigint", () => {
    assert.deepStrictEqual(read(hex("ffffffffffffffff"), (r) => r.uint64()), Either.right(2n ** 64n - 1n))
  })

  it("RFC 4251 §5: boolean is any non-zero byte", () => {
    assert.deepStrictEqual(read(hex("02"), (r) => r.boolean()), Either.right(true))
    assert.deepStrictEqual(read(hex("00"), (r) => r.boolean()), Either.right(false))
  })

  it("SEC-09: mpint 0 ⇄ 00 00 00 00", () => {
    assert.deepStrictEqual(Writer.build((w) => w.mpint(0n)), hex("00000000"))
    assert.deepStrictEqual(read(hex("00000000"), (r) => r.mpint()), Either.right(0n))
  })

  it("RFC 4251 §5: mpint examples", () => {
    assert.deepStrictEqual(Writer.build((w) => w.mpint(0x9a378f9b2e332a7n)), hex("00000008 09a378f9b2e332a7"))
    assert.deepStrictEqual(Writer.build((w) => w.mpint(0x80n)), hex("00000002 0080"))
    assert.deepStrictEqual(read(hex("00000002 0080"), (r) => r.mpint()), Either.right(0x80n))
  })

  it("SEC-09: negative mpint is rejected", () => {
    // RFC 4251 §5: -1234 is 00 00 00 02 fb 2e
    assert.strictEqual(reason(read(hex("00000002 fb2e"), (r) => r.mpint())), "Invalid")
    assert.strictEqual(reason(read(hex("00000001 80"), (r) => r.mpint())), "Invalid")
  })

  it("SEC-09: 2050-byte mpint is rejected", () => {
    const body = new Uint8Array(2050)
    body[0] = 0x01
    assert.strictEqual(reason(read(Writer.build((w) => w.string(body)), (r) => r.mpint())), "TooLarge")
  })

  it("SEC-09: 16384-bit mpint (2049 bytes with the sign byte) is accepted", () => {
    const v = 2n ** 16384n - 1n
    const bytes = Writer.build((w) => w.mpint(v))
    assert.strictEqual(bytes.length, 4 + 2049)
    assert.deepStrictEqual(read(bytes, (r) => r.mpint()), Either.right(v))
  })

  it("SEC-09: non-minimal mpint is rejected", () => {
    assert.strictEqual(reason(read(hex("00000002 0001"), (r) => r.mpint())), "Invalid")
    assert.strictEqual(reason(read(hex("00000001 00"), (r) => r.mpint())), "Invalid")
  })

  it("SEC-09: declared string length beyond the end is Truncated, not an allocation", () => {
    assert.strictEqual(reason(read(hex("ffffffff 00"), (r) => r.string())), "Truncated")
    assert.strictEqual(reason(read(hex("000000"), (r) => r.uint32())), "Truncated")
  })

  it("SEC-09: trailing bytes are rejected", () => {
    assert.strictEqual(reason(read(hex("00000001 00"), (r) => r.uint32())), "TrailingBytes")
  })

  it("SEC-09: UTF-8 fields are decoded strictly", () => {
    assert.strictEqual(reason(read(hex("00000002 c328"), (r) => r.utf8())), "BadUtf8")
    assert.deepStrictEqual(read(Writer.build((w) => w.string("héllo ✓")), (r) => r.utf8()), Either.right("héllo ✓"))
  })

  it("SEC-09: NUL is rejected in ASCII names", () => {
    assert.strictEqual(reason(read(hex("00000003 610062"), (r) => r.ascii())), "Invalid")
  })

  it("LIM-12: a 64-char name is accepted, a 65-char name rejected", () => {
    assert.deepStrictEqual(read(nameListBytes("a".repeat(64)), (r) => r.nameList()), Either.right(["a".repeat(64)]))
    assert.strictEqual(reason(read(nameListBytes("a".repeat(65)), (r) => r.nameList())), "Invalid")
  })

  it("SEC-16: `a,,b` is rejected, as are leading and trailing commas", () => {
    assert.strictEqual(reason(read(nameListBytes("a,,b"), (r) => r.nameList())), "Invalid")
    assert.strictEqual(reason(read(nameListBytes(",a"), (r) => r.nameList())), "Invalid")
    assert.strictEqual(reason(read(nameListBytes("a,"), (r) => r.nameList())), "Invalid")
  })

  it("SEC-16: a control character, space, DEL or non-ASCII byte in a name is rejected", () => {
    for (const bad of ["a\x01b", "a b", "a\x7fb", "a\x00b", "a\tb"]) {
      assert.strictEqual(reason(read(nameListBytes(bad), (r) => r.nameList())), "Invalid", JSON.stringify(bad))
    }
    assert.strictEqual(reason(read(hex("00000002 61c3"), (r) => r.nameList())), "Invalid")
  })

  it("LIM-12: 128 names are accepted, 129 rejected", () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`)
    assert.deepStrictEqual(read(nameListBytes(names(128).join(",")), (r) => r.nameList()), Either.right(names(128)))
    assert.strictEqual(reason(read(nameListBytes(names(129).join(",")), (r) => r.nameList())), "TooLarge")
  })

  it("LIM-12: a list over 8 KiB is rejected before it is split", () => {
    const list = Array.from({ length: 3000 }, () => "x".repeat(64)).join(",")
    const start = performance.now()
    assert.strictEqual(reason(read(nameListBytes(list), (r) => r.nameList())), "TooLarge")
    assert.isBelow(performance.now() - start, 2000)
  })

  it("RFC 4251 §5: the empty name-list is zero names", () => {
    assert.deepStrictEqual(read(hex("00000000"), (r) => r.nameList()), Either.right([]))
  })

  it("Writer grows past its initial size", () => {
    const big = new Uint8Array(10_000).fill(7)
    assert.deepStrictEqual(read(Writer.build((w) => w.string(big), 4), (r) => r.string()), Either.right(big))
  })

  it("Reader.run reports a non-WireError exception as Unknown instead of throwing", () => {
    const e = Reader.run(new Uint8Array(0), () => {
      throw new Error("bug")
    })
    assert.strictEqual(reason(e), "Unknown")
  })
})

describe("Reader / Writer properties", () => {
  const arbName = FastCheck.stringMatching(/^[\x21-\x2b\x2d-\x7e]{1,64}$/)

  it.prop("uint32 round-trips", [FastCheck.nat({ max: 0xffffffff })], ([n]) => {
    assert.deepStrictEqual(read(Writer.build((w) => w.uint32(n)), (r) => r.uint32()), Either.right(n))
  }, { fastCheck: { numRuns } })

  it.prop("uint64 round-trips", [FastCheck.bigUintN(64)], ([n]) => {
    assert.deepStrictEqual(read(Writer.build((w) => w.uint64(n)), (r) => r.uint64()), Either.right(n))
  }, { fastCheck: { numRuns } })

  const arbMpint = FastCheck.oneof(FastCheck.bigUintN(64), FastCheck.bigUintN(2048), FastCheck.bigUintN(16384))
  it.prop("mpint round-trips and is minimal", [arbMpint], ([n]) => {
    const bytes = Writer.build((w) => w.mpint(n))
    assert.deepStrictEqual(read(bytes, (r) => r.mpint()), Either.right(n))
    assert.deepStrictEqual(Either.map(read(bytes, (r) => r.string()), Reader.mpintFromBytes), Either.right(n))
  }, { fastCheck: { numRuns: Math.min(numRuns, 5_000) } })

  it.prop("mpintFromUnsigned gives the mpint body of the same value", [FastCheck.uint8Array({ maxLength: 80 })], ([b]) => {
    const value = b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n)
    assert.deepStrictEqual(Writer.mpintFromUnsigned(b), Writer.mpintBytes(value))
  }, { fastCheck: { numRuns } })

  it.prop("string round-trips", [FastCheck.uint8Array({ maxLength: 2048 })], ([b]) => {
    assert.deepStrictEqual(read(Writer.build((w) => w.string(b)), (r) => r.string()), Either.right(b))
  }, { fastCheck: { numRuns } })

  it.prop("utf8 round-trips", [FastCheck.fullUnicodeString({ maxLength: 200 })], ([s]) => {
    assert.deepStrictEqual(read(Writer.build((w) => w.string(s)), (r) => r.utf8()), Either.right(s))
  }, { fastCheck: { numRuns } })

  it.prop("name-list round-trips", [FastCheck.array(arbName, { maxLength: 128 })], ([names]) => {
    assert.deepStrictEqual(read(Writer.build((w) => w.nameList(names)), (r) => r.nameList()), Either.right(names))
  }, { fastCheck: { numRuns } })

  it.prop("no primitive throws on garbage", [FastCheck.uint8Array({ maxLength: 64 })], ([bytes]) => {
    const readers: ReadonlyArray<(r: Reader.Reader) => unknown> = [
      (r) => r.mpint(),
      (r) => r.nameList(),
      (r) => r.utf8(),
      (r) => r.ascii(),
      (r) => r.uint64()
    ]
    for (const f of readers) {
      assert.isTrue(Either.isEither(Reader.run(bytes, f)))
    }
  }, { fastCheck: { numRuns } })
})
