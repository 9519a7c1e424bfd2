/**
 * The transport's own errors, as the engine and its parts raise them.
 *
 * @since 0.1.0
 */
import { type TimeoutStage, TransportError } from "../../SshError.js"

/**
 * A `TransportError` raised on our side of the connection.
 *
 * @since 0.1.0
 * @category constructors
 * @internal
 */
export const localError = (
  reason: TransportError["reason"],
  code: number,
  description: string,
  cause?: unknown
): TransportError =>
  new TransportError({ reason, origin: "Local", code, description, ...(cause === undefined ? {} : { cause }) })

/**
 * A `TransportError` of reason `Timeout` naming which limit expired.
 *
 * @internal
 */
export const timedOut = (timeout: TimeoutStage, code: number, description: string): TransportError =>
  new TransportError({ reason: "Timeout", origin: "Local", code, description, timeout })
