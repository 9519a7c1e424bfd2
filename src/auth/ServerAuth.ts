/**
 * Server user authentication (RFC 4252, RFC 4256): answers SERVICE_REQUEST "ssh-userauth", then serves
 * USERAUTH_REQUESTs with the caller's handlers — `none`, `password`, `publickey` (signature verified before the
 * handler is asked, SEC-31/SEC-32) and `keyboard-interactive` (handler-driven rounds) — until one chain of
 * required methods is complete (sshd's `AuthenticationMethods`). Deny by default: a missing handler, a handler
 * that fails or dies, and anything not understood are refusals (STYLE.md §1.5, SEC-10). Success provides the
 * `Authenticated` service that the connection layer requires, so nothing of the application runs before it
 * (SEC-29). The message exchange is in `internal/serverAuth.ts`.
 *
 * @example
 * ```ts
 * const auth = ServerAuth.layer({
 *   publicKey: ({ username, key }) => Effect.succeed(username === "git" && allowed.has(key.fingerprint)),
 *   password: ({ username, password }) => Effect.succeed(username === "ops" && check(Redacted.value(password)))
 * }, { required: [["publickey"], ["password"]] })
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type { CryptoBackend } from "../crypto/Backend.js"
import type * as Certificate from "../keys/Certificate.js"
import type { AuthError, TransportError } from "../SshError.js"
import * as Transport from "../transport/Transport.js"
import { Authenticated } from "./Authenticated.js"
import * as internal from "./internal/serverAuth.js"
import type { Prompt } from "../wire/AuthMessages.js"

/**
 * The methods the server can serve (RFC 4252 §7, §8, §5.2; RFC 4256).
 *
 * @since 0.1.0
 * @category models
 */
export type MethodName = "none" | "password" | "publickey" | "keyboard-interactive"

/**
 * A client's public key as the handler sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublicKeyInfo {
  /** The signature algorithm named in the request (`rsa-sha2-512`, `ssh-ed25519` …). */
  readonly algorithm: string
  /** The public key blob (RFC 4253 §6.6). */
  readonly blob: Uint8Array
  /** The key type inside the blob (`ssh-rsa`, `ssh-ed25519`, `ecdsa-sha2-nistp256` …). */
  readonly keyType: string
  /** `SHA256:…` as `ssh-keygen -l` prints it; for a certificate, of the key it certifies. */
  readonly fingerprint: string
  /**
   * Set when the client presented an OpenSSH user certificate: it has already passed validation (CA signature
   * and signature algorithm, user type, validity, critical options, `source-address` against `remoteAddress`;
   * SEC-65, SEC-66). `trusted` says whether `trustedUserCaKeys` and the user name already authorize it; otherwise
   * the handler decides, e.g. with `Certificate.authorize`. `forceCommand` must replace any command the client
   * asks for (SEC-66).
   */
  readonly certificate?: VerifiedCertificate | undefined
}

/**
 * A validated user certificate as the handler sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifiedCertificate extends Certificate.ValidCertificate {
  /** The CA is in `trustedUserCaKeys` and a principal is the user name. */
  readonly trusted: boolean
}

/**
 * The context of a `none` request.
 *
 * @since 0.1.0
 * @category models
 */
export interface NoneRequest {
  readonly username: string
}

/**
 * A password request (RFC 4252 §8). Passwords over 1 024 bytes or not UTF-8 are refused before any handler runs
 * (LIM-18).
 *
 * @since 0.1.0
 * @category models
 */
