/**
 * The layering rules of STYLE.md §4, checked on the real source tree: every `.ts` file under src/ is parsed with
 * the TypeScript compiler API and its imports, re-exports, dynamic imports and `import("…")` types are checked
 * against the table below. Also: no runtime import cycles, the file-size cap of STYLE.md §1.6, no `any`, and
 * nothing Node-specific below src/node.
 *
 * When STYLE.md §4 changes, change `check` below with it; never loosen a rule here to make a file pass.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import { builtinModules } from "node:module"
import * as path from "node:path"
import ts from "typescript"

const ROOT = path.resolve(import.meta.dirname, "..")
const SRC = path.join(ROOT, "src")

/** STYLE.md §1.6: target ≤ 400 lines, hard cap 700. */
const SOFT_LINES = 400
const HARD_LINES = 700

// ---- the source tree ----

interface ImportRef {
  /** The importing file, relative to src/ with forward slashes. */
  readonly file: string
  readonly line: number
  readonly specifier: string
  /** `import type`, `export type`, all-`type` specifier lists and `import("…")` types: erased at runtime. */
  readonly typeOnly: boolean
  /** For relative specifiers: the target file relative to src/ (may start with `../` if it escapes src/). */
  readonly target: string | undefined
}

interface SourceFile {
  readonly file: string
  readonly text: string
  readonly ast: ts.SourceFile
  readonly imports: ReadonlyArray<ImportRef>
}

const listTs = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name)
    return e.isDirectory() ? listTs(full) : e.name.endsWith(".ts") ? [full] : []
  })

const rel = (full: string): string => path.relative(SRC, full).split(path.sep).join("/")

const lineOf = (ast: ts.SourceFile, node: ts.Node): number =>
  ast.getLineAndCharacterOfPosition(node.getStart(ast)).line + 1

/** Resolves a relative specifier as NodeNext does for our sources: `./x.js` → `./x.ts`. */
const resolveRelative = (fromFull: string, specifier: string): string => {
  const base = path.resolve(path.dirname(fromFull), specifier)
  const candidates = [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, path.join(base, "index.ts")]
  const hit = candidates.find((c) => c.endsWith(".ts") && fs.existsSync(c))
  return rel(hit ?? base)
}

const allTypeOnly = (elements: ts.NodeArray<ts.ImportSpecifier | ts.ExportSpecifier>): boolean =>
  elements.length > 0 && elements.every((e) => e.isTypeOnly)

const collectImports = (full: string, ast: ts.SourceFile): Array<ImportRef> => {
  const out: Array<ImportRef> = []
  const add = (node: ts.Node, literal: ts.Expression, typeOnly: boolean) => {
    if (!ts.isStringLiteralLike(literal)) return
    const specifier = literal.text
    out.push({
      file: rel(full),
      line: lineOf(ast, node),
      specifier,
      typeOnly,
      target: specifier.startsWith(".") ? resolveRelative(full, specifier) : undefined
    })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause
      const typeOnly = clause !== undefined && (clause.isTypeOnly ||
        (clause.name === undefined && clause.namedBindings !== undefined &&
          ts.isNamedImports(clause.namedBindings) && allTypeOnly(clause.namedBindings.elements)))
      add(node, node.moduleSpecifier, typeOnly)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      const typeOnly = node.isTypeOnly ||
        (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) &&
          allTypeOnly(node.exportClause.elements))
      add(node, node.moduleSpecifier, typeOnly)
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly)
    } else if (ts.isCallExpression(node) && node.arguments.length > 0) {
      const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require"
      if (isDynamicImport || isRequire) add(node, node.arguments[0]!, false)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal, true)
    }
    ts.forEachChild(node, visit)
  }
  visit(ast)
  return out
}

const sources: ReadonlyArray<SourceFile> = listTs(SRC).sort().map((full) => {
  const text = fs.readFileSync(full, "utf8")
  const ast = ts.createSourceFile(full, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS)
  return { file: rel(full), text, ast, imports: collectImports(full, ast) }
})
const allImports: ReadonlyArray<ImportRef> = sources.flatMap((s) => s.imports)

// ---- layers (STYLE.md §4) ----

