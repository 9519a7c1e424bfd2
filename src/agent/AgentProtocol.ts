/**
 * The ssh-agent protocol (RFC 9987, formerly draft-miller-ssh-agent; OpenSSH PROTOCOL.agent) as a pure codec:
 * requests and responses as tagged data, each with `encode` (a whole frame: uint32 length ‖ type ‖ body) and
 * `decode` (the payload after the length). Decoders never throw: bad bytes are a `WireError` (SEC-60).
 *
 * Bounds (SEC-60, LIM-30, as OpenSSH's ssh-agent.c and authfd.c): a message is at most 256 KiB
 * (`AGENT_MAX_LEN`), an IDENTITIES_ANSWER holds at most 2 048 keys (`MAX_AGENT_IDENTITIES`), and a frame's length
 * is checked before anything is buffered (`FrameReader`).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import { ecdsaFromScalar, ed25519FromSeed, rsaFromPrimes } from "../keys/KeyMaterial.js"
import * as Reader from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Writer from "../wire/Writer.js"
import { bounded, type Constraint, readConstraints, writeConstraints } from "./internal/constraints.js"

export type { Constraint } from "./internal/constraints.js"

/**
 * LIM-30: the largest agent message, either direction (OpenSSH `AGENT_MAX_LEN`, 256 KiB).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_MESSAGE_LENGTH = 256 * 1024

/**
 * LIM-30: the most identities an IDENTITIES_ANSWER may hold (OpenSSH `MAX_AGENT_IDENTITIES`).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_IDENTITIES = 2048

/**
 * RFC 9987 §6.1 message numbers.
 *
 * @since 0.1.0
 * @category constants
 */
export const MessageNumber = {
  FAILURE: 5,
  SUCCESS: 6,
  REQUEST_IDENTITIES: 11,
  IDENTITIES_ANSWER: 12,
  SIGN_REQUEST: 13,
  SIGN_RESPONSE: 14,
  ADD_IDENTITY: 17,
  REMOVE_IDENTITY: 18,
  REMOVE_ALL_IDENTITIES: 19,
  ADD_SMARTCARD_KEY: 20,
  REMOVE_SMARTCARD_KEY: 21,
  LOCK: 22,
  UNLOCK: 23,
  ADD_ID_CONSTRAINED: 25,
  ADD_SMARTCARD_KEY_CONSTRAINED: 26,
  EXTENSION: 27,
  EXTENSION_FAILURE: 28,
  EXTENSION_RESPONSE: 29
} as const

/**
 * RFC 9987 §4.5.1 signature flags: RSA keys sign with rsa-sha2-256 or rsa-sha2-512 instead of ssh-rsa.
 *
 * @since 0.1.0
 * @category constants
 */
export const SignFlags = { RSA_SHA2_256: 2, RSA_SHA2_512: 4 } as const

/**
 * A key the agent holds, as IDENTITIES_ANSWER lists it: a public-key or certificate blob and its comment.
 *
 * @since 0.1.0
 * @category models
 */
export interface Identity {
  readonly publicKey: Uint8Array
  readonly comment: string
}

/**
 * A private key sent to the agent (RFC 9987 §4.2.3): the key material and, for a certificate, its blob.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyToAdd {
  readonly key: Redacted.Redacted<PrivateKeyMaterial>
  /** A `*-cert-v01@openssh.com` blob certifying `key`: the agent then holds the certificate. */
  readonly certificate?: Uint8Array | undefined
  readonly comment: string
}

/**
 * A request from a client to the agent.
 *
 * @since 0.1.0
 * @category models
 */
export type Request =
  | { readonly _tag: "RequestIdentities" }
  | { readonly _tag: "SignRequest"; readonly publicKey: Uint8Array; readonly data: Uint8Array; readonly flags: number }
  | { readonly _tag: "AddIdentity"; readonly identity: KeyToAdd; readonly constraints: ReadonlyArray<Constraint> }
  | { readonly _tag: "RemoveIdentity"; readonly publicKey: Uint8Array }
  | { readonly _tag: "RemoveAllIdentities" }
  | {
    readonly _tag: "AddSmartcardKey"
    readonly provider: string
    readonly pin: Redacted.Redacted<string>
    readonly constraints: ReadonlyArray<Constraint>
  }
  | { readonly _tag: "RemoveSmartcardKey"; readonly provider: string; readonly pin: Redacted.Redacted<string> }
  | { readonly _tag: "Lock"; readonly passphrase: Redacted.Redacted<string> }
  | { readonly _tag: "Unlock"; readonly passphrase: Redacted.Redacted<string> }
  | { readonly _tag: "Extension"; readonly name: string; readonly data: Uint8Array }

