/**
 * The `ls -l` style longname of a NAME entry (filexfer-02 §7), as OpenSSH's sftp-server formats it: display only.
 *
 * @internal
 */
import { type Attributes, modeString } from "../SftpAttrs.js"

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/** A longname: mode, links, owner, group, size, date, name. */
export const longname = (name: string, a: Attributes): string => {
  const d = new Date((a.mtime ?? 0) * 1000)
  const date = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`
  return `${modeString(a.permissions ?? 0)}    1 ${String(a.uid ?? 0).padEnd(8)} ${String(a.gid ?? 0).padEnd(8)} ${String(a.size ?? 0n).padStart(8)} ${date} ${name}`
}
