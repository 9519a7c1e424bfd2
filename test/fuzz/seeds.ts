/**
 * Seeds for the fuzz targets, from real OpenSSH where it is installed: `sshd -i`'s identification line and its
 * first binary packet (KEXINIT) as captured from its stdout, and files written by `ssh-keygen` — keys of every
 * type and format (openssh-key-v1 plain and encrypted, PEM, PKCS#8, RFC 4716), certificates, a hashed
 * known_hosts, an authorized_keys with options, KRLs — plus sshd_config files and hand-built message payloads of
 * every group (service, userauth, channel open/request/data, global requests, KEX).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { concat } from "./mutate.js"
import type { SeedKind } from "./targets.js"

const SSHD = "/usr/sbin/sshd"
const KEYGEN = "/usr/bin/ssh-keygen"
const enc = new TextEncoder()

const u32 = (n: number) => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n >>> 0)
  return b
}
const cat = (...parts: Array<Uint8Array | number>): Uint8Array =>
  concat(...parts.map((p) => (typeof p === "number" ? Uint8Array.of(p) : p)))
const str = (s: string | Uint8Array) => {
  const b = typeof s === "string" ? enc.encode(s) : s
  return cat(u32(b.length), b)
}
const bool = (v: boolean) => Uint8Array.of(v ? 1 : 0)

/** Frames a payload as an unencrypted binary packet (RFC 4253 §6, block size 8, 4+ bytes of padding). */
const packet = (payload: Uint8Array) => {
  let pad = 8 - ((payload.length + 5) % 8)
  if (pad < 4) pad += 8
  return cat(u32(payload.length + pad + 1), pad, payload, new Uint8Array(pad))
}

const ed25519Blob = cat(str("ssh-ed25519"), str(new Uint8Array(32).fill(7)))

const payloads = (): Array<Uint8Array> => [
  cat(5, str("ssh-userauth")),
  cat(6, str("ssh-userauth")),
  cat(1, u32(2), str("bye"), str("")),
  cat(2, str("ignored")),
  cat(4, bool(true), str("debug"), str("")),
  cat(3, u32(7)),
  cat(7, u32(1), str("server-sig-algs"), str("ssh-ed25519,rsa-sha2-512")),
  cat(50, str("alice"), str("ssh-connection"), str("none")),
  cat(50, str("alice"), str("ssh-connection"), str("password"), bool(false), str("secret")),
  cat(50, str("alice"), str("ssh-connection"), str("publickey"), bool(false), str("ssh-ed25519"), str(ed25519Blob)),
  cat(50, str("alice"), str("ssh-connection"), str("publickey"), bool(true), str("ssh-ed25519"), str(ed25519Blob), str(cat(str("ssh-ed25519"), str(new Uint8Array(64))))),
  cat(50, str("alice"), str("ssh-connection"), str("keyboard-interactive"), str(""), str("")),
  cat(51, str("publickey,password"), bool(false)),
  cat(60, str("ssh-ed25519"), str(ed25519Blob)),
  cat(60, str("name"), str("instr"), str(""), u32(2), str("Password: "), bool(false), str("OTP: "), bool(true)),
  cat(61, u32(1), str("answer")),
  cat(30, str(new Uint8Array(32).fill(9))),
  cat(31, str(ed25519Blob), str(new Uint8Array(32).fill(3)), str(cat(str("ssh-ed25519"), str(new Uint8Array(64))))),
  cat(34, u32(2048), u32(4096), u32(8192)),
  cat(80, str("tcpip-forward"), bool(true), str("0.0.0.0"), u32(8080)),
  cat(80, str("keepalive@openssh.com"), bool(true)),
  cat(81, u32(8080)),
  cat(90, str("session"), u32(0), u32(2097152), u32(32768)),
  cat(90, str("direct-tcpip"), u32(1), u32(2097152), u32(32768), str("db.internal"), u32(5432), str("127.0.0.1"), u32(40000)),
  cat(91, u32(0), u32(5), u32(2097152), u32(32768)),
  cat(92, u32(0), u32(2), str("prohibited"), str("")),
  cat(93, u32(0), u32(1000)),
  cat(94, u32(0), str("hello world")),
  cat(95, u32(0), u32(1), str("error output")),
  cat(96, u32(0)),
  cat(97, u32(0)),
  cat(98, u32(0), str("exec"), bool(true), str("ls -l /")),
  cat(98, u32(0), str("pty-req"), bool(true), str("xterm"), u32(80), u32(24), u32(0), u32(0), str(Uint8Array.of(1, 0, 0, 0, 3, 0))),
  cat(98, u32(0), str("env"), bool(false), str("LANG"), str("C.UTF-8")),
  cat(98, u32(0), str("window-change"), bool(false), u32(100), u32(40), u32(0), u32(0)),
  cat(98, u32(0), str("exit-status"), bool(false), u32(3)),
  cat(98, u32(0), str("exit-signal"), bool(false), str("TERM"), bool(false), str("killed"), str("")),
  cat(98, u32(0), str("subsystem"), bool(true), str("sftp")),
  cat(99, u32(0)),
  cat(100, u32(0))
]

