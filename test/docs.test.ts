/**
 * The JSDoc rule of STYLE.md §11 on the public API: every export of every module that `src/index.ts` and
 * `src/node/index.ts` re-export has a JSDoc comment with `@since`, a one-sentence summary and a `@category`
 * (checked separately). The modules and their exports are found with the TypeScript type checker, so
 * re-exports (`export * from`, `export { x } from`) are followed to the file that declares them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as path from "node:path"
import ts from "typescript"

const ROOT = path.resolve(import.meta.dirname, "..")
const ENTRIES = ["src/index.ts", "src/node/index.ts"].map((f) => path.join(ROOT, f))

const configFile = ts.readConfigFile(path.join(ROOT, "tsconfig.json"), ts.sys.readFile)
const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT)
const program = ts.createProgram({ rootNames: ENTRIES, options: { ...options, noEmit: true } })
const checker = program.getTypeChecker()

const relPath = (file: string) => path.relative(ROOT, file).split(path.sep).join("/")

/** The statement a declaration's JSDoc is written on (`export const a = …` documents the statement). */
const hostOf = (decl: ts.Node): ts.Node => {
  if (ts.isVariableDeclaration(decl)) return decl.parent.parent
  if (ts.isNamespaceExport(decl) || ts.isExportSpecifier(decl)) return ts.findAncestor(decl, ts.isExportDeclaration)!
  return decl
}

/** The text of the JSDoc blocks (`/** … *\/`) directly before the declaration's statement. */
const jsDocOf = (decl: ts.Node): string => {
  const host = hostOf(decl)
  const text = host.getSourceFile().getFullText()
  return (ts.getLeadingCommentRanges(text, host.getFullStart()) ?? [])
    .map((r) => text.slice(r.pos, r.end))
    .filter((c) => c.startsWith("/**"))
    .join("\n")
}

interface Export {
  /** `Module.name`, as users see it. */
  readonly name: string
  /** Where it is declared: `src/…:line`. */
  readonly at: string
  readonly doc: string
}

const declarationsOf = (symbol: ts.Symbol): ReadonlyArray<ts.Declaration> => {
  const decls = symbol.declarations ?? []
  // Overloads are one export: the JSDoc on any signature documents it.
  const functions = decls.filter(ts.isFunctionDeclaration)
  const documented = functions.find((f) => jsDocOf(f) !== "") ?? functions[0]
  return decls.filter((d) => !ts.isFunctionDeclaration(d) || d === documented)
}

const describeDecl = (name: string, decl: ts.Declaration): Export => {
  const sf = decl.getSourceFile()
  const line = sf.getLineAndCharacterOfPosition(hostOf(decl).getStart(sf)).line + 1
  return { name, at: `${relPath(sf.fileName)}:${line}`, doc: jsDocOf(decl) }
}

const resolve = (symbol: ts.Symbol): ts.Symbol =>
  (symbol.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(symbol) : symbol

const isModule = (symbol: ts.Symbol): boolean =>
  (symbol.declarations ?? []).some((d) => ts.isSourceFile(d))

/** Public modules: every `export * as X from "./m.js"` of the entry points, with the export statement itself. */
const entryExports: Array<Export> = []
const publicModules = new Map<string, ts.Symbol>()
for (const entry of ENTRIES) {
  const sf = program.getSourceFile(entry)!
  const moduleSymbol = checker.getSymbolAtLocation(sf)!
  for (const exp of checker.getExportsOfModule(moduleSymbol)) {
    for (const decl of exp.declarations ?? []) entryExports.push(describeDecl(`${relPath(entry)}: ${exp.name}`, decl))
    const target = resolve(exp)
    if (isModule(target)) publicModules.set(exp.name, target)
  }
}

const moduleExports: Array<Export> = [...publicModules].flatMap(([moduleName, moduleSymbol]) =>
  checker.getExportsOfModule(moduleSymbol).flatMap((exp) =>
    declarationsOf(resolve(exp)).map((decl) => describeDecl(`${moduleName}.${exp.name}`, decl))
  )
)

/** The description before the first block tag, with the comment markers removed. */
const summaryOf = (doc: string): string =>
  doc.split("\n")
    .map((line) => line.replace(/^\s*\/\*\*\s?|\s*\*\/\s*$|^\s*\*\s?/g, ""))
    .join("\n")
    .split(/^@/m)[0]!
    .trim()

const missing = (exports: ReadonlyArray<Export>, tag: string) =>
  exports.filter((e) => !new RegExp(`@${tag}\\b`).test(e.doc)).map((e) => `${e.name} (${e.at})`)

const assertNone = (violations: ReadonlyArray<string>, title: string) =>
  assert.deepStrictEqual(violations, [], `${title}:\n  ${violations.join("\n  ")}`)

describe("JSDoc on the public API (STYLE.md §11)", () => {
  it("finds the public modules of effect-ssh and effect-ssh/node", () => {
    assert.includeMembers([...publicModules.keys()], ["Transport", "SshError", "Crypto", "NodeCrypto", "NodeTransport"])
    assert.isAbove(moduleExports.length, 50)
  })

  it("every `export * as` of the entry points has JSDoc with @since", () => {
    assertNone(missing(entryExports, "since"), "entry point exports without @since")
  })

  it("every export of a public module has JSDoc with @since", () => {
    assertNone(missing(moduleExports, "since"), "public exports without JSDoc @since")
  })

  it("every export of a public module has a summary sentence before its tags", () => {
    assertNone(
      moduleExports.filter((e) => e.doc !== "" && summaryOf(e.doc) === "").map((e) => `${e.name} (${e.at})`),
      "public exports whose JSDoc has no summary"
    )
  })

  it("every export of a public module has a @category", () => {
    assertNone(missing(moduleExports, "category"), "public exports without @category")
  })
})
