/**
 * The text side of OpenSSH certificates, as ssh-keygen reads and writes it: the validity interval of
 * `ssh-keygen -V` (`+52w`, `-1d:+1w`, `20250101:20260101`, `always:forever`, `0x…`), the certificate options of
 * `-O` (`no-pty`, `force-command=…`, `source-address=…`, `extension:name=value` …), and the description
 * `ssh-keygen -L` prints. Pure: the current time and the time zone come from the caller (`Date` local time, as
 * ssh-keygen uses localtime(3)).
 *
 * @example
 * ```ts
 * const validity = CertificateText.parseValidity("+52w", BigInt(Math.floor(Date.now() / 1000)))
 * const options = CertificateText.applyOptions("user", ["no-pty", "force-command=uptime"])
 * ```
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as HostKey from "../crypto/HostKey.js"
import * as Reader from "../wire/Reader.js"
import * as Certificate from "./Certificate.js"

/**
 * A validity interval: seconds since the epoch; `validBefore` `Certificate.FOREVER` never expires.
 *
 * @since 0.1.0
 * @category models
 */
export interface Validity {
  readonly validAfter: bigint
  readonly validBefore: bigint
}

/**
 * The critical options and extensions a certificate is issued with (the `SignOptions` records: a string is a
 * value, `true` an empty flag).
 *
 * @since 0.1.0
 * @category models
 */
export interface CertificateOptions {
  readonly criticalOptions: Readonly<Record<string, string | true>>
  readonly extensions: Readonly<Record<string, string | true>>
}

const UNITS: Readonly<Record<string, bigint>> = { s: 1n, m: 60n, h: 3600n, d: 86400n, w: 604800n }

/** misc.c convtime: a sequence of `number[smhdw]` (units case-insensitive); a bare number is seconds. */
const convtime = (text: string): bigint | undefined => {
  if (text === "" || !/^(\d+[smhdwSMHDW]?)+$/.test(text)) return undefined
  let total = 0n
  for (const m of text.matchAll(/(\d+)([smhdwSMHDW]?)/g)) total += BigInt(m[1]!) * (UNITS[m[2]!.toLowerCase() || "s"]!)
  return total
}

/** ssh-keygen parse_absolute_time: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, local time unless it ends in Z. */
const absolute = (text: string): bigint | undefined => {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/.exec(text)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? "0", m[5] ?? "0", m[6] ?? "0"].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number
  ]
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined
  const millis = m[7] === "Z" ? Date.UTC(y, mo - 1, d, h, mi, s) : new Date(y, mo - 1, d, h, mi, s).getTime()
  return Number.isNaN(millis) || millis < 0 ? undefined : BigInt(millis / 1000)
}

const hex = (text: string): bigint | undefined =>
  /^0x[0-9a-fA-F]{1,16}$/.test(text) ? BigInt(text) : undefined

const relative = (text: string, now: bigint): bigint | undefined => {
  const secs = convtime(text.slice(1))
  if (secs === undefined) return undefined
  const t = text[0] === "+" ? now + secs : now - secs
  return t < 0n ? 0n : t > Certificate.FOREVER ? Certificate.FOREVER : t
}

