/**
 * User-authentication messages (RFC 4252 §5–§9, RFC 4256 §3): USERAUTH_REQUEST with its per-method fields,
 * FAILURE, SUCCESS, BANNER, the three meanings of message 60 and INFO_RESPONSE.
 *
 * `decode` takes a whole payload (message number first), dispatches through a table, rejects trailing bytes
 * (SEC-09) and never throws. Message 60 means PK_OK, PASSWD_CHANGEREQ or INFO_REQUEST depending on the method in
 * progress (RFC 4250 §4.1.2), so it has one decoder per meaning. Byte fields of decoded messages are copies.
 * Passwords stay plain `Uint8Array`/`string` here; the auth layers wrap them in `Redacted`.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { MessageAlias, MessageId } from "./MessageId.js"
import * as Reader from "./Reader.js"
import { WireError } from "./WireError.js"
import * as Writer from "./Writer.js"

const utf8Encoder = new TextEncoder()
const utf8 = Reader.decodeUtf8

// RFC 4251 §5: a `string` holding ISO-10646 UTF-8 text.
const text = (r: Reader.Reader): string => utf8(r.string(), "string")

/**
 * SEC-35 / LIM-18: user names are at most 1 024 bytes of UTF-8 (asyncssh `_MAX_USERNAME_LEN`).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_USERNAME_LENGTH = 1024

/**
 * SEC-35 / LIM-18: passwords are at most 1 024 bytes (OpenSSH after CVE-2016-6515).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PASSWORD_LENGTH = 1024

/**
 * SEC-35 / LIM-18: at most 100 keyboard-interactive prompts or responses (openssh:auth2-chall.c).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PROMPTS = 100

/**
 * SEC-35: a keyboard-interactive prompt is at most 16 KiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PROMPT_LENGTH = 16384

/**
 * A password as sent (`string` is encoded as UTF-8) or as decoded (always a `Uint8Array` copy, so that the bytes
 * can be compared in constant time and zeroed, and a non-UTF-8 password is not a protocol error).
 *
 * @since 0.1.0
 * @category models
 */
export type Password = Uint8Array | string

