/**
 * `npm run fuzz [-- --iterations N] [--target NAME] [--seed S]`: a mutation-fuzz campaign over every parser fed
 * from the network or from files (test/fuzz/targets.ts), seeded from real OpenSSH output (test/fuzz/seeds.ts).
 * Default 1 000 000 iterations per target (FUZZ_ITERATIONS overrides). Inputs that show a bug are written to
 * test/fuzz/crashes/<target>-<n>.bin, which test/fuzz/fuzz.test.ts replays as regression tests; exit status 1
 * when there are any.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Campaign from "../test/fuzz/campaign.js"
import * as Seeds from "../test/fuzz/seeds.js"
import { TARGETS } from "../test/fuzz/targets.js"

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const iterations = Number(arg("iterations") ?? process.env.FUZZ_ITERATIONS ?? 1_000_000)
const seed = Number(arg("seed") ?? process.env.FUZZ_SEED ?? Date.now() % 0x7fffffff)
const only = arg("target")
const crashDir = path.resolve(import.meta.dirname, "../test/fuzz/crashes")

const seeds = Seeds.build()
let total = 0
console.log(`fuzz: ${iterations} iterations per target, seed ${seed}`)
for (const target of TARGETS.filter((t) => only === undefined || t.name === only)) {
  const r = Campaign.run(target, seeds[target.seeds], { iterations, seed })
  const rate = Math.round(r.iterations / (r.millis / 1000))
  console.log(`${target.name.padEnd(22)} ${String(r.iterations).padStart(9)} runs  ${(r.millis / 1000).toFixed(1).padStart(7)} s  ${String(rate).padStart(8)}/s  ${r.findings.length} findings`)
  for (const [n, f] of r.findings.entries()) {
    fs.mkdirSync(crashDir, { recursive: true })
    const file = path.join(crashDir, `${target.name}-${seed}-${n}.bin`)
    fs.writeFileSync(file, f.input)
    console.log(`  ${f.error}\n  → ${path.relative(process.cwd(), file)}`)
  }
  total += r.findings.length
}
process.exitCode = total > 0 ? 1 : 0
