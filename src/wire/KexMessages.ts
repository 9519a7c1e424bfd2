/**
 * Key-exchange method messages, numbers 30–34 (RFC 4250 §4.1.2). The numbers are reused by every method, so
 * decoding needs the family of the negotiated method:
 *
 * - `"ecdh"`: one round with an opaque value each way — ECDH (RFC 5656 §4), X25519 (RFC 8731), fixed finite-field
 *   groups (RFC 4253 §8, RFC 8268) and the post-quantum hybrids. Every value is an SSH `string`; for finite-field
 *   DH the string bytes are the body of the mpint `e`/`f`, which is byte-identical on the wire.
 * - `"gex"`: Diffie-Hellman group exchange (RFC 4419 §3, §5).
 *
 * Values are not validated here (range checks are SEC-17/SEC-18 in crypto/Kex.ts), except that `p` and `g`
 * of a GEX group are well-formed non-negative mpints (SEC-09). `decode` rejects trailing bytes and never throws.
 * Byte fields of decoded messages are copies and never alias the payload.
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import { MessageAlias, MessageId } from "./MessageId.js"
import * as Reader from "./Reader.js"
import { WireError } from "./WireError.js"
import * as Writer from "./Writer.js"

/**
 * The message family of a key exchange method.
 *
 * @since 0.1.0
 * @category models
 */
export type KexFamily = "ecdh" | "gex"

/**
 * RFC 5656 §4 SSH_MSG_KEX_ECDH_INIT (30) / RFC 4253 §8 SSH_MSG_KEXDH_INIT: Q_C or e.
 *
 * @since 0.1.0
 * @category models
 */
export interface KexEcdhInit {
  readonly _tag: "KexEcdhInit"
  readonly clientValue: Uint8Array
}

/**
 * RFC 5656 §4 SSH_MSG_KEX_ECDH_REPLY (31) / RFC 4253 §8 SSH_MSG_KEXDH_REPLY: K_S, Q_S or f, and the signature of H.
 *
 * @since 0.1.0
 * @category models
 */
export interface KexEcdhReply {
  readonly _tag: "KexEcdhReply"
  readonly hostKey: Uint8Array
  readonly serverValue: Uint8Array
  readonly signature: Uint8Array
}

/**
 * RFC 4419 §5 SSH_MSG_KEX_DH_GEX_REQUEST_OLD (30): the preferred group size in bits only.
 *
 * @since 0.1.0
 * @category models
 */
export interface GexRequestOld {
  readonly _tag: "GexRequestOld"
  readonly n: number
}

/**
 * RFC 4419 §3 SSH_MSG_KEX_DH_GEX_GROUP (31): the safe prime `p` and generator `g` chosen by the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface GexGroup {
  readonly _tag: "GexGroup"
  readonly p: bigint
  readonly g: bigint
}

/**
 * RFC 4419 §3 SSH_MSG_KEX_DH_GEX_INIT (32): `e`, as the string bytes of its mpint body.
 *
 * @since 0.1.0
 * @category models
 */
export interface GexInit {
  readonly _tag: "GexInit"
  readonly e: Uint8Array
}

/**
 * RFC 4419 §3 SSH_MSG_KEX_DH_GEX_REPLY (33): K_S, `f` (string bytes of its mpint body) and the signature of H.
 *
 * @since 0.1.0
 * @category models
 */
export interface GexReply {
  readonly _tag: "GexReply"
  readonly hostKey: Uint8Array
  readonly f: Uint8Array
  readonly signature: Uint8Array
}

/**
 * RFC 4419 §3 SSH_MSG_KEX_DH_GEX_REQUEST (34): minimal, preferred and maximal group size in bits.
 *
 * @since 0.1.0
 * @category models
 */
export interface GexRequest {
  readonly _tag: "GexRequest"
  readonly min: number
  readonly n: number
  readonly max: number
}

/**
 * Messages of the `"ecdh"` family.
 *
 * @since 0.1.0
 * @category models
 */
export type EcdhMessage = KexEcdhInit | KexEcdhReply

/**
 * Messages of the `"gex"` family.
 *
 * @since 0.1.0
 * @category models
 */
export type GexMessage = GexRequestOld | GexGroup | GexInit | GexReply | GexRequest

/**
 * Every key-exchange method message.
 *
 * @since 0.1.0
 * @category models
 */
export type KexMessage = EcdhMessage | GexMessage

/**
 * The message family of a key exchange method name: `"gex"` for `diffie-hellman-group-exchange-*`
 * (RFC 4419 §4), `"ecdh"` for every other method we implement.
 *
 * @since 0.1.0
 * @category utils
 */
export const kexFamily = (kexName: string): KexFamily =>
  kexName.startsWith("diffie-hellman-group-exchange-") ? "gex" : "ecdh"

