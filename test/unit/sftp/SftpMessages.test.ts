/**
 * The SFTP v3 codec: decode ∘ encode = id for every packet and every OpenSSH extension, decoding never throws on
 * random or mutated bytes, bounded counts (SEC-08, SEC-57), handle length (SEC-53, LIM-28), framing (SEC-52,
 * LIM-26), and hand-written byte vectors as OpenSSH's sftp-server sends them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as SftpAttrs from "../../../src/sftp/SftpAttrs.js"
import * as SftpExtensions from "../../../src/sftp/SftpExtensions.js"
import { PacketAssembler } from "../../../src/sftp/SftpFraming.js"
import * as SftpMessages from "../../../src/sftp/SftpMessages.js"
import * as Writer from "../../../src/wire/Writer.js"
import * as Fuzz from "../../helpers/Fuzz.js"

const u32 = FastCheck.nat({ max: 0xffffffff })
const u64 = FastCheck.bigInt({ min: 0n, max: (1n << 64n) - 1n })
const str = FastCheck.string({ maxLength: 40 })
const handle = FastCheck.uint8Array({ maxLength: 256 })
const bytes = FastCheck.uint8Array({ maxLength: 300 })

const arbAttrs: FastCheck.Arbitrary<SftpAttrs.Attributes> = FastCheck.record({
  size: FastCheck.option(u64, { nil: undefined }),
  ids: FastCheck.option(FastCheck.tuple(u32, u32), { nil: undefined }),
  permissions: FastCheck.option(u32, { nil: undefined }),
  times: FastCheck.option(FastCheck.tuple(u32, u32), { nil: undefined }),
  extended: FastCheck.option(
    FastCheck.array(FastCheck.record({ type: str, data: FastCheck.uint8Array({ maxLength: 20 }) }), {
      minLength: 1,
      maxLength: 3
    }),
    { nil: undefined }
  )
}).map((a) => {
  const out: Record<string, unknown> = {}
  if (a.size !== undefined) out.size = a.size
  if (a.ids !== undefined) [out.uid, out.gid] = a.ids
  if (a.permissions !== undefined) out.permissions = a.permissions
  if (a.times !== undefined) [out.atime, out.mtime] = a.times
  if (a.extended !== undefined) out.extended = a.extended
  return out as SftpAttrs.Attributes
})

const arbExtension: FastCheck.Arbitrary<SftpExtensions.ExtendedRequest> = FastCheck.oneof(
  FastCheck.record({ _tag: FastCheck.constant("PosixRename" as const), oldPath: str, newPath: str }),
  FastCheck.record({ _tag: FastCheck.constant("Statvfs" as const), path: str }),
  FastCheck.record({ _tag: FastCheck.constant("Fstatvfs" as const), handle }),
  FastCheck.record({ _tag: FastCheck.constant("Hardlink" as const), oldPath: str, newPath: str }),
  FastCheck.record({ _tag: FastCheck.constant("Fsync" as const), handle }),
  FastCheck.record({ _tag: FastCheck.constant("Lsetstat" as const), path: str, attrs: arbAttrs }),
  FastCheck.record({ _tag: FastCheck.constant("Limits" as const) }),
  FastCheck.record({ _tag: FastCheck.constant("ExpandPath" as const), path: str }),
  FastCheck.record({
    _tag: FastCheck.constant("CopyData" as const),
    readHandle: handle,
    readOffset: u64,
    length: u64,
    writeHandle: handle,
    writeOffset: u64
  }),
  FastCheck.record({ _tag: FastCheck.constant("HomeDirectory" as const), username: str }),
  FastCheck.record({
    _tag: FastCheck.constant("UsersGroupsById" as const),
    uids: FastCheck.array(u32, { maxLength: 10 }),
    gids: FastCheck.array(u32, { maxLength: 10 })
  }),
  FastCheck.record({ _tag: FastCheck.constant("Unknown" as const), name: str.map((s) => `x-${s}@example.com`), data: bytes })
)

const id = u32
const path = str
const c = <T extends string>(t: T) => FastCheck.constant(t)
const arbExts = FastCheck.array(FastCheck.record({ name: str, data: str }), { maxLength: 5 })

const arbMessage: FastCheck.Arbitrary<SftpMessages.SftpMessage> = FastCheck.oneof(
  FastCheck.record({ _tag: c("Init"), version: u32, extensions: arbExts }),
  FastCheck.record({ _tag: c("Version"), version: u32, extensions: arbExts }),
  FastCheck.record({ _tag: c("Open"), id, path, pflags: u32, attrs: arbAttrs }),
  FastCheck.record({ _tag: c("Close"), id, handle }),
  FastCheck.record({ _tag: c("Read"), id, handle, offset: u64, length: u32 }),
  FastCheck.record({ _tag: c("Write"), id, handle, offset: u64, data: bytes }),
  ...(["Lstat", "Opendir", "Remove", "Rmdir", "Realpath", "Stat", "Readlink"] as const).map((t) =>
    FastCheck.record({ _tag: c(t), id, path })
  ),
  FastCheck.record({ _tag: c("Fstat"), id, handle }),
  FastCheck.record({ _tag: c("Readdir"), id, handle }),
  FastCheck.record({ _tag: c("Setstat"), id, path, attrs: arbAttrs }),
  FastCheck.record({ _tag: c("Mkdir"), id, path, attrs: arbAttrs }),
  FastCheck.record({ _tag: c("Fsetstat"), id, handle, attrs: arbAttrs }),
  FastCheck.record({ _tag: c("Rename"), id, oldPath: path, newPath: path }),
  FastCheck.record({ _tag: c("Symlink"), id, target: path, linkPath: path }),
  FastCheck.record({ _tag: c("Extended"), id, request: arbExtension }),
  FastCheck.record({ _tag: c("Status"), id, code: u32, message: str, language: str }),
  FastCheck.record({ _tag: c("Handle"), id, handle }),
  FastCheck.record({ _tag: c("Data"), id, data: bytes }),
  FastCheck.record({
    _tag: c("Name"),
    id,
    entries: FastCheck.array(FastCheck.record({ filename: str, longname: str, attrs: arbAttrs }), { maxLength: 5 })
  }),
  FastCheck.record({ _tag: c("Attrs"), id, attrs: arbAttrs }),
  FastCheck.record({ _tag: c("ExtendedReply"), id, data: bytes })
) as FastCheck.Arbitrary<SftpMessages.SftpMessage>

/** Byte fields decode as views; compare as plain arrays. */
const plain = (u: unknown): unknown =>
  u instanceof Uint8Array ? Array.from(u) :
  Array.isArray(u) ? u.map(plain) :
  typeof u === "object" && u !== null ? Object.fromEntries(Object.entries(u).map(([k, v]) => [k, plain(v)])) : u