/**
 * A response from the agent.
 *
 * @since 0.1.0
 * @category models
 */
export type Response =
  | { readonly _tag: "Failure" }
  | { readonly _tag: "Success" }
  | { readonly _tag: "IdentitiesAnswer"; readonly identities: ReadonlyArray<Identity> }
  | { readonly _tag: "SignResponse"; readonly signature: Uint8Array }
  | { readonly _tag: "ExtensionFailure" }
  | { readonly _tag: "ExtensionResponse"; readonly data: Uint8Array }

/**
 * The body of OpenSSH's `session-bind@openssh.com` extension (PROTOCOL.agent §1).
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionBind {
  readonly hostKey: Uint8Array
  readonly sessionId: Uint8Array
  readonly signature: Uint8Array
  readonly forwarding: boolean
}

const invalid = (description: string) => new WireError({ reason: "Invalid", description })
const utf8 = new TextEncoder()

const frame = (f: (w: Writer.Writer) => void): Uint8Array => {
  const body = Writer.build(f)
  return Writer.build((w) => w.uint32(body.length).raw(body), body.length + 4)
}

const secret = (s: Redacted.Redacted<string>): Uint8Array => utf8.encode(Redacted.value(s))

/**
 * Writes a private key in the agent's layout (RFC 9987 §4.2.3, OpenSSH `sshkey_private_serialize`): the key type
 * and the public fields, then the private ones; for a certificate, the certificate blob replaces the public
 * fields (Ed25519 keeps ENC(A) before k‖ENC(A) in both layouts).
 */
const writeKey = (w: Writer.Writer, k: KeyToAdd): void => {
  const key = Redacted.value(k.key)
  const plain = k.certificate === undefined
  if (k.certificate === undefined) w.string(HostKey.keyTypeOf(key))
  else w.string(Either.getOrElse(Reader.run(k.certificate, (r) => r.ascii()), () => "")).string(k.certificate)
  switch (key.type) {
    case "ed25519": {
      const sk = new Uint8Array(64)
      sk.set(key.seed)
      sk.set(key.publicKey, 32)
      w.string(key.publicKey).string(sk)
      sk.fill(0)
      break
    }
    case "ecdsa":
      if (plain) w.string(key.curve).string(key.q)
      w.mpint(bigFromBytes(key.d))
      break
    case "rsa":
      if (plain) w.mpint(key.n).mpint(key.e)
      w.mpint(key.d).mpint(key.iqmp).mpint(key.p).mpint(key.q)
  }
  w.string(k.comment)
}

const bigFromBytes = (b: Uint8Array): bigint => {
  let v = 0n
  for (const x of b) v = (v << 8n) | BigInt(x)
  return v
}

