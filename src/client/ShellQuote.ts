/**
 * Quoting for the remote shell. An SSH exec request carries one command line that the server's login shell
 * parses (RFC 4254 §6.5; OpenSSH runs `$SHELL -c line`), so argv words must be quoted to arrive as the same words:
 * `exec(["ls", "-l", name])` quotes each word and joins them with spaces. The quoting is POSIX sh single quotes,
 * which every Bourne-style shell (sh, bash, dash, zsh, ksh) reads the same way; a server whose login shell is not
 * Bourne-style (Windows cmd, fish for some edge cases) needs its own quoting, passed as a string.
 *
 * @since 0.1.0
 */

// Words made only of these need no quotes in any Bourne-style shell (no globbing, expansion or word splitting).
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/

/**
 * Quotes one word for a POSIX shell: unchanged when it is made only of safe characters, otherwise in single
 * quotes, with each `'` written as `'\''`. The empty word becomes `''`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const quote = (word: string): string => SAFE.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`

/**
 * Quotes every word of `argv` and joins them with spaces: the command line that runs `argv[0]` with the other
 * words as its arguments, whatever characters they contain.
 *
 * @since 0.1.0
 * @category constructors
 */
export const join = (argv: ReadonlyArray<string>): string => argv.map(quote).join(" ")

/**
 * A command line given as a string (passed to the remote shell as it is) or as argv words (quoted with `join`).
 *
 * @since 0.1.0
 * @category models
 */
export type CommandLine = string | ReadonlyArray<string>

/**
 * The command line to send for `command`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const commandLine = (command: CommandLine): string => typeof command === "string" ? command : join(command)
