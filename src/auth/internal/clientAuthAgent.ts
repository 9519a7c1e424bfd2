/**
 * "publickey" with an agent's keys (RFC 4252 §7, RFC 9987 §4.5): each identity the agent lists is offered in turn
 * (certificates as certificates), and the agent signs with the RFC 8332 algorithm the server accepts; a
 * signature under another algorithm than the one asked for is refused (SEC-60: the agent's reply is checked).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as HostKey from "../../crypto/HostKey.js"
import { sanitizePeerText, type TransportError } from "../../SshError.js"
import * as Reader from "../../wire/Reader.js"
import type * as Auth from "../AuthMethod.js"
import type { FailureInfo } from "./clientAuthPlan.js"

/** How one credential ended; `note` says so for the `AuthError`. @internal */
export type Outcome =
  | { readonly _tag: "Success"; readonly trivial: boolean; readonly note: string }
  | { readonly _tag: "Failure"; readonly failure: FailureInfo; readonly note: string }
  | { readonly _tag: "Skipped"; readonly unusable: boolean; readonly note: string }

/** A key to offer and how to sign with it; `None` from `sign`: the key could not sign. @internal */
export interface Offer {
  readonly keyType: string
  readonly allowSshRsa: boolean
  readonly publicKey: Uint8Array
  readonly certificate?: Uint8Array | undefined
  readonly sign: (algorithm: string, data: Uint8Array) => Effect.Effect<Option.Option<Uint8Array>>
}

const signedAs = (signature: Uint8Array): string | undefined =>
  Either.getOrUndefined(Reader.run(signature, (r) => r.ascii()))

/** @internal */
export const agentKeys = (
  m: Auth.Agent,
  tryOffer: (key: Offer, label: string) => Effect.Effect<Outcome, TransportError>,
  record: (outcome: Outcome) => void,
  binding: { readonly hostKey: Uint8Array; readonly sessionId: Uint8Array; readonly signature: Uint8Array }
): Effect.Effect<Outcome, TransportError> =>
  Effect.gen(function*() {
    // As ssh (sshconnect2.c): bind the agent connection to this session before any key is used, so that a
    // destination-constrained key can sign; an agent that refuses (or predates) the extension is used unbound.
    if (m.agent.sessionBind !== undefined) yield* Effect.ignore(m.agent.sessionBind({ ...binding, forwarding: false }))
    const listed = yield* Effect.either(m.agent.identities)
    if (Either.isLeft(listed)) {
      return { _tag: "Skipped", unusable: true, note: "publickey agent unusable: listing its keys failed" } as const
    }
    let previous: Outcome | undefined
    for (const id of listed.right) {
      const keyType = Either.getOrUndefined(Reader.run(id.publicKey, (r) => r.ascii()))
      if (keyType === undefined) continue
      const isCertificate = HostKey.certifiedKeyType(keyType) !== undefined
      const key: Offer = {
        keyType,
        allowSshRsa: m.allowSshRsa,
        publicKey: id.publicKey,
        certificate: isCertificate ? id.publicKey : undefined,
        sign: (algorithm, data) =>
          m.agent.sign(id.publicKey, data, { algorithm }).pipe(
            Effect.map((signature) =>
              signedAs(signature) === HostKey.signatureAlgorithm(algorithm) ? Option.some(signature) : Option.none()
            ),
            Effect.orElseSucceed(() => Option.none())
          )
      }
      const label = `publickey agent ${keyType} ${HostKey.fingerprintSha256(id.publicKey)} ${
        JSON.stringify(sanitizePeerText(id.comment, 100))
      }`
      const outcome = yield* tryOffer(key, label)
      if (outcome._tag === "Success") return outcome
      // As ssh: the next key while the server still takes publickey and nothing succeeded partially.
      const again = outcome._tag === "Skipped" ||
        (!outcome.failure.partialSuccess && outcome.failure.methods.includes("publickey"))
      if (previous !== undefined) record(previous)
      previous = outcome
      if (!again) return outcome
    }
    return previous ?? { _tag: "Skipped", unusable: true, note: "publickey agent: the agent holds no keys" }
  })
