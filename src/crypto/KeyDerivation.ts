/**
 * Key derivation after key exchange (RFC 4253 §7.2): IVs, encryption keys and MAC keys for each direction from
 * the shared secret K, the exchange hash H and the session identifier.
 *
 * @since 0.1.0
 */
import type { HashAlgorithm, SymmetricPrimitives } from "./Backend.js"
import type { CipherSpec, MacSpec } from "./Ciphers.js"
import type { DirectionKeys } from "./PacketCipher.js"

/**
 * The letters of RFC 4253 §7.2: A/B initial IV, C/D encryption key, E/F integrity key, client→server first.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyLetter = "A" | "B" | "C" | "D" | "E" | "F"

/**
 * The direction whose keys to derive.
 *
 * @since 0.1.0
 * @category models
 */
export type Direction = "clientToServer" | "serverToClient"

const LETTERS: Readonly<Record<KeyLetter, Uint8Array>> = {
  A: new Uint8Array([0x41]),
  B: new Uint8Array([0x42]),
  C: new Uint8Array([0x43]),
  D: new Uint8Array([0x44]),
  E: new Uint8Array([0x45]),
  F: new Uint8Array([0x46])
}

/**
 * RFC 4253 §7.2: `K1 = HASH(K ‖ H ‖ letter ‖ session_id)`, `Kn = HASH(K ‖ H ‖ K1 ‖ … ‖ Kn−1)`, and the key is
 * the first `length` bytes of `K1 ‖ K2 ‖ …`. `kEncoded` is K exactly as it enters the exchange hash: an mpint
 * with its length prefix for the classic methods, a string for the post-quantum hybrids
 * (sntrup761x25519-sha512, mlkem768x25519-sha256). A zero length gives an empty key without hashing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const deriveKeys = (
  backend: Pick<SymmetricPrimitives, "hash">,
  hash: HashAlgorithm,
  kEncoded: Uint8Array,
  h: Uint8Array,
  sessionId: Uint8Array,
  letter: KeyLetter,
  length: number
): Uint8Array => {
  const out = new Uint8Array(length)
  if (length === 0) return out
  const k1 = backend.hash(hash).update(kEncoded).update(h).update(LETTERS[letter]).update(sessionId).digest()
  let filled = Math.min(k1.length, length)
  out.set(k1.subarray(0, filled))
  while (filled < length) {
    // Kn hashes everything produced so far, which is exactly out[0, filled) while the key is still growing.
    const kn = backend.hash(hash).update(kEncoded).update(h).update(out.subarray(0, filled)).digest()
    const n = Math.min(kn.length, length - filled)
    out.set(kn.subarray(0, n), filled)
    filled += n
  }
  return out
}

/**
 * The IV, key and MAC key of one direction, sized for the negotiated cipher and MAC: A, C, E for
 * client→server and B, D, F for server→client (RFC 4253 §7.2). AEAD ciphers take no MAC key.
 *
 * @since 0.1.0
 * @category constructors
 */
export const deriveDirectionKeys = (
  backend: Pick<SymmetricPrimitives, "hash">,
  hash: HashAlgorithm,
  kEncoded: Uint8Array,
  h: Uint8Array,
  sessionId: Uint8Array,
  direction: Direction,
  cipher: CipherSpec,
  mac: MacSpec | undefined
): DirectionKeys => {
  const c2s = direction === "clientToServer"
  const d = (letter: KeyLetter, length: number) => deriveKeys(backend, hash, kEncoded, h, sessionId, letter, length)
  return {
    iv: d(c2s ? "A" : "B", cipher.ivLength),
    key: d(c2s ? "C" : "D", cipher.keyLength),
    macKey: cipher.aead || mac === undefined ? new Uint8Array(0) : d(c2s ? "E" : "F", mac.keyLength)
  }
}