/**
 * Parses a validity interval as `ssh-keygen -V` does (ssh-keygen.c parse_cert_times): `forever` or
 * `always:forever`; a lone `+time` means from one minute before `now` (rounded down to the minute, as ssh-keygen
 * backdates for badly synchronised clocks) until `now + time`; otherwise `from:to` where `from` is `[+-]time`,
 * `always`, `0x…` or a date `YYYYMMDD[HHMM[SS]][Z]`, and `to` is `[+-]time`, `forever`, `0x…` or a date. Times are
 * `convtime` sequences (`1w2d`, `90m`, a bare number of seconds). `now` is seconds since the epoch. `Left` with
 * ssh-keygen's message for anything else or an empty interval.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseValidity = (spec: string, now: bigint): Either.Either<Validity, string> => {
  if (spec === "forever" || spec === "always:forever") return Either.right({ validAfter: 0n, validBefore: Certificate.FOREVER })
  if (spec.startsWith("+") && !spec.includes(":")) {
    const to = relative(spec, now)
    if (to === undefined) return Either.left(`Invalid relative certificate time ${spec}`)
    return Either.right({ validAfter: now - (now % 60n) - 60n, validBefore: to })
  }
  const colon = spec.indexOf(":")
  if (colon <= 0 || colon === spec.length - 1) return Either.left(`Invalid certificate life specification ${spec}`)
  const fromText = spec.slice(0, colon)
  const toText = spec.slice(colon + 1)
  const from = fromText.startsWith("-") || fromText.startsWith("+")
    ? relative(fromText, now)
    : fromText === "always"
    ? 0n
    : fromText.startsWith("0x")
    ? hex(fromText)
    : absolute(fromText)
  if (from === undefined) return Either.left(`Invalid from time "${fromText}"`)
  const to = toText.startsWith("-") || toText.startsWith("+")
    ? relative(toText, now)
    : toText === "forever"
    ? Certificate.FOREVER
    : toText.startsWith("0x")
    ? hex(toText)
    : absolute(toText)
  if (to === undefined) return Either.left(`Invalid to time "${toText}"`)
  if (to <= from) return Either.left("Empty certificate validity interval")
  return Either.right({ validAfter: from, validBefore: to })
}

const FLAG_EXTENSIONS = [
  "permit-X11-forwarding",
  "permit-agent-forwarding",
  "permit-port-forwarding",
  "permit-pty",
  "permit-user-rc"
] as const

/**
 * Applies `ssh-keygen -O` options in order (ssh-keygen.c add_cert_option), starting from what ssh-keygen issues
 * by default: the five `permit-*` extensions for a user certificate, nothing for a host certificate. Known
 * options: `clear`, `force-command=cmd`, `source-address=cidr,…`, `verify-required`, `no-touch-required`,
 * `no-`/`permit-` + `agent-forwarding`, `port-forwarding`, `pty`, `user-rc`, `x11-forwarding` (names
 * case-insensitive), and `critical:name[=value]` / `extension:name[=value]`. As in ssh-keygen, a host
 * certificate carries no options at all. `Left` for an unknown or repeated option.
 *
 * @since 0.1.0
 * @category parsing
 */
export const applyOptions = (
  type: Certificate.CertificateType,
  options: ReadonlyArray<string>
): Either.Either<CertificateOptions, string> => {
  const flags = new Set<string>(FLAG_EXTENSIONS)
  const critical: Record<string, string | true> = {}
  const custom: Record<string, string | true> = {}
  for (const option of options) {
    const eq = option.indexOf("=")
    const name = eq < 0 ? option : option.slice(0, eq)
    const value = eq < 0 ? undefined : option.slice(eq + 1)
    const lower = name.toLowerCase()
    const flag = FLAG_EXTENSIONS.find((f) => f.toLowerCase() === `permit-${lower.replace(/^(no|permit)-/, "")}`)
    if (lower === "clear" && value === undefined) flags.clear()
    else if ((lower.startsWith("no-") || lower.startsWith("permit-")) && flag !== undefined && value === undefined) {
      if (lower.startsWith("no-")) flags.delete(flag)
      else flags.add(flag)
    } else if ((lower === "force-command" || lower === "source-address") && value !== undefined) {
      if (lower in critical) return Either.left(`${lower} already specified`)
      critical[lower] = value
    } else if (lower === "verify-required" && value === undefined) critical["verify-required"] = true
    else if (lower === "no-touch-required" && value === undefined) custom["no-touch-required"] = true
    else if ((lower.startsWith("critical:") || lower.startsWith("extension:")) && name.indexOf(":") < name.length - 1) {
      const target = lower.startsWith("critical:") ? critical : custom
      const key = name.slice(name.indexOf(":") + 1)
      if (key in target) return Either.left(`${name} already specified`)
      target[key] = value ?? true
    } else return Either.left(`Unsupported certificate option "${option}"`)
  }
  if (type === "host") return Either.right({ criticalOptions: {}, extensions: {} })
  const extensions: Record<string, string | true> = {}
  for (const f of flags) extensions[f] = true
  return Either.right({ criticalOptions: critical, extensions: { ...extensions, ...custom } })
}