/**
 * The method-specific part of a USERAUTH_REQUEST, tagged with the method name as sent on the wire. `other` holds
 * a method this module does not know, with the undecoded rest of the payload.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthMethod =
  // RFC 4252 §5.2: the "none" method, used to learn the methods that can continue.
  | { readonly _tag: "none" }
  // RFC 4252 §8: a password, or (changing = TRUE) the old and the new password after PASSWD_CHANGEREQ.
  | { readonly _tag: "password"; readonly changing: false; readonly password: Password }
  | {
    readonly _tag: "password"
    readonly changing: true
    readonly password: Password
    readonly newPassword: Password
  }
  // RFC 4252 §7: a query (no signature; answered with PK_OK) or a signed request.
  | {
    readonly _tag: "publickey"
    readonly hasSignature: false
    readonly algorithm: string
    readonly publicKey: Uint8Array
  }
  | {
    readonly _tag: "publickey"
    readonly hasSignature: true
    readonly algorithm: string
    readonly publicKey: Uint8Array
    readonly signature: Uint8Array
  }
  // RFC 4256 §3.1: language tag (deprecated, usually empty) and submethod hints.
  | { readonly _tag: "keyboard-interactive"; readonly language: string; readonly submethods: string }
  // RFC 4252 §9: decoded for completeness; this library does not authenticate with it.
  | {
    readonly _tag: "hostbased"
    readonly algorithm: string
    readonly hostKey: Uint8Array
    readonly hostname: string
    readonly hostUser: string
    readonly signature: Uint8Array
  }
  | { readonly _tag: "other"; readonly name: string; readonly rest: Uint8Array }

/**
 * RFC 4252 §5 SSH_MSG_USERAUTH_REQUEST (50). `user` obeys SEC-35 (UTF-8, ≤ 1 024 bytes, no control characters).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserauthRequest {
  readonly _tag: "UserauthRequest"
  readonly user: string
  readonly service: string
  readonly method: AuthMethod
}

/**
 * RFC 4252 §5.1 SSH_MSG_USERAUTH_FAILURE (51): the methods that can continue and whether the last one succeeded.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserauthFailure {
  readonly _tag: "UserauthFailure"
  readonly methods: ReadonlyArray<string>
  readonly partialSuccess: boolean
}

/**
 * RFC 4252 §5.1 SSH_MSG_USERAUTH_SUCCESS (52).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserauthSuccess {
  readonly _tag: "UserauthSuccess"
}

/**
 * RFC 4252 §5.4 SSH_MSG_USERAUTH_BANNER (53). `message` is peer text: sanitise before display (SEC-12).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserauthBanner {
  readonly _tag: "UserauthBanner"
  readonly message: string
  readonly language: string
}

/**
 * RFC 4252 §7 SSH_MSG_USERAUTH_PK_OK (60 during publickey): the key of a query is acceptable.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserauthPkOk {
  readonly _tag: "UserauthPkOk"
  readonly algorithm: string
  readonly publicKey: Uint8Array
}

/**
 * RFC 4252 §8 SSH_MSG_USERAUTH_PASSWD_CHANGEREQ (60 during password): the password has expired.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserauthPasswdChangeReq {
  readonly _tag: "UserauthPasswdChangeReq"
  readonly prompt: string
  readonly language: string
}

/**
 * One RFC 4256 §3.2 prompt: its text and whether the answer may be echoed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Prompt {
  readonly prompt: string
  readonly echo: boolean
}

/**
 * RFC 4256 §3.2 SSH_MSG_USERAUTH_INFO_REQUEST (60 during keyboard-interactive). At most `MAX_PROMPTS` prompts of
 * at most `MAX_PROMPT_LENGTH` bytes (SEC-35). All text is from the server: sanitise before display (SEC-12).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserauthInfoRequest {
  readonly _tag: "UserauthInfoRequest"
  readonly name: string
  readonly instruction: string
  readonly language: string
  readonly prompts: ReadonlyArray<Prompt>
}

/**
 * RFC 4256 §3.4 SSH_MSG_USERAUTH_INFO_RESPONSE (61): one answer per prompt, at most `MAX_PROMPTS` (SEC-35).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserauthInfoResponse {
  readonly _tag: "UserauthInfoResponse"
  readonly responses: ReadonlyArray<string>
}

/**
 * The messages whose number alone says what they are: what `decode` returns.
 *
 * @since 0.1.0
 * @category models
 */
export type DecodedAuthMessage =
  | UserauthRequest
  | UserauthFailure
  | UserauthSuccess
  | UserauthBanner
  | UserauthInfoResponse

