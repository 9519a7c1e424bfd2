/**
 * `npm run fuzz [-- --iterations N] [--target NAME] [--seed S] [--budget SECONDS]`: a mutation-fuzz campaign over
 * every parser fed from the network or from files (test/fuzz/targets.ts), seeded from real OpenSSH output
 * (test/fuzz/seeds.ts). Default 1 000 000 iterations per target (FUZZ_ITERATIONS overrides). Inputs that show a bug
 * are written to test/fuzz/crashes/<target>-<seed>-<n>.bin, which test/fuzz/fuzz.test.ts replays as regression
 * tests; exit status 1 when there are any.
 *
 * The campaign runs compiled, as bench/run.mjs runs the benches: this file bundles itself with esbuild into
 * dist/fuzz/fuzz.mjs (dependencies external, no keepNames) and runs that with node — under tsx every named closure
 * of the parsers gets a `__name` property defined at creation, which costs the short-lived closures of a parse
 * call more than the parse. FUZZ_TSX=1 runs the TypeScript through tsx instead.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Campaign from "../test/fuzz/campaign.js"
import * as Seeds from "../test/fuzz/seeds.js"
import { TARGETS } from "../test/fuzz/targets.js"

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}

const campaign = () => {
  const iterations = Number(arg("iterations") ?? process.env.FUZZ_ITERATIONS ?? 1_000_000)
  const seed = Number(arg("seed") ?? process.env.FUZZ_SEED ?? Date.now() % 0x7fffffff)
  const budget = arg("budget")
  const only = arg("target")
  const crashDir = path.resolve(process.env.FUZZ_CRASH_DIR ?? "test/fuzz/crashes")
  const targets = TARGETS.filter((t) => only === undefined || t.name === only)
  if (targets.length === 0) throw new Error(`no target named ${only}; targets: ${TARGETS.map((t) => t.name).join(" ")}`)
  const seeds = Seeds.build()
  let total = 0
  console.log(`fuzz: ${iterations} iterations per target, seed ${seed}`)
  for (const target of targets) {
    const r = Campaign.run(target, seeds[target.seeds], {
      iterations,
      seed,
      budgetMs: budget === undefined ? undefined : Number(budget) * 1000,
      // A line every 100 000 inputs, so that a long campaign stopped from outside still says how far it got.
      progress: (n, millis) => console.log(`  ${target.name} ${n} runs ${(millis / 1000).toFixed(0)} s`)
    })
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
}

const compileAndRun = async () => {
  const root = path.resolve(import.meta.dirname, "..")
  const outfile = path.join(root, "dist/fuzz/fuzz.mjs")
  const esbuild = await import("esbuild")
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ["scripts/fuzz.ts"],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    keepNames: false,
    logLevel: "warning"
  })
  const r = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, FUZZ_COMPILED: "1", FUZZ_CRASH_DIR: path.resolve(process.env.FUZZ_CRASH_DIR ?? path.join(root, "test/fuzz/crashes")) }
  })
  process.exitCode = r.status ?? 1
}

if (process.env.FUZZ_COMPILED === "1" || process.env.FUZZ_TSX === "1") campaign()
else await compileAndRun()
