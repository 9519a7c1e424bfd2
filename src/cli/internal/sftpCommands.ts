/**
 * The commands of `effect-ssh sftp` (OpenSSH sftp's set, as far as SFTP v3 and its extensions go): each takes
 * the session and its words and fails with a `CommandError` whose message is a sentence.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import type { Sftp } from "../../sftp/Sftp.js"
import { fileType } from "../../sftp/SftpAttrs.js"
import type { SftpFileSystem } from "../../sftp/SftpFileSystem.js"
import * as SftpTransfer from "../../sftp/SftpTransfer.js"
import * as Ls from "./sftpLs.js"

/**
 * A command failed; `message` is what is printed.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandError extends Data.TaggedError("CommandError")<{ readonly message: string }> {}

/**
 * The state of an sftp session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly sftp: Sftp
  readonly local: SftpFileSystem
  /** Remote working directory (absolute). */
  cwd: string
  readonly home: string
  /** Local working directory (absolute). */
  lcwd: string
  progress: boolean
  readonly quiet: boolean
  /** -p and -r given on the command line apply to every get/put. */
  readonly preserve: boolean
  readonly recursive: boolean
  readonly onProgress: ((e: SftpTransfer.ProgressEvent) => Effect.Effect<void>) | undefined
  readonly print: (text: string) => Effect.Effect<void>
}

const posix = NodePath.posix
const fail = (message: string) => Effect.fail(new CommandError({ message }))
const remote = (s: Session, p: string) => posix.normalize(p.startsWith("/") ? p : posix.join(s.cwd, p))
const local = (s: Session, p: string) => NodePath.resolve(s.lcwd, p.startsWith("~/") ? p.replace("~", process.env.HOME ?? "~") : p)
const sentence = (e: { readonly message: string }) => new CommandError({ message: e.message })

/** Leading `-xyz` words as a set of letters, and the rest. */
const flags = (words: ReadonlyArray<string>, allowed: string) => {
  const set = new Set<string>()
  let i = 0
  for (; i < words.length && words[i]!.startsWith("-") && words[i] !== "-"; i++) {
    if (words[i] === "--") {
      i++
      break
    }
    for (const c of words[i]!.slice(1)) set.add(c)
  }
  const bad = [...set].find((c) => !allowed.includes(c))
  return { set, rest: words.slice(i), bad }
}

