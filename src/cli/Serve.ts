/**
 * `effect-ssh serve [--listen host:port] [--host-key FILE]... [--authorized-keys FILE] [--password USER]
 * [--exec local] [-v]`: an SSH server on `SshServer` / `NodeSshServer`. Host keys are read from OpenSSH
 * private key files (generated as ed25519 and saved with mode 0600 when missing); logins by publickey from an
 * authorized_keys file and/or by password for one user (the password from `EFFECT_SSH_PASSWORD`). Sessions are
 * served by a built-in echo service, or with `--exec local` by local child processes (`/bin/sh -c command`).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import * as AuthorizedKeys from "../keys/AuthorizedKeys.js"
import * as NodeHostKeys from "../node/NodeHostKeys.js"
import * as NodeLocalProcess from "../node/NodeLocalProcess.js"
import * as NodeSshServer from "../node/NodeSshServer.js"
import * as AuthorizedKeysHandler from "../server/AuthorizedKeysHandler.js"
import type * as SshServer from "../server/SshServer.js"
import * as EffectCli from "./EffectCli.js"
import * as Tty from "./Tty.js"

/**
 * A bad command line or configuration of `serve` (reported before listening).
 *
 * @since 0.1.0
 * @category errors
 */
export class ServeError extends Data.TaggedError("ServeError")<{ readonly message: string }> {}

/**
 * The default `--listen` address.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_LISTEN = "127.0.0.1:2222"

/**
 * The default host key file, used when no `--host-key` is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_HOST_KEY = "./ssh_host_ed25519_key"

/**
 * The environment variable that holds the password of `--password USER`.
 *
 * @since 0.1.0
 * @category constants
 */
export const PASSWORD_ENV = "EFFECT_SSH_PASSWORD"

const listen = Options.text("listen").pipe(
  Options.withDescription(`host:port to listen on (default ${DEFAULT_LISTEN}; port 0 picks a free port).`),
  Options.withDefault(DEFAULT_LISTEN)
)
const hostKeys = Options.file("host-key").pipe(
  Options.withDescription(
    `OpenSSH private key file (unencrypted); repeatable. Generated (ed25519, mode 0600) when missing. ` +
      `Default ${DEFAULT_HOST_KEY}.`
  ),
  Options.repeated
)
const authorizedKeys = Options.file("authorized-keys").pipe(
  Options.withDescription("authorized_keys file: its keys may log in as any user, with their options enforced."),
  Options.optional
)
const password = Options.text("password").pipe(
  Options.withDescription(`Accept password login for this user, with the password in $${PASSWORD_ENV}.`),
  Options.optional
)
const execMode = Options.choice("exec", ["local"]).pipe(
  Options.withDescription("`local`: run commands as local child processes (/bin/sh -c). Default: an echo service."),
  Options.optional
)
const verbose = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Print debugging messages on stderr.")
)

