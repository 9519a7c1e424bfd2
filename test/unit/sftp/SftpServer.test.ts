/**
 * Our SFTP client ↔ our SFTP server over an in-memory pipe, on the memory filesystem and on a temp directory
 * through @effect/platform's FileSystem and through node:fs (NodeSftp.diskFileSystem): the operations, virtual-root confinement (SEC-54), read-only mode
 * (SEC-55), handle limits (SEC-53), read clamping and readdir batches (SEC-56), framing (SEC-52), and a hostile
 * server against the client (SEC-57).
 */
import { NodeFileSystem } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Queue, Stream } from "effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeSftp from "../../../src/node/NodeSftp.js"
import * as Sftp from "../../../src/sftp/Sftp.js"
import { fileType } from "../../../src/sftp/SftpAttrs.js"
import type { SftpFileSystem } from "../../../src/sftp/SftpFileSystem.js"
import * as SftpMemoryFileSystem from "../../../src/sftp/SftpMemoryFileSystem.js"
import * as SftpMessages from "../../../src/sftp/SftpMessages.js"
import * as SftpServer from "../../../src/sftp/SftpServer.js"
import { PacketAssembler } from "../../../src/sftp/SftpFraming.js"

/** A client and a server joined by two queues; returns the client and raw access to the server's input. */
const pair = (
  backend: SftpFileSystem,
  options: SftpServer.SftpServerOptions = {}
): Effect.Effect<Sftp.Sftp, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const toServer = yield* Queue.bounded<Uint8Array>(256)
    const toClient = yield* Queue.bounded<Uint8Array>(256)
    yield* Effect.forkScoped(
      SftpServer.serve(backend, Stream.fromQueue(toServer), (b) => Queue.offer(toClient, b), options).pipe(
        Effect.ensuring(Queue.shutdown(toClient))
      )
    )
    return yield* Sftp.makeFromPipe({ output: Stream.fromQueue(toClient), write: (b) => Queue.offer(toServer, b) })
  })

/** A raw exchange with the server: send packets, read replies. */
const raw = (backend: SftpFileSystem, options: SftpServer.SftpServerOptions = {}) =>
  Effect.gen(function*() {
    const toServer = yield* Queue.bounded<Uint8Array>(256)
    const toClient = yield* Queue.unbounded<Uint8Array>()
    const done = yield* Effect.forkScoped(
      SftpServer.serve(backend, Stream.fromQueue(toServer), (b) => Queue.offer(toClient, b), options)
    )
    const assembler = new PacketAssembler()
    const buffered: Array<Uint8Array> = []
    const recv = Effect.gen(function*() {
      while (buffered.length === 0) buffered.push(...Either.getOrThrow(assembler.push(yield* Queue.take(toClient))))
      return Either.getOrThrow(SftpMessages.decode(buffered.shift()!))
    })
    const send = (m: SftpMessages.SftpMessage) => Queue.offer(toServer, SftpMessages.encodePacket(m))
    yield* send({ _tag: "Init", version: 3, extensions: [] })
    yield* recv
    return { send, recv, sendRaw: (b: Uint8Array) => Queue.offer(toServer, b), done }
  })

const text = (s: string) => new TextEncoder().encode(s)
const str = (b: Uint8Array) => new TextDecoder().decode(b)

const backends: ReadonlyArray<readonly [string, Effect.Effect<{ fs: SftpFileSystem; root: string | undefined }>]> = [
  ["memory", Effect.sync(() => ({ fs: SftpMemoryFileSystem.make(), root: undefined }))],
  ["platform FileSystem (temp dir)", Effect.gen(function*() {
    const platform = yield* FileSystem.FileSystem
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftpd-"))
    return { fs: SftpServer.fromPlatform(platform, root), root }
  }).pipe(Effect.provide(NodeFileSystem.layer))],
  ["node:fs disk (NodeSftp.diskFileSystem, temp dir)", Effect.sync(() => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftpd-"))
    return { fs: NodeSftp.diskFileSystem(root), root }
  })]
]

