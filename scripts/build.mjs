// Builds the package into dist/ (docs/decisions/0007):
//   node scripts/build.mjs        the library (tsc: .js + .d.ts per source file) and the CLI bundle
//   node scripts/build.mjs cli    only the CLI bundle (what `npm ci` runs through `prepare`; ~1 s)
// The CLI is bundled with esbuild (ESM, code-split so each subcommand is its own lazily loaded chunk,
// minified): one file to read and compile instead of ~600 modules of effect, which is most of the start-up.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const only = process.argv[2]

export const buildCli = async () => {
  const esbuild = await import("esbuild")
  // Written beside and swapped in: a CLI process started meanwhile (a test) never finds dist/bin half written.
  const outdir = path.join(root, "dist/bin")
  const fresh = `${outdir}.${process.pid}`
  fs.rmSync(fresh, { recursive: true, force: true })
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { "effect-ssh": "src/cli/bin.ts" },
    outdir: fresh,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    minify: true,
    // Dependencies' own `sideEffects: false` lets esbuild drop the unused parts of effect and @noble.
    treeShaking: true,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunk-[hash]",
    legalComments: "none",
    logLevel: "warning",
    // A CommonJS dependency bundled into ESM calls require() for Node builtins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
  })
  const old = `${outdir}.old.${process.pid}`
  if (fs.existsSync(outdir)) fs.renameSync(outdir, old)
  fs.renameSync(fresh, outdir)
  fs.rmSync(old, { recursive: true, force: true })
}

if (only !== "cli") {
  // Everything but the CLI bundle (swapped in by buildCli): no output of a deleted source survives.
  for (const entry of fs.existsSync(path.join(root, "dist")) ? fs.readdirSync(path.join(root, "dist")) : []) {
    if (!entry.startsWith("bin")) fs.rmSync(path.join(root, "dist", entry), { recursive: true, force: true })
  }
  execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit"
  })
}
await buildCli()
