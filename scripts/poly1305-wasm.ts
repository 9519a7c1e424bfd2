/**
 * Generates src/crypto/cipher/poly1305/WasmModules.ts: the Poly1305 block kernels (RFC 8439 §2.5) as two small
 * WebAssembly modules, written here instruction by instruction with scripts/wasm/Assembler.ts.
 *
 *   npx tsx scripts/poly1305-wasm.ts           rewrites the generated file
 *   npx tsx scripts/poly1305-wasm.ts --check   exits 1 when the checked-in file differs (test/unit/crypto does too)
 *
 * Arithmetic: poly1305-donna-32's, five 26-bit limbs with 64-bit products, reducing with 2^130 ≡ 5 (mod p).
 * - "b"(start, len, hibit), both modules: scalar, one 16-byte block at a time, `h = (h + m)·r`.
 * - "v"(start, len), SIMD module only: two blocks per step in the two 64-bit lanes of a v128 (lane 0 takes the
 *   odd blocks, lane 1 the even ones), each lane `h = (h + m)·r²`; the last step multiplies lane 0 by r² and
 *   lane 1 by r, so that lane 0 + lane 1 is the sequential result. `i64x2.extmul_low_i32x4_u` gives two 32×32→64
 *   products per instruction. Needs `len` a multiple of 32, at least 32.
 * Both read r (clamped, 26-bit limbs), 5·r and h from the layout below and leave h there with h0 < 2^26 and the
 * other limbs below 2^26 + 2^9: partially reduced; the caller finishes mod p and adds s.
 *
 * No branch or memory address depends on the key or the message: loops run over lengths only.
 *
 * Speed (V8 11 on x64, `npx tsx bench/poly1305.ts`): V8 lowers each extmul to two unpacks and a `vpmuludq`, so
 * the SIMD loop is 181 instructions per 32 bytes and runs about 1.5× the scalar loop (≈ 2.4 GB/s against 1.6 GB/s
 * on 32 KiB; OpenSSH's C poly1305-donna, `gcc -O2`, 1.56 GB/s on the same machine). The SIMD module stays below
 * 4 KiB, which browsers compile synchronously on the main thread.
 *
 * Bounds (why 64 bits never overflow): limbs of h + m stay below 2^27.01, of r and r² below 2^26.01, of 5·r and
 * 5·r² below 2^28.33; a column sums five products, < 2^57.7. Carries are below 2^32 before the ×5 wrap.
 */
import * as fs from "node:fs"
import { pathToFileURL } from "node:url"
import { assemble, Ctl, Func, get, I32, I32T, I64, I64T, set, tee, V128, V128T } from "./wasm/Assembler.js"

/** Byte offsets in the modules' memory; the runtime reads them from the generated file. */
export const LAYOUT = { r: 0, s: 20, h: 40, table: 64, tag: 448, message: 512, chunk: 65536, pages: 2 } as const

const M26 = 0x3ffffff

/**
 * d_k = Σ a_i · (i ≤ k ? r_{k−i} : s_{5+k−i}) for k = 0…4 (since 2^130 ≡ 5, limb products that reach 2^130 come
 * back times 5), then one carry pass into `out`: out_k = d_k mod 2^26, the top carry wrapped around times 5.
 */
const mulMod = (
  f: Func,
  a: ReadonlyArray<number>,
  r: ReadonlyArray<number>,
  s: ReadonlyArray<number>,
  d: ReadonlyArray<number>,
  c: number,
  out: ReadonlyArray<number>
): void => {
  for (let k = 0; k < 5; k++) {
    for (let i = 0; i < 5; i++) {
      f.emit(get(a[i]!), get(i <= k ? r[k - i]! : s[5 + k - i]!), I64.mul)
      if (i > 0) f.emit(I64.add)
    }
    f.emit(set(d[k]!))
  }
  for (let k = 0; k < 5; k++) {
    f.emit(get(d[k]!), I64.const(26), I64.shrU, set(c))
    f.emit(get(d[k]!), I64.const(M26), I64.and, set(out[k]!))
    if (k < 4) f.emit(get(d[k + 1]!), get(c), I64.add, set(d[k + 1]!))
  }
  f.emit(get(out[0]!), get(c), I64.const(5), I64.mul, I64.add, set(out[0]!))
  f.emit(get(out[0]!), I64.const(26), I64.shrU, set(c))
  f.emit(get(out[0]!), I64.const(M26), I64.and, set(out[0]!))
  f.emit(get(out[1]!), get(c), I64.add, set(out[1]!))
}

