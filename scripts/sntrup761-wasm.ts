/**
 * Generates src/crypto/kex/sntrup761/WasmModule.ts: the two hot loops of sntrup761 key generation and
 * decapsulation as one small WebAssembly module with fixed-width SIMD (four 32-bit lanes), written here
 * instruction by instruction with scripts/wasm/Assembler.ts.
 *
 *   npx tsx scripts/sntrup761-wasm.ts           rewrites the generated file
 *   npx tsx scripts/sntrup761-wasm.ts --check   exits 1 when the checked-in file differs (test/unit/crypto does too)
 *
 * - "s"(fLen, vLen, swap, f0, g0): the vector part of one divstep of `rqRecip3` (src/crypto/kex/sntrup761/Arith.ts,
 *   Bernstein–Yang as the NTRU Prime reference uses it): over i < fLen, f[i] ⇄ g[i] under the mask `swap` and
 *   g[i−1] = f0·g[i] − g0·f[i]; over i < vLen, from the top down, v[i] = v[i−1] (v ← x·v) ⇄ r[i] under `swap` and
 *   r[i] = f0·r[i] − g0·v[i]; every result reduced to its centred representative mod q by `freezeQ`'s three Barrett
 *   steps. The caller runs the scalar part of the step (δ, the swap mask, f0 and g0) and clears g[fLen − 1].
 *   Lanes past fLen or vLen are computed too (the lengths are rounded up to four): those past fLen only write
 *   entries that no later step reads (fLen never grows), those past vLen compute zeros from zeros, and above p
 *   they only feed higher indices, which the result never reads.
 * - "t"(swap, cNz, cSg): the vector part of one step of `r3Recip`'s bitsliced divsteps in R/3 (see `ternary`).
 * - "p"(): the schoolbook product fg = f·g of `rqMultSmall` before the reduction mod x^p − x − 1: for each i,
 *   fg[i…i+p) += f[i]·g[0…p), four products per instruction. Sums stay below 761·2295 < 2^21.
 *
 * Every loop runs over lengths the caller derives from the step number only; no branch or memory address depends
 * on a coefficient (the arrays are secret during key generation and decapsulation).
 *
 * Products fit in 32 bits: coefficients are centred below q/2 = 2295.5, so f0·g − g0·f stays below 2·2295² < 2^24,
 * and each Barrett product (14·x, 228·x, 58470·x) stays below 2^31 for the x it sees.
 */
import * as fs from "node:fs"
import { pathToFileURL } from "node:url"
import { assemble, Ctl, Func, get, I32, I32T, set, uleb, V128, V128T } from "./wasm/Assembler.js"

/**
 * Byte offsets in the module's memory: f, g, v, r of the divsteps (each 16 bytes after its region start, so that
 * v[−1] reads a zero), and the product's f, g and fg; one 64 KiB page.
 */
export const LAYOUT = {
  f: 16,
  g: 4096 + 16,
  v: 8192 + 16,
  r: 12288 + 16,
  mf: 16384,
  mg: 16384 + 4096,
  mo: 16384 + 8192,
  t: 32768,
  pages: 1
} as const

const P = 761
const Q = 4591

// Instructions the shared assembler does not list (WebAssembly Core Specification 2.0, §5.4.5 and §5.4.8).
const simd = (op: number, ...imm: ReadonlyArray<number>): Array<number> => [0xfd, ...uleb(op), ...imm]
const I32Ops = {
  /** i32.load / i32.store with a static offset, 4-byte alignment (§5.4.6). */
  load: (offset: number) => [0x28, 2, ...uleb(offset)],
  store: (offset: number) => [0x36, 2, ...uleb(offset)],
  ltS: [0x48],
  geS: [0x4e],
  and: [0x71],
  or: [0x72],
  shl: [0x74],
  shrU: [0x76]
} as const
const V = {
  /** v128.andnot: a & ~b. */
  andnot: simd(0x4f),
  /** v128.load32_splat (§5.4.8), no alignment hint. */
  load32Splat: (offset: number) => simd(0x09, 0, ...uleb(offset)),
  xor: simd(0x51),
  i32x4ShrS: simd(0xac),
  i32x4Add: simd(0xae),
  i32x4Sub: simd(0xb1),
  i32x4Mul: simd(0xb5)
} as const

interface Consts {
  readonly q: number
  readonly c14: number
  readonly c228: number
  readonly c58470: number
  readonly half28: number
}

const splatConsts = (f: Func): Consts => {
  const c = { q: f.local(V128T), c14: f.local(V128T), c228: f.local(V128T), c58470: f.local(V128T), half28: f.local(V128T) }
  f.emit(I32.const(Q), V128.i32x4Splat, set(c.q))
  f.emit(I32.const(14), V128.i32x4Splat, set(c.c14))
  f.emit(I32.const(228), V128.i32x4Splat, set(c.c228))
  f.emit(I32.const(58470), V128.i32x4Splat, set(c.c58470))
  f.emit(I32.const(0x8000000), V128.i32x4Splat, set(c.half28))
  return c
}

