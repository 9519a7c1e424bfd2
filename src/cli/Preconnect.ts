/**
 * The TCP connection of `effect-ssh exec|ssh`, opened before the CLI bundle is compiled (issue 11: a whole
 * login as fast as ssh's). The loader (dist/bin/effect-ssh.mjs, from scripts/build.mjs) calls `start` with the
 * command line first; while Node compiles and evaluates the bundle (~100 ms), sshd accepts, forks, re-executes
 * itself and sends its version string, which waits in the socket. The CLI's dialer (`dialer`) then takes the
 * socket instead of dialing, if it is asked for the same host and port; any other dial closes it.
 *
 * `plan` decides, and says no whenever the destination could be other than the command line's `host` and port
 * (22 or -p): any option it does not know, `-F`/`-J`/`-G`/`-f`/`-4`/`-6`/`-b`/`-B`, `-o` of a keyword that moves
 * the connection (HostName, Port, ProxyCommand, ProxyJump, BindAddress, Match …), and the same keywords, `Match`
 * or an `Include` it cannot follow in ~/.ssh/config, /etc/ssh/ssh_config and their includes. So nothing is
 * dialled that ssh_config would not dial. This module imports only node: builtins: it runs before Effect loads.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as Net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/**
 * Where `start` connects.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly host: string
  readonly port: number
}

/**
 * A socket opened by `start`, with its outcome so far (errors are recorded, never thrown).
 *
 * @since 0.1.0
 * @category models
 */
export interface Pending extends Target {
  readonly socket: Net.Socket
  error: Error | undefined
}

/** ssh's getopt letters (ssh.c): flags that take no value, and those that take one. */
const FLAGS = "46AaCfGgKkMNnqsTtVvXxYy"
const WITH_VALUE = "BbcDEeFIiJLlmOoPpQRSWw"
/** Letters after which the destination is certain: no value moves the connection. */
const SAFE_FLAGS = new Set("AaCKkNnqsTtvXxYy")
const SAFE_WITH_VALUE = new Set("cDEeILilmoPpRw")

/** ssh_config keywords (lower case) that change where or how the TCP connection is made. */
const MOVES = new Set([
  "hostname",
  "port",
  "proxycommand",
  "proxyjump",
  "proxyusefdpass",
  "bindaddress",
  "bindinterface",
  "addressfamily",
  "canonicalizehostname",
  "canonicaldomains",
  "canonicalizefallbacklocal",
  "canonicalizemaxdots",
  "canonicalizepermittedcnames",
  "controlmaster",
  "controlpath",
  "controlpersist",
  "forkafterauthentication",
  "match",
  "include"
])

const keywordOf = (line: string): string | undefined => {
  const text = line.trim()
  if (text === "" || text.startsWith("#")) return undefined
  return /^[^\s=]+/.exec(text)?.[0]?.toLowerCase()
}

/**
 * Whether a config text leaves the destination alone: no keyword of `MOVES`, and its `Include`s (followed with
 * `readFile`/`readDir`, up to a depth) leave it alone too. `base` is the directory relative includes start from.
 *
 * @since 0.1.0
 * @category predicates
 */
