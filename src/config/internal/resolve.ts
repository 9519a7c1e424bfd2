/**
 * The resolver: applies parsed ssh_config files to one destination as OpenSSH 9.2's ssh does
 * (readconf.c process_config_line_depth, match_cfg_line; ssh.c main), including the second ("final") pass.
 *
 * @since 0.1.0
 */
import { sha1 } from "@noble/hashes/legacy.js"
import * as Match from "../../keys/Match.js"
import * as Keywords from "./keywords.js"
import { matchWords, type RawLine } from "./lexer.js"
import { expand } from "./tokens.js"

/**
 * A line of a config file as the loader read it: a keyword line, an Include with the files it matched, or a
 * line that could not be split (an error whatever block it is in, as in ssh).
 *
 * @since 0.1.0
 * @category models
 */
export type ConfigLine =
  | { readonly _tag: "Line"; readonly line: number; readonly raw: RawLine; readonly include?: ReadonlyArray<ConfigFile> | undefined }
  | { readonly _tag: "Error"; readonly line: number; readonly message: string }

/**
 * A parsed file. `userConfig`: read as a user's file (`~` allowed in Include, relative Includes under ~/.ssh).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigFile {
  readonly path: string
  readonly userConfig: boolean
  readonly lines: ReadonlyArray<ConfigLine>
}

/**
 * The local facts the resolver needs, and the command-line values that come before any file.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolveInput {
  /** The destination as given (the alias). */
  readonly host: string
  /** `-l` or `user@` from the command line. */
  readonly user?: string | undefined
  /** `-p` or the port of an ssh:// URL. */
  readonly port?: number | undefined
  /** `-o` lines, applied first (so they win). */
  readonly options?: ReadonlyArray<string> | undefined
  /** `-i` files, which come before the config's IdentityFile lines. */
  readonly identityFiles?: ReadonlyArray<string> | undefined
  readonly localUser: string
  readonly homeDir: string
  readonly uid: number
  /** The local host name (`%l`; `%L` is its first label). */
  readonly localHostname: string
  /** Environment variables for `${VAR}` in the keywords that allow them; none by default. */
  readonly env?: ((name: string) => string | undefined) | undefined
  /** Runs a `Match exec` command and says whether it exited 0; without it `Match exec` is an error. */
  readonly exec?: ((command: string) => boolean) | undefined
}

/**
 * Why a config could not be applied: a bad line (file and line number) or a bad value after expansion.
 *
 * @since 0.1.0
 * @category models
 */
export interface Problem {
  readonly file: string
  readonly line: number
  readonly message: string
}

class Fail {
  constructor(readonly problem: Problem) {}
}

interface Pass {
  readonly input: ResolveInput
  readonly o: Keywords.Options
  readonly final: boolean
  wantFinal: boolean
}

const fail = (file: string, line: number, message: string): never => {
  throw new Fail({ file, line, message })
}

/** match_cfg_line: every criterion must hold; `all` stands alone. */
const matchLine = (pass: Pass, text: string, file: string, line: number): boolean => {
  const words = matchWords(text)
  if (words === undefined) return fail(file, line, "invalid quotes in Match")
  const { input, o } = pass
  const hostArg = input.host
  const host = pass.final
    ? o.hostname ?? hostArg
    : o.hostname !== undefined
    ? expandOrFail(o.hostname, { h: hostArg }, undefined, file, line)
    : hostArg
  const ruser = o.user ?? input.localUser
  let result = true
  let attributes = 0
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    if (word.startsWith("#")) break
    const negate = word.startsWith("!")
    const attr = (negate ? word.slice(1) : word).toLowerCase()
    if (attr === "all") {
      const next = words[i + 1]
      if (attributes > 0 || (next !== undefined && !next.startsWith("#"))) {
        return fail(file, line, `'${word}' cannot be combined with other Match attributes`)
      }
      return result && !negate
    }
    attributes++
    if (attr === "canonical" || attr === "final") {
      if (attr === "final") pass.wantFinal = true
      if (pass.final === negate) result = false
      continue
    }
    const arg = words[++i]
    if (arg === undefined || arg === "" || arg.startsWith("#")) return fail(file, line, `missing Match criteria for ${attr}`)
    let r: boolean
    switch (attr) {
      case "host":
        r = Match.patternList(host, arg, true) === 1
        break
      case "originalhost":
        r = Match.patternList(hostArg, arg, true) === 1
        break
      case "user":
        r = Match.patternList(ruser, arg) === 1
        break
      case "localuser":
        r = Match.patternList(input.localUser, arg) === 1
        break
      case "exec": {
        if (input.exec === undefined) return fail(file, line, "Match exec is not allowed here (pass an exec runner)")
        const port = String(o.port ?? input.port ?? 22)
        const cmd = expandOrFail(arg, {
          ...baseTokens(input, host, port, ruser),
          k: o.hostKeyAlias ?? host
        }, undefined, file, line)
        // ssh skips the command once an earlier criterion has failed.
        if (!result) continue
        r = input.exec(cmd)
        break
      }
      default:
        return fail(file, line, `unsupported Match attribute ${attr}`)
    }
    if (r === negate) result = false
  }
  if (attributes === 0) return fail(file, line, "one or more attributes required for Match")
  return result
}

