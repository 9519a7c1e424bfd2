/**
 * The SCP control-record codec and the download sink against a hostile source (SEC-58): every record SECURITY.md
 * lists is refused or neutralised, nothing is written outside the target; command construction quotes (SEC-59).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Sink, Stream } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Scp from "../../../src/scp/Scp.js"
import * as ScpProtocol from "../../../src/scp/ScpProtocol.js"
import * as ScpServer from "../../../src/scp/ScpServer.js"

/** A remote `scp -f` that sends `script` whatever we answer. */
const scripted = (script: string) => {
  const commands: Array<string> = []
  const connection: Scp.ScpConnection<never> = {
    exec: (command) =>
      Effect.sync(() => {
        commands.push(command)
        return {
          stdout: Stream.make(new TextEncoder().encode(script)),
          stderr: Stream.empty,
          stdin: Sink.drain,
          write: () => Effect.void,
          closeStdin: Effect.void,
          exitStatus: Effect.succeed({ status: 0 })
        }
      })
  }
  return { connection, commands }
}

const get = (script: string, options?: Scp.ScpOptions) =>
  Effect.gen(function*() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-scp-unit-"))
    const dst = path.join(dir, "dst")
    fs.mkdirSync(dst)
    const { commands, connection } = scripted(script)
    // The scripted peer speaks the legacy protocol (scp -f), as `protocol: "scp"` (scp -O) asks for.
    const result = yield* Effect.either(Scp.download(connection, "remote:dir/file.txt", dst, options?.protocol === undefined ? { protocol: "scp", ...options } : options))
    const written = fs.readdirSync(dir)
    const inside = fs.readdirSync(dst)
    return { result, written, inside, dst, commands, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
  }).pipe(Effect.provide(NodeContext.layer))

const protocolError = (r: { readonly result: Either.Either<void, unknown> }, text: string) => {
  assert.isTrue(Either.isLeft(r.result))
  const e = Either.isLeft(r.result) ? r.result.left : undefined
  assert.instanceOf(e, ScpProtocol.ScpError)
  if (e instanceof ScpProtocol.ScpError) assert.include(e.description, text)
}

describe("SEC-58: the sink against a hostile source", () => {
  it.effect("protocol sftp (the default): a connection without an sftp subsystem is a Protocol error, no scp runs", () =>
    Effect.gen(function*() {
      const r = yield* get("C0644 5 file.txt\nhello\0", { protocol: "sftp" })
      protocolError(r, "no sftp subsystem")
      assert.deepStrictEqual(r.commands, [])
      assert.deepStrictEqual(r.inside, [])
      r.cleanup()
    }))

  it.effect("C0644 5 ../x → error, nothing written outside dst", () =>
    Effect.gen(function*() {
      const r = yield* get("C0644 5 ../x\nhello\0")
      protocolError(r, "unsafe file name")
      assert.deepStrictEqual(r.written, ["dst"])
      assert.deepStrictEqual(r.inside, [])
      r.cleanup()
    }))

  it.effect("C0644 5 . and an absolute /etc/x → error", () =>
    Effect.gen(function*() {
      for (const name of [".", "/etc/x", "a\\b"]) {
        const r = yield* get(`C0644 5 ${name}\nhello\0`)
        protocolError(r, "unsafe file name")
        assert.deepStrictEqual(r.inside, [])
        r.cleanup()
      }
    }))

  it.effect("C0644 5 other.txt → error: it does not match the request (CVE-2019-6111)", () =>
    Effect.gen(function*() {
      const r = yield* get("C0644 5 other.txt\nhello\0")
      protocolError(r, "does not match request")
      assert.deepStrictEqual(r.inside, [])
      r.cleanup()
    }))

  it.effect("C4755 5 file.txt → the file's mode is 0755 (setuid stripped, CVE-2026-35385)", () =>
    Effect.gen(function*() {
      const r = yield* get("C4755 5 file.txt\nhello\0", { preserve: true })
      assert.isTrue(Either.isRight(r.result))
      const st = fs.statSync(path.join(r.dst, "file.txt"))
      assert.strictEqual(st.mode & 0o7777, 0o755)
      assert.strictEqual(fs.readFileSync(path.join(r.dst, "file.txt"), "utf8"), "hello")
      r.cleanup()
    }))

  it.effect("C0644 99999999999999999999 file.txt → error (size out of range)", () =>
    Effect.gen(function*() {
      const r = yield* get("C0644 99999999999999999999 file.txt\n")
      assert.isTrue(Either.isLeft(r.result))
      r.cleanup()
    }))

  it.effect("D0755 0 sub without recursion → error; E without D → error", () =>
    Effect.gen(function*() {
      const d = yield* get("D0755 0 file.txt\nE\n")
      protocolError(d, "non-recursive")
      assert.deepStrictEqual(d.inside, [])
      d.cleanup()
      const e = yield* get("E\n", { recursive: true })
      protocolError(e, "E without")
      e.cleanup()
      const unbalanced = yield* get("D0755 0 file.txt\nC0644 1 a\nx\0", { recursive: true })
      protocolError(unbalanced, "inside a directory")
      unbalanced.cleanup()
    }))

  it.effect("\\x01\\x1b[2Jspoof → the warning reaches onWarning escaped", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const r = yield* get("\x01\x1b[2Jspoof\nC0644 2 file.txt\nok\0", { onWarning: (m) => Effect.sync(() => seen.push(m)) })
      assert.isTrue(Either.isRight(r.result))
      assert.strictEqual(seen.length, 1)
      assert.notInclude(seen[0]!, "\x1b")
      assert.include(seen[0]!, "spoof")
      r.cleanup()
    }))

  it.effect("a source that stops in the middle of a file → error", () =>
    Effect.gen(function*() {
      const r = yield* get("C0644 10 file.txt\nhel")
      protocolError(r, "before the file did")
      r.cleanup()
    }))
})

