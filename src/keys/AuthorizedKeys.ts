/**
 * authorized_keys files as sshd reads them (sshd(8) "AUTHORIZED_KEYS FILE FORMAT", SEC-64): each line is
 * `[options] keytype base64 [comment]`. Parsing is strict: an unknown option, a duplicated single-valued option,
 * a malformed value, an unknown key type or a type that does not match the blob rejects the whole line; lines
 * longer than 16 KiB are rejected whole, never split. A rejected line authorises nothing.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as HostKey from "../crypto/HostKey.js"
import * as Match from "./Match.js"

/**
 * The options of one authorized_keys line, as sshd interprets them. `restrict` turns every capability off
 * (pty, port/agent/X11 forwarding, user rc, tunnel); `pty`, `port-forwarding` … after it turn one back on.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyOptions {
  readonly certAuthority: boolean
  /** `command="…"`: replaces whatever the client asked to run. */
  readonly command?: string | undefined
  /** `environment="NAME=value"` (repeatable). */
  readonly environment: ReadonlyArray<readonly [string, string]>
  /** `from="pattern-list"`: client addresses allowed (wildcards, CIDR, `!` negation). */
  readonly from?: string | undefined
  /** `principals="a,b"`: with cert-authority, the names a certificate must carry one of. */
  readonly principals?: ReadonlyArray<string> | undefined
  /** `expiry-time="YYYYMMDD[HHMM[SS]][Z]"` as epoch milliseconds: the key is refused from then on. */
  readonly expiresAt?: number | undefined
  /** `permitopen="host:port"` (repeatable): the only direct-tcpip destinations allowed. */
  readonly permitOpen: ReadonlyArray<string>
  /** `permitlisten="[host:]port"` (repeatable): the only tcpip-forward listeners allowed. */
  readonly permitListen: ReadonlyArray<string>
  readonly pty: boolean
  readonly portForwarding: boolean
  readonly agentForwarding: boolean
  readonly x11Forwarding: boolean
  readonly userRc: boolean
  /** `tunnel="n"`; with `restrict`, tunnels are off unless this names one. */
  readonly tunnel?: number | undefined
  readonly tunnelAllowed: boolean
  readonly verifyRequired: boolean
  readonly noTouchRequired: boolean
}

/**
 * One accepted line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  /** 1-based line number. */
  readonly line: number
  readonly keyType: string
  readonly blob: Uint8Array
  readonly comment: string
  readonly options: KeyOptions
}

/**
 * The accepted lines and, for every rejected one, why.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParseResult {
  readonly entries: ReadonlyArray<Entry>
  readonly errors: ReadonlyArray<{ readonly line: number; readonly message: string }>
}

/**
 * Longest line accepted (sshd reads lines of at most 16 KiB; longer ones are refused whole, SEC-64).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_LINE = 16 * 1024

/**
 * The options of a line without any: everything allowed.
 *
 * @since 0.1.0
 * @category constants
 */
export const NO_OPTIONS: KeyOptions = {
  certAuthority: false,
  environment: [],
  permitOpen: [],
  permitListen: [],
  pty: true,
  portForwarding: true,
  agentForwarding: true,
  x11Forwarding: true,
  userRc: true,
  tunnelAllowed: true,
  verifyRequired: false,
  noTouchRequired: false
}

const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa"
])

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const FLAGS: Readonly<Record<string, readonly [keyof KeyOptions, boolean]>> = {
  "no-pty": ["pty", false],
  "pty": ["pty", true],
  "no-port-forwarding": ["portForwarding", false],
  "port-forwarding": ["portForwarding", true],
  "no-agent-forwarding": ["agentForwarding", false],
  "agent-forwarding": ["agentForwarding", true],
  "no-x11-forwarding": ["x11Forwarding", false],
  "x11-forwarding": ["x11Forwarding", true],
  "no-user-rc": ["userRc", false],
  "user-rc": ["userRc", true],
  "cert-authority": ["certAuthority", true],
  "verify-required": ["verifyRequired", true],
  "no-touch-required": ["noTouchRequired", true]
}

