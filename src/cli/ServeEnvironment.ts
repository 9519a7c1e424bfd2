/**
 * What `effect-ssh serve` needs from the machine to apply an sshd_config: file reads, `Include` globs (relative
 * to /etc/ssh, as sshd), the user database (/etc/passwd homes, /etc/group memberships), the per-user state
 * directory for a generated host key, and host keys with their certificates.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as SshdConfig from "../config/SshdConfig.js"
import type * as HostKey from "../crypto/HostKey.js"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as Certificate from "../keys/Certificate.js"
import * as Match from "../keys/Match.js"
import type * as ConfigAuth from "../server/internal/configAuth.js"

const text = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * The directory for state of `serve` (a generated host key): `$XDG_STATE_HOME/effect-ssh`, else
 * `~/.local/state/effect-ssh`.
 *
 * @since 0.1.0
 * @category constants
 */
export const stateDirectory = (): string => {
  const xdg = process.env.XDG_STATE_HOME
  return path.join(xdg !== undefined && xdg !== "" && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".local", "state"), "effect-ssh")
}

/**
 * Reads `Include` patterns: `*` and `?` in the last path component, sorted, relative to /etc/ssh (sshd_config(5)).
 *
 * @since 0.1.0
 * @category constructors
 */
export const includeReader: SshdConfig.IncludeReader = (pattern) => {
  const full = path.isAbsolute(pattern) ? pattern : path.join("/etc/ssh", pattern)
  const dir = path.dirname(full)
  const base = path.basename(full)
  try {
    const names = /[*?]/.test(base)
      ? fs.readdirSync(dir).filter((n) => !n.startsWith(".") && Match.glob(n, base)).sort()
      : fs.existsSync(full) ? [base] : []
    return Either.right(names.map((n) => ({ path: path.join(dir, n), text: fs.readFileSync(path.join(dir, n), "utf8") })))
  } catch (e) {
    return Either.left(text(e))
  }
}

interface Passwd {
  readonly homes: ReadonlyMap<string, string>
  readonly groups: ReadonlyMap<string, ReadonlyArray<string>>
}

const readLines = (file: string) => {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#"))
  } catch {
    return []
  }
}

/** /etc/passwd and /etc/group, read once (no NSS: users of LDAP and the like are not seen). */
const passwd = (): Passwd => {
  const homes = new Map<string, string>()
  const primary = new Map<string, string>()
  for (const line of readLines("/etc/passwd")) {
    const f = line.split(":")
    if (f.length >= 7) {
      homes.set(f[0]!, f[5]!)
      primary.set(f[0]!, f[3]!)
    }
  }
  const groups = new Map<string, Array<string>>()
  for (const line of readLines("/etc/group")) {
    const [name, , gid, members] = line.split(":")
    if (name === undefined || gid === undefined) continue
    for (const [user, g] of primary) if (g === gid) groups.set(user, [...(groups.get(user) ?? []), name])
    for (const m of (members ?? "").split(",")) if (m !== "") groups.set(m, [...(groups.get(m) ?? []), name])
  }
  return { homes, groups }
}

/**
 * The machine environment of a configured server; `password` checks password and keyboard-interactive logins.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (password: ConfigAuth.ConfigEnvironment["password"]): ConfigAuth.ConfigEnvironment => {
  const users = passwd()
  return {
    readFile: (file) =>
      Effect.sync(() => {
        try {
          return new Uint8Array(fs.readFileSync(file))
        } catch {
          return undefined
        }
      }),
    home: (user) => users.homes.get(user),
    groups: (user) => users.groups.get(user) ?? [],
    password
  }
}

/**
 * Pairs host keys with the HostCertificate files that certify them (each certificate goes with the key it
 * certifies; a certificate for no key is an error).
 *
 * @since 0.1.0
 * @category constructors
 */
export const withCertificates = (
  keys: ReadonlyArray<PrivateKeyMaterial>,
  files: ReadonlyArray<string>
): Either.Either<ReadonlyArray<PrivateKeyMaterial | HostKey.CertifiedKey>, string> => {
  const out: Array<PrivateKeyMaterial | HostKey.CertifiedKey> = [...keys]
  for (const file of files) {
    let content: string
    try {
      content = fs.readFileSync(file, "utf8")
    } catch (e) {
      return Either.left(`HostCertificate ${file}: ${text(e)}`)
    }
    const cert = Certificate.fromText(content.trim())
    if (Either.isLeft(cert)) return Either.left(`HostCertificate ${file}: ${cert.left.message}`)
    const key = keys.find((k) => Certificate.certifies(cert.right, k))
    if (key === undefined) return Either.left(`HostCertificate ${file}: certifies none of the host keys`)
    out.push({ key, certificate: cert.right.blob })
  }
  return Either.right(out)
}
