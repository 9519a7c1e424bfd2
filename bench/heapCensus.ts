/**
 * Where the memory of idle connections goes: runs the idle section (bench/idle.ts) for our server only, with
 * the server writing a V8 heap snapshot at each `rss` reading (BENCH_HEAP_SNAPSHOT), then compares the snapshot
 * with one connection and the one with N: objects per extra connection by constructor (count, self bytes), and
 * for the kinds that grew most, the retainer paths of a sample (what keeps them alive).
 *
 * Usage: `node bench/run.mjs heapCensus [--connections=200] [--top=40] [--paths=cons string,closure] [--tree=no]
 * [--tree-depth=6] [--tree-min=150] [--tree-groups=6] [--side=client] [--dir=SNAPSHOTS]` (`--dir`: analyse an earlier run's
 * snapshots; `--connections` must then be that run's). With the tree (default), the bytes are also attributed
 * by dominator: the groups of new objects by what holds them, and a sample of the biggest opened. `--side=client`
 * analyses the clients' process (this one) instead of the server's.
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
  /** Strong outgoing edges (weak ones left out), as (target, label). */
  readonly children: (i: number) => Array<{ readonly to: number; readonly edge: string }>
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
    children: (i) => {
      const out: Array<{ to: number; edge: string }> = []
      for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += ef) {
        if (edgeTypes[s.edges[e + eType]!] === "weak") continue
        out.push({ to: s.edges[e + eTo]! / nf, edge: edgeLabel(e) })
      }
      return out
    },
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

/**
 * Immediate dominators (Cooper, Harvey and Kennedy's iterative algorithm, over strong edges from the synthetic
 * root, node 0) and retained sizes: what would be freed with a node, so that a connection's bytes can be
 * attributed to what holds them.
 */
const dominators = (g: Graph) => {
  const n = g.count
  const order = new Int32Array(n).fill(-1) // postorder number
  const byOrder: Array<number> = []
  const kids: Array<Array<number>> = new Array(n)
  for (let i = 0; i < n; i++) kids[i] = g.children(i).map((c) => c.to)
  const stack: Array<number> = [0]
  const next = new Int32Array(n)
  const seen = new Uint8Array(n)
  seen[0] = 1
  while (stack.length > 0) {
    const v = stack[stack.length - 1]!
    const ks = kids[v]!
    if (next[v]! < ks.length) {
      const w = ks[next[v]!++]!
      if (seen[w] === 0) {
        seen[w] = 1
        stack.push(w)
      }
    } else {
      stack.pop()
      order[v] = byOrder.length
      byOrder.push(v)
    }
  }
  const preds: Array<Array<number>> = new Array(n)
  for (let i = 0; i < n; i++) preds[i] = []
  for (let v = 0; v < n; v++) if (seen[v] === 1) for (const w of kids[v]!) preds[w]!.push(v)
  const idom = new Int32Array(n).fill(-1)
  idom[0] = 0
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (order[a]! < order[b]!) a = idom[a]!
      while (order[b]! < order[a]!) b = idom[b]!
    }
    return a
  }
  for (let changed = true; changed;) {
    changed = false
    for (let k = byOrder.length - 2; k >= 0; k--) {
      const b = byOrder[k]!
      let d = -1
      for (const p of preds[b]!) {
        if (idom[p] === -1) continue
        d = d === -1 ? p : intersect(p, d)
      }
      if (d !== -1 && idom[b] !== d) {
        idom[b] = d
        changed = true
      }
    }
  }
  const retained = new Float64Array(n)
  for (const v of byOrder) retained[v]! += g.selfSize(v)
  for (const v of byOrder) if (v !== 0 && idom[v]! >= 0) retained[idom[v]!]! += retained[v]!
  return { idom, retained }
}

