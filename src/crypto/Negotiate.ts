/**
 * Algorithm negotiation (RFC 4253 §7.1), the KEXINIT pseudo-algorithm flags (strict KEX, RFC 8308 ext-info),
 * and the OpenSSH algorithm-list syntax of ssh_config(5) (`+`, `-`, `^`, `*`, `?`), resolved against an exact
 * allow-list (SEC-26).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Match from "../keys/Match.js"

/**
 * The algorithm lists of one KEXINIT (a `TransportMessages.KexInit` is one), in preference order.
 *
 * @since 0.1.0
 * @category models
 */
export interface AlgorithmLists {
  readonly kex: ReadonlyArray<string>
  readonly hostKey: ReadonlyArray<string>
  readonly cipherC2S: ReadonlyArray<string>
  readonly cipherS2C: ReadonlyArray<string>
  readonly macC2S: ReadonlyArray<string>
  readonly macS2C: ReadonlyArray<string>
  readonly compressionC2S: ReadonlyArray<string>
  readonly compressionS2C: ReadonlyArray<string>
}

/**
 * One kind of algorithm that is negotiated.
 *
 * @since 0.1.0
 * @category models
 */
export type AlgorithmKind = keyof AlgorithmLists

/**
 * The algorithms both sides settled on. A MAC is `undefined` when the cipher of that direction is AEAD.
 *
 * @since 0.1.0
 * @category models
 */
export interface Negotiated {
  readonly kex: string
  readonly hostKey: string
  readonly cipherC2S: string
  readonly cipherS2C: string
  readonly macC2S: string | undefined
  readonly macS2C: string | undefined
  readonly compressionC2S: string
  readonly compressionS2C: string
}

/**
 * No algorithm of `kind` is on both lists (RFC 4253 §7.1: disconnect with KEY_EXCHANGE_FAILED, SEC-16). Carries
 * both lists, as russh's `NoCommonAlgo` does (STYLE §7.6); for `kex` the pseudo-algorithms are left out.
 *
 * @since 0.1.0
 * @category errors
 */
export interface NoCommon {
  readonly _tag: "NoCommon"
  readonly kind: AlgorithmKind
  readonly client: ReadonlyArray<string>
  readonly server: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface NegotiateOptions {
  /** Ciphers that authenticate by themselves, so that MAC negotiation is skipped. Default: `isAeadCipher`. */
  readonly isAead?: ((cipher: string) => boolean) | undefined
}

/**
 * The role of a side of the connection.
 *
 * @since 0.1.0
 * @category models
 */
export type Role = "client" | "server"

/**
 * The AEAD ciphers we know (RFC 5647 as amended by OpenSSH PROTOCOL §1.6; PROTOCOL.chacha20poly1305).
 *
 * @since 0.1.0
 * @category constants
 */
export const AEAD_CIPHERS: ReadonlyArray<string> = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com"
]

const AEAD = new Set(AEAD_CIPHERS)

/**
 * True for a cipher with built-in integrity, whose MAC negotiation is skipped (OpenSSH PROTOCOL §1.6).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isAeadCipher = (cipher: string): boolean => AEAD.has(cipher)

/**
 * Names that appear in the KEX list only as flags and never name a key exchange method: RFC 8308 §2.1 ext-info,
 * OpenSSH PROTOCOL §1.9 strict KEX (and the IETF draft spelling), OpenSSH PROTOCOL §1.10 ext-info-in-auth.
 *
 * @since 0.1.0
 * @category constants
 */
export const PSEUDO_KEX_ALGORITHMS: ReadonlyArray<string> = [
  "ext-info-c",
  "ext-info-s",
  "kex-strict-c-v00@openssh.com",
  "kex-strict-s-v00@openssh.com",
  "kex-strict-c",
  "kex-strict-s",
  "ext-info-in-auth@openssh.com"
]

const PSEUDO = new Set(PSEUDO_KEX_ALGORITHMS)

/**
 * True for a KEX pseudo-algorithm (a flag, never a method).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isPseudoKex = (name: string): boolean => PSEUDO.has(name)

// RFC 4253 §7.1: "the first algorithm on the client's name-list that is also on the server's name-list".
const firstMatch = (client: ReadonlyArray<string>, server: ReadonlyArray<string>): string | undefined => {
  const theirs = new Set(server)
  return client.find((name) => theirs.has(name))
}

/**
 * Negotiates every algorithm per RFC 4253 §7.1: for each kind, the first client algorithm the server also
 * lists. Pseudo-algorithms are never chosen as the key exchange. The host key algorithm is the first client one
 * the server lists (the server lists only algorithms it holds keys for). When a direction's cipher is AEAD its
 * MAC is not negotiated and may be an empty list (SEC-16).
 *
 * @since 0.1.0
 * @category constructors
 */
