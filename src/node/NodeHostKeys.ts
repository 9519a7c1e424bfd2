/**
 * Server host keys from files: read any private key format `PrivateKey.parse` reads, or generate a key and save
 * it when the file does not exist yet — written atomically with mode 0600 and never over an existing file
 * (SEC-28), as openssh-key-v1 that `ssh-keygen` reads.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeHostKeys } from "effect-ssh/node"
 *
 * const hostKey = NodeHostKeys.loadOrGenerate("./ssh_host_ed25519_key", { type: "ed25519" })
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as PrivateKey from "../keys/PrivateKey.js"
import { NodeCrypto } from "./NodeCrypto.js"

/**
 * A host key file that cannot be read, parsed or written; the message names the file and the cause.
 *
 * @since 0.1.0
 * @category errors
 */
export class HostKeyFileError extends Data.TaggedError("HostKeyFileError")<{
  readonly path: string
  readonly message: string
}> {}

/**
 * A host key file to load, and what to generate when it is missing (nothing: missing is an error).
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyFile {
  readonly path: string
  readonly generate?: PrivateKey.GenerateSpec | undefined
}

const text = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * Reads an unencrypted host key file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (file: string): Effect.Effect<PrivateKeyMaterial, HostKeyFileError> =>
  Effect.gen(function*() {
    const content = yield* Effect.try({
      try: () => fs.readFileSync(file),
      catch: (e) => new HostKeyFileError({ path: file, message: `cannot read host key ${file}: ${text(e)}` })
    })
    const parsed = PrivateKey.parse(content)
    if (Either.isLeft(parsed)) {
      return yield* new HostKeyFileError({ path: file, message: `host key ${file}: ${parsed.left.message}` })
    }
    return parsed.right.material
  })

/**
 * Writes `contents` to `file` only if it does not exist: a temporary file in the same directory (mode 0600,
 * flushed), then a hard link to the final name, which fails rather than replace a file that appeared meanwhile.
 */
const writeNew = (file: string, contents: string) => {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(6).toString("hex")}.tmp`)
  const fd = fs.openSync(tmp, "wx", 0o600)
  try {
    fs.writeSync(fd, contents)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.linkSync(tmp, file)
  } finally {
    fs.unlinkSync(tmp)
  }
}

/**
 * Reads the host key in `file`; when the file does not exist, generates one (`spec`, default ed25519) on
 * node:crypto and saves it. `generated` says which happened.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadOrGenerate = (
  file: string,
  spec: PrivateKey.GenerateSpec = { type: "ed25519" }
): Effect.Effect<{ readonly key: PrivateKeyMaterial; readonly generated: boolean }, HostKeyFileError> =>
  Effect.gen(function*() {
    if (fs.existsSync(file)) return { key: yield* load(file), generated: false }
    const key = yield* Either.mapLeft(
      PrivateKey.generateWith(NodeCrypto, spec),
      (e) => new HostKeyFileError({ path: file, message: `cannot generate a host key: ${e.message}` })
    )
    const contents = yield* Either.mapLeft(
      PrivateKey.encode(key, { comment: "effect-ssh host key", backend: NodeCrypto }),
      (e) => new HostKeyFileError({ path: file, message: `cannot encode the host key: ${e.message}` })
    )
    yield* Effect.try({
      try: () => writeNew(file, contents),
      catch: (e) => new HostKeyFileError({ path: file, message: `cannot save host key ${file}: ${text(e)}` })
    })
    yield* Effect.logInfo(`generated host key ${file}`)
    return { key, generated: true }
  })

/**
 * Loads every file, generating the missing ones that say how.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadAll = (
  files: ReadonlyArray<string | HostKeyFile>
): Effect.Effect<ReadonlyArray<PrivateKeyMaterial>, HostKeyFileError> =>
  Effect.forEach(files, (f) =>
    typeof f === "string"
      ? load(f)
      : f.generate === undefined
      ? load(f.path)
      : Effect.map(loadOrGenerate(f.path, f.generate), (r) => r.key))
