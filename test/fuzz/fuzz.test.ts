/**
 * The short fuzz campaign run with every `npm test` (a few seconds per parser; `npm run fuzz` runs 10^6 per
 * parser), and the regression tests: every input in test/fuzz/crashes/ that once showed a bug is replayed
 * against its target.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Campaign from "./campaign.js"
import * as Seeds from "./seeds.js"
import { TARGETS } from "./targets.js"

const seeds = Seeds.build()
const iterations = Number(process.env.FUZZ_ITERATIONS ?? 3000)
const crashDir = path.join(__dirname, "crashes")

describe("fuzz (short campaign)", () => {
  for (const target of TARGETS) {
    it(`${target.name}: ${iterations} mutated inputs from ${seeds[target.seeds].length} seeds, no bug`, () => {
      assert.isAbove(seeds[target.seeds].length, 0)
      const r = Campaign.run(target, seeds[target.seeds], { iterations, seed: 0x5eed, budgetMs: 4000 })
      assert.deepStrictEqual(r.findings.map((f) => f.error), [])
      assert.isAbove(r.iterations, 0)
    })
  }
})

describe("fuzz regressions (test/fuzz/crashes)", () => {
  const files = fs.existsSync(crashDir) ? fs.readdirSync(crashDir).filter((f) => f.endsWith(".bin")) : []
  it("every saved input names a target", () => {
    for (const f of files) assert.isDefined(TARGETS.find((t) => f.startsWith(`${t.name}-`)), f)
  })
  for (const f of files) {
    const target = TARGETS.find((t) => f.startsWith(`${t.name}-`))
    if (target === undefined) continue
    it(`${f} no longer shows a bug`, () => {
      const input = new Uint8Array(fs.readFileSync(path.join(crashDir, f)))
      const r = Campaign.run(target, [input], { iterations: 0, seed: 1 })
      assert.deepStrictEqual(r.findings.map((x) => x.error), [])
    })
  }
})