export const negotiate = (
  client: AlgorithmLists,
  server: AlgorithmLists,
  options?: NegotiateOptions
): Either.Either<Negotiated, NoCommon> => {
  const isAead = options?.isAead ?? isAeadCipher
  const noCommon = (kind: AlgorithmKind, c: ReadonlyArray<string>, s: ReadonlyArray<string>) =>
    Either.left<NoCommon>({ _tag: "NoCommon", kind, client: c, server: s })
  const pick = (kind: AlgorithmKind) => firstMatch(client[kind], server[kind])

  const clientKex = client.kex.filter((n) => !isPseudoKex(n))
  const serverKex = server.kex.filter((n) => !isPseudoKex(n))
  const kex = firstMatch(clientKex, serverKex)
  if (kex === undefined) return noCommon("kex", clientKex, serverKex)
  const hostKey = pick("hostKey")
  if (hostKey === undefined) return noCommon("hostKey", client.hostKey, server.hostKey)
  const cipherC2S = pick("cipherC2S")
  if (cipherC2S === undefined) return noCommon("cipherC2S", client.cipherC2S, server.cipherC2S)
  const cipherS2C = pick("cipherS2C")
  if (cipherS2C === undefined) return noCommon("cipherS2C", client.cipherS2C, server.cipherS2C)
  // OpenSSH PROTOCOL §1.6: with an AEAD cipher the MAC list is not consulted (it may be empty).
  const macC2S = isAead(cipherC2S) ? undefined : pick("macC2S")
  if (macC2S === undefined && !isAead(cipherC2S)) return noCommon("macC2S", client.macC2S, server.macC2S)
  const macS2C = isAead(cipherS2C) ? undefined : pick("macS2C")
  if (macS2C === undefined && !isAead(cipherS2C)) return noCommon("macS2C", client.macS2C, server.macS2C)
  const compressionC2S = pick("compressionC2S")
  if (compressionC2S === undefined) return noCommon("compressionC2S", client.compressionC2S, server.compressionC2S)
  const compressionS2C = pick("compressionS2C")
  if (compressionS2C === undefined) return noCommon("compressionS2C", client.compressionS2C, server.compressionS2C)
  return Either.right({ kex, hostKey, cipherC2S, cipherS2C, macC2S, macS2C, compressionC2S, compressionS2C })
}

/**
 * RFC 4253 §7: a `first_kex_packet_follows` guess is right only when both sides prefer the same key exchange and
 * host key algorithm (the first entries of both lists, as OpenSSH's `proposals_match` compares them). When it is
 * wrong, the guessed packet is ignored.
 *
 * @since 0.1.0
 * @category predicates
 */
export const guessMatches = (client: AlgorithmLists, server: AlgorithmLists): boolean =>
  client.kex.length > 0 && client.hostKey.length > 0 &&
  client.kex[0] === server.kex[0] && client.hostKey[0] === server.hostKey[0]

/**
 * True when the peer's KEX list signals strict KEX (OpenSSH PROTOCOL §1.9, SEC-13). `role` is OUR role: a client
 * looks for `kex-strict-s-v00@openssh.com` (or `kex-strict-s`), a server for the `-c` names. Only meaningful on
 * the first KEXINIT.
 *
 * @since 0.1.0
 * @category predicates
 */
export const peerSupportsStrictKex = (peerKex: ReadonlyArray<string>, role: Role): boolean => {
  const them = role === "client" ? "s" : "c"
  return peerKex.includes(`kex-strict-${them}-v00@openssh.com`) || peerKex.includes(`kex-strict-${them}`)
}

/**
 * True when the peer's KEX list signals RFC 8308 §2.1 extension negotiation. `role` is OUR role: a server looks
 * for `ext-info-c` (the client accepts our EXT_INFO), a client for `ext-info-s` (the server accepts ours).
 * Only honoured on the first KEXINIT (SEC-21).
 *
 * @since 0.1.0
 * @category predicates
 */
export const peerWantsExtInfo = (peerKex: ReadonlyArray<string>, role: Role): boolean =>
  peerKex.includes(role === "server" ? "ext-info-c" : "ext-info-s")

/**
 * True when we are the server and the client offered `ext-info-in-auth@openssh.com` (OpenSSH PROTOCOL §1.10),
 * so an EXT_INFO may also be sent during user authentication (SEC-21).
 *
 * @since 0.1.0
 * @category predicates
 */
export const peerAcceptsExtInfoInAuth = (peerKex: ReadonlyArray<string>, role: Role): boolean =>
  role === "server" && peerKex.includes("ext-info-in-auth@openssh.com")

