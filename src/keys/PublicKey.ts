/**
 * Public keys in every text form OpenSSH reads and writes: the one-line OpenSSH form (`type base64 comment`, the
 * `.pub` file), RFC 4716 (`---- BEGIN SSH2 PUBLIC KEY ----`, `ssh-keygen -e`), SubjectPublicKeyInfo PEM
 * (`BEGIN PUBLIC KEY`, `ssh-keygen -e -m PKCS8`) and PKCS#1 (`BEGIN RSA PUBLIC KEY`, `ssh-keygen -e -m PEM`);
 * plus fingerprints (SHA256, MD5) and the randomart picture exactly as `ssh-keygen -l[v]` prints them.
 *
 * Pure: parsers return an `Either` with a `KeyError` and never throw.
 *
 * @since 0.1.0
 */
import { md5 } from "@noble/hashes/legacy.js"
import { sha256 } from "@noble/hashes/sha2.js"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import type { PublicKeyMaterial } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import type { KeyError } from "../SshError.js"
import { sanitizePeerText } from "../SshError.js"
import * as Armor from "./Armor.js"
import * as Der from "./Der.js"
import { attempt, MAX_KEY_FILE_SIZE, orThrow, parseError } from "./KeyMaterial.js"
import * as Pkcs8 from "./Pkcs8.js"
import * as Randomart from "./Randomart.js"

/**
 * A public key: its SSH wire blob (RFC 4253 §6.6), decoded material, key type name and comment.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublicKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, … */
  readonly type: string
  readonly material: PublicKeyMaterial
  readonly blob: Uint8Array
  /** The comment of the file (empty when it has none). */
  readonly comment: string
}

/**
 * Options of the parsers.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublicKeyOptions {
  /** Smallest RSA modulus accepted, in bits; default 2 048 (LIM-15), never below 1 024. */
  readonly minRsaBits?: number | undefined
}

/**
 * The fingerprint hashes `ssh-keygen -E` offers.
 *
 * @since 0.1.0
 * @category models
 */
export type FingerprintHash = "sha256" | "md5"

/**
 * A public key from its wire blob, checked (`HostKey.decodePublicKey`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBlob = (blob: Uint8Array, comment = "", options?: PublicKeyOptions): Either.Either<PublicKey, KeyError> =>
  Either.mapBoth(HostKey.decodePublicKey(blob, options), {
    onLeft: (e) => parseError(`public key: ${e.description}`),
    onRight: (d) => ({ type: d.keyType, material: d.material, blob: blob.slice(), comment })
  })

/**
 * A public key from its material.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromMaterial = (material: PublicKeyMaterial, comment = ""): PublicKey => ({
  type: HostKey.keyTypeOf(material),
  material,
  blob: HostKey.encodePublicKey(material),
  comment
})

/**
 * Parses a public key in any of the four text forms (detected from the first line). Fails with "Parse" for
 * malformed text and "Unsupported" for key types we cannot use.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (text: string, options?: PublicKeyOptions): Either.Either<PublicKey, KeyError> =>
  attempt(() => {
    if (text.length > MAX_KEY_FILE_SIZE) throw parseError(`public key file of ${text.length} characters exceeds 1 MiB`)
    const first = Armor.firstLine(text)
    if (first.startsWith("---- BEGIN SSH2 PUBLIC KEY ----")) return orThrow(parseRfc4716(text, options))
    if (first === "-----BEGIN PUBLIC KEY-----" || first === "-----BEGIN RSA PUBLIC KEY-----") {
      const armored = orThrow(Armor.dearmor(text))
      const material = orThrow(
        armored.label === "PUBLIC KEY" ? Pkcs8.decodePublic(armored.body) : Pkcs8.decodeRsaPublic(armored.body)
      )
      return orThrow(fromBlob(HostKey.encodePublicKey(material), "", options))
    }
    return orThrow(parseLine(text, options))
  })

/**
 * Parses the one-line OpenSSH form `type base64 [comment]` (a `.pub` file; surrounding blank lines allowed).
 * The type before the base64 must be the one inside the blob.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseLine = (line: string, options?: PublicKeyOptions): Either.Either<PublicKey, KeyError> =>
  attempt(() => {
    const m = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:[ \t]+(.*?))?\s*$/s.exec(line)
    if (m === null) throw parseError("not an OpenSSH public key line (type base64 [comment])")
    const decoded = Encoding.decodeBase64(m[2]!)
    if (Either.isLeft(decoded)) throw parseError("the public key is not valid base64")
    const key = orThrow(fromBlob(decoded.right, m[3] ?? "", options))
    if (key.type !== m[1]) throw parseError(`a ${key.type} key labelled ${sanitizePeerText(m[1]!, 64)}`)
    return key
  })

/**
 * Formats the one-line OpenSSH form, with the comment when there is one (no newline).
 *
 * @since 0.1.0
 * @category encoding
 */
export const format = (key: PublicKey): string =>
  `${key.type} ${Encoding.encodeBase64(key.blob)}${key.comment === "" ? "" : ` ${key.comment}`}`

// ---- RFC 4716 ----

const RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
const RFC4716_END = "---- END SSH2 PUBLIC KEY ----"

