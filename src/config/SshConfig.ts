/**
 * ssh_config(5) as OpenSSH 9.2 reads it: `Host` patterns with `!` negation, `Match` (host, originalhost,
 * user, localuser, all, canonical, final; `exec` only with a runner), `Include` with globs and `~`, the first
 * value of an option wins, keywords in any case, `=` or blanks, quotes; `%` tokens (%h %p %r %u %n %d %C %i
 * %L %l %k) and `${VAR}` where ssh expands them. Every OpenSSH keyword is parsed and checked; those effect-ssh
 * acts on are typed fields of `Resolved`, the others are kept by name in `unimplemented`.
 *
 * Pure: files are read through a `FileAccess` (the Node one is `NodeSshConfig`), so the whole Include tree is
 * read once by `load` (ssh reads Includes whatever block they are in) and `resolve` is a synchronous function.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { SshConfig } from "effect-ssh"
 *
 * const file = SshConfig.parse("Host web\n  HostName web.example.com\n  User deploy\n", "config")
 * const resolved = SshConfig.resolve([file], {
 *   host: "web", localUser: "me", homeDir: "/home/me", uid: 1000, localHostname: "laptop"
 * })
 * const target = Either.map(resolved, (r) => `${r.user}@${r.hostname}`)
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Finish from "./internal/finish.js"
import * as Forward from "./internal/forward.js"
import { type RawLine, splitLine } from "./internal/lexer.js"
import * as Print from "./internal/print.js"
import * as Resolve from "./internal/resolve.js"
import { expand, tilde } from "./internal/tokens.js"

/**
 * A parsed config file (see `parse` and `load`).
 *
 * @since 0.1.0
 * @category models
 */
export type ConfigFile = Resolve.ConfigFile

/**
 * The local facts and command-line values `resolve` needs.
 *
 * @since 0.1.0
 * @category models
 */
export type ResolveInput = Resolve.ResolveInput

/**
 * The options for one destination, as `ssh -G` resolves them.
 *
 * @since 0.1.0
 * @category models
 */
export type Resolved = Finish.Resolved

/**
 * One ProxyJump hop.
 *
 * @since 0.1.0
 * @category models
 */
export type JumpHost = Finish.JumpHost

/**
 * A LocalForward/RemoteForward/DynamicForward (or -L/-R/-D) specification.
 *
 * @since 0.1.0
 * @category models
 */
export type ForwardSpec = Forward.ForwardSpec

/**
 * Algorithm lists `print` shows where the config sets none.
 *
 * @since 0.1.0
 * @category models
 */
export type PrintDefaults = Print.PrintDefaults

/**
 * A config that ssh would refuse: a bad line, an unknown keyword, a bad value, a bad Match, an Include loop.
 *
 * @since 0.1.0
 * @category errors
 */
export class SshConfigError extends Data.TaggedError("SshConfigError")<{
  readonly file: string
  readonly line: number
  readonly reason: string
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.line > 0
      ? `${this.file} line ${this.line}: ${this.reason}`
      : this.reason.includes(this.file)
      ? this.reason
      : `${this.file}: ${this.reason}`
  }
}

/**
 * How `load` reads files: `readFile` gives `None` for a missing file; `glob` returns the sorted paths matching
 * a pattern (none for no match).
 *
 * @since 0.1.0
 * @category models
 */
export interface FileAccess<E, R> {
  /**
   * The file's text, or none when it does not exist. With `checkPermissions` the reader refuses a file that is
   * not owned by the user (or root) or is writable by group or others, as ssh does (readconf.c
   * SSHCONF_CHECKPERM: "Bad owner or permissions on …").
   */
  readonly readFile: (
    path: string,
    options?: { readonly checkPermissions: boolean }
  ) => Effect.Effect<Option.Option<string>, E, R>
  readonly glob: (pattern: string) => Effect.Effect<ReadonlyArray<string>, E, R>
  /** For `~` in Include paths of user files and for relative Includes (~/.ssh/…). */
  readonly homeDir: string
}