type Layer =
  | "SshError"
  | "index"
  | "wire"
  | "crypto"
  | "keys"
  | "config"
  | "transport"
  | "auth"
  | "connection"
  | "session"
  | "forward"
  | "sftp"
  | "agent"
  | "scp"
  | "client"
  | "server"
  | "node"
  | "cli"

const DIR_LAYERS: ReadonlySet<string> = new Set<Layer>([
  "wire",
  "crypto",
  "keys",
  "config",
  "transport",
  "auth",
  "connection",
  "session",
  "forward",
  "sftp",
  "agent",
  "scp",
  "client",
  "server",
  "node",
  "cli"
])

/** The layer a path relative to src/ belongs to, or undefined when STYLE.md §4 has no row for it. */
const layerOf = (file: string): Layer | undefined => {
  if (file === "SshError.ts") return "SshError"
  if (file === "index.ts") return "index"
  const top = file.split("/")[0]!
  return file.includes("/") && DIR_LAYERS.has(top) ? (top as Layer) : undefined
}

const isEffect = (s: string) => s === "effect" || s.startsWith("effect/")
const isNodeBuiltin = (s: string) => s.startsWith("node:") || builtinModules.includes(s.split("/")[0]!)
const isPlatformNode = (s: string) => s === "@effect/platform-node" || s.startsWith("@effect/platform-node/")

const L0_L1: ReadonlyArray<Layer> = ["wire", "crypto", "keys"]
const L0_L2: ReadonlyArray<Layer> = [...L0_L1, "transport"]
const L0_L4: ReadonlyArray<Layer> = [...L0_L2, "auth", "connection"]

/**
 * Whether `ref` is allowed by STYLE.md §4 (and the brief that added this test) for the layer of its file.
 * Returns the rule's wording when it is not.
 */
const check = (ref: ImportRef): string | undefined => {
  const from = layerOf(ref.file)!
  const toLayer = ref.target === undefined ? undefined : layerOf(ref.target)
  const internal = (allowed: ReadonlyArray<Layer>) => toLayer !== undefined && allowed.includes(toLayer)
  const pkg = (ok: (s: string) => boolean) => ref.target === undefined && ok(ref.specifier)
  switch (from) {
    case "SshError":
      return pkg(isEffect) ? undefined : "SshError.ts imports only effect/*"
    case "wire":
      return internal(["wire"]) || pkg((s) => s === "effect/Data" || s === "effect/Either" || s === "effect/Option")
        ? undefined
        : "wire/ imports only effect/Data, effect/Either, effect/Option and wire/"
    case "crypto":
    case "keys":
      return internal([...L0_L1, "SshError"]) ||
          pkg((s) => isEffect(s) || s.startsWith("@noble/") || s === "bcrypt-pbkdf")
        ? undefined
        : "crypto/ and keys/ import only wire/, crypto/, keys/, SshError.ts, effect/*, @noble/*, bcrypt-pbkdf"
    case "config":
      // STYLE.md §4: config/ is L1 and pure; keys/ for OpenSSH pattern matching, crypto/'s algorithm lists,
      // @noble/* for %C's SHA-1.
      return internal([...L0_L1, "config", "SshError"]) || pkg((s) => isEffect(s) || s.startsWith("@noble/"))
        ? undefined
        : "config/ imports only wire/, crypto/, keys/, config/, SshError.ts, effect/*, @noble/*"
    case "transport":
      return internal([...L0_L2, "SshError"]) || pkg((s) => isEffect(s) || s === "@effect/platform/Socket")
        ? undefined
        : "transport/ imports only wire/, crypto/, keys/, transport/, SshError.ts, effect/*, @effect/platform/Socket"
    case "auth":
      return internal([...L0_L2, "auth", "SshError"]) || pkg(isEffect)
        ? undefined
        : "auth/ imports only L0–L2, auth/, SshError.ts, effect/*"
    case "connection":
      // The Authenticated type from auth, never the driver. The Authenticated module holds only that type and its
      // Tag (which ConnectionMux.layer requires, STYLE.md §6), so it may be imported as a value too.
      return internal([...L0_L2, "connection", "SshError"]) ||
          (toLayer === "auth" && (ref.typeOnly || ref.target === "auth/Authenticated.ts")) ||
          pkg(isEffect)
        ? undefined
        : "connection/ imports only L0–L2, connection/, SshError.ts, effect/*, types from auth/ and auth/Authenticated.ts"
    case "session":
    case "forward":
    case "sftp":
    case "agent": {
      const platform: ReadonlyArray<string> = from === "forward"
        ? ["@effect/platform/Socket", "@effect/platform/SocketServer"]
        : from === "agent"
        ? ["@effect/platform/Socket"]
        : from === "sftp" && ref.file === "sftp/SftpServer.ts"
        ? ["@effect/platform/FileSystem"]
        : []
      // No L5 module imports a sibling L5 directory.
      return internal([...L0_L4, from, "SshError"]) || pkg((s) => isEffect(s) || platform.includes(s))
        ? undefined
        : `${from}/ imports only L0–L4, ${from}/, SshError.ts, effect/*${platform.map((p) => `, ${p}`).join("")}`
    }
    case "scp":
      // STYLE.md §4: scp may use sftp (OpenSSH 9's scp speaks SFTP); local files through platform's FileSystem.
      return internal([...L0_L4, "scp", "sftp", "SshError"]) ||
          pkg((s) => isEffect(s) || s === "@effect/platform/FileSystem" || s === "@effect/platform/Path")
        ? undefined
        : "scp/ imports only L0–L4, scp/, sftp/, SshError.ts, effect/*, @effect/platform/FileSystem and Path"
    case "client":
    case "server":
    case "index":
      return toLayer === "node" || (ref.target === undefined && (isPlatformNode(ref.specifier) || isNodeBuiltin(ref.specifier)))
        ? `${from === "index" ? "index.ts" : `${from}/`} may import everything except src/node, node:* and @effect/platform-node`
        : undefined
    case "node":
    case "cli":
      // L7: the command line (the issue's brief) may import everything, src/node and node:* included.
      return undefined
  }
}

