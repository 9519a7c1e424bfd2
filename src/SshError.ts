/**
 * Every public error of effect-ssh, and the RFC 4253 §11.1 disconnect reason table.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The symbol that marks every error raised by effect-ssh (see `isSshError`).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-ssh/SshError")

/**
 * The type of `TypeId`.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * True for any error raised by effect-ssh.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isSshError = (u: unknown): u is SshError => Predicate.hasProperty(u, TypeId)

/**
 * RFC 4253 §11.1 / RFC 4250 §4.2.2 disconnect reason codes.
 *
 * @since 0.1.0
 * @category models
 */
export const DisconnectReason = {
  HostNotAllowedToConnect: 1,
  ProtocolError: 2,
  KeyExchangeFailed: 3,
  Reserved: 4,
  MacError: 5,
  CompressionError: 6,
  ServiceNotAvailable: 7,
  ProtocolVersionNotSupported: 8,
  HostKeyNotVerifiable: 9,
  ConnectionLost: 10,
  ByApplication: 11,
  TooManyConnections: 12,
  AuthCancelledByUser: 13,
  NoMoreAuthMethodsAvailable: 14,
  IllegalUserName: 15
} as const

/**
 * A disconnect reason code from the `DisconnectReason` table.
 *
 * @since 0.1.0
 * @category models
 */
export type DisconnectReason = typeof DisconnectReason[keyof typeof DisconnectReason]

/**
 * The symbolic name of a disconnect reason code, for messages.
 *
 * @since 0.1.0
 * @category utils
 */
export const disconnectReasonName = (code: number): string => {
  for (const [name, value] of Object.entries(DisconnectReason)) {
    if (value === code) return name
  }
  return `Unknown(${code})`
}

/**
 * Escapes control characters and caps the length of text that came from the peer, so that it is inert when
 * logged or printed (SEC-12). `keepNewlines` keeps line feeds, for text we wrote ourselves around peer values that
 * were escaped already (a multi-line warning).
 *
 * @since 0.1.0
 * @category utils
 */
export const sanitizePeerText = (text: string, max = 512, options?: { readonly keepNewlines?: boolean }): string => {
  let out = ""
  for (const ch of text) {
    const c = ch.codePointAt(0)!
    if (c === 0x0a && options?.keepNewlines === true) out += ch
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) {
      out += c === 0x0a ? "\\n" : c === 0x0d ? "\\r" : c === 0x09 ? "\\t" : `\\x${c.toString(16).padStart(2, "0")}`
    } else {
      out += ch
    }
    if (out.length >= max) return out.slice(0, max) + "…"
  }
  return out
}

/**
 * Why a connection failed.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportErrorReason =
  | "VersionExchange"
  | "NoCommonAlgorithm"
  | "KexFailed"
  | "HostKeyRejected"
  | "MacMismatch"
  | "PacketTooLarge"
  | "ProtocolViolation"
  | "Timeout"
  | "Disconnected"
  | "ConnectionLost"
  | "ConnectFailed"

/**
 * Why a host key was not trusted (see `HostKeyPolicy.HostKeyRejected`): `Unknown` (no known_hosts line for the
 * host), `Changed` (known with other keys), `Revoked` (`@revoked`), `NotPinned`, `Refused` (the callback said no),
 * `Unverifiable` (known_hosts could not be read or written), `CertificateRejected` (a host certificate from a CA
 * trusted for the host that is not valid for it).
 *
 * @since 0.1.0
 * @category models
 */
export const HostKeyVerdict = Schema.Literal(
  "Unknown",
  "Changed",
  "NotPinned",
  "Refused",
  "Revoked",
  "Unverifiable",
  "CertificateRejected"
)

/**
 * The type of `HostKeyVerdict`.
 *
 * @since 0.1.0
 * @category models
 */
export type HostKeyVerdict = typeof HostKeyVerdict.Type

/**
 * Which limit expired, on a `TransportError` of reason `Timeout`: `Connect` (the dialer), `VersionExchange` (no
 * SSH version string in time, LIM-03), `KeyExchange` (the first key exchange, `timeouts.handshake`), `Rekey`,
 * `Login` (`timeouts.login`, or the server's LoginGraceTime), `Keepalive` (unanswered keepalives).
 *
 * @since 0.1.0
 * @category models
 */
export const TimeoutStage = Schema.Literal("Connect", "VersionExchange", "KeyExchange", "Rekey", "Login", "Keepalive")

/**
 * The type of `TimeoutStage`.
 *
 * @since 0.1.0
 * @category models
 */
export type TimeoutStage = typeof TimeoutStage.Type

const hostPort = (host: string, port: number | undefined): string =>
  `${host.includes(":") ? `[${host}]` : host}${port === undefined ? "" : `:${port}`}`

