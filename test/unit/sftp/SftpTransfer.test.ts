/**
 * Recursive get/put between our client (over our server on memory) and a local memory filesystem: trees, modes
 * and times preserved without setuid (SEC-57), progress events, and hostile directory entries from the server
 * (`../escape`, `a/b`, `..\\escape`, empty) skipped so that nothing is written outside the target (SEC-57).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue, Stream } from "effect"
import * as Sftp from "../../../src/sftp/Sftp.js"
import type { SftpFileSystem } from "../../../src/sftp/SftpFileSystem.js"
import * as SftpMemoryFileSystem from "../../../src/sftp/SftpMemoryFileSystem.js"
import * as SftpServer from "../../../src/sftp/SftpServer.js"
import * as SftpTransfer from "../../../src/sftp/SftpTransfer.js"

const connect = (backend: SftpFileSystem) =>
  Effect.gen(function*() {
    const toServer = yield* Queue.bounded<Uint8Array>(64)
    const toClient = yield* Queue.bounded<Uint8Array>(64)
    yield* Effect.forkScoped(SftpServer.serve(backend, Stream.fromQueue(toServer), (b) => Queue.offer(toClient, b)))
    return yield* Sftp.makeFromPipe({ output: Stream.fromQueue(toClient), write: (b) => Queue.offer(toServer, b) })
  })

const text = (s: string) => new TextEncoder().encode(s)

describe("SftpTransfer", () => {
  it.scoped("put -r then get -r -p round-trips a tree; modes without setuid, times kept; progress events", () =>
    Effect.gen(function*() {
      const remote = SftpMemoryFileSystem.make()
      const sftp = yield* connect(remote)
      const local = SftpMemoryFileSystem.make()
      yield* local.mkdir("/src", {})
      yield* local.mkdir("/src/sub", {})
      const f = yield* local.open("/src/sub/a.bin", 0x1a, { permissions: 0o4750 })
      yield* f.write(0n, new Uint8Array(700_000).fill(9))
      yield* local.setstat("/src/sub/a.bin", { atime: 1000, mtime: 2000, permissions: 0o4750 })
      const g = yield* local.open("/src/b.txt", 0x1a, {})
      yield* g.write(0n, text("b"))
      const events: Array<SftpTransfer.ProgressEvent> = []
      const onProgress = (e: SftpTransfer.ProgressEvent) => Effect.sync(() => void events.push(e))
      yield* SftpTransfer.put(sftp, local, "/src", "/up", { recursive: true, preserve: true, onProgress })
      assert.deepStrictEqual(yield* sftp.listdir("/up"), ["b.txt", "sub"])
      const up = yield* sftp.stat("/up/sub/a.bin")
      assert.deepStrictEqual([up.size, (up.permissions ?? 0) & 0o7777, up.mtime], [700_000n, 0o750, 2000])
      assert.isTrue(events.some((e) => e.done && e.bytes === 700_000 && e.total === 700_000))
      yield* SftpTransfer.get(sftp, "/up", local, "/back", { recursive: true, preserve: true })
      assert.deepStrictEqual((yield* local.readDirectory("/back")).slice().sort(), ["b.txt", "sub"])
      const back = yield* local.lstat("/back/sub/a.bin")
      assert.deepStrictEqual([back.size, (back.permissions ?? 0) & 0o7777, back.mtime], [700_000n, 0o750, 2000])
      assert.strictEqual((yield* Effect.flip(SftpTransfer.get(sftp, "/up", local, "/x"))).code, "Failure")
    }))

  it.scoped("SEC-57: hostile names in a recursive get are skipped; nothing is written outside the target", () =>
    Effect.gen(function*() {
      const inner = SftpMemoryFileSystem.make()
      yield* inner.mkdir("/d", {})
      const ok = yield* inner.open("/d/ok", 0x1a, {})
      yield* ok.write(0n, text("fine"))
      const hostile: SftpFileSystem = {
        ...inner,
        readDirectory: (p) =>
          Effect.map(inner.readDirectory(p), (names) => p === "/d" ? [...names, "../escape", "a/b", "..\\escape", "", "."] : names),
        lstat: (p) => p.includes("escape") || p.endsWith("/a/b") ? Effect.succeed({ size: 1n, permissions: 0o100644 }) : inner.lstat(p)
      }
      const sftp = yield* connect(hostile)
      const local = SftpMemoryFileSystem.make()
      yield* local.mkdir("/target", {})
      yield* SftpTransfer.get(sftp, "/d", local, "/target/d", { recursive: true })
      assert.deepStrictEqual(yield* local.readDirectory("/target/d"), ["ok"])
      assert.deepStrictEqual((yield* local.readDirectory("/")).slice().sort(), ["target"])
      assert.deepStrictEqual(yield* local.readDirectory("/target"), ["d"])
      for (const n of ["../escape", "a/b", "..\\escape", "", ".", ".."]) assert.isFalse(SftpTransfer.isSafeName(n), n)
    }))
})
