/**
 * Address lists in CIDR notation, as the `source-address` critical option of an OpenSSH certificate carries them
 * (PROTOCOL.certkeys: "nn.nn.nn.nn/nn or hhhh::hhhh/nn", comma-separated). Parsing is strict (SEC-66, SEC-68): a
 * list with any malformed entry, an empty entry, a prefix length out of range or host bits set below the prefix is
 * refused as a whole, as openssh addrmatch.c `addr_match_cidr_list` does. Pure; never throws.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"

/**
 * One network: the address bytes (4 for IPv4, 16 for IPv6) and the prefix length.
 *
 * @since 0.1.0
 * @category models
 */
export interface Cidr {
  readonly bytes: Uint8Array
  readonly prefix: number
}

/** SEC-68: list and entry lengths are capped before any work. */
const MAX_LIST_LENGTH = 4096
const MAX_ENTRIES = 256

/**
 * Parses a comma-separated CIDR list (`10.0.0.0/8,::1`); a bare address is a /32 or /128. `Left` names the first
 * problem; an empty list is an error (SEC-66: a present-but-empty `source-address` allows nobody).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseCidrList = (text: string): Either.Either<ReadonlyArray<Cidr>, string> => {
  if (text.length === 0) return Either.left("empty address list")
  if (text.length > MAX_LIST_LENGTH) return Either.left(`address list longer than ${MAX_LIST_LENGTH} characters`)
  const parts = text.split(",")
  if (parts.length > MAX_ENTRIES) return Either.left(`more than ${MAX_ENTRIES} addresses`)
  const out: Array<Cidr> = []
  for (const part of parts) {
    const cidr = parseCidr(part)
    if (cidr === undefined) return Either.left(`invalid address ${JSON.stringify(part.slice(0, 64))}`)
    out.push(cidr)
  }
  return Either.right(out)
}

/**
 * Parses one IPv4 or IPv6 address (no prefix), in the forms `inet_pton` accepts: dotted quad with decimal
 * octets, and RFC 4291 §2.2 text (with `::` and a trailing dotted quad). Zone ids (`%eth0`) are dropped. An
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how dual-stack sockets report IPv4 peers) is returned as IPv4.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseAddress = (text: string): Uint8Array | undefined => {
  const zone = text.indexOf("%")
  const bytes = text.includes(":") ? parseIpv6(zone >= 0 ? text.slice(0, zone) : text) : parseIpv4(text)
  if (bytes === undefined || bytes.length === 4) return bytes
  const mapped = bytes.subarray(0, 12).every((b, i) => (i < 10 ? b === 0 : b === 0xff))
  return mapped ? bytes.slice(12) : bytes
}

/**
 * Whether `address` lies in one of the networks. An address that does not parse matches nothing.
 *
 * @since 0.1.0
 * @category matching
 */
export const matches = (cidrs: ReadonlyArray<Cidr>, address: string): boolean => {
  const a = parseAddress(address)
  if (a === undefined) return false
  return cidrs.some((c) => c.bytes.length === a.length && samePrefix(c.bytes, a, c.prefix))
}

// ---------------------------------------------------------------------------------------------------------------
// internals

const parseCidr = (text: string): Cidr | undefined => {
  const slash = text.indexOf("/")
  const addressText = slash < 0 ? text : text.slice(0, slash)
  if (addressText.includes("%")) return undefined
  const bytes = text.includes(":") ? parseIpv6(addressText) : parseIpv4(addressText)
  if (bytes === undefined) return undefined
  const max = bytes.length * 8
  let prefix = max
  if (slash >= 0) {
    const p = text.slice(slash + 1)
    if (!/^[0-9]{1,3}$/.test(p)) return undefined
    prefix = Number(p)
    if (prefix > max) return undefined
  }
  // openssh addrmatch.c addr_pton_cidr: bits set below the prefix make the entry invalid.
  if (!hostBitsZero(bytes, prefix)) return undefined
  return { bytes, prefix }
}

const parseIpv4 = (text: string): Uint8Array | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    // inet_pton: decimal only, no leading zeros (which inet_aton would read as octal).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined
    const v = Number(p)
    if (v > 255) return undefined
    out[i] = v
  }
  return out
}

const parseIpv6 = (text: string): Uint8Array | undefined => {
  if (text.length === 0 || text.length > 45) return undefined
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const groups = (s: string): Array<number> | undefined => {
    if (s.length === 0) return []
    const out: Array<number> = []
    const parts = s.split(":")
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined
        out.push(parseInt(p, 16))
      }
    }
    return out
  }
  const head = groups(halves[0]!)
  const tail = halves.length === 2 ? groups(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  const total = head.length + tail.length
  // "::" stands for at least one group of zeros; without it there must be exactly eight groups.
  if (halves.length === 2 ? total > 7 : total !== 8) return undefined
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail]
  const out = new Uint8Array(16)
  all.forEach((g, i) => {
    out[i * 2] = g >> 8
    out[i * 2 + 1] = g & 0xff
  })
  return out
}

const hostBitsZero = (bytes: Uint8Array, prefix: number): boolean => {
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return false
  }
  return true
}

const samePrefix = (a: Uint8Array, b: Uint8Array, prefix: number): boolean => {
  for (let bit = 0; bit < prefix; bit++) {
    if (((a[bit >> 3]! ^ b[bit >> 3]!) >> (7 - (bit & 7))) & 1) return false
  }
  return true
}
