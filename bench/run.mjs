// Runs a bench entry point as compiled JavaScript, the way a user's program runs our library: bundled with
// esbuild into dist/bench/ (dependencies external; no keepNames, unlike tsx, whose `__name` gives every named
// closure a property dictionary of its own — ~14 KiB per idle connection and a defineProperty per closure made
// on the packet path), then started with node. `node bench/run.mjs [index|profile|heapCensus] ARGS…`
// (`npm run bench -- ARGS` runs index). BENCH_TSX=1 runs the TypeScript through tsx instead, as before.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const entries = ["index", "profile", "profileClient", "heapCensus", "serverProcess", "exec", "throughput", "forward", "packets", "poly1305", "scp", "sftpProfile", "sftpMicro"]
const [first, ...rest] = process.argv.slice(2)
const entry = first !== undefined && entries.includes(first) ? first : "index"
const args = first !== undefined && entries.includes(first) ? rest : process.argv.slice(2)

let file
if (process.env.BENCH_TSX === "1") {
  file = path.join(root, "bench", `${entry}.ts`)
} else {
  const esbuild = await import("esbuild")
  const outdir = path.join(root, "dist/bench")
  fs.rmSync(outdir, { recursive: true, force: true })
  const common = {
    absWorkingDir: root,
    outdir,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    keepNames: false,
    outExtension: { ".js": ".mjs" },
    logLevel: "warning"
  }
  // Every module with an `import.meta.url === argv[1]` main check is an entry of the split build, so that its code
  // sits in a chunk of its own and the check is false when index runs (it would otherwise run inside index.mjs);
  // the ones the suite starts as processes (the server, ssh2's pure-JS client, the transport peer) hold it there.
  // Found by reading the sources, so that a new bench module with a main check cannot run inside index (scp.ts did,
  // at the same time as section 3, and skewed it).
  const split = ["index", "serverProcess", ...fs.readdirSync(path.join(root, "bench"))
    .filter((f) => f.endsWith(".ts") && /import\.meta\.url === pathToFileURL/.test(fs.readFileSync(path.join(root, "bench", f), "utf8")))
    .map((f) => f.slice(0, -3))]
  await esbuild.build({ ...common, splitting: true, entryPoints: Object.fromEntries(split.map((e) => [e, `bench/${e}.ts`])) })
  // An entry run on its own is rebuilt as one file, so that its own main check holds.
  if (entry !== "index" && entry !== "serverProcess") {
    await esbuild.build({ ...common, entryPoints: { [entry]: `bench/${entry}.ts` } })
  }
  file = path.join(outdir, `${entry}.mjs`)
}
const node = process.env.BENCH_TSX === "1" ? [path.join(root, "node_modules/tsx/dist/cli.mjs")] : []
const r = spawnSync(process.execPath, [...node, file, ...args], { stdio: "inherit" })
process.exit(r.status ?? 1)
