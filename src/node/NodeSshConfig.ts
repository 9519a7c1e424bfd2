/**
 * ssh_config files on Node: `~/.ssh/config` then `/etc/ssh/ssh_config` (or one `-F` file), Include globs
 * expanded on the local file system, and the local facts (user, home, uid, host name, environment) that
 * `SshConfig.resolve` needs. `Match exec` runs `/bin/sh -c` only when `allowExec` is set.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Scope from "effect/Scope"
import type * as Auth from "../auth/AuthMethod.js"
import type { Dialer } from "../client/Dialer.js"
import * as SshClientConfig from "../client/SshClientConfig.js"
import type { SshConnection } from "../client/SshConnection.js"
import * as SshConfig from "../config/SshConfig.js"
import type { AuthError, TransportError } from "../SshError.js"
import * as Match from "../keys/Match.js"
import * as NodeAgent from "./NodeAgent.js"

/**
 * The user's config file, read first.
 *
 * @since 0.1.0
 * @category constants
 */
export const USER_CONFIG = "~/.ssh/config"

/**
 * The system-wide config file, read after the user's.
 *
 * @since 0.1.0
 * @category constants
 */
export const SYSTEM_CONFIG = "/etc/ssh/ssh_config"

const home = (): string => os.homedir()

const ioError = (file: string, cause: unknown) =>
  new SshConfig.SshConfigError({ file, line: 0, reason: cause instanceof Error ? cause.message : String(cause) })

/** POSIX glob for `*` and `?` per path segment (no leading-dot matches), results sorted as glob(3) does. */
const globSync = (pattern: string): Array<string> => {
  const absolute = pattern.startsWith("/")
  const parts = pattern.split("/").filter((p) => p !== "")
  let paths = [absolute ? "/" : "."]
  for (const part of parts) {
    const next: Array<string> = []
    for (const dir of paths) {
      if (!/[*?]/.test(part)) {
        const full = nodePath.join(dir, part)
        if (fs.existsSync(full)) next.push(full)
        continue
      }
      let names: Array<string> = []
      try {
        names = fs.readdirSync(dir)
      } catch {
        continue
      }
      for (const name of names) {
        if (name.startsWith(".") && !part.startsWith(".")) continue
        if (Match.glob(name, part)) next.push(nodePath.join(dir, name))
      }
    }
    paths = next.sort()
  }
  return paths
}

const badPermissions = "bad permissions" as const

/**
 * Reads files and expands Include globs with node:fs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fileAccess = (homeDir: string = home()): SshConfig.FileAccess<SshConfig.SshConfigError, never> => ({
  homeDir,
  readFile: (file, options) =>
    Effect.try({
      try: () => {
        let fd: number
        try {
          fd = fs.openSync(file, "r")
        } catch (e) {
          if (e instanceof Error && "code" in e && (e.code === "ENOENT" || e.code === "ENOTDIR")) return Option.none()
          throw e
        }
        try {
          // readconf.c SSHCONF_CHECKPERM: owned by the user or root, not writable by group or others.
          const st = fs.fstatSync(fd)
          const uid = process.getuid?.() ?? st.uid
          if (options?.checkPermissions === true && ((st.uid !== 0 && st.uid !== uid) || (st.mode & 0o022) !== 0)) {
            return badPermissions
          }
          return Option.some(fs.readFileSync(fd, "utf8"))
        } finally {
          fs.closeSync(fd)
        }
      },
      catch: (e) => ioError(file, e)
    }).pipe(
      Effect.flatMap((text) =>
        text === badPermissions
          ? Effect.fail(new SshConfig.SshConfigError({ file, line: 0, reason: `Bad owner or permissions on ${file}` }))
          : Effect.succeed(text)
      )
    ),
  glob: (pattern) => Effect.sync(() => globSync(pattern))
})

/**
 * The files ssh reads: `configFile` alone (ssh -F), or the user's and then the system's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadFiles = (options?: {
  readonly configFile?: string | undefined
  readonly homeDir?: string | undefined
}): Effect.Effect<ReadonlyArray<SshConfig.ConfigFile>, SshConfig.SshConfigError> =>
  Effect.gen(function*() {
    const homeDir = options?.homeDir ?? home()
    const access = fileAccess(homeDir)
    const expandHome = (p: string) => (p === "~" ? homeDir : p.startsWith("~/") ? nodePath.join(homeDir, p.slice(2)) : p)
    if (options?.configFile !== undefined && options.configFile !== "none") {
      const file = yield* SshConfig.load(expandHome(options.configFile), access)
      if (Option.isNone(file)) {
        return yield* new SshConfig.SshConfigError({ file: options.configFile, line: 0, reason: "No such file or directory" })
      }
      return [file.value]
    }
    if (options?.configFile === "none") return []
    const user = yield* SshConfig.load(expandHome(USER_CONFIG), access, { checkPermissions: true })
    const system = yield* SshConfig.load(SYSTEM_CONFIG, access, { userConfig: false })
    return [...Option.toArray(user), ...Option.toArray(system)]
  })

/**
 * This machine's facts for `SshConfig.resolve`: the local user, home, uid, host name and environment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const localInput = (options?: {
  /** Run `Match exec` commands (off by default: a config file then cannot run programs). */
  readonly allowExec?: boolean | undefined
}): Omit<SshConfig.ResolveInput, "host"> => {
  let localUser = process.env.USER ?? "root"
  let uid = 0
  try {
    const info = os.userInfo()
    localUser = info.username
    uid = info.uid
  } catch {
    // No passwd entry: keep $USER, as ssh would fail; effect-ssh goes on.
  }
  return {
    localUser,
    homeDir: home(),
    uid,
    localHostname: os.hostname(),
    env: (name) => process.env[name],
    exec: options?.allowExec === true
      ? (command) => spawnSync("/bin/sh", ["-c", command], { stdio: "ignore" }).status === 0
      : undefined
  }
}

