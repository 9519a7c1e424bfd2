/**
 * The error of every decoder in wire/: bytes from the peer that do not form the expected message.
 * Internal to the protocol layers; the transport turns it into a `TransportError` with a DISCONNECT.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * @since 0.1.0
 * @category errors
 */
export class WireError extends Data.TaggedError("WireError")<{
  readonly reason: "Truncated" | "TrailingBytes" | "BadUtf8" | "Invalid" | "Unknown" | "TooLarge"
  readonly description: string
}> {}