describe("SftpMessages", () => {
  it.prop("decode ∘ encode = id (every packet, every extension)", [arbMessage], ([m]) => {
    const back = SftpMessages.decode(SftpMessages.encode(m))
    assert.isTrue(Either.isRight(back))
    assert.deepStrictEqual(plain(Either.getOrThrow(back)), plain(m))
  })

  it.prop("encodePacket = uint32 length ‖ encode (WRITE and DATA framed in one allocation)", [arbMessage], ([m]) => {
    const framed = SftpMessages.encodePacket(m)
    const body = SftpMessages.encode(m)
    assert.strictEqual(new DataView(framed.buffer).getUint32(0), body.length)
    assert.deepStrictEqual(Array.from(framed.subarray(4)), Array.from(body))
  })

  it.prop("decode never throws on random bytes", [FastCheck.uint8Array({ maxLength: 200 })], ([b]) => {
    Fuzz.assertNoBug(SftpMessages.decode(b))
  })

  it.prop("decode never throws on mutated valid packets", [arbMessage, FastCheck.array(Fuzz.arbEdit, { minLength: 1, maxLength: 4 })], ([m, edits]) => {
    Fuzz.assertNoBug(SftpMessages.decode(Fuzz.mutate(SftpMessages.encode(m), edits)))
  })

  it("SEC-08 / SEC-57: a NAME count of 0x7FFFFFFF with one entry is refused without looping", () => {
    const body = Writer.build((w) => {
      w.byte(SftpMessages.PacketType.NAME).uint32(7).uint32(0x7fffffff).string("a").string("a").uint32(0)
    })
    const d = SftpMessages.decode(body)
    assert.strictEqual(Fuzz.reason(d), "TooLarge")
  })

  it("SEC-57: an ATTRS extended count beyond the bytes is refused", () => {
    const body = Writer.build((w) => {
      w.byte(SftpMessages.PacketType.ATTRS).uint32(1).uint32(SftpAttrs.AttrFlag.EXTENDED).uint32(0xffffffff)
    })
    assert.strictEqual(Fuzz.reason(SftpMessages.decode(body)), "TooLarge")
  })

  it("SEC-53 / LIM-28: a handle of 257 bytes is refused, 256 accepted", () => {
    const mk = (n: number) => Writer.build((w) => w.byte(SftpMessages.PacketType.CLOSE).uint32(1).string(new Uint8Array(n)))
    assert.strictEqual(Fuzz.reason(SftpMessages.decode(mk(257))), "TooLarge")
    assert.isTrue(Either.isRight(SftpMessages.decode(mk(256))))
  })

  it("trailing bytes after a packet are an error (SEC-09)", () => {
    const body = SftpMessages.encode({ _tag: "Close", id: 1, handle: new Uint8Array([1]) })
    const longer = new Uint8Array([...body, 0])
    assert.strictEqual(Fuzz.reason(SftpMessages.decode(longer)), "TrailingBytes")
  })

  it("a STATUS without message and language (old servers) decodes with empty texts", () => {
    const body = Writer.build((w) => w.byte(101).uint32(9).uint32(2))
    assert.deepStrictEqual(Either.getOrThrow(SftpMessages.decode(body)), {
      _tag: "Status",
      id: 9,
      code: 2,
      message: "",
      language: ""
    })
  })

  it("VERSION as OpenSSH 9.2 sftp-server sends it (byte vector)", () => {
    const body = Writer.build((w) => {
      w.byte(2).uint32(3)
      w.string("posix-rename@openssh.com").string("1")
      w.string("limits@openssh.com").string("1")
    })
    assert.deepStrictEqual(Either.getOrThrow(SftpMessages.decode(body)), {
      _tag: "Version",
      version: 3,
      extensions: [{ name: "posix-rename@openssh.com", data: "1" }, { name: "limits@openssh.com", data: "1" }]
    })
    assert.deepStrictEqual(Array.from(body.subarray(0, 9)), [2, 0, 0, 0, 3, 0, 0, 0, 24])
  })

  it("extension replies round-trip: statvfs, limits, users-groups-by-id", () => {
    const s: SftpExtensions.StatVfs = {
      bsize: 4096n, frsize: 4096n, blocks: 10n, bfree: 5n, bavail: 4n, files: 100n, ffree: 50n, favail: 50n,
      fsid: 7n, flag: 1n, namemax: 255n
    }
    assert.deepStrictEqual(Either.getOrThrow(SftpExtensions.decodeStatVfs(SftpExtensions.encodeStatVfs(s))), s)
    const l = { maxPacketLength: 262144n, maxReadLength: 261120n, maxWriteLength: 261120n, maxOpenHandles: 1000n }
    assert.deepStrictEqual(Either.getOrThrow(SftpExtensions.decodeLimits(SftpExtensions.encodeLimits(l))), l)
    const u = { users: ["root", ""], groups: ["wheel"] }
    assert.deepStrictEqual(Either.getOrThrow(SftpExtensions.decodeUsersGroups(SftpExtensions.encodeUsersGroups(u))), u)
    Fuzz.assertNoBug(SftpExtensions.decodeStatVfs(new Uint8Array(7)))
    Fuzz.assertNoBug(SftpExtensions.decodeUsersGroups(new Uint8Array([0, 0, 0, 9, 0, 0, 0, 200])))
  })
})

