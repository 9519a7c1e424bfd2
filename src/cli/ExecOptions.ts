/**
 * The settings a command-line login needs (`Login.connect`), made from a resolved ssh_config destination by
 * `Ssh.settingsOf`.
 *
 * @since 0.1.0
 */

/**
 * OpenSSH StrictHostKeyChecking, with `off` read as `no` and `true`/`false` as `yes`/`no`.
 *
 * @since 0.1.0
 * @category models
 */
export type StrictHostKeyChecking = "yes" | "accept-new" | "no" | "ask"

/**
 * Algorithm preferences in OpenSSH syntax (`+ssh-rsa`, `-*-sha1`, `^aes128-ctr`, or a plain list).
 *
 * @since 0.1.0
 * @category models
 */
export interface AlgorithmStrings {
  readonly kex?: string | undefined
  readonly cipher?: string | undefined
  readonly mac?: string | undefined
  readonly hostKey?: string | undefined
}

/**
 * Everything `exec` needs to connect.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly host: string
  readonly port: number
  /** Undefined: the local user name. */
  readonly user: string | undefined
  /** Undefined: the default identities (`Login.DEFAULT_IDENTITIES`) that exist. */
  readonly identityFiles: ReadonlyArray<string> | undefined
  readonly algorithms: AlgorithmStrings
  readonly strictHostKeyChecking: StrictHostKeyChecking
  readonly userKnownHostsFiles: ReadonlyArray<string>
  readonly passwordAuthentication: boolean
  readonly kbdInteractiveAuthentication: boolean
  readonly batchMode: boolean
  /** Seconds; 0 turns keepalive off. */
  readonly serverAliveInterval: number
  readonly serverAliveCountMax: number
  /** Seconds, for the TCP connect and for the version exchange and first key exchange. */
  readonly connectTimeout: number | undefined
  readonly verbose: boolean
  /** Compression yes (-C): offer zlib@openssh.com and zlib before none. */
  readonly compression?: boolean | undefined
  /** GlobalKnownHostsFile: consulted after the user's files, never written. */
  readonly globalKnownHostsFiles?: ReadonlyArray<string> | undefined
  readonly hashKnownHosts?: boolean | undefined
  readonly checkHostIP?: boolean | undefined
  /** CertificateFile: user certificates tried with the identity whose public key they certify. */
  readonly certificateFiles?: ReadonlyArray<string> | undefined
  /** PreferredAuthentications, e.g. "publickey,password". */
  readonly preferredAuthentications?: string | undefined
  /** RekeyLimit: bytes (0: default) and seconds (0: none). */
  readonly rekeyLimit?: { readonly bytes: number; readonly seconds: number } | undefined
  readonly numberOfPasswordPrompts?: number | undefined
  /** IdentityAgent: the agent socket (`none`, `SSH_AUTH_SOCK`, `$VAR` or a path); undefined: SSH_AUTH_SOCK. */
  readonly identityAgent?: string | undefined
  /** IdentitiesOnly: offer only the agent keys that match an identity file. */
  readonly identitiesOnly?: boolean | undefined
  /** PubkeyAuthentication: `false` offers no key (and never asks the agent). */
  readonly pubkeyAuthentication?: boolean | undefined
  /** PubkeyAcceptedAlgorithms: keys of other types are not offered. */
  readonly pubkeyAcceptedAlgorithms?: string | undefined
  /** HostKeyAlias: the name known_hosts is searched and written under. */
  readonly hostKeyAlias?: string | undefined
  /** SEC-39: refuse a login granted without any proof (on when the agent is forwarded, -A / ForwardAgent). */
  readonly rejectTrivialAuth?: boolean | undefined
  /** UpdateHostKeys (SEC-71): learn rotated host keys into the user's known_hosts. */
  readonly updateHostKeys?: boolean | undefined
}