export interface PasswordRequest {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * A publickey request (RFC 4252 §7). `verified: false` is a query (the answer decides PK_OK); `verified: true`
 * means the signature over the session id has already been checked against this very key (SEC-31, SEC-32).
 *
 * @since 0.1.0
 * @category models
 */
export interface PublicKeyRequest {
  readonly username: string
  readonly key: PublicKeyInfo
  readonly verified: boolean
  /** The client's address, when the server knows it (TCP). */
  readonly remoteAddress?: string | undefined
}

/**
 * What an accepted publickey login may do, as authorized_keys options and certificate critical options say
 * (SEC-64, SEC-66). The server enforces these on every session of the connection. Absent fields allow.
 *
 * @since 0.1.0
 * @category models
 */
export interface Restrictions {
  /** Run this instead of whatever the client asks for (exec, shell or subsystem). */
  readonly forceCommand?: string | undefined
  /** Environment variables set for every session. */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** `false`: pty requests are refused. */
  readonly pty?: boolean | undefined
  readonly portForwarding?: boolean | undefined
  readonly agentForwarding?: boolean | undefined
  readonly x11Forwarding?: boolean | undefined
  readonly userRc?: boolean | undefined
  /** When present, the only `host:port` destinations direct-tcpip may reach. */
  readonly permitOpen?: ReadonlyArray<string> | undefined
  /** When present, the only `[host:]port` listeners tcpip-forward may open. */
  readonly permitListen?: ReadonlyArray<string> | undefined
}

/**
 * A publickey handler's answer: accept or refuse, or accept with restrictions.
 *
 * @since 0.1.0
 * @category models
 */
export type PublicKeyDecision = boolean | { readonly _tag: "Accept"; readonly restrictions: Restrictions }

/**
 * The start of a keyboard-interactive exchange (RFC 4256 §3.1).
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyboardInteractiveRequest {
  readonly username: string
  /** The client's submethod hints (peer text; never multiplies attempts, SEC-33). */
  readonly submethods: string
}

/**
 * One RFC 4256 §3.2 prompt: its text (peer text, control characters escaped: SEC-12) and whether the answer may
 * be echoed. The same type as `AuthMessages.Prompt`.
 *
 * @since 0.1.0
 * @category models
 */
export type { Prompt } from "../wire/AuthMessages.js"

/**
 * A step of a keyboard-interactive exchange, decided by the handler: ask prompts (one INFO_REQUEST; `next`
 * receives exactly one answer per prompt), accept, or reject.
 *
 * @since 0.1.0
 * @category models
 */
export type KbdIntSession =
  | {
    readonly _tag: "Prompt"
    readonly name: string
    readonly instruction: string
    readonly prompts: ReadonlyArray<Prompt>
    readonly next: (answers: ReadonlyArray<Redacted.Redacted<string>>) => Effect.Effect<KbdIntSession, unknown>
  }
  | { readonly _tag: "Accept" }
  | { readonly _tag: "Reject" }

/**
 * The auth handlers. Every field is optional; a missing handler refuses its method, and a handler that fails or
 * dies refuses too (deny by default, SEC-10).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerAuthHandlers {
  readonly none?: ((request: NoneRequest) => Effect.Effect<boolean, unknown>) | undefined
  readonly password?: ((request: PasswordRequest) => Effect.Effect<boolean, unknown>) | undefined
  readonly publicKey?: ((request: PublicKeyRequest) => Effect.Effect<PublicKeyDecision, unknown>) | undefined
  readonly keyboardInteractive?:
    | ((request: KeyboardInteractiveRequest) => Effect.Effect<KbdIntSession, unknown>)
    | undefined
}

/**
 * Options of server authentication.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerAuthOptions {
  /** Sent as USERAUTH_BANNER before the answer to the first request (RFC 4252 §5.4). */
  readonly banner?: string | undefined
  /**
   * Chains of methods, as sshd's AuthenticationMethods: any one chain must be completed in order; each completed
   * step short of the end answers FAILURE with partial success (RFC 4252 §5.1). Default: any one method that
   * has a handler (`none` is never listed).
   */
  readonly required?: ReadonlyArray<ReadonlyArray<MethodName>> | undefined
  readonly limits?: {
    /** Failures before DISCONNECT 14 (LIM-16, default 6; `none` and accepted queries do not count). */
    readonly maxAuthTries?: number | undefined
    /** USERAUTH_REQUEST and INFO_RESPONSE messages in all (SEC-33, default 128). */
    readonly maxRequests?: number | undefined
  } | undefined
  readonly timeouts?: {
    /** The whole authentication (LIM-17 LoginGraceTime, default 120 s); on expiry the connection is closed. */
    readonly loginGrace?: Duration.DurationInput | undefined
    /** Every FAILURE is sent no sooner than this after its request (SEC-33/SEC-34, default 5 ms). */
    readonly minFailureDelay?: Duration.DurationInput | undefined
  } | undefined
  /**
   * Signature algorithms accepted for publickey (default: ssh-ed25519, ecdsa-sha2-*, rsa-sha2-512/256 and their
   * `-cert-v01@openssh.com` forms).
   */
  readonly publicKeyAlgorithms?: ReadonlyArray<string> | undefined
  /** The backend that verifies signatures; default: the `Crypto` service in context. */
  readonly crypto?: CryptoBackend | undefined
  /**
   * sshd's TrustedUserCAKeys: CA public-key blobs whose user certificates are accepted for any user named among
   * their principals, without asking the `publicKey` handler. Certificates of other CAs still reach the handler.
   */
  readonly trustedUserCaKeys?: ReadonlyArray<Uint8Array> | undefined
  /** CA signature algorithms accepted on user certificates (default `Certificate.DEFAULT_CA_SIGNATURE_ALGORITHMS`). */
  readonly caSignatureAlgorithms?: ReadonlyArray<string> | undefined
  /**
   * The client's address as the socket reports it: passed to handlers, and checked against certificates
   * restricted by `source-address` (SEC-66; when unknown, such certificates are refused). `SshServer` sets it per
   * connection when the listener knows it.
   */
  readonly remoteAddress?: string | undefined
  /**
   * Settings decided once the user name is known (sshd applies `Match User`/`Group` blocks there): called with the
   * name of the first USERAUTH_REQUEST (it cannot change afterwards, SEC-31); each field given replaces `banner`
   * (`null`: none), `required` or `limits.maxAuthTries` for the rest of the authentication.
   */
  readonly forUser?:
    | ((username: string) => {
      readonly banner?: string | null | undefined
      readonly required?: ReadonlyArray<ReadonlyArray<MethodName>> | undefined
      readonly maxAuthTries?: number | undefined
    })
    | undefined
}

