// Builds the package into dist/ (docs/decisions/0007):
//   node scripts/build.mjs        the library (tsc: .js + .d.ts per source file) and the CLI bundle
//   node scripts/build.mjs cli    only the CLI bundle (what `npm ci` runs through `prepare`; ~1 s)
// The CLI is bundled with esbuild (one minified CommonJS script, each subcommand evaluated only when it runs):
// one file to read instead of ~600 modules of effect, compiled through node:vm with a V8 code cache (the
// generated loader, dist/bin/effect-ssh.mjs), which is most of the start-up.
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as url from "node:url"

const root = path.resolve(import.meta.dirname, "..")
const only = process.argv[2]
// `--no-minify` (for profiling: readable names in `node --cpu-prof`).
const minify = !process.argv.includes("--no-minify")

/**
 * `@effect/platform-node/NodeSocket` is `@effect/platform-node-shared/NodeSocket` plus a WebSocket layer built on
 * the `ws` package, a CommonJS module esbuild cannot drop: ~10 ms of evaluation at every start-up for a layer the
 * CLI never uses. The bundle takes the shared module, which is the same code without it.
 */
const withoutWebSocket = {
  name: "without-websocket",
  setup: (b) =>
    b.onResolve({ filter: /^@effect\/platform-node\/NodeSocket$/ }, (a) =>
      b.resolve("@effect/platform-node-shared/NodeSocket", { resolveDir: a.resolveDir, kind: a.kind }))
}

/**
 * Modules that compute at import (@noble's AES tables, curve parameters and their field arithmetic set-up,
 * ML-KEM's tables, Argon2) but that a command usually never calls: node:crypto is the CLI's backend, and OpenSSH
 * 9.2 offers no ML-KEM. Each import of one of them gets a facade instead, whose exports evaluate the module on
 * first use (esbuild runs a `require`d module only when that `require` runs): a login does not pay for them.
 */
const LAZY = /^@noble\/(ciphers\/aes|curves\/ed25519|curves\/nist|post-quantum\/ml-kem|hashes\/argon2)\.js$/

const lazyModules = {
  name: "lazy-modules",
  setup: (b) => {
    b.onResolve({ filter: LAZY }, async (a) => {
      if (a.pluginData === "real") return undefined
      const real = await b.resolve(a.path, { resolveDir: a.resolveDir, kind: a.kind, pluginData: "real" })
      if (real.errors.length > 0) return { errors: real.errors }
      return { path: real.path, namespace: "lazy" }
    })
    // The facade's own `require` of the module it stands for.
    b.onResolve({ filter: /^lazy-real:/ }, (a) => ({ path: a.path.slice("lazy-real:".length) }))
    b.onLoad({ filter: /.*/, namespace: "lazy" }, async (a) => {
      const actual = await import(url.pathToFileURL(a.path).href)
      const names = Object.keys(actual).filter((n) => n !== "default")
      // Only functions and objects can be stood in for; a module exporting anything else stays eager.
      const eager = names.some((n) => typeof actual[n] !== "function" && (typeof actual[n] !== "object" || actual[n] === null))
      const spec = JSON.stringify(`lazy-real:${a.path}`)
      const contents = eager
        ? `export * from ${spec}`
        : [
          `let m`,
          `const load = () => m ?? (m = require(${spec}))`,
          // A stand-in that forwards calls, \`new\` and property reads to the real export once loaded.
          `const lazy = (get) => new Proxy(function () {}, {`,
          `  apply: (_, self, args) => Reflect.apply(get(), self, args),`,
          `  construct: (_, args) => Reflect.construct(get(), args),`,
          `  get: (_, key) => get()[key],`,
          `  has: (_, key) => key in get(),`,
          `  getPrototypeOf: () => Reflect.getPrototypeOf(get())`,
          `})`,
          ...names.map((n) => `export const ${n} = lazy(() => load().${n})`)
        ].join("\n")
      return { contents, resolveDir: path.dirname(a.path), loader: "js" }
    })
  }
}

