/**
 * Diffie-Hellman group exchange (RFC 4419): diffie-hellman-group-exchange-sha256 and the legacy -sha1. The
 * client asks for a group size, the server picks a group, then the exchange is the one-round DH of RFC 4253 §8
 * over that group (`DhGroup.withGroup`).
 *
 * The server picks only from RFC 3526's vetted safe primes (2048–8192 bits) instead of a moduli file, and the
 * client refuses groups outside [min, max] ∩ [2048, 8192] (SEC-17, LIM-14).
 *
 * @since 0.1.0
 */
import type { HashAlgorithm } from "../Backend.js"
import type { DhGroup, KexMethod } from "../Kex.js"
import { bitLength, MODP_2048, MODP_3072, MODP_4096, MODP_6144, MODP_8192, withGroup } from "./DhGroup.js"

/**
 * The smallest group size we request or accept (RFC 8270 §3; OpenSSH `DH_GRP_MIN`; LIM-14).
 *
 * @since 0.1.0
 * @category constants
 */
export const GEX_MIN = 2048

/**
 * The largest group size we request or accept (RFC 4419 §3 suggests 8192; OpenSSH `DH_GRP_MAX`; LIM-14).
 *
 * @since 0.1.0
 * @category constants
 */
export const GEX_MAX = 8192

/**
 * The sizes of SSH_MSG_KEX_DH_GEX_REQUEST (RFC 4419 §3): minimal, preferred and maximal group size in bits.
 *
 * @since 0.1.0
 * @category models
 */
export interface GexRequest {
  readonly min: number
  readonly n: number
  readonly max: number
}

/**
 * The preferred group size for a cipher suite that needs `securityBits` of strength, as OpenSSH's
 * `dh_estimate` maps it (NIST SP 800-57 Pt. 1 Table 2): ≤ 112 → 2048, ≤ 128 → 3072, ≤ 192 → 7680, else 8192.
 * OpenSSH passes 8 × the largest key, block, IV or MAC-key length of the negotiated ciphers, so aes128-gcm asks
 * for 3072 bits and chacha20-poly1305 or hmac-sha2-256 for 8192.
 *
 * @since 0.1.0
 * @category constructors
 */
export const preferredGroupBits = (securityBits: number): number =>
  securityBits <= 112 ? 2048 : securityBits <= 128 ? 3072 : securityBits <= 192 ? 7680 : 8192

/**
 * The client's request: min 2048 and max 8192 (SEC-17), preferred size from `preferredGroupBits`. The default
 * of 128 bits (n = 3072) matches what OpenSSH asks for with a 128-bit cipher; pass the strength of the negotiated
 * cipher and MAC to ask for more.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientRequest = (securityBits = 128): GexRequest => ({
  min: GEX_MIN,
  n: preferredGroupBits(securityBits),
  max: GEX_MAX
})

/** The server's vetted groups, smallest first (RFC 3526 §3–§7: safe primes, generator 2). */
const SERVER_GROUPS: ReadonlyArray<{ readonly bits: number; readonly group: DhGroup }> = [
  MODP_2048,
  MODP_3072,
  MODP_4096,
  MODP_6144,
  MODP_8192
].map((group) => ({ bits: bitLength(group.p), group }))

/**
 * The server's choice for a request (RFC 4419 §3): the smallest vetted group of at least `n` bits within
 * [min, max], else the largest one within [min, max]. `undefined` (disconnect) when the request is malformed
 * (not min ≤ n ≤ max) or no vetted group fits [min, max] ∩ [2048, 8192] (OpenSSH kexgexs.c, LIM-14).
 *
 * @since 0.1.0
 * @category constructors
 */
export const chooseGroup = (min: number, n: number, max: number): DhGroup | undefined => {
  if (!Number.isInteger(min) || !Number.isInteger(n) || !Number.isInteger(max)) return undefined
  if (min > n || n > max) return undefined
  const lo = Math.max(min, GEX_MIN)
  const hi = Math.min(max, GEX_MAX)
  const fitting = SERVER_GROUPS.filter((g) => g.bits >= lo && g.bits <= hi)
  const wanted = fitting.find((g) => g.bits >= n) ?? fitting[fitting.length - 1]
  return wanted?.group
}

/**
 * The request we send by default: { min: 2048, n: 3072, max: 8192 } (`clientRequest(128)`).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_REQUEST: GexRequest = clientRequest(128)

/**
 * The client's check of the group the server sent (RFC 4419 §3, SEC-17, LIM-14): p odd, its size within the
 * [min, max] we requested and within [2048, 8192], and 2 ≤ g ≤ p − 2. Returns why the group is refused, or
 * `undefined` when it is acceptable. Primality is not tested (OpenSSH does not either); the server is
 * authenticated by the host-key signature over the group.
 *
 * @since 0.1.0
 * @category utils
 */
export const checkGroup = (group: DhGroup, min: number, max: number): string | undefined => {
  const bits = bitLength(group.p)
  const lo = Math.max(min, GEX_MIN)
  const hi = Math.min(max, GEX_MAX)
  if (bits < lo || bits > hi) return `the server's DH group has ${bits} bits, outside the requested ${lo}..${hi}`
  if ((group.p & 1n) === 0n) return "the server's DH group modulus is even"
  if (group.g < 2n || group.g > group.p - 2n) return "the server's DH group generator is outside [2, p-2]"
  return undefined
}

const gex = (name: string, hash: HashAlgorithm): KexMethod => ({
  _tag: "GroupExchange",
  name,
  hash,
  withGroup: (group) => withGroup(group, hash)
})

/**
 * `diffie-hellman-group-exchange-sha256` (RFC 4419 §4.2).
 *
 * @since 0.1.0
 * @category methods
 */
export const diffieHellmanGroupExchangeSha256: KexMethod = gex("diffie-hellman-group-exchange-sha256", "sha256")

/**
 * `diffie-hellman-group-exchange-sha1` (RFC 4419 §4.1). Off by default (RFC 9142 §4: SHOULD NOT).
 *
 * @since 0.1.0
 * @category methods
 */
export const diffieHellmanGroupExchangeSha1: KexMethod = gex("diffie-hellman-group-exchange-sha1", "sha1")