const hasGlob = (p: string) => /[*?[]/.test(p)

/** Remote paths named by `word`, glob-expanded as sftp does. */
const expandRemote = (s: Session, word: string) =>
  hasGlob(word)
    ? Effect.flatMap(Effect.mapError(s.sftp.glob(remote(s, word)), sentence), (found) =>
      found.length === 0 ? fail(`No remote file matches "${word}".`) : Effect.succeed(found))
    : Effect.succeed([remote(s, word)])

const exists = (p: string) => {
  try {
    return NodeFs.statSync(p)
  } catch {
    return undefined
  }
}

const transferOptions = (s: Session, set: ReadonlySet<string>): SftpTransfer.TransferOptions => ({
  recursive: s.recursive || set.has("r") || set.has("R"),
  preserve: s.preserve || set.has("p") || set.has("P"),
  onProgress: s.progress ? s.onProgress : undefined
})

const get = (s: Session, words: ReadonlyArray<string>, resume: boolean) =>
  Effect.gen(function*() {
    const f = flags(words, "aprPRf")
    if (f.bad !== undefined || f.rest.length < 1 || f.rest.length > 2) return yield* fail("usage: get [-afpPr] remote [local]")
    const sources = yield* expandRemote(s, f.rest[0]!)
    const target = f.rest[1] === undefined ? s.lcwd : local(s, f.rest[1])
    const o = transferOptions(s, f.set)
    for (const from of sources) {
      const a = yield* Effect.mapError(s.sftp.stat(from), () => new CommandError({ message: `File "${from}" not found.` }))
      const into = exists(target)?.isDirectory() === true || sources.length > 1
      const to = into ? NodePath.join(target, posix.basename(from)) : target
      if (fileType(a) === "directory" && !o.recursive) return yield* fail(`Cannot download "${from}": it is a directory (use get -r).`)
      if (!s.quiet) yield* s.print(`Fetching ${from} to ${to}\n`)
      // reget / get -a: the library's resume (a partial local file is completed from its length).
      yield* Effect.mapError(SftpTransfer.get(s.sftp, from, s.local, to, { ...o, resume: resume || f.set.has("a") }), sentence)
    }
  })

const put = (s: Session, words: ReadonlyArray<string>, resume: boolean) =>
  Effect.gen(function*() {
    const f = flags(words, "aprPRf")
    if (f.bad !== undefined || f.rest.length < 1 || f.rest.length > 2) return yield* fail("usage: put [-afpPr] local [remote]")
    const from = local(s, f.rest[0]!)
    const st = exists(from)
    if (st === undefined) return yield* fail(`Local file "${from}" not found.`)
    const o = transferOptions(s, f.set)
    if (st.isDirectory() && !o.recursive) return yield* fail(`Cannot upload "${from}": it is a directory (use put -r).`)
    const target = remote(s, f.rest[1] ?? ".")
    const into = f.rest[1] === undefined || (yield* s.sftp.isdir(target).pipe(Effect.orElseSucceed(() => false)))
    const to = into ? posix.join(target, NodePath.basename(from)) : target
    if (!s.quiet) yield* s.print(`Uploading ${from} to ${to}\n`)
    yield* Effect.mapError(SftpTransfer.put(s.sftp, s.local, from, to, { ...o, resume: resume || f.set.has("a") }), sentence)
  })

/** sftp reads the width of the terminal on stdin; 80 when there is none (sftp.c do_ls_dir). */
const terminalWidth = () => (process.stdin.isTTY === true && process.stdout.isTTY === true ? process.stdout.columns : 80)

const ls = (s: Session, words: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const f = flags(words, "1aflhnrSt")
    if (f.bad !== undefined || f.rest.length > 1) return yield* fail("usage: ls [-1afhlnrSt] [path]")
    const word = f.rest[0]
    const paths = yield* expandRemote(s, word ?? ".")
    const format: Ls.LsFormat = {
      one: f.set.has("1"),
      long: f.set.has("l") || f.set.has("n"),
      numeric: f.set.has("n"),
      si: f.set.has("h"),
      width: terminalWidth()
    }
    // A relative argument prints relative names, as sftp strips the working directory.
    const shownPath = (p: string) =>
      word === undefined ? posix.basename(p) : word.startsWith("/") ? p : p.startsWith(s.cwd + "/") ? p.slice(s.cwd.length + 1) : p
    const files: Array<Ls.Shown> = []
    const dirs: Array<string> = []
    for (const p of paths) {
      const a = yield* Effect.mapError(s.sftp.lstat(p), () => new CommandError({ message: `Can't ls: "${p}" not found.` }))
      if (fileType(a) === "directory" && !(hasGlob(word ?? "") && paths.length > 1)) dirs.push(p)
      else files.push({ name: shownPath(p), attrs: a, longname: shownPath(p) })
    }
    if (files.length > 0) {
      const widest = Math.max(...paths.filter((p) => !dirs.includes(p)).map((p) => p.length))
      yield* s.print(yield* Effect.mapError(Ls.render(s.sftp, files, format, widest), sentence))
    }
    for (const p of dirs) {
      const entries = yield* Stream.runCollect(s.sftp.readdir(p)).pipe(Effect.mapError(sentence))
      const shown = [...entries]
        .filter((e) => f.set.has("a") || !e.filename.startsWith("."))
        .sort((x, y) => (x.filename < y.filename ? -1 : x.filename > y.filename ? 1 : 0))
      // -S: largest first, -t: newest first, ties in the server's order (sftp's qsort of the list as it came,
      // glibc's being stable); -f: as the server sent.
      const unsorted = () => [...entries].filter((e) => f.set.has("a") || !e.filename.startsWith("."))
      if (f.set.has("f")) shown.splice(0, shown.length, ...unsorted())
      else if (f.set.has("S")) shown.splice(0, shown.length, ...unsorted().sort((x, y) => Number((y.attrs.size ?? 0n) - (x.attrs.size ?? 0n))))
      else if (f.set.has("t")) shown.splice(0, shown.length, ...unsorted().sort((x, y) => (y.attrs.mtime ?? 0) - (x.attrs.mtime ?? 0)))
      if (f.set.has("r")) shown.reverse()
      const prefix = word === undefined || hasGlob(word) ? "" : `${word.replace(/\/$/, "")}/`
      const list = shown.map((e): Ls.Shown => ({ name: prefix + e.filename, attrs: e.attrs, longname: e.longname }))
      yield* s.print(yield* Effect.mapError(Ls.render(s.sftp, list, format), sentence))
    }
  })

