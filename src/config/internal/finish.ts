/**
 * After both passes: defaults and expansions as ssh.c main and readconf.c fill_default_options do them.
 *
 * @since 0.1.0
 */
import { type ForwardSpec } from "./forward.js"
import type * as Keywords from "./keywords.js"
import type { Problem, ResolveInput } from "./resolve.js"
import { connectionHash } from "./resolve.js"
import { expand, tilde } from "./tokens.js"

/**
 * One ProxyJump hop.
 *
 * @since 0.1.0
 * @category models
 */
export interface JumpHost {
  readonly user: string | undefined
  readonly host: string
  readonly port: number | undefined
}

/**
 * The options for one destination, as `ssh -G` resolves them. Lists keep ssh's order; `undefined` where
 * OpenSSH leaves an option unset (its default applies when connecting).
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  /** The destination as given (ssh -G `host`). */
  readonly alias: string
  /** The host to connect to: HostName with %h expanded, lower-cased (ssh -G `hostname`). */
  readonly hostname: string
  readonly user: string
  readonly port: number
  /** As written (`~` not expanded: ssh -G prints them so). The default list when none is configured. */
  readonly identityFiles: ReadonlyArray<string>
  readonly identityFilesConfigured: boolean
  readonly certificateFiles: ReadonlyArray<string>
  readonly identitiesOnly: boolean
  /** Expanded (`~`, tokens, variables); `none` turns the agent off. */
  readonly identityAgent: string | undefined
  /** ProxyJump hops in dialing order; empty without one. */
  readonly proxyJump: ReadonlyArray<JumpHost>
  /** ProxyJump as written (after `none` handling). */
  readonly proxyJumpText: string | undefined
  /** ProxyCommand as written (tokens are expanded when connecting); undefined when unset or `none`. */
  readonly proxyCommand: string | undefined
  /** Seconds; undefined for none. */
  readonly connectTimeout: number | undefined
  readonly serverAliveInterval: number
  readonly serverAliveCountMax: number
  readonly strictHostKeyChecking: "yes" | "no" | "ask" | "accept-new"
  /** Expanded (`~`, tokens, variables); empty for `none`. */
  readonly userKnownHostsFiles: ReadonlyArray<string>
  readonly globalKnownHostsFiles: ReadonlyArray<string>
  readonly hashKnownHosts: boolean
  /**
   * UpdateHostKeys (SEC-71) after ssh 9.2's defaults and checks: on unless VerifyHostKeyDNS is on or
   * UserKnownHostsFile is set to anything but `~/.ssh/known_hosts` alone; `ask` becomes `no` where ssh
   * disables it (ControlPersist with a ControlPath, RemoteCommand, RequestTTY no, LogLevel below INFO).
   */
  readonly updateHostKeys: "yes" | "no" | "ask"
  readonly checkHostIP: boolean
  /** OpenSSH algorithm strings (`+x`, `-x`, `^x` or a list) as configured. */
  readonly kexAlgorithms: string | undefined
  readonly ciphers: string | undefined
  readonly macs: string | undefined
  readonly hostKeyAlgorithms: string | undefined
  readonly pubkeyAcceptedAlgorithms: string | undefined
  readonly caSignatureAlgorithms: string | undefined
  readonly preferredAuthentications: string | undefined
  readonly passwordAuthentication: boolean
  readonly kbdInteractiveAuthentication: boolean
  readonly pubkeyAuthentication: boolean
  readonly batchMode: boolean
  readonly compression: boolean
  /** Bytes (0: the cipher's default) and seconds (0: none). */
  readonly rekeyLimit: { readonly bytes: number; readonly seconds: number }
  readonly sendEnv: ReadonlyArray<string>
  /** `NAME=value` pairs. */
  readonly setEnv: ReadonlyArray<string>
  readonly requestTTY: "auto" | "yes" | "no" | "force"
  readonly localForwards: ReadonlyArray<ForwardSpec>
  readonly remoteForwards: ReadonlyArray<ForwardSpec>
  readonly exitOnForwardFailure: boolean
  readonly forwardAgent: boolean | string
  readonly logLevel: Keywords.LogLevel
  readonly hostKeyAlias: string | undefined
  readonly remoteCommand: string | undefined
  readonly numberOfPasswordPrompts: number
  /** ClearAllForwardings: no -L/-R/-D forward from the config or the command line is set up. */
  readonly clearAllForwardings: boolean
  /** GatewayPorts: local forwards without an address listen on every interface. */
  readonly gatewayPorts: boolean
  /** ForkAfterAuthentication (ssh -f): go to the background once logged in (and the forwards are up). */
  readonly forkAfterAuthentication: boolean
  /**
   * PermitRemoteOpen: the `host:port` destinations (`*` wildcards) a remote dynamic forward may open; `any`
   * (the default) allows all, `none` none.
   */
  readonly permitRemoteOpen: ReadonlyArray<string>
  /** Keywords parsed but not acted on by effect-ssh, with their arguments. */
  readonly unimplemented: ReadonlyMap<string, ReadonlyArray<string>>
}

