/**
 * SFTP features on our client ↔ our server over an in-memory pipe: non-UTF-8 names kept losslessly (SftpNames),
 * resumed get/put, copy with each symbolic-link policy, the server's concurrent READ/WRITE keeping the order of
 * overlapping requests (SEC-52), and the node:fs backend's O_NOFOLLOW open and rmdir(2) (SEC-54).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Queue, Stream } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeSftp from "../../../src/node/NodeSftp.js"
import * as Sftp from "../../../src/sftp/Sftp.js"
import { fileType, OpenFlag } from "../../../src/sftp/SftpAttrs.js"
import type { SftpFileSystem } from "../../../src/sftp/SftpFileSystem.js"
import * as SftpMemoryFileSystem from "../../../src/sftp/SftpMemoryFileSystem.js"
import * as SftpMessages from "../../../src/sftp/SftpMessages.js"
import * as SftpNames from "../../../src/sftp/SftpNames.js"
import * as SftpServer from "../../../src/sftp/SftpServer.js"
import * as SftpTransfer from "../../../src/sftp/SftpTransfer.js"

const pair = (backend: SftpFileSystem) =>
  Effect.gen(function*() {
    const toServer = yield* Queue.bounded<Uint8Array>(256)
    const toClient = yield* Queue.bounded<Uint8Array>(256)
    yield* Effect.forkScoped(
      SftpServer.serve(backend, Stream.fromQueue(toServer), (b) => Queue.offer(toClient, b)).pipe(
        Effect.ensuring(Queue.shutdown(toClient))
      )
    )
    return yield* Sftp.makeFromPipe({ output: Stream.fromQueue(toClient), write: (b) => Queue.offer(toServer, b) })
  })

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftp-features-"))
const bytes = (n: number, seed = 1) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff)

describe("SftpNames: non-UTF-8 names", () => {
  it("decode ∘ encode is the identity on any bytes, and valid UTF-8 decodes as UTF-8", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      assert.deepStrictEqual(SftpNames.encode(SftpNames.decode(b)), b)
    }))
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => {
      assert.strictEqual(SftpNames.decode(new TextEncoder().encode(s)), s)
      assert.deepStrictEqual(SftpNames.encode(s), new TextEncoder().encode(s))
    }))
    assert.strictEqual(SftpNames.decode(new Uint8Array([0x63, 0x61, 0x66, 0xe9])), "caf\udce9")
    assert.isTrue(SftpNames.hasEscapes("caf\udce9"))
  })

  it("a NAME reply with Latin-1 names decodes (no BadMessage) and encodes back to the same bytes", () => {
    const latin1 = new Uint8Array([0x4b, 0xe4, 0x73, 0x65]) // "Käse" in Latin-1
    const name = SftpNames.decode(latin1)
    const packet = SftpMessages.encode({ _tag: "Name", id: 7, entries: [{ filename: name, longname: name, attrs: {} }] })
    const decoded = Either.getOrThrow(SftpMessages.decode(packet))
    assert.strictEqual(decoded._tag === "Name" ? decoded.entries[0]!.filename : "", name)
    assert.deepStrictEqual(SftpMessages.encode(decoded), packet)
  })

  it.scoped("a file with a non-UTF-8 name on disk is listed, read, renamed and removed through our server", () =>
    Effect.gen(function*() {
      const root = tempDir()
      const raw = Buffer.from([0x6e, 0xe9, 0xff, 0x2e, 0x74, 0x78, 0x74]) // "n\xe9\xff.txt"
      fs.writeFileSync(Buffer.concat([Buffer.from(root + "/"), raw]), "latin")
      const sftp = yield* pair(NodeSftp.diskFileSystem(root))
      const names = yield* sftp.listdir("/")
      assert.deepStrictEqual(names, [SftpNames.decode(raw)])
      const name = "/" + names[0]!
      assert.strictEqual(new TextDecoder().decode(yield* sftp.readFile(name)), "latin")
      yield* sftp.rename(name, name + ".old")
      assert.isTrue(fs.existsSync(Buffer.concat([Buffer.from(root + "/"), raw, Buffer.from(".old")])))
      yield* sftp.remove(name + ".old")
      assert.deepStrictEqual(fs.readdirSync(root), [])
    }))
})

describe("SftpTransfer: resume and copy", () => {
  it.scoped("get and put with resume complete partial files from their length; a larger one fails", () =>
    Effect.gen(function*() {
      const remoteFs = SftpMemoryFileSystem.make()
      const local = SftpMemoryFileSystem.make()
      const sftp = yield* pair(remoteFs)
      const data = bytes(700_001)
      yield* sftp.writeFile("/src.bin", data)
      // A partial local copy: the first 300 000 bytes, and garbage-free resumption after them.
      const part = yield* local.open("/dst.bin", OpenFlag.WRITE | OpenFlag.CREAT, {})
      yield* part.write(0n, data.subarray(0, 300_000))
      yield* part.close
      const events: Array<number> = []
      yield* SftpTransfer.get(sftp, "/src.bin", local, "/dst.bin", {
        resume: true,
        onProgress: (e) => Effect.sync(() => void events.push(e.bytes))
      })
      const back = yield* local.open("/dst.bin", OpenFlag.READ, {})
      assert.deepStrictEqual(yield* back.read(0n, 1_000_000), data)
      assert.strictEqual(events[0]! > 300_000, true, "progress starts after what was there")
      // put: the remote has a prefix; resume sends the rest.
      yield* sftp.writeFile("/up.bin", data.subarray(0, 123_457))
      yield* SftpTransfer.put(sftp, local, "/dst.bin", "/up.bin", { resume: true })
      assert.deepStrictEqual(yield* sftp.readFile("/up.bin"), data)
      // Nothing to do when complete; a longer destination is refused.
      yield* SftpTransfer.put(sftp, local, "/dst.bin", "/up.bin", { resume: true })
      yield* sftp.writeFile("/long.bin", bytes(800_000))
      const e = yield* Effect.flip(SftpTransfer.get(sftp, "/src.bin", local, "/dst.bin", { resume: true }).pipe(
        Effect.zipRight(SftpTransfer.put(sftp, local, "/dst.bin", "/long.bin", { resume: true }))
      ))
      assert.strictEqual(e.code, "Failure")
      assert.deepStrictEqual(yield* sftp.readFile("/long.bin"), bytes(800_000))
    }))

  it.scoped("copy -r on the server with each symlink policy, preserving modes", () =>
    Effect.gen(function*() {
      const sftp = yield* pair(SftpMemoryFileSystem.make())
      assert.isTrue(sftp.extensions.has("copy-data"))
      yield* sftp.makedirs("/t/sub")
      yield* sftp.writeFile("/t/sub/f", bytes(70_000))
      yield* sftp.chmod("/t/sub/f", 0o640)
      yield* sftp.writeFile("/outside", bytes(10, 9))
      yield* sftp.symlink("/outside", "/t/link")
      yield* SftpTransfer.copy(sftp, "/t", "/skip", { recursive: true, preserve: true })
      assert.deepStrictEqual(yield* sftp.listdir("/skip"), ["sub"])
      assert.deepStrictEqual(yield* sftp.readFile("/skip/sub/f"), bytes(70_000))
      assert.strictEqual(((yield* sftp.stat("/skip/sub/f")).permissions ?? 0) & 0o777, 0o640)
      yield* SftpTransfer.copy(sftp, "/t", "/follow", { recursive: true, symlinks: "follow" })
      assert.strictEqual(fileType(yield* sftp.lstat("/follow/link")), "file")
      assert.deepStrictEqual(yield* sftp.readFile("/follow/link"), bytes(10, 9))
      yield* SftpTransfer.copy(sftp, "/t", "/links", { recursive: true, symlinks: "copy" })
      assert.strictEqual(fileType(yield* sftp.lstat("/links/link")), "symlink")
      assert.strictEqual(yield* sftp.readlink("/links/link"), "/outside")
      const e = yield* Effect.flip(SftpTransfer.copy(sftp, "/t", "/norec"))
      assert.strictEqual(e.code, "Failure")
    }))
})

describe("SftpServer: concurrent requests keep the order of overlapping ones (SEC-52)", () => {
  it.scoped("pipelined WRITEs then overlapping READs, none awaited before the next is sent, see every write", () =>
    Effect.gen(function*() {
      const root = tempDir()
      const sftp = yield* pair(NodeSftp.diskFileSystem(root))
      const f = yield* sftp.open("/f", "w+")
      // 64 writes of 16 KiB, each overwriting half of the one before, then a read of each range: all in flight.
      const pieces = Array.from({ length: 64 }, (_, i) => bytes(16_384, i))
      const writes = yield* Effect.forEach(pieces, (p, i) => Effect.fork(f.write(p, i * 8_192)), { concurrency: "unbounded" })
      const reads = yield* Effect.forEach(pieces, (_, i) => Effect.fork(f.read(16_384, i * 8_192)), { concurrency: "unbounded" })
      for (const w of writes) yield* w.await
      const results = yield* Effect.forEach(reads, (r) => r.await)
      const expected = new Uint8Array(64 * 8_192 + 8_192)
      pieces.forEach((p, i) => expected.set(p, i * 8_192))
      results.forEach((exit, i) => {
        assert.strictEqual(exit._tag, "Success")
        if (exit._tag === "Success") assert.deepStrictEqual(exit.value, expected.subarray(i * 8_192, i * 8_192 + 16_384))
      })
      assert.deepStrictEqual(new Uint8Array(fs.readFileSync(path.join(root, "f"))), expected)
    }))

  it.scopedLive("SEC-52: writes of a handle opened with APPEND run one at a time, in the order sent (OpenSSH's reput)", () =>
    Effect.gen(function*() {
      const base = SftpMemoryFileSystem.make()
      let running = 0
      let peak = 0
      // Like Linux pwrite(2) under O_APPEND: the offset is ignored and the data goes to the end, after a delay that
      // varies per write, so concurrent writes would land out of order.
      const appending: SftpFileSystem = {
        ...base,
        open: (p, flags, a) =>
          Effect.map(base.open(p, flags, a), (file) => ({
            ...file,
            write: (offset, data) =>
              (flags & OpenFlag.APPEND) === 0 ? file.write(offset, data) : Effect.acquireUseRelease(
                Effect.sync(() => {
                  running++
                  peak = Math.max(peak, running)
                }),
                () =>
                  Effect.zipRight(
                    Effect.sleep(`${(data[0]! * 7) % 5} millis`),
                    Effect.flatMap(file.stat, (at) => file.write(at.size ?? 0n, data))
                  ),
                () => Effect.sync(() => void running--)
              )
          }))
      }
      const sftp = yield* pair(appending)
      const f = yield* sftp.open("/log", OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.APPEND)
      const pieces = Array.from({ length: 32 }, (_, i) => new Uint8Array(1_000).fill(i))
      const writes = yield* Effect.forEach(pieces, (p, i) => Effect.fork(f.write(p, i * 1_000)), { concurrency: "unbounded" })
      for (const w of writes) assert.strictEqual((yield* w.await)._tag, "Success")
      const got = yield* sftp.readFile("/log")
      const expected = new Uint8Array(32_000)
      pieces.forEach((p, i) => expected.set(p, i * 1_000))
      assert.deepStrictEqual(got, expected)
      assert.strictEqual(peak, 1)
    }))

  it.scopedLive("at most 16 requests run at once on the backend", () =>
    Effect.gen(function*() {
      const base = SftpMemoryFileSystem.make()
      let running = 0
      let peak = 0
      const counted: SftpFileSystem = {
        ...base,
        open: (p, flags, a) =>
          Effect.map(base.open(p, flags, a), (file) => ({
            ...file,
            read: (offset, length) =>
              Effect.acquireUseRelease(
                Effect.sync(() => {
                  running++
                  peak = Math.max(peak, running)
                }),
                () => Effect.zipRight(Effect.sleep("2 millis"), file.read(offset, length)),
                () => Effect.sync(() => void running--)
              )
          }))
      }
      const sftp = yield* pair(counted)
      yield* sftp.writeFile("/big", bytes(4_000_000))
      const got = yield* sftp.stream("/big", { blockSize: 32_768, requests: 64 }).pipe(Stream.runCollect)
      assert.strictEqual([...got].reduce((n, c) => n + c.length, 0), 4_000_000)
      assert.isTrue(peak > 1, `reads overlapped (peak ${peak})`)
      assert.isAtMost(peak, 16)
    }))
})

describe("NodeSftp.diskFileSystem (SEC-54)", () => {
  it.effect("open does not follow a link that replaced the last component; rmdir refuses non-empty dirs and links", () =>
    Effect.gen(function*() {
      const root = tempDir()
      const outside = tempDir()
      fs.writeFileSync(path.join(outside, "secret"), "secret")
      fs.symlinkSync(path.join(outside, "secret"), path.join(root, "swapped"))
      const disk = NodeSftp.diskFileSystem(root)
      // The server resolves links first; a backend call with a link as the last component is the race's loser.
      const e = yield* Effect.flip(disk.open("/swapped", OpenFlag.READ, {}))
      assert.strictEqual(e.code, "NoSuchFile")
      assert.notInclude(e.message, outside)
      fs.mkdirSync(path.join(root, "d"))
      fs.writeFileSync(path.join(root, "d", "x"), "x")
      const full = yield* Effect.flip(disk.rmdir("/d"))
      assert.strictEqual(full.code, "Failure")
      assert.strictEqual(full.description, "Directory not empty")
      fs.symlinkSync(outside, path.join(root, "dirlink"))
      assert.strictEqual((yield* Effect.flip(disk.rmdir("/dirlink"))).code, "NoSuchFile")
      assert.isTrue(fs.existsSync(path.join(outside, "secret")))
      fs.unlinkSync(path.join(root, "d", "x"))
      yield* disk.rmdir("/d")
      assert.isFalse(fs.existsSync(path.join(root, "d")))
      // lsetstat on a link: permissions cannot be set without following it (Linux has no lchmod): refused.
      const before = fs.statSync(path.join(outside, "secret")).mode
      const perm = yield* Effect.flip(disk.setstat("/swapped", { permissions: 0o600 }))
      assert.strictEqual(perm.code, "OpUnsupported")
      assert.strictEqual(fs.statSync(path.join(outside, "secret")).mode, before)
    }))
})