/** Reads a quoted option value starting after `name="`; `\"` is a quote (sshd auth-options.c). */
const quoted = (text: string, start: number): { value: string; end: number } | undefined => {
  let value = ""
  for (let i = start; i < text.length; i++) {
    const c = text[i]!
    if (c === "\\" && text[i + 1] === "\"") {
      value += "\""
      i++
    } else if (c === "\"") {
      return { value, end: i + 1 }
    } else {
      value += c
    }
  }
  return undefined
}

/** `YYYYMMDD[HHMM[SS]][Z]` → epoch ms (local time unless `Z`, as sshd's parse_absolute_time). */
const parseExpiry = (text: string): number | undefined => {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/.exec(text)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number]
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined
  const t = m[7] === "Z" ? Date.UTC(y, mo - 1, d, h, mi, s) : new Date(y, mo - 1, d, h, mi, s).getTime()
  return Number.isFinite(t) ? t : undefined
}

const validPermitOpen = (v: string): boolean => {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\*|\d{1,5})$/.exec(v)
  return m !== null && (m[2] === "*" || Number(m[2]) <= 65535)
}

const validPermitListen = (v: string): boolean => {
  const m = /^(?:(\[[^\]]+\]|[^:[\]]+):)?(\*|\d{1,5})$/.exec(v)
  return m !== null && (m[2] === "*" || Number(m[2]) <= 65535)
}

/**
 * Parses the option field of a line (`no-pty,command="x"`); `Left` with the reason for anything sshd would
 * refuse.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseOptions = (text: string): Either.Either<KeyOptions, string> => {
  const o: Mutable<KeyOptions> = { ...NO_OPTIONS, environment: [], permitOpen: [], permitListen: [] }
  const seen = new Set<string>()
  let i = 0
  while (i < text.length) {
    const eq = /^[A-Za-z0-9-]+/.exec(text.slice(i))
    if (eq === null) return Either.left(`bad option syntax at "${text.slice(i, i + 20)}"`)
    const name = eq[0].toLowerCase()
    i += eq[0].length
    let value: string | undefined
    if (text[i] === "=") {
      if (text[i + 1] !== "\"") return Either.left(`option ${name}: value must be in double quotes`)
      const q = quoted(text, i + 2)
      if (q === undefined) return Either.left(`option ${name}: missing closing quote`)
      value = q.value
      i = q.end
    }
    if (i < text.length) {
      if (text[i] !== ",") return Either.left(`option ${name}: expected "," after it`)
      i++
      if (i === text.length) return Either.left("trailing comma in options")
    }
    const flag = FLAGS[name]
    if (flag !== undefined) {
      if (value !== undefined) return Either.left(`option ${name} takes no value`)
      Object.assign(o, { [flag[0]]: flag[1] })
      continue
    }
    if (name === "restrict") {
      if (value !== undefined) return Either.left("option restrict takes no value")
      Object.assign(o, { pty: false, portForwarding: false, agentForwarding: false, x11Forwarding: false, userRc: false, tunnelAllowed: false })
      continue
    }
    if (value === undefined) return Either.left(`unknown option ${name}`)
    const single = ["command", "from", "principals", "expiry-time", "tunnel"]
    if (single.includes(name) && seen.has(name)) return Either.left(`option ${name} given twice`)
    seen.add(name)
    switch (name) {
      case "command":
        o.command = value
        break
      case "from":
        if (value === "" || Match.addressList("0.0.0.0", value) === "invalid") return Either.left(`from="${value}": malformed`)
        o.from = value
        break
      case "principals":
        // SEC-64: split on the option's commas; each certificate principal is later compared whole.
        o.principals = value.split(",")
        break
      case "expiry-time": {
        const t = parseExpiry(value)
        if (t === undefined) return Either.left(`expiry-time="${value}": expected YYYYMMDD[HHMM[SS]][Z]`)
        o.expiresAt = t
        break
      }
      case "environment": {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value)
        if (m === null) return Either.left(`environment="${value}": expected NAME=value`)
        o.environment = [...o.environment, [m[1]!, m[2]!]]
        break
      }
      case "permitopen":
        if (!validPermitOpen(value)) return Either.left(`permitopen="${value}": expected host:port`)
        o.permitOpen = [...o.permitOpen, value]
        break
      case "permitlisten":
        if (!validPermitListen(value)) return Either.left(`permitlisten="${value}": expected [host:]port`)
        o.permitListen = [...o.permitListen, value]
        break
      case "tunnel":
        if (!/^\d{1,9}$/.test(value)) return Either.left(`tunnel="${value}": expected a number`)
        o.tunnel = Number(value)
        o.tunnelAllowed = true
        break
      default:
        return Either.left(`unknown option ${name}`)
    }
  }
  return Either.right(o)
}

/** Splits off the option field: everything up to the first blank outside double quotes. */
const splitOptions = (line: string): [string, string] | undefined => {
  let inQuote = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === "\\" && inQuote && line[i + 1] === "\"") i++
    else if (c === "\"") inQuote = !inQuote
    else if (!inQuote && (c === " " || c === "\t")) return [line.slice(0, i), line.slice(i).trimStart()]
  }
  return undefined
}

