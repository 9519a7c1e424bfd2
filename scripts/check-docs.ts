/**
 * Type-checks every ```ts block of README.md and docs/*.md against the library, as a user would import it
 * ("effect-ssh", "effect-ssh/node" resolve to this package through its own exports). Run by `npm run check`.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const out = path.join(root, ".docs-check")
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out)
const sources = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)]
let count = 0
for (const file of sources) {
  const text = fs.readFileSync(path.join(root, file), "utf8")
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)]
  blocks.forEach((m, i) => {
    const name = `${file.replace(/[/.]/g, "_")}_${i + 1}.ts`
    // Each block is its own module; `export {}` keeps top-level names from clashing across blocks.
    fs.writeFileSync(path.join(out, name), `// from ${file}, block ${i + 1}\n${m[1]}\nexport {}\n`)
    count++
  })
}
fs.writeFileSync(
  path.join(out, "tsconfig.json"),
  JSON.stringify({ extends: "../tsconfig.json", compilerOptions: { noUnusedLocals: false }, include: ["*.ts"] })
)
try {
  execFileSync(path.join(root, "node_modules/.bin/tsc"), ["--noEmit", "-p", path.join(out, "tsconfig.json")], {
    stdio: "inherit"
  })
  console.log(`docs: ${count} examples type-check`)
} catch {
  console.error("docs: examples do not type-check (see above; files in .docs-check/)")
  process.exit(1)
}
