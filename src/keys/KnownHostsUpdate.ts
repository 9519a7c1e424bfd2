/**
 * Updating known_hosts from a server's host-key announcement (hostkeys-00@openssh.com, SEC-71), with the rules
 * of OpenSSH's client (clientloop.c `client_input_hostkeys`, `hostkeys_find`; hostfile.c
 * `hostfile_replace_entries`): which announced keys are new, which recorded keys are deprecated, and when no
 * update may be made at all — a `@cert-authority`/`@revoked` line, a wildcard or hand-written host list for the
 * host, or one of the keys recorded under another name. Pure: the caller reads and writes the files.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import { bytesEqual } from "../wire/Bytes.js"
import * as KnownHosts from "./KnownHosts.js"

/**
 * One parsed file and its text, in the order the client consults them (the user's files only).
 *
 * @since 0.1.0
 * @category models
 */
export interface UpdateFile {
  readonly path: string
  readonly text: string
}

/**
 * What to do with an announcement. `Update`: `fresh` keys need a proof before they are recorded; `deprecated`
 * lines (keys no longer offered) are removed when the files are rewritten. `Skip`: no change, and why.
 *
 * @since 0.1.0
 * @category models
 */
export type UpdatePlan =
  | {
    readonly _tag: "Update"
    readonly fresh: ReadonlyArray<Uint8Array>
    readonly retained: ReadonlyArray<Uint8Array>
    readonly deprecated: ReadonlyArray<Uint8Array>
  }
  | { readonly _tag: "Skip"; readonly reason: string }

/**
 * clientloop.c `hostspec_is_complex`: a wildcard, or more than `host,address` — lines ssh never writes itself.
 *
 * @since 0.1.0
 * @category matching
 */
export const isComplexHostField = (hosts: KnownHosts.HostField): boolean =>
  hosts._tag === "Patterns" &&
  (hosts.patterns.length > 2 || hosts.patterns.some((p) => p.negated || /[*?]/.test(p.pattern)))

const same = (e: KnownHosts.KnownHostsEntry, blob: Uint8Array) => bytesEqual(e.blob, blob)

/**
 * Decides on the announced plain keys `offered` (already filtered: supported, not certificates, allowed by the
 * host key algorithms, distinct) for `host`/`port`, against the user's known_hosts files.
 *
 * @since 0.1.0
 * @category planning
 */
export const plan = (
  files: ReadonlyArray<UpdateFile>,
  host: string,
  port: number,
  offered: ReadonlyArray<Uint8Array>
): UpdatePlan => {
  const known = offered.map(() => false)
  const deprecated: Array<Uint8Array> = []
  let otherName = false
  let complex = false
  const parsed = files.map((f) => KnownHosts.parse(f.text).entries)
  for (const entries of parsed) {
    const mine = new Set(KnownHosts.lookup(entries, host, port))
    for (const e of entries) {
      if (!mine.has(e)) {
        // "Record if one of the keys appears on a non-matching line": the same key under another name.
        if (offered.some((b) => same(e, b))) otherName = true
        continue
      }
      // "Don't proceed if revocation or CA markers are present", nor for wildcard or hand-made host lists.
      if (e.marker !== undefined || isComplexHostField(e.hosts)) {
        complex = true
        continue
      }
      const i = offered.findIndex((b) => same(e, b))
      if (i >= 0) known[i] = true
      else if (!deprecated.some((b) => same(e, b))) deprecated.push(e.blob)
    }
  }
  const fresh = offered.filter((_, i) => !known[i])
  if (fresh.length === 0 && deprecated.length === 0) return { _tag: "Skip", reason: "no new or deprecated keys from server" }
  if (complex) return { _tag: "Skip", reason: "CA/revocation marker, manual host list or wildcard host pattern found" }
  if (otherName) return { _tag: "Skip", reason: "host key found matching a different name/address" }
  // clientloop.c check_old_keys_othernames: a deprecated key still recorded for another name stays everywhere.
  const elsewhere = parsed.some((entries) => {
    const mine = new Set(KnownHosts.lookup(entries, host, port))
    return entries.some((e) => !mine.has(e) && deprecated.some((b) => same(e, b)))
  })
  if (elsewhere) return { _tag: "Skip", reason: "deprecated key(s) exist under other names" }
  return { _tag: "Update", fresh, retained: offered.filter((_, i) => known[i]), deprecated }
}

/**
 * hostfile.c `hostfile_replace_entries`: the file's text with every plain line for the host whose key is not in
 * `keep` removed (`@cert-authority`/`@revoked` lines, other hosts, comments and lines it cannot parse are kept as
 * written), and a line appended for each key of `add` not already there, made by `line`. `undefined` when nothing
 * changes.
 *
 * @since 0.1.0
 * @category formatting
 */
export const rewrite = (
  text: string,
  host: string,
  port: number,
  keep: ReadonlyArray<Uint8Array>,
  add: ReadonlyArray<{ readonly blob: Uint8Array; readonly line: string }>
): string | undefined => {
  const entries = KnownHosts.parse(text).entries
  const mine = new Set(KnownHosts.lookup(entries, host, port).filter((e) => e.marker === undefined).map((e) => e.line))
  const present: Array<Uint8Array> = []
  const lines = text.split("\n")
  if (lines.at(-1) === "") lines.pop()
  const out: Array<string> = []
  let changed = false
  for (let i = 0; i < lines.length; i++) {
    const entry = mine.has(i + 1) ? entries.find((e) => e.line === i + 1) : undefined
    if (entry !== undefined && !keep.some((b) => same(entry, b))) {
      changed = true
      continue
    }
    if (entry !== undefined) present.push(entry.blob)
    out.push(lines[i]!)
  }
  for (const a of add) {
    if (present.some((b) => bytesEqual(a.blob, b))) continue
    out.push(a.line)
    present.push(a.blob)
    changed = true
  }
  return changed ? out.map((l) => `${l}\n`).join("") : undefined
}

/**
 * The key type inside a blob, or "" (for `KnownHosts.formatLine`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const keyTypeOf = (blob: Uint8Array): string => Option.getOrElse(KnownHosts.keyTypeOfBlob(blob), () => "")
