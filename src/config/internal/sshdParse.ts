/**
 * The structure of sshd_config(5): Match blocks and Include, flattened into entries that each carry the Match
 * conditions under which they apply (openssh servconf.c `parse_server_config_depth`: an included file starts in
 * the includer's Match state and cannot leak its own Match blocks back).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Match from "../../keys/Match.js"
import * as Keywords from "./sshdKeywords.js"
import * as Lexer from "./sshdLexer.js"

/** One Match criterion (sshd_config(5) "Match"). */
export interface Criterion {
  readonly attribute: "all" | "user" | "group" | "host" | "address" | "localaddress" | "localport" | "rdomain"
  readonly pattern: string
}

/** One applied or ignored line, with the Match blocks that enclose it (all must hold; none = global). */
export interface Entry {
  readonly keyword: Keywords.Keyword
  readonly args: ReadonlyArray<string>
  readonly file: string
  readonly line: number
  readonly conditions: ReadonlyArray<ReadonlyArray<Criterion>>
}

/** A parse error at a place in a file. */
export interface ParseFailure {
  readonly file: string
  readonly line: number
  readonly message: string
}

/** The files an `Include` pattern names, read by the caller (glob expansion and IO are not pure). */
export type IncludeReader = (
  pattern: string
) => Either.Either<ReadonlyArray<{ readonly path: string; readonly text: string }>, string>

/** Include nesting allowed (openssh servconf.c SERVCONF_MAX_DEPTH). */
export const MAX_DEPTH = 16

const ATTRIBUTES: ReadonlySet<string> = new Set([
  "user", "group", "host", "address", "localaddress", "localport", "rdomain"
])

/** Parses the arguments of a Match line into criteria (openssh servconf.c `match_cfg_line`). */
export const parseCriteria = (args: ReadonlyArray<string>): Either.Either<ReadonlyArray<Criterion>, string> => {
  if (args.length === 1 && args[0]!.toLowerCase() === "all") return Either.right([{ attribute: "all", pattern: "" }])
  if (args.length === 0) return Either.left("missing Match criteria")
  const out: Array<Criterion> = []
  for (let i = 0; i < args.length; i += 2) {
    const attribute = args[i]!.toLowerCase()
    if (attribute === "all") return Either.left("'all' cannot be combined with other Match attributes")
    if (!ATTRIBUTES.has(attribute)) return Either.left(`Unsupported Match attribute ${args[i]}`)
    const pattern = args[i + 1]
    if (pattern === undefined || pattern === "") return Either.left(`Missing Match criteria for ${args[i]}`)
    if (pattern.length > Match.MAX_LENGTH) return Either.left(`Match pattern longer than ${Match.MAX_LENGTH}`)
    if (attribute === "localport" && Lexer.integer(pattern) === undefined) {
      return Either.left(`Invalid LocalPort '${pattern}' on Match line`)
    }
    if ((attribute === "address" || attribute === "localaddress") && Match.addressList("0.0.0.0", pattern) === "invalid") {
      return Either.left(`Invalid Match address argument '${pattern}'`)
    }
    out.push({ attribute: attribute as Criterion["attribute"], pattern })
  }
  return Either.right(out)
}

interface State {
  readonly entries: Array<Entry>
  readonly subsystems: Set<string>
  readonly include: IncludeReader | undefined
}

const parseFile = (
  state: State,
  file: string,
  text: string,
  outer: ReadonlyArray<ReadonlyArray<Criterion>>,
  depth: number
): ParseFailure | undefined => {
  if (depth > MAX_DEPTH) return { file, line: 0, message: `Include nested deeper than ${MAX_DEPTH}` }
  const lines = Lexer.lines(text)
  if (Either.isLeft(lines)) return { file, ...lines.left }
  let conditions = outer
  for (const { args, keyword: word, line } of lines.right) {
    const fail = (message: string): ParseFailure => ({ file, line, message })
    const lower = word.toLowerCase()
    if (lower === "match") {
      const criteria = parseCriteria(args)
      if (Either.isLeft(criteria)) return fail(criteria.left)
      conditions = [...outer, criteria.right]
      continue
    }
    if (lower === "include") {
      if (state.include === undefined) return fail("Include needs a file reader")
      for (const pattern of args) {
        const files = state.include(pattern)
        if (Either.isLeft(files)) return fail(`Include ${pattern}: ${files.left}`)
        for (const f of files.right) {
          const err = parseFile(state, f.path, f.text, conditions, depth + 1)
          if (err !== undefined) return err
        }
      }
      continue
    }
    if (Keywords.DEPRECATED.has(lower)) continue
    const keyword = Keywords.lookup(word)
    if (keyword === undefined) return fail(`Bad configuration option: ${word}`)
    if (conditions.length > 0 && !keyword.inMatch) return fail(`Directive '${word}' is not allowed within a Match block`)
    const checked = keyword.check(args)
    if (Either.isLeft(checked)) return fail(`${word}: ${checked.left}`)
    if (keyword.name === "subsystem") {
      // openssh 9.2 servconf.c: a name may be defined once.
      const name = checked.right[0]!
      if (state.subsystems.has(name)) return fail(`Subsystem '${name}' already defined.`)
      state.subsystems.add(name)
    }
    state.entries.push({ keyword, args: checked.right, file, line, conditions })
  }
  return undefined
}

/** Every entry of `text` (and the files it includes), in order. */
export const parse = (
  text: string,
  file: string,
  include: IncludeReader | undefined
): Either.Either<ReadonlyArray<Entry>, ParseFailure> => {
  const state: State = { entries: [], subsystems: new Set(), include }
  const err = parseFile(state, file, text, [], 0)
  return err === undefined ? Either.right(state.entries) : Either.left(err)
}
