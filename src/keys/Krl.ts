/**
 * OpenSSH key revocation lists (PROTOCOL.krl, as `ssh-keygen -k` writes them) and sshd's plain RevokedKeys
 * files (one public key per line): parsing, bounded, and checking a key or certificate against them (SEC-67).
 * A certificate is revoked when its key, its CA, its serial under its CA (lists, ranges, bitmaps; serial 0 is
 * never matched, as in openssh krl.c) or its key id is; a plain key when its blob or its SHA-1/SHA-256 hash is.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Krl } from "effect-ssh"
 *
 * declare const bytes: Uint8Array // a KRL file, or a text file of public keys
 * declare const keyBlob: Uint8Array
 * const krl = Krl.parse(bytes)
 * const revoked = Either.isRight(krl) && Krl.isRevoked(krl.right, keyBlob)
 * ```
 *
 * @since 0.1.0
 */
import { sha1 } from "@noble/hashes/legacy.js"
import { sha256 } from "@noble/hashes/sha2.js"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { Reader } from "../wire/Reader.js"
import { WireError } from "../wire/WireError.js"
import * as Certificate from "./Certificate.js"
import * as PublicKey from "./PublicKey.js"

/**
 * A KRL or revoked-keys file that could not be read.
 *
 * @since 0.1.0
 * @category errors
 */
export class KrlError extends Data.TaggedError("KrlError")<{ readonly reason: string; readonly message: string }> {}

const krlError = (reason: string) => new KrlError({ reason, message: `revoked keys: ${reason}` })

/**
 * Revocations under one CA (or under every CA when `ca` is undefined).
 *
 * @since 0.1.0
 * @category models
 */
export interface CertificateRevocations {
  readonly ca: Uint8Array | undefined
  readonly serials: ReadonlySet<bigint>
  readonly ranges: ReadonlyArray<readonly [bigint, bigint]>
  /** Bit N of `bits` (from the least significant end) revokes serial `offset + N`. */
  readonly bitmaps: ReadonlyArray<{ readonly offset: bigint; readonly bits: Uint8Array }>
  readonly keyIds: ReadonlySet<string>
}

/**
 * A parsed revocation list.
 *
 * @since 0.1.0
 * @category models
 */
export interface Krl {
  readonly version: bigint
  readonly generatedAt: bigint
  readonly comment: string
  readonly certificates: ReadonlyArray<CertificateRevocations>
  /** Hex of revoked plain-key blobs. */
  readonly keys: ReadonlySet<string>
  readonly sha1: ReadonlySet<string>
  readonly sha256: ReadonlySet<string>
}

/**
 * The largest file read (bounds memory; ssh-keygen's KRLs for millions of serials stay far below).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_SIZE = 16 * 1024 * 1024

const MAGIC = [0x53, 0x53, 0x48, 0x4b, 0x52, 0x4c, 0x0a, 0x00] // "SSHKRL\n\0"
const SECTION = { certificates: 1, explicitKey: 2, sha1: 3, signature: 4, sha256: 5, extension: 255 } as const
const CERT = { list: 0x20, range: 0x21, bitmap: 0x22, keyId: 0x23, extension: 0x39 } as const

const hex = (b: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, "0")
  return s
}

const bad = (description: string) => new WireError({ reason: "Invalid", description })

/** An extension section: a critical one we do not know fails the whole KRL (PROTOCOL.krl §2.5, §5). */
const extension = (r: Reader) => {
  const name = r.ascii()
  const critical = r.boolean()
  r.string()
  if (critical) throw bad(`unsupported critical extension ${name}`)
}

const certificateSection = (r: Reader): CertificateRevocations => {
  const ca = r.string()
  r.string() // reserved
  const serials = new Set<bigint>()
  const ranges: Array<readonly [bigint, bigint]> = []
  const bitmaps: Array<{ offset: bigint; bits: Uint8Array }> = []
  const keyIds = new Set<string>()
  while (r.remaining > 0) {
    const type = r.byte()
    const sub = new Reader(r.string())
    switch (type) {
      case CERT.list:
        while (sub.remaining > 0) serials.add(sub.uint64())
        break
      case CERT.range: {
        const min = sub.uint64()
        const max = sub.uint64()
        if (min > max) throw bad("serial range with min > max")
        ranges.push([min, max])
        break
      }
      case CERT.bitmap: {
        const offset = sub.uint64()
        // An mpint read as raw bytes: the bitmap may be far longer than key-sized mpints.
        const bits = sub.string()
        if (bits.length > 0 && (bits[0]! & 0x80) !== 0) throw bad("negative serial bitmap")
        bitmaps.push({ offset, bits })
        break
      }
      case CERT.keyId:
        while (sub.remaining > 0) keyIds.add(sub.utf8())
        break
      case CERT.extension:
        extension(sub)
        continue
      default:
        throw bad(`unknown certificate section type ${type}`)
    }
    sub.end_()
  }
  return { ca: ca.length === 0 ? undefined : ca, serials, ranges, bitmaps, keyIds }
}