/** Loads five uint32 limbs from `offset` (s has no limb 0: 5·r0 is never needed). */
const loadLimbs = (f: Func, offset: number, into: ReadonlyArray<number>, from = 0): void => {
  for (let i = from; i < 5; i++) f.emit(I32.const(0), I64.load32U(offset + 4 * i), set(into[i]!))
}

const storeLimbs = (f: Func, offset: number, from: ReadonlyArray<number>): void => {
  for (let i = 0; i < 5; i++) f.emit(I32.const(0), get(from[i]!), I64.store32(offset + 4 * i))
}

/** "b"(start, len, hibit): absorbs `len` bytes (a multiple of 16) at `start`; hibit is 2^24 for full blocks. */
const scalarBlocks = (): Func => {
  const f = new Func([I32T, I32T, I32T])
  const [START, LEN, HIBIT] = [0, 1, 2]
  const pos = f.local(I32T)
  const end = f.local(I32T)
  const r = f.localsOf(I64T, 5)
  const s = f.localsOf(I64T, 5)
  const h = f.localsOf(I64T, 5)
  const d = f.localsOf(I64T, 5)
  const c = f.local(I64T)
  const hb = f.local(I64T)
  loadLimbs(f, LAYOUT.r, r)
  loadLimbs(f, LAYOUT.s - 4, s, 1)
  loadLimbs(f, LAYOUT.h, h)
  f.emit(get(HIBIT), I64.extendI32U, set(hb))
  f.emit(get(START), set(pos), get(START), get(LEN), I32.add, set(end))
  f.emit(Ctl.block, Ctl.loop, get(pos), get(end), I32.geU, Ctl.brIf(1))
  // h_i += limb i of the block: (le32 at 3i) >> 2i, masked to 26 bits; limb 4 gets the 2^128 bit instead.
  for (let i = 0; i < 5; i++) {
    f.emit(get(h[i]!), get(pos), I64.load32U(3 * i))
    if (i > 0) f.emit(I64.const(2 * i), I64.shrU)
    f.emit(...(i < 4 ? [I64.const(M26), I64.and] : [get(hb), I64.or]), I64.add, set(h[i]!))
  }
  mulMod(f, h, r, s, d, c, h)
  f.emit(get(pos), I32.const(16), I32.add, set(pos), Ctl.br(0), Ctl.end, Ctl.end)
  storeLimbs(f, LAYOUT.h, h)
  return f
}

const range = (from: number, to: number): Array<number> => Array.from({ length: to - from }, (_, i) => from + i)

