/**
 * The error of a forward or a tunnel: a listener that cannot bind, a destination that cannot be reached, a
 * forwarding request the server refused, a malformed SOCKS request. It fails the forward (or the one tunnelled
 * connection), never the SSH connection.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { sanitizePeerText, TypeId } from "../SshError.js"

/**
 * A forward or tunnel failed.
 *
 * - `ListenFailed`: a local listener could not bind (address in use, permission, bad path).
 * - `ConnectFailed`: a local or remote destination could not be reached, or the server refused the channel.
 * - `Refused`: the server refused a forwarding request (`tcpip-forward`, `streamlocal-forward@openssh.com`).
 * - `Protocol`: a malformed or unsupported SOCKS request (SEC-49), or malformed forwarding data from the peer.
 * - `Closed`: the connection or the channel ended.
 *
 * @since 0.1.0
 * @category errors
 */
export class ForwardError extends Schema.TaggedError<ForwardError>("effect-ssh/ForwardError")("ForwardError", {
  reason: Schema.Literal("ListenFailed", "ConnectFailed", "Refused", "Protocol", "Closed"),
  description: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason}: ${sanitizePeerText(this.description)}`
  }
}
