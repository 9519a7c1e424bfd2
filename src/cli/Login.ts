/**
 * Connecting and logging in for `effect-ssh ssh`/`exec`/`scp`, as ssh(1) does: the ssh-agent's keys
 * (IdentityAgent / SSH_AUTH_SOCK; with IdentitiesOnly only those of the identity files), then the identity files
 * (-i / IdentityFile, or the default ~/.ssh/id_ed25519, id_ecdsa and id_rsa that exist), keyboard-interactive
 * prompts, and the password prompt. Questions are asked only on a terminal and never with BatchMode.
 *
 * The password is asked inside the connection, as ssh asks it: only when the server accepts passwords and the
 * other credentials are spent, up to NumberOfPasswordPrompts times (`Auth.passwordPrompt`). One difference from
 * ssh, by construction of the library's credentials: an encrypted key's passphrase is asked before connecting (ssh
 * asks only once the server would accept the key).
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as os from "node:os"
import * as Auth from "../auth/AuthMethod.js"
import type { Dialer } from "../client/Dialer.js"
import * as HostKeyPolicy from "../client/HostKeyPolicy.js"
import * as SshClient from "../client/SshClient.js"
import * as SshClientConfig from "../client/SshClientConfig.js"
import type { SshConnection } from "../client/SshConnection.js"
import type { CryptoBackend } from "../crypto/Backend.js"
import { Crypto } from "../crypto/Crypto.js"
import type { ParsedPrivateKey } from "../keys/KeyMaterial.js"
import * as KnownHosts from "../keys/KnownHosts.js"
import { parsePrivateKey } from "../keys/PrivateKey.js"
import type { AuthError, TransportError } from "../SshError.js"
import type { Settings } from "./ExecOptions.js"
import * as NodeSshConfig from "../node/NodeSshConfig.js"
import * as HostKeys from "./HostKeys.js"
import * as Tty from "./Tty.js"

/**
 * The identities ssh tries when no IdentityFile is given, in ssh's order (readconf.c fill_default_options),
 * of the key types effect-ssh uses (no security keys, XMSS or DSA); those that exist.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_IDENTITIES: ReadonlyArray<string> = ["~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ed25519"]

/** OpenSSH's NumberOfPasswordPrompts default. */
const PASSWORD_PROMPTS = 3

/**
 * `~` and `~/…` as the user's home directory.
 *
 * @since 0.1.0
 * @category accessors
 */
export const expandHome = (file: string, path: Path.Path): string =>
  file === "~" ? os.homedir() : file.startsWith("~/") ? path.join(os.homedir(), file.slice(2)) : file

