/**
 * The command line of `effect-ssh serve`: sshd's own flags (`-f`, `-o`, `-T`, `-C`, `-p`, `-h`, `-d`, `-D`, `-e`)
 * and the earlier long flags (`--listen`, `--host-key`, `--authorized-keys`, `--password`, `--exec local`), which
 * become configuration lines placed before the file (first value wins, so they override it).
 *
 * @since 0.1.0
 */
import * as SocketServer from "@effect/platform/SocketServer"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import type * as SshdConfig from "../config/SshdConfig.js"
import * as ServeEnvironment from "./ServeEnvironment.js"

/**
 * A command-line error.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServeArgsError extends Data.TaggedError("ServeArgsError")<{ readonly message: string }> {}

/**
 * The usage text.
 *
 * @since 0.1.0
 * @category constants
 */
export const USAGE = `usage: effect-ssh serve [-f sshd_config] [-o Keyword=Value]... [-T [-C spec]] [-p port] [-h host_key]
                         [--listen host:port] [--host-key FILE]... [--authorized-keys FILE]
                         [--password USER] [--exec local] [-d | -v]
  -f FILE              sshd_config(5) file (Match, Include; first value wins)
  -o Keyword=Value     a configuration line, before the file (so it wins)
  -T                   print the effective configuration (as sshd -T) and exit
  -C spec              with -T: user=,addr=,host=,laddr=,lport= for Match blocks
  -p PORT, -h FILE     Port and HostKey, as sshd
  --listen host:port   ListenAddress (default 127.0.0.1:2222 when nothing sets Port/ListenAddress)
  --host-key FILE      HostKey (generated when missing; default in $XDG_STATE_HOME/effect-ssh)
  --authorized-keys F  AuthorizedKeysFile F: its keys may log in as any user, options enforced
  --password USER      password login for USER, the password in $EFFECT_SSH_PASSWORD
  --exec local         run commands as local child processes (/bin/sh -c), as this server's user
  -d, -v               debug messages on stderr`

/**
 * The parsed command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags {
  readonly file: string | undefined
  readonly options: ReadonlyArray<string>
  readonly test: boolean
  readonly connection: SshdConfig.ConnectionSpec | undefined
  readonly ports: ReadonlyArray<string>
  readonly listen: string | undefined
  readonly hostKeys: ReadonlyArray<string>
  readonly authorizedKeys: string | undefined
  readonly password: string | undefined
  readonly exec: boolean
  readonly help: boolean
}

const bad = (message: string) => Effect.fail(new ServeArgsError({ message: `${message}\n${USAGE}` }))

/** `-C user=alice,addr=10.0.0.1,host=h,laddr=…,lport=22` (sshd -C). */
const connectionSpec = (text: string): SshdConfig.ConnectionSpec | string => {
  const spec: Record<string, string> = {}
  for (const part of text.split(",")) {
    const i = part.indexOf("=")
    const k = part.slice(0, i)
    if (i < 0 || !["user", "addr", "host", "laddr", "lport", "rdomain"].includes(k)) return `invalid -C spec "${part}"`
    spec[k] = part.slice(i + 1)
  }
  const user = spec.user
  return {
    user,
    groups: user === undefined ? undefined : ServeEnvironment.make(undefined).groups(user),
    address: spec.addr,
    host: spec.host,
    localAddress: spec.laddr,
    localPort: spec.lport === undefined ? undefined : Number(spec.lport),
    rdomain: spec.rdomain
  }
}

/**
 * Parses the arguments after `serve`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (args: ReadonlyArray<string>): Effect.Effect<Flags, ServeArgsError> =>
  Effect.gen(function*() {
    let file: string | undefined
    let test = false
    let connection: SshdConfig.ConnectionSpec | undefined
    let listen: string | undefined
    let authorizedKeys: string | undefined
    let password: string | undefined
    let exec = false
    let help = false
    const options: Array<string> = []
    const ports: Array<string> = []
    const hostKeys: Array<string> = []
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!
      const value = (name: string) => {
        const attached = a.length > 2 && !a.startsWith("--") ? a.slice(2) : undefined
        if (attached !== undefined) return attached
        const eq = a.startsWith("--") ? a.indexOf("=") : -1
        if (eq > 0) return a.slice(eq + 1)
        const v = args[++i]
        return v === undefined ? undefined : v
      }
      const flag = a.startsWith("--") ? a.replace(/=.*$/, "") : a.slice(0, 2)
      const need = (name: string) => {
        const v = value(name)
        return v === undefined ? bad(`${name} needs a value`) : Effect.succeed(v)
      }
      switch (flag) {
        case "-f": file = yield* need("-f"); break
        case "-o": options.push(yield* need("-o")); break
        case "-T": test = true; break
        case "-C": {
          const spec = connectionSpec(yield* need("-C"))
          if (typeof spec === "string") return yield* bad(spec)
          connection = spec
          break
        }
        case "-p": ports.push(yield* need("-p")); break
        case "-h": hostKeys.push(yield* need("-h")); break
        case "--listen": listen = yield* need("--listen"); break
        case "--host-key": hostKeys.push(yield* need("--host-key")); break
        case "--authorized-keys": authorizedKeys = yield* need("--authorized-keys"); break
        case "--password": password = yield* need("--password"); break
        case "--exec": {
          const v = yield* need("--exec")
          if (v !== "local") return yield* bad(`--exec ${v}: only "local" is supported`)
          exec = true
          break
        }
        case "-d": case "-v": case "--verbose": case "-D": case "-e": break
        case "--help": help = true; break
        default: return yield* bad(`unknown option ${a}`)
      }
    }
    if (listen !== undefined) yield* parseListen(listen)
    return { file, options, test, connection, ports, listen, hostKeys, authorizedKeys, password, exec, help }
  })

const quote = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`

/**
 * The configuration lines the flags stand for, in front of the file's.
 *
 * @since 0.1.0
 * @category parsing
 */
export const overrides = (flags: Flags): ReadonlyArray<string> => [
  ...flags.options,
  ...flags.ports.map((p) => `Port ${p}`),
  ...(flags.listen !== undefined ? [`ListenAddress ${flags.listen}`] : []),
  ...flags.hostKeys.map((k) => `HostKey ${quote(path.resolve(k))}`),
  ...(flags.authorizedKeys !== undefined ? [`AuthorizedKeysFile ${quote(path.resolve(flags.authorizedKeys))}`] : []),
  // Without -f and --authorized-keys no user's ~/.ssh/authorized_keys is read: commands run as the server's own
  // user, so home-directory keys of other accounts must not log in unless the operator's file says so.
  ...(flags.file === undefined && flags.authorizedKeys === undefined ? ["AuthorizedKeysFile none"] : [])
]

/**
 * Parses `host:port` (`[v6]:port` for IPv6 literals).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseListen = (text: string): Effect.Effect<{ host: string; port: number }, ServeArgsError> => {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || !(port >= 0 && port <= 65535)) return bad(`--listen ${text}: expected host:port`)
  return Effect.succeed({ host: (m[1] ?? m[2])!, port })
}

/**
 * The `SocketServer` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const socketServer = SocketServer.SocketServer
