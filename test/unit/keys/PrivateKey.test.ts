/**
 * openssh-key-v1 private keys (src/keys/PrivateKey.ts) and bcrypt_pbkdf (src/keys/Bcrypt.ts), against keys that
 * ssh-keygen writes: every key type, unencrypted and encrypted with each cipher OpenSSH offers, checked by
 * comparing with the `.pub` files and by signatures that HostKey.verify and `ssh-keygen -Y verify` accept.
 * Keys are generated once per run of this file (re-encrypted copies with `ssh-keygen -p`, no new key pairs).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import { execFileSync } from "node:child_process"
import * as NodeCrypto from "node:crypto"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import * as HostKey from "../../../src/crypto/HostKey.js"
import { PortableCrypto } from "../../../src/crypto/portable/PortableCrypto.js"
import * as Bcrypt from "../../../src/keys/Bcrypt.js"
import * as PrivateKey from "../../../src/keys/PrivateKey.js"
import type { KeyError } from "../../../src/SshError.js"
import { Reader } from "../../../src/wire/Reader.js"
import * as Writer from "../../../src/wire/Writer.js"
import { backends } from "../../helpers/Backends.js"

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
const numRuns = process.env.FUZZ ? 20_000 : 100
const PASS = "correct horse"
const pass = Redacted.make(PASS)

type Result = Either.Either<PrivateKey.ParsedPrivateKey, KeyError>
const reasonOf = (r: Result): string => (Either.isLeft(r) ? r.left.reason : "ok")
/** Parsed, or refused with a KeyError of our own; never the catch-all for an unexpected exception (a bug). */
const isCleanResult = (r: Result): boolean => Either.isRight(r) || !r.left.description.startsWith("malformed key (")
const right = (r: Result): PrivateKey.ParsedPrivateKey => {
  if (Either.isLeft(r)) assert.fail(`expected a key, got ${r.left.message}`)
  return r.right
}

// ---- bcrypt_pbkdf ----

// The OpenBSD regress vectors (as in RustCrypto bcrypt-pbkdf tests/test_vectors.rs).
const LOREM = "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut labore et " +
  "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea " +
  "commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla " +
  "pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum."
const VECTORS: ReadonlyArray<readonly [string, string, number, string]> = [
  ["password", "salt", 4, "5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9"],
  ["password", "\0", 4, "c12b566235eee04c212598970a579a67"],
  ["\0", "salt", 4, "6051be18c2f4f82cbf0efee5471b4bb9"],
  ["password\0", "salt\0", 4, "7410e44cf4fa07bfaac8a928b1727fac001375e7bf7384370f48efd121743050"],
  ["pass\0wor", "sa\0l", 4, "c2bffd9db38f6569efef4372f4de83c0"],
  ["pass\0word", "sa\0lt", 4, "4ba4ac3925c0e8d7f0cdb6bb1684a56f"],
  [
    "password",
    "salt",
    8,
    "e1367ec5151a33faac4cc1c144cd23fa15d5548493ecc99b9b5d9c0d3b27bec76227ea66088b849b20ab7aa478010246e74bba51723fefa9f9474d6508845e8d"
  ],
  ["password", "salt", 42, "833cf0dcf56db65608e8f0dc0ce882bd"],
  [LOREM, "salis\0", 8, "10978b07253df57f71a162eb0e8ad30a"]
]

// The npm package bcrypt-pbkdf (a port of the same C code) as an independent implementation: tests only.
interface ReferencePbkdf {
  readonly pbkdf: (p: Uint8Array, pl: number, s: Uint8Array, sl: number, k: Uint8Array, kl: number, r: number) => number
}
const reference: ReferencePbkdf = createRequire(import.meta.url)("bcrypt-pbkdf")