const binary = (bytes: Uint8Array): Krl => {
  const r = new Reader(bytes)
  const magic = r.raw(8)
  if (!MAGIC.every((b, i) => magic[i] === b)) throw bad("not a KRL")
  const format = r.uint32()
  if (format !== 1) throw bad(`KRL format version ${format}`)
  const version = r.uint64()
  const generatedAt = r.uint64()
  r.uint64() // flags
  r.string() // reserved
  const comment = r.utf8()
  const certificates: Array<CertificateRevocations> = []
  const keys = new Set<string>()
  const sha1s = new Set<string>()
  const sha256s = new Set<string>()
  while (r.remaining > 0) {
    const type = r.byte()
    if (type === SECTION.signature) throw bad("signed KRLs are not supported (OpenSSH ≥ 9.4 refuses them too)")
    const section = new Reader(r.string())
    switch (type) {
      case SECTION.certificates:
        certificates.push(certificateSection(section))
        break
      case SECTION.explicitKey:
        while (section.remaining > 0) keys.add(hex(section.string()))
        break
      case SECTION.sha1:
      case SECTION.sha256: {
        const size = type === SECTION.sha1 ? 20 : 32
        while (section.remaining > 0) {
          const h = section.string()
          if (h.length !== size) throw bad("fingerprint of the wrong length")
          ;(type === SECTION.sha1 ? sha1s : sha256s).add(hex(h))
        }
        break
      }
      case SECTION.extension:
        extension(section)
        break
      default:
        throw bad(`unknown KRL section type ${type}`)
    }
  }
  return { version, generatedAt, comment, certificates, keys, sha1: sha1s, sha256: sha256s }
}

/** sshd's other RevokedKeys form: public keys, one per line (`#` comments and blank lines skipped). */
const text = (bytes: Uint8Array): Either.Either<Krl, KrlError> => {
  let content: string
  try {
    content = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    return Either.left(krlError("neither a KRL nor a text file of public keys"))
  }
  const keys = new Set<string>()
  const lines = content.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === "" || line.startsWith("#")) continue
    const key = PublicKey.parseLine(line)
    if (Either.isLeft(key)) return Either.left(krlError(`line ${i + 1}: ${key.left.message}`))
    keys.add(hex(key.right.blob))
  }
  return Either.right({
    version: 0n,
    generatedAt: 0n,
    comment: "",
    certificates: [],
    keys,
    sha1: new Set(),
    sha256: new Set()
  })
}

/**
 * Parses a binary KRL, or a text file of public keys (sshd's RevokedKeys accepts both). Truncated or malformed
 * KRLs, unknown section types, critical extensions and signatures fail (PROTOCOL.krl §5, §6).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (bytes: Uint8Array): Either.Either<Krl, KrlError> => {
  if (bytes.length > MAX_SIZE) return Either.left(krlError(`larger than ${MAX_SIZE} bytes`))
  if (bytes.length >= 8 && MAGIC.every((b, i) => bytes[i] === b)) {
    try {
      return Either.right(binary(bytes))
    } catch (e) {
      return Either.left(krlError(e instanceof WireError ? e.description : String(e)))
    }
  }
  return text(bytes)
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

const bitSet = (bits: Uint8Array, index: bigint): boolean => {
  const byte = BigInt(bits.length - 1) - index / 8n
  if (byte < 0n) return false
  return ((bits[Number(byte)]! >> Number(index % 8n)) & 1) === 1
}

const serialRevoked = (c: CertificateRevocations, serial: bigint): boolean =>
  c.serials.has(serial) ||
  c.ranges.some(([min, max]) => serial >= min && serial <= max) ||
  c.bitmaps.some((b) => serial >= b.offset && bitSet(b.bits, serial - b.offset))

/**
 * Whether a plain public key (its wire blob) is revoked: listed explicitly or by SHA-1/SHA-256 hash.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRevoked = (krl: Krl, keyBlob: Uint8Array): boolean =>
  krl.keys.has(hex(keyBlob)) || krl.sha256.has(hex(sha256(keyBlob))) || krl.sha1.has(hex(sha1(keyBlob)))

/**
 * Whether a certificate is revoked: its key, its CA, or the certificate itself by serial or key id under its CA
 * or under every CA (openssh krl.c `ssh_krl_check_key`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isCertificateRevoked = (krl: Krl, cert: Certificate.Certificate): boolean => {
  if (isRevoked(krl, cert.publicKeyBlob) || isRevoked(krl, cert.signatureKey)) return true
  return krl.certificates.some((c) =>
    (c.ca === undefined || sameBytes(c.ca, cert.signatureKey)) &&
    (c.keyIds.has(cert.keyId) || (cert.serial !== 0n && serialRevoked(c, cert.serial)))
  )
}
