/**
 * SEC-71, host-key rotation (hostkeys-00@openssh.com / hostkeys-prove-00@openssh.com, OpenSSH PROTOCOL §2.5) with
 * real peers both ways:
 * - OpenSSH `ssh -o UpdateHostKeys=yes` against `effect-ssh serve` with two HostKeys: ssh verifies our proofs and
 *   its known_hosts gains the second key (RSA proved under rsa-sha2-512 when the exchange used ed25519, as ssh
 *   demands), and a deprecated key the server no longer has is removed;
 * - our client against sshd with several HostKeys: known_hosts gains them, only when the session's key was
 *   verified by a plain line of a user file.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as Serve from "../../src/cli/Serve.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as Cli from "../helpers/Cli.js"
import * as RawAuth from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-hostkeys-"))
const file = (name: string) => path.join(dir, name)
const keygen = (...args: Array<string>) => execFileSync(OpenSsh.SSH_KEYGEN, args, { stdio: "pipe" })
/** `type base64` of a .pub file (no comment). */
const pub = (name: string) => fs.readFileSync(file(`${name}.pub`), "utf8").trim().split(/\s+/).slice(0, 2).join(" ")

if (has) {
  keygen("-q", "-t", "ed25519", "-N", "", "-f", file("host_ed25519"))
  keygen("-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", file("host_rsa"))
  keygen("-q", "-t", "ecdsa", "-N", "", "-f", file("old_ecdsa"))
  keygen("-q", "-t", "ed25519", "-N", "", "-f", file("alice"))
  fs.writeFileSync(file("authorized_keys"), fs.readFileSync(file("alice.pub")))
}

const serve = (hostKeys: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const cfg = file(`cfg-${Math.random().toString(36).slice(2)}`)
    fs.writeFileSync(
      cfg,
      [...hostKeys.map((k) => `HostKey ${file(k)}`), `AuthorizedKeysFile ${file("authorized_keys")}`, "ListenAddress 127.0.0.1:0", ""]
        .join("\n")
    )
    const [bound] = yield* Serve.start(["-f", cfg, "--exec", "local"])
    return bound!.port
  })

