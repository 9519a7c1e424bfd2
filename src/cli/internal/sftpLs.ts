/**
 * `ls` of `effect-ssh sftp`, printed as OpenSSH's sftp prints it (sftp.c do_ls_dir, sftp-common.c ls_file): short
 * names in columns as wide as the terminal (80 when stdin is not one), `-1` one per line; `-l` as `ls_file` formats
 * it with the server's user and group names (users-groups-by-id@openssh.com) when it has them, else the server's
 * longname (with `-n` or `-h`: ls_file with numeric ids); `-h` sizes in SI units.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { Sftp } from "../../sftp/Sftp.js"
import { type Attributes, modeString } from "../../sftp/SftpAttrs.js"
import type { SftpError } from "../../SshError.js"

/**
 * One name to print: what is shown (with the directory prefix sftp adds) and its attributes and longname.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shown {
  readonly name: string
  readonly attrs: Attributes
  readonly longname: string
}

/**
 * How `ls` prints: `-1`, `-l`, `-n`, `-h`, and the terminal's width.
 *
 * @since 0.1.0
 * @category models
 */
export interface LsFormat {
  readonly one: boolean
  readonly long: boolean
  readonly numeric: boolean
  readonly si: boolean
  readonly width: number
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
/** strftime "%b %e %H:%M" within the last half year, else "%b %e  %Y" (local time, as ls_file). */
const dateString = (mtime: number, now: number): string => {
  const d = new Date(mtime * 1000)
  const day = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)}`
  return now - (365 * 24 * 60 * 60) / 2 < mtime && now >= mtime
    ? `${day} ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`
    : `${day}  ${d.getFullYear()}`
}

/** fmt_scaled(3) as OpenSSH's sftp shows it: 1023B, 1.0K, 10.3K, 100K, 1024K, 4.8M, 118M. */
const scaled = (n: bigint): string => {
  const units = ["B", "K", "M", "G", "T", "P", "E"]
  let u = 0
  while (u < units.length - 1 && n >= 1024n ** BigInt(u + 1)) u++
  if (u === 0) return `${n}B`
  const v = Number(n) / 1024 ** u
  return v < 100 ? `${(Math.round(v * 10) / 10).toFixed(1)}${units[u]}` : `${Math.round(v)}${units[u]}`
}

/**
 * One `ls -l` line as sftp-common.c ls_file makes it for a remote file ("?" links).
 *
 * @since 0.1.0
 * @category formatting
 */
export const lsFile = (name: string, a: Attributes, user: string | undefined, group: string | undefined, si: boolean, now = Date.now() / 1000): string => {
  const u = user ?? String(a.uid ?? 0)
  const g = group ?? String(a.gid ?? 0)
  const size = si ? scaled(a.size ?? 0n) : String(a.size ?? 0n)
  return `${modeString(a.permissions ?? 0)}  ${"?".padStart(3)} ${u.padEnd(8)} ${g.padEnd(8)} ${size.padStart(8)} ${dateString(a.mtime ?? 0, now)} ${name}`
}

/**
 * Short names in columns (sftp.c do_ls_dir): each padded to `width / columns`, a newline after each row. The
 * column width comes from the longest name, or `nameWidth` (sftp measures glob matches by their full paths).
 *
 * @since 0.1.0
 * @category formatting
 */
export const columns = (names: ReadonlyArray<string>, width: number, nameWidth?: number): string => {
  if (names.length === 0) return ""
  const m = nameWidth ?? Math.max(...names.map((n) => n.length))
  const cols = Math.max(1, Math.floor(width / (m + 2)))
  const colspace = Math.min(Math.floor(width / cols), width)
  let out = ""
  let c = 1
  for (const n of names) {
    out += n.padEnd(colspace)
    if (c >= cols) {
      out += "\n"
      c = 1
    } else c++
  }
  return c !== 1 ? out + "\n" : out
}

/**
 * The text `ls` prints for `shown` (already filtered and sorted).
 *
 * @since 0.1.0
 * @category formatting
 */
export const render = (
  sftp: Sftp,
  shown: ReadonlyArray<Shown>,
  f: LsFormat,
  nameWidth?: number
): Effect.Effect<string, SftpError> =>
  Effect.gen(function*() {
    if (!f.long) return f.one ? shown.map((s) => `${s.name}\n`).join("") : columns(shown.map((s) => s.name), f.width, nameWidth)
    const names = sftp.extensions.has("users-groups-by-id@openssh.com")
    if (!f.numeric && !f.si && !names) return shown.map((s) => `${s.longname}\n`).join("")
    const users = new Map<number, string>()
    const groups = new Map<number, string>()
    // OpenSSH 9.2's sftp shows the server's names whenever it has them, even with -n.
    if (names) {
      const uids = [...new Set(shown.map((s) => s.attrs.uid ?? 0))].slice(0, 1024)
      const gids = [...new Set(shown.map((s) => s.attrs.gid ?? 0))].slice(0, 1024)
      const r = yield* Effect.orElseSucceed(sftp.usersGroupsById(uids, gids), () => ({ users: [], groups: [] }))
      uids.forEach((id, i) => r.users[i] && users.set(id, r.users[i]!))
      gids.forEach((id, i) => r.groups[i] && groups.set(id, r.groups[i]!))
    }
    return shown.map((s) =>
      `${lsFile(s.name, s.attrs, users.get(s.attrs.uid ?? 0), groups.get(s.attrs.gid ?? 0), f.si)}\n`
    ).join("")
  })
