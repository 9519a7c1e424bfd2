/**
 * The known_hosts policies' side of host-key rotation (SEC-71): decides, proves and writes, under OpenSSH's
 * rules (clientloop.c `client_input_hostkeys`, `update_known_hosts`; sshconnect.c `check_host_key`, which turns
 * UpdateHostKeys off for certificates, keys found in the global files and keys found without the port):
 * - only when this connection's host key is a plain key recorded for the host in one of the user's files;
 * - never for a host with `@cert-authority`/`@revoked` lines, wildcard or hand-made host lists, or with one of
 *   the keys recorded under another name (`KnownHostsUpdate.plan`);
 * - new keys only after the server proved them; recorded keys the server no longer offers are removed.
 * Keys are added to the first user file; the others only lose the host's deprecated lines. Each file is replaced
 * by a rename of a fully written temporary file (mode 0600).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { CryptoBackend } from "../../crypto/Backend.js"
import * as HostKey from "../../crypto/HostKey.js"
import * as KnownHosts from "../../keys/KnownHosts.js"
import * as KnownHostsUpdate from "../../keys/KnownHostsUpdate.js"
import type { HostKeyUpdate } from "../HostKeyPolicy.js"
import * as Check from "./knownHostsCheck.js"

/** The user's files as read for this update (a missing file: `exists` false, empty text). */
export interface UserFile {
  readonly path: string
  readonly text: string
  readonly exists: boolean
}

/** @internal */
export const apply = (
  files: ReadonlyArray<UserFile>,
  update: HostKeyUpdate,
  options: {
    readonly hash: boolean
    readonly backend: CryptoBackend
    readonly now: bigint
    readonly caSignatureAlgorithms: ReadonlyArray<string> | undefined
  }
): Effect.Effect<void, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const where = update.port === 22 || update.port === 0 ? update.host : `[${update.host}]:${update.port}`
    const skip = (reason: string) => Effect.logDebug(`UpdateHostKeys for ${where}: ${reason}; known_hosts not changed`)
    if (files.length === 0) return yield* skip("no user known_hosts file")
    const verdict = Check.decide({
      files: files.map((f) => ({ path: f.path, entries: KnownHosts.parse(f.text).entries })),
      host: update.host,
      port: update.port,
      blob: update.sessionHostKey,
      address: undefined,
      now: options.now,
      backend: options.backend,
      caSignatureAlgorithms: options.caSignatureAlgorithms
    })
    // A note means a certificate, or a key found without the port: sshconnect.c disables UpdateHostKeys for both.
    if (verdict._tag !== "Trusted" || verdict.note !== undefined) {
      return yield* skip("the host key was not verified by a plain key in a user known_hosts file")
    }
    const plan = KnownHostsUpdate.plan(files, update.host, update.port, update.offered)
    if (plan._tag === "Skip") return yield* skip(plan.reason)
    let learned: ReadonlyArray<Uint8Array> = []
    if (plan.fresh.length > 0) {
      const proven = yield* update.prove(plan.fresh)
      if (proven === undefined) {
        return yield* Effect.logWarning(`${where}: the server failed to confirm ownership of its private host keys`)
      }
      learned = plan.fresh.filter((_, i) => proven[i] === true)
    }
    const keep = [...plan.retained, ...learned]
    const fs = yield* FileSystem.FileSystem
    for (const [i, file] of files.entries()) {
      if (!file.exists) continue
      const add: Array<{ readonly blob: Uint8Array; readonly line: string }> = []
      for (const blob of i === 0 ? keep : []) {
        const salt = options.hash ? options.backend.randomBytes(20) : undefined
        const line = KnownHosts.formatLine(
          update.host,
          update.port,
          KnownHostsUpdate.keyTypeOf(blob),
          blob,
          salt === undefined ? { hash: false } : { hash: true, salt }
        )
        if (Either.isLeft(line)) return yield* skip(line.left)
        add.push({ blob, line: line.right })
      }
      const text = KnownHostsUpdate.rewrite(file.text, update.host, update.port, i === 0 ? keep : [], add)
      if (text === undefined) continue
      const temp = `${file.path}.${Date.now().toString(36)}.tmp`
      const written = yield* fs.writeFileString(temp, text, { mode: 0o600 }).pipe(
        Effect.zipRight(fs.rename(temp, file.path)),
        Effect.as(true),
        Effect.catchAll((e) =>
          Effect.zipRight(
            Effect.ignore(fs.remove(temp)),
            Effect.as(Effect.logWarning(`UpdateHostKeys: cannot rewrite ${file.path}: ${e.message}`), false)
          )
        )
      )
      if (!written) return
    }
    for (const blob of learned) {
      yield* Effect.logInfo(`${where}: learned new hostkey ${KnownHostsUpdate.keyTypeOf(blob)} ${HostKey.fingerprintSha256(blob)}`)
    }
    for (const blob of plan.deprecated) {
      yield* Effect.logInfo(`${where}: removed obsolete hostkey ${KnownHostsUpdate.keyTypeOf(blob)} ${HostKey.fingerprintSha256(blob)}`)
    }
  })
