/**
 * Our client transport (NodeTransport.connect → ClientTransport) against OpenSSH's sshd on 127.0.0.1, once per
 * host key policy: known_hosts files written by OpenSSH's own tools are honoured, the files we write are read
 * back by `ssh-keygen -F`, and every rejection closes the connection with HOST_KEY_NOT_VERIFIABLE (code 9)
 * before the transport exists, so nothing of user authentication can be sent (SEC-20).
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schedule } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import * as NodeTransport from "../../src/node/NodeTransport.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import { DisconnectReason, TransportError } from "../../src/SshError.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const SSH_KEYSCAN = "/usr/bin/ssh-keyscan"
const TestLayer = Layer.merge(NodeContext.layer, Layer.succeed(Crypto, NodeCrypto))

/** The server's ed25519 key, which every test asks for (`hostKey: ["ssh-ed25519"]`) so its fingerprint is known. */
const ED25519 = { hostKey: ["ssh-ed25519"] }

/** `ssh-keygen -l -f <pub>`: "256 SHA256:… comment (ED25519)". */
const sshdFingerprint = (): string => {
  const out = execFileSync(OpenSsh.SSH_KEYGEN, ["-l", "-f", path.join(OpenSsh.hostKeyDir(), "ssh_host_ed25519_key.pub")])
    .toString()
  const fp = out.split(" ")[1]!
  assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/)
  return fp
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-known-hosts-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** sshd on a free port; the log is kept for the assertions about what sshd saw. */
const startSshd = Effect.gen(function*() {
  const log: Array<string> = []
  const { port } = yield* OpenSsh.sshdTcp({}, log)
  return { port, log }
})

const connect = <R>(port: number, hostKeys: HostKeyPolicy.HostKeyPolicy<R>, algorithms = ED25519) =>
  NodeTransport.connect({ host: "127.0.0.1", port, hostKeys, algorithms })

/** The connection must fail as a local HostKeyRejected with code 9: `make` never hands out a transport. */
const rejected = <R>(port: number, hostKeys: HostKeyPolicy.HostKeyPolicy<R>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.scoped(connect(port, hostKeys)))
    assert.isTrue(Exit.isFailure(exit), "the transport was established although the host key was rejected")
    const error = yield* Effect.flip(exit)
    assert.instanceOf(error, TransportError)
    const e = error as TransportError
    assert.strictEqual(e.reason, "HostKeyRejected")
    assert.strictEqual(e.origin, "Local")
    assert.strictEqual(e.code, DisconnectReason.HostKeyNotVerifiable)
    assert.strictEqual(e.code, 9)
    return e
  })

/** `ssh-keygen -F host -f file`: the matching lines, or undefined when none (exit status 1). */
const keygenFind = (host: string, file: string): string | undefined => {
  const r = spawnSync(OpenSsh.SSH_KEYGEN, ["-F", host, "-f", file])
  return r.status === 0 ? r.stdout.toString() : undefined
}

/** Polls sshd's log (up to 2 s) until it contains `text`; the assertions that follow say what must be there. */
const waitFor = (log: Array<string>, text: string) =>
  Effect.suspend(() => Effect.succeed(log.join("").includes(text))).pipe(
    Effect.repeat({ until: (found) => found, schedule: Schedule.spaced("50 millis"), times: 40 }),
    Effect.asVoid
  )

/**
 * What sshd saw of a rejected connection: our DISCONNECT with code 9 while it still waited for our NEWKEYS, so no
 * keys were ever taken into use and no SERVICE_REQUEST or USERAUTH_REQUEST was sent (sshd logs
 * "userauth-request" at DEBUG1 when one arrives).
 */
const assertRejectedBeforeNewKeys = (log: Array<string>) =>
  Effect.gen(function*() {
    yield* waitFor(log, "Received disconnect")
    const text = log.join("")
    assert.match(text, /Received disconnect from 127\.0\.0\.1 port \d+:9: host key rejected: [\s\S]*?\[preauth\]/)
    assert.include(text, "expecting SSH2_MSG_NEWKEYS")
    assert.notInclude(text, "SSH2_MSG_NEWKEYS received")
    assert.notMatch(text, /userauth|service_request|Accepted |Failed |Postponed /i)
  })

