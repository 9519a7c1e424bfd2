/**
 * The client's credentials, as plain data: what `ClientAuth` may try, in the order given (RFC 4252 §5). Nothing
 * here does I/O or talks to a server; `ClientAuth` reads key files and calls the handlers when, and only when,
 * the server allows the method. Secrets are `Redacted` (passwords, passphrases, private keys), so logging a
 * credential never prints one (STYLE.md §7.5).
 *
 * Import as a namespace: `import * as Auth from "./auth/AuthMethod.js"` → `Auth.password(...)`.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import * as Certificate from "../keys/Certificate.js"
import type { ParsedPrivateKey } from "../keys/PrivateKey.js"
import type { Prompt } from "../wire/AuthMessages.js"

/**
 * A secret answer: a `Redacted` string, or a plain string (wrapped on receipt).
 *
 * @since 0.1.0
 * @category models
 */
export type Secret = Redacted.Redacted<string> | string

/**
 * RFC 4252 §5.2 "none": asks for access without a credential. `ClientAuth` always starts with a "none" request to
 * learn the methods the server allows (as OpenSSH does); listing `none` explicitly also means that a server
 * granting access to it is accepted even when `rejectTrivialAuth` is on.
 *
 * @since 0.1.0
 * @category models
 */
export interface None {
  readonly _tag: "None"
}

/**
 * What the server said when it asked for a new password (RFC 4252 §8 SSH_MSG_USERAUTH_PASSWD_CHANGEREQ). The
 * prompt is peer text, with control characters escaped (SEC-12).
 *
 * @since 0.1.0
 * @category models
 */
export interface PasswordChangeRequest {
  readonly prompt: string
}

/**
 * Answers a password change request with the new password; failing cancels authentication.
 *
 * @since 0.1.0
 * @category models
 */
export type PasswordChangeHandler = (request: PasswordChangeRequest) => Effect.Effect<Secret, unknown>

/**
 * RFC 4252 §8 "password". Without `onPasswordChange`, a server asking for a new password fails this method.
 *
 * @since 0.1.0
 * @category models
 */
export interface Password {
  readonly _tag: "Password"
  /** The password, or an Effect that asks for it when the server accepts passwords and this method's turn comes. */
  readonly password: Redacted.Redacted<string> | Effect.Effect<Secret, unknown>
  readonly onPasswordChange: PasswordChangeHandler | undefined
}

/**
 * RFC 4252 §7 "publickey" with a key in memory. `publicKey` is the key's blob (RFC 4253 §6.6) and `fingerprint`
 * its SHA256 fingerprint; the private half stays `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrivateKey {
  readonly _tag: "PrivateKey"
  readonly key: Redacted.Redacted<PrivateKeyMaterial>
  readonly keyType: string
  readonly publicKey: Uint8Array
  readonly fingerprint: string
  readonly comment: string
  /** RFC 8332 §3: allow the SHA-1 "ssh-rsa" signature for an RSA key when the server offers nothing better. */
  readonly allowSshRsa: boolean
  /**
   * An OpenSSH user certificate for this key (PROTOCOL.certkeys): the request then carries the certificate blob
   * under the `*-cert-v01@openssh.com` algorithm, signed by the key.
   */
  readonly certificate?: Uint8Array | undefined
}

/**
 * RFC 4252 §7 "publickey" with an OpenSSH private key file (openssh-key-v1, encrypted or not), read and parsed
 * only when the server allows publickey. Reading needs `ClientAuthOptions.readFile`; `~` is not expanded here.
 * As `ssh` does, a certificate in `<path>-cert.pub` that certifies the key is offered first, then the plain key.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrivateKeyFile {
  readonly _tag: "PrivateKeyFile"
  readonly path: string
  readonly passphrase: Redacted.Redacted<string> | undefined
  readonly allowSshRsa: boolean
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
 * One RFC 4256 §3.2 SSH_MSG_USERAUTH_INFO_REQUEST, as the handler sees it: peer text with control characters
 * escaped (SEC-12). A challenge may have zero prompts (PAM sends those); answer it with an empty array.
 *
 * @since 0.1.0
 * @category models
 */
export interface Challenge {
  readonly name: string
  readonly instruction: string
  readonly prompts: ReadonlyArray<Prompt>
}