/**
 * Loads the files and resolves `host` as `ssh -G host` does (with `-F configFile` when given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (
  host: string,
  options?: Partial<Omit<SshConfig.ResolveInput, "host">> & {
    readonly configFile?: string | undefined
    readonly allowExec?: boolean | undefined
  }
): Effect.Effect<SshConfig.Resolved, SshConfig.SshConfigError> =>
  Effect.flatMap(loadFiles({ configFile: options?.configFile, homeDir: options?.homeDir }), (files) =>
    Either.match(SshConfig.resolve(files, { ...localInput(options), ...definedOnly(options ?? {}), host }), {
      onLeft: Effect.fail,
      onRight: Effect.succeed
    }))

const definedOnly = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>

/**
 * The agent socket ssh would use: IdentityAgent (`none` turns the agent off; `SSH_AUTH_SOCK` or `$VAR` name an
 * environment variable, as in ssh.c), else SSH_AUTH_SOCK; undefined when there is none.
 *
 * @since 0.1.0
 * @category accessors
 */
export const agentSocket = (
  identityAgent: string | undefined,
  env: (name: string) => string | undefined = (name) => process.env[name]
): string | undefined => {
  const value = identityAgent === undefined || identityAgent === "SSH_AUTH_SOCK"
    ? env("SSH_AUTH_SOCK")
    : identityAgent.toLowerCase() === "none"
    ? undefined
    : identityAgent.startsWith("$")
    ? env(identityAgent.slice(1))
    : identityAgent
  return value === undefined || value === "" ? undefined : value
}

/**
 * Opens the agent of `agentSocket(identityAgent)` for the life of the Scope. A missing or dead socket is not an
 * error (ssh goes on with the identity files): it is logged at debug level and gives `None`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openAgent = (
  identityAgent: string | undefined
): Effect.Effect<Option.Option<Auth.AgentSigner>, never, Scope.Scope> => {
  const path = agentSocket(identityAgent)
  if (path === undefined) return Effect.as(Effect.logDebug("no ssh-agent (SSH_AUTH_SOCK unset or IdentityAgent none)"), Option.none())
  return NodeAgent.make(path).pipe(
    Effect.map((agent): Option.Option<Auth.AgentSigner> => Option.some(agent)),
    Effect.catchAll((e) => Effect.as(Effect.logDebug(`ssh-agent skipped: ${e.message}`), Option.none()))
  )
}

/**
 * Connects to an ssh_config alias the way `ssh alias` resolves it: the files are read, the destination is
 * resolved (HostName, Port, User, IdentityFile …) and mapped by `SshClientConfig.toClientOptions`. The agent
 * of IdentityAgent / SSH_AUTH_SOCK (unless `overrides.agent` is given) is tried first, as ssh does.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeSsh, NodeSshConfig } from "effect-ssh/node"
 *
 * const program = Effect.gen(function*() {
 *   const ssh = yield* NodeSshConfig.connect("web")
 *   return yield* ssh.string("uname -a")
 * }).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  alias: string,
  options?: {
    readonly configFile?: string | undefined
    readonly allowExec?: boolean | undefined
    readonly overrides?: SshClientConfig.ConfigOverrides | undefined
  }
): Effect.Effect<
  SshConnection,
  SshConfig.SshConfigError | SshClientConfig.UnsupportedConfig | TransportError | AuthError,
  Scope.Scope | Dialer | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const r = yield* resolve(alias, { configFile: options?.configFile, allowExec: options?.allowExec })
    const agent = options?.overrides?.agent !== undefined
      ? Option.some(options.overrides.agent)
      : yield* openAgent(r.identityAgent)
    return yield* SshClientConfig.connect(r, { ...options?.overrides, agent: Option.getOrUndefined(agent) })
  })