/**
 * The public-key credentials: each identity file, with its passphrase asked for on a terminal if it is
 * encrypted. A file that cannot be parsed is still passed on, so that the AuthError says why it was unusable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const identities = (
  settings: Settings,
  interactive: boolean
): Effect.Effect<ReadonlyArray<Auth.AuthMethod>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const explicit = settings.identityFiles !== undefined
    // The backend checks an ed25519 key's public half (node:crypto: well under a millisecond).
    const backend = yield* Crypto
    const out: Array<Auth.AuthMethod> = []
    const accepts = Either.getOrElse(SshClientConfig.acceptedKeyTypes(settings.pubkeyAcceptedAlgorithms), () => () => true)
    // CertificateFile lines, and each identity's own `-cert.pub`, as ssh loads them (sshconnect2.c pubkey_prepare).
    const certTexts: Array<string> = []
    for (const file of settings.certificateFiles ?? []) {
      const text = yield* Effect.either(fs.readFileString(expandHome(file, path)))
      if (Either.isRight(text)) certTexts.push(text.right)
      else yield* Tty.printError(`Warning: certificate file ${file} not accessible: ${why(text.left)}.`)
    }
    const withCertificates = (key: ParsedPrivateKey, own: string | undefined): Array<Auth.AuthMethod> =>
      [...(own === undefined ? [] : [own]), ...certTexts].flatMap((cert) =>
        Either.match(Auth.certificate(key, cert), { onLeft: () => [], onRight: (m) => [m] })
      )
    for (const file of settings.identityFiles ?? DEFAULT_IDENTITIES) {
      const full = expandHome(file, path)
      const text = yield* Effect.either(fs.readFileString(full))
      if (Either.isLeft(text)) {
        // ssh warns only about files it was told to use, and skips missing default ones silently.
        if (explicit) yield* Tty.printError(`Warning: Identity file ${file} not accessible: ${why(text.left)}.`)
        continue
      }
      const ownCert = yield* Effect.orElseSucceed(fs.readFileString(`${full}-cert.pub`), () => undefined)
      const parsed = parsePrivateKey(text.right, undefined, { backend })
      // PubkeyAcceptedAlgorithms: a key of a type the list excludes is not offered (nor are its certificates).
      if (Either.isRight(parsed) && !accepts(Option.getOrElse(KnownHosts.keyTypeOfBlob(parsed.right.publicKey), () => ""))) {
        yield* Effect.logDebug(`Skipping ${file}: its key type is not in PubkeyAcceptedAlgorithms`)
        continue
      }
      if (Either.isRight(parsed)) out.push(...withCertificates(parsed.right, ownCert), Auth.privateKeyFile(full))
      else if (parsed.left.reason === "Passphrase" && interactive) {
        const key = yield* askPassphrase(file, text.right, backend)
        if (Option.isSome(key)) out.push(...withCertificates(key.value, ownCert), Auth.privateKey(key.value))
      } else out.push(Auth.privateKeyFile(full))
    }
    return out
  })

const why = (e: PlatformError.PlatformError): string =>
  e._tag === "SystemError" && e.reason === "NotFound"
    ? "No such file or directory"
    : e._tag === "SystemError" && e.reason === "PermissionDenied"
    ? "Permission denied"
    : e.message

const askPassphrase = (
  file: string,
  text: string,
  backend: CryptoBackend,
  attempt = 1
): Effect.Effect<Option.Option<ParsedPrivateKey>> =>
  Tty.prompt(`Enter passphrase for key '${file}': `, { echo: false }).pipe(
    Effect.flatMap((passphrase) => {
      // ssh skips the key on an empty answer.
      if (passphrase === "") return Effect.succeed(Option.none())
      const parsed = parsePrivateKey(text, Redacted.make(passphrase), { backend })
      if (Either.isRight(parsed)) return Effect.succeed(Option.some(parsed.right))
      if (attempt >= PASSWORD_PROMPTS) return Effect.succeed(Option.none())
      return Effect.zipRight(
        Tty.printError(parsed.left.reason === "Passphrase" ? "Bad passphrase, try again." : parsed.left.message),
        askPassphrase(file, text, backend, attempt + 1)
      )
    }),
    Effect.orElseSucceed(() => Option.none())
  )

/**
 * The agent credential ssh would offer first: the agent of IdentityAgent / SSH_AUTH_SOCK (none when it is unset,
 * `none`, missing or dead, logged at debug level), restricted by IdentitiesOnly to the identity files' keys.
 * The agent connection lives as long as the Scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const agentIdentities = (
  settings: Settings
): Effect.Effect<ReadonlyArray<Auth.AuthMethod>, never, Scope.Scope | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    // ssh asks the agent only for public-key authentication.
    if (!SshClientConfig.usesPublicKey(settings)) return []
    const agent = yield* NodeSshConfig.openAgent(settings.identityAgent)
    if (Option.isNone(agent)) return []
    const only = settings.identitiesOnly === true
      ? yield* SshClientConfig.identityPublicKeys(
        [...(settings.identityFiles ?? DEFAULT_IDENTITIES), ...(settings.certificateFiles ?? [])].map((f) =>
          expandHome(f, path)
        )
      )
      : undefined
    return [SshClientConfig.agentAuth(agent.value, only)]
  })

/** RFC 4256 challenges answered on the terminal, as ssh shows them. */
const keyboardInteractive = Auth.keyboardInteractive((challenge) =>
  Effect.gen(function*() {
    if (challenge.name !== "") yield* Tty.printError(challenge.name)
    if (challenge.instruction !== "") yield* Tty.printError(challenge.instruction)
    const answers: Array<string> = []
    for (const p of challenge.prompts) answers.push(yield* Tty.prompt(p.prompt, { echo: p.echo }))
    return answers
  })
)

/** Runs `effect` in a child of the current Scope that is closed at once if `effect` fails (a failed attempt). */
const attempt = <A, E, R>(effect: Effect.Effect<A, E, R | Scope.Scope>): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) =>
    Effect.flatMap(Scope.fork(scope, ExecutionStrategy.sequential), (child) =>
      Scope.extend(effect, child).pipe(
        Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(child, exit) : Effect.void)
      )))

