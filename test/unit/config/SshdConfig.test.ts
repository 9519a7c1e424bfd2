/**
 * The sshd_config(5) grammar without OpenSSH (the corpus test compares with `sshd -T`): errors that name the file,
 * line and keyword; quoting; first value wins and accumulating lists; Match replacing global values; Include
 * (state restored after the file, depth bounded); `-o` overrides winning; the defaults of LoginGraceTime
 * (LIM-17: 120 s) and ClientAlive (LIM-24: off, 3); and how the settings become the server's transport and
 * connection options (serverConfig, connectionHandlers).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either } from "effect"
import * as SshdConfig from "../../../src/config/SshdConfig.js"
import * as Lexer from "../../../src/config/internal/sshdLexer.js"
import * as ConfigServer from "../../../src/server/internal/configServer.js"

const parse = (text: string, include?: SshdConfig.IncludeReader) =>
  SshdConfig.parse(text, { file: "/etc/x/sshd_config", include })
const settings = (text: string, spec?: SshdConfig.ConnectionSpec) =>
  Either.getOrThrow(SshdConfig.settings(Either.getOrThrow(parse(text)), spec))

describe("SshdConfig", () => {
  it("errors name the file, the line and the keyword", () => {
    const e = parse("Port 22\n\n  PasswordAuthentcation no\n")
    assert.isTrue(Either.isLeft(e))
    if (Either.isLeft(e)) {
      assert.strictEqual(e.left.message, "/etc/x/sshd_config line 3: Bad configuration option: PasswordAuthentcation")
      assert.strictEqual(e.left.line, 3)
    }
    assert.match(Either.flip(parse("MaxAuthTries many\n")).pipe(Either.getOrThrow).message, /line 1: MaxAuthTries: invalid integer/)
    assert.match(Either.flip(parse("Match User a\n HostKey /k\n")).pipe(Either.getOrThrow).message, /not allowed within a Match block/)
  })

  it("tokenizes like argv_split: quotes, escapes, trailing comments, Keyword=Value", () => {
    assert.deepStrictEqual(Either.getOrThrow(Lexer.splitArgs(`"a b" 'c d' e\\ f g # comment`)), ["a b", "c d", "e f", "g"])
    assert.isTrue(Either.isLeft(Lexer.splitArgs(`"open`)))
    assert.deepStrictEqual(settings("Banner=\"/etc/a b\"\n").banner, "/etc/a b")
    assert.strictEqual(Lexer.seconds("1h30m"), 5400)
    assert.strictEqual(Lexer.seconds("1x"), undefined)
    assert.strictEqual(Lexer.bytes("64M"), 64 * 2 ** 20)
  })

  it("first value wins; list keywords accumulate; Match blocks replace for the connections they match", () => {
    const text = "MaxAuthTries 3\nMaxAuthTries 9\nAllowUsers a\nAllowUsers b\nMatch Address 10.0.0.0/8\n  AllowUsers c\n  MaxAuthTries 2\n"
    assert.strictEqual(settings(text).maxAuthTries, 3)
    assert.deepStrictEqual(settings(text).allowUsers, ["a", "b"])
    assert.deepStrictEqual(settings(text, { address: "10.2.3.4" }).allowUsers, ["c"])
    assert.strictEqual(settings(text, { address: "10.2.3.4" }).maxAuthTries, 2)
    assert.strictEqual(settings(text, { address: "11.2.3.4" }).maxAuthTries, 3)
    assert.isTrue(SshdConfig.dependsOnUser(Either.getOrThrow(parse("Match User x\n MaxSessions 1\n"))))
  })

  it("Include: files in order, Match inside them stays inside, depth is bounded", () => {
    const files: Record<string, string> = { "/a.conf": "Match User bob\n  MaxSessions 1\n", "/b.conf": "MaxSessions 7\n" }
    const reader: SshdConfig.IncludeReader = (p) =>
      Either.right(p === "/*.conf" ? Object.entries(files).map(([path, text]) => ({ path, text })) : [])
    const config = Either.getOrThrow(parse("Include /*.conf\nMaxAuthTries 4\n", reader))
    assert.strictEqual(Either.getOrThrow(SshdConfig.settings(config)).maxSessions, 7)
    assert.strictEqual(Either.getOrThrow(SshdConfig.settings(config)).maxAuthTries, 4)
    assert.strictEqual(Either.getOrThrow(SshdConfig.settings(config, { user: "bob" })).maxSessions, 1)
    const loop: SshdConfig.IncludeReader = () => Either.right([{ path: "/self", text: "Include /self\n" }])
    assert.match(Either.flip(parse("Include /self\n", loop)).pipe(Either.getOrThrow).message, /nested deeper/)
    assert.match(Either.flip(parse("Include /x\n")).pipe(Either.getOrThrow).message, /Include needs a file reader/)
  })

  it("-o overrides are read first, so they win over the file", () => {
    const config = Either.getOrThrow(parse("PasswordAuthentication yes\n"))
    const o = Either.getOrThrow(SshdConfig.withOverrides(config, ["PasswordAuthentication=no"]))
    assert.isFalse(Either.getOrThrow(SshdConfig.settings(o)).passwordAuthentication)
    assert.isTrue(Either.isLeft(SshdConfig.withOverrides(config, ["Bogus=1"])))
  })

  it("unknown algorithms are an error naming them; +/-/^ apply to effect-ssh's defaults", () => {
    assert.match(Either.flip(SshdConfig.settings(Either.getOrThrow(parse("Ciphers rot13\n")))).pipe(Either.getOrThrow).message, /rot13/)
    assert.notInclude(settings("KexAlgorithms -curve25519-sha256\n").kexAlgorithms, "curve25519-sha256")
    assert.strictEqual(settings("Ciphers ^aes128-ctr\n").ciphers[0], "aes128-ctr")
  })

  it("LIM-17 and LIM-24 defaults: LoginGraceTime 120 s on the handshake and the login; ClientAlive off, count 3", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(parse(""))
      const s = Either.getOrThrow(SshdConfig.settings(config))
      assert.strictEqual(s.loginGraceTime, 120)
      assert.strictEqual(s.clientAliveInterval, 0)
      assert.strictEqual(s.clientAliveCountMax, 3)
      const c: ConfigServer.ConfiguredServer = {
        config,
        settings: s,
        env: { readFile: () => Effect.succeed(undefined), home: () => undefined, groups: () => [] },
        runner: () => Effect.succeed(0),
        subsystems: false,
        server: { hostKeys: [] }
      }
      const server = ConfigServer.serverConfig(c)
      assert.isTrue(Duration.equals(Duration.decode(server.timeouts!.handshake!), Duration.seconds(120)))
      const h = yield* ConfigServer.connectionHandlers(c, { localAddress: "127.0.0.1", localPort: 22 }, "10.0.0.1", { failures: 0, accepted: false, environment: {} })
      assert.isTrue(Duration.equals(Duration.decode(h.authOptions!.timeouts!.loginGrace!), Duration.seconds(120)))
      assert.strictEqual(h.keepalive, undefined)
      assert.strictEqual(h.maxSessions, 10)
      assert.strictEqual(h.authOptions!.limits!.maxAuthTries, 6)
      const alive = Either.getOrThrow(parse("ClientAliveInterval 15\nClientAliveCountMax 2\nLoginGraceTime 0\n"))
      const h2 = yield* ConfigServer.connectionHandlers({ ...c, config: alive, settings: Either.getOrThrow(SshdConfig.settings(alive)) }, { localAddress: "127.0.0.1", localPort: 22 }, undefined, { failures: 0, accepted: false, environment: {} })
      assert.deepStrictEqual(h2.keepalive && Duration.toSeconds(Duration.decode(h2.keepalive.interval)), 15)
      assert.strictEqual(h2.keepalive?.countMax, 2)
      assert.isFalse(Duration.isFinite(Duration.decode(h2.authOptions!.timeouts!.loginGrace!)))
    }).pipe(Effect.runPromise))
})