/** x ← freezeQ(x) on four lanes: x −= q·⌊14x/2^16⌋; x −= q·⌊228x/2^20⌋; x −= q·⌊(58470x + 2^27)/2^28⌋. */
const freeze = (f: Func, x: number, c: Consts): void => {
  f.emit(get(x), get(x), get(c.c14), V.i32x4Mul, I32.const(16), V.i32x4ShrS, get(c.q), V.i32x4Mul, V.i32x4Sub, set(x))
  f.emit(get(x), get(x), get(c.c228), V.i32x4Mul, I32.const(20), V.i32x4ShrS, get(c.q), V.i32x4Mul, V.i32x4Sub, set(x))
  f.emit(
    get(x),
    get(x), get(c.c58470), V.i32x4Mul, get(c.half28), V.i32x4Add, I32.const(28), V.i32x4ShrS,
    get(c.q), V.i32x4Mul,
    V.i32x4Sub,
    set(x)
  )
}

/** "s": one divstep's vector part (see the header). */
const divstep = (): Func => {
  const f = new Func([I32T, I32T, I32T, I32T, I32T])
  const [fLen, vLen, swap, f0, g0] = [0, 1, 2, 3, 4]
  const i = f.local(I32T)
  const addr = f.local(I32T)
  const [swapV, f0V, g0V, a, b, t, x] = f.localsOf(V128T, 7)
  const c = splatConsts(f)
  f.emit(get(swap), V128.i32x4Splat, set(swapV))
  f.emit(get(f0), V128.i32x4Splat, set(f0V))
  f.emit(get(g0), V128.i32x4Splat, set(g0V))
  // Four lanes at element i: a = A[i], b = B[i] swapped under the mask; A'[i] = a, B'[i] = freeze(f0·b − g0·a).
  const update = (at: { readonly a: number; readonly b: number; readonly aOut: number; readonly bOut: number }) => {
    f.emit(get(i), I32.const(2), I32Ops.shl, set(addr))
    f.emit(get(addr), V128.load(at.a), set(a))
    f.emit(get(addr), V128.load(at.b), set(b))
    f.emit(get(a), get(b), V.xor, get(swapV), V128.and, set(t))
    f.emit(get(a), get(t), V.xor, set(a))
    f.emit(get(b), get(t), V.xor, set(b))
    f.emit(get(addr), get(a), V128.store(at.aOut))
    f.emit(get(f0V), get(b), V.i32x4Mul, get(g0V), get(a), V.i32x4Mul, V.i32x4Sub, set(x))
    freeze(f, x, c)
    f.emit(get(addr), get(x), V128.store(at.bOut))
  }
  // for (i = 1; i < fLen; i += 4): swap f[i], g[i]; g[i − 1] = freeze(f0·g[i] − g0·f[i]).
  f.emit(I32.const(1), set(i))
  f.emit(Ctl.block, Ctl.loop)
  f.emit(get(i), get(fLen), I32Ops.geS, Ctl.brIf(1))
  update({ a: LAYOUT.f, b: LAYOUT.g, aOut: LAYOUT.f, bOut: LAYOUT.g - 4 })
  f.emit(get(i), I32.const(4), I32.add, set(i), Ctl.br(0))
  f.emit(Ctl.end, Ctl.end)
  // for (i = ⌈vLen/4⌉·4 − 4; i ≥ 0; i −= 4): v[i] = v[i − 1] ⇄ r[i]; r[i] = freeze(f0·r[i] − g0·v[i]).
  f.emit(get(vLen), I32.const(3), I32.add, I32.const(-4), I32Ops.and, I32.const(4), I32.sub, set(i))
  f.emit(Ctl.block, Ctl.loop)
  f.emit(get(i), I32.const(0), I32Ops.ltS, Ctl.brIf(1))
  update({ a: LAYOUT.v - 4, b: LAYOUT.r, aOut: LAYOUT.v, bOut: LAYOUT.r })
  f.emit(get(i), I32.const(4), I32.sub, set(i), Ctl.br(0))
  f.emit(Ctl.end, Ctl.end)
  return f
}

