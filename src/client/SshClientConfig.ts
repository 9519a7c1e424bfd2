/**
 * ssh_config for library connections: a destination resolved by `SshConfig.resolve` (or
 * `NodeSshConfig.resolve`, which reads the files like `ssh -G`) becomes `SshClientOptions` — HostName, Port,
 * User, IdentityFile (or ssh's default identities that exist) with their `-cert.pub` and CertificateFile
 * certificates, PreferredAuthentications, PasswordAuthentication, KbdInteractiveAuthentication, the
 * known_hosts policy of StrictHostKeyChecking with UserKnownHostsFile, GlobalKnownHostsFile, HashKnownHosts
 * and CheckHostIP, the algorithm lists, Compression, ConnectTimeout, ServerAliveInterval/CountMax and
 * RekeyLimit. SetEnv/SendEnv give a session's environment (`sessionEnv`); ProxyJump and ProxyCommand give a
 * `proxyPlan`.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Auth from "../auth/AuthMethod.js"
import * as SshConfig from "../config/SshConfig.js"
import * as Algorithms from "../crypto/Algorithms.js"
import { Crypto } from "../crypto/Crypto.js"
import * as Negotiate from "../crypto/Negotiate.js"
import * as KnownHosts from "../keys/KnownHosts.js"
import * as Match from "../keys/Match.js"
import { parsePrivateKey } from "../keys/PrivateKey.js"
import type { AuthError, TransportError } from "../SshError.js"
import type { Dialer } from "./Dialer.js"
import * as HostKeyPolicy from "./HostKeyPolicy.js"
import * as SshClient from "./SshClient.js"
import type { SshConnection } from "./SshConnection.js"

/**
 * How the destination is reached: directly, through ProxyJump hops (dialed in order, each over the previous
 * hop's direct-tcpip channel), or through a ProxyCommand's stdio (tokens %h %n %p %r expanded).
 *
 * @since 0.1.0
 * @category models
 */
export type ProxyPlan =
  | { readonly _tag: "Direct" }
  | {
    readonly _tag: "Jump"
    readonly hops: ReadonlyArray<{ readonly host: string; readonly port: number; readonly username: string | undefined }>
  }
  | {
    readonly _tag: "Command"
    /** Every token expanded (what ssh runs). */
    readonly command: string
    /**
     * Only `%n` expanded: `%h %p %r` are left for `NodeProxyCommand.dialer`, which validates and single-quotes
     * them (SEC-69) instead of pasting them into a shell line.
     */
    readonly template: string
  }

/**
 * What the config cannot say: extra credentials (a password, an agent's keys) and a host key policy that
 * replaces StrictHostKeyChecking's.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigOverrides {
  /**
   * An ssh-agent whose keys are tried first, before the identity files, as ssh does with SSH_AUTH_SOCK
   * (`NodeSshConfig.connect` opens IdentityAgent / SSH_AUTH_SOCK itself). With IdentitiesOnly only its keys
   * that match an identity file's public key are offered.
   */
  readonly agent?: Auth.AgentSigner | undefined
  /** Tried after the identity files, filtered by PreferredAuthentications and the *Authentication options. */
  readonly auth?: ReadonlyArray<Auth.AuthMethod> | undefined
  readonly hostKeys?: HostKeyPolicy.HostKeyPolicy<FileSystem.FileSystem | Path.Path> | undefined
}

/**
 * The resolved config asks for something `connect` cannot do by itself (ProxyCommand, which needs a Node dialer).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedConfig extends Data.TaggedError("UnsupportedConfig")<{ readonly reason: string }> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.reason
  }
}

/**
 * ProxyJump / ProxyCommand as a plan (ProxyJump wins, as in ssh; `none` means direct). This is the mapping
 * onto the client's `via` hops and the Node ProxyCommand dialer.
 *
 * @since 0.1.0
 * @category accessors
 */
export const proxyPlan = (r: SshConfig.Resolved): ProxyPlan => {
  if (r.proxyJump.length > 0) {
    return { _tag: "Jump", hops: r.proxyJump.map((h) => ({ host: h.host, port: h.port ?? 22, username: h.user })) }
  }
  const command = SshConfig.expandProxyCommand(r)
  if (command !== undefined && r.proxyCommand !== undefined) {
    const template = r.proxyCommand.replace(/%(.)/g, (all, c: string) => (c === "n" ? r.alias.replaceAll("%", "%%") : all))
    return { _tag: "Command", command, template }
  }
  return { _tag: "Direct" }
}

