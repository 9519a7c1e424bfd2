/**
 * `effect-ssh serve -T` against `/usr/sbin/sshd -T` on a corpus of configurations: for every keyword both print
 * (the keywords effect-ssh applies), the values agree — defaults, first value wins, accumulating lists,
 * `Keyword=Value`, quoting, aliases, time and size units, Match User/Group/Address/LocalPort/Host/All (with
 * `-C`), Include. Algorithm lists are compared when the configuration names them explicitly (the defaults differ:
 * OpenSSH offers sk-* and we offer mlkem). `serve -T` prints the values it applies, so AllowTcpForwarding /
 * AllowStreamLocalForwarding (off unless the file names them; sshd: yes) and PerSourceMaxStartups (8; sshd: none)
 * are compared only when the file names them, and otherwise checked to be serve's own defaults. The bad
 * configurations are refused by both.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Serve from "../../src/cli/Serve.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sshd-config-"))
const hostKey = path.join(dir, "host_key")
const incDir = path.join(dir, "conf.d")
if (has) {
  fs.mkdirSync("/run/sshd", { recursive: true })
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
  fs.mkdirSync(incDir)
  fs.writeFileSync(path.join(incDir, "10-a.conf"), "PasswordAuthentication no\nMatch User alice\n  MaxAuthTries 2\n")
  fs.writeFileSync(path.join(incDir, "20-b.conf"), "PasswordAuthentication yes\nMaxSessions 4\n")
}

const ALGORITHMS = ["kexalgorithms", "ciphers", "macs", "hostkeyalgorithms", "pubkeyacceptedalgorithms", "casignaturealgorithms"]
/** serve's own defaults where they differ from sshd's (docs/server.md): compared only when the file names them. */
const SERVE_DEFAULTS: Readonly<Record<string, string>> = {
  allowtcpforwarding: "allowtcpforwarding no",
  allowstreamlocalforwarding: "allowstreamlocalforwarding no",
  persourcemaxstartups: "persourcemaxstartups 8"
}

interface Case {
  readonly name: string
  readonly config: string
  /** sshd -C connection specs to compare under (none: global values only). */
  readonly specs?: ReadonlyArray<string>
}