const describeRef = (ref: ImportRef, rule: string) =>
  `src/${ref.file}:${ref.line} imports "${ref.specifier}"${
    ref.target !== undefined ? ` (src/${ref.target})` : ""
  }${ref.typeOnly ? " [type-only]" : ""} — ${rule}`

const layerViolations = (layers: ReadonlyArray<Layer>): Array<string> =>
  allImports.flatMap((ref) => {
    const from = layerOf(ref.file)
    if (from === undefined || !layers.includes(from)) return []
    const rule = check(ref)
    return rule === undefined ? [] : [describeRef(ref, rule)]
  })

const assertNone = (violations: ReadonlyArray<string>, title: string) =>
  assert.deepStrictEqual(violations, [], `${title}:\n  ${violations.join("\n  ")}`)

/** L7: src/node and the command line in src/cli, which may use Node directly. */
const isL7 = (file: string) => layerOf(file) === "node" || layerOf(file) === "cli"
const below = (s: SourceFile) => !isL7(s.file)

// ---- code checks (identifiers, not comments) ----

const walk = (node: ts.Node, f: (n: ts.Node) => void): void => {
  f(node)
  ts.forEachChild(node, (c) => walk(c, f))
}

/** True when `id` names a property or member rather than referring to a binding in scope. */
const isMemberName = (id: ts.Identifier): boolean => {
  const p = id.parent
  return (ts.isPropertyAccessExpression(p) && p.name === id) ||
    (ts.isQualifiedName(p) && p.right === id) ||
    ((ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) ||
      ts.isMethodDeclaration(p) || ts.isMethodSignature(p) || ts.isGetAccessorDeclaration(p) ||
      ts.isSetAccessorDeclaration(p) || ts.isEnumMember(p)) && p.name === id)
}

const GLOBAL_OBJECTS = new Set(["globalThis", "global", "window", "self"])
const FORBIDDEN_GLOBALS = new Set(["Buffer", "process"])

const nodeGlobalUses = (s: SourceFile): Array<string> => {
  const out: Array<string> = []
  const at = (n: ts.Node, what: string) => out.push(`src/${s.file}:${lineOf(s.ast, n)} uses ${what}`)
  walk(s.ast, (n) => {
    if (ts.isIdentifier(n) && FORBIDDEN_GLOBALS.has(n.text) && !isMemberName(n)) at(n, n.text)
    if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression)) {
      if (GLOBAL_OBJECTS.has(n.expression.text) && FORBIDDEN_GLOBALS.has(n.name.text)) {
        at(n, `${n.expression.text}.${n.name.text}`)
      }
      if (n.expression.text === "Math" && n.name.text === "random") at(n, "Math.random")
    }
    if (
      ts.isElementAccessExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === "Math" &&
      ts.isStringLiteralLike(n.argumentExpression) && n.argumentExpression.text === "random"
    ) at(n, "Math.random")
  })
  return out
}