describe("Bcrypt.pbkdf", () => {
  for (const [password, salt, rounds, expected] of VECTORS) {
    it(`OpenBSD vector ${JSON.stringify(password.slice(0, 12))} / ${JSON.stringify(salt)} / ${rounds} rounds`, () => {
      const out = Bcrypt.pbkdf(enc(password), enc(salt), rounds, expected.length / 2)
      assert.strictEqual(hex(Either.getOrThrow(out)), expected)
    })
  }

  it.prop(
    "agrees with the npm bcrypt-pbkdf package",
    [
      FastCheck.uint8Array({ minLength: 1, maxLength: 80 }),
      FastCheck.uint8Array({ minLength: 1, maxLength: 40 }),
      FastCheck.integer({ min: 1, max: 2 }),
      FastCheck.integer({ min: 1, max: 100 })
    ],
    ([password, salt, rounds, keyLength]) => {
      const expected = new Uint8Array(keyLength)
      assert.strictEqual(reference.pbkdf(password, password.length, salt, salt.length, expected, keyLength, rounds), 0)
      assert.strictEqual(hex(Either.getOrThrow(Bcrypt.pbkdf(password, salt, rounds, keyLength))), hex(expected))
    },
    { fastCheck: { numRuns: 10 } }
  )

  it("refuses rounds outside 1..maxRounds before doing any work (LIM-32), and bad inputs", () => {
    const reason = (r: Either.Either<Uint8Array, KeyError>) => (Either.isLeft(r) ? r.left.reason : "ok")
    const start = performance.now()
    assert.strictEqual(reason(Bcrypt.pbkdf(enc("pw"), enc("salt"), 0xffffffff, 48)), "Unsupported")
    assert.strictEqual(reason(Bcrypt.pbkdf(enc("pw"), enc("salt"), Bcrypt.DEFAULT_MAX_ROUNDS + 1, 48)), "Unsupported")
    assert.strictEqual(reason(Bcrypt.pbkdf(enc("pw"), enc("salt"), 0, 48)), "Unsupported")
    assert.strictEqual(reason(Bcrypt.pbkdf(enc("pw"), enc("salt"), 16, 48, { maxRounds: 8 })), "Unsupported")
    assert.isBelow(performance.now() - start, 2000)
    assert.strictEqual(reason(Bcrypt.pbkdf(new Uint8Array(0), enc("salt"), 1, 48)), "Passphrase")
    assert.strictEqual(reason(Bcrypt.pbkdf(enc("pw"), new Uint8Array(0), 1, 48)), "Parse")
    assert.strictEqual(reason(Bcrypt.pbkdf(enc("pw"), enc("salt"), 1, 0)), "Parse")
    assert.strictEqual(reason(Bcrypt.pbkdf(enc("pw"), enc("salt"), 1, 1025)), "Parse")
  })

  it("the default 16 rounds for a 48-byte key ‖ IV (aes256-ctr) finish: a 2 s bound only catches a pathological blow-up, never performance", () => {
    const start = performance.now()
    Either.getOrThrow(Bcrypt.pbkdf(enc(PASS), new Uint8Array(16).fill(7), 16, 48))
    assert.isBelow(performance.now() - start, 2000)
  })
})

// ---- keys from ssh-keygen ----

const SSH_KEYGEN = "/usr/bin/ssh-keygen"
const haveKeygen = existsSync(SSH_KEYGEN)
if (!haveKeygen && process.env.CI) throw new Error(`${SSH_KEYGEN} is required in CI`)
if (!haveKeygen) console.warn(`SKIPPING ssh-keygen private key tests: ${SSH_KEYGEN} not found`)

const dir = haveKeygen ? mkdtempSync(join(tmpdir(), "privatekey-test-")) : ""
afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true })
})
const keygen = (args: ReadonlyArray<string>, input = ""): string =>
  execFileSync(SSH_KEYGEN, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] })

interface KeyFile {
  readonly name: string
  readonly file: string
  readonly text: string
  /** The blob of the `.pub` file. */
  readonly blob: Uint8Array
  readonly keyType: string
  readonly comment: string
}

const load = (name: string, file: string, comment: string): KeyFile => {
  const [keyType, b64] = readFileSync(`${file}.pub`, "utf8").split(" ")
  const blob = new Uint8Array(Buffer.from(b64!, "base64"))
  return { name, file, text: readFileSync(file, "utf8"), blob, keyType: keyType!, comment }
}

const generate = (type: string, extra: ReadonlyArray<string>): KeyFile => {
  const name = `${type}${extra[1] ?? ""}`
  const file = join(dir, name)
  const comment = `${name} test key ✓`
  keygen(["-q", "-t", type, ...extra, "-N", "", "-C", comment, "-f", file])
  return load(name, file, comment)
}

/** A copy of `base` re-encrypted by `ssh-keygen -p` with PASS and the given -Z / -a options. */
const encrypt = (base: KeyFile, suffix: string, args: ReadonlyArray<string>, from = ""): KeyFile => {
  const file = `${base.file}-${suffix}`
  copyFileSync(base.file, file)
  copyFileSync(`${base.file}.pub`, `${file}.pub`)
  keygen(["-p", "-P", from, "-N", PASS, ...args, "-f", file])
  return load(`${base.name} ${suffix}`, file, base.comment)
}

