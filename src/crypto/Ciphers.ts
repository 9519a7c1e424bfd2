/**
 * The registry of packet ciphers and MACs by RFC name, and the constructors that turn a negotiated pair plus
 * derived keys into a `PacketSealer`/`PacketOpener` over any crypto backend (RFC 4253 §6, §7.2).
 *
 * @since 0.1.0
 */
import type { CipherName, MacName } from "./Algorithms.js"
import type { SymmetricPrimitives } from "./Backend.js"
import { makeAesCtrOpener, makeAesCtrSealer } from "./cipher/AesCtrHmac.js"
import { makeAesGcmOpener, makeAesGcmSealer } from "./cipher/AesGcm.js"
import { makeChaChaPolyOpener, makeChaChaPolySealer } from "./cipher/ChaChaPoly.js"
import * as None from "./cipher/None.js"
import type { DirectionKeys, PacketOpener, PacketSealer } from "./PacketCipher.js"


/**
 * What key exchange and the packet layer need to know about a cipher: key and IV lengths for key derivation
 * (RFC 4253 §7.2), the block size for padding, and whether it authenticates by itself (then no MAC is used).
 *
 * @since 0.1.0
 * @category models
 */
export interface CipherSpec {
  readonly name: CipherName
  readonly keyLength: number
  readonly ivLength: number
  readonly blockSize: number
  readonly aead: boolean
}

/**
 * A MAC: key length for key derivation, tag length, the HMAC hash, and encrypt-then-MAC ordering.
 *
 * @since 0.1.0
 * @category models
 */
export interface MacSpec {
  readonly name: MacName
  readonly keyLength: number
  readonly length: number
  readonly hash: "sha1" | "sha256" | "sha512"
  readonly etm: boolean
}

/**
 * Every cipher we implement, in the order of `Algorithms.CIPHERS`.
 *
 * @since 0.1.0
 * @category models
 */
export const cipherSpecs: ReadonlyArray<CipherSpec> = [
  // RFC 5647 §7.1 / OpenSSH PROTOCOL §1.6: 12-byte IV (4 fixed ‖ 8 invocation counter).
  { name: "aes128-gcm@openssh.com", keyLength: 16, ivLength: 12, blockSize: 16, aead: true },
  { name: "aes256-gcm@openssh.com", keyLength: 32, ivLength: 12, blockSize: 16, aead: true },
  // PROTOCOL.chacha20poly1305: 512 bits of key, no IV (the nonce is the sequence number).
  { name: "chacha20-poly1305@openssh.com", keyLength: 64, ivLength: 0, blockSize: 8, aead: true },
  // RFC 4344 §4
  { name: "aes128-ctr", keyLength: 16, ivLength: 16, blockSize: 16, aead: false },
  { name: "aes192-ctr", keyLength: 24, ivLength: 16, blockSize: 16, aead: false },
  { name: "aes256-ctr", keyLength: 32, ivLength: 16, blockSize: 16, aead: false }
]

/**
 * Every MAC we implement, in the order of `Algorithms.MACS`. RFC 6668 §2: HMAC key length = hash output length.
 *
 * @since 0.1.0
 * @category models
 */
export const macSpecs: ReadonlyArray<MacSpec> = [
  { name: "hmac-sha2-256-etm@openssh.com", keyLength: 32, length: 32, hash: "sha256", etm: true },
  { name: "hmac-sha2-512-etm@openssh.com", keyLength: 64, length: 64, hash: "sha512", etm: true },
  { name: "hmac-sha2-256", keyLength: 32, length: 32, hash: "sha256", etm: false },
  { name: "hmac-sha2-512", keyLength: 64, length: 64, hash: "sha512", etm: false },
  { name: "hmac-sha1-etm@openssh.com", keyLength: 20, length: 20, hash: "sha1", etm: true },
  { name: "hmac-sha1", keyLength: 20, length: 20, hash: "sha1", etm: false }
]

// Maps, not object literals: a peer-supplied name such as "__proto__" must find nothing.
const ciphersByName: ReadonlyMap<string, CipherSpec> = new Map(cipherSpecs.map((c) => [c.name, c]))
const macsByName: ReadonlyMap<string, MacSpec> = new Map(macSpecs.map((m) => [m.name, m]))

/**
 * The cipher with this exact name, or `undefined` when we do not implement it.
 *
 * @since 0.1.0
 * @category accessors
 */
export const cipherSpec = (name: string): CipherSpec | undefined => ciphersByName.get(name)

/**
 * The MAC with this exact name, or `undefined` when we do not implement it.
 *
 * @since 0.1.0
 * @category accessors
 */
export const macSpec = (name: string): MacSpec | undefined => macsByName.get(name)

/**
 * The sealer before the first NEWKEYS: no encryption, no MAC, 8-byte alignment (RFC 4253 §6).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNoneSealer: () => PacketSealer = None.makeNoneSealer

/**
 * The opener before the first NEWKEYS: blockSize 8, macLength 0, headerLength 4.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNoneOpener: () => PacketOpener = None.makeNoneOpener

// Wrong key lengths or a missing MAC are our own bugs (negotiation and key derivation produce them): defects.
const checkKeys = (cipher: CipherSpec, mac: MacSpec | undefined, keys: DirectionKeys): MacSpec | undefined => {
  if (keys.key.length !== cipher.keyLength) {
    throw new RangeError(`${cipher.name} needs a ${cipher.keyLength}-byte key, got ${keys.key.length}`)
  }
  if (keys.iv.length !== cipher.ivLength) {
    throw new RangeError(`${cipher.name} needs a ${cipher.ivLength}-byte IV, got ${keys.iv.length}`)
  }
  if (cipher.aead) return undefined
  if (mac === undefined) throw new Error(`${cipher.name} needs a MAC`)
  if (keys.macKey.length !== mac.keyLength) {
    throw new RangeError(`${mac.name} needs a ${mac.keyLength}-byte key, got ${keys.macKey.length}`)
  }
  return mac
}

/**
 * The sealer for one direction. For AEAD ciphers `mac` is ignored (PROTOCOL.chacha20poly1305, RFC 5647 §5.1);
 * otherwise it is required.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSealer = (
  backend: SymmetricPrimitives,
  cipher: CipherSpec,
  mac: MacSpec | undefined,
  keys: DirectionKeys
): PacketSealer => {
  const m = checkKeys(cipher, mac, keys)
  switch (cipher.name) {
    case "aes128-gcm@openssh.com":
    case "aes256-gcm@openssh.com":
      return makeAesGcmSealer(backend, keys)
    case "chacha20-poly1305@openssh.com":
      return makeChaChaPolySealer(backend, keys)
    case "aes128-ctr":
    case "aes192-ctr":
    case "aes256-ctr":
      return makeAesCtrSealer(backend, m!, keys)
  }
}

/**
 * The opener for one direction; see `makeSealer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeOpener = (
  backend: SymmetricPrimitives,
  cipher: CipherSpec,
  mac: MacSpec | undefined,
  keys: DirectionKeys
): PacketOpener => {
  const m = checkKeys(cipher, mac, keys)
  switch (cipher.name) {
    case "aes128-gcm@openssh.com":
    case "aes256-gcm@openssh.com":
      return makeAesGcmOpener(backend, keys)
    case "chacha20-poly1305@openssh.com":
      return makeChaChaPolyOpener(backend, keys)
    case "aes128-ctr":
    case "aes192-ctr":
    case "aes256-ctr":
      return makeAesCtrOpener(backend, m!, keys)
  }
}
