import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as HostKey from "../../../src/crypto/HostKey.js"
import * as KnownHosts from "../../../src/keys/KnownHosts.js"
import * as Writer from "../../../src/wire/Writer.js"

const numRuns = process.env.FUZZ ? 100_000 : 100
const SSH_KEYGEN = "/usr/bin/ssh-keygen"
const haveKeygen = fs.existsSync(SSH_KEYGEN)
if (!haveKeygen && process.env.CI) throw new Error(`${SSH_KEYGEN} is required when CI is set`)

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64")
/** Any 32 bytes form a public key OpenSSH accepts (it does not validate ed25519 points). */
const ed25519 = (seed: number): Uint8Array =>
  Writer.build((w) =>
    w.string("ssh-ed25519").string(Uint8Array.from({ length: 32 }, (_, i) => (seed * 37 + i * 11) & 255))
  )
const keyA = ed25519(1)
const keyB = ed25519(2)
const line = (hosts: string, blob = keyA, tail = ""): string => `${hosts} ssh-ed25519 ${b64(blob)}${tail}`
const lines = (text: string, host: string, port: number): ReadonlyArray<number> =>
  KnownHosts.lookup(KnownHosts.parse(text).entries, host, port).map((e) => e.line)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "knownhosts-test-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))
let fileCounter = 0
const tmpFile = (text: string): string => {
  const file = path.join(tmp, `kh${fileCounter++}`)
  fs.writeFileSync(file, text)
  return file
}
const run = (args: ReadonlyArray<string>) =>
  execFileSync(SSH_KEYGEN, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
const keygen = (...args: Array<string>): string => run(args)
/**
 * The line numbers `ssh-keygen -l -F name -f file` reports (`-l` makes it parse each key, as `ssh` does; plain
 * `-F` only looks at the host field). It exits 1 when nothing matches.
 */
const keygenFind = (file: string, name: string): ReadonlyArray<number> => {
  let out: string
  try {
    out = run(["-l", "-F", name, "-f", file])
  } catch (e) {
    const err = e as { status?: number; stdout?: string }
    if (err.status !== 1 || typeof err.stdout !== "string") throw e
    out = err.stdout
  }
  return [...out.matchAll(/^# Host .* found: line (\d+)/gm)].map((m) => Number(m[1]))
}

/** Lines 1–9 are malformed in different ways; line 10 is fine. */
const malformed = [
  "host-only",
  "host ssh-ed25519",
  "host ssh-ed25519 not*base64",
  line("a").replace("ssh-ed25519", "ssh-rsa"), // type field does not match the blob
  `|1|${b64(new Uint8Array(4))}|${b64(new Uint8Array(20))} ssh-ed25519 ${b64(keyA)}`, // 4-byte salt
  `|2|${b64(new Uint8Array(20))}|${b64(new Uint8Array(20))} ssh-ed25519 ${b64(keyA)}`,
  `@unknown ${line("a")}`,
  `@cert-authority @revoked ${line("a")}`,
  `a\u00a0ssh-ed25519\u00a0${b64(keyA)}`, // NBSP is not a separator
  line("ok")
].join("\r\n")

describe("KnownHosts.parse", () => {
  it("parses markers, plain and hashed hosts, key and comment", () => {
    const salt = new Uint8Array(20).fill(7)
    const hashed = Either.getOrThrow(KnownHosts.formatLine("h.example", 22, "ssh-ed25519", keyB, { hash: true, salt }))
    const text = [
      "# comment",
      "",
      line("a.example.com,!b.example.com,[c.example.com]:2222", keyA, "  the comment "),
      `@revoked\t* ssh-ed25519 ${b64(keyB)}`,
      hashed,
      `@cert-authority *.example.com ssh-ed25519 ${b64(keyA)}`
    ].join("\n")
    const { entries, warnings } = KnownHosts.parse(text)
    assert.deepStrictEqual(warnings, [])
    assert.deepStrictEqual(entries.map((e) => [e.line, e.marker, e.hosts._tag, e.keyType]), [
      [3, undefined, "Patterns", "ssh-ed25519"],
      [4, "@revoked", "Patterns", "ssh-ed25519"],
      [5, undefined, "Hashed", "ssh-ed25519"],
      [6, "@cert-authority", "Patterns", "ssh-ed25519"]
    ])
    const first = entries[0]!
    assert.deepStrictEqual(first.blob, keyA)
    assert.strictEqual(first.comment, "the comment ")
    assert.deepStrictEqual(first.hosts, {
      _tag: "Patterns",
      patterns: [
        { negated: false, pattern: "a.example.com" },
        { negated: true, pattern: "b.example.com" },
        { negated: false, pattern: "[c.example.com]:2222" }
      ]
    })
  })

  it("SEC-62: skips malformed lines with a warning and keeps going", () => {
    const { entries, warnings } = KnownHosts.parse(malformed)
    assert.deepStrictEqual(entries.map((e) => e.line), [10])
    assert.deepStrictEqual(warnings.map((w) => w.line), [1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it("rejects non-canonical base64 (padding and trailing bits)", () => {
    // 52 bytes, so the encoding ends in "=="
    const blob = Writer.build((w) => w.string("ssh-ed25519").string(new Uint8Array(33)))
    const good = b64(blob)
    assert.strictEqual(KnownHosts.parse(`a ssh-ed25519 ${good}`).entries.length, 1)
    for (const bad of [good.replace(/=+$/, ""), good.slice(0, -3) + "B==", good + "=", good.slice(0, -1)]) {
      assert.strictEqual(KnownHosts.parse(`a ssh-ed25519 ${bad}`).entries.length, 0, bad)
    }
  })

  const validFile = [line("a.example.com,!b.*", keyA, " c"), `@revoked ${line("*", keyB)}`, line("[x]:2222", keyB)]
    .join("\n")
  const mutated = FastCheck.tuple(
    FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.nat({ max: 3 }), FastCheck.string({ maxLength: 4 })), {
      maxLength: 8
    })
  ).map(([edits]) =>
    edits.reduce((text, [at, op, s]) => {
      const i = text.length === 0 ? 0 : at % text.length
      return op === 0
        ? text.slice(0, i) + text.slice(i + 1) // delete
        : op === 1
        ? text.slice(0, i) + s + text.slice(i) // insert
        : op === 2
        ? text.slice(0, i) + s + text.slice(i + s.length) // overwrite
        : text.slice(0, i) // truncate
    }, validFile)
  )

  it.prop("never throws on random text", [FastCheck.string({ unit: "binary", maxLength: 2000 })], ([text]) => {
    const { entries } = KnownHosts.parse(text)
    assert.isTrue(Array.isArray(KnownHosts.lookup(entries, "a.example.com", 22)))
  }, { fastCheck: { numRuns } })

  it.prop("never throws on mutated files; entries are well formed", [mutated, FastCheck.string()], ([text, host]) => {
    const { entries } = KnownHosts.parse(text)
    for (const e of entries) {
      assert.deepStrictEqual(KnownHosts.keyTypeOfBlob(e.blob), Option.some(e.keyType))
      assert.isFalse(e.text.includes("\n"))
    }
    KnownHosts.check(entries, host, 2222, "ssh-ed25519", keyA)
  }, { fastCheck: { numRuns } })
})

describe("KnownHosts.lookup and check", () => {
  it("SEC-62: a negated pattern excludes the line", () => {
    const text = line("!*.evil.com,*.com")
    assert.deepStrictEqual(lines(text, "a.evil.com", 22), [])
    assert.deepStrictEqual(lines(text, "a.good.com", 22), [1])
  })

  it("SEC-62: host names are compared case-insensitively", () => {
    assert.deepStrictEqual(lines(line("example.com"), "EXAMPLE.com", 22), [1])
    assert.deepStrictEqual(lines(line("EXAMPLE.COM"), "example.com", 22), [1])
  })

  it("SEC-62: [host]:port matches that port only; port 22 is the bare name", () => {
    const text = [line("[example.com]:2222"), line("example.com")].join("\n")
    assert.deepStrictEqual(lines(text, "example.com", 2222), [1])
    assert.deepStrictEqual(lines(text, "example.com", 22), [2])
    assert.deepStrictEqual(lines(text, "example.com", 2223), [])
  })

  it("SEC-62: a hashed [example.com]:2222 entry matches port 2222 only", () => {
    const salt = Uint8Array.from({ length: 20 }, (_, i) => i)
    const text = Either.getOrThrow(
      KnownHosts.formatLine("example.com", 2222, "ssh-ed25519", keyA, { hash: true, salt })
    )
    assert.deepStrictEqual(lines(text, "example.com", 2222), [1])
    assert.deepStrictEqual(lines(text, "EXAMPLE.COM", 2222), [1])
    assert.deepStrictEqual(lines(text, "example.com", 22), [])
  })

  it("check: Match, Mismatch with the known lines, Unknown", () => {
    const { entries } = KnownHosts.parse([line("a,b", keyA), line("b", keyB)].join("\n"))
    assert.strictEqual(KnownHosts.check(entries, "a", 22, "ssh-ed25519", keyA)._tag, "Match")
    const changed = KnownHosts.check(entries, "a", 22, "ssh-ed25519", keyB)
    assert.isTrue(KnownHosts.CheckResult.$is("Mismatch")(changed))
    if (changed._tag === "Mismatch") assert.deepStrictEqual(changed.known.map((e) => e.line), [1])
    assert.strictEqual(KnownHosts.check(entries, "c", 22, "ssh-ed25519", keyA)._tag, "Unknown")
    assert.strictEqual(KnownHosts.check(entries, "b", 22, "ssh-ed25519", keyB)._tag, "Match")
  })

  it("SEC-62: @revoked beats a normal line for the same key; @cert-authority does not make a host known", () => {
    const { entries } = KnownHosts.parse([line("a", keyA), `@revoked ${line("*", keyA)}`].join("\n"))
    assert.strictEqual(KnownHosts.check(entries, "a", 22, "ssh-ed25519", keyA)._tag, "Revoked")
    const ca = KnownHosts.parse(`@cert-authority ${line("*", keyA)}`).entries
    assert.strictEqual(KnownHosts.check(ca, "a", 22, "ssh-ed25519", keyA)._tag, "Unknown")
    assert.strictEqual(KnownHosts.check(ca, "a", 22, "ssh-ed25519", keyB)._tag, "Unknown")
  })

  it("knownKeyTypes lists the plain key types of a host", () => {
    const { entries } = KnownHosts.parse([line("a", keyA), line("a", keyB), `@revoked ${line("a", keyA)}`].join("\n"))
    assert.deepStrictEqual(KnownHosts.knownKeyTypes(entries, "a", 22), ["ssh-ed25519"])
  })

  it("SEC-68: pathological wildcard patterns take bounded time", () => {
    const { entries } = KnownHosts.parse(line("*a".repeat(20) + "*b"))
    for (const host of ["a".repeat(1000), "a".repeat(10_000)]) {
      const start = performance.now()
      assert.deepStrictEqual(KnownHosts.lookup(entries, host, 22), [])
      assert.isBelow(performance.now() - start, 2000)
    }
    assert.deepStrictEqual(lines(line("a.b"), "axb", 22), [])
  })

  it("LIM-33: a sub-pattern over 1022 characters never matches and is reported", () => {
    const long = "x".repeat(1023)
    const parsed = KnownHosts.parse([line(`a,${long}`), line("x".repeat(1022))].join("\n"))
    assert.deepStrictEqual(parsed.warnings.map((w) => w.line), [1])
    assert.deepStrictEqual(KnownHosts.lookup(parsed.entries, "a", 22), [])
    assert.deepStrictEqual(KnownHosts.lookup(parsed.entries, "x".repeat(1022), 22).map((e) => e.line), [2])
  })

  it("formatLine refuses host names that could inject a pattern or a line", () => {
    for (const host of ["a b", "a,b", "*", "a\nb", "", "[a]:22", "!a"]) {
      assert.isTrue(Either.isLeft(KnownHosts.formatLine(host, 22, "ssh-ed25519", keyA, { hash: false })), host)
    }
    assert.deepStrictEqual(
      KnownHosts.formatLine("Host.Example", 2222, "ssh-ed25519", keyA, { hash: false }),
      Either.right(`[host.example]:2222 ssh-ed25519 ${b64(keyA)}`)
    )
  })
})

describe.skipIf(!haveKeygen)("agreement with OpenSSH ssh-keygen", () => {
  it("fingerprintSha256 equals `ssh-keygen -l`", () => {
    for (const [type, bits] of [["ed25519", ""], ["ecdsa", "384"], ["rsa", "1024"]] as const) {
      const file = path.join(tmp, `id_${type}`)
      keygen("-q", "-t", type, ...(bits ? ["-b", bits] : []), "-N", "", "-C", "", "-f", file)
      const [keyType, blob64] = fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ")
      const blob = new Uint8Array(Buffer.from(blob64!, "base64"))
      assert.deepStrictEqual(KnownHosts.keyTypeOfBlob(blob), Option.some(keyType!))
      const expected = keygen("-l", "-E", "sha256", "-f", `${file}.pub`).split(" ")[1]
      assert.strictEqual(HostKey.fingerprintSha256(blob), expected)
    }
  })

  it("SEC-62: ssh-keygen skips the same malformed lines", () => {
    const file = tmpFile(malformed.replaceAll("\r\n", "\n"))
    for (const host of ["a", "host", "host-only", "ok"]) {
      assert.deepStrictEqual(lines(malformed, host, 22), keygenFind(file, host))
    }
  })

  it("formatLine with hash: true writes what `ssh-keygen -H` writes for the same salt", () => {
    for (const [host, port] of [["example.com", 22], ["127.0.0.1", 2222], ["::1", 22], ["fe80::1", 8022]] as const) {
      const plain = Either.getOrThrow(KnownHosts.formatLine(host, port, "ssh-ed25519", keyA, { hash: false }))
      const file = tmpFile(plain + "\n")
      assert.deepStrictEqual(keygenFind(file, KnownHosts.lookupName(host, port)), [1])
      keygen("-H", "-f", file)
      const hashed = fs.readFileSync(file, "utf8").trim()
      const salt = new Uint8Array(Buffer.from(hashed.split("|")[2]!, "base64"))
      const ours = KnownHosts.formatLine(host, port, "ssh-ed25519", keyA, { hash: true, salt })
      assert.deepStrictEqual(ours, Either.right(hashed))
    }
  })

  // A generated table: random known_hosts files over a small universe of names, ports and patterns, looked up
  // by every (name, port) with both `ssh-keygen -F` and `lookup`, plain and after `ssh-keygen -H`.
  const names = ["a.example.com", "b.example.com", "evil.example.com", "x.evil.example.com", "example.com", "db",
    "db1", "10.0.0.1", "10.0.0.12", "::1", "fe80::1", "Mixed.Example.COM"]
  const ports = [22, 2222, 80]
  const wild = ["*", "*.example.com", "?.example.com", "*.evil.*", "10.0.0.?", "10.0.0.*", "db?", "e*e.c?m",
    "[*.example.com]:2222", "[*]:*", "[::1]:*", "*:80", "[DB]:80", "??", ""]
  const pattern = (rnd: () => number): string => {
    const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rnd() * xs.length)]!
    const base = rnd() < 0.3 ? pick(wild) : KnownHosts.lookupName(pick(names), pick(ports))
    const cased = rnd() < 0.2 ? base.toUpperCase() : base
    return (rnd() < 0.15 ? "!" : "") + cased
  }
  /** Well-formed lines, and the same with some malformed ones mixed in (`ssh-keygen -H` refuses those). */
  const table = (seed: number): { readonly valid: string; readonly mixed: string } => {
    let s = seed
    const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000)
    const valid: Array<string> = []
    const mixed: Array<string> = []
    for (let i = 0; i < 60; i++) {
      const hosts = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pattern(rnd)).join(",")
      const r = rnd()
      const marker = r < 0.08 ? "@revoked " : r < 0.16 ? "@cert-authority " : ""
      const l = marker + line(hosts, rnd() < 0.5 ? keyA : keyB, rnd() < 0.3 ? " comment here" : "")
      valid.push(l)
      mixed.push(l)
      const bad = rnd()
      if (bad < 0.05) mixed.push(l.slice(0, hosts.length + marker.length + 5))
      else if (bad < 0.1) mixed.push("@bogus " + l)
    }
    return { valid: valid.join("\n") + "\n", mixed: mixed.join("\n") + "\n" }
  }

  it.each([1, 2, 3])("lookup agrees with `ssh-keygen -F` on generated table %i (plain and hashed)", (seed) => {
    const { mixed, valid } = table(seed)
    const hashedFile = tmpFile(valid)
    keygen("-H", "-f", hashedFile)
    const hashed = fs.readFileSync(hashedFile, "utf8")
    assert.isAbove(KnownHosts.parse(hashed).entries.filter((e) => e.hosts._tag === "Hashed").length, 10)
    let found = 0
    for (const file of [tmpFile(mixed), hashedFile]) {
      const text = fs.readFileSync(file, "utf8")
      for (const name of names) {
        for (const port of ports) {
          const ours = lines(text, name, port)
          found += ours.length
          const theirs = keygenFind(file, KnownHosts.lookupName(name, port))
          assert.deepStrictEqual(ours, theirs, `${name}:${port} in ${file}`)
        }
      }
    }
    assert.isAbove(found, 50)
  })
})