/**
 * Connects and logs in as `user`, asking for a password on the terminal if the other credentials were not
 * enough and the server allows passwords.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  settings: Settings,
  user: string,
  interactive: boolean
): Effect.Effect<
  SshConnection,
  TransportError | AuthError | Tty.PromptCancelled,
  Scope.Scope | Dialer | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    // ssh offers the agent's keys before the identity files (sshconnect2.c pubkey_prepare).
    // Without publickey in PreferredAuthentications (or with PubkeyAuthentication no) neither the agent nor a key
    // file is touched, so no passphrase is asked.
    const keys = SshClientConfig.usesPublicKey(settings)
      ? [...yield* agentIdentities(settings), ...yield* identities(settings, interactive)]
      : []
    const verified = yield* Ref.make(Option.none<string>())
    const base = HostKeys.policy({
      mode: settings.strictHostKeyChecking,
      // New keys go to the first user file; the global files (/etc/ssh/ssh_known_hosts) are read after them.
      files: settings.userKnownHostsFiles.map((f) => expandHome(f, path)),
      globalFiles: (settings.globalKnownHostsFiles ?? []).map((f) => expandHome(f, path)),
      interactive,
      hash: settings.hashKnownHosts,
      checkHostIp: settings.checkHostIP,
      updateHostKeys: settings.updateHostKeys
    })
    const aliased = SshClientConfig.withHostKeyAlias(base, settings.hostKeyAlias)
    const recording: HostKeyPolicy.HostKeyPolicy<FileSystem.FileSystem | Path.Path> = {
      verify: (info) => Effect.zipRight(aliased.verify(info), Ref.set(verified, Option.some(info.fingerprint))),
      preferredAlgorithms: aliased.preferredAlgorithms,
      updateHostKeys: aliased.updateHostKeys
    }
    const timeout = settings.connectTimeout === undefined ? undefined : Duration.seconds(settings.connectTimeout)
    const options = (
      auth: ReadonlyArray<Auth.AuthMethod>,
      hostKeys: HostKeyPolicy.HostKeyPolicy<FileSystem.FileSystem | Path.Path>
    ): SshClient.SshClientOptions => ({
      host: settings.host,
      port: settings.port,
      username: user,
      auth,
      hostKeys,
      algorithms: settings.compression === true
        ? { ...settings.algorithms, compression: ["zlib@openssh.com", "zlib", "none"] }
        : settings.algorithms,
      rekey: settings.rekeyLimit === undefined ? undefined : {
        bytes: settings.rekeyLimit.bytes > 0 ? settings.rekeyLimit.bytes : undefined,
        interval: settings.rekeyLimit.seconds > 0 ? Duration.seconds(settings.rekeyLimit.seconds) : undefined
      },
      // ssh_config(5): ConnectTimeout covers the TCP connect and the SSH handshake and key exchange.
      timeouts: timeout === undefined ? undefined : { connect: timeout, handshake: timeout },
      keepalive: settings.serverAliveInterval > 0
        ? { interval: Duration.seconds(settings.serverAliveInterval), countMax: settings.serverAliveCountMax }
        : undefined,
      onBanner: (text) => Tty.printError(text),
      rejectTrivialAuth: settings.rejectTrivialAuth
    })
    yield* Effect.logDebug(`connecting to ${settings.host} port ${settings.port} as ${user}`)
    const accepts = Either.getOrElse(SshClientConfig.acceptedKeyTypes(settings.pubkeyAcceptedAlgorithms), () => () => true)
    const offered = SshClientConfig.filterAccepted(keys, accepts)
    // The password prompt, asked inside this connection when the server accepts passwords and the methods before
    // it are spent; ssh asks NumberOfPasswordPrompts times (3), saying "Permission denied" before each retry.
    let asked = 0
    const ask = Effect.suspend(() =>
      Effect.zipRight(
        asked++ > 0 ? Tty.printError("Permission denied, please try again.") : Effect.void,
        Tty.prompt(`${user}@${settings.host}'s password: `, { echo: false })
      )
    )
    const passwords = interactive && settings.passwordAuthentication !== false
      ? Array.from({ length: settings.numberOfPasswordPrompts ?? PASSWORD_PROMPTS }, () => Auth.passwordPrompt(ask))
      : []
    const auth = SshClientConfig.preferred(
      settings.preferredAuthentications,
      [...(interactive && settings.kbdInteractiveAuthentication ? [...offered, keyboardInteractive] : offered), ...passwords]
    )
    return yield* attempt(SshClient.connect(options(auth, recording)))
  })
