/**
 * sshd_config applied to user authentication, per request once the user name is known (sshd evaluates Match
 * blocks then): DenyUsers, AllowUsers, DenyGroups, AllowGroups (openssh auth.c `allowed_user`), PermitRootLogin,
 * the per-method switches, PubkeyAcceptedAlgorithms, RevokedKeys (a KRL or a key list; revocation beats every
 * allow, SEC-67), TrustedUserCAKeys and AuthorizedKeysFile (`%h`, `%u`, `%%`; relative to the home directory).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ServerAuth from "../../auth/ServerAuth.js"
import type * as SshdConfig from "../../config/SshdConfig.js"
import * as AuthorizedKeys from "../../keys/AuthorizedKeys.js"
import * as Certificate from "../../keys/Certificate.js"
import * as Krl from "../../keys/Krl.js"
import * as Match from "../../keys/Match.js"
import * as PublicKey from "../../keys/PublicKey.js"
import * as AuthorizedKeysHandler from "../AuthorizedKeysHandler.js"

/**
 * What applying a configuration needs from the machine: files and the user database. `effect-ssh serve` reads
 * them with node:fs and /etc/passwd, /etc/group.
 */
export interface ConfigEnvironment {
  /** A file's bytes; undefined when it is missing or unreadable. */
  readonly readFile: (path: string) => Effect.Effect<Uint8Array | undefined>
  /** The user's home directory (for `%h` and relative AuthorizedKeysFile paths); undefined when unknown. */
  readonly home: (user: string) => string | undefined
  /** The user's groups (AllowGroups, DenyGroups, Match Group). */
  readonly groups: (user: string) => ReadonlyArray<string>
  /** Checks a password; without it password and keyboard-interactive logins are refused. */
  readonly password?: ((request: ServerAuth.PasswordRequest) => Effect.Effect<boolean, unknown>) | undefined
}

/** The settings for a user on this connection; Left when they do not resolve (the login is refused). */
export type SettingsFor = (user: string) => Either.Either<SshdConfig.Settings, SshdConfig.SshdConfigError>

/** A `user` or `user@host` pattern of AllowUsers/DenyUsers (openssh match.c `match_user`). */
const userMatches = (pattern: string, user: string, address: string | undefined): boolean => {
  const at = pattern.lastIndexOf("@")
  if (at < 0) return Match.patternList(user, pattern) === 1
  if (Match.patternList(user, pattern.slice(0, at)) !== 1 || address === undefined) return false
  const host = pattern.slice(at + 1)
  const byAddress = Match.addressList(address, host)
  return byAddress === 1 || (byAddress !== "invalid" && Match.patternList(address, host, true) === 1)
}

/** openssh auth.c `allowed_user`: DenyUsers, then AllowUsers, then DenyGroups, then AllowGroups. */
export const userAllowed = (
  s: SshdConfig.Settings,
  user: string,
  address: string | undefined,
  groups: () => ReadonlyArray<string>
): boolean => {
  if (s.denyUsers.some((p) => userMatches(p, user, address))) return false
  if (s.allowUsers.length > 0 && !s.allowUsers.some((p) => userMatches(p, user, address))) return false
  if (s.denyGroups.length > 0 || s.allowGroups.length > 0) {
    const gs = groups()
    if (s.denyGroups.some((p) => gs.some((g) => Match.patternList(g, p) === 1))) return false
    if (s.allowGroups.length > 0 && !s.allowGroups.some((p) => gs.some((g) => Match.patternList(g, p) === 1))) {
      return false
    }
  }
  return true
}

/** openssh auth.c `auth_root_allowed`. */
const rootAllowed = (s: SshdConfig.Settings, user: string, method: "publickey" | "password", forced: boolean) =>
  user !== "root" || s.permitRootLogin === "yes" ||
  (method === "publickey" && (s.permitRootLogin === "prohibit-password" || (s.permitRootLogin === "forced-commands-only" && forced)))

/** `%%`, `%h`, `%u` of AuthorizedKeysFile; a relative result is taken from the home directory. */
const expandPath = (template: string, user: string, home: string | undefined): string | undefined => {
  let unknown = false
  const path = template.replace(/%([%hu])/g, (_, t: string) => {
    if (t === "%") return "%"
    if (t === "u") return user
    if (home === undefined) unknown = true
    return home ?? ""
  })
  if (unknown) return undefined
  if (path.startsWith("/")) return path
  return home === undefined ? undefined : `${home}/${path}`
}

const utf8 = new TextDecoder()

/** Whether `RevokedKeys` revokes the key (or certificate); an unreadable or malformed file revokes everything. */
const revoked = (env: ConfigEnvironment, file: string | undefined, key: ServerAuth.PublicKeyInfo) =>
  file === undefined ? Effect.succeed(false) : Effect.gen(function*() {
    const bytes = yield* env.readFile(file)
    // sshd refuses every key when the RevokedKeys file cannot be read (auth2-pubkey.c): fail closed.
    if (bytes === undefined) return yield* Effect.as(Effect.logWarning(`RevokedKeys ${file}: unreadable`), true)
    const krl = Krl.parse(bytes)
    if (Either.isLeft(krl)) return yield* Effect.as(Effect.logWarning(`RevokedKeys ${file}: ${krl.left.reason}`), true)
    return key.certificate !== undefined
      ? Krl.isCertificateRevoked(krl.right, key.certificate.certificate)
      : Krl.isRevoked(krl.right, key.blob)
  })

