/**
 * `effect-ssh keygen`: the ssh-keygen subset the library does — generate (`-t ed25519|ecdsa|rsa [-b bits]
 * -f file [-N passphrase] [-C comment]`, written as ssh-keygen writes them: openssh-key-v1 with mode 0600 and a
 * `.pub` beside it), fingerprint (`-l [-v] [-E sha256|md5] -f file`, with the randomart for -v) and the public key
 * of a private key (`-y [-P passphrase] -f file`).
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
import { FAILURE_EXIT_CODE } from "./Version.js"
import * as Tty from "./Tty.js"

const USAGE = "usage: effect-ssh keygen [-q] [-b bits] [-C comment] [-f output_keyfile] [-N new_passphrase] [-t ed25519 | ecdsa | rsa]\n" +
  "       effect-ssh keygen -l [-v] [-E fingerprint_hash] -f input_keyfile\n" +
  "       effect-ssh keygen -y [-P passphrase] -f input_keyfile"

const FLAGS = "lyqv"
const VALUES = "tbfNCEP"

/** The public key in a file: a public key line, or the public half of a private key. */
const readPublic = (file: string, passphrase: string | undefined): Either.Either<PublicKey.PublicKey, string> => {
  const text = fs.readFileSync(file, "utf8")
  const pub = PublicKey.parse(text)
  if (Either.isRight(pub)) return Either.right(pub.right)
  const key = PrivateKey.parse(text, passphrase === undefined ? undefined : { passphrase: Redacted.make(passphrase) })
  return Either.match(key, {
    onLeft: (e) => Either.left(`${file} is not a key file: ${e.message}`),
    onRight: (k) => Either.right(PrivateKey.publicKey(k))
  })
}

/**
 * Runs `effect-ssh keygen` with `args` and returns the exit code (0, or 255 with the reason on stderr).
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (args[0] === "--help") {
      yield* Effect.sync(() => process.stdout.write(`${USAGE}\n`))
      return 0
    }
    const flags = new Set<string>()
    const values: Record<string, string> = {}
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!
      if (!arg.startsWith("-") || arg.length < 2) return yield* fail(`unexpected argument ${arg}`)
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j]!
        if (FLAGS.includes(c)) flags.add(c)
        else if (VALUES.includes(c)) {
          const v = arg.length > j + 1 ? arg.slice(j + 1) : args[++i]
          if (v === undefined) return yield* fail(`option requires an argument -- ${c}`)
          values[c] = v
          break
        } else return yield* fail(`unknown option -- ${c}`)
      }
    }
    const file = values.f
    const hash = values.E === "md5" ? "md5" : "sha256"
    if (flags.has("l") || flags.has("y")) {
      if (file === undefined) return yield* fail("-f file is required")
      const read = yield* Effect.sync(() => {
        try {
          return readPublic(file, values.P)
        } catch (e) {
          return Either.left(e instanceof Error ? e.message : String(e))
        }
      })
      if (Either.isLeft(read)) return yield* fail(read.left)
      const pub = read.right
      const out = flags.has("y")
        ? `${PublicKey.format(pub)}\n`
        : `${PublicKey.describe(pub, hash)}\n${flags.has("v") ? `${PublicKey.randomart(pub, hash)}\n` : ""}`
      yield* Effect.sync(() => process.stdout.write(out))
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
    if (spec === undefined) return yield* fail(`unknown key type ${type}`)
    if (file === undefined) return yield* fail("-f file is required (effect-ssh keygen does not ask)")
    if (fs.existsSync(file)) return yield* fail(`${file} already exists`)
    const key = yield* PrivateKey.generate(spec).pipe(Effect.mapError((e) => e.message))
    const comment = values.C ?? `${os.userInfo().username}@${os.hostname()}`
    const passphrase = values.N === undefined || values.N === "" ? undefined : Redacted.make(values.N)
    const text = yield* Either.mapLeft(PrivateKey.encode(key, { comment, passphrase }), (e) => e.message)
    const pub = PrivateKey.publicKey(key, comment)
    yield* Effect.sync(() => {
      fs.writeFileSync(file, text, { mode: 0o600, flag: "wx" })
      fs.writeFileSync(`${file}.pub`, `${PublicKey.format(pub)}\n`, { mode: 0o644 })
    })
    if (!flags.has("q")) {
      yield* Effect.sync(() =>
        process.stdout.write(
          `Your identification has been saved in ${file}\nYour public key has been saved in ${file}.pub\n` +
            `The key fingerprint is:\n${PublicKey.fingerprint(pub, hash)} ${comment}\n` +
            `The key's randomart image is:\n${PublicKey.randomart(pub, hash)}\n`
        )
      )
    }
    return 0
  }).pipe(Effect.catchAll((why) => Effect.as(Tty.printError(`effect-ssh keygen: ${why}`), FAILURE_EXIT_CODE)))

const fail = (why: string) => Effect.as(Tty.printError(`effect-ssh keygen: ${why}\n${USAGE}`), FAILURE_EXIT_CODE)