const keygen = (...args: Array<string>) => execFileSync(KEYGEN, args, { stdio: "pipe" })

/** Files ssh-keygen writes, by kind; empty when OpenSSH is missing. */
const openSshFiles = (): Partial<Record<SeedKind, Array<Uint8Array>>> => {
  if (!fs.existsSync(KEYGEN)) return {}
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-fuzz-seeds-"))
  const f = (n: string) => path.join(dir, n)
  const read = (n: string) => new Uint8Array(fs.readFileSync(f(n)))
  try {
    keygen("-q", "-t", "ed25519", "-N", "", "-f", f("ed"))
    keygen("-q", "-t", "ecdsa", "-N", "", "-f", f("ec"))
    keygen("-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", f("rsa"))
    keygen("-q", "-t", "ed25519", "-N", "pw", "-a", "2", "-f", f("enc"))
    keygen("-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", f("pem"))
    keygen("-q", "-t", "ecdsa", "-m", "PKCS8", "-N", "", "-f", f("p8"))
    fs.writeFileSync(f("rfc4716"), keygen("-e", "-f", f("ed.pub")))
    keygen("-q", "-s", f("ed"), "-I", "id", "-n", "alice,bob", "-O", "force-command=ls", "-O", "source-address=10.0.0.0/8", "-z", "5", f("ec.pub"))
    fs.writeFileSync(f("known_hosts"), [
      `example.com,10.0.0.1 ${fs.readFileSync(f("ed.pub"), "utf8").trim()}`,
      `[host]:2222 ${fs.readFileSync(f("ec.pub"), "utf8").trim()}`,
      `@cert-authority *.example.com ${fs.readFileSync(f("ed.pub"), "utf8").trim()}`,
      `@revoked * ${fs.readFileSync(f("rsa.pub"), "utf8").trim()}`
    ].join("\n") + "\n")
    keygen("-q", "-H", "-f", f("known_hosts"))
    fs.writeFileSync(f("spec"), "serial: 1-9\nserial: 40\nid: someone\n")
    keygen("-k", "-f", f("krl"), "-s", f("ed.pub"), f("spec"))
    keygen("-k", "-u", "-f", f("krl"), f("rsa.pub"))
    const certText = fs.readFileSync(f("ec-cert.pub"), "utf8")
    const certBlob = new Uint8Array(Buffer.from(certText.split(" ")[1]!, "base64"))
    const pubBlob = (n: string) => new Uint8Array(Buffer.from(fs.readFileSync(f(n), "utf8").split(" ")[1]!, "base64"))
    return {
      "private-key": ["ed", "ec", "rsa", "enc", "pem", "p8"].map(read),
      "text-key": [read("ed.pub"), read("ec.pub"), read("rsa.pub"), read("rfc4716")],
      blob: [pubBlob("ed.pub"), pubBlob("ec.pub"), pubBlob("rsa.pub"), certBlob],
      certificate: [certBlob, read("ec-cert.pub")],
      "known-hosts": [read("known_hosts")],
      "authorized-keys": [enc.encode(
        `restrict,command="echo hi",from="10.0.0.0/8,!10.1.*",environment="A=b" ${fs.readFileSync(f("ed.pub"), "utf8")}` +
          `cert-authority,principals="alice,bob",expiry-time="20301231" ${fs.readFileSync(f("ec.pub"), "utf8")}` +
          `permitopen="db:5432",permitlisten="8080",no-pty ${fs.readFileSync(f("rsa.pub"), "utf8")}`
      )],
      krl: [read("krl")]
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** What `sshd -i` sends first: its identification line and its KEXINIT packet. */
const sshdCapture = (): Uint8Array | undefined => {
  if (!fs.existsSync(SSHD) || !fs.existsSync(KEYGEN)) return undefined
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-fuzz-sshd-"))
  try {
    fs.mkdirSync("/run/sshd", { recursive: true })
    keygen("-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "hk"))
    fs.writeFileSync(path.join(dir, "cfg"), `HostKey ${path.join(dir, "hk")}\nPidFile none\nUsePAM no\n`)
    const r = spawnSync(SSHD, ["-i", "-e", "-f", path.join(dir, "cfg")], { input: "SSH-2.0-fuzz\r\n", timeout: 5000 })
    return r.stdout.length > 0 ? new Uint8Array(r.stdout) : undefined
  } catch {
    return undefined
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const SSHD_CONFIGS = [
  "Port 22\nListenAddress 0.0.0.0\nHostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\n",
  "PasswordAuthentication no\nAllowUsers alice bob@10.0.0.*\nMatch User alice Address 10.0.0.0/8,!10.9.0.0/16\n  ForceCommand echo hi\n  PermitTTY no\nMatch All\n  MaxSessions 3\n",
  "Ciphers ^aes128-ctr\nKexAlgorithms -diffie-hellman-group14-sha256\nMACs +hmac-sha1\nRekeyLimit 1G 1h\nClientAliveInterval 1m30s\nMaxStartups 10:30:60\n",
  "AcceptEnv LANG LC_*\nSetEnv A=1 \"B=two words\"\nSubsystem sftp internal-sftp\nAuthenticationMethods publickey,password publickey\nBanner=\"/etc/issue net\" # comment\n"
]

const SFTP_SERVER = "/usr/lib/openssh/sftp-server"

/** SFTP request packets (draft-ietf-secsh-filexfer-02): INIT, REALPATH, STAT, LSTAT, OPENDIR, OPEN, extensions. */
const sftpRequests = (): Array<Uint8Array> => {
  const pkt = (type: number, ...body: Array<Uint8Array | number>) => {
    const b = cat(type, ...body)
    return cat(u32(b.length), b)
  }
  return [
    pkt(1, u32(3)),
    pkt(16, u32(1), str(".")),
    pkt(17, u32(2), str("/")),
    pkt(7, u32(3), str("/tmp")),
    pkt(11, u32(4), str("/")),
    pkt(3, u32(5), str("/etc/hostname"), u32(1), u32(0)),
    pkt(200, u32(6), str("statvfs@openssh.com"), str("/")),
    pkt(200, u32(7), str("limits@openssh.com")),
    pkt(4, u32(8), str("no-such-handle")),
    pkt(9, u32(9), str("/tmp"), u32(4), u32(0o755))
  ]
}

/** What OpenSSH's sftp-server answers to `sftpRequests` (VERSION with its extensions, NAME, ATTRS, HANDLE, STATUS…). */
const sftpCapture = (): Uint8Array | undefined => {
  if (!fs.existsSync(SFTP_SERVER)) return undefined
  // sftp-server exits at EOF on stdin before it writes what is queued, so stdin stays open a moment after the
  // requests (paths are passed as arguments, never interpolated into the script).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sftp-seed-"))
  const input = path.join(dir, "requests")
  fs.writeFileSync(input, concat(...sftpRequests()))
  const r = spawnSync("/bin/sh", ["-c", '(cat "$1"; sleep 1) | "$2" -e -l QUIET', "sh", input, SFTP_SERVER], { timeout: 10_000 })
  fs.rmSync(dir, { recursive: true, force: true })
  return r.stdout.length > 0 ? new Uint8Array(r.stdout) : undefined
}

const agentMessages = (): Array<Uint8Array> => [
  Uint8Array.of(11),
  cat(12, u32(1), str(ed25519Blob), str("comment")),
  cat(13, str(ed25519Blob), str("data to sign"), u32(4)),
  cat(14, str(cat(str("ssh-ed25519"), str(new Uint8Array(64))))),
  Uint8Array.of(5),
  Uint8Array.of(6),
  cat(18, str(ed25519Blob)),
  Uint8Array.of(19),
  cat(27, str("session-bind@openssh.com"), str(ed25519Blob), str(new Uint8Array(32).fill(1)), str(cat(str("ssh-ed25519"), str(new Uint8Array(64)))), bool(false)),
  cat(25, str("ssh-ed25519"), str(new Uint8Array(32).fill(2)), str(new Uint8Array(64).fill(3)), str("c"), 1, u32(600))
]

const SOCKS = [
  Uint8Array.of(5, 1, 0),
  Uint8Array.of(5, 2, 2, 0, 5, 1, 0, 3, 11, ...enc.encode("example.com"), 0, 80),
  Uint8Array.of(5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0x1f, 0x90),
  Uint8Array.of(5, 1, 0, 5, 1, 0, 4, ...new Uint8Array(15), 1, 0, 22),
  Uint8Array.of(4, 1, 0, 80, 10, 0, 0, 1, ...enc.encode("user"), 0),
  Uint8Array.of(4, 1, 0, 80, 0, 0, 0, 1, 0, ...enc.encode("db.internal"), 0)
]

const SSH_CONFIGS = [
  "Host *.example.com !bastion.example.com\n  User deploy\n  Port 2222\n  IdentityFile ~/.ssh/id_%r@%h\n  ProxyJump bastion.example.com:22\n",
  "Host db\n  HostName 10.0.0.7\n  LocalForward 5432 localhost:5432\n  DynamicForward 1080\nMatch host 10.* user admin\n  ServerAliveInterval 30\n",
  "Ciphers ^aes128-ctr\nKexAlgorithms -diffie-hellman-group14-sha256\nRekeyLimit 1G 1h\nSendEnv LANG LC_*\nSetEnv A=1 \"B=two words\"\n",
  "Include ~/.ssh/conf.d/*\nHost = quoted \"with space\"\n  StrictHostKeyChecking accept-new\n  UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2\nMatch final all\n  ControlMaster auto\n"
]

/** The seeds of every kind. */
export const build = (): Record<SeedKind, ReadonlyArray<Uint8Array>> => {
  const files = openSshFiles()
  const captured = sshdCapture()
  const messages = payloads()
  const nl = captured === undefined ? -1 : captured.indexOf(0x0a)
  const kexinitPacket = captured === undefined || nl < 0 ? undefined : captured.subarray(nl + 1)
  const kexinitPayload = kexinitPacket === undefined || kexinitPacket.length < 6
    ? undefined
    : kexinitPacket.subarray(5, 4 + new DataView(kexinitPacket.buffer, kexinitPacket.byteOffset).getUint32(0) - kexinitPacket[4]!)
  const real = kexinitPayload === undefined ? [] : [kexinitPayload]
  const sftpOut = sftpCapture()
  const localConfig = fs.existsSync("/etc/ssh/sshd_config") ? [new Uint8Array(fs.readFileSync("/etc/ssh/sshd_config"))] : []
  return {
    packet: [...(kexinitPacket === undefined ? [] : [kexinitPacket]), ...messages.slice(0, 12).map(packet)],
    identification: [...(captured === undefined ? [] : [captured.subarray(0, nl + 1)]), enc.encode("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), enc.encode("banner line\r\nSSH-2.0-x\r\n")],
    payload: [...real, ...messages],
    blob: files.blob ?? [ed25519Blob],
    "text-key": files["text-key"] ?? [enc.encode(`ssh-ed25519 ${Buffer.from(ed25519Blob).toString("base64")} c`)],
    "private-key": files["private-key"] ?? [enc.encode("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n")],
    ppk: [enc.encode("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: c\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\nBw==\nPrivate-Lines: 1\nAAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\nPrivate-MAC: 00\n")],
    "known-hosts": files["known-hosts"] ?? [enc.encode("host ssh-ed25519 AAAA\n")],
    "authorized-keys": files["authorized-keys"] ?? [enc.encode("no-pty ssh-ed25519 AAAA c\n")],
    certificate: files.certificate ?? [ed25519Blob],
    "sshd-config": [...SSHD_CONFIGS.map((c) => enc.encode(c)), ...localConfig],
    krl: files.krl ?? [enc.encode("SSHKRL\n\0")],
    sftp: [...sftpRequests(), ...(sftpOut === undefined ? [] : [sftpOut])],
    agent: agentMessages(),
    socks: SOCKS,
    "ssh-config": [
      ...SSH_CONFIGS.map((c) => enc.encode(c)),
      ...(fs.existsSync("/etc/ssh/ssh_config") ? [new Uint8Array(fs.readFileSync("/etc/ssh/ssh_config"))] : [])
    ]
  }
}
