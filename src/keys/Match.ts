/**
 * OpenSSH-style pattern matching with bounded cost (SEC-68): `*` and `?` wildcards, comma-separated pattern
 * lists with `!` negation (openssh match.c `match_pattern_list`), and address lists that mix wildcards with
 * strictly parsed CIDR blocks (openssh addrmatch.c `addr_match_list`), as authorized_keys `from=` and
 * certificate `source-address` use them. Never a RegExp built from a pattern.
 *
 * @since 0.1.0
 */

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
 * An IPv4 or IPv6 address as 4 or 16 bytes, or undefined when `text` is not a literal address.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseAddress = (text: string): Uint8Array | undefined => {
  if (text.includes(":")) return parseIpv6(text)
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined
    out[i] = Number(p)
  }
  return out
}

const parseIpv6 = (input: string): Uint8Array | undefined => {
  let text = input
  // An IPv4-mapped tail (::ffff:1.2.3.4) is two groups written differently.
  const lastColon = text.lastIndexOf(":")
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = parseAddress(text.slice(lastColon + 1))
    if (v4 === undefined) return undefined
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16)
    text = `${text.slice(0, lastColon + 1)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`
  }
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const group = (g: string) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)
  const parse = (h: string) => (h === "" ? [] : h.split(":").map(group))
  const left = parse(halves[0]!)
  const right = halves.length === 2 ? parse(halves[1]!) : []
  if ([...left, ...right].some((n) => Number.isNaN(n))) return undefined
  const total = left.length + right.length
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined
  const groups = [...left, ...new Array<number>(8 - total).fill(0), ...right]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8
    out[2 * i + 1] = g & 0xff
  })
  return out
}

/**
 * A CIDR block `addr/bits` parsed strictly: the prefix length must fit the family and no host bits may be set
 * (openssh addrmatch.c `addr_pton_cidr`). Undefined for anything else.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseCidr = (text: string): { readonly address: Uint8Array; readonly bits: number } | undefined => {
  const slash = text.indexOf("/")
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash))
  if (address === undefined) return undefined
  const max = address.length * 8
  if (slash < 0) return { address, bits: max }
  const b = text.slice(slash + 1)
  if (!/^(0|[1-9][0-9]{0,2})$/.test(b) || Number(b) > max) return undefined
  const bits = Number(b)
  for (let i = bits; i < max; i++) if ((address[i >> 3]! >> (7 - (i & 7))) & 1) return undefined
  return { address, bits }
}

const inCidr = (address: Uint8Array, cidr: { readonly address: Uint8Array; readonly bits: number }): boolean => {
  if (address.length !== cidr.address.length) return false
  for (let i = 0; i < cidr.bits; i++) {
    const bit = 7 - (i & 7)
    if (((address[i >> 3]! >> bit) & 1) !== ((cidr.address[i >> 3]! >> bit) & 1)) return false
  }
  return true
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
  const bytes = parseAddress(address)
  let result: 0 | 1 = 0
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!")
    const entry = negated ? raw.slice(1) : raw
    if (entry === "") return "invalid"
    let hit: boolean
    if (entry.includes("/") || (parseAddress(entry) !== undefined && !/[*?]/.test(entry))) {
      const cidr = parseCidr(entry)
      if (cidr === undefined) return "invalid"
      hit = bytes !== undefined && inCidr(bytes, cidr)
    } else {
      hit = glob(address.toLowerCase(), entry.toLowerCase())
    }
    if (!hit) continue
    if (negated) return -1
    result = 1
  }
  return result
}

/**
 * Matches against a `source-address` list, which holds CIDR blocks and addresses only (PROTOCOL.certkeys):
 * true when allowed; a malformed or empty list denies (SEC-66).
 *
 * @since 0.1.0
 * @category matching
 */
export const sourceAddress = (address: string, list: string): boolean => {
  const bytes = parseAddress(address)
  if (bytes === undefined || list === "" || list.length > MAX_LENGTH) return false
  let allowed = false
  for (const entry of list.split(",")) {
    const cidr = parseCidr(entry)
    if (cidr === undefined) return false
    if (inCidr(bytes, cidr)) allowed = true
  }
  return allowed
}