const TYPES = [["ed25519", []], ["ecdsa", ["-b", "256"]], ["ecdsa", ["-b", "384"]], ["ecdsa", ["-b", "521"]], [
  "rsa",
  ["-b", "2048"]
]] as const
const plain: ReadonlyArray<KeyFile> = haveKeygen ? TYPES.map(([type, extra]) => generate(type, extra)) : []
const byName = (name: string): KeyFile => plain.find((k) => k.name === name)!
const encrypted: ReadonlyArray<readonly [KeyFile, KeyFile]> = plain.map((k) => [k, encrypt(k, "aes256-ctr", [])])
const variants: ReadonlyArray<readonly [KeyFile, KeyFile]> = haveKeygen
  ? ([
    ["ecdsa256", "aes128-ctr", ["-Z", "aes128-ctr"]],
    ["ed25519", "aes192-ctr", ["-Z", "aes192-ctr"]],
    ["ecdsa384", "aes128-gcm", ["-Z", "aes128-gcm@openssh.com"]],
    ["ed25519", "aes256-gcm", ["-Z", "aes256-gcm@openssh.com"]],
    ["rsa2048", "chacha20-poly1305", ["-Z", "chacha20-poly1305@openssh.com"]],
    ["ecdsa521", "4 rounds", ["-a", "4"]]
  ] as const).map(([base, suffix, args]) => [byName(base), encrypt(byName(base), suffix, args)])
  : []

/** Signs with the parsed key on both backends; HostKey.verify on both accepts it under the `.pub` blob. */
const assertSigns = (key: PrivateKey.ParsedPrivateKey, blob: Uint8Array): void => {
  const data = enc("session identifier ‖ userauth request")
  for (const algorithm of HostKey.algorithmsForKey(key.material)) {
    for (const signer of backends) {
      const signature = HostKey.sign(signer, algorithm, key.material, data)
      for (const verifier of backends) {
        assert.isTrue(HostKey.verify(verifier, algorithm, blob, data, signature), `${algorithm} ${signer.name}`)
      }
    }
  }
}

const assertMatches = (key: PrivateKey.ParsedPrivateKey, file: KeyFile): void => {
  assert.deepStrictEqual(key.publicKey, file.blob)
  assert.strictEqual(key.type, file.keyType)
  assert.strictEqual(key.comment, file.comment)
}

