/**
 * ecdh-sha2-nistp256, -nistp384 and -nistp521 (RFC 5656 §4, §6.2): ephemeral ECDH on the NIST curves, with the
 * curve's own hash as the exchange hash.
 *
 * @since 0.1.0
 */
import * as Writer from "../../wire/Writer.js"
import type { HashAlgorithm, NistCurve } from "../Backend.js"
import type { EphemeralKex, KexMethod } from "../Kex.js"

// RFC 5656 §6.2.1: the hash by curve size (b ≤ 256 → SHA-256, ≤ 384 → SHA-384, else SHA-512).
const HASH: Record<NistCurve, HashAlgorithm> = { nistp256: "sha256", nistp384: "sha384", nistp521: "sha512" }
const FIELD_BYTES: Record<NistCurve, number> = { nistp256: 32, nistp384: 48, nistp521: 66 }

/** RFC 5656 §4 / SEC-18: Q is the uncompressed SEC 1 point 0x04 ‖ X ‖ Y, exactly 1 + 2·len bytes. */
const isUncompressed = (curve: NistCurve, q: Uint8Array): boolean =>
  q.length === 1 + 2 * FIELD_BYTES[curve] && q[0] === 0x04

/** RFC 5656 §4: K is the X coordinate of the shared point, as an mpint (RFC 4251 §5). */
const encodeK = (x: Uint8Array): Uint8Array => Writer.build((w) => w.string(Writer.mpintFromUnsigned(x)))

/**
 * The ECDH exchange on one curve. The backend checks that the peer's point is on the curve; the shape (prefix
 * and length) is checked here too, so neither backend can be more lenient than the other (SEC-18).
 *
 * @since 0.1.0
 * @category constructors
 */
export const exchange = (curve: NistCurve): EphemeralKex => ({
  hash: HASH[curve],
  client: (backend) => {
    const pair = backend.ecdh(curve)
    return {
      clientValue: pair.publicKey,
      finish: (serverValue) => {
        if (!isUncompressed(curve, serverValue)) return undefined
        const x = pair.agree(serverValue)
        return x === undefined ? undefined : encodeK(x)
      }
    }
  },
  server: (backend, clientValue) => {
    if (!isUncompressed(curve, clientValue)) return undefined
    const pair = backend.ecdh(curve)
    const x = pair.agree(clientValue)
    return x === undefined ? undefined : { serverValue: pair.publicKey, k: encodeK(x) }
  }
})

/**
 * `ecdh-sha2-nistp256` (RFC 5656 §6.3).
 *
 * @since 0.1.0
 * @category methods
 */
export const ecdhSha2Nistp256: KexMethod = { _tag: "Ephemeral", name: "ecdh-sha2-nistp256", exchange: exchange("nistp256") }

/**
 * `ecdh-sha2-nistp384` (RFC 5656 §6.3).
 *
 * @since 0.1.0
 * @category methods
 */
export const ecdhSha2Nistp384: KexMethod = { _tag: "Ephemeral", name: "ecdh-sha2-nistp384", exchange: exchange("nistp384") }

/**
 * `ecdh-sha2-nistp521` (RFC 5656 §6.3).
 *
 * @since 0.1.0
 * @category methods
 */
export const ecdhSha2Nistp521: KexMethod = { _tag: "Ephemeral", name: "ecdh-sha2-nistp521", exchange: exchange("nistp521") }
