/**
 * The legacy SCP protocol (rcp's, as OpenSSH's scp.c speaks it over `scp -t` / `scp -f`): its control records
 * parsed strictly (SEC-58) and its remote commands built without shell interpolation (SEC-59). Pure; no I/O.
 *
 * Records, one line each (`\n`-terminated): `C<mode> <size> <name>` a file follows, `D<mode> 0 <name>` a directory
 * starts, `E` it ends, `T<mtime> 0 <atime> 0` times of the next record; a reply is one byte `\0` (ok), or
 * `\x01`/`\x02` and a message line (warning / fatal error).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { sanitizePeerText, TypeId } from "../SshError.js"

/**
 * A control record.
 *
 * @since 0.1.0
 * @category models
 */
export type ScpRecord =
  | { readonly _tag: "File"; readonly mode: number; readonly size: number; readonly name: string }
  | { readonly _tag: "Directory"; readonly mode: number; readonly name: string }
  | { readonly _tag: "EndDirectory" }
  | { readonly _tag: "Times"; readonly mtime: number; readonly atime: number }
  | { readonly _tag: "Warning"; readonly message: string }
  | { readonly _tag: "Error"; readonly message: string }

/**
 * An SCP transfer failed: the peer broke the protocol (`Protocol`, SEC-58), reported an error (`Remote`), a local
 * file could not be read or written (`Local`), or a path cannot be sent safely (`BadPath`, SEC-59).
 *
 * @since 0.1.0
 * @category errors
 */
export class ScpError extends Schema.TaggedError<ScpError>("effect-ssh/ScpError")("ScpError", {
  reason: Schema.Literal("Protocol", "Remote", "Local", "BadPath"),
  description: Schema.String,
  path: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `scp: ${this.reason}: ${sanitizePeerText(this.description)}${this.path === undefined ? "" : ` (${sanitizePeerText(this.path)})`}`
  }
}

/**
 * The longest control line accepted (OpenSSH's sink reads records into a 2 048-byte buffer; names may be longer
 * on some systems, so 8 KiB).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_LINE = 8192

/**
 * Warning and error messages from the peer are cut to this many characters (SEC-58).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_MESSAGE = 1024

const protocol = (description: string) => new ScpError({ reason: "Protocol", description })

/**
 * SEC-58: a name is one path component — not empty, not `.` or `..`, without `/`, `\`, NUL or control characters.
 *
 * @since 0.1.0
 * @category validation
 */
export const isSafeName = (name: string): boolean =>
  name.length > 0 && name !== "." && name !== ".." && !/[/\\\u0000-\u001f\u007f]/.test(name)

/**
 * Options of `decode`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  /** Keep setuid, setgid and sticky bits (`scp -p` as root does); off: they are stripped (CVE-2026-35385). */
  readonly keepSpecialBits?: boolean | undefined
}

const RECORD = /^([CD])([0-7]{4}) (\d{1,16}) (.+)$/s
const TIMES = /^T(\d{1,12}) (\d{1,6}) (\d{1,12}) (\d{1,6})$/

/**
 * Decodes one control line (without its `\n`), strictly (SEC-58): modes are four octal digits, sizes decimal and at
 * most 2^53−1, names a single safe component, times numeric with microseconds below 10^6.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (line: string, options?: DecodeOptions): Either.Either<ScpRecord, ScpError> => {
  if (line.length > MAX_LINE) return Either.left(protocol(`control line of ${line.length} characters`))
  const first = line.charCodeAt(0)
  if (first === 1 || first === 2) {
    const message = sanitizePeerText(line.slice(1), MAX_MESSAGE)
    return Either.right(first === 1 ? { _tag: "Warning", message } : { _tag: "Error", message })
  }
  if (line === "E") return Either.right({ _tag: "EndDirectory" })
  const t = TIMES.exec(line)
  if (t !== null) {
    if (Number(t[2]) >= 1_000_000 || Number(t[4]) >= 1_000_000) return Either.left(protocol("microseconds out of range"))
    return Either.right({ _tag: "Times", mtime: Number(t[1]), atime: Number(t[3]) })
  }
  const m = RECORD.exec(line)
  if (m === null) return Either.left(protocol(`bad control record ${JSON.stringify(sanitizePeerText(line, 80))}`))
  const mode = parseInt(m[2]!, 8) & (options?.keepSpecialBits === true ? 0o7777 : 0o777)
  const size = Number(m[3])
  if (!Number.isSafeInteger(size)) return Either.left(protocol("size out of range"))
  const name = m[4]!
  if (!isSafeName(name)) return Either.left(protocol(`unsafe file name ${JSON.stringify(sanitizePeerText(name, 80))}`))
  return Either.right(m[1] === "C" ? { _tag: "File", mode, size, name } : { _tag: "Directory", mode, name })
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0")

/**
 * Encodes a record as its line, `\n` included (warnings and errors after their marker byte).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (record: ScpRecord): string => {
  switch (record._tag) {
    case "File":
      return `C${octal(record.mode)} ${record.size} ${record.name}\n`
    case "Directory":
      return `D${octal(record.mode)} 0 ${record.name}\n`
    case "EndDirectory":
      return "E\n"
    case "Times":
      return `T${Math.floor(record.mtime)} 0 ${Math.floor(record.atime)} 0\n`
    case "Warning":
      return `\x01${record.message.replace(/\n/g, " ")}\n`
    case "Error":
      return `\x02${record.message.replace(/\n/g, " ")}\n`
  }
}

/**
 * POSIX single-quote escaping of one argument (SEC-59): `'…'` with each `'` as `'\''`. NUL and newlines are
 * refused (`BadPath`): no shell quoting carries them safely through every remote shell.
 *
 * @since 0.1.0
 * @category encoding
 */
export const quote = (arg: string): Either.Either<string, ScpError> =>
  /[\0\n\r]/.test(arg)
    ? Either.left(new ScpError({ reason: "BadPath", description: "a path with NUL or a newline cannot be sent", path: arg }))
    : Either.right(`'${arg.replace(/'/g, "'\\''")}'`)

/**
 * What the remote `scp` is asked to do.
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteCommand {
  /** `sink`: receive (`scp -t`, an upload); `source`: send (`scp -f`, a download). */
  readonly role: "sink" | "source"
  readonly path: string
  readonly recursive?: boolean | undefined
  readonly preserve?: boolean | undefined
  /** `-d`: the target must be a directory (several sources). */
  readonly targetIsDirectory?: boolean | undefined
}

/**
 * The remote command (SEC-59): `scp -t|-f [-r] [-p] [-d] -- '<path>'`, the path quoted and after `--`, so neither
 * shell metacharacters nor a leading `-` can change what runs.
 *
 * @since 0.1.0
 * @category encoding
 */
export const command = (c: RemoteCommand): Either.Either<string, ScpError> =>
  Either.map(quote(c.path), (path) =>
    ["scp", c.role === "sink" ? "-t" : "-f", ...(c.recursive ? ["-r"] : []), ...(c.preserve ? ["-p"] : []),
      ...(c.targetIsDirectory ? ["-d"] : []), "--", path].join(" "))
