import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js"
import { p256, p384, p521 } from "@noble/curves/nist.js"
import { assert, describe, it } from "@effect/vitest"
import * as NodeCrypto from "node:crypto"
import { vi } from "vitest"
import type { NistCurve, PrivateKeyMaterial } from "../../../src/crypto/Backend.js"
import { PortableCrypto } from "../../../src/crypto/portable/PortableCrypto.js"
import { ed25519FromSeed } from "../../../src/keys/KeyMaterial.js"
import { backends } from "../../helpers/Backends.js"

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const big = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt("0x" + toHex(b)))
const pairs = backends.flatMap((a) => backends.map((b) => [a, b] as const))
const CURVES: ReadonlyArray<NistCurve> = ["nistp256", "nistp384", "nistp521"]
const ORDER: Record<NistCurve, bigint> = {
  nistp256: p256.Point.Fn.ORDER,
  nistp384: p384.Point.Fn.ORDER,
  nistp521: p521.Point.Fn.ORDER
}
type Rsa = Extract<PrivateKeyMaterial, { type: "rsa" }>

/** Runs `f` with crypto.getRandomValues returning `bytes` once, to inject a known X25519 scalar. */
const withRandom = <A>(bytes: Uint8Array, f: () => A): A => {
  const spy = vi.spyOn(globalThis.crypto, "getRandomValues").mockImplementationOnce(<T extends ArrayBufferView | null>(
    array: T
  ): T => {
    if (array instanceof Uint8Array) array.set(bytes.subarray(0, array.length))
    return array
  })
  try {
    return f()
  } finally {
    spy.mockRestore()
  }
}

// RFC 8032 §7.1 TEST 1–3.
const ED25519_VECTORS = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    pub: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    msg: "",
    sig: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    pub: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    msg: "72",
    sig: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
  },
  {
    seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    pub: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    msg: "af82",
    sig: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
  }
]

// RFC 7748 §6.1.
const ALICE_PRIV = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
const ALICE_PUB = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
const BOB_PUB = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
const SHARED = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")

describe("X25519 (RFC 7748)", () => {
  it("§5.2 vectors on the portable backend (scalar injected through getRandomValues)", () => {
    const vectors = [
      [
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
      ],
      [
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"
      ]
    ]
    for (const [scalar, u, out] of vectors) {
      const pair = withRandom(hex(scalar!), () => PortableCrypto.x25519())
      assert.strictEqual(toHex(pair.agree(hex(u!))!), out)
    }
  })

  it("§6.1 Alice/Bob on the portable backend", () => {
    const pair = withRandom(ALICE_PRIV, () => PortableCrypto.x25519())
    assert.strictEqual(toHex(pair.publicKey), toHex(ALICE_PUB))
    assert.strictEqual(toHex(pair.agree(BOB_PUB)!), toHex(SHARED))
  })

  describe.each(backends)("$name", (backend) => {
    it("§6.1: agreeing with Alice's public key matches X25519(a, our public key)", () => {
      const pair = backend.x25519()
      assert.strictEqual(pair.publicKey.length, 32)
      assert.strictEqual(toHex(pair.agree(ALICE_PUB)!), toHex(nobleX25519.scalarMult(ALICE_PRIV, pair.publicKey)))
    })

    it("SEC-24: every pair is fresh", () => {
      assert.notDeepEqual(backend.x25519().publicKey, backend.x25519().publicKey)
    })
  })

  for (const [a, b] of pairs) {
    it(`${a.name} ↔ ${b.name} agree`, () => {
      const x = a.x25519()
      const y = b.x25519()
      assert.deepStrictEqual(x.agree(y.publicKey), y.agree(x.publicKey))
    })
  }
})

describe("ECDH (RFC 5656 §4)", () => {
  for (const [a, b, curve] of pairs.flatMap(([a, b]) => CURVES.map((c) => [a, b, c] as const))) it(`${a.name} ↔ ${b.name} on ${curve}`, () => {
    const x = a.ecdh(curve)
    const y = b.ecdh(curve)
    const len = { nistp256: 32, nistp384: 48, nistp521: 66 }[curve]
    assert.strictEqual(x.publicKey.length, 1 + 2 * len)
    assert.strictEqual(x.publicKey[0], 4)
    const k = x.agree(y.publicKey)!
    assert.strictEqual(k.length, len)
    assert.deepStrictEqual(k, y.agree(x.publicKey))
  })
})