describe.skipIf(!haveKeygen)("PrivateKey.parsePrivateKey ↔ ssh-keygen", () => {
  for (const file of plain) {
    it(`${file.name}, unencrypted: public blob and comment as in the .pub file; signatures verify`, () => {
      const key = right(PrivateKey.parsePrivateKey(file.text))
      assertMatches(key, file)
      assertSigns(key, file.blob)
      // CRLF line ends, blank lines around and trailing blanks are tolerated.
      const crlf = `\r\n${file.text.replace(/\n/g, "  \r\n")}\r\n`
      assert.deepStrictEqual(right(PrivateKey.parsePrivateKey(crlf)), key)
    })
  }

  // Each key type under ssh-keygen's default (aes256-ctr, 16 rounds), decrypted on the backends in turn; each
  // other cipher on both backends, since they decrypt with the backend's primitives.
  const cases = [
    ...encrypted.map(([base, file], i) => [base, file, [backends[i % backends.length]!]] as const),
    ...variants.map(([base, file]) => [base, file, backends] as const)
  ]
  for (const [base, file, on] of cases) {
    it(`${file.name}: decrypts to the same key as the unencrypted file (${on.map((b) => b.name).join(", ")})`, () => {
      const expected = right(PrivateKey.parsePrivateKey(base.text))
      for (const backend of on) {
        const key = right(PrivateKey.parsePrivateKey(file.text, pass, { backend }))
        assertMatches(key, file)
        assert.deepStrictEqual(key.material, expected.material)
      }
      assertSigns(expected, file.blob)
    })
  }

  for (const file of plain) {
    for (const signer of backends) {
      it(`ssh-keygen -Y verify accepts a signature by the parsed ${file.name} key (signed on ${signer.name})`, () => {
        const key = right(PrivateKey.parsePrivateKey(file.text))
        const algorithm = HostKey.algorithmsForKey(key.material)[0]!
        const message = enc(`signed with ${file.name}`)
        // PROTOCOL.sshsig §3: the signed data; §2: the blob.
        const signed = Writer.build((w) =>
          w.raw(enc("SSHSIG")).string("file").string("").string("sha512")
            .string(NodeCrypto.createHash("sha512").update(message).digest())
        )
        const sshsig = Writer.build((w) =>
          w.raw(enc("SSHSIG")).uint32(1).string(key.publicKey).string("file").string("").string("sha512")
            .string(HostKey.sign(signer, algorithm, key.material, signed))
        )
        const tag = join(dir, `${file.name}-${signer.name}`)
        const b64 = Buffer.from(sshsig).toString("base64").match(/.{1,70}/g)!.join("\n")
        writeFileSync(`${tag}.sig`, `-----BEGIN SSH SIGNATURE-----\n${b64}\n-----END SSH SIGNATURE-----\n`)
        writeFileSync(`${tag}.allowed`, `me@test ${readFileSync(`${file.file}.pub`, "utf8")}`)
        const out = keygen(
          ["-Y", "verify", "-f", `${tag}.allowed`, "-I", "me@test", "-n", "file", "-s", `${tag}.sig`],
          new TextDecoder().decode(message)
        )
        assert.match(out, /Good "file" signature for me@test/)
      })
    }
  }

  it("an encrypted key without a passphrase, or with an empty one, fails with Passphrase; the passphrase never shows", () => {
    const [, file] = encrypted[0]!
    const missing = PrivateKey.parsePrivateKey(file.text)
    assert.strictEqual(reasonOf(missing), "Passphrase")
    assert.match(Either.isLeft(missing) ? missing.left.message : "", /encrypted/)
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(file.text, Redacted.make(""))), "Passphrase")
  })

  for (const [, file] of [encrypted[0]!, variants[3]!, variants[4]!]) {
    it(`${file.name}: a wrong passphrase fails with Passphrase and is not in the error`, () => {
      const secret = "tr0ub4dor&3"
      const r = PrivateKey.parsePrivateKey(file.text, Redacted.make(secret))
      assert.strictEqual(reasonOf(r), "Passphrase")
      const error = Either.isLeft(r) ? r.left : assert.fail("parsed with a wrong passphrase")
      for (const shown of [error.message, String(error), JSON.stringify(error)]) assert.notInclude(shown, secret)
    })
  }

  it("KDF rounds above the bound are refused at once (LIM-32, SEC-28); maxKdfRounds moves the bound", () => {
    const [, file] = encrypted[0]!
    for (const rounds of [5000, 0xffffffff, 0]) {
      const start = performance.now()
      const r = PrivateKey.parsePrivateKey(rearmor(patchRounds(dearmor(file.text), rounds)), pass)
      assert.isBelow(performance.now() - start, 2000)
      assert.strictEqual(reasonOf(r), "Unsupported", `${rounds}`)
      assert.match(Either.isLeft(r) ? r.left.message : "", /rounds/)
    }
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(file.text, pass, { maxKdfRounds: 8 })), "Unsupported")
    // Refused before the passphrase is asked for.
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(file.text, undefined, { maxKdfRounds: 8 })), "Unsupported")
  })

  it("a default (16-round) encrypted key parses: a 2 s bound only catches a pathological blow-up, never performance", () => {
    const [, file] = encrypted[0]!
    const start = performance.now()
    right(PrivateKey.parsePrivateKey(file.text, pass))
    assert.isBelow(performance.now() - start, 2000)
  })

  it("CBC-encrypted keys (aes256-cbc, 3des-cbc) decrypt to the same key; a wrong passphrase is Passphrase", () => {
    const base = byName("ed25519")
    for (const cipher of ["aes256-cbc", "3des-cbc"]) {
      const cbc = encrypt(base, cipher, ["-Z", cipher])
      const key = right(PrivateKey.parsePrivateKey(cbc.text, pass))
      assert.deepStrictEqual(key.material, right(PrivateKey.parsePrivateKey(base.text)).material, cipher)
      assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(cbc.text, Redacted.make("wrong"))), "Passphrase", cipher)
    }
  })

  it("cipher none with KDF bcrypt (ssh-keygen -Z none -N …) needs a passphrase, as OpenSSH does", () => {
    const none = encrypt(byName("ecdsa256"), "none", ["-Z", "none"])
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(none.text)), "Passphrase")
    assertMatches(right(PrivateKey.parsePrivateKey(none.text, pass)), none)
  })

  it("PEM and PKCS#8 files parse to the same key; RSA below minRsaBits is Unsupported", () => {
    for (const format of ["PEM", "PKCS8"]) {
      const file = `${byName("ecdsa256").file}-${format}`
      copyFileSync(byName("ecdsa256").file, file)
      keygen(["-p", "-P", "", "-N", "", "-m", format, "-f", file])
      const key = right(PrivateKey.parsePrivateKey(readFileSync(file, "utf8")))
      assert.deepStrictEqual(key.material, right(PrivateKey.parsePrivateKey(byName("ecdsa256").text)).material, format)
    }
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(byName("rsa2048").text, undefined, { minRsaBits: 3072 })), "Unsupported")
  })
})

