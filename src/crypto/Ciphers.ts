/**
 * The registry of packet ciphers and MACs by RFC name, and the constructors that turn a negotiated pair plus
 * derived keys into a `PacketSealer`/`PacketOpener` over any crypto backend (RFC 4253 §6, §7.2).
 *
 * @since 0.1.0
 */
import type { CipherName, MacName } from "./Algorithms.js"
import type { SymmetricPrimitives } from "./Backend.js"
import { makeAesGcmOpener, makeAesGcmSealer } from "./cipher/AesGcm.js"
import { makeChaChaPolyOpener, makeChaChaPolySealer } from "./cipher/ChaChaPoly.js"
import { makeCipherMacOpener, makeCipherMacSealer } from "./cipher/CipherMac.js"
import * as None from "./cipher/None.js"
import { makePacketMac, type MacParams } from "./mac/Mac.js"
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
  /**
   * The most bytes one key may encrypt before a rekey is due, whatever `rekey.bytes` says (SEC-22, RFC 4344
   * §3.2): 2^32 blocks for 128-bit-block ciphers (2^(L/4) blocks, as OpenSSH), 1 GiB for chacha20-poly1305
   * (counted as OpenSSH does), and 64 MiB for 3DES's 64-bit blocks (RFC 4344 §3.2 asks for at least the 1 GiB of
   * RFC 4253 §9; the Sweet32 birthday bound makes 2^32 blocks the point of collision, so we stay 2^9 below it,
   * as OpenVPN does since Sweet32).
   */
  readonly maxBytesPerKey: number
}

/**
 * A MAC: key length for key derivation, tag length, the algorithm (HMAC and its hash, or UMAC), and
 * encrypt-then-MAC ordering.
 *
 * @since 0.1.0
 * @category models
 */
export type MacSpec = MacParams & {
  readonly name: MacName
  readonly keyLength: number
  readonly etm: boolean
}

// RFC 4344 §3.2: 2^(L/4) blocks of L = 128 bits.
const AES_LIMIT = 2 ** 32 * 16

const hmac = (name: MacName, hash: "md5" | "sha1" | "sha256" | "sha512", keyLength: number, length: number, etm: boolean): MacSpec => ({
  name,
  family: "hmac",
  hash,
  keyLength,
  length,
  etm
})
const umac = (name: MacName, length: number, etm: boolean): MacSpec => ({ name, family: "umac", keyLength: 16, length, etm })

/**
 * Every cipher we implement, in the order of `Algorithms.CIPHERS`.
 *
 * @since 0.1.0
 * @category models
 */
export const cipherSpecs: ReadonlyArray<CipherSpec> = [
  // RFC 5647 §7.1 / OpenSSH PROTOCOL §1.6: 12-byte IV (4 fixed ‖ 8 invocation counter).
  { name: "aes128-gcm@openssh.com", keyLength: 16, ivLength: 12, blockSize: 16, aead: true, maxBytesPerKey: AES_LIMIT },
  { name: "aes256-gcm@openssh.com", keyLength: 32, ivLength: 12, blockSize: 16, aead: true, maxBytesPerKey: AES_LIMIT },
  // PROTOCOL.chacha20poly1305: 512 bits of key, no IV (the nonce is the sequence number).
  { name: "chacha20-poly1305@openssh.com", keyLength: 64, ivLength: 0, blockSize: 8, aead: true, maxBytesPerKey: 2 ** 30 },
  // RFC 4344 §4
  { name: "aes128-ctr", keyLength: 16, ivLength: 16, blockSize: 16, aead: false, maxBytesPerKey: AES_LIMIT },
  { name: "aes192-ctr", keyLength: 24, ivLength: 16, blockSize: 16, aead: false, maxBytesPerKey: AES_LIMIT },
  { name: "aes256-ctr", keyLength: 32, ivLength: 16, blockSize: 16, aead: false, maxBytesPerKey: AES_LIMIT },
  // RFC 4253 §6.3 (legacy, off by default)
  { name: "aes128-cbc", keyLength: 16, ivLength: 16, blockSize: 16, aead: false, maxBytesPerKey: AES_LIMIT },
  { name: "aes192-cbc", keyLength: 24, ivLength: 16, blockSize: 16, aead: false, maxBytesPerKey: AES_LIMIT },
  { name: "aes256-cbc", keyLength: 32, ivLength: 16, blockSize: 16, aead: false, maxBytesPerKey: AES_LIMIT },
  { name: "3des-cbc", keyLength: 24, ivLength: 8, blockSize: 8, aead: false, maxBytesPerKey: 64 * 2 ** 20 }
]