/** "p": fg[i + j] += f[i]·g[j] for i < p and j < ⌈p/4⌉·4 (g is zero past p). */
const product = (): Func => {
  const f = new Func([])
  const i = f.local(I32T)
  const j = f.local(I32T)
  const out = f.local(I32T)
  const fi = f.local(V128T)
  f.emit(I32.const(0), set(i))
  f.emit(Ctl.block, Ctl.loop)
  f.emit(get(i), I32.const(P), I32Ops.geS, Ctl.brIf(1))
  f.emit(get(i), I32.const(2), I32Ops.shl, V.load32Splat(LAYOUT.mf), set(fi))
  f.emit(I32.const(0), set(j))
  f.emit(Ctl.block, Ctl.loop)
  f.emit(get(j), I32.const(P), I32Ops.geS, Ctl.brIf(1))
  f.emit(get(i), get(j), I32.add, I32.const(2), I32Ops.shl, set(out))
  f.emit(
    get(out),
    get(out), V128.load(LAYOUT.mo),
    get(fi), get(j), I32.const(2), I32Ops.shl, V128.load(LAYOUT.mg), V.i32x4Mul,
    V.i32x4Add,
    V128.store(LAYOUT.mo)
  )
  f.emit(get(j), I32.const(4), I32.add, set(j), Ctl.br(0))
  f.emit(Ctl.end, Ctl.end)
  f.emit(get(i), I32.const(1), I32.add, set(i), Ctl.br(0))
  f.emit(Ctl.end, Ctl.end)
  return f
}

/** 32-bit words of a bitsliced R/3 polynomial of p + 1 coefficients (Arith.ts `r3Recip`). */
const WORDS = 24
/** The eight bit vectors of "t", 128 bytes apart: f, g, v, r, each as (non-zero, sign). */
const T = ["fNz", "fSg", "gNz", "gSg", "vNz", "vSg", "rNz", "rSg"] as const
const at = (name: typeof T[number]): number => LAYOUT.t + 128 * T.indexOf(name)

/**
 * "t"(swap, cNz, cSg): the vector part of one step of the bitsliced R/3 reciprocal (Arith.ts `r3Recip`): v ← x·v
 * (bits past p dropped), f ⇄ g and v ⇄ r under `swap`, g += c·f and r += c·v with c = (cNz, cSg) as masks (F3
 * addition of two bit vectors, see `addNz`/`addSg` there), g ← g/x.
 */
const ternary = (): Func => {
  const f = new Func([I32T, I32T, I32T])
  const [swap, cNz, cSg] = [0, 1, 2]
  const j = f.local(I32T)
  const [swapV, cNzV, cSgV, a, b, t, an, as, bn, bs, same] = f.localsOf(V128T, 11)
  f.emit(get(swap), V128.i32x4Splat, set(swapV))
  f.emit(get(cNz), V128.i32x4Splat, set(cNzV))
  f.emit(get(cSg), V128.i32x4Splat, set(cSgV))
  // v ← x·v: for j = 23…1, v[j] = v[j] << 1 | v[j − 1] >>> 31; then v[0] <<= 1; the top word keeps 26 bits.
  f.emit(I32.const(4 * (WORDS - 1)), set(j))
  f.emit(Ctl.block, Ctl.loop)
  f.emit(get(j), I32.const(1), I32Ops.ltS, Ctl.brIf(1))
  for (const name of ["vNz", "vSg"] as const) {
    f.emit(
      get(j),
      get(j), I32Ops.load(at(name)), I32.const(1), I32Ops.shl,
      get(j), I32Ops.load(at(name) - 4), I32.const(31), I32Ops.shrU,
      I32Ops.or,
      I32Ops.store(at(name))
    )
  }
  f.emit(get(j), I32.const(4), I32.sub, set(j), Ctl.br(0))
  f.emit(Ctl.end, Ctl.end)
  for (const name of ["vNz", "vSg"] as const) {
    f.emit(I32.const(0), I32.const(0), I32Ops.load(at(name)), I32.const(1), I32Ops.shl, I32Ops.store(at(name)))
    const top = at(name) + 4 * (WORDS - 1)
    f.emit(I32.const(0), I32.const(0), I32Ops.load(top), I32.const((1 << ((P + 1) & 31)) - 1), I32Ops.and, I32Ops.store(top))
  }
  // Four words per instruction over the 96 bytes of each vector: the swap, then g += c·f and r += c·v.
  f.emit(I32.const(0), set(j))
  f.emit(Ctl.block, Ctl.loop)
  f.emit(get(j), I32.const(4 * WORDS), I32Ops.geS, Ctl.brIf(1))
  for (const [x, y] of [["fNz", "gNz"], ["fSg", "gSg"], ["vNz", "rNz"], ["vSg", "rSg"]] as const) {
    f.emit(get(j), V128.load(at(x)), set(a))
    f.emit(get(j), V128.load(at(y)), set(b))
    f.emit(get(a), get(b), V.xor, get(swapV), V128.and, set(t))
    f.emit(get(j), get(a), get(t), V.xor, V128.store(at(x)))
    f.emit(get(j), get(b), get(t), V.xor, V128.store(at(y)))
  }
  for (const [xNz, xSg, yNz, ySg] of [["fNz", "fSg", "gNz", "gSg"], ["vNz", "vSg", "rNz", "rSg"]] as const) {
    // a = c·x (non-zero and sign bits), b = y; y ← b + a.
    f.emit(get(j), V128.load(at(xNz)), get(cNzV), V128.and, set(an))
    f.emit(get(j), V128.load(at(xSg)), get(cSgV), V.xor, get(an), V128.and, set(as))
    f.emit(get(j), V128.load(at(yNz)), set(bn))
    f.emit(get(j), V128.load(at(ySg)), set(bs))
    // same = both non-zero with equal signs (their sum is −b).
    f.emit(get(bn), get(an), V128.and, get(bs), get(as), V.xor, V.andnot, set(same))
    f.emit(get(j), get(bn), get(an), V.xor, get(same), V128.or, V128.store(at(yNz)))
    f.emit(
      get(j),
      get(bs), get(an), V.andnot,
      get(as), get(bn), V.andnot,
      V128.or,
      get(same), get(bs), V.andnot,
      V128.or,
      V128.store(at(ySg))
    )
  }
  f.emit(get(j), I32.const(16), I32.add, set(j), Ctl.br(0))
  f.emit(Ctl.end, Ctl.end)
  // g ← g/x: for j = 0…22, g[j] = g[j] >>> 1 | g[j + 1] << 31; then g[23] >>>= 1.
  f.emit(I32.const(0), set(j))
  f.emit(Ctl.block, Ctl.loop)
  f.emit(get(j), I32.const(4 * (WORDS - 1)), I32Ops.geS, Ctl.brIf(1))
  for (const name of ["gNz", "gSg"] as const) {
    f.emit(
      get(j),
      get(j), I32Ops.load(at(name)), I32.const(1), I32Ops.shrU,
      get(j), I32Ops.load(at(name) + 4), I32.const(31), I32Ops.shl,
      I32Ops.or,
      I32Ops.store(at(name))
    )
  }
  f.emit(get(j), I32.const(4), I32.add, set(j), Ctl.br(0))
  f.emit(Ctl.end, Ctl.end)
  for (const name of ["gNz", "gSg"] as const) {
    const top = at(name) + 4 * (WORDS - 1)
    f.emit(I32.const(0), I32.const(0), I32Ops.load(top), I32.const(1), I32Ops.shrU, I32Ops.store(top))
  }
  return f
}

