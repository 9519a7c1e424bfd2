/**
 * OpenSSH known_hosts files: parsing, host matching (plain patterns and hashed `|1|` entries), checking a host
 * key, and writing the lines `ssh` writes. Pure; never throws on file content (SEC-62); pattern matching has
 * bounded cost (SEC-68, LIM-33). Semantics follow openssh hostfile.c and match.c; the unit tests compare
 * `lookup` with `ssh-keygen -l -F` on generated files.
 *
 * @since 0.1.0
 */
import { hmac } from "@noble/hashes/hmac.js"
import { sha1 } from "@noble/hashes/legacy.js"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Reader from "../wire/Reader.js"
import * as Match from "./Match.js"
import { bytesEqual } from "../wire/Bytes.js"

/**
 * Line markers (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"). Certificates are not supported yet, so
 * `@cert-authority` lines are parsed but never make a plain key trusted, nor make a host "known".
 *
 * @since 0.1.0
 * @category models
 */
export type Marker = "@cert-authority" | "@revoked"

/**
 * One comma-separated host pattern, lowercased as OpenSSH compares them (match.c `match_pattern_list`).
 *
 * @since 0.1.0
 * @category models
 */
export interface HostPattern {
  readonly negated: boolean
  readonly pattern: string
}

/**
 * The host field of a line: a comma list of patterns, or one hashed name `|1|base64(salt)|base64(hmac)`.
 *
 * @since 0.1.0
 * @category models
 */
export type HostField =
  | { readonly _tag: "Patterns"; readonly patterns: ReadonlyArray<HostPattern> }
  | { readonly _tag: "Hashed"; readonly salt: Uint8Array; readonly hash: Uint8Array }

/**
 * One well-formed known_hosts line.
 *
 * @since 0.1.0
 * @category models
 */
export interface KnownHostsEntry {
  /** 1-based line number in the file. */
  readonly line: number
  /** The line as written (without its line terminator), for error messages. */
  readonly text: string
  readonly marker: Marker | undefined
  readonly hosts: HostField
  readonly keyType: string
  /** The base64-decoded public key blob (RFC 4253 §6.6 encoding). */
  readonly blob: Uint8Array
  readonly comment: string
}

/**
 * A line that was skipped, and why.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParseWarning {
  readonly line: number
  readonly reason: string
}

/**
 * The result of parsing a file: the usable entries and a warning for each line that was skipped or that
 * carries a pattern too long to ever match.
 *
 * @since 0.1.0
 * @category models
 */
export interface KnownHostsFile {
  readonly entries: ReadonlyArray<KnownHostsEntry>
  readonly warnings: ReadonlyArray<ParseWarning>
}

/**
 * The verdict on a presented host key.
 * - `Match`: a plain line for the host holds exactly this key.
 * - `Mismatch`: the host is known, but with other keys (`known`); SEC-62 rejects this, even when the known keys
 *   are of another type (OpenSSH would treat that case as a new host).
 * - `Revoked`: an `@revoked` line for the host holds this key; this takes precedence over a `Match`.
 * - `Unknown`: no plain line matches the host.
 *
 * @since 0.1.0
 * @category models
 */
export type CheckResult = Data.TaggedEnum<{
  Match: { readonly entry: KnownHostsEntry }
  Mismatch: { readonly known: ReadonlyArray<KnownHostsEntry> }
  Revoked: { readonly entries: ReadonlyArray<KnownHostsEntry> }
  Unknown: {}
}>