const caKeys = (env: ConfigEnvironment, file: string) =>
  Effect.map(env.readFile(file), (bytes) =>
    bytes === undefined ? [] : utf8.decode(bytes).split("\n").flatMap((line) => {
      const k = line.trim() === "" || line.trim().startsWith("#") ? undefined : PublicKey.parseLine(line.trim())
      return k !== undefined && Either.isRight(k) ? [k.right.blob] : []
    }))

/** The auth handlers of one connection from `address`. */
export const handlers = (
  settingsFor: SettingsFor,
  env: ConfigEnvironment,
  address: string | undefined
): ServerAuth.ServerAuthHandlers => {
  const allowed = (user: string) =>
    Effect.gen(function*() {
      const s = settingsFor(user)
      if (Either.isLeft(s)) return yield* Effect.as(Effect.logWarning(s.left.message), undefined)
      if (!userAllowed(s.right, user, address, () => env.groups(user))) {
        yield* Effect.logInfo(`User ${user} from ${address ?? "?"} not allowed by AllowUsers/DenyUsers/…Groups`)
        return undefined
      }
      return s.right
    })
  const password = (request: ServerAuth.PasswordRequest, method: "password" | "keyboard-interactive") =>
    Effect.gen(function*() {
      const s = yield* allowed(request.username)
      if (s === undefined || env.password === undefined) return false
      if (method === "password" ? !s.passwordAuthentication : !s.kbdInteractiveAuthentication) return false
      const ok = rootAllowed(s, request.username, "password", false) && (yield* env.password(request))
      // sshd's wording (auth.c auth_log), so that log watchers such as fail2ban recognise it.
      yield* Effect.logInfo(`${ok ? "Accepted" : "Failed"} ${method} for ${request.username} from ${address ?? "?"}`)
      return ok
    })
  return {
    publicKey: (request) =>
      Effect.gen(function*() {
        const s = yield* allowed(request.username)
        if (s === undefined || !s.pubkeyAuthentication) return false
        if (!s.pubkeyAcceptedAlgorithms.includes(request.key.algorithm)) return false
        // SEC-67: revocation is checked before anything may accept the key.
        if (yield* revoked(env, s.revokedKeys, request.key)) {
          yield* Effect.logInfo(`publickey ${request.key.fingerprint} for ${request.username}: revoked`)
          return false
        }
        let decision: ServerAuth.PublicKeyDecision = false
        const cert = request.key.certificate
        if (cert !== undefined && s.trustedUserCaKeys !== undefined) {
          // TrustedUserCAKeys without AuthorizedPrincipalsFile: a principal must be the user name (sshd_config(5)).
          const trusted = yield* caKeys(env, s.trustedUserCaKeys)
          if (Either.isRight(Certificate.authorize(cert, { trustedCaKeys: trusted, principals: [request.username] }))) {
            decision = { _tag: "Accept", restrictions: { forceCommand: cert.forceCommand } }
          }
        }
        if (decision === false) {
          const home = env.home(request.username)
          const entries: Array<AuthorizedKeys.Entry> = []
          for (const template of s.authorizedKeysFiles) {
            if (template.toLowerCase() === "none") continue
            const path = expandPath(template, request.username, home)
            const bytes = path === undefined ? undefined : yield* env.readFile(path)
            if (bytes !== undefined) entries.push(...AuthorizedKeys.parse(utf8.decode(bytes)).entries)
          }
          decision = yield* AuthorizedKeysHandler.make(entries)(request)
        }
        if (decision === false) return false
        const forced = typeof decision !== "boolean" && decision.restrictions.forceCommand !== undefined
        const ok = rootAllowed(s, request.username, "publickey", forced)
        if (request.verified) {
          yield* Effect.logInfo(
            `${ok ? "Accepted" : "Failed"} publickey for ${request.username} from ${address ?? "?"}: ${request.key.fingerprint}`
          )
        }
        return ok ? decision : false
      }),
    password: env.password === undefined ? undefined : (request) => password(request, "password"),
    keyboardInteractive: env.password === undefined ? undefined : (request) =>
      Effect.gen(function*() {
        const s = yield* allowed(request.username)
        if (s === undefined || !s.kbdInteractiveAuthentication) return { _tag: "Reject" } as const
        // One "Password:" round checked by the password verifier, as sshd does with PAM.
        return {
          _tag: "Prompt",
          name: "",
          instruction: "",
          prompts: [{ prompt: "Password: ", echo: false }],
          next: (answers) =>
            Effect.map(
              answers.length === 1
                ? password({ username: request.username, password: answers[0]! }, "keyboard-interactive")
                : Effect.succeed(false),
              (ok): ServerAuth.KbdIntSession => (ok ? { _tag: "Accept" } : { _tag: "Reject" })
            )
        } as const
      })
  }
}
