/**
 * A temp directory that lives as long as the test's Scope (removed with everything in it).
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))),
    (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
  )

/** Every file under `dir` as relative path → text (directories by their files), for comparing copied trees. */
export const tree = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string, prefix: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${prefix}${e.name}/`)
      else out[`${prefix}${e.name}`] = fs.readFileSync(path.join(d, e.name), "utf8")
    }
  }
  walk(dir, "")
  return out
}