/**
 * Parses the SSH public key file format of RFC 4716: headers `Tag: value` (§3.3; a line ending in `\` continues
 * on the next), then base64. The `Comment` header (quotes removed) becomes the comment; others are ignored.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseRfc4716 = (text: string, options?: PublicKeyOptions): Either.Either<PublicKey, KeyError> =>
  attempt(() => {
    const lines = text.split("\n").map((l) => l.replace(/\r$/, "").trim())
    let i = 0
    while (i < lines.length && lines[i] === "") i++
    if (lines[i] !== RFC4716_BEGIN) throw parseError(`no ${RFC4716_BEGIN} line`)
    const end = lines.indexOf(RFC4716_END, i + 1)
    if (end < 0) throw parseError(`no ${RFC4716_END} line`)
    if (lines.slice(end + 1).some((l) => l !== "")) throw parseError(`text after the ${RFC4716_END} line`)
    let comment = ""
    let j = i + 1
    // §3.3: a header line has a colon; the body (base64) has none.
    while (j < end && lines[j]!.includes(":")) {
      let header = lines[j++]!
      while (header.endsWith("\\") && j < end) header = header.slice(0, -1) + lines[j++]!
      const colon = header.indexOf(":")
      const tag = header.slice(0, colon)
      // §3.3.1: tags are at most 64 bytes, case-insensitive; values at most 1024 bytes.
      if (tag.length === 0 || tag.length > 64 || header.length - colon - 1 > 1024) throw parseError("RFC 4716 header too long")
      const value = header.slice(colon + 1).trim()
      if (tag.toLowerCase() === "comment") comment = value.replace(/^"(.*)"$/s, "$1")
    }
    const decoded = Encoding.decodeBase64(lines.slice(j, end).join(""))
    if (Either.isLeft(decoded)) throw parseError("the RFC 4716 body is not valid base64")
    return orThrow(fromBlob(decoded.right, comment, options))
  })

const wrap = (s: string, width: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < s.length; i += width) out.push(s.slice(i, i + width))
  return out
}

/**
 * Formats RFC 4716, with the comment as a quoted `Comment` header (lines of at most 72 characters, long headers
 * continued with `\`; base64 in 70-column lines, as ssh-keygen writes). Ends with a newline.
 *
 * @since 0.1.0
 * @category encoding
 */
export const formatRfc4716 = (key: PublicKey): string => {
  const out = [RFC4716_BEGIN]
  if (key.comment !== "") {
    const header = `Comment: "${key.comment.slice(0, 1000)}"`
    const parts = wrap(header, 71)
    out.push(...parts.map((p, k) => (k < parts.length - 1 ? p + "\\" : p)))
  }
  out.push(...wrap(Encoding.encodeBase64(key.blob), 70), RFC4716_END)
  return out.join("\n") + "\n"
}

/**
 * Formats a SubjectPublicKeyInfo PEM block (`BEGIN PUBLIC KEY`), as `ssh-keygen -e -m PKCS8` writes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const formatPkcs8 = (key: PublicKey): string => Armor.armor("PUBLIC KEY", Pkcs8.encodePublic(key.material))

/**
 * Formats the PEM form `ssh-keygen -e -m PEM` writes: a PKCS#1 RSAPublicKey (`BEGIN RSA PUBLIC KEY`) for RSA,
 * and for ECDSA and Ed25519 (which PKCS#1 cannot hold) the SubjectPublicKeyInfo of `formatPkcs8`, as ssh-keygen
 * writes ECDSA keys.
 *
 * @since 0.1.0
 * @category encoding
 */
export const formatPem = (key: PublicKey): string =>
  key.material.type === "rsa"
    ? Armor.armor("RSA PUBLIC KEY", Der.seq(Der.int(key.material.n), Der.int(key.material.e)))
    : formatPkcs8(key)

// ---- fingerprints and randomart ----

/**
 * The key size as ssh-keygen reports it: 256 for Ed25519, the curve size for ECDSA, the modulus bits for RSA.
 *
 * @since 0.1.0
 * @category accessors
 */
export const bits = (key: PublicKey): number => {
  const m = key.material
  return m.type === "ed25519" ? 256 : m.type === "ecdsa" ? Number(m.curve.slice(5)) : m.n.toString(2).length
}

/**
 * The key family name as ssh-keygen prints it in parentheses and randomart titles: `ED25519`, `ECDSA`, `RSA`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const typeLabel = (key: PublicKey): string => key.material.type.toUpperCase()

/**
 * The fingerprint as `ssh-keygen -l -E <hash>` prints it: `SHA256:` and unpadded base64 (the default), or
 * `MD5:` and colon-separated hex pairs.
 *
 * @since 0.1.0
 * @category fingerprints
 */
export const fingerprint = (key: PublicKey, hash: FingerprintHash = "sha256"): string =>
  hash === "sha256" ? HostKey.fingerprintSha256(key.blob) : HostKey.fingerprintMd5(key.blob)

/**
 * The randomart picture as `ssh-keygen -lv -E <hash>` draws it under the fingerprint line (no final newline).
 *
 * @since 0.1.0
 * @category fingerprints
 */
export const randomart = (key: PublicKey, hash: FingerprintHash = "sha256"): string =>
  Randomart.draw(
    hash === "sha256" ? sha256(key.blob) : md5(key.blob),
    `${typeLabel(key)} ${bits(key)}`,
    hash === "sha256" ? "SHA256" : "MD5"
  )

/**
 * The line `ssh-keygen -l` prints: `bits fingerprint comment (TYPE)`, with `no comment` for an empty comment.
 *
 * @since 0.1.0
 * @category fingerprints
 */
export const describe = (key: PublicKey, hash: FingerprintHash = "sha256"): string =>
  `${bits(key)} ${fingerprint(key, hash)} ${key.comment === "" ? "no comment" : key.comment} (${typeLabel(key)})`
