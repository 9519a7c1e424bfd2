/**
 * Our client role ↔ our server role over an in-memory socket pair.
 */
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import type { CryptoBackend, PrivateKeyMaterial } from "../../src/crypto/Backend.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import type { TransportError } from "../../src/SshError.js"
import * as Transport from "../../src/transport/Transport.js"
import * as MemorySocket from "./MemorySocket.js"

let hostKeys: ReadonlyArray<PrivateKeyMaterial> | undefined
/** One host key of each type, generated once (node:crypto, for speed) and used by both backends. */
export const testHostKeys = (): ReadonlyArray<PrivateKeyMaterial> => {
  hostKeys ??= [
    NodeCrypto.generateKey({ type: "ed25519" }),
    NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp256" }),
    NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp384" }),
    NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp521" }),
    NodeCrypto.generateKey({ type: "rsa", bits: 2048 })
  ]
  return hostKeys
}

export interface PairOptions {
  readonly backend: CryptoBackend
  readonly serverBackend?: CryptoBackend | undefined
  readonly client?: Partial<Transport.TransportOptions> | undefined
  readonly server?: Partial<Transport.TransportOptions> | undefined
}

/** Both ends of one connection, with the first key exchange done. */
export const pair = (
  o: PairOptions
): Effect.Effect<{ readonly client: Transport.Transport; readonly server: Transport.Transport }, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const [a, b] = yield* MemorySocket.pair()
    const [client, server] = yield* Effect.all([
      Transport.make(a, { role: "client", verifyHostKey: () => Effect.void, ...o.client }).pipe(
        Effect.provideService(Crypto, o.backend)
      ),
      Transport.make(b, { role: "server", hostKeys: testHostKeys(), ...o.server }).pipe(
        Effect.provideService(Crypto, o.serverBackend ?? o.backend)
      )
    ], { concurrency: 2 })
    return { client, server }
  })
