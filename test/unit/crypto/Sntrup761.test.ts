/**
 * sntrup761 (src/crypto/kex/Sntrup761.ts and sntrup761/): the NIST known-answer vector, implicit rejection,
 * and properties of the arithmetic and the encodings it is built from.
 *
 * The KAT needs the reference's random bytes, so the test runs NIST's AES-256 CTR DRBG (the PQC KAT harness,
 * rng.c) on node:crypto, seeded the way the harness seeds count = 0. The reference KAT generator draws each
 * 32-bit word of Small_random/Short_random with its own randombytes(4) call (urandom32), so the test's random
 * source does too; ρ is one 191-byte call.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as fs from "node:fs"
import * as NodeCrypto from "node:crypto"
import type { CryptoBackend } from "../../../src/crypto/Backend.js"
import * as Arith from "../../../src/crypto/kex/sntrup761/Arith.js"
import * as Encoding from "../../../src/crypto/kex/sntrup761/Encoding.js"
import * as Kernel from "../../../src/crypto/kex/sntrup761/Kernel.js"
import * as R3Recip from "../../../src/crypto/kex/sntrup761/R3Recip.js"
import * as Sample from "../../../src/crypto/kex/sntrup761/Sample.js"
import * as Sntrup761 from "../../../src/crypto/kex/Sntrup761.js"
import { backends } from "../../helpers/Backends.js"
import * as Generator from "../../../scripts/sntrup761-wasm.js"
import { arbEdit, mutate } from "../../helpers/Fuzz.js"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase()
const P = Arith.P

/** NIST's AES-256 CTR DRBG without derivation function (PQC KAT harness, rng.c): randombytes after init. */
const nistDrbg = (entropy: Uint8Array): ((n: number) => Uint8Array) => {
  let key = new Uint8Array(32)
  let v = new Uint8Array(16)
  const increment = () => {
    for (let j = 15; j >= 0; j--) {
      v[j] = (v[j]! + 1) & 0xff
      if (v[j] !== 0) break
    }
  }
  const aes = (block: Uint8Array) => {
    const c = NodeCrypto.createCipheriv("aes-256-ecb", key, null).setAutoPadding(false)
    return new Uint8Array(c.update(block))
  }
  const update = (provided: Uint8Array | undefined) => {
    const temp = new Uint8Array(48)
    for (let i = 0; i < 3; i++) {
      increment()
      temp.set(aes(v), 16 * i)
    }
    if (provided) for (let i = 0; i < 48; i++) temp[i]! ^= provided[i]!
    key = temp.slice(0, 32)
    v = temp.slice(32)
  }
  update(entropy)
  return (n) => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i += 16) {
      increment()
      out.set(aes(v).subarray(0, Math.min(16, n - i)), i)
    }
    update(undefined)
    return out
  }
}

/** count = 0 of the NIST KAT: the seed, then a backend whose random bytes come from the DRBG seeded with it. */
const katCount0 = (backend: CryptoBackend) => {
  const seed = nistDrbg(Uint8Array.from({ length: 48 }, (_, i) => i))(48)
  const drbg = nistDrbg(seed)
  const randomBytes = (n: number): Uint8Array => {
    if (n !== 4 * P) return drbg(n)
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i += 4) out.set(drbg(4), i)
    return out
  }
  return { seed, prims: { randomBytes, hash: backend.hash } }
}

describe("sntrup761 known answers (NIST KAT count = 0)", () => {
  for (const backend of backends) {
    it(`${backend.name}: keypair, encapsulation and decapsulation reproduce the KAT entry`, () => {
      const { prims, seed } = katCount0(backend)
      const kp = Sntrup761.keyPair(prims)
      const enc = Sntrup761.encapsulate(prims, kp.publicKey)!
      const entry = `count = 0\nseed = ${hex(seed)}\npk = ${hex(kp.publicKey)}\nsk = ${hex(kp.secretKey)}\n` +
        `ct = ${hex(enc.ciphertext)}\nss = ${hex(enc.sharedSecret)}\n`
      assert.strictEqual(hex(seed), "061550234D158C5EC95595FE04EF7A25767F2E24CC2BC479D09D86DC9ABCFDE7056A8C266F9EF97ED08541DBD2E1FFA1")
      // PQClean's META for sntrup761 pins the SHA-256 of exactly this text (nistkat-sha256).
      assert.strictEqual(
        NodeCrypto.createHash("sha256").update(entry).digest("hex"),
        "2eba10673b9077530ba9c063d22f2534e415a6da42985c333c6baee133cc0ff1"
      )
      // Spot values of the same entry, as the round-3 submission's kat_kem.rsp prints them.
      assert.strictEqual(hex(kp.publicKey.subarray(0, 16)), "36C969CF1008A6AA9551A784941C65A9")
      assert.strictEqual(hex(kp.secretKey.subarray(0, 16)), "55565515155545556569159955A25554")
      assert.strictEqual(hex(enc.ciphertext.subarray(0, 16)), "84F327D38929039EF84366AB796A96E6")
      assert.strictEqual(hex(enc.sharedSecret), "344CA5E25F6DA5EA95E4A695B1C5446ECA9859334532E4A9537669F012C743A2")
      assert.deepStrictEqual(Sntrup761.decapsulate(prims, enc.ciphertext, kp.secretKey), enc.sharedSecret)
    }, 30_000)
  }
})

