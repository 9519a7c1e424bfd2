/**
 * OpenSSH certificates in both roles (PROTOCOL.certkeys; SEC-63, SEC-65, SEC-66):
 * - certificates we issue log our client in to sshd (`TrustedUserCAKeys`), and `ssh` accepts our server's host
 *   certificate through `@cert-authority`;
 * - certificates from `ssh-keygen -s` log `ssh` in to our ServerAuth (`trustedUserCaKeys`) or are refused as
 *   sshd would refuse them (expired, not yet valid, wrong principal, wrong CA, bad source-address), with
 *   force-command surfaced; our client picks up `<key>-cert.pub` as ssh does.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as ClientAuth from "../../src/auth/ClientAuth.js"
import * as ServerAuth from "../../src/auth/ServerAuth.js"
import type { PrivateKeyMaterial } from "../../src/crypto/Backend.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import * as Certificate from "../../src/keys/Certificate.js"
import { parsePrivateKey } from "../../src/keys/PrivateKey.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeTransport from "../../src/node/NodeTransport.js"
import * as Transport from "../../src/transport/Transport.js"
import * as Loopback from "../helpers/Loopback.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const me = os.userInfo().username
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-certs-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const keygen = (...args: Array<string>) => execFileSync(OpenSsh.SSH_KEYGEN, args, { stdio: ["ignore", "pipe", "pipe"] }).toString()
let n = 0
/** A key pair from ssh-keygen: path, material, public blob. */
const newKey = (args: ReadonlyArray<string>) => {
  const file = path.join(tmp, `key${n++}`)
  keygen(...args, "-q", "-N", "", "-C", "", "-f", file)
  const parsed = Either.getOrThrow(parsePrivateKey(fs.readFileSync(file, "utf8")))
  return { file, key: parsed.material, pub: parsed.publicKey, text: fs.readFileSync(`${file}.pub`, "utf8").trim() }
}
const TYPES = [
  ["ed25519", ["-t", "ed25519"]],
  ["ecdsa256", ["-t", "ecdsa", "-b", "256"]],
  ["ecdsa384", ["-t", "ecdsa", "-b", "384"]],
  ["rsa", ["-t", "rsa", "-b", "3072"]]
] as const
const ca = has ? newKey(["-t", "ed25519"]) : undefined!
const otherCa = has ? newKey(["-t", "ecdsa", "-b", "256"]) : undefined!