export const buildCli = async () => {
  const esbuild = await import("esbuild")
  // Written beside and swapped in: a CLI process started meanwhile (a test) never finds dist/bin half written.
  const outdir = path.join(root, "dist/bin")
  const fresh = `${outdir}.${process.pid}`
  fs.rmSync(fresh, { recursive: true, force: true })
  const common = {
    absWorkingDir: root,
    outdir: fresh,
    bundle: true,
    platform: "node",
    target: "node20",
    minify,
    // Dependencies' own `sideEffects: false` lets esbuild drop the unused parts of effect and @noble.
    treeShaking: true,
    legalComments: "none",
    logLevel: "warning"
  }
  // One CommonJS script (subcommands stay lazily evaluated: esbuild wraps each dynamically imported module in an
  // initialiser), so that the loader below can compile it through node:vm with a V8 code cache.
  await esbuild.build({
    ...common,
    entryPoints: { cli: "src/cli/bin.ts" },
    format: "cjs",
    outExtension: { ".js": ".cjs" },
    plugins: [withoutWebSocket, lazyModules]
  })
  // The dispatcher alone, for the words that run no subcommand (`--version`, `--help`, none): a few KB of ESM
  // instead of compiling the whole script. Its dynamic imports (the subcommands, Runtime) stay unresolved.
  await esbuild.build({
    ...common,
    entryPoints: { top: "src/cli/bin.ts" },
    format: "esm",
    outExtension: { ".js": ".mjs" },
    plugins: [{
      name: "subcommands-stay-out",
      setup: (b) => b.onResolve({ filter: /.*/ }, (a) => (a.kind === "dynamic-import" ? { path: a.path, external: true } : undefined))
    }]
  })
  // What the loader runs first for `exec`/`ssh`: the TCP connection, opened while the bundle compiles
  // (src/cli/Preconnect.ts; node: builtins only).
  await esbuild.build({ ...common, entryPoints: { preconnect: "src/cli/Preconnect.ts" }, format: "cjs", outExtension: { ".js": ".cjs" } })
  const bundle = fs.readFileSync(path.join(fresh, "cli.cjs"))
  const hash = crypto.createHash("sha256").update(bundle).digest("hex").slice(0, 16)
  fs.writeFileSync(path.join(fresh, "effect-ssh.mjs"), loader(hash))
  const old = `${outdir}.old.${process.pid}`
  if (fs.existsSync(outdir)) fs.renameSync(outdir, old)
  fs.renameSync(fresh, outdir)
  fs.rmSync(old, { recursive: true, force: true })
}

/**
 * dist/bin/effect-ssh.mjs, which bin/effect-ssh.mjs imports: compiles cli.cjs with the V8 code cache of an
 * earlier run of the same subcommand, from $XDG_CACHE_HOME/effect-ssh (or ~/.cache/effect-ssh), and after a run
 * without one writes it (docs/decisions/0007). The cache is named by the bundle's SHA-256: V8 itself checks only
 * the source's length, its own version and flags, so a cache of another build must never be offered. Only a run
 * that exits 0 writes (an unknown word as the subcommand leaves nothing); other builds' caches are removed then.
 * EFFECT_SSH_CODE_CACHE=0 turns it off. Without a subcommand word it imports top.mjs (the dispatcher alone) instead.
 */
const loader = (hash) => `// Generated by scripts/build.mjs: runs the CLI bundle (cli.cjs) through node:vm with a V8 code cache.
const BUILD = "${hash}"
const word = process.argv[2]
// No subcommand word (\`--version\`, \`--help\`, nothing): the dispatcher alone, which loads no subcommand then.
if (word === undefined || word.startsWith("-")) await import("./top.mjs")
else {
  // exec/ssh: the TCP connection starts now, sshd's start-up overlapping ours (src/cli/Preconnect.ts).
  // Node makes the connect(2) call on the next tick: one turn of the event loop sends the SYN now.
  // Builtins through require: an ESM import of node:fs builds its module facade, which loads fs streams (~5 ms).
  const { createRequire } = await import("node:module")
  const require = createRequire(import.meta.url)
  if ((word === "exec" || word === "ssh") && require("./preconnect.cjs").start(process.argv.slice(3))) {
    await new Promise((resolve) => setImmediate(resolve))
  }
  run(require("node:fs"), createRequire, require("node:path"), require("node:vm"))
}

function run(fs, createRequire, path, vm) {
const file = path.join(import.meta.dirname, "cli.cjs")
const source = fs.readFileSync(file, "utf8")
const base = process.env.XDG_CACHE_HOME || (process.env.HOME ? path.join(process.env.HOME, ".cache") : "")
const dir = base !== "" && process.env.EFFECT_SSH_CODE_CACHE !== "0" ? path.join(base, "effect-ssh") : ""
const cacheFile = dir === "" ? "" : path.join(dir, \`cli-\${BUILD}-\${/^[a-z]{1,16}$/.test(word) ? word : "top"}.v8\`)
let cachedData
if (cacheFile !== "") {
  try {
    cachedData = fs.readFileSync(cacheFile)
  } catch {}
}
const script = new vm.Script(\`(function (exports, require, module, __filename, __dirname) {\${source}\n})\`, {
  filename: file,
  cachedData
})
if (cacheFile !== "" && (cachedData === undefined || script.cachedDataRejected)) {
  process.once("exit", (code) => {
    if (code !== 0) return
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      const temp = \`\${cacheFile}.\${process.pid}\`
      fs.writeFileSync(temp, script.createCachedData(), { mode: 0o600 })
      fs.renameSync(temp, cacheFile)
      for (const f of fs.readdirSync(dir)) {
        if (f.startsWith("cli-") && !f.startsWith(\`cli-\${BUILD}-\`)) fs.rmSync(path.join(dir, f), { force: true })
      }
    } catch {}
  })
}
const module = { exports: {} }
script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file))
}
`

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