/** "v"(start, len): absorbs `len` bytes (a multiple of 32, ≥ 32) two blocks at a time; see the file comment. */
const simdBlocks = (): Func => {
  const f = new Func([I32T, I32T])
  const [START, LEN] = [0, 1]
  const pos = f.local(I32T)
  const last = f.local(I32T)
  const r = f.localsOf(I64T, 5)
  const s = f.localsOf(I64T, 5)
  const q = f.localsOf(I64T, 5) // r²
  const d = f.localsOf(I64T, 5)
  const c = f.local(I64T)
  // Multipliers as i32x4 with the lane-0 and lane-1 values in 32-bit lanes 0 and 1: (r², r²) for every step
  // but the last, (r², r) for the last. Index 0 of the 5·r vectors is unused.
  // They live in memory, not in locals: V8 would otherwise rebuild each splat inside the loop.
  const vectors = (n: number) => range(0, 5).map((k) => LAYOUT.table + 80 * n + 16 * k)
  const [R2, S2, RF, SF] = [vectors(0), vectors(1), vectors(2), vectors(3)]
  const H = f.localsOf(V128T, 5) // accumulator limbs, one per 64-bit lane
  const T = f.localsOf(V128T, 5) // h + m, narrowed to 32-bit lanes 0 and 1
  const D = f.localsOf(V128T, 5)
  const C = f.local(V128T)
  const A = f.local(V128T)
  const B = f.local(V128T)
  const LO = f.local(V128T)
  const HI = f.local(V128T)
  const MASK = f.local(V128T)
  const HIBIT = f.local(V128T)

  loadLimbs(f, LAYOUT.r, r)
  loadLimbs(f, LAYOUT.s - 4, s, 1)
  const s2 = f.localsOf(I64T, 5)
  mulMod(f, r, r, s, d, c, q)
  for (let k = 0; k < 5; k++) {
    f.emit(I32.const(0), get(q[k]!), I32.wrapI64, V128.i32x4Splat, V128.store(R2[k]!))
    f.emit(I32.const(0), get(q[k]!), I32.wrapI64, V128.i32x4Splat, get(r[k]!), I32.wrapI64, V128.i32x4ReplaceLane(1), V128.store(RF[k]!))
    if (k === 0) continue
    f.emit(get(q[k]!), I64.const(5), I64.mul, set(s2[k]!))
    f.emit(I32.const(0), get(s2[k]!), I32.wrapI64, V128.i32x4Splat, V128.store(S2[k]!))
    f.emit(I32.const(0), get(s2[k]!), I32.wrapI64, V128.i32x4Splat, get(s[k]!), I32.wrapI64, V128.i32x4ReplaceLane(1), V128.store(SF[k]!))
  }
  const ZERO = f.local(V128T) // locals start zeroed; never written
  for (let k = 0; k < 5; k++) f.emit(get(ZERO), I32.const(0), I64.load32U(LAYOUT.h + 4 * k), V128.i64x2ReplaceLane(0), set(H[k]!))
  f.emit(I64.const(M26), V128.i64x2Splat, set(MASK), I64.const(1 << 24), V128.i64x2Splat, set(HIBIT))

  const shr = (v: number, n: number) => [get(v), I32.const(n), V128.i64x2ShrU]
  const step = (Rv: ReadonlyArray<number>, Sv: ReadonlyArray<number>) => {
    // Two blocks: lo = their low 64 bits, hi = their high 64 bits (lane 0 from the first block).
    f.emit(get(pos), V128.load(0), set(A), get(pos), V128.load(16), set(B))
    f.emit(get(A), get(B), V128.shuffle([...range(0, 8), ...range(16, 24)]), set(LO))
    f.emit(get(A), get(B), V128.shuffle([...range(8, 16), ...range(24, 32)]), set(HI))
    const limbs = [
      [get(LO), get(MASK), V128.and],
      [...shr(LO, 26), get(MASK), V128.and],
      [...shr(LO, 52), get(HI), I32.const(12), V128.i64x2Shl, V128.or, get(MASK), V128.and],
      [...shr(HI, 14), get(MASK), V128.and],
      [...shr(HI, 40), get(HIBIT), V128.or]
    ]
    // T_i = h_i + m_i, then 64-bit lanes 0 and 1 moved to 32-bit lanes 0 and 1 (values < 2^28).
    const narrow = V128.shuffle([0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11])
    for (let i = 0; i < 5; i++) f.emit(get(H[i]!), ...limbs[i]!, V128.i64x2Add, tee(T[i]!), get(T[i]!), narrow, set(T[i]!))
    // Each multiplier is loaded once and used for every column it contributes to, so that the five columns, the
    // five T and the multiplier fit in the 16 vector registers of x64.
    const M = C
    for (let j = 0; j < 5; j++) {
      f.emit(I32.const(0), V128.load(Rv[j]!), set(M))
      for (let k = j; k < 5; k++) {
        f.emit(get(T[k - j]!), get(M), V128.i64x2ExtmulLowU)
        f.emit(...(j === 0 ? [set(D[k]!)] : [get(D[k]!), V128.i64x2Add, set(D[k]!)]))
      }
      if (j === 0) continue
      f.emit(I32.const(0), V128.load(Sv[j]!), set(M))
      // 5·r_j multiplies h_i where i + j ≥ 5, into column i + j − 5.
      for (let i = 5 - j; i < 5; i++) f.emit(get(T[i]!), get(M), V128.i64x2ExtmulLowU, get(D[i + j - 5]!), V128.i64x2Add, set(D[i + j - 5]!))
    }
    // Carry in two interleaved chains (d0→d1→d2→h3 and d3→d4→h0·5→h1, then h3→h4): shorter than one
    // sequential chain, and it leaves h1 and h4 a few bits above 2^26, which the bounds allow.
    const carry = (from: number, keep: number, next: number, times5 = false) => {
      f.emit(...shr(from, 26), set(C), get(from), get(MASK), V128.and, set(keep))
      f.emit(get(next), get(C), V128.i64x2Add)
      if (times5) f.emit(get(C), I32.const(2), V128.i64x2Shl, V128.i64x2Add)
      f.emit(set(next))
    }
    carry(D[0]!, H[0]!, D[1]!)
    carry(D[3]!, H[3]!, D[4]!)
    carry(D[1]!, H[1]!, D[2]!)
    carry(D[4]!, H[4]!, H[0]!, true)
    carry(D[2]!, H[2]!, H[3]!)
    carry(H[0]!, H[0]!, H[1]!)
    carry(H[3]!, H[3]!, H[4]!)
  }

  f.emit(get(START), set(pos), get(START), get(LEN), I32.add, I32.const(32), I32.sub, set(last))
  f.emit(Ctl.block, Ctl.loop, get(pos), get(last), I32.geU, Ctl.brIf(1))
  step(R2, S2)
  f.emit(get(pos), I32.const(32), I32.add, set(pos), Ctl.br(0), Ctl.end, Ctl.end)
  step(RF, SF)
  // Lane 0 + lane 1, one carry pass, back to memory.
  const h = f.localsOf(I64T, 5)
  for (let k = 0; k < 5; k++) f.emit(get(H[k]!), V128.i64x2ExtractLane(0), get(H[k]!), V128.i64x2ExtractLane(1), I64.add, set(h[k]!))
  for (let k = 0; k < 5; k++) {
    f.emit(get(h[k]!), I64.const(26), I64.shrU, set(c), get(h[k]!), I64.const(M26), I64.and, set(h[k]!))
    f.emit(...(k < 4 ? [get(h[k + 1]!), get(c), I64.add, set(h[k + 1]!)] : [get(h[0]!), get(c), I64.const(5), I64.mul, I64.add, set(h[0]!)]))
  }
  f.emit(get(h[0]!), I64.const(26), I64.shrU, set(c), get(h[0]!), I64.const(M26), I64.and, set(h[0]!))
  f.emit(get(h[1]!), get(c), I64.add, set(h[1]!))
  storeLimbs(f, LAYOUT.h, h)
  // The multipliers derive from the key: wipe them.
  for (const at of [...R2, ...S2, ...RF, ...SF]) f.emit(I32.const(0), get(ZERO), V128.store(at))
  return f
}

