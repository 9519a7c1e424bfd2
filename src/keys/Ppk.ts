/**
 * PuTTY private key files, PPK versions 2 and 3 (`PuTTY-User-Key-File-2:` / `-3:`; PuTTY manual appendix C,
 * "PPK file format"), read only: ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa, unencrypted or encrypted
 * with aes256-cbc. Version 3 derives the cipher key, IV and MAC key with Argon2 (id, i or d) and authenticates with
 * HMAC-SHA-256; version 2 uses SHA-1 for both. The MAC is checked (in constant time) before the key is used, so a
 * wrong passphrase or a modified file is always detected.
 *
 * Argon2 memory and passes come from the file: both are bounded before any work (LIM-32).
 *
 * @since 0.1.0
 */
import { equalBytes } from "@noble/curves/utils.js"
import { argon2d, argon2i, argon2id } from "@noble/hashes/argon2.js"
import { hmac } from "@noble/hashes/hmac.js"
import { sha1 } from "@noble/hashes/legacy.js"
import { sha256 } from "@noble/hashes/sha2.js"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Redacted from "effect/Redacted"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import type { KeyError } from "../SshError.js"
import { sanitizePeerText } from "../SshError.js"
import * as Reader from "../wire/Reader.js"
import * as Writer from "../wire/Writer.js"
import { cbcRaw } from "./KeyCipher.js"
import type { ParsedPrivateKey, PrivateKeyOptions } from "./KeyMaterial.js"
import {
  attempt,
  DEFAULT_MAX_ARGON2_MEMORY_KIB,
  DEFAULT_MAX_ARGON2_PASSES,
  ecdsaFromScalar,
  ed25519FromSeed,
  keyTypeFromName,
  MAX_KEY_FILE_SIZE,
  parseError,
  passphraseRequired,
  rsaFromPrimes,
  toParsed,
  unsupported,
  unsupportedType,
  wrongPassphrase
} from "./KeyMaterial.js"

/**
 * Whether a text looks like a PPK file.
 *
 * @since 0.1.0
 * @category decoding
 */
export const isPpk = (firstLine: string): boolean => firstLine.startsWith("PuTTY-User-Key-File-")

const ARGON2 = new Map([["Argon2id", argon2id], ["Argon2i", argon2i], ["Argon2d", argon2d]])

/** The header lines in order: name → value, with the base64 blocks after Public-Lines and Private-Lines. */
class Lines {
  private i = 0
  constructor(private readonly lines: ReadonlyArray<string>) {}
  next(name: string): string {
    const line = this.lines[this.i++]
    if (line === undefined) throw parseError(`PPK file ends before its ${name} line`)
    const prefix = `${name}: `
    if (!line.startsWith(prefix)) throw parseError(`PPK file: expected a ${name} line`)
    return line.slice(prefix.length)
  }
  peek(name: string): boolean {
    return this.lines[this.i]?.startsWith(`${name}: `) ?? false
  }
  block(name: string): Uint8Array {
    const count = Number(this.next(name))
    if (!Number.isInteger(count) || count < 0 || count > this.lines.length - this.i) {
      throw parseError(`PPK file: bad ${name} count`)
    }
    const b64 = this.lines.slice(this.i, this.i + count).join("")
    this.i += count
    const decoded = Encoding.decodeBase64(b64)
    if (Either.isLeft(decoded)) throw parseError(`PPK file: the ${name} block is not valid base64`)
    return decoded.right
  }
  end(): void {
    if (this.lines.slice(this.i).some((l) => l !== "")) throw parseError("PPK file: text after Private-MAC")
  }
}

const hex = (s: string, what: string): Uint8Array => {
  const decoded = Encoding.decodeHex(s)
  if (Either.isLeft(decoded) || s.length === 0) throw parseError(`PPK file: ${what} is not hex`)
  return decoded.right
}

const bounded = (value: string, what: string, max: number): number => {
  const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN
  if (!(n >= 1 && n <= max)) throw unsupported(`PPK ${what} ${sanitizePeerText(value, 16)} outside 1..${max} (LIM-32)`)
  return n
}