const TRANSPORT_PHRASES: Record<TransportErrorReason, string> = {
  VersionExchange: "the SSH version exchange failed",
  NoCommonAlgorithm: "no algorithm in common with the peer",
  KexFailed: "the key exchange failed",
  HostKeyRejected: "the host key was rejected",
  MacMismatch: "a packet failed its integrity check",
  PacketTooLarge: "a packet was too large",
  ProtocolViolation: "the peer broke the protocol",
  Timeout: "timed out",
  Disconnected: "disconnected",
  ConnectionLost: "the connection was lost",
  ConnectFailed: "could not connect"
}

/**
 * Anything fatal to a connection. A peer's DISCONNECT is `reason: "Disconnected", origin: "Remote"`; a violation
 * we detected is `origin: "Local"` after we sent DISCONNECT with `code`.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Schema.TaggedError<TransportError>("effect-ssh/TransportError")(
  "TransportError",
  {
    reason: Schema.Literal(
      "VersionExchange",
      "NoCommonAlgorithm",
      "KexFailed",
      "HostKeyRejected",
      "MacMismatch",
      "PacketTooLarge",
      "ProtocolViolation",
      "Timeout",
      "Disconnected",
      "ConnectionLost",
      "ConnectFailed"
    ),
    origin: Schema.Literal("Local", "Remote"),
    code: Schema.Number,
    description: Schema.String,
    /** The server, when the error happened on a client connection (`SshClient.connect` sets them). */
    host: Schema.optional(Schema.String),
    port: Schema.optional(Schema.Number),
    /** For `reason: "HostKeyRejected"`: why the key was not trusted (the `HostKeyRejected` is the `cause`). */
    hostKeyVerdict: Schema.optional(HostKeyVerdict),
    /** For `reason: "Timeout"`: which limit expired. */
    timeout: Schema.optional(TimeoutStage),
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * One sentence, then the description: `host:port: could not connect: connect ECONNREFUSED …`, or
   * `host:port: the peer disconnected (ByApplication): …`. Text of our own keeps its line breaks; the peer's
   * (`origin: "Remote"`) is escaped (SEC-12).
   *
   * @since 0.1.0
   */
  override get message(): string {
    const where = this.host === undefined ? "" : `${hostPort(this.host, this.port)}: `
    const remote = this.origin === "Remote"
    const what = remote && this.reason === "Disconnected" ? "the peer disconnected" : TRANSPORT_PHRASES[this.reason]
    // The DISCONNECT code says something only when a DISCONNECT was exchanged for this error.
    const silent = this.reason === "ConnectFailed" || this.reason === "ConnectionLost" || this.reason === "Timeout"
    const code = silent ? "" : remote ? ` (${disconnectReasonName(this.code)})` : ` (we sent DISCONNECT ${disconnectReasonName(this.code)})`
    const description = sanitizePeerText(this.description, 4096, { keepNewlines: !remote })
    return `${where}${what}${code}${description === "" ? "" : `: ${description}`}`
  }
}

/**
 * Parsing or using key material failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class KeyError extends Schema.TaggedError<KeyError>("effect-ssh/KeyError")("KeyError", {
  reason: Schema.Literal("Parse", "Unsupported", "Passphrase"),
  description: Schema.String,
  path: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason}${this.path ? ` in ${this.path}` : ""}: ${this.description}`
  }
}

/**
 * RFC 4254 §5.1 channel open failure reason codes.
 *
 * @since 0.1.0
 * @category models
 */
export const OpenFailureReason = {
  AdministrativelyProhibited: 1,
  ConnectFailed: 2,
  UnknownChannelType: 3,
  ResourceShortage: 4
} as const

/**
 * One channel failed; the connection survives.
 *
 * @since 0.1.0
 * @category errors
 */
export class ChannelError extends Schema.TaggedError<ChannelError>("effect-ssh/ChannelError")("ChannelError", {
  reason: Schema.Literal("OpenFailed", "RequestFailed", "Closed"),
  channelType: Schema.optional(Schema.String),
  /** RFC 4254 §5.1 reason code, for `OpenFailed`. */
  openFailure: Schema.optional(Schema.Number),
  /** The channel request that failed, for `RequestFailed`. */
  request: Schema.optional(Schema.String),
  description: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const what = this.reason === "OpenFailed"
      ? `opening a ${this.channelType ?? ""} channel failed${
        this.openFailure === undefined ? "" : ` (${openFailureName(this.openFailure)})`
      }`
      : this.reason === "RequestFailed"
      ? `the server refused the ${this.request ?? ""} request`
      : "the channel is closed"
    return `${what}: ${sanitizePeerText(this.description)}`
  }
}

const openFailureName = (code: number): string => {
  for (const [name, value] of Object.entries(OpenFailureReason)) if (value === code) return name
  return `reason ${code}`
}