const df = (s: Session, words: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const f = flags(words, "hi")
    if (f.bad !== undefined || f.rest.length > 1) return yield* fail("usage: df [-hi] [path]")
    const v = yield* Effect.mapError(s.sftp.statvfs(remote(s, f.rest[0] ?? ".")), sentence)
    if (f.set.has("i")) {
      const used = v.files - v.ffree
      return yield* s.print(
        `${"Inodes".padStart(12)}${"Used".padStart(12)}${"Avail".padStart(12)}${"(root)".padStart(12)}    %Capacity\n` +
          `${[v.files, used, v.favail, v.ffree].map((n) => String(n).padStart(12)).join("")}${
            String(v.files === 0n ? 0n : (used * 100n) / v.files).padStart(12)
          }%\n`
      )
    }
    const k = (n: bigint) => (n * v.frsize) / 1024n
    const [size, used, avail, root] = [k(v.blocks), k(v.blocks - v.bfree), k(v.bavail), k(v.bfree)]
    const cap = v.blocks === 0n ? 0n : ((v.blocks - v.bfree) * 100n) / v.blocks
    yield* s.print(
      `${"Size".padStart(12)}${"Used".padStart(12)}${"Avail".padStart(12)}${"(root)".padStart(12)}    %Capacity\n` +
        `${[size, used, avail, root].map((n) => String(n).padStart(12)).join("")}${String(cap).padStart(12)}%\n`
    )
  })

const shell = (s: Session, line: string) =>
  Effect.async<void, CommandError>((resume) => {
    const child = spawn(process.env.SHELL ?? "/bin/sh", line.trim() === "" ? [] : ["-c", line], { cwd: s.lcwd, stdio: "inherit" })
    child.once("error", (e) => resume(fail(`Cannot run "${line}": ${e.message}.`)))
    child.once("exit", (code) => resume(code === 0 ? Effect.void : fail(`Local command "${line}" exited with status ${code}.`)))
  })

const arity = (name: string, words: ReadonlyArray<string>, n: number, usage: string) =>
  words.length === n ? Effect.void : fail(`usage: ${name} ${usage}`)

const numeric = (text: string, base: number, what: string) => {
  const n = Number.parseInt(text, base)
  return Number.isNaN(n) || !new RegExp(base === 8 ? "^[0-7]+$" : "^[0-9]+$").test(text)
    ? fail(`Bad ${what} "${text}".`)
    : Effect.succeed(n)
}

/** Local account databases: the id a name has here is the first one asked of the server. */
const localId = (file: string, name: string): number | undefined => {
  try {
    const line = NodeFs.readFileSync(file, "utf8").split("\n").find((l) => l.split(":")[0] === name)
    const id = line === undefined ? Number.NaN : Number(line.split(":")[2])
    return Number.isInteger(id) ? id : undefined
  } catch {
    return undefined
  }
}