// ---- malformed files ----

const dearmor = (text: string): Uint8Array =>
  new Uint8Array(Buffer.from(text.split("\n").filter((l) => !l.startsWith("-----")).join(""), "base64"))
const rearmor = (bin: Uint8Array): string =>
  `-----BEGIN OPENSSH PRIVATE KEY-----\n${
    Buffer.from(bin).toString("base64").match(/.{1,70}/g)?.join("\n") ?? ""
  }\n-----END OPENSSH PRIVATE KEY-----\n`

/** Offsets of the fields of an openssh-key-v1 binary (PROTOCOL.key §1). */
const layout = (bin: Uint8Array) => {
  const r = new Reader(bin)
  r.raw(15)
  const cipher = r.pos + 4
  r.string()
  const kdf = r.pos + 4
  r.string()
  r.string()
  const count = r.pos
  r.uint32()
  const pub = r.pos + 4
  r.string()
  const priv = r.pos + 4
  return { cipher, kdf, count, pub, priv }
}

const patch = (bin: Uint8Array, at: number, f: (b: Uint8Array) => void): Uint8Array => {
  const copy = bin.slice()
  f(copy.subarray(at))
  return copy
}
const patchUint32 = (bin: Uint8Array, at: number, v: number) => patch(bin, at, (b) => new DataView(b.buffer, b.byteOffset).setUint32(0, v))
const patchRounds = (bin: Uint8Array, rounds: number): Uint8Array => {
  const { count } = layout(bin)
  return patchUint32(bin, count - 4, rounds)
}