const pad = (n: number) => String(n).padStart(2, "0")

/**
 * A time as ssh-keygen prints it (misc.c format_absolute_time): `YYYY-MM-DDTHH:MM:SS` in local time.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatTime = (seconds: bigint): string => {
  const d = new Date(Number(seconds) * 1000)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/**
 * The validity as ssh-keygen prints it (sshkey.c sshkey_format_cert_validity): `forever`, `after X`, `before Y`
 * or `from X to Y`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatValidity = (v: Validity): string =>
  v.validAfter === 0n && v.validBefore === Certificate.FOREVER
    ? "forever"
    : v.validAfter === 0n
    ? `before ${formatTime(v.validBefore)}`
    : v.validBefore === Certificate.FOREVER
    ? `after ${formatTime(v.validAfter)}`
    : `from ${formatTime(v.validAfter)} to ${formatTime(v.validBefore)}`

/** sshkey_type: the key family in capitals (`ED25519`, `ECDSA`, `RSA`), `-CERT` for certificates. */
const family = (keyType: string): string =>
  keyType === "ssh-ed25519" ? "ED25519" : keyType.startsWith("ecdsa-") ? "ECDSA" : keyType === "ssh-rsa" ? "RSA" : keyType

const hexOf = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

const KNOWN_FLAGS = new Set<string>([...FLAG_EXTENSIONS, "no-touch-required"])

/** ssh-keygen.c show_options: a known value printed after the name, unknown data as hex. */
const showOptions = (options: ReadonlyArray<Certificate.CertificateOption>, critical: boolean): string => {
  if (options.length === 0) return " (none)\n"
  let out = " \n"
  for (const o of options) {
    out += `                ${o.name}`
    if ((!critical && KNOWN_FLAGS.has(o.name)) || (critical && o.name === "verify-required")) out += "\n"
    else if (critical && (o.name === "force-command" || o.name === "source-address")) {
      const value = Reader.run(o.data, (r) => r.utf8())
      out += ` ${Either.getOrElse(value, () => "")}\n`
    } else if (o.data.length > 0) out += ` UNKNOWN OPTION: ${hexOf(o.data)} (len ${o.data.length})\n`
    else out += " UNKNOWN FLAG OPTION\n"
  }
  return out
}

/**
 * What `ssh-keygen -L -f name` prints for a certificate: the name line, then type, key and CA fingerprints (SHA256),
 * key id, serial, validity (local time), principals, critical options and extensions, indented as ssh-keygen
 * indents them.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (cert: Certificate.Certificate, name: string): string => {
  const caType = Either.getOrElse(Reader.run(cert.signatureKey, (r) => r.ascii()), () => "unknown")
  const principals = cert.principals.length === 0
    ? "(none)\n"
    : cert.principals.map((p) => `\n                ${p}`).join("") + "\n"
  return `${name}:\n` +
    `        Type: ${cert.certType} ${cert.type} certificate\n` +
    `        Public key: ${family(cert.keyType)}-CERT ${HostKey.fingerprintSha256(cert.publicKeyBlob)}\n` +
    `        Signing CA: ${family(caType)} ${HostKey.fingerprintSha256(cert.signatureKey)} (using ${cert.signatureAlgorithm})\n` +
    `        Key ID: "${cert.keyId}"\n` +
    `        Serial: ${cert.serial}\n` +
    `        Valid: ${formatValidity(cert)}\n` +
    `        Principals: ${principals}` +
    `        Critical Options:${showOptions(cert.criticalOptions, true)}` +
    `        Extensions:${showOptions(cert.extensions, false)}`
}