const expandOrFail = (
  text: string,
  tokens: Readonly<Record<string, string>> | undefined,
  env: ((name: string) => string | undefined) | undefined,
  file: string,
  line: number
): string => {
  const r = expand(text, tokens, env)
  return "value" in r ? r.value : fail(file, line, r.error)
}

const baseTokens = (input: ResolveInput, host: string, port: string, user: string): Record<string, string> => {
  const shortHost = input.localHostname.split(".")[0]!
  return {
    C: connectionHash(input.localHostname, host, port, user),
    L: shortHost,
    d: input.homeDir,
    h: host,
    i: String(input.uid),
    l: input.localHostname,
    n: input.host,
    p: port,
    r: user,
    u: input.localUser
  }
}

/**
 * `%C`: the hex SHA-1 of local host name, remote host, port and user (readconf.c ssh_connection_hash).
 *
 * @since 0.1.0
 * @category accessors
 */
export const connectionHash = (local: string, host: string, port: string, user: string): string =>
  [...sha1(new TextEncoder().encode(local + host + port + user))].map((b) => b.toString(16).padStart(2, "0")).join("")

const MAX_DEPTH = 16

const processLine = (
  pass: Pass,
  file: ConfigFile | undefined,
  entry: { readonly line: number; readonly raw: RawLine; readonly include?: ReadonlyArray<ConfigFile> | undefined },
  state: { active: boolean },
  neverMatch: boolean,
  depth: number
) => {
  const name = file?.path ?? "command-line"
  const { keyword, args, rest } = entry.raw
  const cmdline = file === undefined
  switch (keyword) {
    case "host": {
      if (cmdline) return fail(name, entry.line, "Host directive not supported as a command-line option")
      state.active = false
      if (neverMatch) return
      for (const arg of args) {
        if (arg === "") return fail(name, entry.line, "keyword host empty argument")
        const negated = arg.startsWith("!")
        if (Match.glob(pass.input.host, negated ? arg.slice(1) : arg)) {
          if (negated) {
            state.active = false
            return
          }
          state.active = true
        }
      }
      return
    }
    case "match": {
      if (cmdline) return fail(name, entry.line, "Match directive not supported as a command-line option")
      const r = matchLine(pass, rest, name, entry.line)
      state.active = neverMatch ? false : r
      return
    }
    case "include": {
      if (cmdline) return fail(name, entry.line, "Include directive not supported as a command-line option")
      if (depth >= MAX_DEPTH) return fail(name, entry.line, "too many recursive configuration includes")
      const outer = state.active
      for (const child of entry.include ?? []) {
        processFile(pass, child, state, neverMatch || !outer, depth + 1)
        // A Match in an included file does not change the including file's state.
        state.active = outer
      }
      return
    }
  }
  const handler = Keywords.HANDLERS.get(keyword)
  if (handler === undefined) {
    if (pass.o.ignoreUnknown !== undefined && Match.patternList(keyword, pass.o.ignoreUnknown, true) === 1) return
    return fail(name, entry.line, `Bad configuration option: ${keyword}`)
  }
  const problem = handler(entry.raw, state.active, pass.o)
  if (problem !== undefined) fail(name, entry.line, `${keyword}: ${problem}`)
}

const processFile = (pass: Pass, file: ConfigFile, state: { active: boolean }, neverMatch: boolean, depth: number) => {
  for (const entry of file.lines) {
    if (entry._tag === "Error") fail(file.path, entry.line, entry.message)
    else processLine(pass, file, entry, state, neverMatch, depth)
  }
}

/**
 * Runs both passes and returns the accumulated options, the host to connect to, or the first problem.
 *
 * @since 0.1.0
 * @category constructors
 */
export const accumulate = (
  files: ReadonlyArray<ConfigFile>,
  commandLine: ReadonlyArray<{ readonly line: number; readonly raw: RawLine }>,
  input: ResolveInput
): { readonly options: Keywords.Options; readonly host: string } | { readonly problem: Problem } => {
  try {
    const o = Keywords.empty()
    if (input.user !== undefined) o.user = input.user
    if (input.port !== undefined) o.port = input.port
    o.identityFiles.push(...(input.identityFiles ?? []))
    const pass: Pass = { input, o, final: false, wantFinal: false }
    for (const entry of commandLine) processLine(pass, undefined, entry, { active: true }, false, 0)
    for (const file of files) processFile(pass, file, { active: true }, false, 0)
    let host = o.hostname !== undefined ? expandOrFail(o.hostname, { h: input.host }, undefined, "HostName", 0) : input.host
    if (!isAddress(host)) host = host.toLowerCase()
    // Canonicalisation (DNS) is not done; ssh re-reads the files in a final pass whenever it is enabled.
    if (pass.wantFinal || (o.canonicalizeHostname ?? "no") !== "no") {
      o.hostname = host
      const second: Pass = { input, o, final: true, wantFinal: false }
      for (const file of files) processFile(second, file, { active: true }, false, 0)
    }
    return { options: o, host }
  } catch (e) {
    if (e instanceof Fail) return { problem: e.problem }
    throw e
  }
}

const isAddress = (host: string): boolean => /^[\d.]+$/.test(host) || host.includes(":")