/**
 * Encodes a request as a whole frame (uint32 length ‖ payload).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeRequest = (request: Request): Uint8Array =>
  frame((w) => {
    switch (request._tag) {
      case "RequestIdentities":
        w.byte(MessageNumber.REQUEST_IDENTITIES)
        return
      case "SignRequest":
        w.byte(MessageNumber.SIGN_REQUEST).string(request.publicKey).string(request.data).uint32(request.flags)
        return
      case "AddIdentity": {
        const constrained = request.constraints.length > 0
        w.byte(constrained ? MessageNumber.ADD_ID_CONSTRAINED : MessageNumber.ADD_IDENTITY)
        writeKey(w, request.identity)
        writeConstraints(w, request.constraints)
        return
      }
      case "RemoveIdentity":
        w.byte(MessageNumber.REMOVE_IDENTITY).string(request.publicKey)
        return
      case "RemoveAllIdentities":
        w.byte(MessageNumber.REMOVE_ALL_IDENTITIES)
        return
      case "AddSmartcardKey":
        w.byte(request.constraints.length > 0 ? MessageNumber.ADD_SMARTCARD_KEY_CONSTRAINED : MessageNumber.ADD_SMARTCARD_KEY)
        w.string(utf8.encode(request.provider)).string(secret(request.pin))
        writeConstraints(w, request.constraints)
        return
      case "RemoveSmartcardKey":
        w.byte(MessageNumber.REMOVE_SMARTCARD_KEY).string(utf8.encode(request.provider)).string(secret(request.pin))
        return
      case "Lock":
      case "Unlock":
        w.byte(request._tag === "Lock" ? MessageNumber.LOCK : MessageNumber.UNLOCK).string(secret(request.passphrase))
        return
      case "Extension":
        w.byte(MessageNumber.EXTENSION).string(utf8.encode(request.name)).raw(request.data)
        return
    }
  })

/**
 * Encodes a response as a whole frame (uint32 length ‖ payload).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeResponse = (response: Response): Uint8Array =>
  frame((w) => {
    switch (response._tag) {
      case "Failure":
        w.byte(MessageNumber.FAILURE)
        return
      case "Success":
        w.byte(MessageNumber.SUCCESS)
        return
      case "IdentitiesAnswer":
        w.byte(MessageNumber.IDENTITIES_ANSWER).uint32(response.identities.length)
        for (const id of response.identities) w.string(id.publicKey).string(utf8.encode(id.comment))
        return
      case "SignResponse":
        w.byte(MessageNumber.SIGN_RESPONSE).string(response.signature)
        return
      case "ExtensionFailure":
        w.byte(MessageNumber.EXTENSION_FAILURE)
        return
      case "ExtensionResponse":
        w.byte(MessageNumber.EXTENSION_RESPONSE).raw(response.data)
        return
    }
  })

/**
 * Decodes a response payload (without its length). Unknown message numbers and trailing bytes are errors;
 * an IDENTITIES_ANSWER announcing more than `MAX_IDENTITIES` keys fails before anything is allocated.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeResponse = (payload: Uint8Array): Either.Either<Response, WireError> =>
  Reader.run(payload, (r): Response => {
    if (payload.length > MAX_MESSAGE_LENGTH) throw new WireError({ reason: "TooLarge", description: "agent message over 256 KiB" })
    const type = r.byte()
    let response: Response
    switch (type) {
      case MessageNumber.FAILURE:
        response = { _tag: "Failure" }
        break
      case MessageNumber.SUCCESS:
        response = { _tag: "Success" }
        break
      case MessageNumber.IDENTITIES_ANSWER: {
        const n = r.uint32()
        if (n > MAX_IDENTITIES) throw new WireError({ reason: "TooLarge", description: `${n} identities, at most ${MAX_IDENTITIES}` })
        // Each identity takes at least 8 bytes: a count beyond what is left is a lie told before any loop.
        if (n * 8 > r.remaining) throw new WireError({ reason: "Truncated", description: `${n} identities in ${r.remaining} bytes` })
        const identities: Array<Identity> = []
        for (let i = 0; i < n; i++) identities.push({ publicKey: r.string().slice(), comment: commentText(r.string()) })
        response = { _tag: "IdentitiesAnswer", identities }
        break
      }
      case MessageNumber.SIGN_RESPONSE:
        response = { _tag: "SignResponse", signature: r.string().slice() }
        break
      case MessageNumber.EXTENSION_FAILURE:
        response = { _tag: "ExtensionFailure" }
        break
      case MessageNumber.EXTENSION_RESPONSE:
        return { _tag: "ExtensionResponse", data: r.raw(r.remaining).slice() }
      default:
        throw invalid(`unknown agent response type ${type}`)
    }
    r.end_()
    return response
  })

const lenient = new TextDecoder("utf-8")

/** Comments are free text (often a file name): decoded leniently, since a bad byte in one must not lose the key. */
const commentText = (b: Uint8Array): string => lenient.decode(b)

const readSecret = (r: Reader.Reader): Redacted.Redacted<string> => Redacted.make(lenient.decode(r.string()))

const ECDSA_CURVES = new Map([
  ["ecdsa-sha2-nistp256", "nistp256"],
  ["ecdsa-sha2-nistp384", "nistp384"],
  ["ecdsa-sha2-nistp521", "nistp521"]
] as const)

