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
 * Every packet cipher we implement, in default preference order; the CBC ones after the defaults are off unless
 * named explicitly (SEC-05, SEC-26).
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
  "aes256-ctr",
  "aes128-cbc",
  "aes192-cbc",
  "aes256-cbc",
  "3des-cbc"
] as const

/**
 * The name of a packet cipher we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type CipherName = typeof CIPHERS[number]

/**
 * The legacy ciphers: implemented for old equipment, never offered unless named (CBC: RFC 4253 §6.3 chains the
 * IV across packets, and encrypt-and-MAC CBC leaks plaintext through the length field, CVE-2008-5161; 3DES has
 * 64-bit blocks, Sweet32).
 *
 * @since 0.1.0
 * @category defaults
 */
export const LEGACY_CIPHERS: ReadonlyArray<CipherName> = ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"]

/**
 * The ciphers offered by default: every cipher in `CIPHERS` except `LEGACY_CIPHERS`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_CIPHERS: ReadonlyArray<CipherName> = CIPHERS.filter((c) => !LEGACY_CIPHERS.includes(c))

/**
 * Every MAC we implement, in default preference order (DESIGN.md §5); the MD5 and truncated -96 ones at the end
 * are off unless named explicitly.
 *
 * @since 0.1.0
 * @category models
 */
export const MACS = [
  "hmac-sha2-256-etm@openssh.com",
  "hmac-sha2-512-etm@openssh.com",
  "umac-128-etm@openssh.com",
  "umac-64-etm@openssh.com",
  "hmac-sha2-256",
  "hmac-sha2-512",
  "umac-64@openssh.com",
  "umac-128@openssh.com",
  "hmac-sha1-etm@openssh.com",
  "hmac-sha1",
  "hmac-sha1-96-etm@openssh.com",
  "hmac-sha1-96",
  "hmac-md5-etm@openssh.com",
  "hmac-md5",
  "hmac-md5-96-etm@openssh.com",
  "hmac-md5-96"
] as const

/**
 * The name of a MAC we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type MacName = typeof MACS[number]

/**
 * The legacy MACs: HMAC-MD5 (MD5 is broken for collisions; HMAC-MD5 has no practical break, but nothing needs
 * it) and the 96-bit truncations (shorter tags), never offered unless named (SEC-26).
 *
 * @since 0.1.0
 * @category defaults
 */
export const LEGACY_MACS: ReadonlyArray<MacName> = [
  "hmac-sha1-96-etm@openssh.com",
  "hmac-sha1-96",
  "hmac-md5-etm@openssh.com",
  "hmac-md5",
  "hmac-md5-96-etm@openssh.com",
  "hmac-md5-96"
]

/**
 * The MACs offered by default: every MAC in `MACS` except `LEGACY_MACS`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MACS: ReadonlyArray<MacName> = MACS.filter((m) => !LEGACY_MACS.includes(m))

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
 * The OpenSSH certificate algorithms (PROTOCOL.certkeys), in the order of `HOST_KEY_ALGORITHMS`: the key is a
 * `*-cert-v01@openssh.com` blob and the signature is made by the certified key under the plain algorithm
 * (`rsa-sha2-512-cert-v01@openssh.com` signs with rsa-sha2-512). `ssh-rsa-cert-v01@openssh.com` is RSA with
 * SHA-1: off by default.
 *
 * @since 0.1.0
 * @category models
 */
export const HOST_KEY_CERT_ALGORITHMS = [
  "ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ecdsa-sha2-nistp384-cert-v01@openssh.com",
  "ecdsa-sha2-nistp521-cert-v01@openssh.com",
  "rsa-sha2-512-cert-v01@openssh.com",
  "rsa-sha2-256-cert-v01@openssh.com",
  "ssh-rsa-cert-v01@openssh.com"
] as const