/**
 * Every MAC we implement, in the order of `Algorithms.MACS`. RFC 6668 §2, RFC 2104: an HMAC key is as long as
 * the hash output, also for the -96 truncations (RFC 4253 §6.4); UMAC takes a 128-bit AES key (OpenSSH mac.c).
 *
 * @since 0.1.0
 * @category models
 */
export const macSpecs: ReadonlyArray<MacSpec> = [
  hmac("hmac-sha2-256-etm@openssh.com", "sha256", 32, 32, true),
  hmac("hmac-sha2-512-etm@openssh.com", "sha512", 64, 64, true),
  umac("umac-128-etm@openssh.com", 16, true),
  umac("umac-64-etm@openssh.com", 8, true),
  hmac("hmac-sha2-256", "sha256", 32, 32, false),
  hmac("hmac-sha2-512", "sha512", 64, 64, false),
  umac("umac-64@openssh.com", 8, false),
  umac("umac-128@openssh.com", 16, false),
  hmac("hmac-sha1-etm@openssh.com", "sha1", 20, 20, true),
  hmac("hmac-sha1", "sha1", 20, 20, false),
  hmac("hmac-sha1-96-etm@openssh.com", "sha1", 20, 12, true),
  hmac("hmac-sha1-96", "sha1", 20, 12, false),
  hmac("hmac-md5-etm@openssh.com", "md5", 16, 16, true),
  hmac("hmac-md5", "md5", 16, 16, false),
  hmac("hmac-md5-96-etm@openssh.com", "md5", 16, 12, true),
  hmac("hmac-md5-96", "md5", 16, 12, false)
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
 * How many bytes may pass under one key of `cipher` before a rekey: the configured `rekeyBytes`, lowered to the
 * cipher's own bound (`CipherSpec.maxBytesPerKey`, SEC-22: 64 MiB for 3des-cbc). An unknown name keeps
 * `rekeyBytes`.
 *
 * @since 0.1.0
 * @category utils
 */
export const rekeyLimit = (rekeyBytes: number, cipher: string): number =>
  Math.min(rekeyBytes, cipherSpec(cipher)?.maxBytesPerKey ?? rekeyBytes)

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

// CTR or CBC with a MAC (src/crypto/cipher/CipherMac.ts).
const cipherMac = (
  backend: SymmetricPrimitives,
  cipher: CipherSpec,
  mac: MacSpec,
  keys: DirectionKeys,
  direction: "encrypt" | "decrypt"
) => ({
  cipher: cipher.name.endsWith("-ctr")
    ? backend.aesCtr(keys.key, keys.iv)
    : backend.cbc(cipher.name === "3des-cbc" ? "3des" : "aes", keys.key, keys.iv, direction),
  blockSize: cipher.blockSize,
  mac: makePacketMac(backend, mac, keys.macKey),
  etm: mac.etm,
  cbc: cipher.name.endsWith("-cbc")
})

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
    default:
      return makeCipherMacSealer(cipherMac(backend, cipher, m!, keys, "encrypt"))
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
    default:
      return makeCipherMacOpener(cipherMac(backend, cipher, m!, keys, "decrypt"), backend.timingSafeEqual)
  }
}
