/**
 * The settings of `effect-ssh exec`, resolved from its flags, its `-o Key=Value` options (OpenSSH names,
 * case-insensitive; the first value of a key wins, as in ssh_config) and the destination. Pure: defaults that
 * depend on the machine (the local user name, the default identity files) are filled in by `Exec`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/**
 * A bad command line: an unknown `-o` key, a malformed value or destination. Exits 255, as ssh does.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * OpenSSH StrictHostKeyChecking, with `off` read as `no` and `true`/`false` as `yes`/`no`.
 *
 * @since 0.1.0
 * @category models
 */
export type StrictHostKeyChecking = "yes" | "accept-new" | "no" | "ask"

/**
 * What @effect/cli parsed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags {
  readonly port: Option.Option<number>
  readonly loginName: Option.Option<string>
  readonly identityFiles: ReadonlyArray<string>
  /** The `-o` values, in command-line order. */
  readonly options: ReadonlyArray<string>
  readonly verbose: boolean
  readonly destination: string
}

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
  /** Undefined: the default identities (~/.ssh/id_ed25519, id_ecdsa, id_rsa) that exist. */
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
}

type Values = { -readonly [K in keyof Settings]?: Settings[K] }

interface Key {
  readonly name: string
  readonly apply: (value: string, into: Values) => string | undefined
}

const bool = (value: string): boolean | undefined => {
  const v = value.toLowerCase()
  return v === "yes" || v === "true" ? true : v === "no" || v === "false" ? false : undefined
}

/** OpenSSH convtime: `30`, `90s`, `5m`, `1h30m` (s, m, h, d, w), as seconds. */
const seconds = (value: string): number | undefined => {
  if (!/^(\d+[smhdw]?)+$/i.test(value)) return undefined
  const unit: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
  let total = 0
  for (const [, n, u] of value.matchAll(/(\d+)([smhdw]?)/gi)) total += Number(n) * unit[u!.toLowerCase()]!
  return Number.isSafeInteger(total) ? total : undefined
}

const integer = (value: string, min: number, max: number): number | undefined => {
  if (!/^\d+$/.test(value)) return undefined
  const n = Number(value)
  return n >= min && n <= max ? n : undefined
}

const setting = <K extends keyof Settings>(
  name: string,
  key: K,
  parse: (value: string) => Settings[K] | undefined,
  expected: string
): Key => ({
  name,
  apply: (value, into) => {
    const parsed = parse(value)
    if (parsed === undefined) return `${name} expects ${expected}, not "${value}"`
    if (into[key] === undefined) into[key] = parsed
    return undefined
  }
})

const algorithm = (name: string, field: keyof AlgorithmStrings): Key => ({
  name,
  apply: (value, into) => {
    if (value === "") return `${name} expects an algorithm list`
    if (into.algorithms?.[field] === undefined) into.algorithms = { ...into.algorithms, [field]: value }
    return undefined
  }
})

const yesNo = (name: string, key: "passwordAuthentication" | "kbdInteractiveAuthentication" | "batchMode") =>
  setting(name, key, bool, "yes or no")

const KEYS: ReadonlyArray<Key> = [
  setting("Port", "port", (v) => integer(v, 1, 65535), "a port number (1-65535)"),
  setting("User", "user", (v) => (v === "" ? undefined : v), "a user name"),
  {
    name: "IdentityFile",
    apply: (value, into) => {
      if (value === "") return "IdentityFile expects a path"
      into.identityFiles = [...(into.identityFiles ?? []), value]
      return undefined
    }
  },
  algorithm("KexAlgorithms", "kex"),
  algorithm("Ciphers", "cipher"),
  algorithm("MACs", "mac"),
  algorithm("HostKeyAlgorithms", "hostKey"),
  setting("StrictHostKeyChecking", "strictHostKeyChecking", (v) => {
    const s = v.toLowerCase()
    return s === "yes" || s === "true" ? "yes" : s === "no" || s === "false" || s === "off" ? "no" :
      s === "accept-new" ? "accept-new" : s === "ask" ? "ask" : undefined
  }, "yes, accept-new, no, off or ask"),
  setting("UserKnownHostsFile", "userKnownHostsFiles", (v) => {
    const files = v.split(/\s+/).filter((f) => f !== "")
    return files.length === 0 ? undefined : files.length === 1 && files[0] === "none" ? [] : files
  }, "one or more paths, or none"),
  yesNo("PasswordAuthentication", "passwordAuthentication"),
  yesNo("KbdInteractiveAuthentication", "kbdInteractiveAuthentication"),
  yesNo("BatchMode", "batchMode"),
  setting("ServerAliveInterval", "serverAliveInterval", seconds, "a time in seconds (e.g. 30, 5m)"),
  setting("ServerAliveCountMax", "serverAliveCountMax", (v) => integer(v, 0, 1_000_000), "a count"),
  setting("ConnectTimeout", "connectTimeout", (v) => {
    const s = seconds(v)
    return s === undefined || s === 0 ? undefined : s
  }, "a time in seconds greater than 0")
]