describe.each(backends)("SftpServer on %s", (_name, backend) => {
  it.scoped("files, directories, links and extensions through our client", () =>
    Effect.gen(function*() {
      const { fs: b } = yield* backend
      const sftp = yield* pair(b)
      assert.strictEqual(sftp.limits?.maxReadLength, 255n * 1024n)
      const data = new Uint8Array(1_000_003).map((_, i) => (i * 7) & 0xff)
      yield* sftp.makedirs("/a/b")
      yield* sftp.writeFile("/a/b/f.bin", data, { blockSize: 10_000, requests: 8 })
      assert.deepStrictEqual(yield* sftp.readFile("/a/b/f.bin"), data)
      assert.strictEqual((yield* sftp.stat("/a/b/f.bin")).size, 1_000_003n)
      yield* sftp.writeFile("/a/b/f.bin", text("XY"), { offset: 1 })
      assert.strictEqual(str((yield* sftp.readFile("/a/b/f.bin")).subarray(0, 3)), `${String.fromCharCode(0)}XY`)
      yield* sftp.symlink("b/f.bin", "/a/l")
      assert.strictEqual(yield* sftp.readlink("/a/l"), "b/f.bin")
      assert.strictEqual(fileType(yield* sftp.lstat("/a/l")), "symlink")
      assert.strictEqual((yield* sftp.stat("/a/l")).size, 1_000_003n)
      assert.strictEqual(yield* sftp.realpath("/a/l"), "/a/b/f.bin")
      assert.strictEqual(yield* sftp.realpath("."), "/")
      yield* sftp.rename("/a/b/f.bin", "/a/g")
      assert.strictEqual((yield* Effect.flip(sftp.rename("/a/g", "/a/l"))).code, "Failure")
      yield* sftp.posixRename("/a/g", "/a/h")
      yield* sftp.link("/a/h", "/a/h2")
      yield* sftp.remoteCopy("/a/h", "/a/copy")
      assert.strictEqual((yield* sftp.stat("/a/copy")).size, 1_000_003n)
      yield* sftp.chmod("/a/h", 0o4755)
      assert.strictEqual(((yield* sftp.stat("/a/h")).permissions ?? 0) & 0o7777, 0o755, "SEC-55: setuid dropped")
      assert.deepStrictEqual(yield* sftp.listdir("/a"), ["b", "copy", "h", "h2", "l"])
      assert.strictEqual(yield* sftp.homeDirectory(), "/")
      assert.strictEqual(yield* sftp.expandPath("~/a/b"), "/a/b")
      yield* Effect.scoped(Effect.gen(function*() {
        const f = yield* sftp.open("/a/h", "r+")
        yield* f.write(text("!"), 0)
        yield* f.fsync
        assert.strictEqual(str(yield* f.read(1, 0)), "!")
      }))
      yield* sftp.rmtree("/a")
      assert.isFalse(yield* sftp.exists("/a"))
      assert.strictEqual((yield* Effect.flip(sftp.stat("/a"))).code, "NoSuchFile")
    }))

  it.scoped("SEC-54: `..`, absolute paths and symlinks cannot leave the virtual root; outside = missing", () =>
    Effect.gen(function*() {
      const { fs: b, root } = yield* backend
      const sftp = yield* pair(b)
      yield* sftp.mkdir("/inside")
      yield* sftp.writeFile("/inside/x", text("x"))
      yield* sftp.symlink("/", "/inside/rootlink")
      yield* sftp.symlink("../../../../../../etc", "/inside/up")
      for (const p of ["/../user10/secret", "../user10/secret", "/a/../../user10/secret", "//..//user10/secret", "/inside/rootlink/etc/passwd", "/inside/up/passwd"]) {
        const e = yield* Effect.flip(Effect.scoped(sftp.open(p, "r")))
        assert.strictEqual(e.code, "NoSuchFile", p)
      }
      // The same reply for a path above the root and one that does not exist.
      const a = yield* Effect.flip(sftp.stat("/../user10"))
      const c = yield* Effect.flip(sftp.stat("/../nonexistent"))
      assert.deepStrictEqual([a.code, a.description], [c.code, c.description])
      assert.strictEqual(yield* sftp.realpath(".."), "/")
      assert.strictEqual(yield* sftp.realpath("/inside/up"), "/etc")
      assert.strictEqual((yield* Effect.flip(sftp.stat("/in\0side"))).code, "NoSuchFile")
      assert.strictEqual((yield* Effect.flip(sftp.stat("/" + "a".repeat(5000)))).code, "NoSuchFile")
      if (root !== undefined) {
        // A link made through the server stores the host path on disk and reads back as the virtual one.
        yield* sftp.symlink("/inside/x", "/abs")
        assert.strictEqual(fs.readlinkSync(path.join(root, "abs")), path.join(root, "inside/x"))
        assert.strictEqual(yield* sftp.readlink("/abs"), "/inside/x")
        // A writes through a link to "/" lands inside the root.
        yield* sftp.writeFile("/inside/rootlink/created", text("c"))
        assert.isTrue(fs.existsSync(path.join(root, "created")))
      }
    }))

  it.scoped("SEC-55: read-only refuses every write before touching the filesystem", () =>
    Effect.gen(function*() {
      const { fs: b } = yield* backend
      const writer = yield* pair(b)
      yield* writer.writeFile("/f", text("data"))
      yield* writer.mkdir("/d")
      const sftp = yield* pair(b, { readOnly: true })
      assert.strictEqual(str(yield* sftp.readFile("/f")), "data")
      const denied = [
        Effect.scoped(sftp.open("/new", "w")),
        Effect.scoped(sftp.open("/f", "a")),
        Effect.scoped(sftp.open("/f", "r+")),
        sftp.mkdir("/d2"),
        sftp.rmdir("/d"),
        sftp.remove("/f"),
        sftp.rename("/f", "/g"),
        sftp.posixRename("/f", "/g"),
        sftp.chmod("/f", 0o777),
        sftp.lsetstat("/f", { permissions: 0o777 }),
        sftp.symlink("/f", "/s"),
        sftp.link("/f", "/h"),
        sftp.remoteCopy("/f", "/copy")
      ]
      for (const op of denied) assert.strictEqual((yield* Effect.flip(op)).code, "PermissionDenied")
      assert.isFalse(yield* writer.exists("/new"))
      assert.deepStrictEqual(yield* writer.listdir("/"), ["d", "f"])
    }))

  it.scoped("SEC-53 / SEC-56: handle limit, unknown and long handles, clamped reads, readdir batches of ≤ 100", () =>
    Effect.gen(function*() {
      const { fs: b } = yield* backend
      const sftp = yield* pair(b)
      yield* sftp.mkdir("/many")
      for (let i = 0; i < 250; i++) yield* sftp.writeFile(`/many/${i}`, new Uint8Array(0))
      yield* sftp.writeFile("/big", new Uint8Array(600 * 1024))
      const r = yield* raw(b, { maxHandles: 5 })
      let id = 1
      const handles: Array<Uint8Array> = []
      for (let i = 0; i < 7; i++) {
        yield* r.send({ _tag: "Opendir", id: id++, path: "/many" })
        const m = yield* r.recv
        if (m._tag === "Handle") handles.push(m.handle)
        else assert.deepStrictEqual([m._tag, i >= 5], ["Status", true])
      }
      assert.strictEqual(handles.length, 5)
      assert.isTrue(handles.every((h) => h.length <= 4), "short opaque handles")
      let names = 0
      while (true) {
        yield* r.send({ _tag: "Readdir", id: id++, handle: handles[0]! })
        const m = yield* r.recv
        if (m._tag !== "Name") break
        assert.isAtMost(m.entries.length, 100)
        names += m.entries.length
      }
      assert.strictEqual(names, 252)
      yield* r.send({ _tag: "Close", id: id++, handle: handles[1]! })
      assert.strictEqual((yield* r.recv)._tag, "Status")
      yield* r.send({ _tag: "Open", id: id++, path: "/big", pflags: 1, attrs: {} })
      const h = yield* r.recv
      assert.strictEqual(h._tag, "Handle")
      if (h._tag !== "Handle") return
      yield* r.send({ _tag: "Read", id: id++, handle: h.handle, offset: 0n, length: 0xffffffff })
      const d = yield* r.recv
      assert.strictEqual(d._tag === "Data" ? d.data.length : -1, 255 * 1024)
      // A random handle and one from another session are refused.
      yield* r.send({ _tag: "Read", id: 99, handle: new Uint8Array(16).fill(7), offset: 0n, length: 1 })
      assert.deepStrictEqual(yield* r.recv, { _tag: "Status", id: 99, code: 4, message: "invalid handle", language: "" })
      // Unknown request types get OP_UNSUPPORTED and the session goes on; extensions too.
      yield* r.sendRaw(new Uint8Array([0, 0, 0, 5, 77, 0, 0, 0, 42]))
      assert.deepStrictEqual(yield* r.recv, { _tag: "Status", id: 42, code: 8, message: "Operation unsupported", language: "" })
      yield* r.send({ _tag: "Extended", id: 43, request: { _tag: "Unknown", name: "nope@example.com", data: new Uint8Array(0) } })
      assert.strictEqual((yield* r.recv)._tag, "Status")
    }))

  it.scoped("SEC-52: a packet over 256 KiB ends the session; a second INIT ends it", () =>
    Effect.gen(function*() {
      const { fs: b } = yield* backend
      const r = yield* raw(b)
      yield* r.sendRaw(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]))
      yield* r.done.await
      const r2 = yield* raw(b)
      yield* r2.send({ _tag: "Init", version: 3, extensions: [] })
      yield* r2.done.await
    }))
})