/** The `other` keywords effect-ssh acts on (read out of the map by `finish`). */
const APPLIED = new Set(["clearallforwardings", "gatewayports", "forkafterauthentication", "permitremoteopen"])

/**
 * ssh 9.2 (readconf.c fill_default_options, ssh.c main): UpdateHostKeys defaults to yes while VerifyHostKeyDNS is
 * off and UserKnownHostsFile is unset or exactly `~/.ssh/known_hosts` (as written: an expanded path or a second
 * file does not count); `ask` is turned off where ssh could not ask or the user would not see it.
 */
const updateHostKeysOf = (o: Keywords.Options): "yes" | "no" | "ask" => {
  const on = (k: string) => !["no", "false", undefined].includes(o.other.get(k)?.[0]?.toLowerCase())
  const value = o.updateHostKeys ??
    (!on("verifyhostkeydns") && (o.userKnownHostsFiles === undefined || o.userKnownHostsFiles.join(" ") === "~/.ssh/known_hosts")
      ? "yes"
      : "no")
  if (value !== "ask") return value
  const controlPath = o.other.get("controlpath")?.[0]
  if (on("controlpersist") && controlPath !== undefined && controlPath.toLowerCase() !== "none") return "no"
  const command = o.remoteCommand !== undefined && o.remoteCommand.toLowerCase() !== "none"
  const quiet = o.logLevel === "QUIET" || o.logLevel === "FATAL" || o.logLevel === "ERROR"
  return command || o.requestTTY === "no" || quiet ? "no" : "ask"
}

const yes = (args: ReadonlyArray<string> | undefined) => ["yes", "true"].includes(args?.[0]?.toLowerCase() ?? "")

/**
 * The identity files ssh tries when none is configured (readconf.c fill_default_options), in its order.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_IDENTITY_FILES: ReadonlyArray<string> = [
  "~/.ssh/id_rsa",
  "~/.ssh/id_ecdsa",
  "~/.ssh/id_ecdsa_sk",
  "~/.ssh/id_ed25519",
  "~/.ssh/id_ed25519_sk",
  "~/.ssh/id_xmss",
  "~/.ssh/id_dsa"
]

/**
 * misc.c parse_ssh_uri / parse_user_host_port for one ProxyJump hop.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseJumpHost = (text: string): JumpHost | undefined => {
  const uri = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/@[\]]+)(?::(\d+))?\/?$/i.exec(text)
  const m = uri ?? /^(?:(.+)@)?(\[[^\]]+\]|[^:@[\]]+)(?::(\d+))?$/.exec(text)
  if (m === null) return undefined
  const port = m[3] === undefined ? undefined : Number(m[3])
  if (port !== undefined && (port < 1 || port > 65535)) return undefined
  const host = m[2]!.startsWith("[") ? m[2]!.slice(1, -1) : m[2]!
  return { user: m[1], host, port }
}

/**
 * Fills defaults and expands what ssh expands before `-G` prints.
 *
 * @since 0.1.0
 * @category constructors
 */