/**
 * Answers one challenge with exactly one answer per prompt, in order (RFC 4256 §3.4); failing cancels
 * authentication.
 *
 * @since 0.1.0
 * @category models
 */
export type ChallengeHandler = (challenge: Challenge) => Effect.Effect<ReadonlyArray<Secret>, unknown>

/**
 * RFC 4256 "keyboard-interactive": the server sends challenges, `handler` answers them.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyboardInteractive {
  readonly _tag: "KeyboardInteractive"
  readonly handler: ChallengeHandler
  /** RFC 4256 §3.1 submethods hint (comma-separated); usually empty. */
  readonly submethods: string
}

/**
 * What "publickey" needs from an ssh-agent: its keys (public-key or certificate blobs) and signatures by them.
 * `SshAgent` (src/agent) is one; any other signer (a hardware token, a remote service) can be too.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentSigner {
  readonly identities: Effect.Effect<ReadonlyArray<{ readonly publicKey: Uint8Array; readonly comment: string }>, unknown>
  /** A signature blob (string algorithm ‖ string signature) by the key `publicKey` over `data`, as `algorithm`. */
  readonly sign: (
    publicKey: Uint8Array,
    data: Uint8Array,
    options: { readonly algorithm: string }
  ) => Effect.Effect<Uint8Array, unknown>
  /**
   * session-bind@openssh.com (OpenSSH PROTOCOL.agent §1): binds this agent connection to the SSH session about to
   * authenticate — the server's host key, the session id and the server's signature on it — so that an agent can
   * enforce destination constraints (`ssh-add -h`). Sent once before the agent's keys are offered, as `ssh` does;
   * a refusal (an agent without the extension) is ignored. Optional: a signer without it is used unbound.
   */
  readonly sessionBind?: ((bind: {
    readonly hostKey: Uint8Array
    readonly sessionId: Uint8Array
    readonly signature: Uint8Array
    readonly forwarding: boolean
  }) => Effect.Effect<void, unknown>) | undefined
}

/**
 * RFC 4252 §7 "publickey" with each key an agent holds, in the agent's order (certificates as the agent lists
 * them), as `ssh` does with `SSH_AUTH_SOCK`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Agent {
  readonly _tag: "Agent"
  readonly agent: AgentSigner
  readonly allowSshRsa: boolean
}

/**
 * Any credential.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthMethod = None | Password | PrivateKey | PrivateKeyFile | Agent | KeyboardInteractive

/**
 * The RFC 4252 method names, as USERAUTH_FAILURE lists them.
 *
 * @since 0.1.0
 * @category models
 */
export type MethodName = "none" | "password" | "publickey" | "keyboard-interactive"

/**
 * Options of the public-key credentials.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrivateKeyOptions {
  /** Allow the SHA-1 "ssh-rsa" signature algorithm (RFC 8332 §3), off by default. */
  readonly allowSshRsa?: boolean | undefined
}

const redact = (s: Secret): Redacted.Redacted<string> => typeof s === "string" ? Redacted.make(s) : s

/**
 * The "none" method.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: None = { _tag: "None" }

/**
 * A password (kept `Redacted`); `onPasswordChange` answers an expired-password request (RFC 4252 §8).
 *
 * @since 0.1.0
 * @category constructors
 */
export const password = <E>(
  secret: Secret,
  options?: { readonly onPasswordChange?: ((request: PasswordChangeRequest) => Effect.Effect<Secret, E>) | undefined }
): Password => ({ _tag: "Password", password: redact(secret), onPasswordChange: options?.onPasswordChange })

/**
 * A password asked for only when needed: `ask` runs when the server accepts passwords and this method's turn
 * comes (as ssh prompts on the terminal), inside the same connection. List it several times for several attempts
 * (ssh's NumberOfPasswordPrompts); a failing `ask` cancels the login.
 *
 * @since 0.1.0
 * @category constructors
 */
export const passwordPrompt = <E>(
  ask: Effect.Effect<Secret, E>,
  options?: { readonly onPasswordChange?: ((request: PasswordChangeRequest) => Effect.Effect<Secret, E>) | undefined }
): Password => ({ _tag: "Password", password: ask, onPasswordChange: options?.onPasswordChange })