/**
 * The name of a certificate algorithm we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type HostKeyCertAlgorithmName = typeof HOST_KEY_CERT_ALGORITHMS[number]

/**
 * The certificate algorithms on by default: all but `ssh-rsa-cert-v01@openssh.com` (SHA-1).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_HOST_KEY_CERT_ALGORITHMS: ReadonlyArray<HostKeyCertAlgorithmName> = HOST_KEY_CERT_ALGORITHMS
  .slice(0, 6)

/**
 * Every host key algorithm a transport accepts in its `hostKey` list: the plain ones, then the certificate ones.
 *
 * @since 0.1.0
 * @category models
 */
export const ALL_HOST_KEY_ALGORITHMS: ReadonlyArray<HostKeyAlgorithmName | HostKeyCertAlgorithmName> = [
  ...HOST_KEY_ALGORITHMS,
  ...HOST_KEY_CERT_ALGORITHMS
]

/**
 * The host key algorithms a transport offers when none are configured: the plain defaults first, then the
 * certificate ones. The order is fixed whatever the host (SEC-62: an order that depends on known_hosts reveals
 * what is known); a `knownHosts` policy with an `@cert-authority` line for the host moves the certificate ones
 * first, as OpenSSH does, so that the server presents its certificate.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_ALL_HOST_KEY_ALGORITHMS: ReadonlyArray<HostKeyAlgorithmName | HostKeyCertAlgorithmName> = [
  ...DEFAULT_HOST_KEY_ALGORITHMS,
  ...DEFAULT_HOST_KEY_CERT_ALGORITHMS
]

/**
 * The compression methods we implement (RFC 4253 §6.2; OpenSSH PROTOCOL §1.2). The zlib methods need a
 * compression backend with zlib streams (`effect-ssh/node` has one); without it only `none` is offered.
 *
 * @since 0.1.0
 * @category models
 */
export const COMPRESSION = ["none", "zlib@openssh.com", "zlib"] as const

/**
 * The name of a compression method we implement.
 *
 * @since 0.1.0
 * @category models
 */
export type CompressionName = typeof COMPRESSION[number]

/**
 * The client's default compression list: none (compression is opt-in on the client, as in OpenSSH's
 * `Compression no` and asyncssh).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_COMPRESSION: ReadonlyArray<CompressionName> = ["none"]

/**
 * The server's default compression list, as OpenSSH sshd's: `zlib@openssh.com` (after authentication only) is
 * accepted when a client asks for it; `zlib`, active before authentication, never by default (SEC-51).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_SERVER_COMPRESSION: ReadonlyArray<CompressionName> = ["none", "zlib@openssh.com"]

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
  hostKey: DEFAULT_ALL_HOST_KEY_ALGORITHMS,
  cipher: DEFAULT_CIPHERS,
  mac: DEFAULT_MACS,
  compression: DEFAULT_COMPRESSION
}

/**
 * For a "no common algorithm" failure (DESIGN.md §7): when the peer offers algorithms of this kind that we
 * implement but leave off by default (the legacy ciphers and MACs, SHA-1 key exchange, `ssh-rsa`), a sentence
 * naming them and the one option that enables them, in OpenSSH's `+name` syntax; `undefined` otherwise.
 * `kind` is the key of the `algorithms` option (`kex`, `hostKey`, `cipher`, `mac`, `compression`).
 *
 * @since 0.1.0
 * @category utils
 */
export const offByDefaultHint = (
  kind: keyof AlgorithmPreferences,
  ours: ReadonlyArray<string>,
  theirs: ReadonlyArray<string>
): string | undefined => {
  const known: ReadonlyArray<string> = kind === "kex"
    ? KEX
    : kind === "hostKey"
    ? HOST_KEY_ALGORITHMS
    : kind === "cipher"
    ? CIPHERS
    : kind === "mac"
    ? MACS
    : COMPRESSION
  const on = new Set<string>([...defaults[kind], ...ours])
  const candidates = known.filter((name) => theirs.includes(name) && !on.has(name))
  if (candidates.length === 0) return undefined
  return `the peer offers ${candidates.join(", ")}, supported but not enabled here (off by default: weaker); ` +
    `to accept ${candidates.length === 1 ? "it" : "one"}, set the option algorithms: { ${kind}: "+${candidates[0]}" }`
}