// ---- the import graph ----

const graph = (includeTypeOnly: boolean): Map<string, Set<string>> => {
  const g = new Map<string, Set<string>>(sources.map((s) => [s.file, new Set<string>()]))
  for (const ref of allImports) {
    if (ref.target === undefined || !g.has(ref.target) || (ref.typeOnly && !includeTypeOnly)) continue
    g.get(ref.file)!.add(ref.target)
  }
  return g
}

/** Every elementary cycle found by a DFS (one per back edge), each rotated to start at its smallest file. */
const cycles = (g: Map<string, Set<string>>): Array<Array<string>> => {
  const state = new Map<string, "open" | "done">()
  const stack: Array<string> = []
  const found = new Map<string, Array<string>>()
  const dfs = (v: string): void => {
    state.set(v, "open")
    stack.push(v)
    for (const w of [...g.get(v)!].sort()) {
      const st = state.get(w)
      if (st === "open") {
        const cycle = stack.slice(stack.indexOf(w))
        const start = cycle.indexOf([...cycle].sort()[0]!)
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)]
        found.set(rotated.join(" → "), rotated)
      } else if (st === undefined) {
        dfs(w)
      }
    }
    stack.pop()
    state.set(v, "done")
  }
  for (const v of [...g.keys()].sort()) if (!state.has(v)) dfs(v)
  return [...found.values()]
}

const showCycle = (c: ReadonlyArray<string>) => [...c, c[0]!].map((f) => `src/${f}`).join(" → ")

const lineCount = (s: SourceFile) => s.text.split("\n").length - (s.text.endsWith("\n") ? 1 : 0)

// ---- the tests ----

