/**
 * Which of our key exchange methods the installed OpenSSH implements, asked at run time with `ssh -Q kex`
 * (sshd and ssh of one installation share the list). OpenSSH 9.2 has the sntrup761 hybrids but not
 * mlkem768x25519-sha256 (added in 9.9); the interop loops run what OpenSSH has and print what they could not
 * check, instead of hard-coding a skip.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import { SSH } from "./OpenSsh.js"

/** The names `ssh -Q kex` prints, or an empty set without OpenSSH. */
export const opensshKex = (): ReadonlySet<string> =>
  fs.existsSync(SSH) ? new Set(execFileSync(SSH, ["-Q", "kex"]).toString().split("\n").filter((l) => l !== "")) : new Set()

/** Our key exchange methods split into those OpenSSH can check and those it cannot; the latter are printed. */
export const kexAgainstOpenSsh = (
  role: string
): { readonly checked: ReadonlyArray<Algorithms.KexName>; readonly unchecked: ReadonlyArray<Algorithms.KexName> } => {
  const theirs = opensshKex()
  const checked = Algorithms.KEX.filter((k) => theirs.has(k))
  const unchecked = Algorithms.KEX.filter((k) => !theirs.has(k))
  if (theirs.size > 0 && unchecked.length > 0) {
    console.warn(`[interop ${role}] not checked against OpenSSH (absent from \`ssh -Q kex\`): ${unchecked.join(", ")}`)
  }
  return { checked, unchecked }
}
