/**
 * The lexical layer of sshd_config(5): lines, `Keyword value` / `Keyword=value`, comments, quoting (openssh
 * misc.c `argv_split` with comment termination), and the value converters sshd uses (`convtime`, `scan_scaled`,
 * yes/no flags).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"

/** One non-empty, non-comment line: its keyword as written and its arguments, unquoted. */
export interface Line {
  readonly keyword: string
  readonly args: ReadonlyArray<string>
  readonly line: number
}

/** Lines longer than this are refused (sshd reads with a 16 KiB limit per line too). */
export const MAX_LINE = 16 * 1024

/** Arguments per line (openssh misc.c `argv_split` allows 256). */
export const MAX_ARGS = 256

/**
 * Splits `text` like openssh `argv_split(…, terminate_on_comment = 1)`: whitespace separates, `"…"` and `'…'`
 * quote, a backslash escapes a quote, a backslash or (outside quotes) a space; `#` at the start of an argument
 * ends the line.
 */
export const splitArgs = (text: string): Either.Either<ReadonlyArray<string>, string> => {
  const out: Array<string> = []
  let i = 0
  while (i < text.length) {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++
    if (i >= text.length || text[i] === "#") break
    let arg = ""
    let quote: string | undefined
    for (; i < text.length; i++) {
      const c = text[i]!
      if (quote === undefined && (c === " " || c === "\t")) break
      const next = text[i + 1]
      if (c === "\\" && (next === "'" || next === "\"" || next === "\\" || (quote === undefined && next === " "))) {
        arg += next
        i++
      } else if (quote === undefined && (c === "\"" || c === "'")) {
        quote = c
      } else if (quote === c) {
        quote = undefined
      } else {
        arg += c
      }
    }
    if (quote !== undefined) return Either.left("invalid quotes")
    if (out.length >= MAX_ARGS) return Either.left(`more than ${MAX_ARGS} arguments`)
    out.push(arg)
  }
  return Either.right(out)
}

/**
 * The meaningful lines of a file, or the first error as `line N: message`. The keyword ends at whitespace or at
 * one `=` (openssh misc.c `strdelim`).
 */
export const lines = (text: string): Either.Either<ReadonlyArray<Line>, { line: number; message: string }> => {
  const out: Array<Line> = []
  const raw = text.split("\n")
  for (let n = 0; n < raw.length; n++) {
    const line = raw[n]!.replace(/[\s\f\r]+$/, "")
    if (line.length > MAX_LINE) return Either.left({ line: n + 1, message: `line longer than ${MAX_LINE} bytes` })
    if (line.includes("\0")) return Either.left({ line: n + 1, message: "NUL byte in line" })
    const m = /^[ \t]*([^ \t=]*)(?:[ \t]*=[ \t]*|[ \t]+|$)(.*)$/.exec(line)
    const keyword = m?.[1] ?? ""
    if (keyword === "" || keyword.startsWith("#")) continue
    const rest = m?.[2] ?? ""
    if (rest.trim() === "") return Either.left({ line: n + 1, message: `no argument after keyword "${keyword}"` })
    const args = splitArgs(rest)
    if (Either.isLeft(args)) return Either.left({ line: n + 1, message: args.left })
    if (args.right.length === 0) {
      return Either.left({ line: n + 1, message: `no argument after keyword "${keyword}"` })
    }
    out.push({ keyword, args: args.right, line: n + 1 })
  }
  return Either.right(out)
}

const TIME_UNITS: Readonly<Record<string, number>> = { "": 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }

/** openssh misc.c `convtime`: `90`, `1h30m`, `2w` → seconds; undefined when malformed or too large. */
export const seconds = (text: string): number | undefined => {
  if (text === "" || !/^(\d+[smhdwSMHDW]?)+$/.test(text)) return undefined
  let total = 0
  for (const [, n, unit] of text.matchAll(/(\d+)([smhdwSMHDW]?)/g)) {
    total += Number(n) * TIME_UNITS[unit!.toLowerCase()]!
  }
  return total <= 0x7fffffff ? total : undefined
}

const SCALE: Readonly<Record<string, number>> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }

/** openssh `scan_scaled`: `512`, `1G`, `64M` → bytes. */
export const bytes = (text: string): number | undefined => {
  const m = /^(\d+)([KMGTkmgt]?)$/.exec(text)
  if (m === null) return undefined
  const v = Number(m[1]) * SCALE[m[2]!.toUpperCase()]!
  return Number.isSafeInteger(v) ? v : undefined
}

/** A non-negative decimal integer (sshd's `atoi` checks, stricter: no trailing text). */
export const integer = (text: string): number | undefined =>
  /^\d{1,9}$/.test(text) ? Number(text) : undefined

/** The yes/no flags of sshd (`multistate_flag`): exactly "yes" or "no", any case. */
export const flag = (text: string): boolean | undefined => {
  const t = text.toLowerCase()
  return t === "yes" ? true : t === "no" ? false : undefined
}