describe.each(backends)("Ed25519 (RFC 8032) on $name", (backend) => {
  it.each(ED25519_VECTORS)("§7.1 vector with message '$msg'", (v) => {
    const key = { type: "ed25519", seed: hex(v.seed), publicKey: hex(v.pub) } as const
    assert.strictEqual(toHex(backend.ed25519Sign(key, hex(v.msg))), v.sig)
    assert.isTrue(backend.ed25519Verify(hex(v.pub), hex(v.msg), hex(v.sig)))
    const flipped = hex(v.sig)
    flipped[5]! ^= 1
    assert.isFalse(backend.ed25519Verify(hex(v.pub), hex(v.msg), flipped))
    assert.isFalse(backend.ed25519Verify(hex(v.pub), enc("other"), hex(v.sig)))
  })

  it.each(ED25519_VECTORS)("§7.1: the seed gives the public key ($pub)", (v) => {
    assert.strictEqual(toHex(backend.ed25519PublicKey(hex(v.seed))), v.pub)
  })

  it("an ed25519 key file whose seed does not give its public key is refused, through the backend", () => {
    const v = ED25519_VECTORS[0]!
    const other = ED25519_VECTORS[1]!
    assert.strictEqual(ed25519FromSeed(hex(v.seed), hex(v.pub), backend).type, "ed25519")
    assert.throws(() => ed25519FromSeed(hex(v.seed), hex(other.pub), backend), /does not give its public key/)
  })

  it("SEC-25: strict verification rejects S + L, short keys and short signatures", () => {
    const v = ED25519_VECTORS[0]!
    const L = 2n ** 252n + 27742317777372353535851937790883648493n
    const sig = hex(v.sig)
    const s = big(Uint8Array.from(sig.subarray(32)).reverse()) + L
    const sPlusL = Uint8Array.from(Buffer.from(s.toString(16).padStart(64, "0"), "hex")).reverse()
    const malleable = new Uint8Array(64)
    malleable.set(sig.subarray(0, 32))
    malleable.set(sPlusL, 32)
    assert.isFalse(backend.ed25519Verify(hex(v.pub), hex(v.msg), malleable))
    assert.isFalse(backend.ed25519Verify(hex(v.pub).subarray(1), hex(v.msg), sig))
    assert.isFalse(backend.ed25519Verify(hex(v.pub), hex(v.msg), sig.subarray(1)))
  })

  it("generated keys sign and verify on every backend", () => {
    const key = backend.generateKey({ type: "ed25519" })
    assert.strictEqual(key.type, "ed25519")
    if (key.type !== "ed25519") return
    const sig = backend.ed25519Sign(key, enc("data"))
    for (const other of backends) assert.isTrue(other.ed25519Verify(key.publicKey, enc("data"), sig))
  })
})

describe("ECDSA (RFC 5656 §3.1.2)", () => {
  for (const [a, b, curve] of pairs.flatMap(([a, b]) => CURVES.map((c) => [a, b, c] as const))) it(`signed on ${a.name}, verified on ${b.name}, ${curve}`, () => {
    const key = a.generateKey({ type: "ecdsa", curve })
    if (key.type !== "ecdsa") return assert.fail("not an ECDSA key")
    const data = enc("exchange hash")
    const { r, s } = a.ecdsaSign(key, data)
    assert.isTrue(b.ecdsaVerify(curve, key.q, data, r, s))
    // (r, n − s) is the other valid signature: neither backend enforces low S.
    assert.isTrue(b.ecdsaVerify(curve, key.q, data, r, ORDER[curve] - s))
    assert.isFalse(b.ecdsaVerify(curve, key.q, enc("exchange hasH"), r, s))
    assert.isFalse(b.ecdsaVerify(curve, key.q, data, r, s + 1n))
  })

  for (const [backend, curve] of backends.flatMap((b) => CURVES.map((c) => [b, c] as const))) it(
    `${backend.name} verifies OpenSSL signatures made directly with node:crypto (${curve})`,
    () => {
      const named = { nistp256: "prime256v1", nistp384: "secp384r1", nistp521: "secp521r1" }[curve]
      const hash = { nistp256: "sha256", nistp384: "sha384", nistp521: "sha512" }[curve]
      const len = { nistp256: 32, nistp384: 48, nistp521: 66 }[curve]
      const { privateKey, publicKey } = NodeCrypto.generateKeyPairSync("ec", { namedCurve: named })
      const jwk = publicKey.export({ format: "jwk" })
      const q = new Uint8Array([4, ...Buffer.from(jwk.x!, "base64url"), ...Buffer.from(jwk.y!, "base64url")])
      const data = enc("signed by OpenSSL")
      const sig = NodeCrypto.sign(hash, data, { key: privateKey, dsaEncoding: "ieee-p1363" })
      assert.isTrue(backend.ecdsaVerify(curve, q, data, big(sig.subarray(0, len)), big(sig.subarray(len))))
    }
  )

  for (const backend of backends) it(`SEC-25: ${backend.name} rejects r or s outside (0, n) and a wrong curve`, () => {
    const key = backend.generateKey({ type: "ecdsa", curve: "nistp256" })
    if (key.type !== "ecdsa") return assert.fail("not an ECDSA key")
    const data = enc("x")
    const { r, s } = backend.ecdsaSign(key, data)
    const n = ORDER.nistp256
    assert.isFalse(backend.ecdsaVerify("nistp256", key.q, data, 0n, s))
    assert.isFalse(backend.ecdsaVerify("nistp256", key.q, data, r, 0n))
    assert.isFalse(backend.ecdsaVerify("nistp256", key.q, data, r + n, s))
    assert.isFalse(backend.ecdsaVerify("nistp256", key.q, data, r, s + n))
    assert.isFalse(backend.ecdsaVerify("nistp384", key.q, data, r, s))
  })
})

