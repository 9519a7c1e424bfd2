import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as HostKeyPolicy from "../../../src/client/HostKeyPolicy.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import * as Writer from "../../../src/wire/Writer.js"

const SSH_KEYGEN = "/usr/bin/ssh-keygen"
const haveKeygen = fs.existsSync(SSH_KEYGEN)
if (!haveKeygen && process.env.CI) throw new Error(`${SSH_KEYGEN} is required when CI is set`)

const ed25519 = (seed: number): Uint8Array =>
  Writer.build((w) => w.string("ssh-ed25519").string(Uint8Array.from({ length: 32 }, (_, i) => (seed * 13 + i) & 255)))
const keyA = ed25519(1)
const keyB = ed25519(2)
const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64")
const HOST = "127.0.0.1"
const PORT = 2222
const info = (blob: Uint8Array, host = HOST, port = PORT) => HostKeyPolicy.makeInfo(host, port, blob)
const knownLine = (blob: Uint8Array, hosts = `[${HOST}]:${PORT}`) => `${hosts} ssh-ed25519 ${b64(blob)}`

/** `ssh-keygen -l -F name -f file` line numbers (it parses keys with -l); exit 1 means "not found". */
const keygenFind = (file: string, name: string): ReadonlyArray<number> => {
  let out: string
  try {
    out = execFileSync(SSH_KEYGEN, ["-l", "-F", name, "-f", file], { encoding: "utf8", stdio: "pipe" })
  } catch (e) {
    const err = e as { status?: number; stdout?: string }
    if (err.status !== 1 || typeof err.stdout !== "string") throw e
    out = err.stdout
  }
  return [...out.matchAll(/^# Host .* found: line (\d+)/gm)].map((m) => Number(m[1]))
}

/** A temporary directory with an optional known_hosts file in it. */
const setup = (content?: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped()
    const file = path.join(dir, "known_hosts")
    if (content !== undefined) yield* fs.writeFileString(file, content)
    return { dir, file, fs, path }
  })

const rejection = <R>(policy: HostKeyPolicy.HostKeyPolicy<R>, i: HostKeyPolicy.HostKeyInfo) =>
  Effect.flip(policy.verify(i))

const withHome = (home: string | undefined) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(home === undefined ? [] : [["HOME", home]])))