describe("ScpProtocol", () => {
  it("SEC-59: the command quotes its path after --; NUL and newline are refused", () => {
    assert.deepStrictEqual(
      ScpProtocol.command({ role: "sink", path: "a'b;$(x)", recursive: true, preserve: true }),
      Either.right("scp -t -r -p -- 'a'\\''b;$(x)'")
    )
    assert.deepStrictEqual(ScpProtocol.command({ role: "source", path: "-oProxyCommand=x" }), Either.right("scp -f -- '-oProxyCommand=x'"))
    assert.isTrue(Either.isLeft(ScpProtocol.command({ role: "source", path: "a\nb" })))
    assert.isTrue(Either.isLeft(ScpProtocol.quote("a\0b")))
  })

  it("strict records: four octal digits, T microseconds below 10^6, E exactly", () => {
    assert.deepStrictEqual(ScpProtocol.decode("C0644 5 f"), Either.right({ _tag: "File", mode: 0o644, size: 5, name: "f" }))
    assert.deepStrictEqual(ScpProtocol.decode("C04755 5 f")._tag, "Left")
    assert.deepStrictEqual(ScpProtocol.decode("C0648 5 f")._tag, "Left")
    assert.deepStrictEqual(ScpProtocol.decode("C0644 -5 f")._tag, "Left")
    assert.deepStrictEqual(ScpProtocol.decode("T1 0 2 0"), Either.right({ _tag: "Times", mtime: 1, atime: 2 }))
    assert.deepStrictEqual(ScpProtocol.decode("T1 1000000 2 0")._tag, "Left")
    assert.deepStrictEqual(ScpProtocol.decode("E ")._tag, "Left")
    assert.deepStrictEqual(ScpProtocol.decode("C4755 1 f", { keepSpecialBits: true }), Either.right({ _tag: "File", mode: 0o4755, size: 1, name: "f" }))
  })

  it.prop("records round-trip", [
    FastCheck.integer({ min: 0, max: 0o777 }),
    FastCheck.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    FastCheck.string({ minLength: 1, maxLength: 40 }).filter(ScpProtocol.isSafeName)
  ], ([mode, size, name]) => {
    const records: ReadonlyArray<ScpProtocol.ScpRecord> = [
      { _tag: "File", mode, size, name },
      { _tag: "Directory", mode, name },
      { _tag: "Times", mtime: size % 1e12, atime: 7 },
      { _tag: "EndDirectory" }
    ]
    for (const r of records) assert.deepStrictEqual(ScpProtocol.decode(ScpProtocol.encode(r).slice(0, -1)), Either.right(r))
  })

  it.prop("decoding any line never throws", [FastCheck.string({ maxLength: 200 })], ([line]) => {
    assert.isTrue(Either.isEither(ScpProtocol.decode(line)))
    assert.isTrue(Either.isEither(ScpProtocol.decode(`C0644 1 ${line}`)))
  })
})

describe("ScpServer command parsing (SEC-69: no shell)", () => {
  it("words as a POSIX shell splits them; unquoted shell syntax is refused", () => {
    assert.deepStrictEqual(ScpServer.shellWords(`scp -t -- 'a b'"c d"e\\ f`), ["scp", "-t", "--", "a bc de f"])
    for (const bad of ["scp -t x;id", "scp -t $(id)", "scp -t `id`", "scp -t a|b", "scp -t 'open", "scp -t \"$HOME\""]) {
      assert.isUndefined(ScpServer.shellWords(bad), bad)
    }
  })

  it("scp -t|-f with -r -p -d -v; one target for -t; anything else is not served", () => {
    assert.deepStrictEqual(ScpServer.parseCommand("scp -v -r -p -t -- /x"), {
      role: "sink",
      recursive: true,
      preserve: true,
      targetIsDirectory: false,
      paths: ["/x"]
    })
    assert.deepStrictEqual(ScpServer.parseCommand("scp -f a b")?.paths, ["a", "b"])
    assert.isUndefined(ScpServer.parseCommand("scp -t a b"))
    assert.isUndefined(ScpServer.parseCommand("scp -t -f a"))
    assert.isUndefined(ScpServer.parseCommand("scp -S evil -t a"))
    assert.isUndefined(ScpServer.parseCommand("rm -t a"))
  })
})
