/**
 * One fuzz campaign over one target: mutate seeds, run, collect the inputs that show a bug (an escaping
 * exception, a swallowed one, or an input that takes longer than `slowMs`). Deterministic for a given seed.
 */
import { mutate, Rng } from "./mutate.js"
import type { Target } from "./targets.js"

export interface Finding {
  readonly input: Uint8Array
  readonly error: string
}

export interface CampaignResult {
  readonly target: string
  readonly iterations: number
  readonly findings: ReadonlyArray<Finding>
  readonly millis: number
}

export interface CampaignOptions {
  readonly iterations: number
  readonly seed: number
  /** Stop early after this long (ms); the iteration count reached is reported. */
  readonly budgetMs?: number | undefined
  /** An input slower than this is a finding (a hang or super-linear cost). */
  readonly slowMs?: number | undefined
  /** Called every 100 000 inputs with the count and the time so far. */
  readonly progress?: ((iterations: number, millis: number) => void) | undefined
}

export const run = (target: Target, seeds: ReadonlyArray<Uint8Array>, options: CampaignOptions): CampaignResult => {
  const rng = new Rng(options.seed)
  const findings: Array<Finding> = []
  const seen = new Set<string>()
  const start = performance.now()
  const pool: Array<Uint8Array> = seeds.length > 0 ? [...seeds] : [new Uint8Array(0)]
  let i = 0
  const attempt = (input: Uint8Array) => {
    const t0 = performance.now()
    try {
      target.run(input)
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
      if (!seen.has(error)) {
        seen.add(error)
        findings.push({ input, error })
      }
    }
    let took = performance.now() - t0
    if (took > (options.slowMs ?? 2000)) {
      // Confirmed by a second run timed in CPU time of this process: a pause of the whole process (GC) or a
      // machine too busy to schedule it (a 25-byte SFTP input "took" 3.7 s twice at load 12 under nice 19, and
      // replays in 1 ms) is not the parser's cost; a hang or super-linear work burns CPU either way.
      const c1 = process.cpuUsage()
      try {
        target.run(input)
      } catch {
        // reported above
      }
      const c2 = process.cpuUsage(c1)
      took = (c2.user + c2.system) / 1000
    }
    if (took > (options.slowMs ?? 2000) && !seen.has("slow")) {
      seen.add("slow")
      findings.push({ input, error: `slow: ${took.toFixed(0)} ms for ${input.length} bytes` })
    }
  }
  for (const s of pool) attempt(s)
  for (; i < options.iterations; i++) {
    if (options.budgetMs !== undefined && (i & 63) === 0 && performance.now() - start > options.budgetMs) break
    if (options.progress !== undefined && i > 0 && i % 100_000 === 0) options.progress(i, performance.now() - start)
    const base = pool[rng.below(pool.length)]!
    const other = pool[rng.below(pool.length)]!
    const input = mutate(rng, base, other)
    attempt(input)
    // Keep a few mutants as new bases, so mutations compound (a cheap stand-in for coverage feedback).
    if ((rng.next() & 1023) === 0 && pool.length < 256) pool.push(input)
  }
  return { target: target.name, iterations: i, findings, millis: performance.now() - start }
}
