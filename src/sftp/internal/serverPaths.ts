/**
 * Virtual-root path handling of the SFTP server (SEC-54): client paths are POSIX paths in a virtual tree whose
 * top is "/"; `.`/`..` are normalised lexically and cannot rise above "/"; symbolic links are resolved component by
 * component inside the tree (an absolute target means the virtual root, as under chroot), so no path, link or
 * `..` reaches outside. A path that would be outside is simply a path inside that does not exist.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { SftpError } from "../../SshError.js"
import { FileType } from "../SftpAttrs.js"
import type { SftpFileSystem } from "../SftpFileSystem.js"

/** LIM-29: client paths are at most 4 096 bytes. */
export const MAX_PATH = 4096
/** ELOOP: links followed while resolving one path (Linux MAXSYMLINKS is 40). */
const MAX_LINKS = 32

const utf8 = new TextEncoder()

/** Normalises `path` against `cwd` into components; undefined for a NUL or an over-long path. */
export const normalize = (path: string, cwd: ReadonlyArray<string> = []): Array<string> | undefined => {
  if (path.includes("\0") || utf8.encode(path).length > MAX_PATH) return undefined
  const out = path.startsWith("/") ? [] : [...cwd]
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") out.pop()
    else out.push(part)
  }
  return out
}

/** Components to a virtual path. */
export const toPath = (parts: ReadonlyArray<string>): string => "/" + parts.join("/")

const invalid = (operation: string, path: string) =>
  new SftpError({ code: "NoSuchFile", operation, path, description: "No such file" })

/**
 * Resolves `path` to a virtual path free of symbolic links: each component is lstat-ed and a link replaced by
 * its target; `followFinal` says whether a link in the last component is followed. Components that do not exist
 * are kept as they are (the operation then fails or creates them).
 */
export const resolve = (
  fs: SftpFileSystem,
  path: string,
  cwd: ReadonlyArray<string>,
  followFinal: boolean,
  operation: string
): Effect.Effect<string, SftpError> =>
  Effect.gen(function*() {
    const start = normalize(path, cwd)
    if (start === undefined) return yield* Effect.fail(invalid(operation, path))
    let pending = start
    let done: Array<string> = []
    let links = 0
    while (pending.length > 0) {
      const [part, ...rest] = pending
      const candidate = [...done, part!]
      if (rest.length === 0 && !followFinal) {
        done = candidate
        break
      }
      const attrs = yield* Effect.option(fs.lstat(toPath(candidate)))
      if (attrs._tag === "None") {
        // Missing from here on: nothing below can be a link.
        done = [...candidate, ...rest]
        break
      }
      if (((attrs.value.permissions ?? 0) & FileType.MASK) !== FileType.LNK) {
        done = candidate
        pending = rest
        continue
      }
      if (++links > MAX_LINKS) {
        return yield* Effect.fail(new SftpError({ code: "Failure", operation, path, description: "Too many levels of symbolic links" }))
      }
      const target = yield* fs.readlink(toPath(candidate))
      // An absolute target is absolute in the virtual tree (chroot semantics); a relative one is from the link's
      // directory. Either way the result is normalised again, so `..` stops at "/".
      const next = normalize(target + "/" + rest.join("/"), done)
      if (next === undefined) return yield* Effect.fail(invalid(operation, path))
      done = []
      pending = next
    }
    return toPath(done)
  })