/**
 * The flags of `serve`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags {
  readonly listen: string
  readonly hostKeys: ReadonlyArray<string>
  readonly authorizedKeys: Option.Option<string>
  readonly password: Option.Option<string>
  readonly exec: Option.Option<"local">
  readonly verbose: boolean
}

/**
 * The `serve` subcommand; `onExit` receives the process exit code (when the server could not start).
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = (onExit: (code: number) => Effect.Effect<void>) =>
  Command.make(
    "serve",
    { listen, hostKeys, authorizedKeys, password, exec: execMode, verbose },
    (flags) => Effect.flatMap(run(flags), onExit)
  ).pipe(Command.withDescription("Run an SSH server (an echo service, or local commands with --exec local)."))

/**
 * The dispatcher's entry (`effect-ssh serve …`): `args` are the words after `serve`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>) => EffectCli.run(command, args)

/**
 * Starts the server and serves until interrupted. Returns 1 when it could not start (the error is printed).
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (flags: Flags): Effect.Effect<number> =>
  Effect.gen(function*() {
    const { host, port } = yield* parseListen(flags.listen)
    // Checked before any host key is generated: a configuration error leaves nothing behind.
    const secret = process.env[PASSWORD_ENV]
    if (Option.isSome(flags.password) && (secret === undefined || secret === "")) {
      return yield* new ServeError({ message: `--password needs the password in $${PASSWORD_ENV}` })
    }
    const files = flags.hostKeys.length > 0 ? flags.hostKeys : [DEFAULT_HOST_KEY]
    const keys: Array<PrivateKeyMaterial> = []
    for (const file of files) keys.push(yield* loadOrGenerateHostKey(file))
    const auth: {
      publicKey?: SshServer.ServerHandlers["auth"]["publicKey"]
      password?: SshServer.ServerHandlers["auth"]["password"]
    } = {}
    if (Option.isSome(flags.authorizedKeys)) {
      const accept = AuthorizedKeysHandler.make(yield* readAuthorizedKeys(flags.authorizedKeys.value))
      auth.publicKey = (request) =>
        Effect.tap(accept(request), (ok) =>
          Effect.logDebug(`publickey ${request.key.fingerprint} for ${request.username}: ${ok === false ? "refused" : "accepted"}`))
    }
    if (Option.isSome(flags.password)) {
      const user = flags.password.value
      const expected = sha256(secret!)
      auth.password = ({ password: given, username }) =>
        Effect.sync(() => {
          // Hash both sides so that the comparison is constant-time whatever the lengths.
          const same = crypto.timingSafeEqual(sha256(Redacted.value(given)), expected)
          return same && username === user
        })
    }
    if (auth.publicKey === undefined && auth.password === undefined) {
      yield* Effect.logWarning("no --authorized-keys and no --password: every login will be refused")
    }
    const local = Option.isSome(flags.exec)
    const handlers: SshServer.ServerHandlers = {
      auth,
      ...(local ? NodeLocalProcess.handlers({ acceptEnv: ["LANG", "LC_*"] }) : { exec: echoExec, shell: echoShell })
    }
    const address = yield* NodeSshServer.serve({ host, port, hostKeys: keys }, handlers).pipe(
      Effect.mapError((e) => new ServeError({ message: `cannot listen on ${flags.listen}: ${e.message}` }))
    )
    const shown = address._tag === "TcpAddress"
      ? `${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}`
      : address.path
    yield* Console.log(`effect-ssh serve: listening on ${shown}`)
    for (let i = 0; i < keys.length; i++) {
      yield* Console.log(`effect-ssh serve: host key ${describeKey(keys[i]!, files[i]!)}`)
    }
    yield* Console.log(`effect-ssh serve: ${local ? "running commands locally (/bin/sh -c)" : "echo service"}`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.catchAll((e) => Effect.as(Tty.printError(`effect-ssh: ${e.message}`), 1)),
    Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Warning)
  )

// ---- configuration ----

/**
 * Parses `host:port` (`[v6]:port` for IPv6 literals).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseListen = (text: string): Effect.Effect<{ host: string; port: number }, ServeError> => {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || !(port >= 0 && port <= 65535)) {
    return Effect.fail(new ServeError({ message: `--listen ${text}: expected host:port` }))
  }
  return Effect.succeed({ host: (m[1] ?? m[2])!, port })
}

const sha256 = (s: string): Buffer => crypto.createHash("sha256").update(s, "utf8").digest()

/**
 * Reads an unencrypted OpenSSH private key; when the file does not exist, generates an ed25519 key and saves it
 * (openssh-key-v1, mode 0600).
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadOrGenerateHostKey = (file: string): Effect.Effect<PrivateKeyMaterial, ServeError> =>
  NodeHostKeys.loadOrGenerate(file, { type: "ed25519" }).pipe(
    Effect.mapError((e) => new ServeError({ message: e.message })),
    Effect.tap(({ generated }) => (generated ? Console.log(`effect-ssh serve: generated host key ${file}`) : Effect.void)),
    Effect.map(({ key }) => key)
  )

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * A host key as `ssh-keygen -l` prints it: `256 SHA256:… FILE (ED25519)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeKey = (key: PrivateKeyMaterial, file: string): string => {
  const blob = HostKey.encodePublicKey(HostKey.publicKeyOf(key))
  const [bits, type] = key.type === "ed25519"
    ? [256, "ED25519"]
    : key.type === "ecdsa"
    ? [key.curve === "nistp256" ? 256 : key.curve === "nistp384" ? 384 : 521, "ECDSA"]
    : [key.n.toString(2).length, "RSA"]
  return `${bits} ${HostKey.fingerprintSha256(blob)} ${file} (${type})`
}

/**
 * The entries of an authorized_keys file, with their options (AuthorizedKeys.parse); rejected lines are
 * reported as warnings and authorise nothing.
 *
 * @since 0.1.0
 * @category parsing
 */
export const readAuthorizedKeys = (file: string): Effect.Effect<ReadonlyArray<AuthorizedKeys.Entry>, ServeError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) => new ServeError({ message: `cannot read ${file}: ${errorText(e)}` })
    })
    const { entries, errors } = AuthorizedKeys.parse(text)
    for (const e of errors) yield* Effect.logWarning(`${file}:${e.line}: ${e.message}; line skipped`)
    if (entries.length === 0) yield* Effect.logWarning(`${file}: no keys`)
    return entries
  })

// ---- sessions ----

const encoder = new TextEncoder()

const echoExec: SshServer.SessionHandler<{ readonly command: string }> = ({ command, stdout }) =>
  Effect.as(Stream.run(Stream.make(encoder.encode(`you ran: ${command}\n`)), stdout), 0)

const echoShell: SshServer.SessionHandler = ({ stdin, stdout }) => Effect.as(Stream.run(stdin, stdout), 0)
