/**
 * The known_hosts policies (`HostKeyPolicy.knownHosts`, `acceptNew`): reading the user's and the global files on
 * every verification, deciding (internal/knownHostsCheck.ts), recording new hosts under `acceptNew`, and applying
 * host-key rotation (SEC-71, internal/knownHostsUpdate.ts).
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Algorithms from "../../crypto/Algorithms.js"
import { Crypto } from "../../crypto/Crypto.js"
import * as KnownHosts from "../../keys/KnownHosts.js"
import type { HostKeyInfo, HostKeyPolicy, HostKeyUpdate, KnownHostsOptions } from "../HostKeyPolicy.js"
import { factsOf, type HostKeyRejected, reject, target } from "./hostKeyRejection.js"
import * as internal from "./knownHostsCheck.js"
import * as Update from "./knownHostsUpdate.js"

/** @internal */
export const make = (options: KnownHostsOptions): HostKeyPolicy<FileSystem.FileSystem | Path.Path> => {
  const userFiles = options.files ?? ["~/.ssh/known_hosts"]
  const files = [...userFiles, ...(options.globalFiles ?? [])]
  // Serialises check-then-append (and rewrites) so that concurrent connections to one host record it once.
  const lock = Effect.unsafeMakeSemaphore(1)
  const updates = options.updateHostKeys ?? options.files === undefined
  return {
    verify: (info) => {
      const run = verifyKnownHosts(files, options, info)
      return options.acceptNew === true ? lock.withPermits(1)(run) : run
    },
    updateHostKeys: updates
      ? (update) => lock.withPermits(1)(updateKnownHosts(userFiles, options, update))
      : undefined,
    preferredAlgorithms: (host, port) =>
      Effect.map(
        loadFiles(files, infoFor(host, port, new Uint8Array(0))),
        ({ loaded }) => internal.hasCertAuthority(loaded, host, port) ? Algorithms.HOST_KEY_CERT_ALGORITHMS : []
      ).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
  }
}

const infoFor = (host: string, port: number, blob: Uint8Array): HostKeyInfo =>
  factsOf({ host, port, blob, keyType: "", fingerprint: "" })

/** Reads and parses the files in order; a missing file is empty, any other read error is fatal (SEC-20). */
const loadFiles = (files: ReadonlyArray<string>, facts: HostKeyInfo) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const paths: Array<string> = []
    for (const file of files) paths.push(yield* expandHome(file, path, facts))
    const loaded: Array<internal.LoadedFile> = []
    const texts: Array<string> = []
    for (const file of paths) {
      const text = yield* fs.readFileString(file).pipe(
        Effect.catchIf(isNotFound, () => Effect.succeed("")),
        Effect.catchAll((cause) =>
          Effect.fail(reject(facts, "Unverifiable", { files: paths, description: `cannot read ${file}`, cause }))
        )
      )
      texts.push(text)
      const parsed = KnownHosts.parse(text)
      for (const w of parsed.warnings) yield* Effect.logDebug(`${file}:${w.line}: ${w.reason}; line ignored`)
      loaded.push({ path: file, entries: parsed.entries })
    }
    return { paths, loaded, texts, fs, path }
  })