/**
 * Constructors and matchers for `CheckResult`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const CheckResult = Data.taggedEnum<CheckResult>()

/**
 * LIM-33: OpenSSH copies each sub-pattern into `char sub[1024]` and gives up (no match for the whole list) when
 * one does not fit, so 1 022 characters is the longest sub-pattern that can ever match.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PATTERN_LENGTH = 1022

/**
 * SEC-68: names longer than this never match, which bounds the glob matcher at O(name × pattern).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_NAME_LENGTH = 1024

const HASH_MAGIC = "|1|"
const SHA1_LENGTH = 20

/**
 * Parses a known_hosts file. Malformed lines are skipped with a warning; this function never throws.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): KnownHostsFile => {
  const entries: Array<KnownHostsEntry> = []
  const warnings: Array<ParseWarning> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    // A CRLF file would otherwise leave "\r" in the last field; OpenSSH's b64_pton skips it the same way.
    const raw = lines[i]!.endsWith("\r") ? lines[i]!.slice(0, -1) : lines[i]!
    const result = parseLine(raw, i + 1)
    if (result === undefined) continue
    if (typeof result === "string") warnings.push({ line: i + 1, reason: result })
    else {
      entries.push(result)
      const { hosts } = result
      if (hosts._tag === "Patterns" && hosts.patterns.some((p) => p.pattern.length > MAX_PATTERN_LENGTH)) {
        warnings.push({ line: i + 1, reason: `a host pattern is longer than ${MAX_PATTERN_LENGTH} characters` })
      }
    }
  }
  return { entries, warnings }
}

/**
 * The name OpenSSH looks up for a destination: the lowercased host, written `[host]:port` unless the port is 22
 * (or 0, meaning the default). Used for patterns and hashes alike (openssh misc.c `put_host_port`).
 *
 * @since 0.1.0
 * @category matching
 */
export const lookupName = (host: string, port: number): string => {
  const h = asciiLower(host)
  return port === 22 || port === 0 ? h : `[${h}]:${port}`
}

/**
 * The entries whose host field matches `host`/`port` (any marker). A line whose negated pattern matches is
 * excluded even if another of its patterns matches (openssh match.c `match_hostname`).
 *
 * @since 0.1.0
 * @category matching
 */
export const lookup = (
  entries: ReadonlyArray<KnownHostsEntry>,
  host: string,
  port: number
): ReadonlyArray<KnownHostsEntry> => {
  const name = lookupName(host, port)
  if (name.length > MAX_NAME_LENGTH || name.includes("\0")) return []
  const nameBytes = utf8.encode(name)
  return entries.filter((e) =>
    e.hosts._tag === "Patterns"
      ? matchPatternList(name, e.hosts.patterns) === 1
      : bytesEqual(hmac(sha1, e.hosts.salt, nameBytes), e.hosts.hash)
  )
}

/**
 * Checks a presented host key against the entries (SEC-62 precedence: `@revoked` → exact key → mismatch →
 * unknown). `keyType` is the type inside the blob (`ssh-rsa` even when the signature is `rsa-sha2-256`);
 * a known key matches only if both its type and blob are equal.
 *
 * @since 0.1.0
 * @category matching
 */
export const check = (
  entries: ReadonlyArray<KnownHostsEntry>,
  host: string,
  port: number,
  keyType: string,
  blob: Uint8Array
): CheckResult => {
  const found = lookup(entries, host, port)
  const same = (e: KnownHostsEntry) => e.keyType === keyType && bytesEqual(e.blob, blob)
  const revoked = found.filter((e) => e.marker === "@revoked" && same(e))
  if (revoked.length > 0) return CheckResult.Revoked({ entries: revoked })
  const plain = found.filter((e) => e.marker === undefined)
  const match = plain.find(same)
  if (match !== undefined) return CheckResult.Match({ entry: match })
  return plain.length > 0 ? CheckResult.Mismatch({ known: plain }) : CheckResult.Unknown()
}

/**
 * The key types known for a host (plain lines only), in file order without repeats: a client can prefer them
 * when it negotiates the host key algorithm, as OpenSSH's `order_hostkeyalgs` does.
 *
 * @since 0.1.0
 * @category matching
 */
export const knownKeyTypes = (
  entries: ReadonlyArray<KnownHostsEntry>,
  host: string,
  port: number
): ReadonlyArray<string> => [
  ...new Set(lookup(entries, host, port).filter((e) => e.marker === undefined).map((e) => e.keyType))
]

