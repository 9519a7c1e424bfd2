/**
 * The client's side of host-key rotation (OpenSSH PROTOCOL §2.5, SEC-71; clientloop.c `client_input_hostkeys`,
 * `client_global_hostkeys_prove_confirm`): the server's `hostkeys-00@openssh.com` is handled only after
 * authentication (the handler lives on the ConnectionMux, which exists only then), once per connection, and only
 * when the host key policy updates (`HostKeyPolicy.updateHostKeys`). Keys the client cannot use, certificates and
 * keys outside the host key algorithms are ignored; a duplicate ends the update. New keys are recorded only after
 * `hostkeys-prove-00@openssh.com` returned a valid signature over the session id for each.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as ConnectionMux from "../../connection/ConnectionMux.js"
import * as Algorithms from "../../crypto/Algorithms.js"
import type { CryptoBackend } from "../../crypto/Backend.js"
import { Crypto } from "../../crypto/Crypto.js"
import * as HostKey from "../../crypto/HostKey.js"
import * as Negotiate from "../../crypto/Negotiate.js"
import type * as Transport from "../../transport/Transport.js"
import { bytesEqual } from "../../wire/Bytes.js"
import * as HostKeysMessages from "../../wire/HostKeysMessages.js"
import * as Reader from "../../wire/Reader.js"
import type { HostKeyPolicy } from "../HostKeyPolicy.js"

/** clientloop.c HOSTKEY_PROOF_RSA_ALGS: RSA proofs accepted when the exchange did not use an RSA host key. */
const PROOF_RSA_ALGORITHMS: ReadonlyArray<string> = ["rsa-sha2-512", "rsa-sha2-256"]

/**
 * The announced keys the client may learn: decodable, plain (no certificates), allowed by the host key
 * algorithms (for RSA, any of ssh-rsa / rsa-sha2-256 / rsa-sha2-512, as `hostkey_accepted_by_hostkeyalgs`).
 * `undefined` when the server repeated a key ("received duplicated host key": no update).
 */
export const acceptable = (
  blobs: ReadonlyArray<Uint8Array>,
  hostKeyAlgorithms: ReadonlyArray<string>
): ReadonlyArray<Uint8Array> | undefined => {
  const out: Array<Uint8Array> = []
  for (const blob of blobs) {
    const decoded = HostKey.decodePublicKey(blob)
    if (Either.isLeft(decoded)) continue
    if (!HostKey.algorithmsForKey(decoded.right.material).some((a) => hostKeyAlgorithms.includes(a))) continue
    if (out.some((b) => bytesEqual(b, blob))) return undefined
    out.push(blob)
  }
  return out
}

/**
 * Checks the REQUEST_SUCCESS data of a prove request: one signature per asked key, in order. Per key `true`
 * (proven) or `false` (an RSA proof under an algorithm we do not accept: disregarded); `undefined` when any
 * signature is bad or the count is wrong — then nothing is learned.
 */
export const checkProofs = (
  backend: CryptoBackend,
  sessionId: Uint8Array,
  negotiatedHostKey: string,
  asked: ReadonlyArray<Uint8Array>,
  data: Uint8Array
): ReadonlyArray<boolean> | undefined => {
  const signatures = HostKeysMessages.decodeList(data)
  if (Either.isLeft(signatures) || signatures.right.length !== asked.length) return undefined
  // "if a RSA hostkey was negotiated, then use its signature type for verification of RSA hostkey proofs".
  const negotiatedPlain = HostKey.signatureAlgorithm(negotiatedHostKey)
  const rsaKex = HostKey.keyTypeForAlgorithm(negotiatedPlain) === "ssh-rsa" ? negotiatedPlain : undefined
  const out: Array<boolean> = []
  for (let i = 0; i < asked.length; i++) {
    const blob = asked[i]!
    const decoded = HostKey.decodePublicKey(blob)
    if (Either.isLeft(decoded)) return undefined
    const signed = HostKeysMessages.proveData(sessionId, blob)
    const algorithm = signatureAlgorithmOf(signatures.right[i]!)
    let verifyAs: string
    if (decoded.right.material.type === "rsa") {
      if (rsaKex === undefined && !PROOF_RSA_ALGORITHMS.includes(algorithm)) {
        out.push(false)
        continue
      }
      verifyAs = rsaKex ?? algorithm
    } else {
      verifyAs = HostKey.algorithmsForKey(decoded.right.material)[0]!
    }
    if (!HostKey.verify(backend, verifyAs, blob, signed, signatures.right[i]!)) return undefined
    out.push(true)
  }
  return out
}