describe.skipIf(!has)("HostKeyPolicy ↔ OpenSSH sshd (tcp)", () => {
  it.scopedLive("SEC-20: strict known_hosts, empty file: rejected with code 9, message names the fingerprint", () =>
    Effect.gen(function*() {
      const { port, log } = yield* startSshd
      const dir = yield* tempDir
      const file = path.join(dir, "known_hosts")
      fs.writeFileSync(file, "")
      const e = yield* rejected(port, HostKeyPolicy.knownHosts({ files: [file] }))
      const fp = sshdFingerprint()
      assert.include(e.message, fp)
      assert.include(e.message, `[127.0.0.1]:${port}`)
      assert.include(e.message, "is not known")
      yield* assertRejectedBeforeNewKeys(log)
      assert.strictEqual(fs.readFileSync(file, "utf8"), "", "a strict policy must not write known_hosts")
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("known_hosts written by ssh-keyscan: accepted, for whichever host key is negotiated", () =>
    Effect.gen(function*() {
      const { port } = yield* startSshd
      const dir = yield* tempDir
      const file = path.join(dir, "known_hosts")
      const scanned = execFileSync(SSH_KEYSCAN, ["-p", String(port), "127.0.0.1"], { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
      assert.include(scanned, `[127.0.0.1]:${port} ssh-ed25519 `)
      fs.writeFileSync(file, scanned)
      const policy = HostKeyPolicy.knownHosts({ files: [file] })
      for (const hostKey of ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512"]) {
        const negotiated = yield* Effect.scoped(Effect.flatMap(connect(port, policy, { hostKey: [hostKey] }), (t) => t.negotiated))
        assert.strictEqual(negotiated.hostKey, hostKey)
      }
      assert.strictEqual(fs.readFileSync(file, "utf8"), scanned)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("SEC-20: known_hosts holds a different key for [127.0.0.1]:PORT: rejected, message names the line", () =>
    Effect.gen(function*() {
      const { port, log } = yield* startSshd
      const dir = yield* tempDir
      const file = path.join(dir, "known_hosts")
      const other = HostKey.encodePublicKey(HostKey.publicKeyOf(NodeCrypto.generateKey({ type: "ed25519" })))
      const line = `[127.0.0.1]:${port} ssh-ed25519 ${Buffer.from(other).toString("base64")}`
      fs.writeFileSync(file, `# a comment line\n${line}\n`)
      const e = yield* rejected(port, HostKeyPolicy.knownHosts({ files: [file] }))
      assert.include(e.message, "REMOTE HOST IDENTIFICATION HAS CHANGED")
      assert.include(e.message, `${file}:2`)
      assert.include(e.message, line)
      assert.include(e.message, HostKey.fingerprintSha256(other))
      assert.include(e.message, sshdFingerprint())
      yield* assertRejectedBeforeNewKeys(log)
      // Even acceptNew never replaces a changed key.
      yield* rejected(port, HostKeyPolicy.acceptNew({ files: [file] }))
      assert.strictEqual(fs.readFileSync(file, "utf8"), `# a comment line\n${line}\n`)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("acceptNew with no file: records the key where ssh-keygen -F finds it; strict checking then accepts", () =>
    Effect.gen(function*() {
      const { port } = yield* startSshd
      const dir = yield* tempDir
      const file = path.join(dir, "sub", "known_hosts")
      yield* Effect.scoped(connect(port, HostKeyPolicy.acceptNew({ files: [file] })))
      const text = fs.readFileSync(file, "utf8")
      assert.strictEqual(text.split("\n").filter((l) => l.length > 0).length, 1)
      assert.isTrue(text.startsWith(`[127.0.0.1]:${port} ssh-ed25519 `), text)
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      const found = keygenFind(`[127.0.0.1]:${port}`, file)
      assert.isDefined(found, "ssh-keygen -F did not find the recorded host")
      assert.include(found!, `[127.0.0.1]:${port} ssh-ed25519 `)
      // The recorded key is the one sshd has.
      const fp = execFileSync(OpenSsh.SSH_KEYGEN, ["-l", "-f", file]).toString()
      assert.include(fp, sshdFingerprint())
      // A second connection, strict this time, trusts it; nothing more is written.
      yield* Effect.scoped(connect(port, HostKeyPolicy.knownHosts({ files: [file] })))
      assert.strictEqual(fs.readFileSync(file, "utf8"), text)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("acceptNew with hash: true: a |1| line that ssh-keygen -F finds", () =>
    Effect.gen(function*() {
      const { port } = yield* startSshd
      const dir = yield* tempDir
      const file = path.join(dir, "known_hosts")
      yield* Effect.scoped(connect(port, HostKeyPolicy.acceptNew({ files: [file], hash: true })))
      const text = fs.readFileSync(file, "utf8")
      assert.match(text, /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 /)
      assert.notInclude(text, "127.0.0.1")
      const found = keygenFind(`[127.0.0.1]:${port}`, file)
      assert.isDefined(found, "ssh-keygen -F did not find the hashed line")
      assert.include(found!, "|1|")
      assert.isUndefined(keygenFind(`[127.0.0.1]:${port + 1}`, file))
      yield* Effect.scoped(connect(port, HostKeyPolicy.knownHosts({ files: [file] })))
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("pinned with the server's fingerprint (from ssh-keygen -l): accepted", () =>
    Effect.gen(function*() {
      const { port } = yield* startSshd
      const t = yield* connect(port, HostKeyPolicy.pinned([sshdFingerprint()]))
      assert.strictEqual(HostKey.fingerprintSha256(t.hostKey), sshdFingerprint())
      assert.strictEqual((yield* t.stats).kexCount, 1)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("SEC-20: pinned with another fingerprint: rejected with code 9", () =>
    Effect.gen(function*() {
      const { port, log } = yield* startSshd
      const other = HostKey.fingerprintSha256(
        HostKey.encodePublicKey(HostKey.publicKeyOf(NodeCrypto.generateKey({ type: "ed25519" })))
      )
      const e = yield* rejected(port, HostKeyPolicy.pinned([other]))
      assert.include(e.message, "not one of the pinned fingerprints")
      assert.include(e.message, sshdFingerprint())
      assert.include(e.message, other)
      yield* assertRejectedBeforeNewKeys(log)
      yield* rejected(port, HostKeyPolicy.pinned([]))
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("SEC-20: callback returning false: rejected with code 9, the callback saw the server's key once", () =>
    Effect.gen(function*() {
      const { port, log } = yield* startSshd
      const seen: Array<HostKeyPolicy.HostKeyInfo> = []
      const e = yield* rejected(
        port,
        HostKeyPolicy.callback((info) => Effect.sync(() => seen.push(info)).pipe(Effect.as(false)))
      )
      assert.include(e.message, "refused by the host key callback")
      assert.strictEqual(seen.length, 1)
      assert.strictEqual(seen[0]!.fingerprint, sshdFingerprint())
      assert.strictEqual(seen[0]!.keyType, "ssh-ed25519")
      assert.strictEqual(seen[0]!.host, "127.0.0.1")
      assert.strictEqual(seen[0]!.port, port)
      yield* assertRejectedBeforeNewKeys(log)
      // A callback that fails or dies is a rejection too (fail closed).
      yield* rejected(port, HostKeyPolicy.callback(() => Effect.fail("no")))
      yield* rejected(port, HostKeyPolicy.callback(() => Effect.die("boom")))
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("callback returning true: accepted", () =>
    Effect.gen(function*() {
      const { port } = yield* startSshd
      const t = yield* connect(port, HostKeyPolicy.callback(() => Effect.succeed(true)))
      assert.match(t.peerVersion, /^SSH-2\.0-OpenSSH_/)
    }).pipe(Effect.provide(TestLayer)))
})