/**
 * Parses (and, given the passphrase, decrypts) a PPK v2 or v3 file.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (
  text: string,
  passphrase: Redacted.Redacted<string> | undefined,
  options?: PrivateKeyOptions
): Either.Either<ParsedPrivateKey, KeyError> =>
  attempt(() => {
    if (text.length > MAX_KEY_FILE_SIZE) throw parseError(`key file of ${text.length} characters exceeds 1 MiB`)
    const all = text.split("\n").map((l) => l.replace(/\r$/, ""))
    while (all.length > 0 && all[0]!.trim() === "") all.shift()
    const first = all[0] ?? ""
    const version = first.startsWith("PuTTY-User-Key-File-3: ") ? 3 : first.startsWith("PuTTY-User-Key-File-2: ") ? 2 : 0
    if (version === 0) {
      throw unsupported("PuTTY key files before version 2; convert with `puttygen key.ppk -O private -o new.ppk`")
    }
    const lines = new Lines(all)
    const algorithm = lines.next(`PuTTY-User-Key-File-${version}`)
    const encryption = lines.next("Encryption")
    const comment = lines.next("Comment")
    const publicBlob = lines.block("Public-Lines")
    if (encryption !== "none" && encryption !== "aes256-cbc") {
      throw unsupported(`PPK encryption ${sanitizePeerText(encryption, 32)} (supported: none, aes256-cbc)`)
    }
    const type = keyTypeFromName(algorithm)
    if (type === undefined) throw unsupportedType(algorithm)
    const secret = passphrase === undefined ? "" : Redacted.value(passphrase)
    const password = new TextEncoder().encode(encryption === "none" ? "" : secret)
    let keys: { cipherKey: Uint8Array; iv: Uint8Array; macKey: Uint8Array }
    if (version === 3) {
      let derived = new Uint8Array(80)
      if (encryption !== "none") {
        // PPK v3: Argon2 parameters, bounded before the passphrase is used (LIM-32).
        const flavour = ARGON2.get(lines.next("Key-Derivation"))
        if (flavour === undefined) throw unsupported("PPK key derivation (supported: Argon2id, Argon2i, Argon2d)")
        const memory = bounded(lines.next("Argon2-Memory"), "Argon2 memory (KiB)",
          options?.maxArgon2MemoryKiB ?? DEFAULT_MAX_ARGON2_MEMORY_KIB)
        const passes = bounded(lines.next("Argon2-Passes"), "Argon2 passes", options?.maxArgon2Passes ?? DEFAULT_MAX_ARGON2_PASSES)
        const parallelism = bounded(lines.next("Argon2-Parallelism"), "Argon2 parallelism", 64)
        const salt = hex(lines.next("Argon2-Salt"), "Argon2-Salt")
        if (memory < 8 * parallelism) throw parseError("PPK Argon2 memory below 8 KiB per lane")
        if (secret === "") throw passphraseRequired()
        derived = flavour(password, salt, {
          t: passes, m: memory, p: parallelism, dkLen: 80, maxmem: memory * 1024 + (1 << 20)
        })
      }
      // Unencrypted v3 files use an empty MAC key and no cipher.
      keys = encryption === "none"
        ? { cipherKey: new Uint8Array(0), iv: new Uint8Array(0), macKey: new Uint8Array(0) }
        : { cipherKey: derived.subarray(0, 32), iv: derived.subarray(32, 48), macKey: derived.subarray(48, 80) }
    } else {
      if (encryption !== "none" && secret === "") throw passphraseRequired()
      // PPK v2: key = SHA-1(0 ‖ P) ‖ SHA-1(1 ‖ P) cut to 32 bytes, IV 0; MAC key = SHA-1("putty-private-key-file-mac-key" ‖ P).
      const counted = (n: number) => sha1(Uint8Array.of(0, 0, 0, n, ...password))
      const cipherKey = new Uint8Array(40)
      cipherKey.set(counted(0))
      cipherKey.set(counted(1), 20)
      const macKey = sha1(Uint8Array.of(...new TextEncoder().encode("putty-private-key-file-mac-key"), ...password))
      keys = { cipherKey: cipherKey.subarray(0, 32), iv: new Uint8Array(16), macKey }
    }
    password.fill(0)
    const encrypted = lines.block("Private-Lines")
    const mac = hex(lines.next("Private-MAC"), "Private-MAC")
    lines.end()
    let privateBlob = encrypted
    if (encryption !== "none") {
      const plain = cbcRaw("aes", keys.cipherKey, keys.iv, encrypted, "decrypt")
      if (plain === undefined) throw parseError("PPK private blob is not a whole number of AES blocks")
      privateBlob = plain
    }
    // The MAC covers the algorithm, encryption, comment, public blob and the decrypted private blob.
    const macData = Writer.build((w) =>
      w.string(algorithm).string(encryption).string(comment).string(publicBlob).string(privateBlob)
    )
    const expected = version === 3 ? hmac(sha256, keys.macKey, macData) : hmac(sha1, keys.macKey, macData)
    keys.cipherKey.fill(0)
    keys.macKey.fill(0)
    if (mac.length !== expected.length || !equalBytes(mac, expected)) {
      if (encryption !== "none") throw wrongPassphrase()
      throw parseError("PPK Private-MAC does not verify: the file is corrupt or was modified")
    }
    const material = readPrivate(publicBlob, privateBlob, type, encryption !== "none", options)
    if (!equalBytes(HostKey.encodePublicKey(HostKey.publicKeyOf(material)), publicBlob)) {
      throw parseError("PPK private key does not match its public key")
    }
    return toParsed(material, comment, options)
  })

/** The private blob (PuTTY's `*_private_blob`): mpints, with random padding up to the cipher block when encrypted. */
const readPrivate = (
  publicBlob: Uint8Array,
  privateBlob: Uint8Array,
  type: string,
  padded: boolean,
  options: PrivateKeyOptions | undefined
): PrivateKeyMaterial => {
  const pub = HostKey.decodePublicKey(publicBlob, { minRsaBits: 1024 })
  if (Either.isLeft(pub)) throw parseError(`PPK public key: ${pub.left.description}`)
  const material = pub.right.material
  if (HostKey.keyTypeOf(material) !== type) throw parseError("PPK public key of another type than the file names")
  const r = new Reader.Reader(privateBlob)
  let key: PrivateKeyMaterial
  switch (material.type) {
    case "ed25519":
      // The secret as a fixed-length little-endian integer, whose bytes are the RFC 8032 seed.
      key = ed25519FromSeed(r.string(), material.publicKey, options?.backend)
      break
    case "ecdsa":
      key = ecdsaFromScalar(material.curve, r.mpint(), material.q)
      break
    case "rsa": {
      const [d, p, q, iqmp] = [r.mpint(), r.mpint(), r.mpint(), r.mpint()]
      key = rsaFromPrimes(material.n, material.e, d, p, q)
      if (key.type === "rsa" && key.iqmp !== iqmp) throw parseError("PPK RSA iqmp is not q⁻¹ mod p")
      break
    }
  }
  // Encrypted blobs are padded to the AES block size; nothing may follow an unencrypted one.
  if (r.remaining > (padded ? 15 : 0)) throw parseError("PPK private blob has trailing bytes")
  return key
}