/** chown/chgrp take a number, or a name the server knows (users-groups-by-id@openssh.com; OpenSSH's sftp only numbers). */
const ownerId = (s: Session, command: "chown" | "chgrp", word: string) => {
  if (/^[0-9]+$/.test(word)) return numeric(word, 10, command === "chown" ? "uid" : "gid")
  const user = command === "chown"
  const hint = localId(user ? "/etc/passwd" : "/etc/group", word)
  return s.sftp.idsByName(user ? { user: word } : { group: word }, { candidates: hint === undefined ? [] : [hint] }).pipe(
    Effect.map((ids) => (user ? ids.uid : ids.gid) ?? 0),
    Effect.mapError(() => new CommandError({ message: `Unknown ${user ? "user" : "group"} "${word}" on the server.` }))
  )
}

/**
 * The help text, as sftp's `help` prints it (the commands this sftp has).
 *
 * @since 0.1.0
 * @category constants
 */
export const HELP = `Available commands:
bye                                Quit sftp
cd [path]                          Change remote directory to 'path'
chgrp grp path                     Change group of file 'path' to 'grp' (number or name)
chmod mode path                    Change permissions of file 'path' to 'mode' (octal)
chown own path                     Change owner of file 'path' to 'own' (number or name)
df [-hi] [path]                    Display statistics for current directory or filesystem containing 'path'
exit                               Quit sftp
get [-afpr] remote [local]         Download file
help                               Display this help text
lcd path                           Change local directory to 'path'
lls [ls-options [path]]            Display local directory listing
lmkdir path                        Create local directory
ln [-s] oldpath newpath            Link remote file (-s for symlink)
lpwd                               Print local working directory
ls [-1afhlnrSt] [path]             Display remote directory listing
mkdir path                         Create remote directory
progress                           Toggle display of progress meter
put [-afpr] local [remote]         Upload file
pwd                                Display remote working directory
quit                               Quit sftp
reget [-fpr] remote [local]        Resume download file
rename oldpath newpath             Rename remote file
reput [-fpr] local [remote]        Resume upload file
rm path                            Delete remote file
rmdir path                         Remove remote directory
symlink oldpath newpath            Symlink remote file
version                            Show SFTP version
!command                           Execute 'command' in local shell
!                                  Escape to local shell
?                                  Synonym for help
`

