/**
 * Our SFTP client against OpenSSH's sftp-server, every operation, twice: on the raw stdio of
 * `/usr/lib/openssh/sftp-server`, and as the "sftp" subsystem of `sshd -i` (both the external sftp-server and
 * `internal-sftp`). Checksums on every transfer; results checked against the local filesystem with node:fs.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Chunk, Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSftp from "../../src/node/NodeSftp.js"
import * as SshProcess from "../../src/session/SshProcess.js"
import * as Sftp from "../../src/sftp/Sftp.js"
import { fileType } from "../../src/sftp/SftpAttrs.js"
import * as Transport from "../../src/transport/Transport.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as RawAuth from "../helpers/RawAuth.js"

const SFTP_SERVER = "/usr/lib/openssh/sftp-server"
const has = OpenSsh.haveOpenSsh() && fs.existsSync(SFTP_SERVER)
const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username

const viaSshd = (subsystem: string) =>
  Effect.gen(function*() {
    const socket = yield* OpenSsh.sshdInetd({
      authorizedKeys: [RawAuth.authorizedKeyLine(userKey)],
      logLevel: "ERROR",
      extra: [`Subsystem sftp ${subsystem}`]
    })
    const t = yield* Transport.make(socket, { role: "client", verifyHostKey: () => Effect.void })
    yield* RawAuth.publickey(t, NodeCrypto, user, userKey, "ssh-ed25519")
    const mux = yield* ConnectionMux.make(t, { username: user, methods: ["publickey"] })
    return yield* Sftp.make({ subsystem: (name) => SshProcess.start(mux, { _tag: "Subsystem", name }) })
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

const random = (n: number) => {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)))
  return b
}
const hex = (b: Uint8Array) => Buffer.from(sha256(b)).toString("hex")
const concat = (c: Chunk.Chunk<Uint8Array>) => Buffer.concat(Chunk.toReadonlyArray(c))

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftp-"))

const suite = (name: string, start: Effect.Effect<Sftp.Sftp, unknown, import("effect/Scope").Scope>) =>
  describe.skipIf(!has)(`Sftp client ↔ ${name}`, () => {
    it.scopedLive("VERSION 3 with OpenSSH's extensions; limits@openssh.com sizes the requests", () =>
      Effect.gen(function*() {
        const sftp = yield* start
        assert.strictEqual(sftp.version, 3)
        for (const e of ["posix-rename@openssh.com", "statvfs@openssh.com", "hardlink@openssh.com", "fsync@openssh.com", "limits@openssh.com", "lsetstat@openssh.com"]) {
          assert.isTrue(sftp.extensions.has(e), e)
        }
        assert.strictEqual(sftp.limits?.maxPacketLength, 262144n)
      }))

    it.scopedLive("writeFile / readFile / stream / sink: 5 MiB + 17 bytes with checksums, offsets and append", () =>
      Effect.gen(function*() {
        const sftp = yield* start
        const dir = tmp()
        const data = random(5 * 1024 * 1024 + 17)
        const file = path.join(dir, "big.bin")
        yield* sftp.writeFile(file, data)
        assert.strictEqual(hex(fs.readFileSync(file)), hex(data))
        assert.strictEqual(hex(yield* sftp.readFile(file)), hex(data))
        const part = concat(yield* Stream.runCollect(sftp.stream(file, { offset: 1000, length: 300_000, blockSize: 7000, requests: 3 })))
        assert.strictEqual(hex(part), hex(data.subarray(1000, 301_000)))
        const n = yield* Stream.make(new Uint8Array([1, 2]), new Uint8Array([3])).pipe(Stream.run(sftp.sink(file, { append: true })))
        assert.strictEqual(n, 3)
        assert.strictEqual(fs.statSync(file).size, data.length + 3)
        // An empty file streams as nothing.
        yield* sftp.writeFile(path.join(dir, "empty"), new Uint8Array(0))
        assert.strictEqual((yield* sftp.readFile(path.join(dir, "empty"))).length, 0)
      }))

    it.scopedLive("open: scoped handles, read/write at offsets, fstat, fsetstat, fsync, fstatvfs", () =>
      Effect.gen(function*() {
        const sftp = yield* start
        const file = path.join(tmp(), "f.txt")
        yield* Effect.scoped(Effect.gen(function*() {
          const f = yield* sftp.open(file, "w+")
          yield* f.write(new TextEncoder().encode("hello world"), 0)
          yield* f.write(new TextEncoder().encode("W"), 6)
          assert.strictEqual(new TextDecoder().decode(yield* f.read(100, 0)), "hello World")
          assert.strictEqual((yield* f.read(10, 100)).length, 0)
          assert.strictEqual((yield* f.stat).size, 11n)
          yield* f.setstat({ permissions: 0o600 })
          yield* f.fsync
          assert.isTrue((yield* f.statvfs).bsize > 0n)
        }))
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
        const e = yield* Effect.flip(Effect.scoped(sftp.open(file, "x")))
        assert.strictEqual(e.code, "Failure")
        assert.strictEqual(e.path, file)
      }))

    it.scopedLive("stat family, setstat (chmod, utime, truncate), lsetstat, exists/isdir/isfile, typed errors", () =>
      Effect.gen(function*() {
        const sftp = yield* start
        const dir = tmp()
        const file = path.join(dir, "a")
        fs.writeFileSync(file, "0123456789")
        fs.symlinkSync("a", path.join(dir, "l"))
        assert.strictEqual((yield* sftp.stat(file)).size, 10n)
        assert.strictEqual(fileType(yield* sftp.lstat(path.join(dir, "l"))), "symlink")
        assert.strictEqual(fileType(yield* sftp.stat(path.join(dir, "l"))), "file")
        yield* sftp.chmod(file, 0o640)
        yield* sftp.truncate(file, 4)
        yield* sftp.utime(file, 1_000_000, 2_000_000)
        const st = fs.statSync(file)
        assert.deepStrictEqual([st.mode & 0o777, st.mtimeMs / 1000, st.size], [0o640, 2_000_000, 4])
        yield* sftp.lsetstat(file, { permissions: 0o644 })
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o644)
        assert.deepStrictEqual(
          [yield* sftp.exists(file), yield* sftp.exists(path.join(dir, "nope")), yield* sftp.isdir(dir), yield* sftp.isfile(dir), yield* sftp.isfile(file)],
          [true, false, true, false, true]
        )
        const e = yield* Effect.flip(sftp.stat(path.join(dir, "nope")))
        assert.strictEqual(e._tag, "SftpError")
        assert.strictEqual(e.code, "NoSuchFile")
        assert.strictEqual(e.operation, "stat")
        assert.strictEqual(e.path, path.join(dir, "nope"))
      }))

    it.scopedLive("directories: mkdir, readdir over several NAME replies, listdir, makedirs, walk, glob, rmtree, rmdir", () =>
      Effect.gen(function*() {
        const sftp = yield* start
        const dir = tmp()
        yield* sftp.mkdir(path.join(dir, "d"), { permissions: 0o700 })
        assert.strictEqual(fs.statSync(path.join(dir, "d")).mode & 0o777, 0o700)
        for (let i = 0; i < 250; i++) fs.writeFileSync(path.join(dir, "d", `f${i}.txt`), "")
        const names = yield* sftp.listdir(path.join(dir, "d"))
        assert.strictEqual(names.length, 250)
        const entries = yield* Stream.runCollect(sftp.readdir(path.join(dir, "d")))
        assert.isTrue(entries.length >= 250)
        yield* sftp.makedirs(path.join(dir, "x/y/z"))
        yield* sftp.makedirs(path.join(dir, "x/y/z"), { existOk: true })
        assert.strictEqual((yield* Effect.flip(sftp.makedirs(path.join(dir, "x/y")))).code, "Failure")
        fs.writeFileSync(path.join(dir, "x/y/z/leaf"), "1")
        const walked = yield* Stream.runCollect(sftp.walk(path.join(dir, "x")))
        assert.deepStrictEqual(Chunk.toReadonlyArray(walked).map((e) => path.relative(dir, e.path)), ["x/y", "x/y/z", "x/y/z/leaf"])
        assert.deepStrictEqual(
          (yield* sftp.glob(path.join(dir, "d/f1?.txt"))).map((p) => path.basename(p)),
          ["f10.txt", "f11.txt", "f12.txt", "f13.txt", "f14.txt", "f15.txt", "f16.txt", "f17.txt", "f18.txt", "f19.txt"]
        )
        assert.deepStrictEqual((yield* sftp.glob(path.join(dir, "*/y/*"))).map((p) => path.relative(dir, p)), ["x/y/z"])
        yield* sftp.rmtree(path.join(dir, "x"))
        assert.isFalse(fs.existsSync(path.join(dir, "x")))
        yield* sftp.mkdir(path.join(dir, "e"))
        yield* sftp.rmdir(path.join(dir, "e"))
        assert.isFalse(fs.existsSync(path.join(dir, "e")))
        assert.strictEqual((yield* Effect.flip(sftp.rmdir(path.join(dir, "d")))).code, "Failure")
      }))

    it.scopedLive("rename, posix-rename, remove, symlink, readlink, realpath, hardlink, copy-data", () =>
      Effect.gen(function*() {
        const sftp = yield* start
        const dir = fs.realpathSync(tmp())
        const p = (n: string) => path.join(dir, n)
        fs.writeFileSync(p("a"), "A")
        fs.writeFileSync(p("b"), "B")
        assert.strictEqual((yield* Effect.flip(sftp.rename(p("a"), p("b")))).code, "Failure")
        yield* sftp.posixRename(p("a"), p("b"))
        assert.strictEqual(fs.readFileSync(p("b"), "utf8"), "A")
        yield* sftp.rename(p("b"), p("c"))
        yield* sftp.symlink("c", p("s"))
        assert.strictEqual(yield* sftp.readlink(p("s")), "c")
        assert.strictEqual(yield* sftp.realpath(path.join(dir, "x/../c")), p("c"))
        yield* sftp.link(p("c"), p("h"))
        assert.strictEqual(fs.statSync(p("h")).ino, fs.statSync(p("c")).ino)
        yield* sftp.remoteCopy(p("c"), p("copy"))
        assert.strictEqual(fs.readFileSync(p("copy"), "utf8"), "A")
        yield* sftp.remove(p("h"))
        assert.isFalse(fs.existsSync(p("h")))
      }))

    it.scopedLive("statvfs, expand-path, home-directory, users-groups-by-id", () =>
      Effect.gen(function*() {
        const sftp = yield* start
        const v = yield* sftp.statvfs("/")
        assert.isTrue(v.blocks > 0n && v.namemax > 0n)
        const home = os.userInfo().homedir
        // sftp-server expands "~" from its start directory (the home under sshd, the cwd on raw stdio).
        const tilde = yield* sftp.expandPath("~")
        assert.isTrue(tilde.startsWith("/"))
        assert.strictEqual(yield* sftp.expandPath("~/."), tilde)
        assert.strictEqual(yield* sftp.homeDirectory(user), home)
        const ug = yield* sftp.usersGroupsById([os.userInfo().uid], [0])
        assert.deepStrictEqual(ug.users, [user])
        assert.strictEqual(ug.groups.length, 1)
      }))
  })

suite("sftp-server on raw stdio", NodeSftp.spawnClient(SFTP_SERVER, ["-e", "-l", "ERROR"]))
suite("sshd -i with Subsystem sftp-server", viaSshd(SFTP_SERVER))
suite("sshd -i with internal-sftp", viaSshd("internal-sftp"))