describe.skipIf(!haveKeygen)("PrivateKey.parsePrivateKey on malformed input", () => {
  const ed = haveKeygen ? dearmor(byName("ed25519").text) : new Uint8Array(0)
  const parse = (bin: Uint8Array, passphrase?: Redacted.Redacted<string>) =>
    PrivateKey.parsePrivateKey(rearmor(bin), passphrase)

  it("armor and base64: garbage is a Parse error", () => {
    const text = byName("ed25519").text
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(text.replace(/\n([A-Za-z])/, "\n*$1"))), "Parse")
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(text.replace("-----END OPENSSH PRIVATE KEY-----", ""))), "Parse")
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(`${text}trailing garbage\n`)), "Parse")
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(`x${text}`)), "Parse")
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey("")), "Parse")
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey(text.repeat(2))), "Parse")
    assert.strictEqual(reasonOf(PrivateKey.parsePrivateKey("A".repeat(PrivateKey.MAX_KEY_FILE_SIZE + 1))), "Parse")
    assert.strictEqual(reasonOf(parse(patch(ed, 0, (b) => (b[0] = 0x4f)))), "Parse")
  })

  it("header fields: unknown cipher or KDF is Unsupported, a key count other than 1 is refused", () => {
    const { cipher, kdf, count } = layout(ed)
    assert.strictEqual(reasonOf(parse(patch(ed, cipher, (b) => b.set(enc("nonf"))))), "Unsupported")
    const bcrypt = dearmor(encrypted[0]![1].text)
    assert.strictEqual(reasonOf(parse(patch(bcrypt, layout(bcrypt).kdf, (b) => b.set(enc("scrypt"))))), "Unsupported")
    // sshkey.c: a cipher without a KDF is an invalid format.
    const noKdf = Writer.build((w) =>
      w.raw(enc("openssh-key-v1\0")).string("aes256-ctr").string("none").string("").raw(ed.subarray(count))
    )
    assert.strictEqual(reasonOf(parse(noKdf)), "Parse")
    assert.strictEqual(reasonOf(parse(patch(ed, kdf, (b) => b.set(enc("nonf"))))), "Unsupported")
    assert.strictEqual(reasonOf(parse(patchUint32(ed, count, 2))), "Unsupported")
    // A key type we do not implement (here: a renamed ed25519 key) is Unsupported, named in the message.
    const r = parse(patch(ed, layout(ed).pub + 4, (b) => b.set(enc("ssh-ed25518"))))
    assert.strictEqual(reasonOf(r), "Unsupported")
    assert.include(Either.isLeft(r) ? r.left.message : "", "ssh-ed25518")
    assert.strictEqual(reasonOf(parse(patchUint32(ed, count, 0))), "Parse")
  })

  it("the private section: check-ints, padding, and a private key that is not the header's are Parse errors", () => {
    const { pub, priv } = layout(ed)
    assert.strictEqual(reasonOf(parse(patch(ed, priv, (b) => (b[0]! ^= 1)))), "Parse")
    assert.strictEqual(reasonOf(parse(patch(ed, ed.length - 1, (b) => (b[0]! ^= 0xff)))), "Parse")
    const other = HostKey.encodePublicKey(HostKey.publicKeyOf(PortableCrypto.generateKey({ type: "ed25519" })))
    const swapped = patch(ed, pub - 4, (b) => b.set(Writer.build((w) => w.string(other))))
    const r = parse(swapped)
    assert.strictEqual(reasonOf(r), "Parse")
    assert.match(Either.isLeft(r) ? r.left.message : "", /does not match/)
  })

  it.prop("never throws on random text", [FastCheck.string({ maxLength: 400 })], ([text]) => {
    assert.isTrue(isCleanResult(PrivateKey.parsePrivateKey(text, pass)))
    assert.isTrue(isCleanResult(PrivateKey.parsePrivateKey(`-----BEGIN OPENSSH PRIVATE KEY-----\n${text}`)))
  }, { fastCheck: { numRuns } })

  it.prop("never throws on random bytes in the armor", [FastCheck.uint8Array({ maxLength: 600 })], ([bytes]) => {
    assert.isTrue(isCleanResult(parse(bytes, pass)))
    assert.isTrue(isCleanResult(parse(Uint8Array.from([...enc("openssh-key-v1\0"), ...bytes]), pass)))
  }, { fastCheck: { numRuns } })

  it.prop(
    "never throws on key files with characters replaced",
    [
      FastCheck.nat({ max: 4 }),
      FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.constantFrom(..."A/+=\r\n -*\u00e9\0")), { maxLength: 3 })
    ],
    ([which, edits]) => {
      let text = plain[which % plain.length]!.text
      for (const [at, c] of edits) text = text.slice(0, at % text.length) + c + text.slice((at % text.length) + 1)
      assert.isTrue(isCleanResult(PrivateKey.parsePrivateKey(text)))
    },
    { fastCheck: { numRuns } }
  )

  // Mutations of real files: cheap encrypted bases (1 round) and a low round cap keep each parse fast.
  const bases: ReadonlyArray<Uint8Array> = haveKeygen
    ? [
      ...plain.map((k) => dearmor(k.text)),
      dearmor(encrypt(byName("ed25519"), "fuzz-chacha", ["-a", "1", "-Z", "chacha20-poly1305@openssh.com"]).text),
      dearmor(encrypt(byName("ecdsa256"), "fuzz-gcm", ["-a", "1", "-Z", "aes256-gcm@openssh.com"]).text),
      dearmor(encrypt(byName("ecdsa384"), "fuzz-ctr", ["-a", "1", "-Z", "aes128-ctr"]).text)
    ]
    : []
  it.prop(
    "never throws on mutated and truncated key files; whatever parses is self-consistent",
    [
      FastCheck.nat({ max: 7 }),
      FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.integer({ min: 1, max: 255 })), { maxLength: 4 }),
      FastCheck.option(FastCheck.nat())
    ],
    ([which, flips, cut]) => {
      const base = bases[which % bases.length]!
      const bin = base.slice(0, cut === null ? base.length : cut % (base.length + 1))
      for (const [at, x] of flips) if (bin.length > 0) bin[at % bin.length]! ^= x
      const r = PrivateKey.parsePrivateKey(rearmor(bin), pass, { maxKdfRounds: 4 })
      assert.isTrue(isCleanResult(r))
      if (Either.isRight(r)) {
        assert.deepStrictEqual(HostKey.encodePublicKey(HostKey.publicKeyOf(r.right.material)), r.right.publicKey)
      }
    },
    { fastCheck: { numRuns } }
  )
})