const BY_NAME = new Map(KEYS.map((k) => [k.name.toLowerCase(), k]))

/**
 * The `-o` keys `exec` understands, in their OpenSSH spelling.
 *
 * @since 0.1.0
 * @category constants
 */
export const SUPPORTED_KEYS: ReadonlyArray<string> = KEYS.map((k) => k.name)

/**
 * Splits one `-o` argument as ssh_config lines are split: `Key=Value`, `Key Value` or `Key = Value`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseOption = (text: string): Either.Either<readonly [key: string, value: string], UsageError> => {
  const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+)(.*?)\s*$/.exec(text)
  if (m === null) {
    return Either.left(new UsageError({ message: `-o "${text}": expected Key=Value (an OpenSSH option)` }))
  }
  const value = m[2]!.length >= 2 && m[2]!.startsWith("\"") && m[2]!.endsWith("\"") ? m[2]!.slice(1, -1) : m[2]!
  return Either.right([m[1]!, value] as const)
}

/**
 * A destination: `[user@]host` (the last `@` separates the user) or `ssh://[user@]host[:port]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseDestination = (
  text: string
): Either.Either<{ readonly host: string; readonly user?: string; readonly port?: number }, UsageError> => {
  const bad = (why: string) => Either.left(new UsageError({ message: `bad destination "${text}": ${why}` }))
  if (text.toLowerCase().startsWith("ssh://")) {
    const m = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/@[\]]+)(?::(\d+))?\/?$/i.exec(text)
    if (m === null) return bad("expected ssh://[user@]host[:port]")
    const port = m[3] === undefined ? undefined : integer(m[3], 1, 65535)
    if (m[3] !== undefined && port === undefined) return bad("the port must be 1-65535")
    const host = m[2]!.startsWith("[") ? m[2]!.slice(1, -1) : m[2]!
    return Either.right({
      host,
      ...(m[1] === undefined ? {} : { user: decodeURIComponent(m[1]) }),
      ...(port === undefined ? {} : { port })
    })
  }
  const at = text.lastIndexOf("@")
  const host = text.slice(at + 1)
  if (host === "") return bad("no host name")
  if (at === 0) return bad("empty user name")
  return Either.right(at < 0 ? { host } : { host, user: text.slice(0, at) })
}

/**
 * Resolves the settings. Precedence: `user@` in the destination, then `-l`, then `-o User`; `-p`, then the port
 * of an `ssh://` destination, then `-o Port`; `-i` files, then `-o IdentityFile` ones. Among `-o` values the
 * first one for a key wins, as in ssh_config.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (flags: Flags): Either.Either<Settings, UsageError> =>
  Either.gen(function*() {
    const values: Values = {}
    for (const text of flags.options) {
      const [key, value] = yield* parseOption(text)
      const known = BY_NAME.get(key.toLowerCase())
      if (known === undefined) {
        return yield* Either.left(
          new UsageError({
            message: `unsupported option "-o ${text}": ${key} is not an option effect-ssh knows. ` +
              `Supported: ${SUPPORTED_KEYS.join(", ")}`
          })
        )
      }
      const problem = known.apply(value, values)
      if (problem !== undefined) return yield* Either.left(new UsageError({ message: `-o ${text}: ${problem}` }))
    }
    const destination = yield* parseDestination(flags.destination)
    const identityFiles = [...flags.identityFiles, ...(values.identityFiles ?? [])]
    return {
      host: destination.host,
      port: Option.getOrUndefined(flags.port) ?? destination.port ?? values.port ?? 22,
      user: destination.user ?? Option.getOrUndefined(flags.loginName) ?? values.user,
      identityFiles: identityFiles.length === 0 ? undefined : identityFiles,
      algorithms: values.algorithms ?? {},
      strictHostKeyChecking: values.strictHostKeyChecking ?? "ask",
      userKnownHostsFiles: values.userKnownHostsFiles ?? ["~/.ssh/known_hosts"],
      passwordAuthentication: values.passwordAuthentication ?? true,
      kbdInteractiveAuthentication: values.kbdInteractiveAuthentication ?? true,
      batchMode: values.batchMode ?? false,
      serverAliveInterval: values.serverAliveInterval ?? 0,
      serverAliveCountMax: values.serverAliveCountMax ?? 3,
      connectTimeout: values.connectTimeout,
      verbose: flags.verbose
    } satisfies Settings
  })