/**
 * The default identity files in ssh's order (readconf.c fill_default_options).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_IDENTITY_FILES: ReadonlyArray<string> = Finish.DEFAULT_IDENTITY_FILES

/**
 * The Include nesting limit (readconf.c READCONF_MAX_DEPTH).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_INCLUDE_DEPTH = 16

/**
 * Parses one file's text (Include lines keep no files; `load` fills them).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (text: string, path: string, options?: { readonly userConfig?: boolean | undefined }): ConfigFile => ({
  path,
  userConfig: options?.userConfig ?? true,
  lines: text.split("\n").flatMap((raw, i): Array<Resolve.ConfigLine> => {
    const split = splitLine(raw)
    if (split === undefined) return []
    if (typeof split === "string") return [{ _tag: "Error", line: i + 1, message: split }]
    return [{ _tag: "Line", line: i + 1, raw: split }]
  })
})

/**
 * Reads a file and, recursively, the files its Include lines name (globs, `~`, relative to ~/.ssh for user
 * files or /etc/ssh for system ones). A missing top file gives `None`, as ssh skips it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = <E, R>(
  path: string,
  access: FileAccess<E, R>,
  options?: {
    readonly userConfig?: boolean | undefined
    /** Check the owner and mode of `path` itself (ssh does for ~/.ssh/config, not for -F or the system file). */
    readonly checkPermissions?: boolean | undefined
  }
): Effect.Effect<Option.Option<ConfigFile>, SshConfigError | E, R> => {
  const userConfig = options?.userConfig ?? true
  const read = (
    file: string,
    depth: number,
    checkPermissions = true
  ): Effect.Effect<Option.Option<ConfigFile>, SshConfigError | E, R> =>
    Effect.gen(function*() {
      if (depth > MAX_INCLUDE_DEPTH) {
        return yield* new SshConfigError({ file, line: 0, reason: "too many recursive configuration includes" })
      }
      // readconf.c: every Included file is read with SSHCONF_CHECKPERM, whoever included it.
      const text = yield* access.readFile(file, { checkPermissions })
      if (Option.isNone(text)) return Option.none()
      const parsed = parse(text.value, file, { userConfig })
      const lines: Array<Resolve.ConfigLine> = []
      for (const entry of parsed.lines) {
        if (entry._tag !== "Line" || entry.raw.keyword !== "include") {
          lines.push(entry)
          continue
        }
        const children: Array<ConfigFile> = []
        for (const arg of entry.raw.args) {
          if (arg.startsWith("~") && !userConfig) {
            return yield* new SshConfigError({ file, line: entry.line, reason: `bad include path ${arg}` })
          }
          const pattern = arg.startsWith("~")
            ? tilde(arg, access.homeDir)
            : arg.startsWith("/")
            ? arg
            : userConfig
            ? `${access.homeDir.replace(/\/$/, "")}/.ssh/${arg}`
            : `/etc/ssh/${arg}`
          for (const match of yield* access.glob(pattern)) {
            const child = yield* read(match, depth + 1)
            if (Option.isSome(child)) children.push(child.value)
          }
        }
        lines.push({ ...entry, include: children })
      }
      return Option.some({ ...parsed, lines })
    })
  return read(path, 0, options?.checkPermissions ?? false)
}

/**
 * Resolves a destination against the files in order (the user's, then the system's), after the `-o` options
 * of `input`; the first value of each option wins. A `Match final`, `Match canonical` or CanonicalizeHostname
 * makes a second pass with the final host name, as ssh does (host names are not canonicalised through DNS).
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (
  files: ReadonlyArray<ConfigFile>,
  input: ResolveInput
): Either.Either<Resolved, SshConfigError> => {
  // SEC-69: command-line host and user names reach `Match exec` and ProxyCommand through %h %n %r; refuse shell
  // metacharacters, control characters and a leading "-" before anything is expanded or run.
  const unsafe = validateDestination(input.host, input.user)
  if (unsafe !== undefined) return Either.left(new SshConfigError({ file: "command-line", line: 0, reason: unsafe }))
  const commandLine: Array<{ readonly line: number; readonly raw: RawLine }> = []
  for (const [i, text] of (input.options ?? []).entries()) {
    const split = splitLine(text)
    if (split === undefined || typeof split === "string") {
      return Either.left(new SshConfigError({ file: "command-line", line: i + 1, reason: split ?? `empty option "${text}"` }))
    }
    commandLine.push({ line: i + 1, raw: split })
  }
  const acc = Resolve.accumulate(files, commandLine, input)
  const failure = (p: Resolve.Problem) => Either.left(new SshConfigError({ file: p.file, line: p.line, reason: p.message }))
  if ("problem" in acc) return failure(acc.problem)
  const done = Finish.finish(acc.options, acc.host, input)
  return "alias" in done ? Either.right(done) : failure(done)
}

/**
 * Checks a command-line destination (SEC-69): host names of letters, digits, `.`, `_`, `-`, `:` and IPv6
 * brackets, not starting with `-`; user names without control characters, blanks, shell metacharacters or a
 * leading `-`. Returns why it is refused, or undefined.
 *
 * @since 0.1.0
 * @category accessors
 */
export const validateDestination = (host: string, user: string | undefined): string | undefined => {
  if (host === "" || host.startsWith("-") || !/^[A-Za-z0-9._:[\]-]+$/.test(host)) {
    return `hostname contains invalid characters: ${JSON.stringify(host)}`
  }
  if (user !== undefined && (user === "" || user.startsWith("-") || /[\u0000-\u0020\u007f-\u009f'"`$;&<>|(){}\\*?!#~]/.test(user))) {
    return `remote username contains invalid characters: ${JSON.stringify(user)}`
  }
  return undefined
}

/**
 * The resolved options in `ssh -G`'s format (the keywords effect-ssh implements).
 *
 * @since 0.1.0
 * @category accessors
 */
export const print: (resolved: Resolved, defaults?: PrintDefaults) => string = Print.print

/**
 * Parses a -L/-R/-D or LocalForward/RemoteForward/DynamicForward specification.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseForward: (spec: string, kind: "local" | "remote" | "dynamic") => ForwardSpec | undefined =
  Forward.parseForward

/**
 * Parses one `[user@]host[:port]` or `ssh://` ProxyJump hop (ssh -J).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseJumpHost: (text: string) => JumpHost | undefined = Finish.parseJumpHost

/**
 * ProxyCommand's tokens (sshconnect.c expand_proxy_command: %h %n %p %r, `%%`); `undefined` on a bad token.
 *
 * @since 0.1.0
 * @category accessors
 */
export const expandProxyCommand = (resolved: Resolved): string | undefined => {
  if (resolved.proxyCommand === undefined) return undefined
  const r = expand(resolved.proxyCommand, {
    h: resolved.hostname,
    n: resolved.alias,
    p: String(resolved.port),
    r: resolved.user
  }, undefined)
  return "value" in r ? r.value : undefined
}
