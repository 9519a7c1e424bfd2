/**
 * Off-by-default algorithms (SEC-26, DESIGN.md §5, §7): each is enabled by one option in OpenSSH's `+name` syntax,
 * and when a peer offers only such an algorithm, the "no common algorithm" error lists both sides and names the
 * option to set.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as Transport from "../../src/transport/Transport.js"
import * as Loopback from "../helpers/Loopback.js"
import * as MemorySocket from "../helpers/MemorySocket.js"

interface Case {
  readonly kind: keyof Transport.AlgorithmOptions
  readonly name: string
  /** What the old peer allows: only the legacy algorithm (and what makes it matter). */
  readonly peer: Transport.AlgorithmOptions
  readonly negotiated: ReadonlyArray<string>
}

const CASES: ReadonlyArray<Case> = [
  { kind: "cipher", name: "aes128-cbc", peer: { cipher: ["aes128-cbc"] }, negotiated: ["cipherC2S", "cipherS2C"] },
  { kind: "cipher", name: "3des-cbc", peer: { cipher: ["3des-cbc"] }, negotiated: ["cipherC2S", "cipherS2C"] },
  { kind: "mac", name: "hmac-md5", peer: { cipher: ["aes128-ctr"], mac: ["hmac-md5"] }, negotiated: ["macC2S", "macS2C"] },
  { kind: "mac", name: "hmac-sha1-96", peer: { cipher: ["aes128-ctr"], mac: ["hmac-sha1-96"] }, negotiated: ["macC2S", "macS2C"] },
  { kind: "kex", name: "diffie-hellman-group14-sha1", peer: { kex: ["diffie-hellman-group14-sha1"] }, negotiated: ["kex"] },
  { kind: "hostKey", name: "ssh-rsa", peer: { hostKey: ["ssh-rsa"] }, negotiated: ["hostKey"] }
]

/** Both ends over an in-memory pair; each side's result, success or error. */
const connect = (client: Transport.AlgorithmOptions | undefined, server: Transport.AlgorithmOptions | undefined) =>
  Effect.gen(function*() {
    const [a, b] = yield* MemorySocket.pair()
    const s = yield* Transport.make(b, { role: "server", hostKeys: Loopback.testHostKeys(), ...(server ? { algorithms: server } : {}) }).pipe(
      Effect.either,
      Effect.fork
    )
    const c = yield* Transport.make(a, { role: "client", verifyHostKey: () => Effect.void, ...(client ? { algorithms: client } : {}) }).pipe(
      Effect.either
    )
    return { client: c, server: yield* Fiber.join(s) }
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

describe("off-by-default algorithms", () => {
  for (const c of CASES) {
    it.scopedLive(`${c.name}: a server offering only it → our client's error lists both sides and names algorithms.${c.kind}`, () =>
      Effect.gen(function*() {
        const { client } = yield* connect(undefined, c.peer)
        assert(client._tag === "Left", "the default client must not accept a legacy algorithm")
        assert.strictEqual(client.left.reason, "NoCommonAlgorithm")
        assert.include(client.left.description, `server offers [${c.peer[c.kind]!.toString().split(",").join(", ")}]`)
        assert.include(client.left.description, `algorithms: { ${c.kind}: "+${c.name}" }`)
      }))

    it.scopedLive(`${c.name}: enabled with one option, algorithms.${c.kind} = "+${c.name}"`, () =>
      Effect.gen(function*() {
        const { client, server } = yield* connect({ [c.kind]: `+${c.name}` }, c.peer)
        assert(client._tag === "Right" && server._tag === "Right")
        const n = yield* client.right.negotiated
        for (const k of c.negotiated) assert.strictEqual(n[k as keyof typeof n], c.name, k)
      }))
  }

  it.scopedLive("a client offering only 3des-cbc → our server's error names algorithms.cipher too", () =>
    Effect.gen(function*() {
      const { server } = yield* connect({ cipher: ["3des-cbc"] }, undefined)
      assert(server._tag === "Left")
      assert.include(server.left.description, "client offers [3des-cbc]")
      assert.include(server.left.description, `algorithms: { cipher: "+3des-cbc" }`)
    }))

  it.scopedLive("no hint when the peer offers nothing we implement", () =>
    Effect.gen(function*() {
      const { client } = yield* connect({ cipher: ["aes128-ctr"] }, { cipher: ["aes256-gcm@openssh.com"] })
      assert(client._tag === "Left")
      assert.notInclude(client.left.description, "off by default")
    }))
})
