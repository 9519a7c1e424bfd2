/**
 * The `ls -l` style longname of a NAME entry (filexfer-02 §7), as OpenSSH's sftp-server formats it: display only.
 *
 * @internal
 */
import { type Attributes, FileType } from "../SftpAttrs.js"

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

const TYPE_CHARS: Readonly<Record<number, string>> = {
  [FileType.DIR]: "d",
  [FileType.LNK]: "l",
  [FileType.CHR]: "c",
  [FileType.BLK]: "b",
  [FileType.FIFO]: "p",
  [FileType.SOCK]: "s",
  [FileType.REG]: "-"
}

/** `drwxr-xr-x` from st_mode. */
export const modeString = (mode: number): string => {
  let s = TYPE_CHARS[mode & FileType.MASK] ?? "?"
  const rwx = (bits: number, special: number, ch: string) =>
    (bits & 4 ? "r" : "-") + (bits & 2 ? "w" : "-") +
    (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? "x" : "-")
  s += rwx((mode >> 6) & 7, mode & 0o4000, "s")
  s += rwx((mode >> 3) & 7, mode & 0o2000, "s")
  s += rwx(mode & 7, mode & 0o1000, "t")
  return s
}

/** A longname: mode, links, owner, group, size, date, name. */
export const longname = (name: string, a: Attributes): string => {
  const d = new Date((a.mtime ?? 0) * 1000)
  const date = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`
  return `${modeString(a.permissions ?? 0)}    1 ${String(a.uid ?? 0).padEnd(8)} ${String(a.gid ?? 0).padEnd(8)} ${String(a.size ?? 0n).padStart(8)} ${date} ${name}`
}