const parseKey = (text: string): Either.Either<{ keyType: string; blob: Uint8Array; comment: string }, string> => {
  const m = /^(\S+)[ \t]+([A-Za-z0-9+/]+={0,2})(?:[ \t]+(.*))?$/.exec(text)
  if (m === null) return Either.left("expected keytype base64 [comment]")
  const keyType = m[1]!
  if (!KEY_TYPES.has(keyType)) return Either.left(`unknown key type ${keyType}`)
  const blob = decodeBase64(m[2]!)
  if (blob === undefined) return Either.left("malformed base64")
  const decoded = HostKey.decodePublicKey(blob)
  // SEC-64: the named type must be the type inside the blob (`ssh-rsa <ed25519 blob>` is refused).
  if (Either.isLeft(decoded) || decoded.right.keyType !== keyType) return Either.left(`the key is not a valid ${keyType} key`)
  return Either.right({ keyType, blob, comment: (m[3] ?? "").trim() })
}

/**
 * Parses one line (without its newline); `undefined` for blank lines and comments.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLine = (raw: string, line = 1): Either.Either<Entry, string> | undefined => {
  if (raw.length > MAX_LINE) return Either.left(`line longer than ${MAX_LINE} bytes`)
  const text = raw.replace(/\r$/, "").trim()
  if (text === "" || text.startsWith("#")) return undefined
  const first = /^\S+/.exec(text)![0]
  let optionText = ""
  let keyText = text
  if (!KEY_TYPES.has(first)) {
    const parts = splitOptions(text)
    // SEC-64: `restrict AAAA…` (no key type) is an options field followed by garbage, never a key.
    if (parts === undefined) return Either.left(`unknown key type, or options without a key: ${first.slice(0, 40)}`)
    ;[optionText, keyText] = parts
  }
  const options = optionText === "" ? Either.right(NO_OPTIONS) : parseOptions(optionText)
  if (Either.isLeft(options)) return Either.left(options.left)
  const key = parseKey(keyText)
  if (Either.isLeft(key)) return Either.left(key.left)
  return Either.right({ line, ...key.right, options: options.right })
}

/**
 * Parses a whole file. Never throws; rejected lines are listed in `errors` and authorise nothing.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): ParseResult => {
  const entries: Array<Entry> = []
  const errors: Array<{ line: number; message: string }> = []
  const lines = text.split("\n")
  for (let n = 0; n < lines.length; n++) {
    const r = parseLine(lines[n]!, n + 1)
    if (r === undefined) continue
    if (Either.isLeft(r)) errors.push({ line: n + 1, message: r.left })
    else entries.push(r.right)
  }
  return { entries, errors }
}

/** Base64 of characters already checked by the caller's pattern; `undefined` when malformed. */
const decodeBase64 = (s: string): Uint8Array | undefined => {
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0))
  } catch {
    return undefined
  }
}