describe("RSA PKCS#1 v1.5 (RFC 8017 §8.2)", () => {
  const nodeKey = NodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" })
  const b64 = (s: string | undefined) => big(Buffer.from(s!, "base64url"))
  const key: Rsa = {
    type: "rsa",
    n: b64(nodeKey.n),
    e: b64(nodeKey.e),
    d: b64(nodeKey.d),
    p: b64(nodeKey.p),
    q: b64(nodeKey.q),
    iqmp: b64(nodeKey.qi)
  }
  const hashes = ["sha1", "sha256", "sha512"] as const

  it.each(hashes)("both backends produce the same deterministic %s signature, and verify each other's", (hash) => {
    const data = enc("exchange hash")
    const [a, b] = backends.map((backend) => backend.rsaSign(key, hash, data))
    assert.strictEqual(a!.length, 256)
    assert.deepStrictEqual(a, b)
    for (const backend of backends) {
      assert.isTrue(backend.rsaVerify(key, hash, data, a!))
      assert.isFalse(backend.rsaVerify(key, hash, enc("exchange hasH"), a!))
      assert.isFalse(backend.rsaVerify(key, hash === "sha1" ? "sha256" : "sha1", data, a!))
    }
  })

  for (const backend of backends) it(`SEC-25: ${backend.name} verifies only modulus-length signatures below n`, () => {
    const data = enc("data")
    const sig = backend.rsaSign(key, "sha512", data)
    assert.isFalse(backend.rsaVerify(key, "sha512", data, sig.subarray(1)))
    assert.isFalse(backend.rsaVerify(key, "sha512", data, new Uint8Array([0, ...sig])))
    // s ≥ n is not a signature (RFC 8017 §5.2.2).
    const n = Uint8Array.from(Buffer.from(key.n.toString(16).padStart(512, "0"), "hex"))
    assert.isFalse(backend.rsaVerify(key, "sha512", data, n))
    assert.isFalse(backend.rsaVerify(key, "sha512", data, new Uint8Array(256).fill(0xff)))
  })

  it("a portable-generated 2048-bit key is well formed and works on node:crypto", () => {
    const k = PortableCrypto.generateKey({ type: "rsa", bits: 2048 })
    if (k.type !== "rsa") return assert.fail("not an RSA key")
    assert.strictEqual(k.n.toString(2).length, 2048)
    assert.strictEqual(k.e, 65537n)
    assert.strictEqual(k.p * k.q, k.n)
    assert.strictEqual((k.iqmp * k.q) % k.p, 1n)
    assert.strictEqual((k.d * k.e) % ((k.p - 1n) * (k.q - 1n) / gcd(k.p - 1n, k.q - 1n)), 1n)
    const sig = PortableCrypto.rsaSign(k, "sha256", enc("m"))
    for (const backend of backends) assert.isTrue(backend.rsaVerify(k, "sha256", enc("m"), sig))
    assert.deepStrictEqual(backends[1]!.rsaSign(k, "sha256", enc("m")), sig)
  }, 120_000)
})

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b))

describe("modPow and finite-field DH", () => {
  const p = BigInt("0x" + NodeCrypto.getDiffieHellman("modp14").getPrime("hex"))

  for (const backend of backends) it(`${backend.name}: small and edge values`, () => {
    assert.strictEqual(backend.modPow(4n, 13n, 497n), 445n)
    assert.strictEqual(backend.modPow(5n, 0n, 7n), 1n)
    assert.strictEqual(backend.modPow(5n, 3n, 1n), 0n)
    assert.strictEqual(backend.modPow(0n, 5n, p), 0n)
    assert.strictEqual(backend.modPow(1n, 2n ** 255n, p), 1n)
    assert.strictEqual(backend.modPow(p - 1n, 2n ** 255n, p), 1n)
    assert.strictEqual(backend.modPow(p - 1n, 2n ** 255n + 1n, p), p - 1n)
    assert.strictEqual(backend.modPow(p + 2n, 10n, p), 1024n)
  })

  it("both backends agree on 2048-bit exponentiations, and DH keys agree", () => {
    const rnd = () => big(NodeCrypto.randomBytes(32))
    const [a, b] = [rnd(), rnd()]
    const [ga, gb] = backends.map((backend, i) => backend.modPow(2n, i === 0 ? a : b, p))
    for (const backend of backends) {
      assert.strictEqual(backend.modPow(2n, a, p), ga)
      assert.strictEqual(backend.modPow(gb!, a, p), backend.modPow(ga!, b, p))
    }
  })
})
