/**
 * The payloads of OpenSSH's host-key rotation extension (PROTOCOL §2.5, draft-miller-sshm-hostkey-update):
 * the `hostkeys-00@openssh.com` global request (the server's plain host keys after authentication), the
 * `hostkeys-prove-00@openssh.com` request (the keys the client wants proven) and its REQUEST_SUCCESS data (one
 * signature per key), and the data each signature covers. Decoders never throw (SEC-10).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Reader from "./Reader.js"
import { WireError } from "./WireError.js"
import * as Writer from "./Writer.js"

/**
 * The global request by which a server announces its host keys (want-reply false).
 *
 * @since 0.1.0
 * @category constants
 */
export const HOSTKEYS = "hostkeys-00@openssh.com"

/**
 * The global request by which a client asks the server to prove it holds the private halves (want-reply true).
 *
 * @since 0.1.0
 * @category constants
 */
export const HOSTKEYS_PROVE = "hostkeys-prove-00@openssh.com"

/**
 * SEC-71: at most this many keys (or signatures) in one request or reply; more is refused as a whole.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_KEYS = 32

/**
 * A list of strings that fills the request data (`string[] hostkeys`, no count): key blobs or signature blobs.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeList = (items: ReadonlyArray<Uint8Array>): Uint8Array =>
  Writer.build((w) => {
    for (const item of items) w.string(item)
  })

/**
 * Decodes a list written by `encodeList`: strings until the end of the data, at most `MAX_KEYS` of them, none empty.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeList = (data: Uint8Array): Either.Either<ReadonlyArray<Uint8Array>, WireError> =>
  Reader.run(data, (r) => {
    const out: Array<Uint8Array> = []
    while (r.remaining > 0) {
      if (out.length === MAX_KEYS) {
        throw new WireError({ reason: "TooLarge", description: `more than ${MAX_KEYS} host keys` })
      }
      const item = r.string()
      if (item.length === 0) throw new WireError({ reason: "Invalid", description: "empty host key entry" })
      out.push(item)
    }
    return out
  })

/**
 * What a proof signs (PROTOCOL §2.5): `string "hostkeys-prove-00@openssh.com" ‖ string session identifier ‖
 * string hostkey`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const proveData = (sessionId: Uint8Array, hostKeyBlob: Uint8Array): Uint8Array =>
  Writer.build((w) => w.string(HOSTKEYS_PROVE).string(sessionId).string(hostKeyBlob))