it.layer(NodeContext.layer)("HostKeyPolicy.knownHosts", (it) => {
  it.scoped("a known key passes", () =>
    Effect.gen(function*() {
      const { file } = yield* setup(`# mine\n${knownLine(keyB, "other")}\n${knownLine(keyA)}\n`)
      yield* HostKeyPolicy.knownHosts({ files: [file] }).verify(info(keyA))
    }))

  it.scoped("an unknown host fails with reason Unknown, the fingerprint and what to do", () =>
    Effect.gen(function*() {
      const { file } = yield* setup(`${knownLine(keyA, "elsewhere")}\n`)
      const e = yield* rejection(HostKeyPolicy.knownHosts({ files: [file] }), info(keyA))
      assert.strictEqual(e.reason, "Unknown")
      assert.strictEqual(e.fingerprint, HostKey.fingerprintSha256(keyA))
      assert.include(e.message, `Host key for [${HOST}]:${PORT} is not known`)
      assert.include(e.message, HostKey.fingerprintSha256(keyA))
      assert.include(e.message, `ssh-keyscan -p ${PORT} ${HOST} >> ${file}`)
      assert.include(e.message, "HostKeyPolicy.acceptNew()")
    }))

  it.scoped("a missing file means the host is unknown", () =>
    Effect.gen(function*() {
      const { dir, path } = yield* setup()
      const e = yield* rejection(HostKeyPolicy.knownHosts({ files: [path.join(dir, "nope")] }), info(keyA))
      assert.strictEqual(e.reason, "Unknown")
    }))

  it.scoped("SEC-20: a changed key fails with the known line, never replaced", () =>
    Effect.gen(function*() {
      const content = `# header\n${knownLine(keyA)} old key\n`
      const { file, fs } = yield* setup(content)
      for (const acceptNew of [false, true]) {
        const e = yield* rejection(HostKeyPolicy.knownHosts({ files: [file], acceptNew }), info(keyB))
        assert.strictEqual(e.reason, "Changed")
        assert.deepStrictEqual(e.knownLines, [{
          path: file,
          line: 2,
          text: `${knownLine(keyA)} old key`,
          keyType: "ssh-ed25519",
          fingerprint: HostKey.fingerprintSha256(keyA)
        }])
        assert.include(e.message, "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED")
        assert.include(e.message, `${file}:2`)
        assert.include(e.message, HostKey.fingerprintSha256(keyA))
        assert.include(e.message, HostKey.fingerprintSha256(keyB))
      }
      assert.strictEqual(yield* fs.readFileString(file), content)
    }))

  it.scoped("SEC-62: a key marked @revoked is rejected even when also listed", () =>
    Effect.gen(function*() {
      const { file } = yield* setup(`${knownLine(keyA)}\n@revoked * ssh-ed25519 ${b64(keyA)}\n`)
      const e = yield* rejection(HostKeyPolicy.knownHosts({ files: [file] }), info(keyA))
      assert.strictEqual(e.reason, "Revoked")
      assert.deepStrictEqual(e.knownLines.map((l) => l.line), [2])
    }))

  it.scoped("several files: a revocation in one beats a match in another; a match in a later file passes", () =>
    Effect.gen(function*() {
      const { dir, file, fs, path } = yield* setup(`${knownLine(keyA)}\n`)
      const second = path.join(dir, "second")
      yield* fs.writeFileString(second, `${knownLine(keyB)}\n`)
      yield* HostKeyPolicy.knownHosts({ files: [path.join(dir, "missing"), second] }).verify(info(keyB))
      yield* fs.writeFileString(second, `@revoked ${knownLine(keyA, "*")}\n`)
      const e = yield* rejection(HostKeyPolicy.knownHosts({ files: [file, second] }), info(keyA))
      assert.strictEqual(e.reason, "Revoked")
    }))

  it.scoped("SEC-20: an unreadable known_hosts fails closed", () =>
    Effect.gen(function*() {
      const { dir } = yield* setup()
      const e = yield* rejection(HostKeyPolicy.knownHosts({ files: [dir] }), info(keyA)) // a directory
      assert.strictEqual(e.reason, "Unverifiable")
      assert.include(e.message, `cannot read ${dir}`)
    }))

  it.scoped("~ is the HOME from Config", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* setup()
      yield* fs.makeDirectory(path.join(dir, ".ssh"))
      yield* fs.writeFileString(path.join(dir, ".ssh", "known_hosts"), `${knownLine(keyA)}\n`)
      yield* HostKeyPolicy.defaultPolicy.verify(info(keyA)).pipe(withHome(dir))
      const e = yield* rejection(HostKeyPolicy.defaultPolicy, info(keyB)).pipe(withHome(dir))
      assert.deepStrictEqual(e.files, [path.join(dir, ".ssh", "known_hosts")])
      assert.strictEqual(e.reason, "Changed")
    }))

  it.scoped("SEC-20: without HOME, ~/.ssh/known_hosts cannot be read, so the key is rejected", () =>
    Effect.gen(function*() {
      const e = yield* rejection(HostKeyPolicy.knownHosts(), info(keyA)).pipe(withHome(undefined))
      assert.strictEqual(e.reason, "Unverifiable")
      assert.include(e.message, "HOME is not set")
    }))
})

it.layer(NodeContext.layer)("HostKeyPolicy.acceptNew", (it) => {
  it.scoped.skipIf(!haveKeygen)("records an unknown host that `ssh-keygen -F` then finds, in a 0600 file", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* setup()
      const file = path.join(dir, "sub", "known_hosts")
      const policy = HostKeyPolicy.acceptNew({ files: [file] })
      yield* policy.verify(info(keyA))
      const text = yield* fs.readFileString(file)
      assert.strictEqual(text, `[${HOST}]:${PORT} ssh-ed25519 ${b64(keyA)}\n`)
      assert.strictEqual((yield* fs.stat(file)).mode & 0o777, 0o600)
      assert.deepStrictEqual(keygenFind(file, `[${HOST}]:${PORT}`), [1])
      yield* policy.verify(info(keyA))
      yield* HostKeyPolicy.knownHosts({ files: [file] }).verify(info(keyA))
      assert.strictEqual((yield* rejection(policy, info(keyB))).reason, "Changed")
      assert.strictEqual(yield* fs.readFileString(file), text)
    }))

  it.scoped.skipIf(!haveKeygen)("hash: true writes a hashed line that `ssh-keygen -F` finds", () =>
    Effect.gen(function*() {
      const { file, fs } = yield* setup(`# no trailing newline`)
      yield* HostKeyPolicy.acceptNew({ files: [file], hash: true }).verify(info(keyA, "Example.COM", 22))
      const lines = (yield* fs.readFileString(file)).split("\n")
      assert.strictEqual(lines[0], "# no trailing newline")
      assert.match(lines[1]!, /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 /)
      assert.deepStrictEqual(keygenFind(file, "example.com"), [2])
      yield* HostKeyPolicy.knownHosts({ files: [file] }).verify(info(keyA, "example.com", 22))
    }))

  it.scoped("concurrent first connections record the host once", () =>
    Effect.gen(function*() {
      const { file, fs } = yield* setup()
      const policy = HostKeyPolicy.acceptNew({ files: [file] })
      yield* Effect.all(Array.from({ length: 8 }, () => policy.verify(info(keyA))), { concurrency: "unbounded" })
      assert.strictEqual((yield* fs.readFileString(file)).split("\n").length, 2)
    }))

  it.scoped("~/.ssh/known_hosts is created under HOME", () =>
    Effect.gen(function*() {
      const { dir, fs, path } = yield* setup()
      yield* HostKeyPolicy.acceptNew().verify(info(keyA)).pipe(withHome(dir))
      assert.include(yield* fs.readFileString(path.join(dir, ".ssh", "known_hosts")), b64(keyA))
    }))

  it.scoped("SEC-20: a host name that cannot be written safely is rejected, not recorded", () =>
    Effect.gen(function*() {
      const { file, fs } = yield* setup()
      const e = yield* rejection(HostKeyPolicy.acceptNew({ files: [file] }), info(keyA, "evil\n* ssh-ed25519", 22))
      assert.strictEqual(e.reason, "Unverifiable")
      assert.isFalse(yield* fs.exists(file))
    }))
})