/** RFC 9987 §4.2.3 key layouts; the key checks (SEC-60: ed25519 64 bytes, RSA primes and size) are KeyMaterial's. */
const readKey = (r: Reader.Reader): KeyToAdd => {
  const keyType = r.ascii()
  let certificate: Uint8Array | undefined
  let plainType = keyType
  let pub: HostKey.DecodedPublicKey | undefined
  const certified = HostKey.certifiedKeyType(keyType)
  if (certified !== undefined) {
    certificate = r.string().slice()
    const decoded = HostKey.decodeCertifiedKey(certificate, { minRsaBits: 1024 })
    if (Either.isLeft(decoded)) throw invalid(`certificate: ${decoded.left.description}`)
    if (decoded.right.keyType !== keyType) throw invalid("certificate of another type than announced")
    pub = decoded.right
    plainType = certified
  }
  const material = keyed(() => {
    if (plainType === "ssh-ed25519") {
      const pk = r.string()
      const sk = r.string()
      if (pk.length !== 32 || sk.length !== 64) throw invalid("ssh-ed25519 key of the wrong length")
      if (!equal(sk.subarray(32), pk)) throw invalid("ssh-ed25519 private key does not end with its public key")
      return ed25519FromSeed(sk.subarray(0, 32), pk)
    }
    const curve = ECDSA_CURVES.get(plainType as "ecdsa-sha2-nistp256")
    if (curve !== undefined) {
      let q: Uint8Array
      if (pub === undefined) {
        if (r.ascii() !== curve) throw invalid(`${plainType} key names another curve`)
        q = r.string()
      } else q = pub.material.type === "ecdsa" ? pub.material.q : new Uint8Array(0)
      return ecdsaFromScalar(curve, r.mpint(), q)
    }
    if (plainType === "ssh-rsa") {
      let n: bigint
      let e: bigint
      if (pub === undefined) [n, e] = [r.mpint(), r.mpint()]
      else if (pub.material.type === "rsa") [n, e] = [pub.material.n, pub.material.e]
      else throw invalid("certificate key mismatch")
      const [d, iqmp, p, q] = [r.mpint(), r.mpint(), r.mpint(), r.mpint()]
      const bits = n.toString(2).length
      // OpenSSH refuses RSA keys under 1024 bits (SSH_RSA_MINIMUM_MODULUS_SIZE); 16 384 is the mpint cap.
      if (bits < 1024 || bits > HostKey.MAX_RSA_BITS) throw invalid(`ssh-rsa key of ${bits} bits`)
      const key = rsaFromPrimes(n, e, d, p, q)
      if (key.type === "rsa" && key.iqmp !== iqmp) throw invalid("ssh-rsa iqmp is not q⁻¹ mod p")
      return key
    }
    throw invalid(`unsupported key type ${keyType}`)
  })
  if (pub !== undefined && pub.material.type !== material.type) throw invalid("certificate certifies another key type")
  const comment = commentText(r.string())
  return { key: Redacted.make(material), certificate, comment }
}

