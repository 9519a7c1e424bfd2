/**
 * The pure ssh_config(5) parser and resolver (src/config/SshConfig.ts): line splitting, first value wins,
 * Host/Match, Include through an in-memory FileAccess, tokens and variables, and the errors ssh reports.
 * The comparison with OpenSSH's own `ssh -G` is test/interop/ssh-config.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import * as SshConfig from "../../../src/config/SshConfig.js"
import { splitArgs, splitLine } from "../../../src/config/internal/lexer.js"
import { expand } from "../../../src/config/internal/tokens.js"
import * as Keys from "../../../src/keys/Match.js"

const input = (host: string, extra: Partial<SshConfig.ResolveInput> = {}): SshConfig.ResolveInput => ({
  host,
  localUser: "me",
  homeDir: "/home/me",
  uid: 1000,
  localHostname: "laptop.example.org",
  ...extra
})

const resolve = (text: string, host: string, extra: Partial<SshConfig.ResolveInput> = {}) =>
  SshConfig.resolve([SshConfig.parse(text, "cfg")], input(host, extra))

const ok = (text: string, host: string, extra: Partial<SshConfig.ResolveInput> = {}) =>
  Either.getOrThrowWith(resolve(text, host, extra), (e) => new Error(e.message))

const error = (text: string, host = "h") => {
  const r = resolve(text, host)
  assert.isTrue(Either.isLeft(r), `accepted: ${text}`)
  return Either.isLeft(r) ? r.left.message : ""
}

describe("ssh_config lines", () => {
  it("splits keyword and arguments: case, = or blanks, quotes, escapes, comments", () => {
    assert.deepStrictEqual(splitLine("  HostName = example.com  "), { keyword: "hostname", args: ["example.com"], rest: "example.com" })
    assert.deepStrictEqual(splitLine("User=bob"), { keyword: "user", args: ["bob"], rest: "bob" })
    assert.deepStrictEqual(splitLine("IdentityFile \"/a b/c\" # note"), {
      keyword: "identityfile",
      args: ["/a b/c"],
      rest: "\"/a b/c\" # note"
    })
    assert.isUndefined(splitLine("   # comment"))
    assert.isUndefined(splitLine(""))
    assert.strictEqual(splitLine("Port"), "no argument after keyword \"port\"")
    assert.strictEqual(splitLine("User \"open"), "invalid quotes")
    assert.deepStrictEqual(splitArgs("a\\ b 'c d' \"e\\\"f\"", true), ["a b", "c d", "e\"f"])
  })

  it("expands tokens and variables; %% is a literal; unknown tokens and unset variables fail", () => {
    assert.deepStrictEqual(expand("%h:%p %%", { h: "host", p: "22" }, undefined), { value: "host:22 %" })
    assert.deepStrictEqual(expand("${HOME}/x", undefined, (n) => (n === "HOME" ? "/h" : undefined)), { value: "/h/x" })
    assert.isTrue("error" in expand("%z", { h: "x" }, undefined))
    assert.isTrue("error" in expand("%", { h: "x" }, undefined))
    assert.isTrue("error" in expand("${NOPE}", undefined, () => undefined))
  })
})

describe("ssh_config resolution", () => {
  it("applies the first value of each option; Host patterns with * ? and negation", () => {
    const text = "Host web\n  User first\n  Port 2200\nHost *.example.com !bad.example.com\n  User star\nHost *\n  User last\n  Port 2\n"
    const web = ok(text, "web")
    assert.strictEqual(web.user, "first")
    assert.strictEqual(web.port, 2200)
    assert.strictEqual(ok(text, "a.example.com").user, "star")
    assert.strictEqual(ok(text, "bad.example.com").user, "last")
    assert.strictEqual(ok(text, "x").port, 2)
  })

  it("command-line values (-l/user@, -p, -o) come first", () => {
    const r = ok("Host *\n  User cfg\n  Port 1\n  Compression no\n", "h", { user: "cli", port: 2022, options: ["Compression=yes", "compression no"] })
    assert.deepStrictEqual([r.user, r.port, r.compression], ["cli", 2022, true])
  })

  it("HostName expands %h and is lower-cased; Match host sees it, Match originalhost the alias", () => {
    const text = "Host *\n  HostName %h.Example.COM\nMatch host web.example.com\n  User viahost\nMatch originalhost web\n  Port 2022\n"
    const r = ok(text, "web")
    assert.deepStrictEqual([r.hostname, r.user, r.port], ["web.example.com", "viahost", 2022])
  })

  it("Match user, localuser, all, negation; Match exec only with a runner", () => {
    assert.strictEqual(ok("Match user root\n  Port 1\n", "h", { user: "root" }).port, 1)
    assert.strictEqual(ok("Match localuser me\n  Port 2\n", "h").port, 2)
    assert.strictEqual(ok("Match !localuser me\n  Port 2\n", "h").port, 22)
    assert.strictEqual(ok("Match all\n  Port 3\n", "h").port, 3)
    assert.match(error("Match exec true\n  Port 4\n"), /Match exec is not allowed/)
    const ran: Array<string> = []
    const r = ok("Match exec \"test %h = h\"\n  Port 5\n", "h", { exec: (c) => (ran.push(c), true) })
    assert.strictEqual(r.port, 5)
    assert.deepStrictEqual(ran, ["test h = h"])
    // A failed earlier criterion skips the command, as ssh does.
    ok("Match host nope exec false\n  Port 6\n", "h", { exec: (c) => assert.fail(`ran ${c}`) })
  })

  it("Match final applies in the second pass, with the final host name", () => {
    const r = ok("Host h\n  HostName real\nMatch final host real\n  User second\n", "h")
    assert.strictEqual(r.user, "second")
    assert.strictEqual(ok("Match !final\n  User first\nMatch final\n  User later\n", "h").user, "first")
  })

  it("defaults as ssh: user, port, identity files, known hosts, the BatchMode keepalive", () => {
    const r = ok("", "h")
    assert.strictEqual(r.user, "me")
    assert.strictEqual(r.port, 22)
    assert.deepStrictEqual(r.identityFiles, SshConfig.DEFAULT_IDENTITY_FILES)
    assert.isFalse(r.identityFilesConfigured)
    assert.deepStrictEqual(r.userKnownHostsFiles, ["/home/me/.ssh/known_hosts", "/home/me/.ssh/known_hosts2"])
    assert.deepStrictEqual(r.globalKnownHostsFiles, ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"])
    assert.strictEqual(r.strictHostKeyChecking, "ask")
    assert.strictEqual(ok("BatchMode yes\n", "h").serverAliveInterval, 300)
  })

  it("expands tokens in the keywords that take them (%C is ssh's connection hash)", () => {
    const r = ok("Host *\n  UserKnownHostsFile ~/kh-%h-%p-%r-%u-%n-%L-%l-%i-%d\n  IdentityAgent /tmp/%C\n", "Alias", { user: "bob" })
    assert.deepStrictEqual(r.userKnownHostsFiles, ["/home/me/kh-alias-22-bob-me-Alias-laptop-laptop.example.org-1000-/home/me"])
    assert.match(r.identityAgent ?? "", /^\/tmp\/[0-9a-f]{40}$/)
  })

  it("ProxyJump hops in order, ProxyCommand with its tokens, whichever comes first wins", () => {
    const j = ok("Host *\n  ProxyJump a@gw1:2200,ssh://b@gw2\n  ProxyCommand nc %h %p\n", "h")
    assert.deepStrictEqual(j.proxyJump, [{ user: "a", host: "gw1", port: 2200 }, { user: "b", host: "gw2", port: undefined }])
    assert.isUndefined(j.proxyCommand)
    const c = ok("Host *\n  ProxyCommand nc %h %p %%\n  ProxyJump gw\n", "h")
    assert.deepStrictEqual(c.proxyJump, [])
    assert.strictEqual(SshConfig.expandProxyCommand(c), "nc h 22 %")
  })

  it("parses forwards into typed values", () => {
    const r = ok("LocalForward 8080 localhost:80\nLocalForward [::1]:8443 db:5432\nRemoteForward 9000\nDynamicForward 1080\n", "h")
    assert.deepStrictEqual(r.localForwards[0], {
      listen: { _tag: "Tcp", host: undefined, port: 8080 },
      connect: { _tag: "Tcp", host: "localhost", port: 80 }
    })
    assert.deepStrictEqual(r.localForwards[1]!.listen, { _tag: "Tcp", host: "::1", port: 8443 })
    assert.deepStrictEqual(r.remoteForwards[0], { listen: { _tag: "Tcp", host: undefined, port: 9000 }, connect: undefined })
    assert.strictEqual(r.localForwards.length, 3)
    assert.isUndefined(SshConfig.parseForward("8080", "local"))
    assert.isUndefined(SshConfig.parseForward("0:h:1", "local"))
  })

  it("keeps the keywords it does not act on by name; IgnoreUnknown silences unknown ones", () => {
    const r = ok("IgnoreUnknown UseKeychain\nUseKeychain yes\nControlMaster auto\nForwardX11 yes\n", "h")
    assert.deepStrictEqual([...r.unimplemented.keys()], ["controlmaster", "forwardx11"])
  })

  it("refuses what ssh refuses, with the file and line, in blocks that do not apply too", () => {
    assert.strictEqual(error("Host *\n  Bogus 1\n"), "cfg line 2: Bad configuration option: bogus")
    assert.match(error("Host nomatch\n  Port 0\n"), /cfg line 2: port: bad port/)
    assert.match(error("Match all user x\n"), /cannot be combined/)
    assert.match(error("Match\n"), /no argument after keyword/)
    assert.match(error("Match foo bar\n"), /unsupported Match attribute foo/)
    assert.match(error("SendEnv A=B\n"), /invalid environment name/)
  })
})

describe("command-line destinations (SEC-69)", () => {
  it("host and user names that could reach a shell through %h/%r are refused before anything runs", () => {
    const ran: Array<string> = []
    const exec = (c: string) => (ran.push(c), true)
    for (const [host, user] of [
      ["a;touch /tmp/pwn", undefined],
      ["`touch /tmp/pwn`", undefined],
      ["-oProxyCommand=touch /tmp/pwn", undefined],
      ["$(id)", undefined],
      ["h", "x\nid>/tmp/pwn"],
      ["h", "a;b"],
      ["h", "-oops"],
      ["h\u0000", undefined]
    ] as const) {
      const r = resolve("Match exec \"echo %h %r\"\n  Port 1\n", host, { user, exec })
      assert.isTrue(Either.isLeft(r) && r.left.message.includes("invalid characters"), `${host} ${user}`)
    }
    assert.deepStrictEqual(ran, [])
    // Ordinary names, IPv6 literals and user names with @ or dots pass.
    assert.isTrue(Either.isRight(resolve("", "[2001:db8::1]", { user: "first.last@corp" })))
    assert.isTrue(Either.isRight(resolve("", "web-1.example.com", { user: "deploy_user" })))
  })
})

describe("ssh_config Include", () => {
  const files: Record<string, string> = {
    "/home/me/.ssh/config": "Include conf.d/*.conf\nHost *\n  User fallback\n",
    "/home/me/.ssh/conf.d/10-a.conf": "Host a\n  User from-a\nInclude ~/.ssh/nested\n",
    "/home/me/.ssh/conf.d/20-b.conf": "Host b\n  Port 2022\n",
    "/home/me/.ssh/nested": "Port 2200\nHost n\n  User nested\n",
    "/home/me/.ssh/loop": "Include ~/.ssh/loop\n"
  }
  const access: SshConfig.FileAccess<never, never> = {
    homeDir: "/home/me",
    readFile: (p) => Effect.succeed(Option.fromNullable(files[p])),
    glob: (pattern) => Effect.succeed(Object.keys(files).filter((p) => Keys.glob(p, pattern)).sort())
  }

  it.effect("reads globs relative to ~/.ssh and ~ paths, in sorted order, recursively", () =>
    Effect.gen(function*() {
      const file = Option.getOrThrow(yield* SshConfig.load("/home/me/.ssh/config", access))
      const at = (host: string) => Either.getOrThrow(SshConfig.resolve([file], input(host)))
      assert.strictEqual(at("a").user, "from-a")
      assert.strictEqual(at("b").port, 2022)
      // The nested file is included from inside `Host a`: it applies to a only, and its Host lines never match.
      assert.strictEqual(at("a").port, 2200)
      assert.strictEqual(at("n").user, "fallback")
      assert.strictEqual(at("z").user, "fallback")
      assert.isTrue(Option.isNone(yield* SshConfig.load("/home/me/.ssh/missing", access)))
    }))

  it.effect("an Include loop stops at ssh's depth limit", () =>
    Effect.gen(function*() {
      const r = yield* Effect.either(SshConfig.load("/home/me/.ssh/loop", access))
      assert.isTrue(Either.isLeft(r) && r.left.message.includes("too many recursive"))
    }))

  it.effect("a system file may not Include ~ paths", () =>
    Effect.gen(function*() {
      const r = yield* Effect.either(SshConfig.load("/home/me/.ssh/conf.d/10-a.conf", access, { userConfig: false }))
      assert.isTrue(Either.isLeft(r) && r.left.message.includes("bad include path"))
    }))
})
