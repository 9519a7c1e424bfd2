/**
 * Key exchange methods as pure functions over a `CryptoBackend` (RFC 4253 §8, RFC 5656 §4, RFC 8731,
 * RFC 4419, RFC 8268). The message flow and the exchange hash live in transport/KexMachine.ts; this module
 * only makes and checks the values.
 *
 * Values are carried as the bytes of an SSH `string`: for the finite-field methods that is the body of the
 * mpint `e` or `f`, which is byte-identical on the wire and in the exchange hash to writing the mpint.
 *
 * @since 0.1.0
 */
import type { CryptoBackend, HashAlgorithm } from "./Backend.js"

/**
 * The client half of one exchange.
 *
 * @since 0.1.0
 * @category models
 */
export interface KexClient {
  /** Q_C or e, as string bytes. */
  readonly clientValue: Uint8Array
  /**
   * The shared secret K from the server's value, encoded as it enters the exchange hash and key derivation
   * (an mpint with its length prefix, or a string for the post-quantum hybrids), or `undefined` when the server's
   * value is invalid (SEC-17, SEC-18).
   */
  finish(serverValue: Uint8Array): Uint8Array | undefined
}

/**
 * The server's answer to a client value.
 *
 * @since 0.1.0
 * @category models
 */
export interface KexServerResult {
  /** Q_S or f, as string bytes. */
  readonly serverValue: Uint8Array
  /** K, encoded as in `KexClient.finish`. */
  readonly k: Uint8Array
}

/**
 * An exchange where the client sends one value and the server answers with one value (ECDH, X25519, fixed DH
 * groups, and a DH-GEX group once chosen).
 *
 * @since 0.1.0
 * @category models
 */
export interface EphemeralKex {
  readonly hash: HashAlgorithm
  client(backend: CryptoBackend): KexClient
  /** `undefined` when the client's value is invalid (SEC-17, SEC-18). */
  server(backend: CryptoBackend, clientValue: Uint8Array): KexServerResult | undefined
}

/**
 * A finite-field group.
 *
 * @since 0.1.0
 * @category models
 */
export interface DhGroup {
  readonly p: bigint
  readonly g: bigint
}

/**
 * A key exchange method: one round (`ephemeral`) or Diffie-Hellman group exchange (RFC 4419), where the
 * group is negotiated first.
 *
 * @since 0.1.0
 * @category models
 */
export type KexMethod =
  | { readonly _tag: "Ephemeral"; readonly name: string; readonly exchange: EphemeralKex }
  | {
    readonly _tag: "GroupExchange"
    readonly name: string
    readonly hash: HashAlgorithm
    /** The one-round exchange over a group chosen by the server. */
    readonly withGroup: (group: DhGroup) => EphemeralKex
  }