/**
 * Client user authentication ran out of methods (RFC 4252 §5.1): lists what was tried and what the server
 * still allows.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthError extends Schema.TaggedError<AuthError>("effect-ssh/AuthError")("AuthError", {
  reason: Schema.Literal("NoMoreMethods", "Cancelled", "KeyUnusable"),
  username: Schema.String,
  /** Methods tried, in order, with what happened. */
  tried: Schema.Array(Schema.String),
  /** What the server said it would still accept. */
  allowed: Schema.Array(Schema.String),
  partialSuccess: Schema.Boolean,
  description: Schema.optional(Schema.String),
  /** The server (`SshClient.connect` sets them). */
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * A sentence, then one line for what was tried and one for what the server allows:
   *
   * ```text
   * authentication as deploy on example.com:22 failed: the server refused every method tried
   *   tried: none (rejected); publickey file ~/.ssh/id_ed25519 ssh-ed25519 SHA256:… (rejected)
   *   the server allows: publickey
   * ```
   *
   * @since 0.1.0
   */
  override get message(): string {
    const on = this.host === undefined ? "" : ` on ${hostPort(this.host, this.port)}`
    const why = this.reason === "NoMoreMethods"
      ? (this.tried.length === 0 ? "there was no method to try" : "the server refused every method tried")
      : this.reason === "Cancelled"
      ? "cancelled"
      : "a key could not be used"
    // ClientAuth notes each attempt as "<what> <outcome>"; the outcome goes in parentheses.
    const tried = this.tried.map((t) => {
      const m = /^(.*?) (rejected|accepted.*|not tried.*|failed.*|cancelled.*)$/.exec(t)
      return m === null ? t : `${m[1]} (${m[2]})`
    })
    return `authentication as ${sanitizePeerText(this.username)}${on} failed: ${why}` +
      (this.partialSuccess ? " after a partial success" : "") +
      (this.description ? `: ${this.description}` : "") +
      (tried.length > 0 ? `\n  tried: ${tried.join("; ")}` : "") +
      `\n  the server allows: ${this.allowed.length === 0 ? "nothing more" : this.allowed.join(", ")}`
  }
}

/**
 * A remote command ended unsuccessfully; raised only by convenience runners that ask for success.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExitError extends Schema.TaggedError<ExitError>("effect-ssh/ExitError")("ExitError", {
  command: Schema.String,
  status: Schema.optional(Schema.Number),
  signal: Schema.optional(Schema.String),
  coreDumped: Schema.optional(Schema.Boolean),
  stderrTail: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const how = this.signal !== undefined ? `was killed by SIG${this.signal}` : `exited with status ${this.status}`
    const tail = this.stderrTail.length > 0 ? `; stderr ends with: ${sanitizePeerText(this.stderrTail, 1024)}` : ""
    return `${sanitizePeerText(this.command, 200)} ${how}${tail}`
  }
}

/**
 * The SSH_FX status names of filexfer-02 §7, indexed by their code number (0 `Ok` … 8 `OpUnsupported`): the one
 * list `SftpError`'s `code` and sftp/SftpAttrs' `StatusCode` are both made from.
 *
 * @since 0.1.0
 * @category models
 */
export const SFTP_STATUS_NAMES = [
  "Ok",
  "Eof",
  "NoSuchFile",
  "PermissionDenied",
  "Failure",
  "BadMessage",
  "NoConnection",
  "ConnectionLost",
  "OpUnsupported"
] as const

type SftpErrorCodes = typeof SFTP_STATUS_NAMES extends readonly ["Ok", ...infer Rest extends ReadonlyArray<string>] ? Rest : never

/**
 * An SFTP operation failed: the server's SSH_FX_* status (draft-ietf-secsh-filexfer-02 §7) by name, or a local
 * code for what went wrong around it (`BadMessage` for a malformed reply, `ConnectionLost` when the session
 * ended). `path` names the file when the operation had one.
 *
 * @since 0.1.0
 * @category errors
 */
export class SftpError extends Schema.TaggedError<SftpError>("effect-ssh/SftpError")("SftpError", {
  code: Schema.Literal(...SFTP_STATUS_NAMES.slice(1) as SftpErrorCodes),
  /** The operation (`"open"`, `"stat"`, `"get"` …). */
  operation: Schema.String,
  path: Schema.optional(Schema.String),
  /** The server's status message, or what happened. */
  description: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const where = this.path === undefined ? "" : ` ${sanitizePeerText(this.path, 512)}`
    const text = this.description.length > 0 ? `: ${sanitizePeerText(this.description)}` : ""
    return `sftp ${this.operation}${where} failed (${this.code})${text}`
  }
}

/**
 * Every error effect-ssh raises.
 *
 * @since 0.1.0
 * @category models
 */
export type SshError = TransportError | KeyError | ChannelError | AuthError | ExitError | SftpError