describe("sntrup761 KEM", () => {
  const prims = backends[1]!
  const kp = Sntrup761.keyPair(prims)
  const enc = Sntrup761.encapsulate(prims, kp.publicKey)!
  const sk = kp.secretKey
  const rho = sk.subarray(2 * 191 + 1158, 3 * 191 + 1158)
  const hashPrefix = (b: number, ...parts: ReadonlyArray<Uint8Array>) =>
    new Uint8Array(NodeCrypto.createHash("sha512").update(Uint8Array.of(b)).update(Buffer.concat(parts)).digest().subarray(0, 32))

  it("sizes: public key 1158, secret key 1763, ciphertext 1039, shared secret 32", () => {
    assert.strictEqual(kp.publicKey.length, 1158)
    assert.strictEqual(kp.secretKey.length, 1763)
    assert.strictEqual(enc.ciphertext.length, 1039)
    assert.strictEqual(enc.sharedSecret.length, 32)
    assert.deepStrictEqual(sk.subarray(382, 382 + 1158), kp.publicKey)
  })

  it("implicit rejection: a modified ciphertext gives Hash_0(Hash_3(ρ) ‖ C), never an error", () => {
    for (const at of [0, 500, 1006, 1007, 1038]) {
      const bad = enc.ciphertext.slice()
      bad[at]! ^= 1
      const k = Sntrup761.decapsulate(prims, bad, sk)!
      assert.notDeepEqual(k, enc.sharedSecret)
      assert.deepStrictEqual(k, hashPrefix(0, hashPrefix(3, rho), bad))
    }
    // The valid ciphertext is Hash_1 of the same shape over r instead of ρ: not the rejection value.
    assert.notDeepEqual(enc.sharedSecret, hashPrefix(0, hashPrefix(3, rho), enc.ciphertext))
  })

  it("SEC-18: wrong lengths are refused, not decoded", () => {
    assert.isUndefined(Sntrup761.encapsulate(prims, kp.publicKey.subarray(1)))
    assert.isUndefined(Sntrup761.encapsulate(prims, new Uint8Array(1159)))
    assert.isUndefined(Sntrup761.decapsulate(prims, enc.ciphertext.subarray(1), sk))
    assert.isUndefined(Sntrup761.decapsulate(prims, new Uint8Array(1040), sk))
  })

  it.prop("decapsulation of mutated ciphertexts never throws", [FastCheck.array(arbEdit, { minLength: 1, maxLength: 4 })], ([edits]) => {
    const k = Sntrup761.decapsulate(prims, mutate(enc.ciphertext, edits), sk)
    assert.isTrue(k === undefined || k.length === 32)
  }, { fastCheck: { numRuns: 20 } })

  it.prop("encapsulation to any 1158 bytes never throws", [FastCheck.uint8Array({ minLength: 1158, maxLength: 1158 })], ([pk]) => {
    assert.strictEqual(Sntrup761.encapsulate(prims, pk)!.ciphertext.length, 1039)
  }, { fastCheck: { numRuns: 10 } })
})