const signatureAlgorithmOf = (signature: Uint8Array): string =>
  Either.getOrElse(Reader.run(signature, (r) => r.ascii()), () => "")

/**
 * The handler of the server's announcement (for `ConnectionMuxOptions.globalRequests`, so that it is in place before
 * the first message after USERAUTH_SUCCESS), when `policy` updates host keys; `mux` is the connection it answers
 * on, once made. `awaitDone` finishes an update under way: add it as a finalizer after the mux, so that a short
 * `ssh host true` still learns the keys, as ssh's client loop does before it exits (bounded: a silent server cannot
 * hold the close). `hostKeyAlgorithms` is the client's configured list (an OpenSSH-syntax string or names).
 */
export const prepare = <R>(
  mux: Deferred.Deferred<ConnectionMux.ConnectionMux>,
  transport: Transport.Transport,
  policy: HostKeyPolicy<R>,
  destination: { readonly host: string; readonly port: number; readonly hostKeyAlgorithms?: Transport.AlgorithmList | undefined }
): Effect.Effect<
  { readonly globalRequests: NonNullable<ConnectionMux.ConnectionMuxOptions["globalRequests"]>; readonly awaitDone: Effect.Effect<void> } | undefined,
  never,
  R
> =>
  Effect.gen(function*() {
    const update = policy.updateHostKeys
    if (update === undefined) return undefined
    const context = yield* Effect.context<R>()
    const backend = yield* Crypto
    const algorithms = Either.getOrElse(
      Negotiate.resolveList(destination.hostKeyAlgorithms, Algorithms.ALL_HOST_KEY_ALGORITHMS, Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS),
      (): ReadonlyArray<string> => Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS
    )
    let seen = false
    const done = yield* Deferred.make<void>()
    let started = false
    const awaitDone = Effect.suspend(() => started ? Effect.ignore(Effect.timeout(Deferred.await(done), "5 seconds")) : Effect.void)
    const handler = (request: { readonly data: Uint8Array }) =>
      Effect.gen(function*() {
        // Once per connection (clientloop.c: "server already sent hostkeys").
        if (seen) return yield* Effect.as(Effect.logDebug("hostkeys-00@openssh.com: repeated; ignored"), Failure)
        seen = true
        started = true
        yield* Effect.addFinalizer(() => Deferred.done(done, Exit.void))
        const listed = HostKeysMessages.decodeList(request.data)
        if (Either.isLeft(listed)) {
          return yield* Effect.as(Effect.logDebug(`hostkeys-00@openssh.com: ${listed.left.description}; ignored`), Failure)
        }
        const offered = acceptable(listed.right, algorithms)
        if (offered === undefined || offered.length === 0) {
          return yield* Effect.as(Effect.logDebug("hostkeys-00@openssh.com: no usable keys (or a duplicate); ignored"), Failure)
        }
        const negotiated = yield* transport.negotiated
        const connection = yield* Deferred.await(mux)
        const prove = (keys: ReadonlyArray<Uint8Array>) =>
          connection.globalRequest(HostKeysMessages.HOSTKEYS_PROVE, HostKeysMessages.encodeList(keys), true).pipe(
            Effect.map(Option.match({
              onNone: () => undefined,
              onSome: (data) => checkProofs(backend, transport.sessionId, negotiated.hostKey, keys, data)
            })),
            Effect.orElseSucceed(() => undefined)
          )
        yield* update({ host: destination.host, port: destination.port, sessionHostKey: transport.hostKey, offered, prove }).pipe(
          Effect.provide(context)
        )
        // "Return success for all cases. The server doesn't need to know what the client does with its hosts file."
        return Success
      }).pipe(Effect.scoped)
    return { globalRequests: { [HostKeysMessages.HOSTKEYS]: handler }, awaitDone }
  })

const Success: ConnectionMux.GlobalRequestReply = { _tag: "Success" }
const Failure: ConnectionMux.GlobalRequestReply = { _tag: "Failure" }
