/**
 * `effect-ssh keygen` on known_hosts files, as ssh-keygen 9.2 does: `-F host` finds a host's lines (hashed or
 * plain; `-H` prints them hashed), `-R host` removes its lines (keeping `@cert-authority`/`@revoked` lines and
 * the old file as `<file>.old`), `-H` hashes every plain host name of the file (one line per name; names with
 * wildcards, marker lines and comments are kept as written). The file defaults to ~/.ssh/known_hosts.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as KnownHosts from "../keys/KnownHosts.js"
import { KeygenFailure, out, readText, writeText } from "./KeygenArgs.js"
import * as Tty from "./Tty.js"

/**
 * The file of -F/-R/-H: -f, or ~/.ssh/known_hosts.
 *
 * @since 0.1.0
 * @category accessors
 */
export const fileOf = (f: string | undefined): string => f ?? path.join(os.homedir(), ".ssh", "known_hosts")

const hashed = (name: string): string => Either.getOrThrow(KnownHosts.hashName(name, new Uint8Array(crypto.randomBytes(20))))

/** The fields after the host field of a line (the key type, key and comment), and its host field. */
const split = (text: string, marker: boolean) => {
  const fields = text.trim().split(/[ \t]+/)
  const hosts = fields[marker ? 1 : 0] ?? ""
  const rest = text.trim().slice(text.trim().indexOf(hosts) + hosts.length).trim()
  return { hosts, rest }
}

const markerText = (m: KnownHosts.Marker | undefined) => (m === "@cert-authority" ? "CA" : m === "@revoked" ? "REVOKED" : "")

/**
 * `-F name`: each matching line under `# Host name found: line N`; exit status 1 when none matches.
 *
 * @since 0.1.0
 * @category constructors
 */
export const find = (name: string, file: string, hash: boolean) =>
  Effect.gen(function*() {
    const known = KnownHosts.parse(yield* readText(file))
    // The name is looked up as written (`[host]:port`), as ssh-keygen does: port 0 leaves it as it is.
    const found = KnownHosts.lookup(known.entries, name, 0)
    for (const e of found) {
      let text = e.text
      if (hash && e.marker === undefined && e.hosts._tag === "Patterns") {
        const { hosts, rest } = split(e.text, false)
        text = hosts.split(",").map((h) => `${hashed(h)} ${rest}`).join("\n")
      }
      yield* out(`# Host ${name} found: line ${e.line} ${markerText(e.marker)}\n${text}\n`)
    }
    if (found.length === 0) return yield* new KeygenFailure({ reason: "", code: 1 })
  })

/** Replaces `file` with `lines`, keeping the old contents as `<file>.old` (ssh-keygen's messages). */
const rewrite = (file: string, lines: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const mode = yield* Effect.sync(() => fs.statSync(file).mode & 0o777)
    yield* Effect.try({
      try: () => fs.copyFileSync(file, `${file}.old`),
      catch: (e) => new KeygenFailure({ reason: `backup ${file}.old: ${String(e)}` })
    })
    yield* writeText(file, lines.map((l) => `${l}\n`).join(""), mode)
    yield* out(`${file} updated.\nOriginal contents retained as ${file}.old\n`)
  })

/**
 * `-R name`: removes the lines that match `name` (not marker lines).
 *
 * @since 0.1.0
 * @category constructors
 */
export const remove = (name: string, file: string) =>
  Effect.gen(function*() {
    const text = yield* readText(file)
    const known = KnownHosts.parse(text)
    const drop = new Set(
      KnownHosts.lookup(known.entries, name, 0).filter((e) => e.marker === undefined).map((e) => e.line)
    )
    if (drop.size === 0) return yield* Tty.printError(`Host ${name} not found in ${file}`)
    for (const line of drop) yield* out(`# Host ${name} found: line ${line}\n`)
    const lines = text.split("\n")
    if (lines[lines.length - 1] === "") lines.pop()
    yield* rewrite(file, lines.filter((_, i) => !drop.has(i + 1)))
  })

/**
 * `-H`: hashes the file's plain host names.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hashFile = (file: string) =>
  Effect.gen(function*() {
    const text = yield* readText(file)
    const known = KnownHosts.parse(text)
    const byLine = new Map(known.entries.map((e) => [e.line, e]))
    const lines = text.split("\n")
    if (lines[lines.length - 1] === "") lines.pop()
    const output: Array<string> = []
    let changed = false
    for (let i = 0; i < lines.length; i++) {
      const e = byLine.get(i + 1)
      if (e === undefined || e.hosts._tag === "Hashed") {
        output.push(lines[i]!)
        continue
      }
      const { hosts, rest } = split(e.text, e.marker !== undefined)
      if (e.marker !== undefined || /[*?!]/.test(hosts)) {
        if (/[*?!]/.test(hosts)) yield* Tty.printError(`${file}:${i + 1}: ignoring host name with wildcard: ${hosts}`)
        output.push(lines[i]!)
        continue
      }
      for (const h of hosts.split(",")) output.push(`${hashed(h)} ${rest}`)
      changed = true
    }
    if (!changed) return
    yield* rewrite(file, output)
    yield* Tty.printError(`WARNING: ${file}.old contains unhashed entries\nDelete this file to ensure privacy of hostnames`)
  })
