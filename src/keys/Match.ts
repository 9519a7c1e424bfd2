/**
 * OpenSSH-style pattern matching with bounded cost (SEC-68): `*` and `?` wildcards, comma-separated pattern
 * lists with `!` negation (openssh match.c `match_pattern_list`), and address lists that mix wildcards with
 * strictly parsed CIDR blocks (openssh addrmatch.c `addr_match_list`, CIDR from `CertificateAddress`), as
 * authorized_keys `from=` uses them. Never a RegExp built from a pattern.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as CertificateAddress from "./CertificateAddress.js"

/**
 * Longest pattern or subject matched; longer inputs never match (SEC-68).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_LENGTH = 1024

/**
 * Whether `subject` matches the wildcard `pattern` (`*` any run, `?` one character), case-sensitively.
 * Iterative with one backtrack point, so the cost is at most |subject| × |pattern| steps.
 *
 * @since 0.1.0
 * @category matching
 */
export const glob = (subject: string, pattern: string): boolean => {
  if (subject.length > MAX_LENGTH || pattern.length > MAX_LENGTH) return false
  let s = 0
  let p = 0
  let starP = -1
  let starS = 0
  while (s < subject.length) {
    const c = pattern[p]
    if (c === "*") {
      starP = p++
      starS = s
    } else if (c !== undefined && (c === "?" || c === subject[s])) {
      p++
      s++
    } else if (starP >= 0) {
      // Let the last `*` absorb one more character; earlier stars never need revisiting.
      p = starP + 1
      s = ++starS
    } else {
      return false
    }
  }
  while (pattern[p] === "*") p++
  return p === pattern.length
}

/**
 * Matches `subject` against a comma-separated pattern list: 1 when a positive pattern matches and no negated
 * one does, -1 when a negated pattern (`!pat`) matches, 0 when nothing matches (openssh match.c). With
 * `lowercase`, the subject is compared in lower case (host names).
 *
 * @since 0.1.0
 * @category matching
 */
export const patternList = (subject: string, list: string, lowercase = false): -1 | 0 | 1 => {
  const s = lowercase ? subject.toLowerCase() : subject
  let result: 0 | 1 = 0
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!")
    const pattern = lowercase ? (negated ? raw.slice(1) : raw).toLowerCase() : negated ? raw.slice(1) : raw
    if (pattern === "" || !glob(s, pattern)) continue
    if (negated) return -1
    result = 1
  }
  return result
}

/**
 * Matches a client address against a `from=` / `source-address` list: entries are CIDR blocks, addresses or
 * wildcard patterns, each optionally negated with `!`. 1 allowed, -1 denied by a negated entry, 0 no match,
 * and "invalid" when an entry that looks like a CIDR block does not parse (a malformed list denies all, SEC-66).
 *
 * @since 0.1.0
 * @category matching
 */
export const addressList = (address: string, list: string): -1 | 0 | 1 | "invalid" => {
  if (list.length > MAX_LENGTH || list === "") return "invalid"
  let result: 0 | 1 = 0
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!")
    const entry = negated ? raw.slice(1) : raw
    if (entry === "") return "invalid"
    let hit: boolean
    if (entry.includes("/") || (CertificateAddress.parseAddress(entry) !== undefined && !/[*?]/.test(entry))) {
      const cidr = CertificateAddress.parseCidrList(entry)
      if (Either.isLeft(cidr)) return "invalid"
      hit = CertificateAddress.matches(cidr.right, address)
    } else {
      hit = glob(address.toLowerCase(), entry.toLowerCase())
    }
    if (!hit) continue
    if (negated) return -1
    result = 1
  }
  return result
}