/**
 * Every user-authentication message.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthMessage = DecodedAuthMessage | UserauthPkOk | UserauthPasswdChangeReq | UserauthInfoRequest

// ---------------------------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------------------------

const writeMethod = (w: Writer.Writer, m: AuthMethod): void => {
  switch (m._tag) {
    case "none":
      w.string("none")
      return
    case "password":
      w.string("password").boolean(m.changing).string(m.password)
      if (m.changing) w.string(m.newPassword)
      return
    case "publickey":
      w.string("publickey").boolean(m.hasSignature).string(m.algorithm).string(m.publicKey)
      if (m.hasSignature) w.string(m.signature)
      return
    case "keyboard-interactive":
      w.string("keyboard-interactive").string(m.language).string(m.submethods)
      return
    case "hostbased":
      w.string("hostbased").string(m.algorithm).string(m.hostKey).string(m.hostname).string(m.hostUser)
        .string(m.signature)
      return
    case "other":
      w.string(m.name).raw(m.rest)
      return
  }
}

/**
 * Encodes an auth message as a packet payload (message number first). Fields are not validated: use
 * `validateUsername` for user input.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (msg: AuthMessage): Uint8Array =>
  Writer.build((w) => {
    switch (msg._tag) {
      case "UserauthRequest":
        writeMethod(w.byte(MessageId.USERAUTH_REQUEST).string(msg.user).string(msg.service), msg.method)
        return
      case "UserauthFailure":
        w.byte(MessageId.USERAUTH_FAILURE).nameList(msg.methods).boolean(msg.partialSuccess)
        return
      case "UserauthSuccess":
        w.byte(MessageId.USERAUTH_SUCCESS)
        return
      case "UserauthBanner":
        w.byte(MessageId.USERAUTH_BANNER).string(msg.message).string(msg.language)
        return
      case "UserauthPkOk":
        w.byte(MessageId.USERAUTH_PK_OK).string(msg.algorithm).string(msg.publicKey)
        return
      case "UserauthPasswdChangeReq":
        w.byte(MessageAlias.USERAUTH_PASSWD_CHANGEREQ).string(msg.prompt).string(msg.language)
        return
      case "UserauthInfoRequest":
        w.byte(MessageAlias.USERAUTH_INFO_REQUEST).string(msg.name).string(msg.instruction).string(msg.language)
          .uint32(msg.prompts.length)
        for (const p of msg.prompts) w.string(p.prompt).boolean(p.echo)
        return
      case "UserauthInfoResponse":
        w.byte(MessageId.USERAUTH_INFO_RESPONSE).uint32(msg.responses.length)
        for (const s of msg.responses) w.string(s)
        return
    }
  })

/**
 * The bytes a publickey signature covers (RFC 4252 §7): string session_id ‖ byte 50 ‖ string user ‖ string
 * service ‖ string "publickey" ‖ boolean TRUE ‖ string algorithm ‖ string public key blob.
 *
 * @since 0.1.0
 * @category encoding
 */
export const publickeySignedData = (
  sessionId: Uint8Array,
  user: string,
  service: string,
  algorithm: string,
  publicKey: Uint8Array
): Uint8Array =>
  Writer.build((w) => {
    w.string(sessionId).byte(MessageId.USERAUTH_REQUEST).string(user).string(service).string("publickey")
      .boolean(true).string(algorithm).string(publicKey)
  }, sessionId.length + publicKey.length + 128)

/**
 * A password as bytes: strings are encoded as UTF-8 (RFC 4252 §8), bytes are returned as they are.
 *
 * @since 0.1.0
 * @category utils
 */
export const passwordBytes = (p: Password): Uint8Array => typeof p === "string" ? utf8Encoder.encode(p) : p

// ---------------------------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------------------------

// Failures of the two fields whose violation is not a plain protocol error are marked by these prefixes
// (SEC-35 / LIM-18: a bad user name is D(15), a long password is FAILURE).
const USER_ERROR = "SEC-35 user name: "
const PASSWORD_ERROR = "LIM-18 password: "

const tooLarge = (what: string, max: number): WireError =>
  new WireError({ reason: "TooLarge", description: `${what} (max ${max})` })

// SEC-08 / SEC-35: a prompt or response count is bounded by MAX_PROMPTS and by the remaining bytes (`minSize` per
// element) before anything loops or allocates.
const count = (r: Reader.Reader, what: string, minSize: number): number => {
  const n = r.uint32()
  if (n > MAX_PROMPTS) throw tooLarge(`${what}: ${n}`, MAX_PROMPTS)
  if (n * minSize > r.remaining) {
    throw new WireError({ reason: "Truncated", description: `${what}: ${n} declared in ${r.remaining} bytes` })
  }
  return n
}

// SEC-35: ≤ 1 024 bytes, valid UTF-8, no C0/DEL/C1 control character (which includes NUL).
const userFromBytes = (b: Uint8Array): string => {
  if (b.length > MAX_USERNAME_LENGTH) {
    throw tooLarge(`${USER_ERROR}${b.length} bytes`, MAX_USERNAME_LENGTH)
  }
  const user = utf8(b, `${USER_ERROR}value`)
  for (let i = 0; i < user.length; i++) {
    const c = user.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      throw new WireError({ reason: "Invalid", description: `${USER_ERROR}control character` })
    }
  }
  return user
}

