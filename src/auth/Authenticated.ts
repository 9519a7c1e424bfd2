/**
 * Proof that user authentication succeeded on a connection (RFC 4252 §5.1 USERAUTH_SUCCESS). The connection
 * layer requires this service, so no channel can be opened before authentication: the class of
 * Erlang/OTP CVE-2025-32433 cannot be written (DESIGN.md §3, SEC-29).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"

/**
 * Who authenticated, and with which methods.
 *
 * @since 0.1.0
 * @category models
 */
export interface Authenticated {
  /** The user name that authenticated. */
  readonly username: string
  /** The methods that succeeded, in order (several with partial success, RFC 4252 §5.1). */
  readonly methods: ReadonlyArray<string>
  /**
   * The client's view (SEC-39): access was granted after requests that proved nothing ("none", a publickey query
   * without a signature, keyboard-interactive without a prompt). Agent forwarding is refused on such a connection.
   */
  readonly trivial?: boolean | undefined
}

/**
 * The service that only user authentication can provide.
 *
 * @since 0.1.0
 * @category tags
 */
export const Authenticated: Context.Tag<Authenticated, Authenticated> = Context.GenericTag<Authenticated>(
  "effect-ssh/Authenticated"
)
