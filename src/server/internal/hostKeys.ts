/**
 * The server's side of host-key rotation (OpenSSH PROTOCOL §2.5, SEC-71): after authentication it announces
 * every plain host key with `hostkeys-00@openssh.com` (no reply wanted; certificates are not sent, as sshd's
 * `notify_hostkeys`), and answers `hostkeys-prove-00@openssh.com` with one signature per requested key over
 * `"hostkeys-prove-00@openssh.com" ‖ session id ‖ key`, in the order asked (serverloop.c
 * `server_input_hostkeys_prove`). A request naming a key we do not hold is refused as a whole.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type * as ConnectionMux from "../../connection/ConnectionMux.js"
import type { CryptoBackend, PrivateKeyMaterial } from "../../crypto/Backend.js"
import { Crypto } from "../../crypto/Crypto.js"
import * as HostKey from "../../crypto/HostKey.js"
import type * as Transport from "../../transport/Transport.js"
import { bytesEqual } from "../../wire/Bytes.js"
import * as HostKeysMessages from "../../wire/HostKeysMessages.js"

/** One plain host key: its public blob and the private half that signs for it. */
interface Held {
  readonly blob: Uint8Array
  readonly key: PrivateKeyMaterial
}

/**
 * The plain keys and the announcement of one configuration's host keys, computed once per server (the host keys
 * array is the server's), not once per connection: every idle connection shares them (issue 10).
 */
const cache = new WeakMap<ReadonlyArray<PrivateKeyMaterial | HostKey.CertifiedKey>, {
  readonly held: ReadonlyArray<Held>
  readonly announce: Uint8Array
}>()

/** The distinct plain keys among the configured host keys (a `CertifiedKey` contributes its key). */
export const plainKeys = (hostKeys: ReadonlyArray<PrivateKeyMaterial | HostKey.CertifiedKey>): ReadonlyArray<Held> => {
  const out: Array<Held> = []
  for (const k of hostKeys) {
    const key = "certificate" in k ? k.key : k
    const blob = HostKey.encodePublicKey(HostKey.publicKeyOf(key))
    if (!out.some((h) => bytesEqual(h.blob, blob))) out.push({ blob, key })
  }
  return out
}

const cached = (hostKeys: ReadonlyArray<PrivateKeyMaterial | HostKey.CertifiedKey>) => {
  let c = cache.get(hostKeys)
  if (c === undefined) {
    const held = plainKeys(hostKeys)
    c = { held, announce: HostKeysMessages.encodeList(held.slice(0, HostKeysMessages.MAX_KEYS).map((h) => h.blob)) }
    cache.set(hostKeys, c)
  }
  return c
}

/**
 * The signature algorithm of a proof: the key's own, except RSA, which signs under the negotiated RSA algorithm
 * when the key exchange used one, else rsa-sha2-512 (serverloop.c: "prefer to use the signature type negotiated
 * during KEX to the default (SHA1)"; OpenSSH's client accepts only rsa-sha2-256/512 otherwise).
 */
const proofAlgorithm = (key: PrivateKeyMaterial, negotiatedHostKey: string): string => {
  if (key.type !== "rsa") return HostKey.algorithmsForKey(key)[0]!
  const plain = HostKey.signatureAlgorithm(negotiatedHostKey)
  return plain === "rsa-sha2-256" || plain === "rsa-sha2-512" ? plain : "rsa-sha2-512"
}

/** The REQUEST_SUCCESS data for a prove request, or undefined to refuse it. */
export const prove = (
  backend: CryptoBackend,
  held: ReadonlyArray<Held>,
  sessionId: Uint8Array,
  negotiatedHostKey: string,
  data: Uint8Array
): Uint8Array | undefined => {
  const requested = HostKeysMessages.decodeList(data)
  if (Either.isLeft(requested) || requested.right.length === 0) return undefined
  const signatures: Array<Uint8Array> = []
  for (const blob of requested.right) {
    // "Better check that this is actually one of our hostkeys before attempting to sign anything with it."
    const mine = held.find((h) => bytesEqual(h.blob, blob))
    if (mine === undefined) return undefined
    signatures.push(
      HostKey.sign(backend, proofAlgorithm(mine.key, negotiatedHostKey), mine.key, HostKeysMessages.proveData(sessionId, blob))
    )
  }
  return HostKeysMessages.encodeList(signatures)
}

/**
 * Answers prove requests for as long as the connection's Scope lives, then announces the host keys. Called once
 * the user is authenticated (the announcement is post-auth only, SEC-71).
 */
export const install = (
  mux: ConnectionMux.ConnectionMux,
  transport: Transport.Transport,
  hostKeys: ReadonlyArray<PrivateKeyMaterial | HostKey.CertifiedKey>,
  crypto: CryptoBackend | undefined
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { announce, held } = cached(hostKeys)
    if (held.length === 0) return
    const backend = crypto ?? (yield* Crypto)
    yield* mux.handleGlobalRequests(HostKeysMessages.HOSTKEYS_PROVE, (request) =>
      Effect.gen(function*() {
        const negotiated = yield* transport.negotiated
        const reply = prove(backend, held, transport.sessionId, negotiated.hostKey, request.data)
        if (reply === undefined) yield* Effect.logDebug("hostkeys-prove-00@openssh.com: refused (not our host key)")
        return reply === undefined ? { _tag: "Failure" as const } : { _tag: "Success" as const, data: reply }
      }))
    yield* Effect.ignore(mux.globalRequest(HostKeysMessages.HOSTKEYS, announce, false))
  })