const password = (r: Reader.Reader): Uint8Array => {
  const b = r.string()
  if (b.length > MAX_PASSWORD_LENGTH) {
    throw tooLarge(`${PASSWORD_ERROR}${b.length} bytes`, MAX_PASSWORD_LENGTH)
  }
  return b.slice()
}

/**
 * Checks a user name against SEC-35 (UTF-8, ≤ 1 024 bytes, no NUL or other control character) before it is sent.
 *
 * @since 0.1.0
 * @category decoding
 */
export const validateUsername = (user: string): Either.Either<string, WireError> =>
  Reader.run(utf8Encoder.encode(user), (r) => userFromBytes(r.raw(r.remaining)))

/**
 * Which USERAUTH_REQUEST field a `decode` failure is about: `"user"` (SEC-35: disconnect with reason 15,
 * ILLEGAL_USER_NAME), `"password"` (LIM-18: over `MAX_PASSWORD_LENGTH`, answer FAILURE without hashing), or
 * `undefined` for any other malformation (disconnect with reason 2).
 *
 * @since 0.1.0
 * @category decoding
 */
export const requestErrorField = (e: WireError): "user" | "password" | undefined =>
  e.description.startsWith(USER_ERROR) ? "user" : e.description.startsWith(PASSWORD_ERROR) ? "password" : undefined

type MethodDecoder = (r: Reader.Reader) => AuthMethod

// Dispatch on the method name (RFC 4252 §5: the rest of the request depends on it).
const METHODS: ReadonlyMap<string, MethodDecoder> = new Map<string, MethodDecoder>([
  ["none", () => ({ _tag: "none" })],
  ["password", (r) => {
    if (!r.boolean()) return { _tag: "password", changing: false, password: password(r) }
    return { _tag: "password", changing: true, password: password(r), newPassword: password(r) }
  }],
  ["publickey", (r) => {
    const hasSignature = r.boolean()
    const algorithm = r.ascii()
    const publicKey = r.string().slice()
    return hasSignature
      ? { _tag: "publickey", hasSignature, algorithm, publicKey, signature: r.string().slice() }
      : { _tag: "publickey", hasSignature, algorithm, publicKey }
  }],
  ["keyboard-interactive", (r) => ({ _tag: "keyboard-interactive", language: text(r), submethods: text(r) })],
  ["hostbased", (r) => ({
    _tag: "hostbased",
    algorithm: r.ascii(),
    hostKey: r.string().slice(),
    hostname: r.ascii(),
    hostUser: text(r),
    signature: r.string().slice()
  })]
])

const decodeRequest = (r: Reader.Reader): UserauthRequest => {
  const user = userFromBytes(r.string())
  const service = r.ascii()
  const name = r.ascii()
  const decoder = METHODS.get(name)
  const method: AuthMethod = decoder === undefined
    ? { _tag: "other", name, rest: r.raw(r.remaining).slice() }
    : decoder(r)
  return { _tag: "UserauthRequest", user, service, method }
}

const decodeInfoResponse = (r: Reader.Reader): UserauthInfoResponse => {
  // Each response takes at least its 4-byte length.
  const n = count(r, "INFO_RESPONSE responses", 4)
  const responses: Array<string> = []
  for (let i = 0; i < n; i++) responses.push(text(r))
  return { _tag: "UserauthInfoResponse", responses }
}

type Decoder = (r: Reader.Reader) => DecodedAuthMessage

