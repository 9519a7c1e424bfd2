/**
 * The process entry of the command line: runs `main` on `process.argv` and exits with its code. Kept apart from
 * `main.ts` so that importing the dispatcher (tests, docs) runs nothing.
 *
 * @since 0.1.0
 */
import { main } from "./main.js"
import { FAILURE_EXIT_CODE } from "./Version.js"

// Always exit: a stdin that is still open (a terminal) must not keep the process alive after the command.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`effect-ssh: internal error: ${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(FAILURE_EXIT_CODE)
  }
)
