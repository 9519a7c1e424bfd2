/**
 * sshd_config(5), pure: the grammar (case-insensitive keywords, `Keyword value` or `Keyword=value`, quoting,
 * comments, `Include`, `Match User/Group/Host/Address/LocalAddress/LocalPort/RDomain/All`), first value wins,
 * list keywords accumulate, Match blocks override the global values for the connections they match — as
 * OpenSSH 9.2's servconf.c does. `settings` gives the typed effective configuration of the keywords effect-ssh
 * applies; `print` renders it as `sshd -T` does. Keywords OpenSSH knows and effect-ssh does not apply are
 * accepted and listed in `ignored`; unknown keywords are an error that names them.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { SshdConfig } from "effect-ssh"
 *
 * const config = SshdConfig.parse("PasswordAuthentication no\nMatch Address 10.0.0.0/8\n  PasswordAuthentication yes\n")
 * if (Either.isRight(config)) {
 *   const inside = SshdConfig.settings(config.right, { user: "ops", address: "10.1.2.3" })
 *   // Either.right({ passwordAuthentication: true, … })
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Parse from "./internal/sshdParse.js"
import * as Resolve from "./internal/sshdResolve.js"
import * as Internal from "./internal/sshdSettings.js"

/**
 * A configuration that could not be read: where, and why (`sshd: … line N: …`).
 *
 * @since 0.1.0
 * @category errors
 */
export class SshdConfigError extends Data.TaggedError("SshdConfigError")<{
  readonly file: string
  readonly line: number
  readonly reason: string
  /** `file line N: reason`, as sshd words it. */
  readonly message: string
}> {}

const configError = (file: string, line: number, reason: string) =>
  new SshdConfigError({ file, line, reason, message: line > 0 ? `${file} line ${line}: ${reason}` : `${file}: ${reason}` })

/**
 * A parsed configuration: every line that applies somewhere, with its Match conditions.
 *
 * @since 0.1.0
 * @category models
 */
export interface SshdConfig {
  readonly _tag: "SshdConfig"
  readonly entries: ReadonlyArray<Parse.Entry>
  /** Lines of keywords OpenSSH knows and effect-ssh does not apply (UsePAM, PrintMotd …). */
  readonly ignored: ReadonlyArray<{ readonly keyword: string; readonly file: string; readonly line: number }>
}

/**
 * What is known about a connection when Match blocks are evaluated (`sshd -T -C user=…,addr=…,host=…`).
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionSpec = Resolve.ConnectionSpec

/**
 * The typed effective settings (sshd's defaults for what is not set).
 *
 * @since 0.1.0
 * @category models
 */
export type Settings = Internal.Settings

/**
 * Reads the files an `Include` names (glob patterns; relative ones are relative to /etc/ssh).
 *
 * @since 0.1.0
 * @category models
 */
export type IncludeReader = Parse.IncludeReader

/**
 * Options of `parse`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParseOptions {
  /** The file name used in error messages (default `sshd_config`). */
  readonly file?: string | undefined
  /** Needed when the text uses `Include`; without it `Include` is an error. */
  readonly include?: IncludeReader | undefined
}

/**
 * Parses sshd_config text. Unknown keywords, malformed values, keywords not allowed in a Match block and bad
 * Match criteria fail with the file and line.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (text: string, options?: ParseOptions): Either.Either<SshdConfig, SshdConfigError> => {
  const parsed = Parse.parse(text, options?.file ?? "sshd_config", options?.include)
  if (Either.isLeft(parsed)) return Either.left(configError(parsed.left.file, parsed.left.line, parsed.left.message))
  return Either.right({
    _tag: "SshdConfig",
    entries: parsed.right.filter((e) => e.keyword.applied),
    ignored: parsed.right.filter((e) => !e.keyword.applied).map((e) => ({
      keyword: e.keyword.name,
      file: e.file,
      line: e.line
    }))
  })
}

/**
 * Appends `-o Keyword=Value` overrides; like sshd, they are read before the file, so they win over it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withOverrides = (
  config: SshdConfig,
  overrides: ReadonlyArray<string>
): Either.Either<SshdConfig, SshdConfigError> =>
  Either.map(parse(overrides.join("\n"), { file: "command-line" }), (o) => ({
    _tag: "SshdConfig",
    entries: [...o.entries, ...config.entries],
    ignored: [...o.ignored, ...config.ignored]
  }))

/**
 * The effective typed settings for a connection (Match blocks applied), or for no connection (global values
 * only, as `sshd -T` without `-C`). Fails when an algorithm list names nothing effect-ssh supports.
 *
 * @since 0.1.0
 * @category accessors
 */
export const settings = (config: SshdConfig, spec?: ConnectionSpec): Either.Either<Settings, SshdConfigError> =>
  Either.mapLeft(
    Internal.settings(Resolve.resolve(config.entries, spec)),
    (reason) => configError("sshd_config", 0, reason)
  )

/**
 * The settings as `sshd -T` prints them: one `keyword value` line each, lower-case keywords, times in seconds.
 *
 * @since 0.1.0
 * @category accessors
 */
export const print = (settings: Settings): string => Internal.print(settings).join("\n") + "\n"

/**
 * Whether `config` has Match blocks whose criteria involve the user (then settings depend on who logs in).
 *
 * @since 0.1.0
 * @category accessors
 */
export const dependsOnUser = (config: SshdConfig): boolean =>
  config.entries.some((e) =>
    e.conditions.some((criteria) => criteria.some((c) => c.attribute === "user" || c.attribute === "group"))
  )