export const finish = (
  o: Keywords.Options,
  host: string,
  input: ResolveInput
): Resolved | Problem => {
  const user = o.user ?? input.localUser
  const port = o.port ?? 22
  const tokens = {
    C: connectionHash(input.localHostname, host, String(port), user),
    L: input.localHostname.split(".")[0]!,
    i: String(input.uid),
    k: (o.hostKeyAlias ?? input.host).toLowerCase(),
    l: input.localHostname,
    n: input.host,
    p: String(port),
    d: input.homeDir,
    h: host,
    r: user,
    u: input.localUser
  }
  let problem: Problem | undefined
  const full = (text: string, env = true): string => {
    const r = expand(tilde(text, input.homeDir), tokens, env ? input.env ?? (() => undefined) : undefined)
    if ("error" in r) problem ??= { file: "(expansion)", line: 0, message: r.error }
    return "value" in r ? r.value : text
  }
  const userFiles = o.userKnownHostsFiles ?? ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"]
  const jumpText = o.proxyJump === undefined || o.proxyJump.toLowerCase() === "none" ? undefined : o.proxyJump
  const hops = (jumpText ?? "").split(",").filter((h) => h !== "").map(parseJumpHost)
  if (hops.some((h) => h === undefined)) return { file: "ProxyJump", line: 0, message: `invalid ProxyJump "${jumpText}"` }
  const proxyCommand = o.proxyCommand === undefined || o.proxyCommand.toLowerCase() === "none" || jumpText !== undefined
    ? undefined
    : o.proxyCommand
  const resolved: Resolved = {
    alias: input.host,
    hostname: host,
    user,
    port,
    identityFiles: o.identityFiles.length > 0 ? o.identityFiles : DEFAULT_IDENTITY_FILES,
    identityFilesConfigured: o.identityFiles.length > 0,
    certificateFiles: o.certificateFiles,
    identitiesOnly: o.identitiesOnly ?? false,
    identityAgent: o.identityAgent === undefined ? undefined : full(o.identityAgent),
    proxyJump: hops.filter((h): h is JumpHost => h !== undefined),
    proxyJumpText: jumpText,
    proxyCommand,
    connectTimeout: o.connectTimeout === undefined || o.connectTimeout === -1 ? undefined : o.connectTimeout,
    // Debian's OpenSSH (the one ssh -G is compared with) keeps a BatchMode connection alive every 5 minutes.
    serverAliveInterval: o.serverAliveInterval ?? (o.batchMode === true ? 300 : 0),
    serverAliveCountMax: o.serverAliveCountMax ?? 3,
    strictHostKeyChecking: o.strictHostKeyChecking ?? "ask",
    userKnownHostsFiles: userFiles.length === 1 && userFiles[0]!.toLowerCase() === "none" ? [] : userFiles.map((f) => full(f)),
    globalKnownHostsFiles: (o.globalKnownHostsFiles ?? ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"])
      .filter((f, _, all) => !(all.length === 1 && f.toLowerCase() === "none")),
    hashKnownHosts: o.hashKnownHosts ?? false,
    updateHostKeys: updateHostKeysOf(o),
    checkHostIP: o.checkHostIP ?? false,
    kexAlgorithms: o.kexAlgorithms,
    ciphers: o.ciphers,
    macs: o.macs,
    hostKeyAlgorithms: o.hostKeyAlgorithms,
    pubkeyAcceptedAlgorithms: o.pubkeyAcceptedAlgorithms,
    caSignatureAlgorithms: o.caSignatureAlgorithms,
    preferredAuthentications: o.preferredAuthentications,
    passwordAuthentication: o.passwordAuthentication ?? true,
    kbdInteractiveAuthentication: o.kbdInteractiveAuthentication ?? true,
    pubkeyAuthentication: o.pubkeyAuthentication ?? true,
    batchMode: o.batchMode ?? false,
    compression: o.compression ?? false,
    rekeyLimit: { bytes: o.rekeyLimit ?? 0, seconds: o.rekeyInterval ?? 0 },
    sendEnv: o.sendEnv,
    setEnv: o.setEnv,
    requestTTY: o.requestTTY ?? "auto",
    localForwards: o.localForwards,
    remoteForwards: o.remoteForwards,
    exitOnForwardFailure: o.exitOnForwardFailure ?? false,
    forwardAgent: typeof o.forwardAgent === "string" ? full(o.forwardAgent) : o.forwardAgent ?? false,
    logLevel: o.logLevel ?? "INFO",
    hostKeyAlias: o.hostKeyAlias?.toLowerCase(),
    remoteCommand: o.remoteCommand === undefined || o.remoteCommand.toLowerCase() === "none"
      ? undefined
      : full(o.remoteCommand, false),
    numberOfPasswordPrompts: o.numberOfPasswordPrompts ?? 3,
    clearAllForwardings: yes(o.other.get("clearallforwardings")),
    gatewayPorts: yes(o.other.get("gatewayports")),
    forkAfterAuthentication: yes(o.other.get("forkafterauthentication")),
    permitRemoteOpen: o.other.get("permitremoteopen") ?? ["any"],
    unimplemented: new Map([...o.other].filter(([k]) => !APPLIED.has(k)))
  }
  return problem ?? resolved
}