/**
 * A private key in memory: raw key material or a key parsed by `PrivateKey.parsePrivateKey`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const privateKey = (key: PrivateKeyMaterial | ParsedPrivateKey, options?: PrivateKeyOptions): PrivateKey => {
  const material = "material" in key ? key.material : key
  const publicKey = "material" in key ? key.publicKey : HostKey.encodePublicKey(HostKey.publicKeyOf(key))
  return {
    _tag: "PrivateKey",
    key: Redacted.make(material),
    keyType: HostKey.keyTypeOf(material),
    publicKey,
    fingerprint: HostKey.fingerprintSha256(publicKey),
    comment: "material" in key ? key.comment : "",
    allowSshRsa: options?.allowSshRsa ?? false
  }
}

/**
 * A private key with its OpenSSH user certificate (the blob, or the text of a `-cert.pub` file): the
 * publickey request carries the certificate (`ssh-ed25519-cert-v01@openssh.com` …) and is signed by the key.
 * Fails (as `Left`) when the text is not a certificate or it certifies another key.
 *
 * @since 0.1.0
 * @category constructors
 */
export const certificate = (
  key: PrivateKeyMaterial | ParsedPrivateKey,
  cert: Uint8Array | string,
  options?: PrivateKeyOptions
): Either.Either<PrivateKey, Certificate.CertificateError> => {
  const decoded = typeof cert === "string" ? Certificate.fromText(cert) : Certificate.decode(cert)
  return Either.flatMap(decoded, (c) => {
    const base = privateKey(key, options)
    if (!Certificate.certifies(c, Redacted.value(base.key))) {
      return Either.left(new Certificate.CertificateError({ reason: "InvalidRequest", description: "the certificate certifies another key" }))
    }
    return Either.right({ ...base, keyType: c.certType, certificate: c.blob, comment: c.keyId })
  })
}

/**
 * An OpenSSH private key file, read and decrypted (with `passphrase`) only if the server allows publickey.
 *
 * @since 0.1.0
 * @category constructors
 */
export const privateKeyFile = (
  path: string,
  options?: PrivateKeyOptions & { readonly passphrase?: Secret | undefined }
): PrivateKeyFile => ({
  _tag: "PrivateKeyFile",
  path,
  passphrase: options?.passphrase === undefined ? undefined : redact(options.passphrase),
  allowSshRsa: options?.allowSshRsa ?? false
})

/**
 * The keys of an ssh-agent (`SshAgent`, or any `AgentSigner`), tried one after another.
 *
 * @since 0.1.0
 * @category constructors
 */
export const agent = (signer: AgentSigner, options?: PrivateKeyOptions): Agent => ({
  _tag: "Agent",
  agent: signer,
  allowSshRsa: options?.allowSshRsa ?? false
})

/**
 * Keyboard-interactive with a handler that answers each challenge (RFC 4256 §3.2–§3.4).
 *
 * @since 0.1.0
 * @category constructors
 */
export const keyboardInteractive = <E>(
  handler: (challenge: Challenge) => Effect.Effect<ReadonlyArray<Secret>, E>,
  options?: { readonly submethods?: string | undefined }
): KeyboardInteractive => ({ _tag: "KeyboardInteractive", handler, submethods: options?.submethods ?? "" })

/**
 * The RFC 4252 method a credential uses.
 *
 * @since 0.1.0
 * @category accessors
 */
export const methodName = (method: AuthMethod): MethodName => {
  switch (method._tag) {
    case "None":
      return "none"
    case "Password":
      return "password"
    case "PrivateKey":
    case "PrivateKeyFile":
    case "Agent":
      return "publickey"
    case "KeyboardInteractive":
      return "keyboard-interactive"
  }
}

/**
 * A short description for errors and logs, never with a secret: `publickey ssh-ed25519 SHA256:…`,
 * `publickey file ~/.ssh/id_rsa`, `password`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const describe = (method: AuthMethod): string => {
  switch (method._tag) {
    case "PrivateKey":
      return method.certificate === undefined
        ? `publickey ${method.keyType} ${method.fingerprint}`
        : `publickey certificate ${method.keyType} ${method.fingerprint} (id ${JSON.stringify(method.comment)})`
    case "PrivateKeyFile":
      return `publickey file ${method.path}`
    case "Agent":
      return "publickey agent"
    default:
      return methodName(method)
  }
}