const verifyKnownHosts = Effect.fn("HostKeyPolicy.knownHosts")(function*(
  files: ReadonlyArray<string>,
  options: KnownHostsOptions,
  info: HostKeyInfo
) {
  const facts = factsOf(info)
  const { fs, loaded, path, paths, texts } = yield* loadFiles(files, facts)
  const fail = (reason: HostKeyRejected["reason"], extra: Parameters<typeof reject>[2] = {}) =>
    Effect.fail(reject(facts, reason, { files: paths, ...extra }))
  const verdict = internal.decide({
    files: loaded,
    host: facts.host,
    port: facts.port,
    blob: facts.blob,
    address: options.checkHostIp === true ? info.address : undefined,
    now: BigInt(Math.floor((yield* Clock.currentTimeMillis) / 1000)),
    backend: yield* Crypto,
    caSignatureAlgorithms: options.caSignatureAlgorithms
  })
  const toRecord: Array<{ readonly name: string; readonly keyType: string; readonly blob: Uint8Array }> = []
  switch (verdict._tag) {
    case "Rejected":
      return yield* fail(verdict.reason, {
        knownLines: verdict.knownLines,
        ...(verdict.description === undefined ? {} : { description: verdict.description })
      })
    case "Trusted":
      if (verdict.note !== undefined) yield* Effect.logDebug(`${target(facts.host, facts.port)}: ${verdict.note}`)
      if (!verdict.recordAddress) return
      if (options.acceptNew !== true) {
        return yield* Effect.logInfo(`the host key for the address ${info.address} is not in the list of known hosts`)
      }
      toRecord.push({ name: info.address!, keyType: facts.keyType, blob: facts.blob })
      break
    case "Unknown":
      if (options.acceptNew !== true || paths.length === 0) {
        return yield* fail("Unknown", verdict.description === undefined ? {} : { description: verdict.description })
      }
      if (verdict.keyType === "") {
        return yield* fail("Unverifiable", { description: "the host key blob does not name its key type" })
      }
      toRecord.push({ name: facts.host, keyType: verdict.keyType, blob: verdict.blob })
      if (verdict.withAddress) toRecord.push({ name: info.address!, keyType: verdict.keyType, blob: verdict.blob })
  }
  const lines: Array<string> = []
  for (const r of toRecord) {
    const salt = options.hash === true ? yield* randomSalt : undefined
    const line = KnownHosts.formatLine(r.name, facts.port, r.keyType, r.blob, salt === undefined ? { hash: false } : { hash: true, salt })
    if (Either.isLeft(line)) return yield* fail("Unverifiable", { description: line.left })
    lines.push(line.right)
  }
  const file = paths[0]!
  const existing = texts[0]!
  const separator = existing.length > 0 && !existing.endsWith("\n") ? "\n" : ""
  yield* fs.makeDirectory(path.dirname(file), { recursive: true, mode: 0o700 }).pipe(
    // A single append write with O_APPEND; mode 0600 applies from creation, never chmod afterwards (SEC-28).
    Effect.zipRight(fs.writeFileString(file, `${separator}${lines.join("\n")}\n`, { flag: "a", mode: 0o600 })),
    Effect.catchAll((cause) => fail("Unverifiable", { description: `cannot record the new key in ${file}`, cause }))
  )
  for (const r of toRecord) {
    yield* Effect.logInfo(
      `Permanently added ${target(r.name, facts.port)} (${r.keyType} ${facts.fingerprint}) to ${file}`
    )
  }
})

const updateKnownHosts = (files: ReadonlyArray<string>, options: KnownHostsOptions, update: HostKeyUpdate) =>
  Effect.gen(function*() {
    const { paths, texts } = yield* loadFiles(files, infoFor(update.host, update.port, update.sessionHostKey))
    const fs = yield* FileSystem.FileSystem
    const user: Array<Update.UserFile> = []
    for (const [i, file] of paths.entries()) {
      user.push({ path: file, text: texts[i]!, exists: yield* Effect.orElseSucceed(fs.exists(file), () => false) })
    }
    yield* Update.apply(user, update, {
      hash: options.hash === true,
      backend: yield* Crypto,
      now: BigInt(Math.floor((yield* Clock.currentTimeMillis) / 1000)),
      caSignatureAlgorithms: options.caSignatureAlgorithms
    })
  }).pipe(Effect.catchAll((e) => Effect.logWarning(`UpdateHostKeys: ${e.message}`)))

const expandHome = (file: string, path: Path.Path, facts: HostKeyInfo): Effect.Effect<string, HostKeyRejected> => {
  if (file !== "~" && !file.startsWith("~/")) return Effect.succeed(file)
  return Config.string("HOME").pipe(
    Config.orElse(() => Config.string("USERPROFILE")),
    Effect.map((home) => path.join(home, file.slice(1))),
    Effect.mapError((cause) =>
      reject(facts, "Unverifiable", { description: `HOME is not set, so ${file} cannot be located`, cause })
    )
  )
}

const isNotFound = (e: PlatformError.PlatformError): boolean => e._tag === "SystemError" && e.reason === "NotFound"

/** Salt bytes come from the connection's crypto backend, so seeded test backends make them reproducible. */
const randomSalt: Effect.Effect<Uint8Array> = Effect.map(Crypto, (backend) => backend.randomBytes(20))