/** Our client over sshd -i with TrustedUserCAKeys = our CA. */
const loginToSshd = (auth: ReadonlyArray<Auth.AuthMethod>, caText = ca.text) =>
  Effect.gen(function*() {
    const caFile = path.join(tmp, `trusted${n++}.pub`)
    fs.writeFileSync(caFile, caText + "\n")
    const log: Array<string> = []
    const socket = yield* OpenSsh.sshdInetd({ extra: [`TrustedUserCAKeys ${caFile}`] }, log)
    const t = yield* Transport.make(socket, { role: "client", verifyHostKey: () => Effect.void })
    const r = yield* Effect.either(ClientAuth.authenticate(t, {
      username: me,
      auth,
      readFile: (p) => Effect.try(() => fs.readFileSync(p, "utf8"))
    }))
    return { r, log }
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

describe.skipIf(!has)("our certificates → OpenSSH sshd (TrustedUserCAKeys)", () => {
  for (const [name, args] of TYPES) {
    it.scopedLive(`${name}: a user certificate we issue logs our client in; an expired one does not`, () =>
      Effect.gen(function*() {
        const user = newKey(args)
        const cert = yield* Certificate.sign({ key: user.key, caKey: ca.key, type: "user", keyId: "ours", principals: [me] })
        const ok = yield* loginToSshd([Either.getOrThrow(Auth.certificate(user.key, cert.blob))])
        if (Either.isLeft(ok.r)) console.error(ok.log.join(""))
        assert.isTrue(Either.isRight(ok.r))
        assert.match(ok.log.join(""), /Accepted publickey for \S+ from .* (ED25519|ECDSA|RSA)-CERT SHA256:\S+ ID ours \(serial 0\) CA ED25519/)
        const expired = yield* Certificate.sign({
          key: user.key, caKey: ca.key, type: "user", keyId: "old", principals: [me],
          validAfter: new Date("2020-01-01"), validBefore: new Date("2021-01-01")
        })
        const refused = yield* loginToSshd([Either.getOrThrow(Auth.certificate(user.key, expired.blob))])
        assert.isTrue(Either.isLeft(refused.r))
        assert.match(refused.log.join(""), /expired|Certificate invalid/i)
      }).pipe(Effect.provideService(Crypto, NodeCrypto)), 30_000)
  }

  it.scopedLive("privateKeyFile picks up <path>-cert.pub (from ssh-keygen -s) as ssh does; wrong principal → plain key tried", () =>
    Effect.gen(function*() {
      const user = newKey(["-t", "ed25519"])
      keygen("-q", "-s", ca.file, "-I", "file-cert", "-n", me, `${user.file}.pub`)
      const ok = yield* loginToSshd([Auth.privateKeyFile(user.file)])
      assert.isTrue(Either.isRight(ok.r))
      assert.include(ok.log.join(""), "ID file-cert")
      keygen("-q", "-s", ca.file, "-I", "other-user", "-n", "nobody-else", `${user.file}.pub`)
      const refused = yield* loginToSshd([Auth.privateKeyFile(user.file)])
      assert.isTrue(Either.isLeft(refused.r))
      const tried = Either.isLeft(refused.r) && "tried" in refused.r.left ? refused.r.left.tried : []
      assert.isTrue(tried.some((t) => t.includes("certificate")), tried.join("\n"))
      assert.isTrue(tried.some((t) => t.includes("ssh-ed25519 SHA256")), tried.join("\n"))
    }), 30_000)
})

/** `ssh` with an identity (and its -cert.pub) against a port, never through a shell. */
const runSsh = (port: number, identity: string, extra: ReadonlyArray<string> = []) =>
  Effect.async<{ code: number | null; stderr: string }>((resume) => {
    const child = spawn(OpenSsh.SSH, [
      "-v", "-F", "/dev/null", "-p", String(port), "-l", "alice",
      "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey",
      "-o", "GlobalKnownHostsFile=/dev/null",
      // ssh keeps the first value of an option: strict only when the test gives its own known_hosts.
      ...(extra.some((a) => a.startsWith("UserKnownHostsFile"))
        ? ["-o", "StrictHostKeyChecking=yes"]
        : ["-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no"]),
      "-i", identity, ...extra, "127.0.0.1", "true"
    ], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp } })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdout.on("data", () => {})
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const serveAuth = (
  options: ServerAuth.ServerAuthOptions,
  handlers: ServerAuth.ServerAuthHandlers = {},
  hostKeys: ReadonlyArray<PrivateKeyMaterial | HostKey.CertifiedKey> = Loopback.testHostKeys()
) =>
  Effect.gen(function*() {
    const results: Array<Either.Either<ServerAuth.ServerAuthenticated, unknown>> = []
    const address = yield* NodeTransport.serve(
      { hostKeys },
      (t) => Effect.either(ServerAuth.authenticate(t, handlers, options)).pipe(Effect.tap((r) => results.push(r)))
    )
    assert(address._tag === "TcpAddress")
    return { port: address.port, results }
  })

const authenticated = (stderr: string) => assert.match(stderr, /Authenticated to 127\.0\.0\.1 .* using "publickey"/, stderr)

describe.skipIf(!has)("OpenSSH ssh with ssh-keygen certificates → our ServerAuth (trustedUserCaKeys)", () => {
  for (const [name, args] of TYPES) {
    it.scopedLive(`${name}: accepted, and refused as sshd would (expired, not yet valid, principal, CA, source-address)`, () =>
      Effect.gen(function*() {
        const user = newKey(args)
        const sign = (signer: { file: string }, extra: ReadonlyArray<string>) =>
          keygen("-q", "-s", signer.file, "-I", `id-${name}`, ...extra, `${user.file}.pub`)
        const options = { trustedUserCaKeys: [ca.pub], remoteAddress: "127.0.0.1" }
        sign(ca, ["-n", "alice", "-O", "force-command=echo forced", "-O", "source-address=127.0.0.0/8"])
        const good = yield* serveAuth(options)
        const r = yield* runSsh(good.port, user.file)
        authenticated(r.stderr)
        const factor = Either.getOrThrow(good.results[0]!).factors[0]!
        assert.strictEqual(factor.publicKey?.certificate?.forceCommand, "echo forced")
        assert.strictEqual(factor.publicKey?.certificate?.certificate.keyId, `id-${name}`)
        assert.strictEqual(factor.publicKey?.fingerprint, HostKey.fingerprintSha256(user.pub))
        for (const [why, signer, extra, opts] of [
          ["expired", ca, ["-n", "alice", "-V", "20200101:20210101"], options],
          ["not yet valid", ca, ["-n", "alice", "-V", "20990101:21000101"], options],
          ["wrong principal", ca, ["-n", "bob"], options],
          ["no principals", ca, [], options],
          ["wrong CA", otherCa, ["-n", "alice"], options],
          ["source-address", ca, ["-n", "alice", "-O", "source-address=10.0.0.0/8"], options],
          ["source-address, peer unknown", ca, ["-n", "alice", "-O", "source-address=127.0.0.0/8"], { trustedUserCaKeys: [ca.pub] }],
          ["host certificate", ca, ["-h", "-n", "alice"], options]
        ] as const) {
          sign(signer, extra)
          const s = yield* serveAuth(opts)
          const refused = yield* runSsh(s.port, user.file)
          assert.include(refused.stderr, "Permission denied (publickey)", `${name}, ${why}`)
          assert.notInclude(refused.stderr, "Authenticated to", `${name}, ${why}`)
        }
      }).pipe(Effect.provideService(Crypto, NodeCrypto)), 60_000)
  }

  it.scopedLive("a CA not in trustedUserCaKeys reaches the handler with the verified certificate (Certificate.authorize)", () =>
    Effect.gen(function*() {
      const user = newKey(["-t", "ed25519"])
      keygen("-q", "-s", otherCa.file, "-I", "via-handler", "-n", "alice,ops", `${user.file}.pub`)
      const seen: Array<ServerAuth.PublicKeyRequest> = []
      const s = yield* serveAuth({ trustedUserCaKeys: [ca.pub] }, {
        publicKey: (req) => {
          seen.push(req)
          const c = req.key.certificate
          return Effect.succeed(
            c !== undefined && Either.isRight(Certificate.authorize(c, { trustedCaKeys: [otherCa.pub], principals: ["ops"] }))
          )
        }
      })
      authenticated((yield* runSsh(s.port, user.file)).stderr)
      const certRequests = seen.filter((r) => r.key.certificate !== undefined)
      assert.isAbove(certRequests.length, 0)
      assert.isTrue(certRequests.every((r) => r.key.certificate!.trusted === false))
      assert.deepStrictEqual(seen.at(-1)!.key.certificate!.certificate.principals, ["alice", "ops"])
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))
})

describe.skipIf(!has)("our host certificate → OpenSSH ssh (@cert-authority)", () => {
  for (const [name, args] of TYPES) {
    it.scopedLive(`${name}: ssh trusts our server's host certificate through @cert-authority, not another CA's`, () =>
      Effect.gen(function*() {
        const host = newKey(args)
        const cert = yield* Certificate.sign({ key: host.key, caKey: ca.key, type: "host", keyId: "our-host", principals: ["127.0.0.1"] })
        const hostKeys = [{ key: host.key, certificate: cert.blob }, host.key]
        const s = yield* serveAuth({}, { publicKey: () => Effect.succeed(false) }, hostKeys)
        const known = path.join(tmp, `known${n++}`)
        fs.writeFileSync(known, `@cert-authority * ${ca.text}\n`)
        const user = newKey(["-t", "ed25519"])
        const r = yield* runSsh(s.port, user.file, ["-o", `UserKnownHostsFile=${known}`])
        assert.match(r.stderr, new RegExp(`Server host certificate: ${cert.certType.replace(/\./g, "\\.")}`), r.stderr)
        assert.include(r.stderr, "ID \"our-host\"")
        assert.match(r.stderr, /Host '.*' is known and matches the \S+-CERT host certificate/)
        assert.include(r.stderr, "Permission denied (publickey)")
        fs.writeFileSync(known, `@cert-authority * ${otherCa.text}\n`)
        const refused = yield* runSsh(s.port, user.file, ["-o", `UserKnownHostsFile=${known}`])
        assert.include(refused.stderr, "Host key verification failed")
      }).pipe(Effect.provideService(Crypto, NodeCrypto)), 30_000)
  }
})