/**
 * ForwardX11 and ForwardX11Trusted (ssh -X, -Y and -x stand for them): whether sessions ask for X11 forwarding
 * and whether with the display's own cookie (trusted) or an untrusted one (ssh's defaults: no, no).
 *
 * @since 0.1.0
 * @category accessors
 */
export const x11Forwarding = (r: SshConfig.Resolved): { readonly forward: boolean; readonly trusted: boolean } => {
  const yes = (name: string) => ["yes", "true"].includes((r.unimplemented.get(name)?.[0] ?? "no").toLowerCase())
  return { forward: yes("forwardx11"), trusted: yes("forwardx11trusted") }
}

/**
 * A session's environment: SetEnv pairs, then the local variables matching SendEnv patterns.
 *
 * @since 0.1.0
 * @category accessors
 */
export const sessionEnv = (
  r: SshConfig.Resolved,
  local: Readonly<Record<string, string | undefined>>
): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const pair of r.setEnv) {
    const eq = pair.indexOf("=")
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  for (const [name, value] of Object.entries(local)) {
    if (value === undefined || name in env) continue
    if (r.sendEnv.some((pattern) => Match.glob(name, pattern))) env[name] = value
  }
  return env
}

/**
 * The host key policy of StrictHostKeyChecking (never asks: `ask` is `yes` without a terminal, as in ssh), with
 * UpdateHostKeys as `updatesHostKeys` decides (SEC-71).
 *
 * @since 0.1.0
 * @category constructors
 */
export const hostKeyPolicy = (r: SshConfig.Resolved): HostKeyPolicy.HostKeyPolicy<FileSystem.FileSystem | Path.Path> => {
  if (r.strictHostKeyChecking === "no") return HostKeyPolicy.insecureAcceptAny
  const options = {
    files: r.userKnownHostsFiles,
    globalFiles: r.globalKnownHostsFiles,
    hash: r.hashKnownHosts,
    checkHostIp: r.checkHostIP,
    updateHostKeys: updatesHostKeys(r)
  }
  return r.strictHostKeyChecking === "accept-new" ? HostKeyPolicy.acceptNew(options) : HostKeyPolicy.knownHosts(options)
}

/**
 * Whether host-key rotation is on (SEC-71): UpdateHostKeys `yes`, explicit or ssh 9.2's default (see
 * `SshConfig.Resolved.updateHostKeys`). `ask` is `no`: the library never prompts, and ssh itself updates nothing
 * under `ask` when it cannot ask (no terminal: readpassphrase fails three times; BatchMode: it does not try).
 *
 * @since 0.1.0
 * @category accessors
 */
export const updatesHostKeys = (r: Pick<SshConfig.Resolved, "updateHostKeys">): boolean => r.updateHostKeys === "yes"

const home = (path: Path.Path, file: string) =>
  file !== "~" && !file.startsWith("~/")
    ? Effect.succeed(file)
    : Effect.map(Effect.orElseSucceed(Config.string("HOME"), () => "/"), (h) => path.join(h, file.slice(1)))

// ssh's default list also names security-key, XMSS and DSA files, which effect-ssh cannot use.
const identityFilesOf = (r: SshConfig.Resolved): ReadonlyArray<string> =>
  r.identityFilesConfigured ? r.identityFiles : r.identityFiles.filter((f) => /id_(rsa|ecdsa|ed25519)$/.test(f))

/**
 * The identity files that exist (configured ones, or ssh's defaults), each preceded by the user certificates
 * that certify it (its `-cert.pub`, then CertificateFile ones).
 *
 * @since 0.1.0
 * @category constructors
 */