/** The module's bytes. */
export const module = (): Uint8Array =>
  assemble(LAYOUT.pages, [["s", divstep()], ["p", product()], ["t", ternary()]])

const toBase64 = (b: Uint8Array): string => Buffer.from(b).toString("base64")
const wrap = (s: string): string => s.replace(/.{1,100}/g, (line) => `  "${line}" +\n`).replace(/ \+\n$/, "\n")

/** The text of src/crypto/kex/sntrup761/WasmModule.ts. */
export const render = (): string => {
  const bytes = module()
  return `/**
 * GENERATED by scripts/sntrup761-wasm.ts from its instruction listing — do not edit; rerun the script instead
 * (test/unit/crypto/Sntrup761.test.ts checks that it reproduces these bytes). The sntrup761 divstep and product
 * kernels as WebAssembly with fixed-width SIMD, base64: see the script for what they compute and why nothing
 * overflows.
 *
 * @since 0.1.0
 */

/**
 * Byte offsets in the module's memory: the divsteps' f, g, v, r (int32 coefficients) and the product's f, g, fg;
 * \`pages\` of 64 KiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const LAYOUT = ${JSON.stringify(LAYOUT).replace(/"/g, "").replace(/:/g, ": ").replace(/,/g, ", ").replace(/^\{/, "{ ").replace(/\}$/, " }")} as const

/**
 * The module (${bytes.length} bytes): exports memory "m", "s"(fLen, vLen, swap, f0, g0), "p"() and
 * "t"(swap, cNz, cSg).
 *
 * @since 0.1.0
 * @category constants
 */
export const MODULE_BASE64 =
${wrap(toBase64(bytes))}`
}

/** Where the generated module lives. */
export const TARGET = new URL("../src/crypto/kex/sntrup761/WasmModule.ts", import.meta.url)

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const text = render()
  if (process.argv.includes("--check")) {
    const same = fs.existsSync(TARGET) && fs.readFileSync(TARGET, "utf8") === text
    console.log(same ? "up to date" : "src/crypto/kex/sntrup761/WasmModule.ts differs from the generator")
    process.exitCode = same ? 0 : 1
  } else {
    fs.writeFileSync(TARGET, text)
    console.log(`wrote ${TARGET.pathname}`)
  }
}
