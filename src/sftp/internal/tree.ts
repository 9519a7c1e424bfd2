/**
 * Tree operations of the client built on the single-file ones: makedirs, rmtree, walk, glob.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { SftpError } from "../../SshError.js"
import type { Sftp, WalkEntry } from "../Sftp.js"
import { fileType } from "../SftpAttrs.js"

/** Joins a directory and a name with one "/". */
export const join = (dir: string, name: string): string =>
  dir === "" ? name : dir.endsWith("/") ? dir + name : `${dir}/${name}`

/** mkdir -p. */
export const makedirs = (
  sftp: Sftp,
  path: string,
  options?: { readonly existOk?: boolean | undefined; readonly attrs?: import("../SftpAttrs.js").Attributes | undefined }
): Effect.Effect<void, SftpError> =>
  Effect.gen(function*() {
    const parts = path.split("/")
    let current = path.startsWith("/") ? "/" : ""
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      if (part === "" || part === ".") continue
      current = join(current, part)
      const last = i === parts.length - 1 || parts.slice(i + 1).every((p) => p === "" || p === ".")
      const isDir = yield* sftp.isdir(current)
      if (isDir) {
        if (last && options?.existOk !== true) {
          return yield* Effect.fail(new SftpError({ code: "Failure", operation: "makedirs", path, description: "the directory exists" }))
        }
        continue
      }
      yield* sftp.mkdir(current, options?.attrs ?? {})
    }
  })

/** Every entry below `path`, parents before children; links are not followed. */
export const walk = (sftp: Sftp, path: string): Stream.Stream<WalkEntry, SftpError> =>
  sftp.readdir(path).pipe(
    Stream.filter((e) => e.filename !== "." && e.filename !== ".."),
    Stream.flatMap((e) => {
      const child = join(path, e.filename)
      const here = Stream.succeed<WalkEntry>({ path: child, attrs: e.attrs })
      return fileType(e.attrs) === "directory" ? Stream.concat(here, walk(sftp, child)) : here
    })
  )

/** rm -r without following links. */
export const rmtree = (sftp: Sftp, path: string): Effect.Effect<void, SftpError> =>
  Effect.gen(function*() {
    const a = yield* sftp.lstat(path)
    if (fileType(a) !== "directory") return yield* sftp.remove(path)
    const entries = yield* Stream.runCollect(
      sftp.readdir(path).pipe(Stream.filter((e) => e.filename !== "." && e.filename !== ".."))
    )
    for (const e of entries) yield* rmtree(sftp, join(path, e.filename))
    yield* sftp.rmdir(path)
  })

/** A glob component as a RegExp: `*`, `?`, `[…]` (with `!` or `^` negation); everything else literal. */
export const globToRegExp = (pattern: string): RegExp => {
  let re = "^"
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === "*") re += "[^/]*"
    else if (c === "?") re += "[^/]"
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2)
      if (close < 0) re += "\\["
      else {
        let body = pattern.slice(i + 1, close)
        if (body.startsWith("!") || body.startsWith("^")) body = "^" + body.slice(1)
        re += "[" + body.replace(/\\/g, "\\\\") + "]"
        i = close
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&")
  }
  return new RegExp(re + "$", "s")
}

const hasMagic = (s: string) => /[*?[]/.test(s)

/** Paths matching `pattern`, sorted. */
export const glob = (sftp: Sftp, pattern: string): Effect.Effect<ReadonlyArray<string>, SftpError> =>
  Effect.gen(function*() {
    const absolute = pattern.startsWith("/")
    const parts = pattern.split("/").filter((p) => p !== "")
    let current: Array<string> = [absolute ? "/" : ""]
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      const next: Array<string> = []
      for (const dir of current) {
        if (!hasMagic(part)) {
          const p = join(dir, part)
          if (yield* sftp.exists(p)) next.push(p)
          continue
        }
        const re = globToRegExp(part)
        const names = yield* sftp.listdir(dir === "" ? "." : dir).pipe(
          Effect.catchIf((e) => e.code === "NoSuchFile" || e.code === "PermissionDenied" || e.code === "Failure", () =>
            Effect.succeed([] as ReadonlyArray<string>))
        )
        for (const n of names) {
          if (n.startsWith(".") && !part.startsWith(".")) continue
          if (re.test(n)) next.push(join(dir, n))
        }
      }
      current = next
    }
    return current.filter((p) => p !== "" && p !== "/").sort()
  })
