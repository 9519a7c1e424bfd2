/**
 * The command line of `effect-ssh keygen` (ssh-keygen 9.2's getopt letters, clusters and attached values; -O
 * may repeat; the words after the options are the files to sign with -s) and what its modes share: reading
 * files, private keys with their passphrase asked on a terminal, writing to stdout.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import type { ParsedPrivateKey } from "../keys/KeyMaterial.js"
import * as PrivateKey from "../keys/PrivateKey.js"
import * as Tty from "./Tty.js"

/**
 * A failure that ends `effect-ssh keygen` with status 255 and `reason` on stderr (ssh-keygen's wording).
 *
 * @since 0.1.0
 * @category errors
 */
export class KeygenFailure extends Data.TaggedError("KeygenFailure")<{
  readonly reason: string
  /** Exit status; 255 unless ssh-keygen uses another (1 for `-F` finding nothing). */
  readonly code?: number | undefined
}> {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.reason
  }
}

/**
 * A parsed command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeygenArgs {
  readonly flags: ReadonlySet<string>
  readonly values: Readonly<Record<string, string>>
  /** -O options in order. */
  readonly options: ReadonlyArray<string>
  /** The words after the options (the public keys `-s` signs). */
  readonly files: ReadonlyArray<string>
}

const FLAGS = "ABHKLQUXceghiklopquvy"
const VALUES = "CDEFIMNOPRVYZabfgmnrstwz"

/**
 * Parses the words after `keygen`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (args: ReadonlyArray<string>): Either.Either<KeygenArgs, KeygenFailure> => {
  const flags = new Set<string>()
  const values: Record<string, string> = {}
  const options: Array<string> = []
  let i = 0
  for (; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      i++
      break
    }
    if (!arg.startsWith("-") || arg.length < 2) break
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!
      if (FLAGS.includes(c)) flags.add(c)
      else if (VALUES.includes(c)) {
        const v = arg.length > j + 1 ? arg.slice(j + 1) : args[++i]
        if (v === undefined) return Either.left(new KeygenFailure({ reason: `option requires an argument -- ${c}` }))
        if (c === "O") options.push(v)
        else values[c] = v
        break
      } else return Either.left(new KeygenFailure({ reason: `unknown option -- ${c}` }))
    }
  }
  return Either.right({ flags, values, options, files: args.slice(i) })
}

/**
 * Writes to stdout.
 *
 * @since 0.1.0
 * @category constructors
 */
export const out = (text: string): Effect.Effect<void> => Effect.sync(() => void process.stdout.write(text))

/**
 * A file's text, or a `KeygenFailure` naming it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readText = (file: string): Effect.Effect<string, KeygenFailure> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) => new KeygenFailure({ reason: `${file}: ${e instanceof Error && "code" in e && e.code === "ENOENT" ? "No such file or directory" : String(e)}` })
  })

/**
 * Writes a file (replacing it) with `mode`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const writeText = (file: string, text: string, mode: number): Effect.Effect<void, KeygenFailure> =>
  Effect.try({
    try: () => {
      fs.writeFileSync(file, text, { mode })
      fs.chmodSync(file, mode)
    },
    catch: (e) => new KeygenFailure({ reason: `Saving ${file} failed: ${e instanceof Error ? e.message : String(e)}` })
  })

/**
 * A private key from `file`: decrypted with `passphrase` when given, else unencrypted, else with a passphrase
 * asked on the terminal (`question`, as ssh-keygen asks; three tries). Never asks without a terminal.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadPrivate = (
  file: string,
  passphrase: string | undefined,
  question = "Enter passphrase: "
): Effect.Effect<ParsedPrivateKey, KeygenFailure> =>
  Effect.gen(function*() {
    const text = yield* readText(file)
    const first = PrivateKey.parse(text, passphrase === undefined ? {} : { passphrase: Redacted.make(passphrase) })
    if (Either.isRight(first)) return first.right
    if (first.left.reason !== "Passphrase" || passphrase !== undefined || !Tty.isInteractive()) {
      return yield* new KeygenFailure({
        reason: first.left.reason === "Passphrase" ? `Load key "${file}": incorrect passphrase supplied to decrypt private key` : `Load key "${file}": ${first.left.message}`
      })
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = yield* Effect.orElseSucceed(Tty.prompt(question, { echo: false }), () => "")
      const key = PrivateKey.parse(text, { passphrase: Redacted.make(answer) })
      if (Either.isRight(key)) return key.right
    }
    return yield* new KeygenFailure({ reason: `Load key "${file}": incorrect passphrase supplied to decrypt private key` })
  })

/**
 * A new passphrase: `given` (-N), else asked twice on a terminal, else empty.
 *
 * @since 0.1.0
 * @category constructors
 */
export const newPassphrase = (given: string | undefined): Effect.Effect<string, KeygenFailure> =>
  Effect.gen(function*() {
    if (given !== undefined || !Tty.isInteractive()) return given ?? ""
    const cancelled = () => new KeygenFailure({ reason: "cancelled" })
    const first = yield* Effect.mapError(Tty.prompt("Enter new passphrase (empty for no passphrase): ", { echo: false }), cancelled)
    const again = yield* Effect.mapError(Tty.prompt("Enter same passphrase again: ", { echo: false }), cancelled)
    if (first !== again) return yield* new KeygenFailure({ reason: "Passphrases do not match.  Try again." })
    return first
  })