/**
 * Runs one command line (without a `-`/`@` prefix); succeeds with `"exit"` for bye/exit/quit.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (s: Session, line: string, words: ReadonlyArray<string>): Effect.Effect<"exit" | void, CommandError> => {
  if (line.startsWith("!")) return shell(s, line.slice(1))
  const [name, ...args] = words
  const sftp = s.sftp
  const one = <A>(e: Effect.Effect<A, { readonly message: string }>) => Effect.asVoid(Effect.mapError(e, sentence))
  switch (name) {
    case undefined:
      return Effect.void
    case "bye":
    case "exit":
    case "quit":
      return Effect.succeed("exit" as const)
    case "help":
    case "?":
      return s.print(HELP)
    case "version":
      return s.print(`SFTP protocol version ${sftp.version}\n`)
    case "progress":
      s.progress = !s.progress
      return s.print(`Progress meter ${s.progress ? "enabled" : "disabled"}\n`)
    case "pwd":
      return s.print(`Remote working directory: ${s.cwd}\n`)
    case "lpwd":
      return s.print(`Local working directory: ${s.lcwd}\n`)
    case "cd": {
      const to = args[0] === undefined ? s.home : remote(s, args[0])
      return Effect.flatMap(Effect.mapError(sftp.realpath(to), sentence), (real) =>
        Effect.flatMap(Effect.mapError(sftp.stat(real), () => new CommandError({ message: `Can't change directory: "${to}" not found.` })), (a) => {
          if (fileType(a) !== "directory") return fail(`Can't change directory: "${to}" is not a directory.`)
          s.cwd = real
          return Effect.void
        }))
    }
    case "lcd": {
      const to = local(s, args[0] ?? process.env.HOME ?? "/")
      if (exists(to)?.isDirectory() !== true) return fail(`Couldn't change local directory to "${to}": not a directory.`)
      s.lcwd = to
      return Effect.void
    }
    case "lls":
      return shell(s, ["ls", ...args.map((a) => `'${a.replace(/'/g, "'\\''")}'`)].join(" "))
    case "lmkdir":
      return Effect.flatMap(arity(name, args, 1, "path"), () =>
        Effect.try({ try: () => NodeFs.mkdirSync(local(s, args[0]!)), catch: (e) => new CommandError({ message: `Couldn't create local directory "${args[0]}": ${String(e)}.` }) }))
    case "ls":
    case "dir":
      return ls(s, args)
    case "get":
    case "reget":
      return get(s, args, name === "reget")
    case "put":
    case "reput":
      return put(s, args, name === "reput")
    case "rename":
      return Effect.flatMap(arity(name, args, 2, "oldpath newpath"), () =>
        one(sftp.extensions.has("posix-rename@openssh.com")
          ? sftp.posixRename(remote(s, args[0]!), remote(s, args[1]!))
          : sftp.rename(remote(s, args[0]!), remote(s, args[1]!))))
    case "ln":
    case "symlink": {
      const f = flags(args, "s")
      if (f.bad !== undefined || f.rest.length !== 2) return fail(`usage: ${name === "ln" ? "ln [-s]" : "symlink"} oldpath newpath`)
      // A symbolic link's target is stored as written (relative to the link), as sftp does.
      return name === "symlink" || f.set.has("s")
        ? one(sftp.symlink(f.rest[0]!, remote(s, f.rest[1]!)))
        : one(sftp.link(remote(s, f.rest[0]!), remote(s, f.rest[1]!)))
    }
    case "rm":
      return Effect.flatMap(arity(name, args, 1, "path"), () =>
        Effect.flatMap(expandRemote(s, args[0]!), (ps) => Effect.forEach(ps, (p) => one(sftp.remove(p)), { discard: true })))
    case "mkdir":
      return Effect.flatMap(arity(name, args, 1, "path"), () => one(sftp.mkdir(remote(s, args[0]!))))
    case "rmdir":
      return Effect.flatMap(arity(name, args, 1, "path"), () => one(sftp.rmdir(remote(s, args[0]!))))
    case "chmod":
      return Effect.flatMap(arity(name, args, 2, "mode path"), () =>
        Effect.flatMap(numeric(args[0]!, 8, "mode"), (mode) =>
          Effect.flatMap(expandRemote(s, args[1]!), (ps) => Effect.forEach(ps, (p) => one(sftp.chmod(p, mode)), { discard: true }))))
    case "chown":
    case "chgrp":
      return Effect.flatMap(arity(name, args, 2, name === "chown" ? "own path" : "grp path"), () =>
        Effect.flatMap(ownerId(s, name, args[0]!), (id) =>
          Effect.flatMap(expandRemote(s, args[1]!), (ps) =>
            Effect.forEach(ps, (p) =>
              Effect.flatMap(Effect.mapError(sftp.stat(p), sentence), (a) =>
                one(sftp.chown(p, name === "chown" ? id : a.uid ?? 0, name === "chgrp" ? id : a.gid ?? 0))), { discard: true }))))
    case "df":
      return df(s, args)
    default:
      return fail(`Invalid command "${name}" (help lists the commands).`)
  }
}

/**
 * Splits a command line into words as sftp does: spaces separate, quotes group, a backslash escapes.
 *
 * @since 0.1.0
 * @category parsing
 */
export const words = (line: string): ReadonlyArray<string> | undefined => {
  const out: Array<string> = []
  let word: string | undefined
  let quote: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote !== undefined) {
      if (c === quote) quote = undefined
      else if (c === "\\" && quote === "\"" && i + 1 < line.length) word += line[++i]!
      else word += c
    } else if (c === "'" || c === "\"") {
      quote = c
      word ??= ""
    } else if (c === "\\" && i + 1 < line.length) word = (word ?? "") + line[++i]!
    else if (c === " " || c === "\t") {
      if (word !== undefined) out.push(word)
      word = undefined
    } else word = (word ?? "") + c
  }
  if (quote !== undefined) return undefined
  if (word !== undefined) out.push(word)
  return out
}