export const identities = (
  r: SshConfig.Resolved
): Effect.Effect<ReadonlyArray<Auth.AuthMethod>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const backend = yield* Crypto
    const read = (file: string) =>
      Effect.flatMap(home(path, file), (full) => Effect.option(fs.readFileString(full)))
    const certs: Array<string> = []
    for (const file of r.certificateFiles) {
      const text = yield* read(file)
      if (text._tag === "Some") certs.push(text.value)
    }
    const out: Array<Auth.AuthMethod> = []
    const accepts = Either.getOrElse(acceptedKeyTypes(r.pubkeyAcceptedAlgorithms), () => () => true)
    for (const file of identityFilesOf(r)) {
      const full = yield* home(path, file)
      const text = yield* read(file)
      if (text._tag === "None") continue
      const parsed = parsePrivateKey(text.value, undefined, { backend })
      if (Either.isRight(parsed) && !accepts(Option.getOrElse(KnownHosts.keyTypeOfBlob(parsed.right.publicKey), () => ""))) continue
      if (Either.isRight(parsed)) {
        const own = yield* read(`${file}-cert.pub`)
        for (const cert of [...(own._tag === "Some" ? [own.value] : []), ...certs]) {
          const m = Auth.certificate(parsed.right, cert)
          if (Either.isRight(m)) out.push(m.right)
        }
      }
      out.push(Auth.privateKeyFile(full))
    }
    return out
  })

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * The public-key blobs of identity files (and certificate files), as ssh learns them for IdentitiesOnly: from an
 * unencrypted private key itself, else from its `.pub` file (or, for a `.pub`/`-cert.pub` path, the file itself).
 * Files that cannot be read are left out.
 *
 * @since 0.1.0
 * @category constructors
 */
export const identityPublicKeys = (
  files: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Uint8Array>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const backend = yield* Crypto
    const read = (file: string) => Effect.flatMap(home(path, file), (full) => Effect.option(fs.readFileString(full)))
    // A `.pub` line is "type base64 [comment]" (ssh-keygen -y); certificates too.
    const blobOf = (line: string): ReadonlyArray<Uint8Array> => {
      const field = line.trim().split(/\s+/)[1]
      return field === undefined ? [] : Either.match(Encoding.decodeBase64(field), { onLeft: () => [], onRight: (b) => [b] })
    }
    const out: Array<Uint8Array> = []
    for (const file of files) {
      const text = yield* read(file)
      if (text._tag === "Some") {
        const parsed = parsePrivateKey(text.value, undefined, { backend })
        if (Either.isRight(parsed)) {
          out.push(parsed.right.publicKey)
          continue
        }
        if (/\.pub$/.test(file)) {
          out.push(...blobOf(text.value))
          continue
        }
      }
      const pub = yield* read(`${file}.pub`)
      if (pub._tag === "Some") out.push(...blobOf(pub.value))
    }
    return out
  })

/**
 * The agent socket `ForwardAgent` forwards (ssh_config(5)): none for `no`; for `yes` the agent ssh itself uses
 * (IdentityAgent, else SSH_AUTH_SOCK; ssh.c exports IdentityAgent as SSH_AUTH_SOCK); otherwise the path given,
 * or the variable it names (`$VAR`). Undefined when there is nothing to forward.
 *
 * @since 0.1.0
 * @category accessors
 */
export const forwardAgentPath = (
  r: Pick<SshConfig.Resolved, "forwardAgent" | "identityAgent">,
  env: (name: string) => string | undefined
): string | undefined => {
  if (r.forwardAgent === false) return undefined
  const spec = r.forwardAgent === true ? r.identityAgent ?? "SSH_AUTH_SOCK" : r.forwardAgent
  const value = spec === "SSH_AUTH_SOCK"
    ? env("SSH_AUTH_SOCK")
    : spec.toLowerCase() === "none"
    ? undefined
    : spec.startsWith("$")
    ? env(spec.slice(1).replace(/^\{(.*)\}$/, "$1"))
    : spec
  return value === undefined || value === "" ? undefined : value
}

/**
 * The agent as a credential: all its keys, or with IdentitiesOnly (`only` given) those whose public key (or
 * certificate) is among `only`, as ssh's pubkey_prepare drops the agent keys no IdentityFile names.
 *
 * @since 0.1.0
 * @category constructors
 */
export const agentAuth = (signer: Auth.AgentSigner, only?: ReadonlyArray<Uint8Array>): Auth.AuthMethod =>
  Auth.agent(
    only === undefined ? signer : {
      identities: Effect.map(signer.identities, (ids) => ids.filter((id) => only.some((k) => sameBytes(k, id.publicKey)))),
      sign: signer.sign,
      sessionBind: signer.sessionBind
    }
  )