const CASES: ReadonlyArray<Case> = [
  { name: "defaults", config: "" },
  { name: "port and listen address", config: "Port 2222\nListenAddress 127.0.0.1\n" },
  { name: "two ports, a listen address with its own port", config: "Port 2222\nPort 2223\nListenAddress 10.0.0.1:99\nListenAddress 10.0.0.2\n" },
  { name: "AddressFamily inet", config: "AddressFamily inet\nPort 2200\n" },
  { name: "IPv6 listen addresses", config: "ListenAddress [::1]:2200\nListenAddress 127.0.0.1\n" },
  { name: "auth switches", config: "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n" },
  { name: "ChallengeResponseAuthentication is an alias", config: "ChallengeResponseAuthentication no\n" },
  { name: "PermitRootLogin prohibit-password", config: "PermitRootLogin prohibit-password\n" },
  { name: "PermitRootLogin forced-commands-only", config: "PermitRootLogin forced-commands-only\n" },
  { name: "PermitRootLogin no, first value wins", config: "PermitRootLogin no\nPermitRootLogin yes\n" },
  { name: "Allow/Deny users and groups accumulate", config: "AllowUsers alice bob@10.0.0.*\nAllowUsers carol\nDenyUsers mallory\nAllowGroups staff wheel\nDenyGroups guests\n" },
  { name: "limits", config: "MaxAuthTries 3\nMaxSessions 2\nMaxStartups 3\n" },
  { name: "MaxStartups start:rate:full", config: "MaxStartups 5:50:20\nPerSourceMaxStartups 4\n" },
  { name: "time units", config: "LoginGraceTime 1m30s\nClientAliveInterval 1w2d\nClientAliveCountMax 2\nUnusedConnectionTimeout 1h\n" },
  { name: "LoginGraceTime 0", config: "LoginGraceTime 0\nClientAliveInterval 15\n" },
  { name: "banner, force command, chroot", config: "Banner /etc/issue.net\nForceCommand echo hi there\nChrootDirectory /srv/%u\n" },
  { name: "subsystems", config: "Subsystem sftp internal-sftp\nSubsystem backup /usr/bin/backup --serve -x\n" },
  { name: "AcceptEnv accumulates, SetEnv first line wins", config: "AcceptEnv LANG LC_*\nAcceptEnv FOO\nSetEnv A=1 B=2\nSetEnv C=3\n" },
  { name: "tty and user environment", config: "PermitTTY no\nPermitUserEnvironment LANG,LC_*\n" },
  { name: "forwarding keywords", config: "AllowTcpForwarding local\nAllowStreamLocalForwarding no\nAllowAgentForwarding no\nGatewayPorts clientspecified\nDisableForwarding yes\nX11Forwarding yes\nPermitTunnel point-to-point\n" },
  { name: "AllowTcpForwarding all is yes", config: "AllowTcpForwarding all\nAllowStreamLocalForwarding remote\n" },
  { name: "PermitOpen and PermitListen", config: "PermitOpen host:22 other:80\nPermitListen localhost:80 9000\n" },
  { name: "explicit algorithms", config: "Ciphers aes128-ctr,aes256-gcm@openssh.com\nMACs hmac-sha2-256-etm@openssh.com,hmac-sha2-512\nKexAlgorithms curve25519-sha256,diffie-hellman-group14-sha256\n" },
  { name: "explicit key algorithms", config: "HostKeyAlgorithms ssh-ed25519,rsa-sha2-512\nPubkeyAcceptedAlgorithms ssh-ed25519,ecdsa-sha2-nistp256\nCASignatureAlgorithms ssh-ed25519,rsa-sha2-256\n" },
  { name: "RekeyLimit sizes", config: "RekeyLimit 1G 1h\n" },
  { name: "RekeyLimit default none", config: "RekeyLimit default none\nLogLevel DEBUG3\n" },
  { name: "AuthenticationMethods chains", config: "AuthenticationMethods publickey,password publickey,keyboard-interactive\n" },
  { name: "authorized keys files, CA keys, KRL", config: "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u\nAuthorizedKeysFile ignored\nTrustedUserCAKeys /etc/ssh/ca.pub\nRevokedKeys /etc/ssh/revoked\n" },
  { name: "syntax: Keyword=Value, quotes, comments, case", config: "passwordauthentication=no\n  MAXAUTHTRIES   4   # trailing comment\n# a comment\n\nBanner \"/etc/issue net\"\nLogLevel=verbose\nport = 2022\n" },
  { name: "keywords sshd knows and effect-ssh ignores", config: "UsePAM yes\nPrintMotd no\nX11DisplayOffset 10\nMaxAuthTries 5\n" },
  {
    name: "Match User",
    config: "PasswordAuthentication yes\nMatch User alice,carol\n  PasswordAuthentication no\n  ForceCommand /bin/true\n  PermitTTY no\n",
    specs: ["user=alice,addr=10.0.0.1,host=h", "user=bob,addr=10.0.0.1,host=h"]
  },
  {
    name: "Match User with negation",
    config: "Match User !bob,*\n  MaxSessions 1\n",
    specs: ["user=alice,addr=1.2.3.4,host=h", "user=bob,addr=1.2.3.4,host=h"]
  },
  {
    name: "Match Address (CIDR)",
    config: "AllowUsers nobody\nMatch Address 10.0.0.0/8,192.168.1.*\n  AllowUsers alice bob\n  ClientAliveInterval 30\n",
    specs: ["user=alice,addr=10.1.2.3,host=h", "user=alice,addr=192.168.1.7,host=h", "user=alice,addr=172.16.0.1,host=h"]
  },
  {
    name: "Match LocalPort",
    config: "Port 22\nPort 2222\nMatch LocalPort 2222\n  PasswordAuthentication no\n  Banner /etc/other\n",
    specs: ["user=u,addr=1.1.1.1,host=h,lport=2222,laddr=127.0.0.1", "user=u,addr=1.1.1.1,host=h,lport=22,laddr=127.0.0.1"]
  },
  {
    name: "Match Group",
    config: "Match Group root,wheel\n  PermitTTY no\n",
    specs: ["user=root,addr=1.1.1.1,host=h", "user=nobody,addr=1.1.1.1,host=h"]
  },
  {
    name: "Match Host",
    config: "Match Host *.example.com\n  MaxAuthTries 2\n",
    specs: ["user=u,addr=1.1.1.1,host=a.example.com", "user=u,addr=1.1.1.1,host=example.org"]
  },
  {
    name: "Match blocks: first matching value wins, Match All",
    config: "MaxSessions 9\nMatch User alice\n  MaxSessions 3\nMatch All\n  MaxSessions 5\n  MaxAuthTries 4\n",
    specs: ["user=alice,addr=1.1.1.1,host=h", "user=bob,addr=1.1.1.1,host=h"]
  },
  {
    name: "two criteria must both hold",
    config: "Match User alice Address 10.0.0.0/8\n  AllowTcpForwarding no\n",
    specs: ["user=alice,addr=10.0.0.5,host=h", "user=alice,addr=11.0.0.5,host=h"]
  },
  {
    name: "Include with a glob (files in order, their Match blocks stay inside)",
    config: `Include ${incDir}/*.conf\nMaxAuthTries 5\n`,
    specs: ["user=alice,addr=1.1.1.1,host=h", "user=bob,addr=1.1.1.1,host=h"]
  }
]

