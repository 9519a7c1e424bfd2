/**
 * Algorithm names (as the RFCs spell them) and the default preference lists (DESIGN.md §5, SEC-26).
 *
 * @since 0.1.0
 */

/**
 * Every key exchange method we implement, in default preference order; the ones after the defaults are off
 * unless named explicitly.
 *
 * @since 0.1.0
 * @category models
 */
export const KEX = [
  "mlkem768x25519-sha256",
  "sntrup761x25519-sha512",
  "sntrup761x25519-sha512@openssh.com",
  "curve25519-sha256",
  "curve25519-sha256@libssh.org",
  "ecdh-sha2-nistp256",
  "ecdh-sha2-nistp384",
  "ecdh-sha2-nistp521",
  "diffie-hellman-group-exchange-sha256",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group18-sha512",
  "diffie-hellman-group14-sha256",
  "diffie-hellman-group14-sha1",
  "diffie-hellman-group1-sha1",
  "diffie-hellman-group-exchange-sha1"
] as const

/**
 * The name of a key exchange method we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type KexName = typeof KEX[number]

/**
 * The key exchange methods offered by default: every method in `KEX` except the SHA-1 ones (group14-sha1,
 * group1-sha1, group-exchange-sha1). The post-quantum hybrids come first (DESIGN.md §5): a peer that lacks them
 * simply negotiates the next common method, curve25519-sha256 with most (RFC 4253 §7.1).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_KEX: ReadonlyArray<KexName> = KEX.slice(0, 12)

/**
 * Every packet cipher we implement, in default preference order.
 *
 * @since 0.1.0
 * @category models
 */
export const CIPHERS = [
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "chacha20-poly1305@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr"
] as const

/**
 * The name of a packet cipher we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type CipherName = typeof CIPHERS[number]

/**
 * The ciphers offered by default: all of `CIPHERS`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_CIPHERS: ReadonlyArray<CipherName> = CIPHERS

/**
 * Every MAC we implement, in default preference order.
 *
 * @since 0.1.0
 * @category models
 */
export const MACS = [
  "hmac-sha2-256-etm@openssh.com",
  "hmac-sha2-512-etm@openssh.com",
  "hmac-sha2-256",
  "hmac-sha2-512",
  "hmac-sha1-etm@openssh.com",
  "hmac-sha1"
] as const

/**
 * The name of a MAC we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type MacName = typeof MACS[number]

/**
 * The MACs offered by default: all of `MACS`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MACS: ReadonlyArray<MacName> = MACS

/**
 * Host key and signature algorithms (RFC 8709, RFC 5656, RFC 8332). `ssh-rsa` is RSA with SHA-1: off by default.
 *
 * @since 0.1.0
 * @category models
 */
export const HOST_KEY_ALGORITHMS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa"
] as const

/**
 * The name of a host key or signature algorithm we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type HostKeyAlgorithmName = typeof HOST_KEY_ALGORITHMS[number]

/**
 * The host key algorithms offered by default: every one in `HOST_KEY_ALGORITHMS` except `ssh-rsa`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_HOST_KEY_ALGORITHMS: ReadonlyArray<HostKeyAlgorithmName> = HOST_KEY_ALGORITHMS.slice(0, 6)

/**
 * The compression methods we implement: only `none`.
 *
 * @since 0.1.0
 * @category models
 */
export const COMPRESSION = ["none"] as const

/**
 * The name of a compression method we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type CompressionName = typeof COMPRESSION[number]

/**
 * The algorithm preferences of one side, by kind, in preference order.
 *
 * @since 0.1.0
 * @category models
 */
export interface AlgorithmPreferences {
  readonly kex: ReadonlyArray<string>
  readonly hostKey: ReadonlyArray<string>
  readonly cipher: ReadonlyArray<string>
  readonly mac: ReadonlyArray<string>
  readonly compression: ReadonlyArray<string>
}

/**
 * The default preferences, built from the `DEFAULT_*` lists.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaults: AlgorithmPreferences = {
  kex: DEFAULT_KEX,
  hostKey: DEFAULT_HOST_KEY_ALGORITHMS,
  cipher: DEFAULT_CIPHERS,
  mac: DEFAULT_MACS,
  compression: COMPRESSION
}