const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64")

/** The two modules: scalar only (for runtimes without SIMD), and scalar + SIMD. */
export const modules = (): { readonly scalar: Uint8Array; readonly simd: Uint8Array } => ({
  scalar: assemble(LAYOUT.pages, [["b", scalarBlocks()]]),
  simd: assemble(LAYOUT.pages, [["b", scalarBlocks()], ["v", simdBlocks()]])
})

const wrap = (s: string): string => s.replace(/.{1,100}/g, (line) => `  "${line}" +\n`).replace(/ \+\n$/, "\n")

/** The text of src/crypto/cipher/poly1305/WasmModules.ts. */
export const render = (): string => {
  const { scalar, simd } = modules()
  return `/**
 * GENERATED by scripts/poly1305-wasm.ts from its instruction listing — do not edit; rerun the script instead
 * (test/unit/crypto/Poly1305.test.ts checks that it reproduces these bytes). The Poly1305 block kernels as
 * WebAssembly, base64: see the script for what they compute and why nothing overflows.
 *
 * @since 0.1.0
 */

/**
 * Byte offsets in the modules' memory: r (5 uint32 limbs), 5·r (limbs 1–4), h (5 limbs), the SIMD kernel's
 * multipliers (20 v128), the tag, the message area of \`chunk\` bytes plus 16 for the padded last block;
 * \`pages\` of 64 KiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const LAYOUT = ${JSON.stringify(LAYOUT).replace(/"/g, "").replace(/:/g, ": ").replace(/,/g, ", ").replace(/^\{/, "{ ").replace(/\}$/, " }")} as const

/**
 * The scalar module (${scalar.length} bytes): exports memory "m" and "b"(start, len, hibit).
 *
 * @since 0.1.0
 * @category constants
 */
export const SCALAR_BASE64 =
${wrap(toBase64(scalar))}
/**
 * The SIMD module (${simd.length} bytes): "m", "b" as in the scalar one, and "v"(start, len), two blocks per step.
 *
 * @since 0.1.0
 * @category constants
 */
export const SIMD_BASE64 =
${wrap(toBase64(simd))}`
}

/** Where the generated module lives. */
export const TARGET = new URL("../src/crypto/cipher/poly1305/WasmModules.ts", import.meta.url)

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const text = render()
  if (process.argv.includes("--check")) {
    const same = fs.existsSync(TARGET) && fs.readFileSync(TARGET, "utf8") === text
    console.log(same ? "up to date" : "src/crypto/cipher/poly1305/WasmModules.ts differs from the generator")
    process.exitCode = same ? 0 : 1
  } else {
    fs.mkdirSync(new URL(".", TARGET), { recursive: true })
    fs.writeFileSync(TARGET, text)
    console.log(`wrote ${TARGET.pathname}`)
  }
}