const RSA_ALGORITHMS: Readonly<Record<string, ReadonlyArray<string>>> = {
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
  "ssh-rsa-cert-v01@openssh.com": [
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com"
  ]
}

/**
 * PubkeyAcceptedAlgorithms (`+x`, `-x`, `^x` or a list, over effect-ssh's defaults) as a test on a key or
 * certificate type: an RSA key passes when any RSA signature algorithm is accepted, other keys when their own
 * algorithm is. `undefined` accepts every type; `Left` for an algorithm effect-ssh does not know. The key is
 * then dropped from the credentials, as ssh skips identities whose type the list excludes; which RSA hash is
 * used is still chosen from the server's server-sig-algs.
 *
 * @since 0.1.0
 * @category accessors
 */
export const acceptedKeyTypes = (spec: string | undefined): Either.Either<(keyType: string) => boolean, string> =>
  spec === undefined
    ? Either.right(() => true)
    : Either.map(
      Negotiate.resolveList(spec, Algorithms.ALL_HOST_KEY_ALGORITHMS, Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS),
      (list) => (keyType: string) => (RSA_ALGORITHMS[keyType] ?? [keyType]).some((a) => list.includes(a as typeof list[number]))
    )

/**
 * Drops the credentials PubkeyAcceptedAlgorithms excludes (`acceptedKeyTypes`): private keys and certificates
 * of other types, and the agent keys of other types (its identities filtered). Key files are kept (their type
 * is known only once read; `identities` filters the ones it parses).
 *
 * @since 0.1.0
 * @category accessors
 */
export const filterAccepted = (
  methods: ReadonlyArray<Auth.AuthMethod>,
  accepts: (keyType: string) => boolean
): ReadonlyArray<Auth.AuthMethod> =>
  methods.flatMap((m): ReadonlyArray<Auth.AuthMethod> => {
    if (m._tag === "PrivateKey") return accepts(m.keyType) ? [m] : []
    if (m._tag !== "Agent") return [m]
    const signer: Auth.AgentSigner = {
      identities: Effect.map(m.agent.identities, (ids) =>
        ids.filter((id) => Option.match(KnownHosts.keyTypeOfBlob(id.publicKey), { onNone: () => false, onSome: accepts }))),
      sign: m.agent.sign,
      sessionBind: m.agent.sessionBind
    }
    return [{ ...m, agent: signer }]
  })

/**
 * HostKeyAlias: the host key is looked up, recorded and rotated (UpdateHostKeys) in known_hosts under `alias` (no
 * port, and no CheckHostIP address), as ssh's get_hostfile_hostname_ipaddr does, instead of the host name and port
 * connected to.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withHostKeyAlias = <R>(policy: HostKeyPolicy.HostKeyPolicy<R>, alias: string | undefined): HostKeyPolicy.HostKeyPolicy<R> =>
  alias === undefined ? policy : {
    verify: (info) => policy.verify({ ...info, host: alias, port: 22, address: undefined }),
    // ssh's hostkeys update looks the host up under the alias too (clientloop.c uses options.host_key_alias).
    updateHostKeys: policy.updateHostKeys === undefined
      ? undefined
      : (update) => policy.updateHostKeys!({ ...update, host: alias, port: 22 }),
    preferredAlgorithms: policy.preferredAlgorithms === undefined
      ? undefined
      : (_host, _port) => policy.preferredAlgorithms!(alias, 22)
  }

/**
 * Whether ssh would ask the agent at all: PubkeyAuthentication on and PreferredAuthentications (when set)
 * naming publickey.
 *
 * @since 0.1.0
 * @category accessors
 */
export const usesPublicKey = (r: { readonly pubkeyAuthentication?: boolean | undefined; readonly preferredAuthentications?: string | undefined }): boolean =>
  r.pubkeyAuthentication !== false &&
  (r.preferredAuthentications === undefined || r.preferredAuthentications.split(",").map((m) => m.trim()).includes("publickey"))