describe("Sftp client against a hostile server (SEC-57)", () => {
  const hostile = (reply: (request: SftpMessages.SftpMessage) => Uint8Array) =>
    Effect.gen(function*() {
      const toClient = yield* Queue.unbounded<Uint8Array>()
      const assembler = new PacketAssembler()
      return yield* Sftp.makeFromPipe({
        output: Stream.fromQueue(toClient),
        write: (bytes) =>
          Effect.forEach(Either.getOrThrow(assembler.push(bytes)), (body) => {
            const m = Either.getOrThrow(SftpMessages.decode(body))
            return Queue.offer(
              toClient,
              m._tag === "Init" ? SftpMessages.encodePacket({ _tag: "Version", version: 3, extensions: [] }) : reply(m)
            )
          }, { discard: true })
      })
    })

  it.scoped("a reply with an unknown id ends the session with BadMessage", () =>
    Effect.gen(function*() {
      const sftp = yield* hostile(() => SftpMessages.encodePacket({ _tag: "Attrs", id: 12345, attrs: {} }))
      assert.strictEqual((yield* Effect.flip(sftp.stat("/x"))).code, "BadMessage")
      assert.strictEqual((yield* Effect.flip(sftp.stat("/y"))).code, "BadMessage")
    }))

  it.scoped("a NAME count of 0x7FFFFFFF and a 2 GiB length fail cleanly", () =>
    Effect.gen(function*() {
      const sftp = yield* hostile((m) => {
        const id = "id" in m ? m.id : 0
        const body = new Uint8Array([104, id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])
        return Chunk.toReadonlyArray(Chunk.make(new Uint8Array([0, 0, 0, body.length]), body)).reduce((a, b) => new Uint8Array([...a, ...b]))
      })
      assert.strictEqual((yield* Effect.flip(sftp.realpath("."))).code, "BadMessage")
      const big = yield* hostile(() => new Uint8Array([0x7f, 0xff, 0xff, 0xff]))
      assert.strictEqual((yield* Effect.flip(big.stat("/"))).code, "BadMessage")
    }))
})
