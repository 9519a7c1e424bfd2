/**
 * ssh_config(5) line splitting as OpenSSH 9.2 does it (readconf.c process_config_line_depth, misc.c strdelim
 * and argv_split): the keyword ends at whitespace or one `=`; the arguments are split on blanks with `"` and `'`
 * quotes and `\` escapes; a `#` at the start of an argument ends the line.
 *
 * @since 0.1.0
 */

/**
 * One meaningful line: the keyword in lower case, its arguments, and the raw remainder (ProxyCommand and the
 * other command keywords take it whole).
 *
 * @since 0.1.0
 * @category models
 */
export interface RawLine {
  readonly keyword: string
  readonly args: ReadonlyArray<string>
  readonly rest: string
}

const WHITESPACE = " \t\r\n"

/**
 * Splits a line; `undefined` for blank lines and comments, a string for an error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const splitLine = (input: string): RawLine | undefined | string => {
  // Trailing whitespace (and a form feed at the end of the line) is ignored.
  const line = input.replace(/[ \t\r\n\f]+$/, "")
  let i = 0
  while (i < line.length && WHITESPACE.includes(line[i]!)) i++
  if (i >= line.length || line[i] === "#") return undefined
  const start = i
  while (i < line.length && !WHITESPACE.includes(line[i]!) && line[i] !== "=" && line[i] !== "\"") i++
  const keyword = line.slice(start, i).toLowerCase()
  if (keyword === "") return "missing keyword"
  // One `=` may separate the keyword from its value, with blanks on either side (strdelim).
  while (i < line.length && WHITESPACE.includes(line[i]!)) i++
  if (line[i] === "=") i++
  while (i < line.length && WHITESPACE.includes(line[i]!)) i++
  const rest = line.slice(i)
  if (rest === "") return `no argument after keyword "${keyword}"`
  const args = splitArgs(rest, true)
  if (args === undefined) return "invalid quotes"
  return { keyword, args, rest }
}

/**
 * misc.c argv_split: blank-separated words with quotes and escapes; `undefined` on an unterminated quote.
 *
 * @since 0.1.0
 * @category constructors
 */
export const splitArgs = (s: string, terminateOnComment: boolean): Array<string> | undefined => {
  const out: Array<string> = []
  let i = 0
  while (i < s.length) {
    if (s[i] === " " || s[i] === "\t") {
      i++
      continue
    }
    if (terminateOnComment && s[i] === "#") break
    let quote = ""
    let arg = ""
    for (; i < s.length; i++) {
      const c = s[i]!
      if (c === "\\") {
        const n = s[i + 1]
        if (n === "'" || n === "\"" || n === "\\" || (quote === "" && n === " ")) {
          i++
          arg += n
        } else arg += c
      } else if (quote === "" && (c === " " || c === "\t")) break
      else if (quote === "" && (c === "\"" || c === "'")) quote = c
      else if (quote !== "" && c === quote) quote = ""
      else arg += c
    }
    if (quote !== "") return undefined
    out.push(arg)
  }
  return out
}

/**
 * misc.c strdelim: the words of a Match line (blanks or one `=` separate them; `"` quotes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const matchWords = (s: string): Array<string> | undefined => {
  const out: Array<string> = []
  let i = 0
  while (i < s.length) {
    while (i < s.length && WHITESPACE.includes(s[i]!)) i++
    if (i >= s.length) break
    if (s[i] === "\"") {
      const end = s.indexOf("\"", i + 1)
      if (end < 0) return undefined
      out.push(s.slice(i + 1, end))
      i = end + 1
    } else {
      const start = i
      while (i < s.length && !WHITESPACE.includes(s[i]!) && s[i] !== "=" && s[i] !== "\"") i++
      out.push(s.slice(start, i))
    }
    if (s[i] === "=") i++
  }
  return out
}