export const configIsNeutral = (
  text: string,
  base: string,
  io: { readonly readFile: (file: string) => string | undefined; readonly readDir: (dir: string) => ReadonlyArray<string> | undefined },
  depth = 0
): boolean => {
  for (const line of text.split("\n")) {
    const keyword = keywordOf(line)
    if (keyword === undefined) continue
    if (keyword !== "include") {
      if (MOVES.has(keyword)) return false
      continue
    }
    if (depth >= 4) return false
    for (const word of line.trim().slice(keyword.length).replace(/^\s*=?\s*/, "").split(/\s+/).filter((w) => w !== "")) {
      const full = word.startsWith("~/") ? path.join(os.homedir(), word.slice(2)) : path.resolve(base, word)
      const dir = path.dirname(full)
      const name = path.basename(full)
      // Only a plain name or a `*` pattern in the last component (Debian's `/etc/ssh/ssh_config.d/*.conf`).
      if (/[?[\]{}]/.test(full) || dir.includes("*")) return false
      const files = name.includes("*")
        ? (io.readDir(dir) ?? []).filter((f) => new RegExp(`^${name.split("*").map(escape).join(".*")}$`).test(f))
        : [name]
      for (const f of files) {
        const included = io.readFile(path.join(dir, f))
        if (included !== undefined && !configIsNeutral(included, base, io, depth + 1)) return false
      }
    }
  }
  return true
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * The target of `argv` (the words after `exec`/`ssh`), or undefined when it is not certain from the command line
 * alone; the config files are checked by `start`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseArgs = (argv: ReadonlyArray<string>): Target | undefined => {
  let port = 22
  let portSeen = false
  let destination: string | undefined
  // As ssh.c: options may also follow the destination, up to the first word of the remote command.
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    if (word === "--") {
      destination ??= argv[i + 1]
      break
    }
    if (!word.startsWith("-") || word === "-") {
      if (destination !== undefined) break
      destination = word
      continue
    }
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!
      if (FLAGS.includes(letter)) {
        if (!SAFE_FLAGS.has(letter)) return undefined
        continue
      }
      if (!WITH_VALUE.includes(letter) || !SAFE_WITH_VALUE.has(letter)) return undefined
      const value = j + 1 < word.length ? word.slice(j + 1) : argv[++i]
      if (value === undefined) return undefined
      if (letter === "p" && !portSeen) {
        if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) return undefined
        port = Number(value)
        portSeen = true
      }
      if (letter === "o" && MOVES.has(/^[^\s=]+/.exec(value.trim())?.[0]?.toLowerCase() ?? "")) return undefined
      break
    }
  }
  if (destination === undefined) return undefined
  const at = destination.lastIndexOf("@")
  const host = at >= 0 ? destination.slice(at + 1) : destination
  // A host name or an IPv4 address; no ssh:// URI, IPv6 or `%` tokens.
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(host)) return undefined
  return { host, port }
}

const readFile = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

const readDir = (dir: string): ReadonlyArray<string> | undefined => {
  try {
    return fs.readdirSync(dir)
  } catch {
    return undefined
  }
}

/**
 * The target when both the command line and the config files (the user's ~/.ssh/config, then
 * /etc/ssh/ssh_config) leave the destination to the command line.
 *
 * @since 0.1.0
 * @category constructors
 */
export const plan = (argv: ReadonlyArray<string>): Target | undefined => {
  const target = parseArgs(argv)
  if (target === undefined) return undefined
  const io = { readFile, readDir }
  const user = path.join(os.homedir(), ".ssh")
  // A user config that ssh would refuse (readconf.c: writable by others, or not the user's) ends the command
  // before any connection: no dial either.
  if (!ownedAndPrivate(path.join(user, "config"))) return undefined
  for (const [file, base] of [[path.join(user, "config"), user], ["/etc/ssh/ssh_config", "/etc/ssh"]] as const) {
    const text = readFile(file)
    if (text !== undefined && !configIsNeutral(text, base, io)) return undefined
  }
  return target
}

/** A missing file, or one that is the user's (or root's) and not writable by group or others. */
const ownedAndPrivate = (file: string): boolean => {
  try {
    const st = fs.statSync(file)
    const uid = process.getuid?.()
    return (st.mode & 0o022) === 0 && (uid === undefined || st.uid === uid || st.uid === 0)
  } catch (e) {
    return e instanceof Error && "code" in e && e.code === "ENOENT"
  }
}

const KEY = Symbol.for("effect-ssh/cli/preconnect")

const slot = globalThis as { [KEY]?: Pending | undefined }

/**
 * Opens the connection `plan` allows (TCP_NODELAY, as the Node dialer), recording its error if any, and says
 * whether it did. The socket is unreferenced until taken, so it never keeps the process alive by itself.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (argv: ReadonlyArray<string>): boolean => {
  if (process.env["EFFECT_SSH_PRECONNECT"] === "0") return false
  const target = plan(argv)
  if (target === undefined) return false
  open(target)
  return true
}

/**
 * Opens a connection to `target` for `take` (whatever `plan` says: `start` asks it first).
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (target: Target): void => {
  slot[KEY]?.socket.destroy()
  const socket = Net.createConnection({ host: target.host, port: target.port, noDelay: true })
  const pending: Pending = { ...target, socket, error: undefined }
  socket.on("error", (e) => {
    pending.error ??= e
  })
  socket.unref()
  slot[KEY] = pending
}

/**
 * The socket `start` opened, if it was for `host:port` (compared as ssh compares host names: without case);
 * taken once. A socket for another target is closed.
 *
 * @since 0.1.0
 * @category accessors
 */
export const take = (host: string, port: number): Pending | undefined => {
  const pending = slot[KEY]
  if (pending === undefined) return undefined
  slot[KEY] = undefined
  if (pending.host.toLowerCase() === host.toLowerCase() && pending.port === port) {
    pending.socket.ref()
    return pending
  }
  pending.socket.destroy()
  return undefined
}
