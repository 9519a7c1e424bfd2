/**
 * Constants every part of the command line shares (kept apart from `main.ts`, which imports the subcommands).
 *
 * @since 0.1.0
 */

/**
 * The version `--version` prints.
 *
 * @since 0.1.0
 * @category constants
 */
export const VERSION = "0.1.0"

/**
 * The exit code for a usage, connection or login failure, as ssh(1) uses it.
 *
 * @since 0.1.0
 * @category constants
 */
export const FAILURE_EXIT_CODE = 255
