/**
 * docs/algorithms.md's "reaching an old appliance", end to end: OpenSSH's sshd restricted to what old equipment
 * speaks (CBC ciphers, HMAC-SHA1-96 / HMAC-MD5, a SHA-1 key exchange, an ssh-rsa host key). The default client
 * refuses it with an error that names the option; the client with those names added in `algorithms` logs in
 * (public key) and runs a command; sshd offers nothing else, so the legacy algorithms carried it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as os from "node:os"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import { TransportError } from "../../src/SshError.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as RawAuth from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const userKey = NodeCrypto.generateKey({ type: "ed25519" })

const appliance = (ciphers: string, macs: string) =>
  OpenSsh.sshdTcp({
    authorizedKeys: [RawAuth.authorizedKeyLine(userKey)],
    logLevel: "INFO",
    kex: "diffie-hellman-group14-sha1",
    ciphers,
    macs,
    hostKeyAlgorithms: "ssh-rsa"
  })

const options = (port: number, algorithms?: SshClient.SshClientOptions["algorithms"]): SshClient.SshClientOptions => ({
  host: "127.0.0.1",
  port,
  username: os.userInfo().username,
  auth: [Auth.privateKey(userKey)],
  hostKeys: HostKeyPolicy.insecureAcceptAny,
  ...(algorithms ? { algorithms } : {})
})

describe.skipIf(!has)("an old appliance (OpenSSH sshd with legacy algorithms only)", () => {
  it.scopedLive("the default client refuses it and names the option to set", () =>
    Effect.gen(function*() {
      const { port } = yield* appliance("aes128-cbc,3des-cbc", "hmac-sha1-96,hmac-md5")
      const e = yield* Effect.flip(SshClient.connect(options(port)))
      assert.instanceOf(e, TransportError)
      assert(e instanceof TransportError)
      assert.strictEqual(e.reason, "NoCommonAlgorithm")
      // Negotiation stops at the first kind without a match: the key exchange.
      assert.include(e.description, `algorithms: { kex: "+diffie-hellman-group14-sha1" }`)
    }).pipe(Effect.provide(NodeSsh.layer)))

  for (const [ciphers, macs, cipher, mac] of [
    ["aes128-cbc,3des-cbc", "hmac-sha1-96,hmac-md5", "aes128-cbc", "hmac-sha1-96"],
    ["3des-cbc", "hmac-md5", "3des-cbc", "hmac-md5"]
  ] as const) {
    it.scopedLive(`with one option per kind: ${cipher} + ${mac}, group14-sha1, ssh-rsa → login and exec`, () =>
      Effect.gen(function*() {
        const { port } = yield* appliance(ciphers, macs)
        const ssh = yield* SshClient.connect(options(port, {
          cipher: "+aes128-cbc,3des-cbc",
          mac: "+hmac-sha1-96,hmac-md5",
          kex: "+diffie-hellman-group14-sha1",
          hostKey: "+ssh-rsa"
        }))
        assert.strictEqual((yield* ssh.string("echo legacy-ok")).trim(), "legacy-ok")
      }).pipe(Effect.provide(NodeSsh.layer)))
  }
})
