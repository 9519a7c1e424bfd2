/**
 * The pull side of a transport before the connection layer takes over (`Transport.direct`): user authentication
 * takes SERVICE_REQUEST/ACCEPT and the messages ≥ 50 here, one at a time, in both roles. It is not part of the
 * public `Transport` interface: after authentication every message goes to the connection layer synchronously,
 * and two readers of one queue (the old public `receive`) could steal each other's messages.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { TransportError } from "../../SshError.js"
import type { Transport } from "../Transport.js"

/** @internal */
export const ReceiveTypeId: unique symbol = Symbol.for("effect-ssh/Transport/Receive")

/** The pull side of a transport, under `ReceiveTypeId` (a transport built by `Transport.make`, or a test double). */
export interface Receiver {
  /**
   * The next message for the layers above (user auth, SERVICE_REQUEST/ACCEPT); transport messages are handled
   * inside. Fails with the connection's error once it is closed.
   */
  readonly receive: Effect.Effect<Uint8Array, TransportError>
  /** Every message received so far that no one has taken, at least one (waits for one). */
  readonly receiveAll: Effect.Effect<ReadonlyArray<Uint8Array>, TransportError>
}

/** A transport with its pull side. */
export interface Receivable {
  readonly [ReceiveTypeId]: Receiver
}

const receiverOf = (transport: Transport): Receiver | undefined =>
  ReceiveTypeId in transport ? (transport as Transport & Partial<Receivable>)[ReceiveTypeId] : undefined

const missing = Effect.dieMessage("Transport: this transport has no pull side (not built by Transport.make)")

/** The next message for the layers above (see `Receiver.receive`). */
export const receive = (transport: Transport): Effect.Effect<Uint8Array, TransportError> =>
  receiverOf(transport)?.receive ?? missing

/** Every message not taken yet, at least one (see `Receiver.receiveAll`). */
export const receiveAll = (transport: Transport): Effect.Effect<ReadonlyArray<Uint8Array>, TransportError> =>
  receiverOf(transport)?.receiveAll ?? missing
