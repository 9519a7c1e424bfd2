/**
 * curve25519-sha256 and its pre-RFC name curve25519-sha256@libssh.org (RFC 8731): X25519 (RFC 7748) key
 * agreement with SHA-256 as the exchange hash.
 *
 * @since 0.1.0
 */
import * as Writer from "../../wire/Writer.js"
import type { EphemeralKex, KexMethod } from "../Kex.js"

/** RFC 8731 §3: Q_C and Q_S are exactly 32 bytes. */
const X25519_BYTES = 32

/**
 * K as it enters the exchange hash: RFC 8731 §3 says the 32 shared-secret bytes are "converted into K by
 * interpreting the octets as an unsigned fixed-length integer encoded in network byte order", then encoded as an
 * mpint (leading zeros stripped, a zero prepended when the top bit is set).
 */
const encodeK = (shared: Uint8Array): Uint8Array => Writer.build((w) => w.string(Writer.mpintFromUnsigned(shared)))

/**
 * The X25519 exchange: the backend rejects values that are not 32 bytes and an all-zero shared secret
 * (RFC 8731 §3, RFC 7748 §6.1, SEC-18).
 *
 * @since 0.1.0
 * @category models
 */
export const exchange: EphemeralKex = {
  hash: "sha256",
  client: (backend) => {
    const pair = backend.x25519()
    return {
      clientValue: pair.publicKey,
      finish: (serverValue) => {
        if (serverValue.length !== X25519_BYTES) return undefined
        const shared = pair.agree(serverValue)
        return shared === undefined ? undefined : encodeK(shared)
      }
    }
  },
  server: (backend, clientValue) => {
    if (clientValue.length !== X25519_BYTES) return undefined
    const pair = backend.x25519()
    const shared = pair.agree(clientValue)
    return shared === undefined ? undefined : { serverValue: pair.publicKey, k: encodeK(shared) }
  }
}

/**
 * `curve25519-sha256` (RFC 8731).
 *
 * @since 0.1.0
 * @category methods
 */
export const curve25519Sha256: KexMethod = { _tag: "Ephemeral", name: "curve25519-sha256", exchange }

/**
 * `curve25519-sha256@libssh.org`, the same method under its original name (RFC 8731 §1).
 *
 * @since 0.1.0
 * @category methods
 */
export const curve25519Sha256Libssh: KexMethod = {
  _tag: "Ephemeral",
  name: "curve25519-sha256@libssh.org",
  exchange
}
