/**
 * The client's address as a service, for listeners that know it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"

/**
 * The address of the client on the other end of a socket, provided by listeners that know it (NodeSshServer);
 * used for authorized_keys `from=` and certificate `source-address`, and shown to handlers.
 *
 * @since 0.1.0
 * @category tags
 */
export class PeerAddress extends Context.Tag("effect-ssh/PeerAddress")<
  PeerAddress,
  { readonly address: string; readonly port: number }
>() {}