/**
 * One completed authentication factor; for publickey, the key whose signature verified (SEC-31).
 *
 * @since 0.1.0
 * @category models
 */
export interface Factor {
  readonly method: MethodName
  readonly publicKey?: PublicKeyInfo | undefined
  readonly restrictions?: Restrictions | undefined
}

/**
 * What server authentication yields: the `Authenticated` service plus every factor in order.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerAuthenticated extends Authenticated {
  readonly factors: ReadonlyArray<Factor>
  /** The restrictions of every factor together (the most restrictive wins). */
  readonly restrictions: Restrictions
}

/**
 * A keyboard-interactive step that accepts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const accept: KbdIntSession = { _tag: "Accept" }

/**
 * A keyboard-interactive step that rejects.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reject: KbdIntSession = { _tag: "Reject" }

/**
 * A keyboard-interactive step that asks `prompts` and continues with `next` (RFC 4256 §3.2).
 *
 * @since 0.1.0
 * @category constructors
 */
export const prompt = (
  prompts: ReadonlyArray<Prompt>,
  next: (answers: ReadonlyArray<Redacted.Redacted<string>>) => Effect.Effect<KbdIntSession, unknown>,
  text?: { readonly name?: string | undefined; readonly instruction?: string | undefined }
): KbdIntSession => ({ _tag: "Prompt", name: text?.name ?? "", instruction: text?.instruction ?? "", prompts, next })

/**
 * Serves user authentication on `transport` (server role) until a client completes a required chain. On failure
 * the connection is closed: DISCONNECT 14 after too many failures or requests (LIM-16, SEC-33; `AuthError`
 * "NoMoreMethods"), 2 on protocol violations (SEC-29, SEC-30, SEC-31), 7 for another service, 15 for a bad user
 * name (SEC-35), and a `TransportError` "Timeout" after LoginGraceTime (LIM-17, SEC-37).
 *
 * @since 0.1.0
 * @category constructors
 */
export const authenticate: (
  transport: Transport.Transport,
  handlers: ServerAuthHandlers,
  options?: ServerAuthOptions
) => Effect.Effect<ServerAuthenticated, AuthError | TransportError> = Effect.fn("ServerAuth.authenticate")(
  function*(transport: Transport.Transport, handlers: ServerAuthHandlers, options?: ServerAuthOptions) {
    return yield* internal.authenticate(transport, handlers, options ?? {})
  }
)

/**
 * Authenticates the client of the `Transport` in context and provides `Authenticated`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  handlers: ServerAuthHandlers,
  options?: ServerAuthOptions
): Layer.Layer<Authenticated, AuthError | TransportError, Transport.Transport> =>
  Layer.effect(Authenticated, Effect.flatMap(Transport.Transport, (t) => authenticate(t, handlers, options)))
