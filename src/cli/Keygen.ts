/**
 * `effect-ssh keygen`: ssh-keygen's common modes — generate (`-t ed25519|ecdsa|rsa [-b bits] -f file [-N
 * passphrase] [-C comment] [-m format]`, written as ssh-keygen writes them: openssh-key-v1 by default, mode 0600
 * and a `.pub` beside it), fingerprint (`-l [-v] [-E sha256|md5]`, with the randomart for -v), `-y`, `-p`
 * (change the passphrase), `-e`/`-i` with `-m RFC4716|PKCS8|PEM` (KeygenConvert), certificates `-s -I -n -V -O
 * -z -h` and `-L` (KeygenCert), and known_hosts `-F`/`-R`/`-H` (KeygenHosts).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as PrivateKey from "../keys/PrivateKey.js"
import * as PublicKey from "../keys/PublicKey.js"
import * as KeygenArgs from "./KeygenArgs.js"
import * as KeygenCert from "./KeygenCert.js"
import * as KeygenConvert from "./KeygenConvert.js"
import * as KeygenHosts from "./KeygenHosts.js"
import * as Tty from "./Tty.js"
import { FAILURE_EXIT_CODE } from "./Version.js"

const USAGE = "usage: effect-ssh keygen [-q] [-a rounds] [-b bits] [-C comment] [-f output_keyfile] [-m format]\n" +
  "                  [-N new_passphrase] [-t ed25519 | ecdsa | rsa]\n" +
  "       effect-ssh keygen -p [-a rounds] [-f keyfile] [-m format] [-N new_passphrase] [-P old_passphrase]\n" +
  "       effect-ssh keygen -i [-f input_keyfile] [-m key_format]\n" +
  "       effect-ssh keygen -e [-f input_keyfile] [-m key_format]\n" +
  "       effect-ssh keygen -y [-P passphrase] [-f input_keyfile]\n" +
  "       effect-ssh keygen -l [-v] [-E fingerprint_hash] [-f input_keyfile]\n" +
  "       effect-ssh keygen -F hostname [-lv] [-H] [-f known_hosts_file]\n" +
  "       effect-ssh keygen -H [-f known_hosts_file]\n" +
  "       effect-ssh keygen -R hostname [-f known_hosts_file]\n" +
  "       effect-ssh keygen -I certificate_identity -s ca_key [-hq] [-n principals] [-O option]\n" +
  "                  [-V validity_interval] [-z serial_number] file ...\n" +
  "       effect-ssh keygen -L [-f input_keyfile]"

/**
 * Runs `effect-ssh keygen` with `args` and returns the exit code (0, or 255 with the reason on stderr).
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (args[0] === "--help") {
      yield* KeygenArgs.out(`${USAGE}\n`)
      return 0
    }
    const a = yield* KeygenArgs.parse(args)
    const { flags, values } = a
    const file = values.f
    const hash = values.E === "md5" ? "md5" : "sha256"
    // ssh-keygen's order of modes (ssh-keygen.c main): known_hosts, certificates, conversions, then generation.
    if (values.F !== undefined) return yield* Effect.as(KeygenHosts.find(values.F, KeygenHosts.fileOf(file), flags.has("H")), 0)
    if (values.R !== undefined) return yield* Effect.as(KeygenHosts.remove(values.R, KeygenHosts.fileOf(file)), 0)
    if (flags.has("H")) return yield* Effect.as(KeygenHosts.hashFile(KeygenHosts.fileOf(file)), 0)
    if (flags.has("L")) return yield* Effect.as(KeygenCert.print(yield* required(file)), 0)
    if (values.s !== undefined) return yield* Effect.as(KeygenCert.sign(a, values.s), 0)
    if (flags.has("p")) return yield* Effect.as(KeygenConvert.changePassphrase(a, yield* required(file)), 0)
    if (flags.has("e")) return yield* Effect.as(KeygenConvert.exportKey(a, yield* required(file)), 0)
    if (flags.has("i")) return yield* Effect.as(KeygenConvert.importKey(a, yield* required(file)), 0)
    if (flags.has("l") || flags.has("y")) {
      const pub = yield* KeygenConvert.readPublic(yield* required(file), values.P)
      yield* KeygenArgs.out(
        flags.has("y")
          ? `${PublicKey.format(pub)}\n`
          : `${PublicKey.describe(pub, hash)}\n${flags.has("v") ? `${PublicKey.randomart(pub, hash)}\n` : ""}`
      )
      return 0
    }
    const type = values.t ?? "ed25519"
    const spec: PrivateKey.GenerateSpec | undefined = type === "ed25519"
      ? { type }
      : type === "ecdsa"
      ? { type, curve: values.b === "384" ? "nistp384" : values.b === "521" ? "nistp521" : "nistp256" }
      : type === "rsa"
      ? { type, bits: values.b === undefined ? 3072 : Number(values.b) }
      : undefined
    if (spec === undefined) return yield* new KeygenArgs.KeygenFailure({ reason: `unknown key type ${type}` })
    if (file === undefined) {
      return yield* new KeygenArgs.KeygenFailure({ reason: "-f file is required (effect-ssh keygen does not ask)" })
    }
    if (fs.existsSync(file)) return yield* new KeygenArgs.KeygenFailure({ reason: `${file} already exists` })
    const format = yield* KeygenConvert.formatOf(values.m)
    const key = yield* PrivateKey.generate(spec).pipe(Effect.mapError((e) => new KeygenArgs.KeygenFailure({ reason: e.message })))
    const comment = values.C ?? `${os.userInfo().username}@${os.hostname()}`
    const passphrase = yield* KeygenArgs.newPassphrase(values.N)
    const text = yield* Either.mapLeft(
      PrivateKey.encode(key, {
        comment,
        format: KeygenConvert.privateFormat(format),
        passphrase: passphrase === "" ? undefined : Redacted.make(passphrase),
        rounds: values.a === undefined ? undefined : Number(values.a)
      }),
      (e) => new KeygenArgs.KeygenFailure({ reason: e.message })
    )
    const pub = PrivateKey.publicKey(key, comment)
    yield* Effect.sync(() => {
      fs.writeFileSync(file, text, { mode: 0o600, flag: "wx" })
      fs.writeFileSync(`${file}.pub`, `${PublicKey.format(pub)}\n`, { mode: 0o644 })
    })
    if (!flags.has("q")) {
      yield* KeygenArgs.out(
        `Your identification has been saved in ${file}\nYour public key has been saved in ${file}.pub\n` +
          `The key fingerprint is:\n${PublicKey.fingerprint(pub, hash)} ${comment}\n` +
          `The key's randomart image is:\n${PublicKey.randomart(pub, hash)}\n`
      )
    }
    return 0
  }).pipe(
    Effect.catchAll((e) =>
      e.reason === ""
        ? Effect.succeed(e.code ?? FAILURE_EXIT_CODE)
        : Effect.as(
          Tty.printError(`effect-ssh keygen: ${e.reason}${/^(unknown option|option requires)/.test(e.reason) ? `\n${USAGE}` : ""}`),
          e.code ?? FAILURE_EXIT_CODE
        )
    )
  )

const required = (file: string | undefined) =>
  file === undefined ? Effect.fail(new KeygenArgs.KeygenFailure({ reason: "-f file is required" })) : Effect.succeed(file)