/**
 * The pseudo-algorithms we append to the KEX list of our FIRST KEXINIT only (SEC-13, SEC-21).
 *
 * @since 0.1.0
 * @category constants
 */
export const kexMarkers = (role: Role): ReadonlyArray<string> =>
  role === "client" ? ["ext-info-c", "kex-strict-c-v00@openssh.com"] : ["ext-info-s", "kex-strict-s-v00@openssh.com"]

// ---------------------------------------------------------------------------------------------------------------
// ssh_config(5) algorithm lists
// ---------------------------------------------------------------------------------------------------------------

/**
 * SEC-68: the longest pattern `matchPattern` accepts.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PATTERN_LENGTH = 1024

/** A bound on a whole list specification, as on a wire name-list (LIM-12). */
const MAX_SPEC_LENGTH = 8192

/**
 * Matches `subject` against a glob `pattern` where `*` is any run of characters and `?` any one character,
 * case-sensitively. Iterative with a single backtrack point, so the cost is at most
 * O(|pattern| × |subject|) with no exponential blow-up (SEC-68). Patterns longer than `MAX_PATTERN_LENGTH`
 * never match.
 *
 * @since 0.1.0
 * @category utils
 */
export const matchPattern = (pattern: string, subject: string): boolean =>
  pattern.length <= MAX_PATTERN_LENGTH && Match.glob(subject, pattern)

const hasWildcard = (pattern: string): boolean => pattern.includes("*") || pattern.includes("?")

const dedupe = <A>(xs: ReadonlyArray<A>): ReadonlyArray<A> => Array.from(new Set(xs))

/**
 * Resolves an algorithm list written as in ssh_config(5) `KexAlgorithms`/`Ciphers`/`MACs`/`HostKeyAlgorithms`
 * against the names we implement:
 *
 * - `undefined`: the defaults;
 * - `"a,b*"` or `["a", "b*"]`: exactly these, in this order (wildcards expand in `known` order);
 * - `"+a,b*"`: the defaults, then the matching names not yet in them;
 * - `"-a,b*"`: the defaults without the matching names (unknown names are a no-op: they cannot enable anything);
 * - `"^a,b*"`: the matching names first, then the rest of the defaults.
 *
 * The result holds only names from `known`, each matched exactly (SEC-26: `ecdsa-sha2-nistp256` does not
 * enable the other ECDSA curves) and without duplicates. An unknown name without wildcards, or a wildcard that
 * matches nothing, is an error naming it and listing what is supported. The result may be empty (an empty MAC
 * list is fine with AEAD ciphers).
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveList = <A extends string>(
  spec: string | ReadonlyArray<string> | undefined,
  known: ReadonlyArray<A>,
  defaults: ReadonlyArray<A>
): Either.Either<ReadonlyArray<A>, string> => {
  const knownSet = new Set<string>(known)
  const onlyKnown = (xs: ReadonlyArray<A>) => dedupe(xs.filter((x) => knownSet.has(x)))
  if (spec === undefined) return Either.right(onlyKnown(defaults))

  const text = (typeof spec === "string" ? spec : spec.join(",")).trim()
  if (text.length === 0) return Either.left("empty algorithm list")
  if (text.length > MAX_SPEC_LENGTH) return Either.left(`algorithm list longer than ${MAX_SPEC_LENGTH} characters`)
  const op = text[0] === "+" || text[0] === "-" || text[0] === "^" ? text[0] : undefined
  const patterns = (op === undefined ? text : text.slice(1)).split(",").map((s) => s.trim())
  const supported = () => `supported: ${known.join(", ")}`

  const selected: Array<A> = []
  for (const pattern of patterns) {
    if (pattern.length === 0) return Either.left(`empty name in algorithm list "${text}"`)
    if (pattern.length > MAX_PATTERN_LENGTH) {
      return Either.left(`algorithm pattern longer than ${MAX_PATTERN_LENGTH} characters`)
    }
    if (!hasWildcard(pattern)) {
      const exact = known.find((k) => k === pattern)
      if (exact !== undefined) selected.push(exact)
      else if (op !== "-") return Either.left(`unsupported algorithm "${pattern}"; ${supported()}`)
      continue
    }
    const matches = known.filter((k) => matchPattern(pattern, k))
    if (matches.length === 0 && op !== "-") {
      return Either.left(`"${pattern}" matches no supported algorithm; ${supported()}`)
    }
    selected.push(...matches)
  }

  const chosen = new Set<string>(selected)
  const result = op === undefined
    ? selected
    : op === "+"
    ? [...defaults, ...selected]
    : op === "^"
    ? [...selected, ...defaults]
    : defaults.filter((d) => !chosen.has(d))
  return Either.right(onlyKnown(result))
}
