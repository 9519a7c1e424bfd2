/**
 * `effect-ssh keygen` conversions: `-p` changes a private key's passphrase (`-P old -N new`, rewritten in the
 * format of `-m`, openssh-key-v1 by default, as ssh-keygen does), `-e` exports a public key (`-m RFC4716`
 * default, `PKCS8`, `PEM`) and `-i` imports one of those forms as an OpenSSH public key line.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as os from "node:os"
import * as PrivateKey from "../keys/PrivateKey.js"
import * as PublicKey from "../keys/PublicKey.js"
import { type KeygenArgs, KeygenFailure, loadPrivate, newPassphrase, out, readText, writeText } from "./KeygenArgs.js"

/**
 * The `-m` key format: RFC4716 (ssh2), PKCS8 or PEM, case-insensitive.
 *
 * @since 0.1.0
 * @category models
 */
export type ConvertFormat = "RFC4716" | "PKCS8" | "PEM"

/**
 * `-m` parsed; `Left` names the unknown format.
 *
 * @since 0.1.0
 * @category accessors
 */
export const formatOf = (value: string | undefined): Either.Either<ConvertFormat, KeygenFailure> => {
  const v = (value ?? "RFC4716").toUpperCase()
  if (v === "RFC4716" || v === "SSH2") return Either.right("RFC4716")
  if (v === "PKCS8" || v === "PEM") return Either.right(v)
  return Either.left(new KeygenFailure({ reason: `Unsupported conversion format "${value}"` }))
}

/**
 * The private key file format `-m` selects: openssh-key-v1 for RFC4716 (ssh-keygen's default), PKCS#8, PEM.
 *
 * @since 0.1.0
 * @category accessors
 */
export const privateFormat = (format: ConvertFormat): PrivateKey.EncodeFormat =>
  format === "PKCS8" ? "pkcs8" : format === "PEM" ? "pem" : "openssh"

/**
 * The public key in a file: a public key in any text form, or the public half of a private key.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readPublic = (file: string, passphrase: string | undefined) =>
  Effect.gen(function*() {
    const text = yield* readText(file)
    const pub = PublicKey.parse(text)
    if (Either.isRight(pub)) return pub.right
    if (Either.isLeft(PrivateKey.detectFormat(text))) {
      return yield* new KeygenFailure({ reason: `${file} is not a key file: ${pub.left.message}` })
    }
    return PrivateKey.publicKey(yield* loadPrivate(file, passphrase))
  })

/**
 * `-p`: the key is read (old passphrase from -P or the terminal), then written back with the new one (-N or
 * asked twice) and its comment, mode 0600.
 *
 * @since 0.1.0
 * @category constructors
 */
export const changePassphrase = (a: KeygenArgs, file: string) =>
  Effect.gen(function*() {
    const format = yield* formatOf(a.values.m)
    const key = yield* loadPrivate(file, a.values.P, "Enter old passphrase: ")
    yield* out(`Key has comment '${key.comment}'\n`)
    const passphrase = yield* newPassphrase(a.values.N)
    const text = yield* Either.mapLeft(
      PrivateKey.encode(key, {
        format: privateFormat(format),
        passphrase: passphrase === "" ? undefined : Redacted.make(passphrase),
        rounds: a.values.a === undefined ? undefined : Number(a.values.a)
      }),
      (e) => new KeygenFailure({ reason: `Saving key "${file}" failed: ${e.message}` })
    )
    yield* writeText(file, text, 0o600)
    yield* out("Your identification has been saved with the new passphrase.\n")
  })

/**
 * `-e`: the public key (of a public or private key file) in the `-m` form. The RFC 4716 comment is ssh-keygen's:
 * `"<bits>-bit <TYPE>, converted by <user>@<host> from OpenSSH"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exportKey = (a: KeygenArgs, file: string) =>
  Effect.gen(function*() {
    const format = yield* formatOf(a.values.m)
    const key = yield* readPublic(file, a.values.P)
    if (format === "RFC4716") {
      const comment = `${PublicKey.bits(key)}-bit ${PublicKey.typeLabel(key)}, converted by ${os.userInfo().username}@${os.hostname()} from OpenSSH`
      return yield* out(PublicKey.formatRfc4716({ ...key, comment }))
    }
    yield* out(format === "PKCS8" ? PublicKey.formatPkcs8(key) : PublicKey.formatPem(key))
  })

/**
 * `-i`: an RFC 4716, PKCS#8 (SubjectPublicKeyInfo) or PKCS#1 public key printed as an OpenSSH public key line
 * (no comment, as ssh-keygen prints it). The form is detected from the text; `-m` is accepted for
 * compatibility.
 *
 * @since 0.1.0
 * @category constructors
 */
export const importKey = (a: KeygenArgs, file: string) =>
  Effect.gen(function*() {
    yield* formatOf(a.values.m)
    const text = yield* readText(file)
    const key = yield* Either.mapLeft(PublicKey.parse(text), (e) => new KeygenFailure({ reason: `${file}: ${e.message}` }))
    yield* out(`${PublicKey.format({ ...key, comment: "" })}\n`)
  })
