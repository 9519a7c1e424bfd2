import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import type { CryptoBackend, HashAlgorithm } from "../../../src/crypto/Backend.js"
import { isAccelerated, poly1305, poly1305Reference } from "../../../src/crypto/cipher/Poly1305.js"
import { backends } from "../../helpers/Backends.js"

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"))
const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)
/** A copy of `b` placed at byte offset `offset` of a larger buffer, to exercise unaligned views. */
const at = (b: Uint8Array, offset: number): Uint8Array => {
  const big = new Uint8Array(b.length + offset + 3)
  big.set(b, offset)
  return big.subarray(offset, offset + b.length)
}
const [first, second] = [backends[0]!, backends[1]!]

// FIPS 180-4 examples ("abc", the two-block message) and the empty string; RFC 1321 for MD5.
const HASH_VECTORS: ReadonlyArray<readonly [HashAlgorithm, string, string]> = [
  ["sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"],
  ["sha1", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"],
  ["sha256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  [
    "sha256",
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
  ],
  [
    "sha384",
    "abc",
    "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
  ],
  [
    "sha512",
    "abc",
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
  ],
  ["md5", "abc", "900150983cd24fb0d6963f7d28e17f72"]
]

// RFC 4231 test cases 1, 2 and 6 (key longer than the block); RFC 2202 for HMAC-SHA1.
const HMAC_VECTORS: ReadonlyArray<readonly [HashAlgorithm, Uint8Array, string, string]> = [
  ["sha256", fill(20, 0x0b), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
  [
    "sha384",
    fill(20, 0x0b),
    "Hi There",
    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"
  ],
  [
    "sha512",
    fill(20, 0x0b),
    "Hi There",
    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
  ],
  ["sha256", enc("Jefe"), "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"],
  [
    "sha512",
    enc("Jefe"),
    "what do ya want for nothing?",
    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
  ],
  [
    "sha256",
    fill(131, 0xaa),
    "Test Using Larger Than Block-Size Key - Hash Key First",
    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
  ],
  [
    "sha512",
    fill(131, 0xaa),
    "Test Using Larger Than Block-Size Key - Hash Key First",
    "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"
  ],
  ["sha1", fill(20, 0x0b), "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"],
  ["sha1", enc("Jefe"), "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"]
]

// NIST SP 800-38A F.5.1, F.5.3, F.5.5 (CTR-AES128/192/256.Encrypt).
const CTR_PLAIN = hex(`6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
  30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710`)
const CTR_IV = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
const CTR_VECTORS: ReadonlyArray<readonly [string, string]> = [
  [
    "2b7e151628aed2a6abf7158809cf4f3c",
    "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
  ],
  [
    "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
    "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e941e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050"
  ],
  [
    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
    "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"
  ]
]

// The GCM specification (McGrew & Viega), test cases 2, 3, 4, 14 and 16: key, IV, plaintext, AAD, C ‖ T.
const GCM_P = `d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525
  b16aedf5aa0de657ba637b39`
const GCM_VECTORS: ReadonlyArray<readonly [string, string, string, string, string]> = [
  ["00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
    "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"],
  ["feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", GCM_P + "1aafd255", "",
    `42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa05
     1ba30b396a0aac973d58e091473f59854d5c2af327cd64a62cf35abd2ba6fab4`],
  ["feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", GCM_P, "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    `42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa05
     1ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47`],
  ["0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
    "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"],
  ["feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", GCM_P,
    "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    `522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838
     c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b`]
]

// draft-agl-tls-chacha20poly1305-04 §7: the original ChaCha20 (64-bit nonce), keystream from block 0.
const CHACHA_VECTORS: ReadonlyArray<readonly [string, string, string]> = [
  ["0000000000000000000000000000000000000000000000000000000000000000", "0000000000000000",
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"],
  ["0000000000000000000000000000000000000000000000000000000000000001", "0000000000000000",
    "4540f05a9f1fb296d7736e7b208e3c96eb4fe1834688d2604f450952ed432d41bbe2a0b6ea7566d2a5d1e7e20d42af2c53d792b1c43fea817e9ad275ae546963"],
  ["0000000000000000000000000000000000000000000000000000000000000000", "0000000000000001",
    "de9cba7bf3d69ef5e786dc63973f653a0b49e015adbff7134fcb7df137821031e85a050278a7084527214f73efc7fa5b5277062eb7a0433e445f41e3"],
  ["0000000000000000000000000000000000000000000000000000000000000000", "0100000000000000",
    "ef3fdfd6c61578fbf5cf35bd3dd33b8009631634d21e42ac33960bd138e50d32111e4caf237ee53ca8ad6426194a88545ddc497a0b466e7d6bbdb0041b2f586b"],
  ["000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "0001020304050607",
    `f798a189f195e66982105ffb640bb7757f579da31602fc93ec01ac56f85ac3c134a4547b733b46413042c9440049176905d3b
     e59ea1c53f15916155c2be8241a38008b9a26bc35941e2444177c8ade6689de95264986d95889fb60e84629c9bd9a5acb1cc1
     18be563eb9b3a4a472f82e09a7e778492b562ef7130e88dfe031c79db9d4f7c7a899151b9a475032b63fc385245fe054e3dd5
     a97a5f576fe064025d3ce042c566ab2c507b138db853e3d6959660996546cc9c4a6eafdc777c040d70eaf46f76dad3979e5c5
     360c3317166a1c894c94a371876a94df7628fe4eaaf2ccb27d5aaae0ad7ad0f9d4b6ad3b54098746d4524d38407a6deb3ab78
     fab78c9`]
]

// RFC 8439 §2.5.2 and the A.3 vectors that exercise the final reduction: key (r ‖ s), message, tag.
const R2 = "02000000000000000000000000000000"
const R1 = "01000000000000000000000000000000"
const Z = "00000000000000000000000000000000"
const F = "ffffffffffffffffffffffffffffffff"
const POLY_VECTORS: ReadonlyArray<readonly [string, string, string]> = [
  ["85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
    toHex(enc("Cryptographic Forum Research Group")), "a8061dc1305136c6c22b8baf0c0127a9"],
  [Z + Z, Z + Z + Z + Z, Z],
  [R2 + Z, F, "03000000000000000000000000000000"],
  [R2 + F, "02000000000000000000000000000000", "03000000000000000000000000000000"],
  [R1 + Z, F + "f0ffffffffffffffffffffffffffffff" + "11000000000000000000000000000000", "05000000000000000000000000000000"],
  [R1 + Z, F + "fbfefefefefefefefefefefefefefefe" + "01010101010101010101010101010101", Z],
  [R2 + Z, "fdffffffffffffffffffffffffffffff", "faffffffffffffffffffffffffffffff"],
  ["01000000000000000400000000000000" + Z,
    "e33594d7505e43b900000000000000003394d7505e4379cd01000000000000000000000000000000000000000000000001000000000000000000000000000000",
    "14000000000000005500000000000000"],
  ["01000000000000000400000000000000" + Z,
    "e33594d7505e43b900000000000000003394d7505e4379cd010000000000000000000000000000000000000000000000",
    "13000000000000000000000000000000"]
]

const chachaStream = (b: CryptoBackend, key: Uint8Array, nonce: Uint8Array, counter: number, n: number) => {
  const out = new Uint8Array(n)
  b.chacha20(key, nonce, counter, new Uint8Array(n), out)
  return out
}

describe.each(backends)("Symmetric ($name)", (b) => {
  it("hashes the FIPS 180 / RFC 1321 vectors, incrementally too", () => {
    for (const [alg, msg, want] of HASH_VECTORS) {
      assert.strictEqual(toHex(b.hash(alg).update(enc(msg)).digest()), want, `${alg}(${msg})`)
      const m = enc(msg)
      const h = b.hash(alg)
      for (let i = 0; i < m.length; i += 7) h.update(m.subarray(i, i + 7))
      assert.strictEqual(toHex(h.digest()), want)
    }
  })

  it("computes the RFC 4231 / RFC 2202 HMAC vectors, over parts", () => {
    for (const [alg, key, msg, want] of HMAC_VECTORS) {
      const m = enc(msg)
      assert.strictEqual(toHex(b.hmac(alg, key, [m])), want, `${alg} ${msg}`)
      assert.strictEqual(toHex(b.hmac(alg, key, [m.subarray(0, 3), new Uint8Array(0), m.subarray(3)])), want)
    }
  })

  it("AES-CTR matches SP 800-38A F.5 in one call, piecewise, unaligned and in place", () => {
    for (const [key, want] of CTR_VECTORS) {
      const out = new Uint8Array(64)
      b.aesCtr(hex(key), CTR_IV).update(CTR_PLAIN, out)
      assert.strictEqual(toHex(out), want)
      for (const sizes of [[1, 5, 16, 3, 27, 12], [15, 17, 32], [4, 12, 4, 44], [63, 1]]) {
        const ctr = b.aesCtr(hex(key), CTR_IV)
        const data = at(CTR_PLAIN, 1)
        const dst = at(new Uint8Array(64), 3)
        let off = 0
        for (const n of sizes) {
          ctr.update(data.subarray(off, off + n), dst.subarray(off, off + n))
          off += n
        }
        assert.strictEqual(toHex(dst), want, `sizes ${sizes}`)
      }
      const inPlace = at(CTR_PLAIN, 2)
      const ctr = b.aesCtr(hex(key), CTR_IV)
      ctr.update(inPlace.subarray(0, 20), inPlace.subarray(0, 20))
      ctr.update(inPlace.subarray(20), inPlace.subarray(20))
      assert.strictEqual(toHex(inPlace), want)
    }
  })

  it("AES-CTR carries the 128-bit counter across all bytes", () => {
    const key = hex(CTR_VECTORS[0]![0])
    const iv = fill(16, 0xff)
    const out = new Uint8Array(32)
    b.aesCtr(key, iv).update(new Uint8Array(32), out)
    const block1 = new Uint8Array(16)
    b.aesCtr(key, new Uint8Array(16)).update(new Uint8Array(16), block1)
    assert.strictEqual(toHex(out.subarray(16)), toHex(block1))
  })

  it("AES-GCM matches the GCM spec vectors and rejects any change", () => {
    for (const [key, iv, p, a, want] of GCM_VECTORS) {
      const aead = b.aesGcm(hex(key))
      const sealed = aead.seal(hex(iv), hex(a), hex(p))
      assert.strictEqual(toHex(sealed), want.replace(/\s+/g, ""))
      assert.strictEqual(toHex(aead.open(hex(iv), hex(a), at(sealed, 1))!), toHex(hex(p)))
      for (const i of [0, sealed.length - 1]) {
        const bad = sealed.slice()
        bad[i]! ^= 1
        assert.isUndefined(aead.open(hex(iv), hex(a), bad))
      }
      assert.isUndefined(aead.open(hex(iv), enc("x"), sealed))
      assert.isUndefined(aead.open(hex(iv), hex(a), sealed.subarray(0, 15)))
    }
  })

  it("ChaCha20 (original variant) matches draft-agl-tls-chacha20poly1305 §7", () => {
    for (const [key, nonce, want] of CHACHA_VECTORS) {
      const w = want.replace(/\s+/g, "")
      assert.strictEqual(toHex(chachaStream(b, hex(key), hex(nonce), 0, w.length / 2)), w)
    }
  })

  it("ChaCha20 starts at the given block counter and XORs unaligned, in place", () => {
    const key = hex(CHACHA_VECTORS[4]![0])
    const nonce = hex(CHACHA_VECTORS[4]![1])
    const stream = chachaStream(b, key, nonce, 0, 64 * 4)
    assert.strictEqual(toHex(chachaStream(b, key, nonce, 1, 64 * 3)), toHex(stream.subarray(64)))
    assert.strictEqual(toHex(chachaStream(b, key, nonce, 3, 10)), toHex(stream.subarray(192, 202)))
    const data = at(fill(100, 0x5a), 1)
    const copy = data.slice()
    b.chacha20(key, nonce, 1, data, data)
    for (let i = 0; i < 100; i++) assert.strictEqual(data[i], copy[i]! ^ stream[64 + i]!)
  })

  it("Poly1305 matches RFC 8439 §2.5.2 and A.3", () => {
    for (const [key, msg, want] of POLY_VECTORS) {
      assert.strictEqual(toHex(b.poly1305(hex(key), hex(msg))), want)
      assert.strictEqual(toHex(b.poly1305(at(hex(key), 1), at(hex(msg), 3))), want)
    }
  })

  it("randomBytes fills any length, beyond WebCrypto's 65 536-byte limit", () => {
    assert.strictEqual(b.randomBytes(0).length, 0)
    const big = b.randomBytes(200_000)
    assert.strictEqual(big.length, 200_000)
    // A zero run of 64 bytes anywhere would mean a chunk was left unfilled.
    for (let i = 0; i + 64 <= big.length; i += 64) assert.isTrue(big.subarray(i, i + 64).some((x) => x !== 0))
    assert.notStrictEqual(toHex(b.randomBytes(32)), toHex(b.randomBytes(32)))
  })

  it("timingSafeEqual compares contents and lengths", () => {
    assert.isTrue(b.timingSafeEqual(hex("0102"), hex("0102")))
    assert.isTrue(b.timingSafeEqual(new Uint8Array(0), new Uint8Array(0)))
    assert.isFalse(b.timingSafeEqual(hex("0102"), hex("0103")))
    assert.isFalse(b.timingSafeEqual(hex("0102"), hex("010200")))
  })
})

describe("Symmetric across backends", () => {
  const bytes = FastCheck.uint8Array({ maxLength: 2000 })
  const key = (n: number) => FastCheck.uint8Array({ minLength: n, maxLength: n })

  it.prop("hash and HMAC agree", [bytes, FastCheck.uint8Array({ maxLength: 200 })], ([data, k]) => {
    for (const alg of ["sha1", "sha256", "sha384", "sha512", "md5"] as const) {
      assert.strictEqual(toHex(first.hash(alg).update(data).digest()), toHex(second.hash(alg).update(data).digest()))
      assert.strictEqual(toHex(first.hmac(alg, k, [data, k])), toHex(second.hmac(alg, k, [data, k])))
    }
  })

  it.prop("AES-CTR agrees across split points", [bytes, key(32), key(16), FastCheck.nat({ max: 2000 })],
    ([data, k, iv, split]) => {
      for (const n of [16, 24, 32]) {
        const outs = [first, second].map((b) => {
          const ctr = b.aesCtr(k.subarray(0, n), iv)
          const out = new Uint8Array(data.length)
          const s = Math.min(split, data.length)
          ctr.update(data.subarray(0, s), out.subarray(0, s))
          ctr.update(data.subarray(s), out.subarray(s))
          return toHex(out)
        })
        assert.strictEqual(outs[0], outs[1])
      }
    })

  it.prop("AES-GCM agrees and opens the other's output", [bytes, key(32), key(12), bytes], ([data, k, iv, aad]) => {
    for (const n of [16, 32]) {
      const a = first.aesGcm(k.subarray(0, n))
      const c = second.aesGcm(k.subarray(0, n))
      const sealed = a.seal(iv, aad, data)
      assert.strictEqual(toHex(sealed), toHex(c.seal(iv, aad, data)))
      assert.strictEqual(toHex(c.open(iv, aad, sealed)!), toHex(data))
    }
  })

  it.prop("ChaCha20 and Poly1305 agree", [bytes, key(32), key(8), FastCheck.nat({ max: 1000 })],
    ([data, k, nonce, counter]) => {
      const outs = [first, second].map((b) => {
        const out = new Uint8Array(data.length)
        b.chacha20(k, nonce, counter, data, out)
        return toHex(out) + toHex(b.poly1305(k, data))
      })
      assert.strictEqual(outs[0], outs[1])
    })

  // The node backend keeps ChaCha20 contexts open to continue a keystream at the next block; interleaved keys,
  // nonces, counters and lengths must still give exactly the portable results.
  it.prop(
    "ChaCha20 agrees over interleaved calls",
    [FastCheck.array(
      FastCheck.tuple(
        FastCheck.nat({ max: 2 }),
        FastCheck.nat({ max: 2 }),
        FastCheck.nat({ max: 3 }),
        FastCheck.oneof(FastCheck.constantFrom(0, 32, 64, 128, 192), FastCheck.nat({ max: 300 }))
      ),
      { maxLength: 40 }
    )],
    ([calls]) => {
      const keys = [fill(32, 1), fill(32, 2), fill(32, 3)]
      const nonces = [fill(8, 0), fill(8, 9), hex("0000000000000001")]
      for (const [k, n, counter, len] of calls) {
        const data = first.randomBytes(len)
        const outs = [first, second].map((b) => {
          const out = new Uint8Array(len)
          b.chacha20(keys[k]!, nonces[n]!, counter, data, out)
          return toHex(out)
        })
        assert.strictEqual(outs[0], outs[1])
      }
    }
  )

  it.prop("the WebAssembly Poly1305 equals @noble/ciphers'", [FastCheck.uint8Array({ maxLength: 70_000 }), key(32)],
    ([data, k]) => {
      assert.strictEqual(toHex(poly1305(k, data)), toHex(poly1305Reference(k, data)))
    }, { fastCheck: { numRuns: 200 } })

  it("Poly1305 runs on WebAssembly here and stays exact near the modulus", () => {
    assert.isTrue(isAccelerated)
    for (let i = 0; i < 200; i++) {
      // All-ones keys and messages push the accumulator towards 2^130 − 5.
      const k = first.randomBytes(32)
      if (i % 2 === 0) k.fill(0xff)
      const m = fill(i * 17, 0xff)
      assert.strictEqual(toHex(poly1305(k, m)), toHex(poly1305Reference(k, m)))
    }
  })
})
