/**
 * `effect-ssh ssh`'s command line (src/cli/SshArgs.ts) parsed as OpenSSH's ssh(1) parses it, the pty decision
 * of ssh.c, and the ssh_config → client mappings (ProxyJump/ProxyCommand plan, session environment).
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as SshClientConfig from "../../../src/client/SshClientConfig.js"
import * as Ssh from "../../../src/cli/Ssh.js"
import * as SshArgs from "../../../src/cli/SshArgs.js"
import * as SshConfig from "../../../src/config/SshConfig.js"

const parse = (...argv: Array<string>) => Either.getOrThrowWith(SshArgs.parse(argv), (e) => new Error(e.message))
const bad = (...argv: Array<string>) => {
  const r = SshArgs.parse(argv)
  assert.isTrue(Either.isLeft(r), `accepted ${argv.join(" ")}`)
  return Either.isLeft(r) ? r.left.reason : ""
}

describe("ssh command line", () => {
  it("options before and after the destination, attached values, clusters; the command starts after", () => {
    const a = parse("-p2222", "-vv", "-tt", "u@h", "-l", "x", "-oCompression=yes", "ls", "-la", "-p", "1")
    assert.deepStrictEqual([a.host, a.user, a.port, a.verbose, a.ttyCount], ["h", "u", 2222, 2, 2])
    assert.deepStrictEqual(a.command, ["ls", "-la", "-p", "1"])
    assert.deepStrictEqual(a.options, ["Compression=yes"])
    assert.deepStrictEqual(parse("--", "h", "-p", "1").command, ["-p", "1"])
  })

  it("a repeated -p or -l keeps the first value and never becomes the destination (issue 11)", () => {
    const a = parse("-p", "1111", "-p", "2222", "-l", "one", "-l", "two", "host", "true")
    assert.deepStrictEqual([a.host, a.port, a.user, a.command], ["host", 1111, "one", ["true"]])
    // -l before the destination wins over user@, as in ssh.
    assert.strictEqual(parse("-l", "first", "second@h").user, "first")
  })

  it("-A/-a and -X/-Y/-x: the last flag wins, over -o ForwardAgent/ForwardX11 in any order (as ssh.c assigns them)", () => {
    assert.deepStrictEqual(parse("-A", "-a", "h").options, ["ForwardAgent no"])
    assert.deepStrictEqual(parse("-a", "-A", "h").options, ["ForwardAgent yes"])
    assert.deepStrictEqual(parse("-Aa", "h").options, ["ForwardAgent no"])
    assert.deepStrictEqual(parse("-o", "ForwardAgent=no", "-A", "h").options, ["ForwardAgent yes", "ForwardAgent=no"])
    assert.deepStrictEqual(parse("-X", "-x", "h").options, ["ForwardX11 no"])
    // -x after -Y turns forwarding off and leaves ForwardX11Trusted set, as ssh.c's separate fields do.
    assert.deepStrictEqual(parse("-Y", "-x", "h").options, ["ForwardX11 no", "ForwardX11Trusted yes"])
    assert.deepStrictEqual(parse("-x", "-Y", "h").options, ["ForwardX11 yes", "ForwardX11Trusted yes"])
  })

  it("a bad port is named in ssh's words, not \"is not a integer\" (issue 11)", () => {
    assert.strictEqual(bad("-p", "x", "h"), "Bad port 'x'")
    assert.strictEqual(bad("-p", "70000", "h"), "Bad port '70000'")
  })

  it("-C, -A, -c, -m and -J are ssh_config options; -L/-R/-D/-W are typed", () => {
    const a = parse("-C", "-A", "-c", "aes256-ctr", "-m", "hmac-sha2-256", "-J", "gw1,u@gw2:2200", "-L", "8080:db:5432",
      "-R", "9000", "-D", "127.0.0.1:1080", "-W", "[::1]:22", "h")
    assert.deepStrictEqual(a.options, ["ForwardAgent yes", "Compression yes", "Ciphers aes256-ctr", "MACs hmac-sha2-256", "ProxyJump gw1,u@gw2:2200"])
    assert.deepStrictEqual(a.jumpHosts, [{ user: undefined, host: "gw1", port: undefined }, { user: "u", host: "gw2", port: 2200 }])
    assert.deepStrictEqual(a.localForwards, [SshConfig.parseForward("8080:db:5432", "local")!])
    assert.deepStrictEqual(a.remoteForwards[0]!.listen, { _tag: "Tcp", host: undefined, port: 9000 })
    assert.deepStrictEqual(a.dynamicForwards[0]!.listen, { _tag: "Tcp", host: "127.0.0.1", port: 1080 })
    assert.deepStrictEqual(a.stdioForward, { host: "::1", port: 22 })
  })

  it("ssh:// URLs and refusals", () => {
    const a = parse("ssh://alice@example.com:2022")
    assert.deepStrictEqual([a.user, a.host, a.port], ["alice", "example.com", 2022])
    assert.match(bad("-Z", "h"), /unknown option -- Z/)
    assert.match(bad("-p"), /requires an argument/)
    assert.match(bad("-L", "nonsense", "h"), /Bad local forwarding/)
    assert.match(bad("@h"), /empty user name/)
    assert.strictEqual(bad(), "no destination")
  })

  it("decides the pty as ssh does", () => {
    const base = { requestTTY: "auto", ttyCount: 0, noTty: false, hasCommand: false, noSession: false, stdinIsTerminal: true, stdinNull: false } as const
    assert.isTrue(Ssh.decideTty(base).tty)
    assert.isFalse(Ssh.decideTty({ ...base, hasCommand: true }).tty)
    assert.isTrue(Ssh.decideTty({ ...base, hasCommand: true, ttyCount: 1 }).tty)
    assert.isFalse(Ssh.decideTty({ ...base, noTty: true }).tty)
    assert.isFalse(Ssh.decideTty({ ...base, requestTTY: "no" }).tty)
    assert.deepStrictEqual(Ssh.decideTty({ ...base, stdinIsTerminal: false }), {
      tty: false,
      notice: "Pseudo-terminal will not be allocated because stdin is not a terminal."
    })
    assert.isTrue(Ssh.decideTty({ ...base, stdinIsTerminal: false, ttyCount: 2 }).tty)
    assert.isTrue(Ssh.decideTty({ ...base, stdinIsTerminal: false, requestTTY: "force", hasCommand: true }).tty)
  })
})

describe("ssh_config onto the client", () => {
  const resolve = (text: string) =>
    Either.getOrThrow(SshConfig.resolve([SshConfig.parse(text, "cfg")], {
      host: "web",
      localUser: "me",
      homeDir: "/home/me",
      uid: 1,
      localHostname: "l"
    }))

  it("ProxyJump becomes hops dialed in order, ProxyCommand an expanded command, else direct", () => {
    assert.deepStrictEqual(SshClientConfig.proxyPlan(resolve("ProxyJump a@gw:2200,gw2\n")), {
      _tag: "Jump",
      hops: [{ host: "gw", port: 2200, username: "a" }, { host: "gw2", port: 22, username: undefined }]
    })
    assert.deepStrictEqual(SshClientConfig.proxyPlan(resolve("HostName real\nProxyCommand nc %h %p # %n\n")), {
      _tag: "Command",
      command: "nc real 22 # web",
      template: "nc %h %p # web"
    })
    assert.deepStrictEqual(SshClientConfig.proxyPlan(resolve("ProxyJump none\n")), { _tag: "Direct" })
  })

  it("SetEnv pairs, then the local variables SendEnv names", () => {
    // `SendEnv -X` removes the earlier entries that X matches (readconf.c rm_env): LANG goes, LC_* stays.
    const r = resolve("SetEnv A=1 B=\"two words\"\nSendEnv LC_* LANG\nSendEnv -LAN?\n")
    assert.deepStrictEqual(SshClientConfig.sessionEnv(r, { LANG: "C", LC_ALL: "x", OTHER: "o", A: "local" }), {
      A: "1",
      B: "two words",
      LC_ALL: "x"
    })
  })
})
