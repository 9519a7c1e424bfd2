/**
 * A ready-made publickey handler from authorized_keys entries (sshd(8) AUTHORIZED_KEYS FILE FORMAT): a key is
 * accepted when its blob equals an entry's, the entry's `from=` allows the client's address and its
 * `expiry-time` has not passed; the entry's options become the connection's `Restrictions`, which the server
 * enforces on every session (SEC-64). `cert-authority` entries authorise user certificates of that CA (for the
 * user name, or the names of `principals=`), never a plain key.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AuthorizedKeys, AuthorizedKeysHandler, type SshServer } from "effect-ssh"
 *
 * const { entries } = AuthorizedKeys.parse('no-pty,command="uptime" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE… ops')
 * const handlers: SshServer.ServerHandlers = { auth: { publicKey: AuthorizedKeysHandler.make(entries) } }
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ServerAuth from "../auth/ServerAuth.js"
import type * as AuthorizedKeys from "../keys/AuthorizedKeys.js"
import * as Certificate from "../keys/Certificate.js"
import * as Match from "../keys/Match.js"

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/**
 * The restrictions an entry's options impose.
 *
 * @since 0.1.0
 * @category conversions
 */
export const restrictionsOf = (o: AuthorizedKeys.KeyOptions): ServerAuth.Restrictions => ({
  forceCommand: o.command,
  environment: o.environment.length === 0 ? undefined : Object.fromEntries(o.environment),
  pty: o.pty ? undefined : false,
  portForwarding: o.portForwarding ? undefined : false,
  agentForwarding: o.agentForwarding ? undefined : false,
  x11Forwarding: o.x11Forwarding ? undefined : false,
  userRc: o.userRc ? undefined : false,
  permitOpen: o.permitOpen.length === 0 ? undefined : o.permitOpen,
  permitListen: o.permitListen.length === 0 ? undefined : o.permitListen
})

/**
 * Whether the entry allows a login now from `remoteAddress` (from=, expiry-time); a `from=` with no known
 * address refuses (fail closed).
 *
 * @since 0.1.0
 * @category predicates
 */
export const allows = (entry: AuthorizedKeys.Entry, remoteAddress: string | undefined, nowMillis: number): boolean => {
  const o = entry.options
  if (o.expiresAt !== undefined && nowMillis >= o.expiresAt) return false
  if (o.from !== undefined && (remoteAddress === undefined || Match.addressList(remoteAddress, o.from) !== 1)) return false
  // FIDO user verification cannot be checked for plain keys: verify-required refuses them (sshd does the same).
  return !o.verifyRequired
}

/**
 * A publickey handler accepting the keys of `entries` (from `AuthorizedKeys.parse`), for any user name, with
 * each entry's options as restrictions. Combine it with a check of `username` for per-user files.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  entries: ReadonlyArray<AuthorizedKeys.Entry>
): (request: ServerAuth.PublicKeyRequest) => Effect.Effect<ServerAuth.PublicKeyDecision> =>
(request) =>
  Effect.map(Clock.currentTimeMillis, (now): ServerAuth.PublicKeyDecision => {
    const cert = request.key.certificate
    for (const entry of entries) {
      if (cert !== undefined) {
        // A certificate (already validated by ServerAuth, SEC-65) is authorised only by a cert-authority line for
        // its CA, with a principal equal to the user name or listed in principals= (compared whole, SEC-64).
        if (!entry.options.certAuthority) continue
        const principals = entry.options.principals ?? [request.username]
        if (Either.isLeft(Certificate.authorize(cert, { trustedCaKeys: [entry.blob], principals }))) continue
        if (!allows(entry, request.remoteAddress, now)) continue
        return { _tag: "Accept", restrictions: restrictionsOf(entry.options) }
      }
      if (entry.options.certAuthority || !sameBytes(entry.blob, request.key.blob)) continue
      if (!allows(entry, request.remoteAddress, now)) continue
      return { _tag: "Accept", restrictions: restrictionsOf(entry.options) }
    }
    return false
  })
