/**
 * The known_hosts policy on host certificates and CheckHostIP (SEC-62, SEC-63, SEC-67), on real files.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as HostKeyPolicy from "../../../src/client/HostKeyPolicy.js"
import type { PrivateKeyMaterial } from "../../../src/crypto/Backend.js"
import { Crypto } from "../../../src/crypto/Crypto.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import * as Certificate from "../../../src/keys/Certificate.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64")
const blobOf = (k: PrivateKeyMaterial) => HostKey.encodePublicKey(HostKey.publicKeyOf(k))
const ca = NodeCrypto.generateKey({ type: "ed25519" })
const otherCa = NodeCrypto.generateKey({ type: "ed25519" })
const host = NodeCrypto.generateKey({ type: "ed25519" })
const caLine = (patterns: string, k = ca) => `@cert-authority ${patterns} ssh-ed25519 ${b64(blobOf(k))}`

const cert = (o: Partial<Certificate.SignOptions> = {}) =>
  Certificate.sign({ key: host, caKey: ca, type: "host", keyId: "h", principals: ["a.example.com"], ...o }).pipe(
    Effect.map((c) => c.blob),
    Effect.provideService(Crypto, NodeCrypto)
  )

const verdict = (lines: ReadonlyArray<string>, hostName: string, blob: Uint8Array, options: HostKeyPolicy.KnownHostsOptions = {}, address?: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped()
    const file = path.join(dir, "known_hosts")
    yield* fs.writeFileString(file, lines.join("\n") + "\n")
    const r = yield* HostKeyPolicy.knownHosts({ files: [file], ...options }).verify(
      HostKeyPolicy.makeInfo(hostName, 22, blob, address)
    ).pipe(Effect.as("Trusted" as string), Effect.catchAll((e) => Effect.succeed(e.reason as string)))
    return { r, text: yield* fs.readFileString(file) }
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

it.layer(NodeContext.layer)("HostKeyPolicy.knownHosts with host certificates", (it) => {
  it.scoped("SEC-63: a CA trusted for *.example.com signs a cert for evil.org → connecting to evil.org is rejected", () =>
    Effect.gen(function*() {
      const blob = yield* cert({ principals: ["evil.org"] })
      assert.strictEqual((yield* verdict([caLine("*.example.com")], "evil.org", blob)).r, "Unknown")
      assert.strictEqual((yield* verdict([caLine("*")], "evil.org", blob)).r, "Trusted")
    }))

  it.scoped("SEC-63: principals [a.example.com] presented by b.example.com → CertificateRejected", () =>
    Effect.gen(function*() {
      const blob = yield* cert()
      assert.strictEqual((yield* verdict([caLine("*.example.com")], "a.example.com", blob)).r, "Trusted")
      assert.strictEqual((yield* verdict([caLine("*.example.com")], "b.example.com", blob)).r, "CertificateRejected")
    }))

  it.scoped("SEC-63: expired host cert → rejected; a user-type cert offered as a host key → rejected", () =>
    Effect.gen(function*() {
      // TestClock starts at 0: a window that ended, checked at a later time.
      yield* TestClock.setTime(5_000_000)
      const expired = yield* cert({ validAfter: 1n, validBefore: 1000n })
      assert.strictEqual((yield* verdict([caLine("*")], "a.example.com", expired)).r, "CertificateRejected")
      const user = yield* cert({ type: "user" })
      assert.strictEqual((yield* verdict([caLine("*")], "a.example.com", user)).r, "CertificateRejected")
    }))

  it.scoped("SEC-62/67: @revoked CA + a certificate it signed → Revoked; other CA → not trusted", () =>
    Effect.gen(function*() {
      const blob = yield* cert()
      const revokedCa = `@revoked * ssh-ed25519 ${b64(blobOf(ca))}`
      assert.strictEqual((yield* verdict([caLine("*"), revokedCa], "a.example.com", blob)).r, "Revoked")
      assert.strictEqual((yield* verdict([caLine("*", otherCa)], "a.example.com", blob)).r, "Unknown")
    }))

  it.scoped("SEC-63: the certified key is trusted on its own only when it is itself known; acceptNew records the plain key", () =>
    Effect.gen(function*() {
      const blob = yield* cert()
      const plain = `a.example.com ssh-ed25519 ${b64(blobOf(host))}`
      assert.strictEqual((yield* verdict([plain], "a.example.com", blob)).r, "Trusted")
      const tofu = yield* verdict(["# empty"], "a.example.com", blob, { acceptNew: true })
      assert.strictEqual(tofu.r, "Trusted")
      assert.include(tofu.text, plain)
      // An invalid certificate of a trusted CA is never trusted on first use.
      const wrong = yield* verdict([caLine("*")], "b.example.com", blob, { acceptNew: true })
      assert.strictEqual(wrong.r, "CertificateRejected")
      assert.notInclude(wrong.text, "b.example.com ssh-ed25519")
    }))

  it.scoped("preferredAlgorithms: certificate algorithms when a @cert-authority line matches the host", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const file = `${dir}/kh`
      yield* fs.writeFileString(file, caLine("*.example.com") + "\n")
      const policy = HostKeyPolicy.knownHosts({ files: [file] })
      assert.include(yield* policy.preferredAlgorithms!("a.example.com", 22), "ssh-ed25519-cert-v01@openssh.com")
      assert.deepStrictEqual(yield* policy.preferredAlgorithms!("evil.org", 22), [])
    }))

  it.scoped("CheckHostIP: a different key recorded for the address → Changed; unknown address recorded with acceptNew", () =>
    Effect.gen(function*() {
      const blob = blobOf(host)
      const other = blobOf(otherCa)
      const byName = `a.example.com ssh-ed25519 ${b64(blob)}`
      const byAddress = `10.0.0.1 ssh-ed25519 ${b64(other)}`
      const on = { checkHostIp: true }
      assert.strictEqual((yield* verdict([byName, byAddress], "a.example.com", blob, on, "10.0.0.1")).r, "Changed")
      assert.strictEqual((yield* verdict([byName, byAddress], "a.example.com", blob, {}, "10.0.0.1")).r, "Trusted")
      const revokedIp = `@revoked 10.0.0.1 ssh-ed25519 ${b64(blob)}`
      assert.strictEqual((yield* verdict([byName, revokedIp], "a.example.com", blob, on, "10.0.0.1")).r, "Revoked")
      const rec = yield* verdict([byName], "a.example.com", blob, { ...on, acceptNew: true }, "10.0.0.2")
      assert.strictEqual(rec.r, "Trusted")
      assert.include(rec.text, `10.0.0.2 ssh-ed25519 ${b64(blob)}`)
      const strict = yield* verdict([byName], "a.example.com", blob, on, "10.0.0.2")
      assert.strictEqual(strict.r, "Trusted")
      assert.notInclude(strict.text, "10.0.0.2")
    }))
})
