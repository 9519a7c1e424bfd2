/**
 * `%` tokens and `${VAR}` environment variables in ssh_config values (misc.c vdollar_percent_expand): `%%` is a
 * literal `%`, an unknown token or a `%` at the end is an error, and so is an unset variable.
 *
 * @since 0.1.0
 */

/**
 * Expands `text`; `tokens` maps a token letter to its value. Returns an error message on failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const expand = (
  text: string,
  tokens: Readonly<Record<string, string>> | undefined,
  env: ((name: string) => string | undefined) | undefined
): { readonly value: string } | { readonly error: string } => {
  let out = ""
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (env !== undefined && c === "$" && text[i + 1] === "{") {
      const end = text.indexOf("}", i + 2)
      if (end < 0) return { error: `environment variable '${text.slice(i + 2)}' missing closing '}'` }
      const name = text.slice(i + 2, end)
      if (name === "") return { error: "zero-length environment variable" }
      const value = env(name)
      if (value === undefined) return { error: `env var \${${name}} has no value` }
      out += value
      i = end
      continue
    }
    if (c !== "%" || tokens === undefined) {
      out += c
      continue
    }
    const t = text[++i]
    if (t === "%") out += "%"
    else if (t === undefined) return { error: `invalid format "${text}"` }
    else if (Object.hasOwn(tokens, t)) out += tokens[t]
    else return { error: `unknown key %${t} in "${text}"` }
  }
  return { value: out }
}

/**
 * misc.c tilde_expand_filename for the current user: `~` and `~/…` become the home directory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tilde = (path: string, home: string): string =>
  path === "~" ? home : path.startsWith("~/") ? `${home.replace(/\/$/, "")}/${path.slice(2)}` : path