describe("architecture (STYLE.md §4)", () => {
  it("reads the source tree", () => {
    assert.isAbove(sources.length, 10)
    assert.isTrue(sources.some((s) => s.file === "index.ts"))
  })

  it("every file under src/ sits in a layer of STYLE.md §4", () => {
    assertNone(
      sources.filter((s) => layerOf(s.file) === undefined).map((s) => `src/${s.file}`),
      "files outside every layer (add the layer to STYLE.md §4 and to `check` in this test)"
    )
  })

  it("SshError.ts imports only effect/*", () => {
    assertNone(layerViolations(["SshError"]), "SshError.ts imports something besides effect/*")
  })

  it("wire/ (L0) imports only effect/Data, effect/Either, effect/Option and other wire/ files", () => {
    assertNone(layerViolations(["wire"]), "wire/ layer violations")
  })

  it("crypto/ and keys/ (L1) import only wire/, crypto/, keys/, SshError.ts, effect/*, @noble/*", () => {
    assertNone(layerViolations(["crypto", "keys", "config"]), "crypto/, keys/ and config/ layer violations")
  })

  it("transport/ (L2) imports only L0–L1, transport/, SshError.ts, effect/*, @effect/platform/Socket", () => {
    assertNone(layerViolations(["transport"]), "transport/ layer violations")
  })

  it("auth/, connection/ and the L5 directories follow their rows of STYLE.md §4", () => {
    assertNone(
      layerViolations(["auth", "connection", "session", "forward", "sftp", "agent", "scp"]),
      "L3–L5 layer violations"
    )
  })

  it("no queue between the socket and a channel: transport/ and connection/ import no Mailbox or Queue (DESIGN.md §6)", () => {
    assertNone(
      allImports
        .filter((ref) => /^(transport|connection)\//.test(ref.file) && /^effect\/(Mailbox|Queue)$/.test(ref.specifier))
        .map((ref) => `src/${ref.file}:${ref.line} imports "${ref.specifier}"`),
      "a Mailbox or Queue on the packet path"
    )
  })

  it("a transport's pull side is internal: only transport/ and the user-authentication drivers import it (issue 10)", () => {
    // After authentication every message goes to the connection layer synchronously (Transport.direct); before it,
    // ServerAuth and ClientAuth are the only readers, so no other code can take their messages.
    assertNone(
      allImports
        .filter((ref) =>
          ref.target === "transport/internal/receive.ts" && !ref.typeOnly && !ref.file.startsWith("transport/") &&
          ref.file !== "auth/internal/serverAuth.ts" && ref.file !== "auth/internal/clientAuth.ts"
        )
        .map((ref) => `src/${ref.file}:${ref.line} imports transport/internal/receive.ts`),
      "readers of the transport's pull side outside user authentication"
    )
  })

  it("client/, server/ and index.ts import nothing from src/node, node:* or @effect/platform-node", () => {
    assertNone(layerViolations(["client", "server", "index"]), "client/ server/ index.ts layer violations")
  })

  it("nothing below src/node and src/cli (L7) imports node:* (or a bare Node builtin)", () => {
    assertNone(
      allImports.filter((r) => r.target === undefined && isNodeBuiltin(r.specifier) && !isL7(r.file))
        .map((r) => describeRef(r, "node:* is allowed only in src/node")),
      "Node builtins imported below src/node"
    )
  })

  it("nothing below src/node and src/cli (L7) uses Buffer, process or Math.random", () => {
    assertNone(sources.filter(below).flatMap(nodeGlobalUses), "Node globals used below src/node")
  })

  it("only src/node/** and src/cli/** (L7) import @effect/platform-node", () => {
    assertNone(
      allImports.filter((r) => r.target === undefined && isPlatformNode(r.specifier) && !isL7(r.file))
        .map((r) => describeRef(r, "@effect/platform-node is allowed only in src/node")),
      "@effect/platform-node imported outside src/node"
    )
  })

  it("src/index.ts exports nothing from src/node, directly or through the modules it re-exports", () => {
    const g = graph(true)
    const seen = new Set<string>()
    const via = new Map<string, string>()
    const queue = ["index.ts"]
    while (queue.length > 0) {
      const f = queue.shift()!
      if (seen.has(f)) continue
      seen.add(f)
      for (const t of g.get(f) ?? []) {
        if (!via.has(t)) via.set(t, f)
        queue.push(t)
      }
    }
    const chain = (f: string): string => (f === "index.ts" ? "src/index.ts" : `${chain(via.get(f)!)} → src/${f}`)
    assertNone(
      [...seen].filter(isL7).map(chain),
      "src/index.ts reaches src/node or src/cli"
    )
  })

  it("no circular imports in src/ (runtime imports; `import type` is erased)", () => {
    const runtime = cycles(graph(false))
    assertNone(runtime.map(showCycle), "import cycles")
    const typeCycles = cycles(graph(true)).filter((c) => !runtime.some((r) => r.join() === c.join()))
    if (typeCycles.length > 0) {
      // Reported, not failed: the same rule as Effect's own `madge --circular` (detectiveOptions.ts.skipTypeImports).
      console.info(`cycles through type-only imports (erased at runtime):\n  ${typeCycles.map(showCycle).join("\n  ")}`)
    }
  })

  it(`no file in src/ is over ${HARD_LINES} lines (STYLE.md §1.6)`, () => {
    assertNone(
      sources.filter((s) => lineCount(s) > HARD_LINES).map((s) => `src/${s.file}: ${lineCount(s)} lines`),
      `files over the hard cap of ${HARD_LINES} lines`
    )
  })

  it(`reports files over the ${SOFT_LINES}-line target (does not fail)`, () => {
    const big = sources.filter((s) => lineCount(s) > SOFT_LINES)
    if (big.length > 0) {
      console.info(
        `files over ${SOFT_LINES} lines (target; hard cap ${HARD_LINES}):\n  ${
          big.map((s) => `src/${s.file}: ${lineCount(s)} lines`).join("\n  ")
        }`
      )
    }
  })

  it("no `any` type in src/", () => {
    assertNone(
      sources.flatMap((s) => {
        const out: Array<string> = []
        walk(s.ast, (n) => {
          if (n.kind === ts.SyntaxKind.AnyKeyword) {
            out.push(`src/${s.file}:${lineOf(s.ast, n)}: ${n.parent.getText(s.ast).slice(0, 80)}`)
          }
        })
        return out
      }),
      "`any` in src/"
    )
  })
})