const BAD: ReadonlyArray<readonly [string, string]> = [
  ["unknown keyword", "Foo bar\n"],
  ["keyword not allowed in Match", "Match User x\n  Port 22\n"],
  ["bad yes/no", "PasswordAuthentication maybe\n"],
  ["bad MaxStartups", "MaxStartups 3:40\n"],
  ["duplicate subsystem", "Subsystem a /x\nSubsystem a /y\n"],
  ["bad Match attribute", "Match Colour blue\n  MaxSessions 1\n"],
  ["missing argument", "Port\n"],
  ["unterminated quote", "Banner \"/etc/issue\n"]
]

const write = (name: string, text: string) => {
  const file = path.join(dir, name.replace(/\W+/g, "_"))
  fs.writeFileSync(file, `HostKey ${hostKey}\nPidFile none\n${text}`)
  return file
}

const sshdT = (file: string, spec?: string) => {
  const r = spawnSync(OpenSsh.SSHD, ["-T", "-f", file, ...(spec === undefined ? [] : ["-C", spec])], { stdio: "pipe" })
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() }
}

const oursT = (file: string, spec?: string) =>
  Effect.runPromise(Effect.either(Serve.effectiveConfig(["-T", "-f", file, ...(spec === undefined ? [] : ["-C", spec])])))

/** Lines by keyword, in order. */
const byKeyword = (text: string) => {
  const m = new Map<string, Array<string>>()
  for (const line of text.split("\n")) {
    if (line === "") continue
    const k = line.split(" ")[0]!
    m.set(k, [...(m.get(k) ?? []), line])
  }
  return m
}

describe.skipIf(!has)("serve -T agrees with sshd -T", () => {
  for (const c of CASES) {
    for (const spec of c.specs ?? [undefined]) {
      it(`${c.name}${spec === undefined ? "" : ` (-C ${spec})`}`, async () => {
        const file = write(c.name, c.config)
        const theirs = sshdT(file, spec)
        assert.strictEqual(theirs.code, 0, theirs.err)
        const ours = await oursT(file, spec)
        assert.isTrue(Either.isRight(ours), Either.isLeft(ours) ? ours.left.message : "")
        const a = byKeyword(Either.getOrThrow(ours))
        const b = byKeyword(theirs.out)
        const explicit = (k: string) => new RegExp(`^\\s*${k}[\\s=]+[^+\\-^]`, "im").test(c.config)
        const named = (k: string) => new RegExp(`^\\s*${k}[\\s=]`, "im").test(c.config)
        for (const [k, line] of Object.entries(SERVE_DEFAULTS)) {
          if (!named(k)) assert.deepStrictEqual(a.get(k), [line], `serve's default for ${k}`)
        }
        const shared = [...a.keys()].filter((k) =>
          b.has(k) && (!ALGORITHMS.includes(k) || explicit(k)) && (SERVE_DEFAULTS[k] === undefined || named(k))
        )
        assert.isAbove(shared.length, 32)
        for (const k of shared) assert.deepStrictEqual(a.get(k), b.get(k), `keyword ${k}`)
      })
    }
  }
  for (const [name, text] of BAD) {
    it(`refused by both: ${name}`, async () => {
      const file = write(`bad ${name}`, text)
      assert.notStrictEqual(sshdT(file).code, 0)
      const ours = await oursT(file)
      assert.isTrue(Either.isLeft(ours))
      // The error names the file and the line (the HostKey and PidFile lines come first).
      if (Either.isLeft(ours) && name !== "unterminated quote") assert.match(ours.left.message, /line \d+/)
    })
  }
  it("the corpus holds at least 30 configurations", () => {
    assert.isAtLeast(CASES.length, 30)
  })
  it("the command line prints the same as the library (bin/effect-ssh.mjs serve -T -f cfg -C …)", async () => {
    const c = CASES.find((x) => x.name === "Match Address (CIDR)")!
    const file = write(c.name, c.config)
    const spec = c.specs![0]!
    const bin = path.resolve(__dirname, "../../bin/effect-ssh.mjs")
    const r = spawnSync(process.execPath, [bin, "serve", "-T", "-f", file, "-C", spec], { stdio: "pipe", timeout: 60_000 })
    assert.strictEqual(r.status, 0, r.stderr.toString())
    assert.strictEqual(r.stdout.toString(), Either.getOrThrow(await oursT(file, spec)))
    assert.include(r.stdout.toString(), "allowusers alice\nallowusers bob\n")
    assert.include(r.stdout.toString(), "clientaliveinterval 30\n")
  })
})