const DECODERS: ReadonlyMap<number, Decoder> = new Map<number, Decoder>([
  [MessageId.USERAUTH_REQUEST, decodeRequest],
  [MessageId.USERAUTH_FAILURE, (r) => ({
    _tag: "UserauthFailure",
    methods: r.nameList(),
    partialSuccess: r.boolean()
  })],
  [MessageId.USERAUTH_SUCCESS, () => ({ _tag: "UserauthSuccess" })],
  [MessageId.USERAUTH_BANNER, (r) => ({ _tag: "UserauthBanner", message: text(r), language: text(r) })],
  [MessageId.USERAUTH_INFO_RESPONSE, decodeInfoResponse]
])

/**
 * Decodes USERAUTH_REQUEST, FAILURE, SUCCESS, BANNER or INFO_RESPONSE. Fails with a `WireError` on message 60 (use
 * `decodePkOk`, `decodePasswdChangeReq` or `decodeInfoRequest`), on any other number, on malformed fields, on
 * SEC-35 violations (see `requestErrorField`) and on trailing bytes (SEC-09). Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (payload: Uint8Array): Either.Either<DecodedAuthMessage, WireError> =>
  Reader.run(payload, (r) => {
    const id = r.byte()
    const decoder = DECODERS.get(id)
    if (decoder === undefined) {
      const why = id === MessageId.USERAUTH_PK_OK ? "depends on the method in progress" : "is not handled by decode"
      throw new WireError({ reason: "Invalid", description: `auth message ${id} ${why}` })
    }
    const msg = decoder(r)
    r.end_()
    return msg
  })

// Message 60 under one of its three meanings: number checked, body decoded, trailing bytes rejected (SEC-09).
const decode60 = <A>(payload: Uint8Array, f: (r: Reader.Reader) => A): Either.Either<A, WireError> =>
  Reader.run(payload, (r) => {
    const id = r.byte()
    if (id !== MessageId.USERAUTH_PK_OK) {
      throw new WireError({ reason: "Invalid", description: `expected message 60, got ${id}` })
    }
    const msg = f(r)
    r.end_()
    return msg
  })

/**
 * Decodes message 60 as USERAUTH_PK_OK (RFC 4252 §7), while a publickey query is in progress.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodePkOk = (payload: Uint8Array): Either.Either<UserauthPkOk, WireError> =>
  decode60(payload, (r) => ({ _tag: "UserauthPkOk", algorithm: r.ascii(), publicKey: r.string().slice() }))

/**
 * Decodes message 60 as USERAUTH_PASSWD_CHANGEREQ (RFC 4252 §8), while password authentication is in progress.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodePasswdChangeReq = (payload: Uint8Array): Either.Either<UserauthPasswdChangeReq, WireError> =>
  decode60(payload, (r) => ({ _tag: "UserauthPasswdChangeReq", prompt: text(r), language: text(r) }))

// SEC-35: a prompt over 16 KiB is refused before it is decoded (`Reader.string` is a view, not a copy).
const prompt = (r: Reader.Reader): string => {
  const b = r.string()
  if (b.length > MAX_PROMPT_LENGTH) {
    throw tooLarge(`prompt of ${b.length} bytes`, MAX_PROMPT_LENGTH)
  }
  return utf8(b, "prompt")
}

/**
 * Decodes message 60 as USERAUTH_INFO_REQUEST (RFC 4256 §3.2), while keyboard-interactive is in progress. The
 * prompt count is checked against `MAX_PROMPTS` and against the remaining bytes (5 per prompt) before any
 * prompt is read (SEC-08, SEC-35, LIM-18).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeInfoRequest = (payload: Uint8Array): Either.Either<UserauthInfoRequest, WireError> =>
  decode60(payload, (r) => {
    const name = text(r)
    const instruction = text(r)
    const language = text(r)
    // Each prompt takes at least its 4-byte length and the echo boolean.
    const n = count(r, "INFO_REQUEST prompts", 5)
    const prompts: Array<Prompt> = []
    for (let i = 0; i < n; i++) prompts.push({ prompt: prompt(r), echo: r.boolean() })
    return { _tag: "UserauthInfoRequest", name, instruction, language, prompts }
  })
