/**
 * authorized_keys files on the local filesystem as sshd reads them: a path template with `%u` (the user name)
 * and `%h` (the user's home directory from /etc/passwd), read again at every attempt so edits apply at once,
 * with sshd's StrictModes-style checks (SEC-64): a symlink, a non-regular file, or a file writable by group or
 * others authorises nothing.
 *
 * @example
 * ```ts
 * import { NodeAuthorizedKeys } from "effect-ssh/node"
 *
 * const auth = { publicKey: NodeAuthorizedKeys.file("%h/.ssh/authorized_keys") }
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import type * as ServerAuth from "../auth/ServerAuth.js"
import * as AuthorizedKeys from "../keys/AuthorizedKeys.js"
import * as AuthorizedKeysHandler from "../server/AuthorizedKeysHandler.js"

/**
 * Options of `file`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileOptions {
  /** Refuse files that are symlinks, not regular, or writable by group/others (default true, as sshd). */
  readonly strictModes?: boolean | undefined
  /** Where home directories come from for `%h`; default /etc/passwd. */
  readonly passwd?: string | undefined
}

/**
 * SEC-64: a user name that could leave the directory it is put in (`/`, `\`, `..`, NUL, empty) is refused
 * before any file is touched.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSafeUsername = (username: string): boolean =>
  username !== "" && !username.includes("/") && !username.includes("\\") && !username.includes("..") &&
  !username.includes("\0") && username !== "."

const homeOf = (passwd: string, username: string): string | undefined => {
  for (const line of fs.readFileSync(passwd, "utf8").split("\n")) {
    const f = line.split(":")
    if (f[0] === username && f.length >= 7) return f[5]
  }
  return undefined
}

/**
 * Expands `%u`, `%h` and `%%` in `template` for `username`; undefined when the name is unsafe or has no home.
 *
 * @since 0.1.0
 * @category utils
 */
export const expand = (template: string, username: string, options: FileOptions = {}): string | undefined => {
  if (!isSafeUsername(username)) return undefined
  let failed = false
  const out = template.replace(/%([%uh])/g, (_, c: string) => {
    if (c === "%") return "%"
    if (c === "u") return username
    const home = homeOf(options.passwd ?? "/etc/passwd", username)
    if (home === undefined) failed = true
    return home ?? ""
  })
  return failed ? undefined : out
}

/**
 * A publickey handler that reads the authorized_keys file of `template` (for example
 * `%h/.ssh/authorized_keys`) at every attempt and accepts its keys with their options
 * (`AuthorizedKeysHandler`). A missing or unsafe file refuses.
 *
 * @since 0.1.0
 * @category constructors
 */
export const file = (
  template: string,
  options: FileOptions = {}
): (request: ServerAuth.PublicKeyRequest) => Effect.Effect<ServerAuth.PublicKeyDecision> =>
(request) =>
  Effect.gen(function*() {
    const read = yield* Effect.try(() => {
      const path = expand(template, request.username, options)
      if (path === undefined) return { path: template, text: undefined, why: "unsafe user name or no home directory" }
      const st = fs.lstatSync(path)
      if (options.strictModes !== false && (!st.isFile() || (st.mode & 0o022) !== 0)) {
        return { path, text: undefined, why: "not a regular file, or writable by group or others" }
      }
      return { path, text: fs.readFileSync(path, "utf8"), why: "" }
    }).pipe(Effect.orElseSucceed(() => ({ path: template, text: undefined, why: "cannot be read" })))
    if (read.text === undefined) {
      yield* Effect.logDebug(`authorized_keys ${read.path} for ${request.username}: ${read.why}; refused`)
      return false
    }
    const parsed = AuthorizedKeys.parse(read.text)
    for (const e of parsed.errors) yield* Effect.logDebug(`${read.path}:${e.line}: ${e.message}; line ignored`)
    return yield* AuthorizedKeysHandler.make(parsed.entries)(request)
  })
