/**
 * The certificate step of server publickey authentication (PROTOCOL.certkeys; SEC-65, SEC-66): decode and
 * validate a user certificate against the server's options, and decide whether TrustedUserCAKeys already
 * authorizes it. Pure.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type { CryptoBackend } from "../../crypto/Backend.js"
import * as Certificate from "../../keys/Certificate.js"
import type * as ServerAuth from "../ServerAuth.js"

/**
 * The verified certificate, or why it was refused. Validation covers the CA signature and its algorithm, the user
 * type, the validity window, the critical options and `source-address` against the peer; the principal check is
 * part of authorization (`trusted`), since a handler may allow other principals (authorized_keys `principals=`).
 * @internal
 */
export const checkCertificate = (
  backend: CryptoBackend,
  blob: Uint8Array,
  user: string,
  now: bigint,
  options: ServerAuth.ServerAuthOptions
): ServerAuth.VerifiedCertificate | string => {
  const decoded = Certificate.decode(blob)
  if (Either.isLeft(decoded)) return decoded.left.message
  const valid = Certificate.validate(backend, decoded.right, now, {
    type: "user",
    caSignatureAlgorithms: options.caSignatureAlgorithms,
    sourceAddress: options.remoteAddress
  })
  if (Either.isLeft(valid)) return valid.left.message
  const trusted = options.trustedUserCaKeys !== undefined &&
    Either.isRight(Certificate.authorize(valid.right, { trustedCaKeys: options.trustedUserCaKeys, principals: [user] }))
  return { ...valid.right, trusted }
}
