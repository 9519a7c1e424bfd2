/**
 * SEC-71, host-key rotation without a real peer: what the client learns and when (KnownHostsUpdate.plan and
 * rewrite, the proofs checked over the session id), a server that advertises an extra key but returns a bad
 * proof (nothing stored), and an announcement before authentication (the client fails the login and never asks
 * its policy).
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../../src/client/HostKeyPolicy.js"
import * as UpdateHostKeys from "../../../src/client/internal/updateHostKeys.js"
import * as SshClient from "../../../src/client/SshClient.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import * as KnownHosts from "../../../src/keys/KnownHosts.js"
import * as KnownHostsUpdate from "../../../src/keys/KnownHostsUpdate.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import * as ServerHostKeys from "../../../src/server/internal/hostKeys.js"
import * as Transport from "../../../src/transport/Transport.js"
import * as HostKeysMessages from "../../../src/wire/HostKeysMessages.js"
import * as Writer from "../../../src/wire/Writer.js"
import * as Loopback from "../../helpers/Loopback.js"
import * as MemorySocket from "../../helpers/MemorySocket.js"
import * as Receive from "../../../src/transport/internal/receive.js"

const keys = {
  ed: NodeCrypto.generateKey({ type: "ed25519" }),
  ec: NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp256" }),
  rsa: NodeCrypto.generateKey({ type: "rsa", bits: 2048 }),
  old: NodeCrypto.generateKey({ type: "ed25519" })
}
const blob = (k: keyof typeof keys) => HostKey.encodePublicKey(HostKey.publicKeyOf(keys[k]))
const line = (host: string, k: keyof typeof keys) =>
  Either.getOrThrow(KnownHosts.formatLine(host, 2222, KnownHostsUpdate.keyTypeOf(blob(k)), blob(k), { hash: false }))
const sessionId = new Uint8Array(32).fill(5)

describe("SEC-71: KnownHostsUpdate", () => {
  it("SEC-71: new keys need a proof, keys no longer offered are deprecated, known ones retained", () => {
    const text = [line("h", "ed"), line("h", "old"), line("other", "rsa")].join("\n") + "\n"
    const plan = KnownHostsUpdate.plan([{ path: "kh", text }], "h", 2222, [blob("ed"), blob("ec")])
    assert.strictEqual(plan._tag, "Update")
    if (plan._tag !== "Update") return
    assert.deepStrictEqual([plan.fresh, plan.retained, plan.deprecated], [[blob("ec")], [blob("ed")], [blob("old")]])
    const next = KnownHostsUpdate.rewrite(text, "h", 2222, [blob("ed"), blob("ec")], [{ blob: blob("ec"), line: line("h", "ec") }])
    assert.strictEqual(next, [line("h", "ed"), line("other", "rsa"), line("h", "ec")].join("\n") + "\n")
  })

  it("SEC-71: never under a CA or revocation marker, a wildcard, or a key recorded for another name", () => {
    const offered = [blob("ed"), blob("ec")]
    const skip = (text: string) => KnownHostsUpdate.plan([{ path: "kh", text }], "h", 2222, offered)._tag
    assert.strictEqual(skip(`${line("h", "ed")}\n@cert-authority [h]:2222 ${line("x", "rsa").split(" ").slice(1).join(" ")}\n`), "Skip")
    assert.strictEqual(skip(`${line("h", "ed")}\n@revoked [h]:2222 ${line("x", "old").split(" ").slice(1).join(" ")}\n`), "Skip")
    assert.strictEqual(skip(line("h", "ed").replace("[h]:2222", "[h*]:2222") + "\n"), "Skip")
    assert.strictEqual(skip(`${line("h", "ed")}\n${line("elsewhere", "ec")}\n`), "Skip")
    // Nothing new and nothing deprecated: nothing to do.
    assert.strictEqual(skip(`${line("h", "ed")}\n${line("h", "ec")}\n`), "Skip")
  })
})

describe("SEC-71: proofs", () => {
  const held = ServerHostKeys.plainKeys([keys.ed, keys.ec, keys.rsa])
  const asked = [blob("ec"), blob("rsa")]

  it("SEC-71: the server's proofs verify over this session id only", () => {
    const reply = ServerHostKeys.prove(NodeCrypto, held, sessionId, "ssh-ed25519", HostKeysMessages.encodeList(asked))!
    assert.deepStrictEqual(UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "ssh-ed25519", asked, reply), [true, true])
    assert.isUndefined(UpdateHostKeys.checkProofs(NodeCrypto, new Uint8Array(32).fill(6), "ssh-ed25519", asked, reply))
    // One signature for two keys, or the keys in another order: refused.
    const one = HostKeysMessages.encodeList(Either.getOrThrow(HostKeysMessages.decodeList(reply)).slice(0, 1))
    assert.isUndefined(UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "ssh-ed25519", asked, one))
    assert.isUndefined(UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "ssh-ed25519", [...asked].reverse(), reply))
  })

  it("SEC-71: RSA is proved under the negotiated RSA algorithm; an ssh-rsa (SHA-1) proof is disregarded otherwise", () => {
    const under256 = ServerHostKeys.prove(NodeCrypto, held, sessionId, "rsa-sha2-256", HostKeysMessages.encodeList([blob("rsa")]))!
    assert.deepStrictEqual(UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "rsa-sha2-256", [blob("rsa")], under256), [true])
    assert.isUndefined(UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "rsa-sha2-512", [blob("rsa")], under256))
    const sha1 = HostKey.sign(NodeCrypto, "ssh-rsa", keys.rsa, HostKeysMessages.proveData(sessionId, blob("rsa")))
    assert.deepStrictEqual(
      UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "ssh-ed25519", [blob("rsa")], HostKeysMessages.encodeList([sha1])),
      [false]
    )
  })

  it("SEC-71: a prove request naming a key the server does not hold is refused", () => {
    assert.isUndefined(ServerHostKeys.prove(NodeCrypto, held, sessionId, "ssh-ed25519", HostKeysMessages.encodeList([blob("old")])))
    assert.isUndefined(ServerHostKeys.prove(NodeCrypto, held, sessionId, "ssh-ed25519", new Uint8Array([0, 0, 0, 9])))
  })

  it.scoped("SEC-71: a server that advertises an extra key but returns a bad proof: the key is not stored", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sec71-"))
      const kh = path.join(dir, "known_hosts")
      const before = `${line("h", "ed")}\n`
      fs.writeFileSync(kh, before)
      const policy = HostKeyPolicy.knownHosts({ files: [kh], updateHostKeys: true })
      // The proof is made over another session id, as a server replaying an old proof would.
      const bad = ServerHostKeys.prove(NodeCrypto, ServerHostKeys.plainKeys([keys.ec]), new Uint8Array(32), "ssh-ed25519", HostKeysMessages.encodeList([blob("ec")]))!
      let asked = 0
      yield* policy.updateHostKeys!({
        host: "h",
        port: 2222,
        sessionHostKey: blob("ed"),
        offered: [blob("ed"), blob("ec")],
        prove: (ks) => Effect.sync(() => (asked++, UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "ssh-ed25519", ks, bad)))
      })
      assert.strictEqual(asked, 1)
      assert.strictEqual(fs.readFileSync(kh, "utf8"), before)
      // The same announcement with a good proof is learned.
      const good = ServerHostKeys.prove(NodeCrypto, ServerHostKeys.plainKeys([keys.ec]), sessionId, "ssh-ed25519", HostKeysMessages.encodeList([blob("ec")]))!
      yield* policy.updateHostKeys!({
        host: "h",
        port: 2222,
        sessionHostKey: blob("ed"),
        offered: [blob("ed"), blob("ec")],
        prove: (ks) => Effect.sync(() => UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "ssh-ed25519", ks, good))
      })
      assert.strictEqual(fs.readFileSync(kh, "utf8"), `${before}${line("h", "ec")}\n`)
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("SEC-71: HostKeyPolicy.any", () => {
  it.scoped("SEC-71: any(...) hands the announcement to its known_hosts members; the keys are proved once", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sec71-any-"))
      const holds = path.join(dir, "holds")
      const other = path.join(dir, "other")
      fs.writeFileSync(holds, `${line("h", "ed")}\n`)
      fs.writeFileSync(other, `${line("elsewhere", "rsa")}\n`)
      const good = ServerHostKeys.prove(NodeCrypto, ServerHostKeys.plainKeys([keys.ec]), sessionId, "ssh-ed25519", HostKeysMessages.encodeList([blob("ec")]))!
      let asked = 0
      const update: HostKeyPolicy.HostKeyUpdate = {
        host: "h",
        port: 2222,
        sessionHostKey: blob("ed"),
        offered: [blob("ed"), blob("ec")],
        prove: (ks) => Effect.sync(() => (asked++, UpdateHostKeys.checkProofs(NodeCrypto, sessionId, "ssh-ed25519", ks, good)))
      }
      // A pinned member first (no rotation), then two known_hosts policies: only the file that holds this
      // connection's key for the host learns; the twin policy over the same file asks for no second proof.
      const policy = HostKeyPolicy.any(
        HostKeyPolicy.pinned([HostKey.fingerprintSha256(blob("ed"))]),
        HostKeyPolicy.knownHosts({ files: [other], updateHostKeys: true }),
        HostKeyPolicy.knownHosts({ files: [holds], updateHostKeys: true }),
        HostKeyPolicy.knownHosts({ files: [holds], updateHostKeys: true })
      )
      assert.isDefined(policy.updateHostKeys)
      yield* policy.updateHostKeys!(update)
      assert.strictEqual(asked, 1)
      assert.strictEqual(fs.readFileSync(holds, "utf8"), `${line("h", "ed")}\n${line("h", "ec")}\n`)
      assert.strictEqual(fs.readFileSync(other, "utf8"), `${line("elsewhere", "rsa")}\n`)
      // Members without rotation: the combination has none either (the connection does not ask for proofs).
      assert.isUndefined(HostKeyPolicy.any(HostKeyPolicy.pinned([]), HostKeyPolicy.knownHosts({ files: [holds] })).updateHostKeys)
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("SEC-71: before authentication", () => {
  it.scopedLive("SEC-71: hostkeys-00 before authentication fails the login; the policy is never asked", () =>
    Effect.gen(function*() {
      const [a, b] = yield* MemorySocket.pair()
      // A server that answers SERVICE_REQUEST with its host keys instead of SERVICE_ACCEPT.
      yield* Transport.make(b, { role: "server", hostKeys: Loopback.testHostKeys() }).pipe(
        Effect.flatMap((t) =>
          Effect.zipRight(
            Receive.receive(t),
            t.send(Writer.build((w) => w.byte(80).string(HostKeysMessages.HOSTKEYS).boolean(false).raw(HostKeysMessages.encodeList([blob("ec")]))))
          ).pipe(Effect.zipRight(Effect.flatMap(Receive.receive(t), () => Effect.never)))
        ),
        Effect.scoped,
        Effect.ignore,
        Effect.forkScoped
      )
      let updates = 0
      const policy: HostKeyPolicy.HostKeyPolicy = {
        verify: () => Effect.void,
        updateHostKeys: () => Effect.sync(() => void updates++)
      }
      const e = yield* Effect.flip(SshClient.connectOver(a, { host: "memory", username: "alice", auth: [Auth.privateKey(keys.ed)], hostKeys: policy }))
      assert.strictEqual(e._tag, "TransportError")
      assert.match(e.message, /protocol/, e.message)
      assert.strictEqual(updates, 0)
    }).pipe(Effect.provide(NodeContext.layer)))
})
