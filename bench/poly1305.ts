/**
 * Poly1305 alone, every implementation of src/crypto/cipher/Poly1305.ts side by side in the same run:
 * "wasm-simd" (the default where fixed-width SIMD exists), "wasm" (the scalar kernel, which is the pre-SIMD
 * implementation's block loop) and "portable" (@noble/ciphers). Run with `npx tsx bench/poly1305.ts [bytes…]`
 * (default 32768 1024 64).
 *
 * Rounds alternate between the implementations and each figure is the best round, in MB/s of message per CPU
 * second of this process: the machines are shared, and CPU time is what another process cannot steal.
 *
 * @since 0.1.0
 */
import { pathToFileURL } from "node:url"
import { implementations } from "../src/crypto/cipher/Poly1305.js"

/**
 * One measured implementation and size.
 *
 * @since 0.1.0
 * @category models
 */
export interface Poly1305BenchRow {
  readonly implementation: string
  readonly bytes: number
  readonly mbPerCpuSecond: number
}

const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

/**
 * Measures every implementation on messages of each size, `rounds` interleaved rounds of `slice` seconds each.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const run = (sizes: ReadonlyArray<number> = [32768, 1024, 64], rounds = 6, slice = 0.05): ReadonlyArray<Poly1305BenchRow> => {
  const rows: Array<Poly1305BenchRow> = []
  for (const bytes of sizes) {
    const key = new Uint8Array(32).map((_, i) => i * 29 + 7)
    const msg = new Uint8Array(bytes).map((_, i) => i * 131 + 17)
    const best = new Map<string, number>()
    for (let round = 0; round < rounds; round++) {
      for (const impl of implementations()) {
        for (let i = 0; i < 20; i++) impl.poly1305(key, msg)
        let n = 0
        const cpu0 = cpuSeconds()
        const end = performance.now() + slice * 1000
        while (performance.now() < end) {
          for (let i = 0; i < 10; i++) impl.poly1305(key, msg)
          n += 10
        }
        const rate = (n * bytes) / (cpuSeconds() - cpu0) / 1e6
        best.set(impl.name, Math.max(best.get(impl.name) ?? 0, rate))
      }
    }
    for (const [implementation, mbPerCpuSecond] of best) rows.push({ implementation, bytes, mbPerCpuSecond })
  }
  return rows
}

/**
 * Formats rows as a table with the ratio to the scalar "wasm" kernel of the same size.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (rows: ReadonlyArray<Poly1305BenchRow>): string => {
  const lines = ["implementation  bytes   MB/s (CPU)  × wasm", "--------------  ------  ----------  ------"]
  for (const r of rows) {
    const base = rows.find((b) => b.bytes === r.bytes && b.implementation === "wasm")?.mbPerCpuSecond
    lines.push(
      `${r.implementation.padEnd(14)}  ${String(r.bytes).padStart(6)}  ${r.mbPerCpuSecond.toFixed(0).padStart(10)}  ` +
        (base === undefined ? "" : (r.mbPerCpuSecond / base).toFixed(2).padStart(6))
    )
  }
  return lines.join("\n")
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const sizes = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n >= 0)
  console.log(format(run(sizes.length > 0 ? sizes : undefined)))
}