describe("SftpFraming (SEC-52, LIM-26)", () => {
  it.prop("any split of a packet stream gives back the packets", [
    FastCheck.array(arbMessage, { minLength: 1, maxLength: 6 }),
    FastCheck.array(FastCheck.nat({ max: 64 }), { maxLength: 20 })
  ], ([ms, cuts]) => {
    const stream = Uint8Array.from(ms.flatMap((m) => Array.from(SftpMessages.encodePacket(m))))
    const a = new PacketAssembler()
    const got: Array<Uint8Array> = []
    let p = 0
    for (const cut of [...cuts, stream.length]) {
      const q = Math.min(stream.length, p + cut)
      got.push(...Either.getOrThrow(a.push(stream.subarray(p, q))))
      p = q
    }
    assert.deepStrictEqual(got.map((b) => plain(Either.getOrThrow(SftpMessages.decode(b)))), ms.map(plain))
    assert.strictEqual(a.buffered, 0)
  })

  it("a length of 0x7FFFFFFF is refused before anything is buffered", () => {
    const a = new PacketAssembler()
    const r = a.push(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]))
    assert.strictEqual(Fuzz.reason(r), "TooLarge")
  })

  it("256 KiB is accepted, 256 KiB + 1 refused; length 0 refused", () => {
    const head = (n: number) => {
      const b = new Uint8Array(4)
      new DataView(b.buffer).setUint32(0, n)
      return b
    }
    assert.isTrue(Either.isRight(new PacketAssembler().push(head(262144))))
    assert.strictEqual(Fuzz.reason(new PacketAssembler().push(head(262145))), "TooLarge")
    assert.strictEqual(Fuzz.reason(new PacketAssembler().push(head(0))), "TooLarge")
  })
})