/**
 * The family a message belongs to.
 *
 * @since 0.1.0
 * @category utils
 */
export const familyOf = (msg: KexMessage): KexFamily =>
  msg._tag === "KexEcdhInit" || msg._tag === "KexEcdhReply" ? "ecdh" : "gex"

// ---------------------------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------------------------

/**
 * Encodes a key-exchange message as a packet payload (message number first).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (msg: KexMessage): Uint8Array =>
  Writer.build((w) => {
    switch (msg._tag) {
      case "KexEcdhInit":
        w.byte(MessageAlias.KEX_ECDH_INIT).string(msg.clientValue)
        return
      case "KexEcdhReply":
        w.byte(MessageAlias.KEX_ECDH_REPLY).string(msg.hostKey).string(msg.serverValue).string(msg.signature)
        return
      case "GexRequestOld":
        w.byte(MessageAlias.KEX_DH_GEX_REQUEST_OLD).uint32(msg.n)
        return
      case "GexGroup":
        w.byte(MessageId.KEX_DH_GEX_GROUP).mpint(msg.p).mpint(msg.g)
        return
      case "GexInit":
        w.byte(MessageId.KEX_DH_GEX_INIT).string(msg.e)
        return
      case "GexReply":
        w.byte(MessageId.KEX_DH_GEX_REPLY).string(msg.hostKey).string(msg.f).string(msg.signature)
        return
      case "GexRequest":
        w.byte(MessageId.KEX_DH_GEX_REQUEST).uint32(msg.min).uint32(msg.n).uint32(msg.max)
        return
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------------------------

type Table<M> = ReadonlyMap<number, (r: Reader.Reader) => M>

// Object literal fields evaluate in order, which is wire order.
const ECDH: Table<EcdhMessage> = new Map<number, (r: Reader.Reader) => EcdhMessage>([
  [MessageAlias.KEX_ECDH_INIT, (r) => ({ _tag: "KexEcdhInit", clientValue: r.string().slice() })],
  [
    MessageAlias.KEX_ECDH_REPLY,
    (r) => ({
      _tag: "KexEcdhReply",
      hostKey: r.string().slice(),
      serverValue: r.string().slice(),
      signature: r.string().slice()
    })
  ]
])

const GEX: Table<GexMessage> = new Map<number, (r: Reader.Reader) => GexMessage>([
  // RFC 4419 §5: 30 is SSH_MSG_KEX_DH_GEX_REQUEST_OLD in this family.
  [MessageAlias.KEX_DH_GEX_REQUEST_OLD, (r) => ({ _tag: "GexRequestOld", n: r.uint32() })],
  [MessageId.KEX_DH_GEX_GROUP, (r) => ({ _tag: "GexGroup", p: r.mpint(), g: r.mpint() })],
  [MessageId.KEX_DH_GEX_INIT, (r) => ({ _tag: "GexInit", e: r.string().slice() })],
  [
    MessageId.KEX_DH_GEX_REPLY,
    (r) => ({ _tag: "GexReply", hostKey: r.string().slice(), f: r.string().slice(), signature: r.string().slice() })
  ],
  [MessageId.KEX_DH_GEX_REQUEST, (r) => ({ _tag: "GexRequest", min: r.uint32(), n: r.uint32(), max: r.uint32() })]
])

const TABLES: { readonly [F in KexFamily]: Table<KexMessage> } = { ecdh: ECDH, gex: GEX }

const decodeWith = <M>(family: KexFamily, table: Table<M>, payload: Uint8Array): Either.Either<M, WireError> =>
  Reader.run(payload, (r) => {
    const id = r.byte()
    const decoder = table.get(id)
    if (decoder === undefined) {
      throw new WireError({ reason: "Invalid", description: `message ${id} is not a ${family} key exchange message` })
    }
    const msg = decoder(r)
    r.end_()
    return msg
  })

/**
 * True when `n` is a message number of the family.
 *
 * @since 0.1.0
 * @category guards
 */
export const isKexMessageId = (family: KexFamily, n: number): boolean => TABLES[family].has(n)

/**
 * Decodes a payload of the `"ecdh"` family (30, 31). Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeEcdh = (payload: Uint8Array): Either.Either<EcdhMessage, WireError> =>
  decodeWith("ecdh", ECDH, payload)

/**
 * Decodes a payload of the `"gex"` family (30–34). Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeGex = (payload: Uint8Array): Either.Either<GexMessage, WireError> =>
  decodeWith("gex", GEX, payload)

/**
 * Decodes a key-exchange payload for the given family. Fails with a `WireError` on a number that the family
 * does not use (`Invalid`), malformed fields or trailing bytes (SEC-09). Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (family: KexFamily, payload: Uint8Array): Either.Either<KexMessage, WireError> =>
  decodeWith(family, TABLES[family], payload)