/** KeyMaterial's constructors throw a KeyError; inside a decoder that is a WireError (SEC-10). */
const keyed = (f: () => PrivateKeyMaterial): PrivateKeyMaterial => {
  try {
    return f()
  } catch (e) {
    if (e instanceof WireError) throw e
    throw invalid(typeof e === "object" && e !== null && "description" in e ? String(e.description) : "bad private key")
  }
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Decodes a request payload (without its length). Unknown message numbers, trailing bytes, malformed keys and
 * malformed constraints are errors (SEC-60); the agent answers them with FAILURE.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeRequest = (payload: Uint8Array): Either.Either<Request, WireError> =>
  Reader.run(payload, (r): Request => {
    if (payload.length > MAX_MESSAGE_LENGTH) throw new WireError({ reason: "TooLarge", description: "agent message over 256 KiB" })
    const type = r.byte()
    let request: Request
    switch (type) {
      case MessageNumber.REQUEST_IDENTITIES:
        request = { _tag: "RequestIdentities" }
        break
      case MessageNumber.SIGN_REQUEST:
        request = { _tag: "SignRequest", publicKey: r.string().slice(), data: r.string().slice(), flags: r.uint32() }
        break
      case MessageNumber.ADD_IDENTITY:
      case MessageNumber.ADD_ID_CONSTRAINED: {
        const identity = readKey(r)
        const constraints = type === MessageNumber.ADD_ID_CONSTRAINED ? readConstraints(r) : []
        request = { _tag: "AddIdentity", identity, constraints }
        break
      }
      case MessageNumber.REMOVE_IDENTITY:
        request = { _tag: "RemoveIdentity", publicKey: r.string().slice() }
        break
      case MessageNumber.REMOVE_ALL_IDENTITIES:
        request = { _tag: "RemoveAllIdentities" }
        break
      case MessageNumber.ADD_SMARTCARD_KEY:
      case MessageNumber.ADD_SMARTCARD_KEY_CONSTRAINED: {
        const provider = lenient.decode(r.string())
        const pin = readSecret(r)
        const constraints = type === MessageNumber.ADD_SMARTCARD_KEY_CONSTRAINED ? readConstraints(r) : []
        request = { _tag: "AddSmartcardKey", provider, pin, constraints }
        break
      }
      case MessageNumber.REMOVE_SMARTCARD_KEY:
        request = { _tag: "RemoveSmartcardKey", provider: lenient.decode(r.string()), pin: readSecret(r) }
        break
      case MessageNumber.LOCK:
      case MessageNumber.UNLOCK:
        request = { _tag: type === MessageNumber.LOCK ? "Lock" : "Unlock", passphrase: readSecret(r) }
        break
      case MessageNumber.EXTENSION:
        return { _tag: "Extension", name: bounded(r.ascii(), 256, "extension name"), data: r.raw(r.remaining).slice() }
      default:
        throw invalid(`unknown agent request type ${type}`)
    }
    r.end_()
    return request
  })

/**
 * Encodes the body of a `session-bind@openssh.com` extension request (PROTOCOL.agent §1).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeSessionBind = (bind: SessionBind): Request => ({
  _tag: "Extension",
  name: "session-bind@openssh.com",
  data: Writer.build((w) => w.string(bind.hostKey).string(bind.sessionId).string(bind.signature).boolean(bind.forwarding))
})

/**
 * Decodes the body of a `session-bind@openssh.com` extension; session ids over 128 bytes are refused (LIM-30,
 * OpenSSH `AGENT_MAX_SID_LEN`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeSessionBind = (data: Uint8Array): Either.Either<SessionBind, WireError> =>
  Reader.run(data, (r): SessionBind => {
    const hostKey = r.string().slice()
    const sessionId = r.string().slice()
    if (sessionId.length > 128) throw new WireError({ reason: "TooLarge", description: "session id over 128 bytes" })
    const signature = r.string().slice()
    const forwarding = r.boolean()
    r.end_()
    return { hostKey, sessionId, signature, forwarding }
  })

/**
 * Splits a byte stream into agent message payloads. The length of each frame is checked against
 * `MAX_MESSAGE_LENGTH` before anything is buffered (SEC-60: a length of 0xFFFFFFFF is an error, not an
 * allocation); a zero length is an error too (every message has a type byte).
 *
 * @since 0.1.0
 * @category models
 */
export class FrameReader {
  private chunks: Array<Uint8Array> = []
  private buffered = 0

  /** Appends bytes and returns the complete payloads, or a `WireError` once a frame announces a bad length. */
  push(chunk: Uint8Array): Either.Either<ReadonlyArray<Uint8Array>, WireError> {
    if (chunk.length > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
    }
    const out: Array<Uint8Array> = []
    for (;;) {
      if (this.buffered < 4) return Either.right(out)
      const head = this.take(4, false)
      const length = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0
      if (length === 0 || length > MAX_MESSAGE_LENGTH) {
        return Either.left(new WireError({ reason: "TooLarge", description: `agent frame of ${length} bytes (1..${MAX_MESSAGE_LENGTH})` }))
      }
      if (this.buffered < 4 + length) return Either.right(out)
      this.take(4, true)
      out.push(this.take(length, true))
    }
  }

  /** Whether a partial frame is buffered. */
  get pending(): boolean {
    return this.buffered > 0
  }

  private take(n: number, consume: boolean): Uint8Array {
    const first = this.chunks[0]!
    let out: Uint8Array
    if (first.length >= n) out = first.subarray(0, n)
    else {
      out = new Uint8Array(n)
      let at = 0
      for (const c of this.chunks) {
        const part = c.subarray(0, n - at)
        out.set(part, at)
        at += part.length
        if (at === n) break
      }
    }
    if (consume) {
      let left = n
      while (left > 0) {
        const c = this.chunks[0]!
        if (c.length <= left) {
          left -= c.length
          this.chunks.shift()
        } else {
          this.chunks[0] = c.subarray(left)
          left = 0
        }
      }
      this.buffered -= n
      if (first.length >= n) out = out.slice()
    }
    return out
  }
}