/**
 * The line `ssh` appends for a newly accepted host (openssh hostfile.c `write_host_entry`): `name keytype
 * base64`, without a comment or line terminator. With `hash: true` the name is `|1|salt|HMAC-SHA1(salt, name)`;
 * the caller supplies the 20 random salt bytes. Fails when the host would not survive as a plain pattern
 * (whitespace, commas, wildcards, control characters), so a host name can never inject a line.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatLine = (
  host: string,
  port: number,
  keyType: string,
  blob: Uint8Array,
  options: { readonly hash: false } | { readonly hash: true; readonly salt: Uint8Array }
): Either.Either<string, string> => {
  if (!/^[\x21-\x7e]+$/.test(host) || /[,*?![\]|@#\\]/.test(host)) {
    return Either.left(`host name ${JSON.stringify(host)} cannot be written to known_hosts`)
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) return Either.left(`invalid port ${port}`)
  if (!/^[\x21-\x7e]+$/.test(keyType)) return Either.left(`invalid key type ${JSON.stringify(keyType)}`)
  const name = lookupName(host, port)
  let field = name
  if (options.hash) {
    if (options.salt.length !== SHA1_LENGTH) return Either.left(`the salt must be ${SHA1_LENGTH} bytes`)
    field = `${HASH_MAGIC}${encodeBase64(options.salt)}|${encodeBase64(hmac(sha1, options.salt, utf8.encode(name)))}`
  }
  return Either.right(`${field} ${keyType} ${encodeBase64(blob)}`)
}

/**
 * The key type named at the start of a public key blob (RFC 4253 §6.6), if it has one.
 *
 * @since 0.1.0
 * @category parsing
 */
export const keyTypeOfBlob = (blob: Uint8Array): Option.Option<string> =>
  Either.getRight(Reader.run(blob, (r) => r.ascii())).pipe(Option.filter((t) => t.length > 0))

/**
 * One `*`/`?` glob against a name, as openssh match.c `match_pattern` (no negation, no lists), with bounded cost
 * (SEC-68): used for host certificate principals, which may hold wildcards.
 *
 * @since 0.1.0
 * @category matching
 */
export const matchPattern = (name: string, pattern: string): boolean =>
  name.length <= MAX_NAME_LENGTH && pattern.length <= MAX_PATTERN_LENGTH && Match.glob(name, pattern)

/**
 * Standard base64 with padding (RFC 4648 §4), as key files and known_hosts write key blobs.
 *
 * @since 0.1.0
 * @category formatting
 */
export const toBase64 = (bytes: Uint8Array): string => encodeBase64(bytes)

/**
 * Canonical padded base64 only (what `toBase64` writes); anything else is `undefined`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromBase64 = (text: string): Uint8Array | undefined => decodeBase64(text)

// ---------------------------------------------------------------------------------------------------------------
// internals

const utf8 = new TextEncoder()

const isBlank = (c: string | undefined) => c === " " || c === "\t"

/** Returns the entry, a warning, or undefined for blank and comment lines. */
const parseLine = (raw: string, line: number): KnownHostsEntry | string | undefined => {
  let pos = 0
  const skipBlanks = () => {
    while (isBlank(raw[pos])) pos++
  }
  const token = (): string => {
    const start = pos
    while (pos < raw.length && !isBlank(raw[pos])) pos++
    return raw.slice(start, pos)
  }
  skipBlanks()
  if (pos === raw.length || raw[pos] === "#") return undefined
  if (raw.includes("\0")) return "line contains a NUL byte"
  // openssh hostfile.c check_markers: at most one marker, which must be followed by a blank.
  let marker: Marker | undefined
  if (raw[pos] === "@") {
    const m = token()
    if (m !== "@cert-authority" && m !== "@revoked") return `unknown marker ${JSON.stringify(m.slice(0, 32))}`
    marker = m
    skipBlanks()
    if (raw[pos] === "@") return "more than one marker"
  }
  const hostText = token()
  skipBlanks()
  if (pos === raw.length) return "line ends after the host field"
  const hosts = parseHostField(hostText)
  if (typeof hosts === "string") return hosts
  const keyType = token()
  skipBlanks()
  if (pos === raw.length) return "line ends after the key type"
  const blob = decodeBase64(token())
  if (blob === undefined || blob.length === 0) return "key is not valid base64"
  skipBlanks()
  // SEC-62 (golang 3872a2b): the type field must name the type inside the blob.
  const inner = keyTypeOfBlob(blob)
  if (Option.isNone(inner) || inner.value !== keyType) {
    return `key type ${JSON.stringify(keyType)} does not match the key`
  }
  return { line, text: raw, marker, hosts, keyType, blob, comment: raw.slice(pos) }
}