/** OpenSSH ssh with a known_hosts file, strict checking and UpdateHostKeys=yes; returns the file's lines after. */
const sshWith = (port: number, knownHosts: ReadonlyArray<string>, extra: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const kh = file(`known_hosts-${Math.random().toString(36).slice(2)}`)
    fs.writeFileSync(kh, knownHosts.map((l) => `${l}\n`).join(""))
    const r = yield* OpenSsh.ssh([
      "-F", "/dev/null", "-p", String(port), "-i", file("alice"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`, "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "UpdateHostKeys=yes", "-o", "LogLevel=DEBUG3", ...extra, `${os.userInfo().username}@127.0.0.1`, "echo in"
    ])
    const lines = fs.readFileSync(kh, "utf8").split("\n").filter((l) => l.length > 0)
    return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr, lines }
  })

describe.skipIf(!has)("SEC-71: OpenSSH ssh (UpdateHostKeys=yes) against effect-ssh serve", () => {
  it.scopedLive("SEC-71: known_hosts gains the second host key after ssh verifies the server's proof", () =>
    Effect.gen(function*() {
      const port = yield* serve(["host_ed25519", "host_rsa"])
      const name = `[127.0.0.1]:${port}`
      const r = yield* sshWith(port, [`${name} ${pub("host_ed25519")}`], ["-o", "HostKeyAlgorithms=ssh-ed25519,rsa-sha2-512,rsa-sha2-256"])
      assert.strictEqual(r.stdout, "in\n", r.stderr)
      // The RSA key is new: ssh asked for a proof, and accepted only an rsa-sha2-256/512 signature.
      assert.include(r.stderr, "asking server to prove ownership for 1 keys")
      assert.match(r.stderr, /verify RSA key \d+ using sigalg rsa-sha2-512/)
      assert.include(r.stderr, "Learned new hostkey: RSA")
      assert.sameMembers(r.lines.map((l) => l.split(" ").slice(0, 3).join(" ")), [
        `${name} ${pub("host_ed25519")}`,
        `${name} ${pub("host_rsa")}`
      ])
    }))

  it.scopedLive("SEC-71: after an rsa-sha2-256 exchange the ed25519 key is learned, and a key the server no longer has is removed", () =>
    Effect.gen(function*() {
      const port = yield* serve(["host_ed25519", "host_rsa"])
      const name = `[127.0.0.1]:${port}`
      const r = yield* sshWith(port, [`${name} ${pub("host_rsa")}`, `${name} ${pub("old_ecdsa")}`], [
        "-o", "HostKeyAlgorithms=rsa-sha2-256,ssh-ed25519"
      ])
      assert.strictEqual(r.stdout, "in\n", r.stderr)
      assert.include(r.stderr, "Learned new hostkey: ED25519")
      assert.include(r.stderr, "Deprecating obsolete hostkey: ECDSA")
      assert.sameMembers(r.lines.map((l) => l.split(" ").slice(0, 3).join(" ")), [
        `${name} ${pub("host_rsa")}`,
        `${name} ${pub("host_ed25519")}`
      ])
    }))

  it.scopedLive("SEC-71: with every key already known, ssh asks for nothing and the file is unchanged", () =>
    Effect.gen(function*() {
      const port = yield* serve(["host_ed25519", "host_rsa"])
      const name = `[127.0.0.1]:${port}`
      const known = [`${name} ${pub("host_ed25519")}`, `${name} ${pub("host_rsa")}`]
      const r = yield* sshWith(port, known)
      assert.strictEqual(r.stdout, "in\n", r.stderr)
      assert.include(r.stderr, "no new or deprecated keys from server")
      assert.deepStrictEqual(r.lines, known)
    }))
})

const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username
const sshdKeys = ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"]
/** `type base64` of one of sshd's host keys (test/helpers/OpenSsh.ts hostKeyDir). */
const sshdPub = (name: string) =>
  fs.readFileSync(path.join(OpenSsh.hostKeyDir(), `ssh_host_${name}_key.pub`), "utf8").trim().split(/\s+/).slice(0, 2).join(" ")

/**
 * Our client with a known_hosts policy over `lines`; returns the file's lines once `settled` holds for them and
 * the client's log (debug level included).
 */
const connectWith = (
  port: number,
  lines: ReadonlyArray<string>,
  settled: (lines: ReadonlyArray<string>, logs: ReadonlyArray<string>) => boolean,
  hostKey = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256"
) =>
  Effect.gen(function*() {
    const kh = file(`client-known_hosts-${Math.random().toString(36).slice(2)}`)
    fs.writeFileSync(kh, lines.map((l) => `${l}\n`).join(""))
    const read = () => fs.readFileSync(kh, "utf8").split("\n").filter((l) => l.length > 0)
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => void logs.push(Array.isArray(message) ? message.join(" ") : String(message)))
    const ssh = yield* SshClient.connect({
      host: "127.0.0.1",
      port,
      username: user,
      auth: [Auth.privateKey(userKey)],
      algorithms: { hostKey },
      hostKeys: HostKeyPolicy.knownHosts({ files: [kh], updateHostKeys: true })
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.Debug))
    assert.strictEqual(yield* ssh.string("echo in"), "in\n")
    // The update runs beside the session (a prove round trip, then a rename): wait for it, or give up after 30 s.
    for (let i = 0; i < 300 && !settled(read(), logs); i++) yield* Effect.sleep("100 millis")
    return { lines: read(), logs }
  })

describe.skipIf(!has)("SEC-71: our client against OpenSSH sshd with several HostKeys", () => {
  const sshd = () => OpenSsh.sshdTcp({ authorizedKeys: [RawAuth.authorizedKeyLine(userKey)], logLevel: "INFO" })

  it.scopedLive("SEC-71: known_hosts gains sshd's other host keys once each is proven", () =>
    Effect.gen(function*() {
      const { port } = yield* sshd()
      const name = `[127.0.0.1]:${port}`
      const { lines, logs } = yield* connectWith(port, [`${name} ${sshdPub("ed25519")}`], (_, logs) => logs.filter((l) => l.includes("learned new hostkey")).length >= 4)
      assert.sameMembers(lines, sshdKeys.map((k) => `${name} ${sshdPub(k)}`))
      assert.strictEqual(logs.filter((l) => l.includes("learned new hostkey")).length, 4, logs.join("\n"))
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("SEC-71: a host recorded under a wildcard or next to a CA line is never updated", () =>
    Effect.gen(function*() {
      const { port } = yield* sshd()
      const name = `[127.0.0.1]:${port}`
      const skipped = (_: unknown, logs: ReadonlyArray<string>) => logs.some((l) => l.includes("known_hosts not changed"))
      const wildcard = [`[127.0.0.*]:${port} ${sshdPub("ed25519")}`]
      const a = yield* connectWith(port, wildcard, skipped)
      assert.deepStrictEqual(a.lines, wildcard)
      assert.isTrue(a.logs.some((l) => l.includes("wildcard host pattern found; known_hosts not changed")), a.logs.join("\n"))
      const withCa = [`${name} ${sshdPub("ed25519")}`, `@cert-authority ${name} ${pub("alice")}`]
      const b = yield* connectWith(port, withCa, skipped)
      assert.deepStrictEqual(b.lines, withCa)
      assert.isTrue(b.logs.some((l) => l.includes("CA/revocation marker")), b.logs.join("\n"))
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })

  it.scopedLive("SEC-71: off unless asked for when the files are given; a key the server dropped is removed", () =>
    Effect.gen(function*() {
      const { port } = yield* sshd()
      const name = `[127.0.0.1]:${port}`
      const kh = file(`client-off-${port}`)
      fs.writeFileSync(kh, `${name} ${sshdPub("ed25519")}\n`)
      const ssh = yield* SshClient.connect({
        host: "127.0.0.1",
        port,
        username: user,
        auth: [Auth.privateKey(userKey)],
        algorithms: { hostKey: "ssh-ed25519" },
        hostKeys: HostKeyPolicy.knownHosts({ files: [kh] })
      })
      assert.strictEqual(yield* ssh.string("echo in"), "in\n")
      assert.strictEqual(fs.readFileSync(kh, "utf8"), `${name} ${sshdPub("ed25519")}\n`)
      // Only ed25519 is acceptable here, so every other recorded key is one the server did not offer.
      const stale = [`${name} ${sshdPub("ed25519")}`, `${name} ${pub("old_ecdsa")}`]
      const after = yield* connectWith(port, stale, (l) => l.length === 1, "ssh-ed25519")
      assert.deepStrictEqual(after.lines, [`${name} ${sshdPub("ed25519")}`])
      assert.isTrue(after.logs.some((l) => l.includes("removed obsolete hostkey ecdsa-sha2-nistp256")), after.logs.join("\n"))
    }).pipe(Effect.provide(NodeSsh.layer)), { timeout: 60_000 })
})

describe.skipIf(!has)("SEC-71: effect-ssh ssh (the CLI) learns rotated keys as ssh does", () => {
  it.scopedLive("SEC-71: ~/.ssh/known_hosts gains the server's second key; a UserKnownHostsFile elsewhere is left alone", () =>
    Effect.gen(function*() {
      const port = yield* serve(["host_ed25519", "host_rsa"])
      const name = `[127.0.0.1]:${port}`
      const home = file(`home-${Math.random().toString(36).slice(2)}`)
      fs.mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 })
      const kh = path.join(home, ".ssh", "known_hosts")
      fs.writeFileSync(kh, `${name} ${pub("host_ed25519")}\n`, { mode: 0o600 })
      const args = [
        "-F", "/dev/null", "-p", String(port), "-i", file("alice"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "HostKeyAlgorithms=ssh-ed25519,rsa-sha2-512,rsa-sha2-256", `${os.userInfo().username}@127.0.0.1`, "echo in"
      ]
      const r = yield* Cli.cli(["ssh", ...args], { home, env: { SSH_AUTH_SOCK: "" } })
      assert.strictEqual(r.stdout, "in\n", r.stderr)
      // ssh's default UpdateHostKeys: the user's own ~/.ssh/known_hosts learns the proven RSA key.
      const lines = fs.readFileSync(kh, "utf8").split("\n").filter((l) => l.length > 0)
      assert.sameMembers(lines.map((l) => l.split(" ").slice(0, 3).join(" ")), [
        `${name} ${pub("host_ed25519")}`,
        `${name} ${pub("host_rsa")}`
      ], r.stderr)
      // With UserKnownHostsFile set elsewhere, ssh's default is off: the file is not touched.
      const other = path.join(home, "other_known_hosts")
      fs.writeFileSync(other, `${name} ${pub("host_ed25519")}\n`, { mode: 0o600 })
      const r2 = yield* Cli.cli(["ssh", "-o", `UserKnownHostsFile=${other}`, ...args], { home, env: { SSH_AUTH_SOCK: "" } })
      assert.strictEqual(r2.stdout, "in\n", r2.stderr)
      assert.strictEqual(fs.readFileSync(other, "utf8"), `${name} ${pub("host_ed25519")}\n`)
    }), { timeout: 90_000 })
})

describe.skipIf(!has)("SEC-71: UpdateHostKeys=ask without a terminal, as OpenSSH", () => {
  it.scopedLive("SEC-71: OpenSSH ssh and effect-ssh ssh under ask, with no terminal to ask on, learn nothing", () =>
    Effect.gen(function*() {
      const port = yield* serve(["host_ed25519", "host_rsa"])
      const name = `[127.0.0.1]:${port}`
      const known = `${name} ${pub("host_ed25519")}\n`
      const args = (kh: string) => [
        "-F", "/dev/null", "-p", String(port), "-i", file("alice"), "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`, "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "HostKeyAlgorithms=ssh-ed25519,rsa-sha2-512,rsa-sha2-256", "-o", "UpdateHostKeys=ask", "-o", "LogLevel=DEBUG3",
        `${os.userInfo().username}@127.0.0.1`
      ]
      // No command and no BatchMode, so ssh keeps `ask` (ssh.c turns it off for a command); setsid leaves it without
      // a controlling terminal and no askpass can run, so its three "Accept updated hostkeys?" prompts read nothing.
      const env = { DISPLAY: "", WAYLAND_DISPLAY: "", SSH_ASKPASS: "", SSH_AUTH_SOCK: "" }
      const theirs = file(`kh-theirs-${Math.random().toString(36).slice(2)}`)
      fs.writeFileSync(theirs, known, { mode: 0o600 })
      const r = yield* Cli.run("/usr/bin/setsid", ["-w", OpenSsh.SSH, ...args(theirs)], { input: "echo in\n", env })
      assert.include(r.stdout, "in\n", r.stderr)
      // ssh did see the new key and decided not to record it.
      assert.match(r.stderr, /Learned new hostkey: RSA/, r.stderr)
      assert.strictEqual(fs.readFileSync(theirs, "utf8"), known)
      const ours = file(`kh-ours-${Math.random().toString(36).slice(2)}`)
      fs.writeFileSync(ours, known, { mode: 0o600 })
      const r2 = yield* Cli.run("/usr/bin/setsid", ["-w", process.execPath, Cli.BIN, "ssh", ...args(ours)], { input: "echo in\n", env })
      assert.include(r2.stdout, "in\n", r2.stderr)
      assert.strictEqual(fs.readFileSync(ours, "utf8"), known)
      // The same run under UpdateHostKeys=yes records the key (so "nothing learned" above is the ask decision).
      const r3 = yield* Cli.run(process.execPath, [Cli.BIN, "ssh", ...args(ours).map((a) => a === "UpdateHostKeys=ask" ? "UpdateHostKeys=yes" : a)], { input: "echo in\n", env })
      assert.include(r3.stdout, "in\n", r3.stderr)
      assert.include(fs.readFileSync(ours, "utf8"), pub("host_rsa"))
    }), { timeout: 90_000 })
})
