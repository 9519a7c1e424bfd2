/**
 * authorized_keys parsing (SEC-64) and OpenSSH pattern / address matching (SEC-68), plus the ready-made
 * publickey handler's use of the options.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as TestClock from "effect/TestClock"
import * as HostKey from "../../../src/crypto/HostKey.js"
import * as AuthorizedKeys from "../../../src/keys/AuthorizedKeys.js"
import * as Certificate from "../../../src/keys/Certificate.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import * as Match from "../../../src/keys/Match.js"
import * as AuthorizedKeysHandler from "../../../src/server/AuthorizedKeysHandler.js"
import * as Loopback from "../../helpers/Loopback.js"
import * as Fuzz from "../../helpers/Fuzz.js"

const keys = Loopback.testHostKeys()
const blobOf = (i: number) => HostKey.encodePublicKey(HostKey.publicKeyOf(keys[i]!))
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64")
const ed = blobOf(0)
const edLine = `ssh-ed25519 ${b64(ed)} alice@example`
const typeOf = (i: number) => HostKey.keyTypeOf(keys[i]!)

const one = (text: string) => {
  const r = AuthorizedKeys.parse(text)
  return { entry: r.entries[0], errors: r.errors }
}

describe("AuthorizedKeys.parse", () => {
  it("plain lines of every key type, comments and blank lines", () => {
    const lines = keys.map((_, i) => `${typeOf(i)} ${b64(blobOf(i))} key${i}`)
    const r = AuthorizedKeys.parse(`# comment\n\n${lines.join("\n")}\r\n`)
    assert.strictEqual(r.entries.length, keys.length)
    assert.deepStrictEqual(r.errors, [])
    r.entries.forEach((e, i) => {
      assert.strictEqual(e.keyType, typeOf(i))
      assert.deepStrictEqual(e.blob, blobOf(i))
      assert.strictEqual(e.comment, `key${i}`)
      assert.strictEqual(e.line, i + 3)
      assert.deepStrictEqual(e.options, AuthorizedKeys.NO_OPTIONS)
    })
  })

  it("options: command with escaped quotes, environment, from, permitopen, expiry-time, principals", () => {
    const { entry } = one(
      `command="echo \\"hi there\\"",environment="A=1",environment="B=x y",from="10.0.0.0/8,!10.1.0.0/16",` +
        `permitopen="db:5432",permitopen="[::1]:*",permitlisten="8080",expiry-time="20300101Z",principals="a,b",` +
        `no-pty,No-Agent-Forwarding ${edLine}`
    )
    assert.isDefined(entry)
    const o = entry!.options
    assert.strictEqual(o.command, "echo \"hi there\"")
    assert.deepStrictEqual(o.environment, [["A", "1"], ["B", "x y"]])
    assert.strictEqual(o.from, "10.0.0.0/8,!10.1.0.0/16")
    assert.deepStrictEqual(o.permitOpen, ["db:5432", "[::1]:*"])
    assert.deepStrictEqual(o.permitListen, ["8080"])
    assert.strictEqual(o.expiresAt, Date.UTC(2030, 0, 1))
    assert.deepStrictEqual(o.principals, ["a", "b"])
    assert.isFalse(o.pty)
    assert.isFalse(o.agentForwarding)
    assert.isTrue(o.portForwarding)
    assert.strictEqual(entry!.comment, "alice@example")
  })

  it("restrict turns everything off; later options turn one back on", () => {
    const o = one(`restrict,pty ${edLine}`).entry!.options
    assert.isTrue(o.pty)
    assert.isFalse(o.portForwarding)
    assert.isFalse(o.agentForwarding)
    assert.isFalse(o.x11Forwarding)
    assert.isFalse(o.userRc)
    assert.isFalse(o.tunnelAllowed)
  })

  it("SEC-64: `restrict AAAA…` (key type missing) is rejected and authorises nothing", () => {
    const r = AuthorizedKeys.parse(`restrict ${b64(ed)}`)
    assert.strictEqual(r.entries.length, 0)
    assert.strictEqual(r.errors.length, 1)
  })

  it("SEC-64: a key type that does not match the blob (`ssh-rsa <ed25519 blob>`) is rejected", () => {
    const r = AuthorizedKeys.parse(`ssh-rsa ${b64(ed)}\necdsa-sha2-nistp256 ${b64(ed)}`)
    assert.strictEqual(r.entries.length, 0)
    assert.strictEqual(r.errors.length, 2)
  })

  it("SEC-64: unknown options, duplicated single options, bad values and trailing commas reject the line", () => {
    for (
      const bad of [
        "frobnicate",
        "command=\"a\",command=\"b\"",
        "from=\"10.0.0.1/33\"",
        "from=\"\"",
        "expiry-time=\"2030\"",
        "environment=\"=x\"",
        "permitopen=\"nohostport\"",
        "no-pty,",
        "command=unquoted",
        "command=\"unterminated",
        "no-pty=\"x\""
      ]
    ) {
      const r = AuthorizedKeys.parse(`${bad} ${edLine}`)
      assert.strictEqual(r.entries.length, 0, bad)
      assert.strictEqual(r.errors.length, 1, bad)
    }
  })

  it("SEC-64: a 20 KiB line whose tail looks like another key is rejected whole, never split", () => {
    const padding = "x".repeat(8192)
    const line = `command="true${padding}" ssh-ed25519 AAAA ${"y".repeat(4000)} ${edLine}${" ".repeat(8000)}`
    const r = AuthorizedKeys.parse(line)
    assert.isAbove(line.length, AuthorizedKeys.MAX_LINE)
    assert.strictEqual(r.entries.length, 0)
  })

  it.prop("never throws on random text", [FastCheck.string({ maxLength: 300 })], ([text]) => {
    const r = AuthorizedKeys.parse(text)
    assert.isArray(r.entries)
  })

  it.prop("never throws on mutated valid lines", [FastCheck.array(Fuzz.arbEdit, { maxLength: 6 })], ([edits]) => {
    const text = `restrict,command="x",from="127.0.0.1",permitopen="h:1" ${edLine}`
    const mutated = new TextDecoder().decode(Fuzz.mutate(new TextEncoder().encode(text), edits))
    const r = AuthorizedKeys.parse(mutated)
    for (const e of r.entries) assert.isTrue(Either.isRight(HostKey.decodePublicKey(e.blob)))
  })
})

describe("Match (SEC-68)", () => {
  it("glob: * and ?, no RegExp semantics", () => {
    assert.isTrue(Match.glob("host.example.com", "*.example.com"))
    assert.isTrue(Match.glob("a1", "a?"))
    assert.isFalse(Match.glob("axb", "a.b"))
    assert.isTrue(Match.glob("a.b", "a.b"))
    assert.isTrue(Match.glob("", "*"))
    assert.isFalse(Match.glob("abc", "ab"))
  })

  it("SEC-68: a pathological pattern against a long subject ends quickly and does not match", () => {
    const pattern = `${"*a".repeat(20)}*b`
    const subject = "a".repeat(10_000)
    assert.isFalse(Match.glob(subject.slice(0, Match.MAX_LENGTH), pattern))
    assert.isFalse(Match.glob(subject, pattern)) // over the length cap: never matches
  })

  it("pattern lists: negation wins (openssh match.c)", () => {
    assert.strictEqual(Match.patternList("a.example.com", "*.example.com,!b.example.com"), 1)
    assert.strictEqual(Match.patternList("b.example.com", "*.example.com,!b.example.com"), -1)
    assert.strictEqual(Match.patternList("c.other", "*.example.com"), 0)
    assert.strictEqual(Match.patternList("HOST", "host", true), 1)
  })

  it("address lists: CIDR strictly parsed, negation, wildcards", () => {
    assert.strictEqual(Match.addressList("10.1.2.3", "10.0.0.0/8"), 1)
    assert.strictEqual(Match.addressList("10.1.2.3", "10.0.0.0/8,!10.1.0.0/16"), -1)
    assert.strictEqual(Match.addressList("192.168.1.1", "10.0.0.0/8"), 0)
    assert.strictEqual(Match.addressList("127.0.0.1", "127.0.0.*"), 1)
    assert.strictEqual(Match.addressList("::1", "::1/128"), 1)
    assert.strictEqual(Match.addressList("2001:db8::5", "2001:db8::/32"), 1)
    assert.strictEqual(Match.addressList("10.0.0.1", "10.0.0.1/33"), "invalid")
    assert.strictEqual(Match.addressList("10.0.0.1", "10.0.0.1/8"), "invalid") // host bits set
    assert.strictEqual(Match.addressList("10.0.0.1", ""), "invalid")
  })
})

describe("AuthorizedKeysHandler", () => {
  const request = (blob: Uint8Array, remoteAddress?: string) => ({
    username: "alice",
    key: { algorithm: "ssh-ed25519", blob, keyType: "ssh-ed25519", fingerprint: HostKey.fingerprintSha256(blob) },
    verified: true,
    remoteAddress
  })

  it.effect("accepts a listed key with its options as restrictions; refuses others", () =>
    Effect.gen(function*() {
      const { entries } = AuthorizedKeys.parse(`no-pty,command="uptime",environment="X=1" ${edLine}`)
      const decide = AuthorizedKeysHandler.make(entries)
      const d = yield* decide(request(ed))
      assert.deepStrictEqual(d, {
        _tag: "Accept",
        restrictions: {
          forceCommand: "uptime",
          environment: { X: "1" },
          pty: false,
          portForwarding: undefined,
          agentForwarding: undefined,
          x11Forwarding: undefined,
          userRc: undefined,
          permitOpen: undefined,
          permitListen: undefined
        }
      })
      assert.isFalse(yield* decide(request(blobOf(1))))
    }))

  it.effect("from= checks the client's address; an unknown address is refused", () =>
    Effect.gen(function*() {
      const decide = AuthorizedKeysHandler.make(AuthorizedKeys.parse(`from="127.0.0.1,10.0.0.0/8" ${edLine}`).entries)
      assert.notStrictEqual(yield* decide(request(ed, "127.0.0.1")), false)
      assert.notStrictEqual(yield* decide(request(ed, "10.9.8.7")), false)
      assert.isFalse(yield* decide(request(ed, "192.168.0.1")))
      assert.isFalse(yield* decide(request(ed)))
    }))

  it.effect("expiry-time: accepted before, refused from then on (Clock)", () =>
    Effect.gen(function*() {
      const decide = AuthorizedKeysHandler.make(AuthorizedKeys.parse(`expiry-time="20300101Z" ${edLine}`).entries)
      yield* TestClock.setTime(Date.UTC(2029, 11, 31))
      assert.notStrictEqual(yield* decide(request(ed)), false)
      yield* TestClock.setTime(Date.UTC(2030, 0, 1))
      assert.isFalse(yield* decide(request(ed)))
    }))

  it.effect("cert-authority lines never authorise a plain key", () =>
    Effect.gen(function*() {
      const decide = AuthorizedKeysHandler.make(AuthorizedKeys.parse(`cert-authority ${edLine}`).entries)
      assert.isFalse(yield* decide(request(ed)))
    }))

  describe("cert-authority lines (SEC-64, SEC-65)", () => {
    const ca = keys[0]!
    const user = keys[1]!
    const caLine = (options: string) => `${options} ssh-ed25519 ${b64(ed)} ca`
    const certRequest = (principals: ReadonlyArray<string>, username: string) =>
      Effect.gen(function*() {
        const cert = yield* Either.mapLeft(
          Certificate.signWith(NodeCrypto, { key: user, caKey: ca, type: "user", keyId: "id", principals }),
          (e) => new Error(e.message)
        )
        const valid = yield* Either.mapLeft(Certificate.validate(NodeCrypto, cert, 1000n, { type: "user" }), (e) => new Error(e.message))
        const blob = HostKey.encodePublicKey(HostKey.publicKeyOf(user))
        return {
          username,
          key: {
            algorithm: "ssh-ed25519-cert-v01@openssh.com",
            blob,
            keyType: HostKey.keyTypeOf(user),
            fingerprint: HostKey.fingerprintSha256(blob),
            certificate: { ...valid, trusted: false }
          },
          verified: true
        }
      })

    it.effect("a certificate of the CA is accepted for a listed principal or the user name; never for a plain line", () =>
      Effect.gen(function*() {
        const byName = AuthorizedKeysHandler.make(AuthorizedKeys.parse(caLine("cert-authority")).entries)
        assert.notStrictEqual(yield* byName(yield* certRequest(["alice"], "alice")), false)
        assert.isFalse(yield* byName(yield* certRequest(["bob"], "alice")))
        const listed = AuthorizedKeysHandler.make(AuthorizedKeys.parse(caLine("cert-authority,principals=\"ops,deploy\"")).entries)
        assert.notStrictEqual(yield* listed(yield* certRequest(["deploy"], "alice")), false)
        assert.isFalse(yield* listed(yield* certRequest(["alice"], "alice")))
        // The CA's key as a plain authorized key does not authorise its certificates.
        const plain = AuthorizedKeysHandler.make(AuthorizedKeys.parse(caLine("")).entries)
        assert.isFalse(yield* plain(yield* certRequest(["alice"], "alice")))
      }))

    it.effect("SEC-64: principals=\"alice,bob\" and a certificate whose one principal is \"alice,bob\": refused for both", () =>
      Effect.gen(function*() {
        const decide = AuthorizedKeysHandler.make(AuthorizedKeys.parse(caLine("cert-authority,principals=\"alice,bob\"")).entries)
        assert.isFalse(yield* decide(yield* certRequest(["alice,bob"], "alice")))
        assert.isFalse(yield* decide(yield* certRequest(["alice,bob"], "bob")))
      }))

    it.effect("SEC-65: a certificate with no principals never matches, even with principals= on the line", () =>
      Effect.gen(function*() {
        const decide = AuthorizedKeysHandler.make(AuthorizedKeys.parse(caLine("cert-authority,principals=\"alice\"")).entries)
        assert.isFalse(yield* decide(yield* certRequest([], "alice")))
      }))
  })
})
