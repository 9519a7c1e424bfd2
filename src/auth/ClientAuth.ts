/**
 * Client user authentication (RFC 4252, RFC 4256): requests the "ssh-userauth" service, learns the allowed
 * methods with a "none" request (as OpenSSH does), then tries the caller's credentials in order, each only if the
 * server's last USERAUTH_FAILURE lists its method, and continues after a partial success (RFC 4252 §5.1,
 * `AuthenticationMethods publickey,password`). Success provides the `Authenticated` service that the connection
 * layer requires; exhaustion fails with an `AuthError` that lists what was tried and what the server allows.
 *
 * The order of credentials is a pure function (`nextMethod`), tested on its own; the message exchange is in
 * `internal/clientAuth.ts`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { CryptoBackend } from "../crypto/Backend.js"
import type { AuthError, TransportError } from "../SshError.js"
import * as Transport from "../transport/Transport.js"
import { Authenticated } from "./Authenticated.js"
import type * as AuthMethod from "./AuthMethod.js"
import * as internal from "./internal/clientAuth.js"
import * as plan from "./internal/clientAuthPlan.js"

/**
 * Options of client authentication.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientAuthOptions {
  /** The user to log in as (RFC 4252 §5: UTF-8, at most 1 024 bytes, no control characters; SEC-35). */
  readonly username: string
  /** The credentials to try, in order; each is used at most once. */
  readonly auth: ReadonlyArray<AuthMethod.AuthMethod>
  /**
   * Receives each USERAUTH_BANNER (RFC 4252 §5.4) with control characters escaped and lines capped (SEC-12,
   * SEC-40); the raw text is never handed out. Default: logged at info level.
   */
  readonly onBanner?: ((text: string) => Effect.Effect<void>) | undefined
  /**
   * The whole login, from SERVICE_REQUEST to USERAUTH_SUCCESS, handlers included (default 2 minutes, as
   * sshd's LoginGraceTime; LIM-17). On expiry: DISCONNECT and a `TransportError` with reason "Timeout".
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * SEC-39 (asyncssh CVE-2023-46446): fail with DISCONNECT 14 if the server grants access after only "none"
   * (unless `Auth.none` is listed), a publickey query without signature, or keyboard-interactive rounds without
   * a single prompt. Default off; turn it on when agent forwarding or a security key is in use.
   */
  readonly rejectTrivialAuth?: boolean | undefined
  /** Reads an `Auth.privateKeyFile` as text; without it those credentials are reported unusable. */
  readonly readFile?: ((path: string) => Effect.Effect<string, unknown>) | undefined
  /** The backend that signs publickey requests; default: the `Crypto` service in context. */
  readonly crypto?: CryptoBackend | undefined
}

/**
 * Which credential comes next, as a pure state (see `nextMethod`).
 *
 * @since 0.1.0
 * @category models
 */
export type AuthPlan = plan.AuthPlan

/**
 * The result of `nextMethod`: try the credential at `index`, or nothing allowed is left.
 *
 * @since 0.1.0
 * @category models
 */
export type PlanStep = plan.PlanStep

/**
 * The content of a USERAUTH_FAILURE (RFC 4252 §5.1).
 *
 * @since 0.1.0
 * @category models
 */
export type FailureInfo = plan.FailureInfo

/**
 * The plan before the opening "none" request. Listed `Auth.none` credentials count as used: the opening request
 * is theirs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initialPlan: (methods: ReadonlyArray<AuthMethod.AuthMethod>) => AuthPlan = plan.initialPlan

/**
 * Applies a USERAUTH_FAILURE and picks the next credential: the first unused one, in the caller's order, whose
 * method the failure lists (RFC 4252 §5.1: "methods that can continue"). With `partialSuccess` the current
 * method is recorded as a completed factor, and credentials skipped earlier because their method was not allowed
 * get their turn if the new list allows them. Terminates: each credential is picked at most once.
 *
 * @since 0.1.0
 * @category combinators
 */
export const nextMethod: (plan: AuthPlan, failure: FailureInfo) => PlanStep = plan.nextMethod

/**
 * Moves on after the current credential could not be used locally (an unreadable key file, no acceptable
 * signature algorithm) or was abandoned without a USERAUTH_FAILURE (a refused password change): the server's
 * last list still holds.
 *
 * @since 0.1.0
 * @category combinators
 */
export const skipCurrent: (plan: AuthPlan) => PlanStep = plan.skipCurrent

/**
 * Authenticates on `transport` with the credentials of `options`. On failure the connection is closed:
 * DISCONNECT 14 when no credential is left (`AuthError` "NoMoreMethods" or "KeyUnusable"), 13 when a handler
 * failed (`AuthError` "Cancelled"), 2 on a protocol violation by the server (SEC-39, SEC-40; `TransportError`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const authenticate: (
  transport: Transport.Transport,
  options: ClientAuthOptions
) => Effect.Effect<Authenticated, AuthError | TransportError> = Effect.fn("ClientAuth.authenticate")(
  function*(transport: Transport.Transport, options: ClientAuthOptions) {
    return yield* internal.authenticate(transport, options)
  }
)

/**
 * Authenticates the `Transport` in context and provides `Authenticated`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: ClientAuthOptions
): Layer.Layer<Authenticated, AuthError | TransportError, Transport.Transport> =>
  Layer.effect(Authenticated, Effect.flatMap(Transport.Transport, (t) => authenticate(t, options)))
