/**
 * `effect-ssh keygen` certificates: `-s ca_key -I key_id [-h] [-n principals] [-V validity] [-O option]… [-z
 * serial] file…` issues a certificate for each public key, written beside it as `<name>-cert.pub` (ssh-keygen's
 * naming and message), and `-L -f file` prints a certificate as ssh-keygen does.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Certificate from "../keys/Certificate.js"
import * as CertificateText from "../keys/CertificateText.js"
import * as PublicKey from "../keys/PublicKey.js"
import { type KeygenArgs, KeygenFailure, loadPrivate, out, readText, writeText } from "./KeygenArgs.js"
import * as Tty from "./Tty.js"

const failure = (reason: string) => new KeygenFailure({ reason })

/**
 * `-s`: signs every file of the command line with the CA key (asked for its passphrase on a terminal when it is
 * encrypted and -P is not given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const sign = (a: KeygenArgs, caFile: string) =>
  Effect.gen(function*() {
    const keyId = a.values.I
    if (keyId === undefined) return yield* failure("Must specify key id (-I) when certifying")
    if (a.files.length === 0) return yield* failure("Too few arguments.")
    const type: Certificate.CertificateType = a.flags.has("h") ? "host" : "user"
    const now = BigInt(Math.floor((yield* Clock.currentTimeMillis) / 1000))
    const validity = yield* Either.mapLeft(
      a.values.V === undefined ? Either.right({ validAfter: 0n, validBefore: Certificate.FOREVER }) : CertificateText.parseValidity(a.values.V, now),
      failure
    )
    const options = yield* Either.mapLeft(CertificateText.applyOptions(type, a.options), failure)
    // -z N, or +N: the first serial, counting up for each further key (ssh-keygen's cert_serial_autoinc).
    const serialText = a.values.z ?? "0"
    if (!/^\+?\d{1,20}$/.test(serialText) || BigInt(serialText.replace("+", "")) > Certificate.FOREVER) {
      return yield* failure(`Invalid serial number "${serialText}"`)
    }
    let serial = BigInt(serialText.replace("+", ""))
    const principals = a.values.n === undefined ? [] : a.values.n.split(",")
    const ca = yield* loadPrivate(caFile, a.values.P)
    for (const file of a.files) {
      const text = yield* readText(file)
      const key = yield* Either.mapLeft(PublicKey.parse(text), (e) => failure(`load pubkey "${file}": ${e.message}`))
      const cert = yield* Certificate.sign({
        key: key.blob,
        caKey: ca.material,
        type,
        keyId,
        principals,
        validAfter: validity.validAfter,
        validBefore: validity.validBefore,
        criticalOptions: options.criticalOptions,
        extensions: options.extensions,
        serial
      }).pipe(Effect.mapError((e) => failure(`Couldn't certify key ${file}: ${e.description}`)))
      const output = `${file.endsWith(".pub") ? file.slice(0, -4) : file}-cert.pub`
      yield* writeText(output, `${Certificate.toText(cert, key.comment)}\n`, 0o644)
      if (!a.flags.has("q")) {
        yield* Tty.printError(
          `Signed ${type} key ${output}: id "${keyId}" serial ${serial} for ${principals.length === 0 ? "<any>" : principals.join(",")} ` +
            `valid ${CertificateText.formatValidity(validity)}`
        )
      }
      if (serialText.startsWith("+")) serial++
    }
  })

/**
 * `-L`: prints the certificate of `file` (a `*-cert.pub` line).
 *
 * @since 0.1.0
 * @category constructors
 */
export const print = (file: string) =>
  Effect.gen(function*() {
    const text = yield* readText(file)
    const cert = yield* Either.mapLeft(Certificate.fromText(text), (e) => failure(`${file}: ${e.description}`))
    yield* out(CertificateText.describe(cert, file))
  })