describe("HostKeyPolicy without files", () => {
  it.effect("pinned accepts exactly the listed fingerprints", () =>
    Effect.gen(function*() {
      const fp = HostKey.fingerprintSha256(keyA)
      yield* HostKeyPolicy.pinned(["SHA256:other", fp]).verify(info(keyA))
      const e = yield* rejection(HostKeyPolicy.pinned([fp]), info(keyB))
      assert.strictEqual(e.reason, "NotPinned")
      assert.include(e.message, HostKey.fingerprintSha256(keyB))
      assert.strictEqual((yield* rejection(HostKeyPolicy.pinned([`${fp}=`]), info(keyA))).reason, "NotPinned")
      assert.strictEqual((yield* rejection(HostKeyPolicy.pinned([]), info(keyA))).reason, "NotPinned")
    }))

  it.effect("SEC-20: pinned trusts the blob, not the fingerprint the caller claims", () =>
    Effect.gen(function*() {
      const forged = { ...info(keyB), fingerprint: HostKey.fingerprintSha256(keyA) }
      const e = yield* rejection(HostKeyPolicy.pinned([HostKey.fingerprintSha256(keyA)]), forged)
      assert.strictEqual(e.fingerprint, HostKey.fingerprintSha256(keyB))
    }))

  it.effect("callback returning true accepts and sees the key", () =>
    Effect.gen(function*() {
      let seen: HostKeyPolicy.HostKeyInfo | undefined
      yield* HostKeyPolicy.callback((i) => Effect.sync(() => (seen = i, true))).verify(info(keyA))
      assert.strictEqual(seen?.fingerprint, HostKey.fingerprintSha256(keyA))
      assert.strictEqual(seen?.keyType, "ssh-ed25519")
    }))

  const refusals: ReadonlyArray<readonly [string, (i: HostKeyPolicy.HostKeyInfo) => Effect.Effect<boolean, string>]> = [
    ["returning false", () => Effect.succeed(false)],
    ["failing", () => Effect.fail("no network")],
    ["dying", () => Effect.die(new Error("boom"))],
    ["throwing", () => {
      throw new Error("thrown")
    }],
    ["interrupting itself", () => Effect.interrupt],
    ["returning a truthy non-boolean", () => Effect.succeed("yes" as unknown as boolean)]
  ]
  for (const [what, f] of refusals) {
    it.effect(`SEC-20: a callback ${what} rejects the key`, () =>
      Effect.gen(function*() {
        const e = yield* rejection(HostKeyPolicy.callback(f), info(keyA))
        assert.strictEqual(e.reason, "Refused")
        assert.include(e.message, "refused by the host key callback")
      }))
  }

  it.effect("insecureAcceptAny accepts anything", () => HostKeyPolicy.insecureAcceptAny.verify(info(keyB)))

  it.effect("any: the first policy that trusts the key wins; Changed and Revoked are final", () =>
    Effect.gen(function*() {
      const fpA = HostKey.fingerprintSha256(keyA)
      yield* HostKeyPolicy.any(HostKeyPolicy.pinned([]), HostKeyPolicy.pinned([fpA])).verify(info(keyA))
      const first = yield* rejection(HostKeyPolicy.any(HostKeyPolicy.pinned([]), HostKeyPolicy.pinned([])), info(keyA))
      assert.strictEqual(first.reason, "NotPinned")
      assert.strictEqual((yield* rejection(HostKeyPolicy.any(), info(keyA))).reason, "Refused")
      for (const reason of ["Changed", "Revoked"] as const) {
        const verdict: HostKeyPolicy.HostKeyPolicy = {
          verify: (i) =>
            Effect.fail(
              new HostKeyPolicy.HostKeyRejected({
                reason,
                host: i.host,
                port: i.port,
                keyType: i.keyType,
                fingerprint: i.fingerprint,
                knownLines: [],
                files: []
              })
            )
        }
        const e = yield* rejection(HostKeyPolicy.any(verdict, HostKeyPolicy.insecureAcceptAny), info(keyA))
        assert.strictEqual(e.reason, reason)
      }
    }))
})