describe("sntrup761 arithmetic and encodings", () => {
  const arbWords = FastCheck.uint32Array({ minLength: P, maxLength: P })
  const mulQ = (a: Int16Array, b: Int8Array) => Arith.rqMultSmall(a, b)

  it.prop("freezeQ: x mod q, centred, for |x| < 2^26", [FastCheck.integer({ min: -(2 ** 26) + 1, max: 2 ** 26 - 1 })], ([x]) => {
    const r = Arith.freezeQ(x)
    assert.isTrue(r >= -2295 && r <= 2295)
    assert.strictEqual((((x - r) % 4591) + 4591) % 4591, 0)
  })

  it("freeze3: x mod 3 in {−1, 0, 1} for every |x| < 16384", () => {
    for (let x = -16383; x < 16384; x++) {
      const r = Arith.freeze3(x)
      if (r < -1 || r > 1 || (((x - r) % 3) + 3) % 3 !== 0) assert.fail(`freeze3(${x}) = ${r}`)
    }
  })

  it.prop("sortInt32 sorts like Array.prototype.sort", [FastCheck.array(FastCheck.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 800 })], ([xs]) => {
    const a = Int32Array.from(xs)
    Sample.sortInt32(a)
    assert.deepStrictEqual([...a], [...xs].sort((x, y) => x - y))
  })

  it.prop("short polynomials have weight exactly w = 286", [arbWords], ([words]) => {
    const s = Sample.shortFromWords(words)
    assert.strictEqual(s.filter((c) => c !== 0).length, 286)
    assert.isTrue(s.every((c) => c >= -1 && c <= 1))
    assert.strictEqual(Arith.weightMask(s), 0)
  }, { fastCheck: { numRuns: 20 } })

  it.prop("r3Recip: g · (1/g) = 1 in R/3 when invertible", [arbWords], ([words]) => {
    const g = Sample.smallFromWords(words)
    const { inverse, invertible } = R3Recip.r3Recip(g)
    const one = new Int8Array(P)
    one[0] = 1
    if (invertible) assert.deepStrictEqual(Arith.r3Mult(g, inverse), one)
  }, { fastCheck: { numRuns: 5 } })

  it.prop("rqRecip3: (3f) · (1/(3f)) = 1 in R/q", [arbWords], ([words]) => {
    const f = Sample.shortFromWords(words)
    const inverse = Arith.rqRecip3(f)
    const product = Arith.rqMult3(mulQ(inverse, f))
    const one = new Int16Array(P)
    one[0] = 1
    assert.deepStrictEqual(product, one)
  }, { fastCheck: { numRuns: 5 } })

  it("the WebAssembly kernel runs here (Node has fixed-width SIMD)", () => {
    Arith.rqMultSmall(new Int16Array(P), new Int8Array(P))
    assert.isDefined(Kernel.get())
  })

  it.prop("the kernel's rqRecip3, rqMultSmall, r3Recip and r3Mult equal the portable loops, coefficient for coefficient", [arbWords, arbWords], ([a, b]) => {
    const f = Sample.shortFromWords(a)
    const g = Sample.smallFromWords(b)
    const inverse = Arith.rqRecip3(f)
    assert.deepStrictEqual(inverse, Arith.rqRecip3Portable(f))
    assert.deepStrictEqual(Arith.rqMultSmall(inverse, g), Arith.rqMultSmallPortable(inverse, g))
    assert.deepStrictEqual(R3Recip.r3Recip(g), R3Recip.r3RecipPortable(g))
    assert.deepStrictEqual(Arith.r3Mult(f, g), Arith.r3MultPortable(f, g))
    // Extremes of the ranges the kernel's Barrett steps are bounded for: every coefficient ±2295 and ±1.
    const top = new Int16Array(P).fill(2295)
    const ones = new Int8Array(P).fill(-1)
    assert.deepStrictEqual(Arith.rqMultSmall(top, ones), Arith.rqMultSmallPortable(top, ones))
  }, { fastCheck: { numRuns: 5 } })

  it("the checked-in module is what scripts/sntrup761-wasm.ts generates", () => {
    assert.strictEqual(fs.readFileSync(Generator.TARGET, "utf8"), Generator.render())
  })

  it.prop("Rq and rounded encodings: decode ∘ encode = id, 1158 and 1007 bytes", [arbWords], ([words]) => {
    const r = Int16Array.from(words, (x) => (x % 4591) - 2295)
    const pk = Encoding.rqEncode(r)
    assert.strictEqual(pk.length, 1158)
    assert.deepStrictEqual(Encoding.rqDecode(pk), r)
    const rounded = Arith.round3(r)
    const c = Encoding.roundedEncode(rounded)
    assert.strictEqual(c.length, 1007)
    assert.deepStrictEqual(Encoding.roundedDecode(c), rounded)
  }, { fastCheck: { numRuns: 30 } })

  it.prop("decode of any bytes gives values below the radix and never throws", [FastCheck.uint8Array({ minLength: 0, maxLength: 1200 })], ([bytes]) => {
    const radix = new Uint32Array(P).fill(4591)
    const r = Encoding.decode(bytes, radix)
    assert.strictEqual(r.length, P)
    assert.isTrue(r.every((x) => x < 4591))
  }, { fastCheck: { numRuns: 30 } })

  it.prop("small polynomials: decode ∘ encode = id in 191 bytes", [arbWords], ([words]) => {
    const s = Sample.smallFromWords(words)
    const bytes = Encoding.smallEncode(s)
    assert.strictEqual(bytes.length, 191)
    assert.deepStrictEqual(Encoding.smallDecode(bytes), s)
  })
})