const parseHostField = (field: string): HostField | string => {
  if (field.startsWith("|")) {
    // openssh hostfile.c extract_salt: "|1|" magic, a 20-byte salt; the hash is an HMAC-SHA1 (20 bytes).
    if (!field.startsWith(HASH_MAGIC)) return "unsupported hashed host format"
    const parts = field.slice(HASH_MAGIC.length).split("|")
    if (parts.length !== 2) return "malformed hashed host"
    const salt = decodeBase64(parts[0]!)
    const hash = decodeBase64(parts[1]!)
    if (salt === undefined || salt.length !== SHA1_LENGTH) return "hashed host salt is not 20 bytes of base64"
    if (hash === undefined || hash.length !== SHA1_LENGTH) return "hashed host hash is not 20 bytes of base64"
    return { _tag: "Hashed", salt, hash }
  }
  const patterns = field.split(",").map((p): HostPattern =>
    p.startsWith("!") ? { negated: true, pattern: asciiLower(p.slice(1)) } : { negated: false, pattern: asciiLower(p) }
  )
  return { _tag: "Patterns", patterns }
}

/** openssh match.c `match_pattern_list`: 1 = positive match, -1 = a negated pattern matched, 0 = no match. */
const matchPatternList = (name: string, patterns: ReadonlyArray<HostPattern>): -1 | 0 | 1 => {
  let positive = false
  for (const p of patterns) {
    // LIM-33: an over-long sub-pattern ends the whole list with "no match", as OpenSSH's fixed buffer does.
    if (p.pattern.length > MAX_PATTERN_LENGTH) return 0
    if (Match.glob(name, p.pattern)) {
      if (p.negated) return -1
      positive = true
    }
  }
  return positive ? 1 : 0
}

/**
 * `*` and `?` glob matching without recursion or RegExp (SEC-68): on a mismatch, retry from the last `*` with
 * one more character consumed. Equivalent to openssh match.c `match_pattern`, in O(name × pattern) steps.
 */

/** OpenSSH lowercases with `tolower` in the C locale: ASCII letters only. */
const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase())


const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

const encodeBase64 = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!
    out += (i + 1 < bytes.length ? B64[(n >> 6) & 63]! : "=") + (i + 2 < bytes.length ? B64[n & 63]! : "=")
  }
  return out
}

/**
 * Canonical base64 only, as OpenSSH's `b64_pton` accepts a single field: padding required, unused trailing bits
 * zero. Checked by re-encoding, so anything that does not round-trip is `undefined`.
 */
const decodeBase64 = (s: string): Uint8Array | undefined => {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined
  const body = s.replace(/=+$/, "")
  const out = new Uint8Array(Math.floor((body.length * 3) / 4))
  let acc = 0
  let bits = 0
  let o = 0
  for (const c of body) {
    acc = ((acc << 6) | B64.indexOf(c)) & 0xffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 255
    }
  }
  return encodeBase64(out) === s ? out : undefined
}

/**
 * A host name hashed as `ssh-keygen -H` and `ssh-keyscan -H` write it (openssh hostfile.c host_hash):
 * `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. `name` is hashed exactly as given (`[host]:port` off port
 * 22, lowercase as ssh looks names up); `salt` must be 20 random bytes. `Left` for another salt length.
 *
 * @since 0.1.0
 * @category formatting
 */
export const hashName = (name: string, salt: Uint8Array): Either.Either<string, string> =>
  salt.length !== SHA1_LENGTH
    ? Either.left(`the salt must be ${SHA1_LENGTH} bytes`)
    : Either.right(`${HASH_MAGIC}${encodeBase64(salt)}|${encodeBase64(hmac(sha1, salt, utf8.encode(name)))}`)