/** The label of an edge from `from` to `to`, if there is one. */
const edgeTo = (g: Graph, from: number, to: number) => g.children(from).find((c) => c.to === to)?.edge ?? "…"

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt
const connections = Number(opt("connections", "200"))
const top = Number(opt("top", "40"))
const pathKinds = opt("paths", "concatenated string").split(",")
const depth = Number(opt("depth", "7"))
// --dir=D: analyse the snapshots of an earlier run (D holds server-2/3.heapsnapshot) instead of measuring.
const reuse = opt("dir", "")
const dir = reuse !== "" ? reuse : fs.mkdtempSync(path.join(os.tmpdir(), "heap-census-"))
process.env["BENCH_HEAP_SNAPSHOT"] = dir

const measured = reuse !== ""
  ? Promise.resolve([{ connections }])
  : Effect.runPromise(runIdle({ connections, concurrency: 20, ssh2: false }))
measured.then((rows) => {
  const row = rows[0]
  if (row === undefined) throw new Error("our server could not be measured")
  const n = row.connections - 1
  console.log(`${row.connections} connections; snapshots in ${dir}`)
  // --side=client: the client process's snapshots (this process, written by bench/idle.ts at the same moments).
  const client = opt("side", "server") === "client"
  const g1 = load(path.join(dir, client ? "client-1.heapsnapshot" : "server-2.heapsnapshot"))
  const gN = load(path.join(dir, client ? "client-2.heapsnapshot" : "server-3.heapsnapshot"))
  const c1 = census(g1)
  const cN = census(gN)
  const rowsOut = [...cN].map(([k, v]) => {
    const b = c1.get(k) ?? { count: 0, bytes: 0 }
    return { k, count: (v.count - b.count) / n, bytes: (v.bytes - b.bytes) / n }
  }).sort((a, b) => b.bytes - a.bytes)
  const total = rowsOut.reduce((s, r) => s + r.bytes, 0)
  // Compiled code, feedback vectors and the like grow with warm-up, not with connections: reported apart.
  const objects = rowsOut.filter((r) => !r.k.startsWith("code")).reduce((s, r) => s + r.bytes, 0)
  console.log(
    `self bytes per extra connection: ${(total / 1024).toFixed(1)} KiB (${(objects / 1024).toFixed(1)} KiB without code)`
  )
  for (const r of rowsOut.slice(0, top)) {
    console.log(`${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(1).padStart(7)}×  ${r.k}`)
  }
  const ids1 = new Set<number>()
  for (let i = 0; i < g1.count; i++) ids1.add(g1.id(i))
  if (opt("tree", "yes") !== "no") {
    // Every new object whose immediate dominator is old is the top of a chunk the connections added; chunks
    // are grouped by (holder, edge, kind) with their retained bytes per connection, and the biggest groups
    // are opened one level per line for a sample, down to `--tree-depth`.
    const { idom, retained } = dominators(gN)
    const isNew = (i: number) => !ids1.has(gN.id(i))
    const groups = new Map<string, { bytes: number; count: number; sample: number }>()
    for (let i = 1; i < gN.count; i++) {
      if (!isNew(i) || idom[i]! < 0 || isNew(idom[i]!)) continue
      const d = idom[i]!
      const k = `${key(gN, d)} —${edgeTo(gN, d, i)}→ ${key(gN, i)}`
      const e = groups.get(k) ?? { bytes: 0, count: 0, sample: i }
      e.bytes += retained[i]!
      e.count++
      // The median-sized member is the sample (not a stray small or huge one).
      if (e.count % 2 === 1 && retained[i]! >= retained[e.sample]!) e.sample = i
      groups.set(k, e)
    }
    const sorted = [...groups].sort((a, b) => b[1].bytes - a[1].bytes)
    console.log(`\nwhere the new bytes hang (retained bytes per extra connection, by holder → edge → kind):`)
    for (const [k, e] of sorted.slice(0, 25)) {
      console.log(`${(e.bytes / n).toFixed(0).padStart(7)} B ${(e.count / n).toFixed(1).padStart(6)}×  ${k}`)
    }
    const treeDepth = Number(opt("tree-depth", "6"))
    const minBytes = Number(opt("tree-min", "150"))
    const kidsOf = new Map<number, Array<number>>()
    for (let i = 1; i < gN.count; i++) {
      if (idom[i]! < 0 || !isNew(i)) continue
      const a = kidsOf.get(idom[i]!) ?? []
      a.push(i)
      kidsOf.set(idom[i]!, a)
    }
    const show = (i: number, depth: number, indent: string, edge: string) => {
      console.log(`${indent}${retained[i]!.toFixed(0).padStart(6)} B  ${edge} ${key(gN, i)}`)
      if (depth >= treeDepth) return
      const ks = (kidsOf.get(i) ?? []).filter((c) => retained[c]! >= minBytes).sort((a, b) => retained[b]! - retained[a]!)
      for (const c of ks.slice(0, 12)) show(c, depth + 1, indent + "  ", edgeTo(gN, i, c))
    }
    if (opt("stack", "no") === "yes") {
      // The frames of the biggest new fiber, bottom up: each frame's kind and the names its closures see.
      let fiber = -1
      for (let i = 1; i < gN.count; i++) {
        if (isNew(i) && key(gN, i) === "object FiberRuntime" && (fiber < 0 || retained[i]! > retained[fiber]!)) fiber = i
      }
      const stackArr = fiber < 0 ? undefined : gN.children(fiber).find((c) => c.edge === "property:_stack")?.to
      const elems = stackArr === undefined ? [] : gN.children(gN.children(stackArr).find((c) => c.edge === "internal:elements")?.to ?? stackArr)
      console.log(`\nstack of the biggest new fiber (${fiber < 0 ? 0 : retained[fiber]!.toFixed(0)} B):`)
      const names = (i: number, depth: number): string => {
        const out: Array<string> = []
        for (const c of gN.children(i)) {
          if (c.edge.startsWith("context:")) out.push(c.edge.slice(8))
          else if (depth > 0 && (c.edge === "internal:context" || c.edge.startsWith("property:effect_instruction") || c.edge === "property:op")) {
            out.push(`${c.edge.replace("property:effect_instruction_", "").replace("internal:", "")}{${names(c.to, depth - 1)}}`)
          }
        }
        return out.join(" ")
      }
      for (const c of elems) {
        if (!c.edge.startsWith("element") && !c.edge.startsWith("internal:")) continue
        console.log(`${retained[c.to]!.toFixed(0).padStart(6)} B  ${c.edge} ${key(gN, c.to)} ${gN.name(c.to).slice(0, 30)}  ${names(c.to, 3).slice(0, 260)}`)
      }
    }
    // The members of the biggest groups by shape: their first property names, with retained bytes per connection.
    for (const [k] of sorted.slice(0, Number(opt("shapes", "3")))) {
      const shapes = new Map<string, number>()
      for (let i = 1; i < gN.count; i++) {
        if (!isNew(i) || idom[i]! < 0 || isNew(idom[i]!)) continue
        const d = idom[i]!
        if (`${key(gN, d)} —${edgeTo(gN, d, i)}→ ${key(gN, i)}` !== k) continue
        const props = gN.children(i).filter((c) => c.edge.startsWith("property:") || c.edge.startsWith("context:"))
          .map((c) => c.edge.replace(/^(property|context):/, "")).slice(0, 8).join(",")
        shapes.set(props, (shapes.get(props) ?? 0) + retained[i]!)
      }
      console.log(`\nshapes in ${k}:`)
      for (const [p, b] of [...shapes].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
        console.log(`${(b / n).toFixed(0).padStart(7)} B  {${p}}`)
      }
    }
    for (const [k, e] of sorted.slice(0, Number(opt("tree-groups", "6")))) {
      console.log(`\nsample of ${k}:`)
      show(e.sample, 0, "", "")
    }
  }
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
