/**
 * Where the memory of idle connections goes: runs the idle section (bench/idle.ts) for our server only, with
 * the server writing a V8 heap snapshot at each `rss` reading (BENCH_HEAP_SNAPSHOT), then compares the snapshot
 * with one connection and the one with N: objects per extra connection by constructor (count, self bytes), and
 * for the kinds that grew most, the retainer paths of a sample (what keeps them alive).
 *
 * Usage: `npx tsx bench/heapCensus.ts [--connections=200] [--top=40] [--paths=cons string,closure]`.
 * A diagnostic, not a test.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runIdle } from "./idle.js"

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: Array<string>; readonly node_types: Array<unknown>; readonly edge_fields: Array<string>; readonly edge_types: Array<unknown> } }
  readonly nodes: Array<number>
  readonly edges: Array<number>
  readonly strings: Array<string>
}

interface Graph {
  readonly count: number
  readonly type: (i: number) => string
  readonly name: (i: number) => string
  readonly selfSize: (i: number) => number
  readonly id: (i: number) => number
  readonly retainers: (i: number) => Array<{ readonly from: number; readonly edge: string }>
}

const load = (file: string): Graph => {
  const s = JSON.parse(fs.readFileSync(file, "utf8")) as Snapshot
  const meta = s.snapshot.meta
  const nf = meta.node_fields.length
  const ef = meta.edge_fields.length
  const nodeTypes = meta.node_types[0] as Array<string>
  const edgeTypes = meta.edge_types[0] as Array<string>
  const fType = meta.node_fields.indexOf("type")
  const fName = meta.node_fields.indexOf("name")
  const fId = meta.node_fields.indexOf("id")
  const fSize = meta.node_fields.indexOf("self_size")
  const fEdges = meta.node_fields.indexOf("edge_count")
  const eType = meta.edge_fields.indexOf("type")
  const eName = meta.edge_fields.indexOf("name_or_index")
  const eTo = meta.edge_fields.indexOf("to_node")
  const count = s.nodes.length / nf
  // Reverse edges: for each node, the (from, edge index) pairs pointing at it.
  const firstEdge = new Int32Array(count + 1)
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e
    e += s.nodes[i * nf + fEdges]! * ef
  }
  firstEdge[count] = s.edges.length
  const revStart = new Int32Array(count + 1)
  for (let e = 0; e < s.edges.length; e += ef) revStart[s.edges[e + eTo]! / nf + 1]!++
  for (let i = 0; i < count; i++) revStart[i + 1]! += revStart[i]!
  const revFrom = new Int32Array(s.edges.length / ef)
  const revEdge = new Int32Array(s.edges.length / ef)
  const fill = revStart.slice()
  for (let i = 0; i < count; i++) {
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += ef) {
      const to = s.edges[e + eTo]! / nf
      const k = fill[to]!++
      revFrom[k] = i
      revEdge[k] = e
    }
  }
  const edgeLabel = (e: number): string => {
    const t = edgeTypes[s.edges[e + eType]!]!
    const n = s.edges[e + eName]!
    return t === "element" || t === "hidden" ? `${t}[${n}]` : `${t}:${s.strings[n]}`
  }
  return {
    count,
    type: (i) => nodeTypes[s.nodes[i * nf + fType]!]!,
    name: (i) => s.strings[s.nodes[i * nf + fName]!]!,
    selfSize: (i) => s.nodes[i * nf + fSize]!,
    id: (i) => s.nodes[i * nf + fId]!,
    retainers: (i) => {
      const out: Array<{ from: number; edge: string }> = []
      for (let k = revStart[i]!; k < revStart[i + 1]!; k++) out.push({ from: revFrom[k]!, edge: edgeLabel(revEdge[k]!) })
      return out
    }
  }
}

const key = (g: Graph, i: number): string => {
  const t = g.type(i)
  if (t === "object" || t === "closure" || t === "native") return `${t} ${g.name(i).slice(0, 60)}`
  if (t === "string" || t === "concatenated string" || t === "sliced string") return t
  return `${t} ${g.name(i).slice(0, 40)}`
}

const census = (g: Graph) => {
  const m = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < g.count; i++) {
    const k = key(g, i)
    const e = m.get(k) ?? { count: 0, bytes: 0 }
    e.count++
    e.bytes += g.selfSize(i)
    m.set(k, e)
  }
  return m
}

/** One retainer path of node `i`, up to `depth` steps, skipping weak edges. */
const retainerPath = (g: Graph, i: number, depth: number): string => {
  const parts: Array<string> = []
  const seen = new Set<number>([i])
  let cur = i
  for (let d = 0; d < depth; d++) {
    const rs = g.retainers(cur).filter((r) => !r.edge.startsWith("weak") && !seen.has(r.from))
    if (rs.length === 0) break
    const r = rs[0]!
    parts.push(`${r.edge} ← ${key(g, r.from)}`)
    seen.add(r.from)
    cur = r.from
  }
  return parts.join("  ")
}

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt
const connections = Number(opt("connections", "200"))
const top = Number(opt("top", "40"))
const pathKinds = opt("paths", "concatenated string").split(",")
const depth = Number(opt("depth", "7"))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heap-census-"))
process.env["BENCH_HEAP_SNAPSHOT"] = dir

Effect.runPromise(runIdle({ connections, concurrency: 20, ssh2: false })).then((rows) => {
  const row = rows[0]
  if (row === undefined) throw new Error("our server could not be measured")
  const n = row.connections - 1
  console.log(`${row.connections} connections; snapshots in ${dir}`)
  const g1 = load(path.join(dir, "server-2.heapsnapshot"))
  const gN = load(path.join(dir, "server-3.heapsnapshot"))
  const c1 = census(g1)
  const cN = census(gN)
  const rowsOut = [...cN].map(([k, v]) => {
    const b = c1.get(k) ?? { count: 0, bytes: 0 }
    return { k, count: (v.count - b.count) / n, bytes: (v.bytes - b.bytes) / n }
  }).sort((a, b) => b.bytes - a.bytes)
  const total = rowsOut.reduce((s, r) => s + r.bytes, 0)
  console.log(`self bytes per extra connection: ${(total / 1024).toFixed(1)} KiB`)
  for (const r of rowsOut.slice(0, top)) {
    console.log(`${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(1).padStart(7)}×  ${r.k}`)
  }
  const ids1 = new Set<number>()
  for (let i = 0; i < g1.count; i++) ids1.add(g1.id(i))
  for (const kind of pathKinds) {
    console.log(`\nretainers of new "${kind}" (sample):`)
    const paths = new Map<string, number>()
    let sampled = 0
    for (let i = 0; i < gN.count && sampled < 4000; i++) {
      if (ids1.has(gN.id(i)) || !key(gN, i).startsWith(kind)) continue
      sampled++
      const p = retainerPath(gN, i, depth)
      paths.set(p, (paths.get(p) ?? 0) + 1)
    }
    for (const [p, c] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${String(c).padStart(4)}  ${p}`)
  }
}).catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
