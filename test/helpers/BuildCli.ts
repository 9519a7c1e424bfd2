/**
 * vitest globalSetup of the interop project: builds the CLI bundle (dist/bin) from the current sources before
 * any test spawns bin/effect-ssh.mjs, so a test never runs a bundle older than the code it tests (~1 s).
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"

export default function setup() {
  execFileSync(process.execPath, [path.resolve(import.meta.dirname, "../../scripts/build.mjs"), "cli"], { stdio: "inherit" })
}
