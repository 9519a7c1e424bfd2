/**
 * OpenSSH's UNIX-socket forwarding payloads (PROTOCOL §2.4): the `direct-streamlocal@openssh.com` and
 * `forwarded-streamlocal@openssh.com` channel opens and the `streamlocal-forward@openssh.com` /
 * `cancel-streamlocal-forward@openssh.com` global requests. Decoders never throw.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Reader from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Writer from "../wire/Writer.js"

/**
 * Channel types and request names of OpenSSH's streamlocal forwarding.
 *
 * @since 0.1.0
 * @category constants
 */
export const Names = {
  DIRECT: "direct-streamlocal@openssh.com",
  FORWARDED: "forwarded-streamlocal@openssh.com",
  FORWARD: "streamlocal-forward@openssh.com",
  CANCEL: "cancel-streamlocal-forward@openssh.com"
} as const

/**
 * The longest socket path accepted (sun_path is 108 bytes on Linux; 1 024 leaves room for other systems).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PATH_LENGTH = 1024

const path = (r: Reader.Reader): string => {
  const b = r.string()
  if (b.length === 0 || b.length > MAX_PATH_LENGTH) {
    throw new WireError({ reason: "Invalid", description: `socket path of ${b.length} bytes` })
  }
  for (const c of b) {
    if (c < 0x20 || c === 0x7f) throw new WireError({ reason: "Invalid", description: "control byte in socket path" })
  }
  return Reader.decodeUtf8(b, "socket path")
}

/**
 * Encodes `direct-streamlocal@openssh.com` open data: path, reserved string, reserved uint32.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeDirect = (socketPath: string): Uint8Array =>
  Writer.build((w) => w.string(socketPath).string("").uint32(0))

/**
 * Decodes `direct-streamlocal@openssh.com` open data to the socket path.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeDirect = (data: Uint8Array): Either.Either<string, WireError> =>
  Reader.run(data, (r) => {
    const p = path(r)
    r.string()
    r.uint32()
    r.end_()
    return p
  })

/**
 * Encodes `forwarded-streamlocal@openssh.com` open data: the listening path and a reserved string.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeForwarded = (socketPath: string): Uint8Array => Writer.build((w) => w.string(socketPath).string(""))

/**
 * Decodes `forwarded-streamlocal@openssh.com` open data to the listening path (the reserved string is
 * optional: older servers omit it).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeForwarded = (data: Uint8Array): Either.Either<string, WireError> =>
  Reader.run(data, (r) => {
    const p = path(r)
    if (r.remaining > 0) r.string()
    r.end_()
    return p
  })

/**
 * Encodes `streamlocal-forward@openssh.com` / `cancel-streamlocal-forward@openssh.com` request data.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeForwardRequest = (socketPath: string): Uint8Array => Writer.build((w) => w.string(socketPath))

/**
 * Decodes `streamlocal-forward@openssh.com` / `cancel-streamlocal-forward@openssh.com` request data.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeForwardRequest = (data: Uint8Array): Either.Either<string, WireError> =>
  Reader.run(data, (r) => {
    const p = path(r)
    r.end_()
    return p
  })