/**
 * Orders credentials by PreferredAuthentications (`publickey,password`…); methods it does not name are
 * dropped; without a list the order is kept.
 *
 * @since 0.1.0
 * @category accessors
 */
export const preferred = (
  list: string | undefined,
  methods: ReadonlyArray<Auth.AuthMethod>
): ReadonlyArray<Auth.AuthMethod> => {
  if (list === undefined) return methods
  const order = list.split(",").map((m) => m.trim())
  const rank = (m: Auth.AuthMethod) => order.indexOf(Auth.methodName(m))
  return methods.filter((m) => rank(m) >= 0).sort((a, b) => rank(a) - rank(b))
}

/**
 * `SshClientOptions` for a resolved destination.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toClientOptions = (
  r: SshConfig.Resolved,
  overrides: ConfigOverrides = {}
): Effect.Effect<SshClient.SshClientOptions, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const keys = yield* identities(r)
    const agent = overrides.agent === undefined || !usesPublicKey(r)
      ? []
      : [agentAuth(overrides.agent, r.identitiesOnly ? yield* identityPublicKeys([...identityFilesOf(r), ...r.certificateFiles]) : undefined)]
    const allowed = (m: Auth.AuthMethod) =>
      (m._tag !== "Password" || r.passwordAuthentication) &&
      (m._tag !== "KeyboardInteractive" || r.kbdInteractiveAuthentication) &&
      ((m._tag !== "PrivateKey" && m._tag !== "PrivateKeyFile" && m._tag !== "Agent") || r.pubkeyAuthentication)
    // ssh tries the agent's keys before the identity files (sshconnect2.c pubkey_prepare).
    const accepts = Either.getOrElse(acceptedKeyTypes(r.pubkeyAcceptedAlgorithms), () => () => true)
    const auth = preferred(
      r.preferredAuthentications,
      filterAccepted([...agent, ...keys, ...(overrides.auth ?? [])].filter(allowed), accepts)
    )
    const timeout = r.connectTimeout === undefined ? undefined : Duration.seconds(r.connectTimeout)
    return {
      host: r.hostname,
      port: r.port,
      username: r.user,
      auth,
      hostKeys: withHostKeyAlias(overrides.hostKeys ?? hostKeyPolicy(r), r.hostKeyAlias),
      algorithms: {
        kex: r.kexAlgorithms,
        cipher: r.ciphers,
        mac: r.macs,
        hostKey: r.hostKeyAlgorithms,
        compression: r.compression ? ["zlib@openssh.com", "zlib", "none"] : undefined
      },
      timeouts: timeout === undefined ? undefined : { connect: timeout, handshake: timeout },
      keepalive: r.serverAliveInterval > 0
        ? { interval: Duration.seconds(r.serverAliveInterval), countMax: r.serverAliveCountMax }
        : undefined,
      rekey: r.rekeyLimit.bytes > 0 || r.rekeyLimit.seconds > 0
        ? {
          bytes: r.rekeyLimit.bytes > 0 ? r.rekeyLimit.bytes : undefined,
          interval: r.rekeyLimit.seconds > 0 ? Duration.seconds(r.rekeyLimit.seconds) : undefined
        }
        : undefined
    }
  })

/**
 * Connects to a resolved destination, directly or through the ProxyJump hops (`via`; each hop with the same
 * credentials and host key policy, its port and user from the ProxyJump text). A ProxyCommand fails with
 * `UnsupportedConfig`: it needs a Node dialer, `NodeProxyCommand.layer(plan.template)` in place of the Dialer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  r: SshConfig.Resolved,
  overrides?: ConfigOverrides
): Effect.Effect<
  SshConnection,
  TransportError | AuthError | UnsupportedConfig,
  Scope.Scope | Dialer | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const plan = proxyPlan(r)
    if (plan._tag === "Command") {
      return yield* new UnsupportedConfig({
        reason: "ProxyCommand needs a Node dialer: provide NodeProxyCommand.layer(proxyPlan(r).template) as the Dialer"
      })
    }
    const options = yield* toClientOptions(r, overrides)
    if (plan._tag === "Direct") return yield* SshClient.connect(options)
    const via = plan.hops.map((h) => ({ ...options, host: h.host, port: h.port, username: h.username ?? options.username }))
    return yield* SshClient.connect({ ...options, via })
  })
