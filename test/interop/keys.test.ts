/**
 * Key files in both directions against the real tools: keys that `ssh-keygen` (every format and every `-Z` cipher
 * of `ssh -Q cipher`), `openssl`/OpenSSL via node:crypto (legacy-encrypted PEM, PBES2 PKCS#8) and `puttygen`
 * (PPK v2 and v3) write are read and used (they sign, and the signature verifies under the tool's public key);
 * keys we write are read by `ssh-keygen -y` / node:crypto and re-encrypted by `ssh-keygen -p`; public keys,
 * fingerprints (SHA256, MD5) and randomart are byte-for-byte what `ssh-keygen -l[v]` prints.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { execFileSync } from "node:child_process"
import * as NodeCrypto_ from "node:crypto"
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeEach } from "vitest"
import type { CryptoBackend, PrivateKeyMaterial } from "../../src/crypto/Backend.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import { PortableCrypto } from "../../src/crypto/portable/PortableCrypto.js"
import * as PrivateKey from "../../src/keys/PrivateKey.js"
import * as PublicKey from "../../src/keys/PublicKey.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import type { KeyError } from "../../src/SshError.js"
import { backends } from "../helpers/Backends.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const PUTTYGEN = "/usr/bin/puttygen"
const OPENSSL = "/usr/bin/openssl"
const haveKeygen = existsSync(OpenSsh.SSH_KEYGEN)
const havePuttygen = existsSync(PUTTYGEN)
const haveOpenssl = existsSync(OPENSSL)
if (process.env.CI && !(haveKeygen && havePuttygen && haveOpenssl)) {
  throw new Error("ssh-keygen, puttygen (putty-tools) and openssl are required in CI")
}

const PASS = "correct horse"
const pass = Redacted.make(PASS)
const dir = mkdtempSync(join(tmpdir(), "effect-ssh-keys-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
// The tests are synchronous (child processes, KDFs): yield to the event loop between them, or vitest's worker
// cannot answer its runner for the whole file and reports an RPC timeout.
beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)))

const run = (cmd: string, args: ReadonlyArray<string>): string =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] })
const keygen = (args: ReadonlyArray<string>): string => run(OpensshKeygen, args)
const OpensshKeygen = OpenSsh.SSH_KEYGEN
let counter = 0
const path = (name: string): string => join(dir, `${counter++}-${name}`)
const write = (name: string, text: string): string => {
  const file = path(name)
  writeFileSync(file, text, { mode: 0o600 })
  return file
}

type Result = Either.Either<PrivateKey.ParsedPrivateKey, KeyError>
const right = (r: Result, what = ""): PrivateKey.ParsedPrivateKey => {
  if (Either.isLeft(r)) assert.fail(`${what}: expected a key, got ${r.left.message}`)
  return r.right
}
const reasonOf = (r: Either.Either<unknown, KeyError>): string => (Either.isLeft(r) ? r.left.reason : "ok")
/** The first two fields of a public key line: type and base64. */
const typeAndBlob = (line: string): string => line.trim().split(/\s+/).slice(0, 2).join(" ")

/** Signs with the key on both backends for every algorithm it supports; both backends verify under `blob`. */
const assertSigns = (key: PrivateKey.ParsedPrivateKey, blob: Uint8Array): void => {
  const data = new TextEncoder().encode("session identifier ‖ userauth request")
  for (const algorithm of HostKey.algorithmsForKey(key.material)) {
    for (const signer of backends) {
      const signature = HostKey.sign(signer, algorithm, key.material, data)
      for (const verifier of backends) {
        assert.isTrue(HostKey.verify(verifier, algorithm, blob, data, signature), `${algorithm} ${signer.name}`)
      }
    }
  }
}

const TYPES = [
  { name: "ed25519", args: ["-t", "ed25519"], spec: { type: "ed25519" } },
  { name: "ecdsa256", args: ["-t", "ecdsa", "-b", "256"], spec: { type: "ecdsa", curve: "nistp256" } },
  { name: "ecdsa384", args: ["-t", "ecdsa", "-b", "384"], spec: { type: "ecdsa", curve: "nistp384" } },
  { name: "ecdsa521", args: ["-t", "ecdsa", "-b", "521"], spec: { type: "ecdsa", curve: "nistp521" } },
  { name: "rsa2048", args: ["-t", "rsa", "-b", "2048"], spec: { type: "rsa", bits: 2048 } }
] as const

interface KeygenKey {
  readonly name: string
  readonly file: string
  readonly blob: Uint8Array
  readonly pubLine: string
  readonly key: PrivateKey.ParsedPrivateKey
}

/**
 * `ssh-keygen -t T -f f -N ""`, parsed: the reference every other format of the same key is compared with. Made on
 * first use inside a test, so that collecting the tests does not block the worker.
 */
const keygenKeys = new Map<string, KeygenKey>()
const keygenKey = (name: string): KeygenKey => {
  const cached = keygenKeys.get(name)
  if (cached !== undefined) return cached
  const file = path(name)
  keygen(["-q", ...TYPES.find((t) => t.name === name)!.args, "-N", "", "-C", `${name} comment`, "-f", file])
  const pubLine = readFileSync(`${file}.pub`, "utf8")
  const blob = new Uint8Array(Buffer.from(pubLine.split(" ")[1]!, "base64"))
  const k = { name, file, blob, pubLine, key: right(PrivateKey.parse(readFileSync(file, "utf8")), name) }
  keygenKeys.set(name, k)
  return k
}

/** A copy of a key file converted by `ssh-keygen -p` to the given format options and passphrase. */
const convert = (k: Pick<KeygenKey, "name" | "file">, suffix: string, args: ReadonlyArray<string>, passphrase: string): string => {
  const file = path(`${k.name}-${suffix}`)
  copyFileSync(k.file, file)
  chmodSync(file, 0o600)
  keygen(["-p", "-P", "", "-N", passphrase, ...args, "-f", file])
  return readFileSync(file, "utf8")
}

describe.skipIf(!haveKeygen)("keys ssh-keygen writes, we read and use", () => {
  for (const { name } of TYPES) {
    const k = { name, get file() { return keygenKey(name).file }, get blob() { return keygenKey(name).blob }, get key() { return keygenKey(name).key } }
    it(`${k.name}: default format with -N: the .pub blob and comment; signatures verify under it`, () => {
      const file = path(k.name)
      keygen(["-q", ...TYPES.find((t) => t.name === k.name)!.args, "-N", PASS, "-C", "with passphrase", "-f", file])
      const key = right(PrivateKey.parse(readFileSync(file, "utf8"), { passphrase: pass }))
      const pub = readFileSync(`${file}.pub`, "utf8")
      assert.strictEqual(PublicKey.format(PrivateKey.publicKey(key)), pub.trim())
      assert.strictEqual(key.comment, "with passphrase")
      assertSigns(key, new Uint8Array(Buffer.from(pub.split(" ")[1]!, "base64")))
    })

    for (const format of ["PEM", "PKCS8"]) {
      for (const passphrase of ["", PASS]) {
        it(`${k.name}: -m ${format}${passphrase ? " -N pass" : ""} is the same key`, () => {
          const text = convert(k, format, ["-m", format], passphrase)
          // ssh-keygen 9.2 writes ed25519 keys in its own format whatever -m says.
          const label = k.name === "ed25519"
            ? "OPENSSH PRIVATE KEY"
            : format === "PKCS8"
            ? (passphrase ? "ENCRYPTED PRIVATE KEY" : "PRIVATE KEY")
            : k.name === "rsa2048"
            ? "RSA PRIVATE KEY"
            : "EC PRIVATE KEY"
          assert.strictEqual(text.split("\n")[0], `-----BEGIN ${label}-----`)
          if (format === "PEM" && passphrase && k.name !== "ed25519") assert.include(text, "Proc-Type: 4,ENCRYPTED")
          const key = right(PrivateKey.parse(text, { passphrase: pass }), format)
          assert.deepStrictEqual(key.material, k.key.material)
          assert.deepStrictEqual(key.publicKey, k.blob)
          assertSigns(key, k.blob)
          if (passphrase) assert.strictEqual(reasonOf(PrivateKey.parse(text, { passphrase: Redacted.make("wrong") })), "Passphrase")
          if (passphrase) assert.strictEqual(reasonOf(PrivateKey.parse(text)), "Passphrase")
        })
      }
    }

    it(`${k.name}: ssh-keygen -e -m RFC4716 / PKCS8 / PEM public keys are the .pub key`, () => {
      const pub = `${k.file}.pub`
      const formats = k.name === "ed25519" ? ["RFC4716"] : k.name === "rsa2048" ? ["RFC4716", "PKCS8", "PEM"] : ["RFC4716", "PKCS8"]
      for (const format of formats) {
        const text = keygen(["-e", "-m", format, "-f", pub])
        const parsed = PublicKey.parse(text)
        if (Either.isLeft(parsed)) assert.fail(`${format}: ${parsed.left.message}`)
        assert.deepStrictEqual(parsed.right.blob, k.blob, format)
        if (format === "RFC4716") assert.match(parsed.right.comment, /converted by/)
      }
    })
  }

  // Every cipher this OpenSSH offers, spread over the key types.
  const ciphers = haveKeygen ? run(OpenSsh.SSH, ["-Q", "cipher"]).trim().split("\n") : []
  ciphers.forEach((cipher, i) => {
    const name = TYPES[i % TYPES.length]!.name
    it(`ssh-keygen -Z ${cipher} (${name}) decrypts to the same key; a wrong passphrase is Passphrase`, () => {
      const k = keygenKey(name)
      const text = convert(k, cipher, ["-Z", cipher], PASS)
      for (const backend of backends) {
        const key = right(PrivateKey.parse(text, { passphrase: pass, backend }), `${cipher} ${backend.name}`)
        assert.deepStrictEqual(key.material, k.key.material)
        assert.strictEqual(key.comment, `${k.name} comment`)
      }
      assert.strictEqual(reasonOf(PrivateKey.parse(text, { passphrase: Redacted.make("wrong one") })), "Passphrase")
    })
  })
})

// ---- keys we write ----

/** Keys we generate, one per type and backend, made on first use (portable RSA generation takes seconds). */
const generatedKeys = new Map<string, PrivateKeyMaterial>()
const generated = (backend: CryptoBackend, type: (typeof TYPES)[number]): PrivateKeyMaterial => {
  const id = `${backend.name} ${type.name}`
  const key = generatedKeys.get(id) ?? Either.getOrThrow(PrivateKey.generateWith(backend, type.spec))
  generatedKeys.set(id, key)
  return key
}

describe.skipIf(!haveKeygen)("keys we generate and write, ssh-keygen and OpenSSL read", () => {
  for (const backend of backends) {
    for (const type of TYPES) {
      const name = type.name
      const label = `${name} (generated on ${backend.name})`

      it(`${label}: openssh-key-v1 plain and encrypted: ssh-keygen -y gives our public line`, () => {
        const key = generated(backend, type)
        const pub = PrivateKey.publicKey(key, "our comment")
        for (const passphrase of [undefined, pass]) {
          const text = Either.getOrThrow(PrivateKey.encode(key, { comment: "our comment", passphrase, backend }))
          const file = write(name, text)
          const out = keygen(["-y", "-P", passphrase ? PASS : "", "-f", file])
          assert.strictEqual(out.trim(), PublicKey.format(pub))
        }
      })

      it(`${label}: ssh-keygen -p re-encrypts our encrypted key; we read the result`, () => {
        const key = generated(backend, type)
        const file = write(name, Either.getOrThrow(PrivateKey.encode(key, { passphrase: pass, comment: "c" })))
        keygen(["-p", "-P", PASS, "-N", "new passphrase", "-f", file])
        const back = right(PrivateKey.parse(readFileSync(file, "utf8"), { passphrase: Redacted.make("new passphrase") }))
        assert.deepStrictEqual(back.material, key)
        assert.strictEqual(back.comment, "c")
      })

      it(`${label}: PKCS#8 plain and encrypted (PBES2) are read by ${name === "ed25519" ? "OpenSSL" : "ssh-keygen -y and OpenSSL"}`, () => {
        const key = generated(backend, type)
        const pub = PrivateKey.publicKey(key, "our comment")
        for (const passphrase of [undefined, pass]) {
          const text = Either.getOrThrow(PrivateKey.encode(key, { format: "pkcs8", passphrase, iterations: 2048 }))
          assert.strictEqual(text.split("\n")[0], passphrase ? "-----BEGIN ENCRYPTED PRIVATE KEY-----" : "-----BEGIN PRIVATE KEY-----")
          const spki = NodeCrypto_.createPublicKey({ key: text, format: "pem", ...(passphrase ? { passphrase: PASS } : {}) })
            .export({ type: "spki", format: "pem" })
          assert.strictEqual(spki, PublicKey.formatPkcs8(pub))
          // OpenSSH 9.2 reads no Ed25519 PKCS#8 ("invalid format"); OpenSSL is the reference there.
          if (name !== "ed25519") {
            const file = write(name, text)
            assert.strictEqual(typeAndBlob(keygen(["-y", "-P", passphrase ? PASS : "", "-f", file])), PublicKey.format(PrivateKey.publicKey(key)))
          }
          assert.deepStrictEqual(right(PrivateKey.parse(text, { passphrase: pass })).material, key)
        }
      })

      if (name !== "ed25519") {
        it(`${label}: traditional PEM (PKCS#1 / SEC1) is read by ssh-keygen -y`, () => {
        const key = generated(backend, type)
          const text = Either.getOrThrow(PrivateKey.encode(key, { format: "pem" }))
          const file = write(name, text)
          assert.strictEqual(typeAndBlob(keygen(["-y", "-f", file])), PublicKey.format(PrivateKey.publicKey(key)))
        })
      }

      it(`${label}: fingerprints (SHA256, MD5) and randomart equal ssh-keygen -l / -lv`, () => {
        const key = generated(backend, type)
        const pub = PrivateKey.publicKey(key, "our comment")
        const file = write(`${name}.pub`, PublicKey.format(pub) + "\n")
        for (const hash of ["sha256", "md5"] as const) {
          const [line, ...art] = keygen(["-lv", "-E", hash, "-f", file]).trimEnd().split("\n")
          assert.strictEqual(line, PublicKey.describe(pub, hash))
          assert.strictEqual(art.join("\n"), PublicKey.randomart(pub, hash))
          assert.strictEqual(keygen(["-l", "-E", hash, "-f", file]).trim(), PublicKey.describe(pub, hash))
        }
      })

      it(`${label}: RFC 4716 and PKCS#8 public keys we write are imported by ssh-keygen -i`, () => {
        const key = generated(backend, type)
        const pub = PrivateKey.publicKey(key, "our comment")
        const rfc = write(`${name}.rfc`, PublicKey.formatRfc4716(pub))
        assert.strictEqual(typeAndBlob(keygen(["-i", "-m", "RFC4716", "-f", rfc])), typeAndBlob(PublicKey.format(pub)))
        if (name !== "ed25519") {
          const spki = write(`${name}.spki`, PublicKey.formatPkcs8(pub))
          assert.strictEqual(typeAndBlob(keygen(["-i", "-m", "PKCS8", "-f", spki])), typeAndBlob(PublicKey.format(pub)))
        }
      })
    }
  }

  it("RSA generation defaults to 3 072 bits; sizes below 2 048 are Unsupported", () => {
    const key = Either.getOrThrow(PrivateKey.generateWith(NodeCrypto, { type: "rsa" }))
    assert.strictEqual(key.type === "rsa" ? key.n.toString(2).length : 0, 3072)
    const file = write("rsa3072", Either.getOrThrow(PrivateKey.encode(key)))
    assert.match(keygen(["-l", "-f", file]), /^3072 SHA256:/)
    assert.strictEqual(reasonOf(PrivateKey.generateWith(PortableCrypto, { type: "rsa", bits: 1024 })), "Unsupported")
  })
})

// ---- legacy-encrypted PEM and PBES2 from OpenSSL ----

describe("keys OpenSSL writes (legacy-encrypted PEM, PBES2 PKCS#8), we read", () => {
  const pairs = [
    ["rsa", { modulusLength: 2048 }, "pkcs1"],
    ["ec", { namedCurve: "P-384" }, "sec1"]
  ] as const
  for (const [type, params, pem] of pairs) {
    for (const cipher of ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc", "des-ede3-cbc"]) {
      it(`${type} ${pem} PEM with DEK-Info ${cipher.toUpperCase()} (node:crypto / OpenSSL)`, () => {
        const { privateKey, publicKey } = NodeCrypto_.generateKeyPairSync(type as "rsa", {
          ...params,
          publicKeyEncoding: { type: "spki", format: "pem" },
          privateKeyEncoding: { type: pem as "pkcs1", format: "pem", cipher, passphrase: PASS }
        } as NodeCrypto_.RSAKeyPairOptions<"pem", "pem">)
        assert.include(privateKey, `DEK-Info: ${cipher.toUpperCase()},`)
        const key = right(PrivateKey.parse(privateKey, { passphrase: pass }), cipher)
        assert.strictEqual(PublicKey.formatPkcs8(PrivateKey.publicKey(key)), publicKey)
        assertSigns(key, key.publicKey)
        assert.strictEqual(reasonOf(PrivateKey.parse(privateKey, { passphrase: Redacted.make("wrong") })), "Passphrase")
      })
    }
  }

  const pbes2 = [["aes-256-cbc", "hmacWithSHA1"], ["aes-128-cbc", "hmacWithSHA256"], ["des3", "hmacWithSHA512"]] as const
  for (const [algorithm, prf] of pbes2) {
    it.skipIf(!haveOpenssl)(`openssl pkcs8 -topk8 -v2 ${algorithm} -v2prf ${prf}, for ed25519, P-256 and RSA`, () => {
      for (const [type, options] of [["ed25519", {}], ["ec", { namedCurve: "P-256" }], ["rsa", { modulusLength: 2048 }]] as const) {
        const { privateKey, publicKey } = NodeCrypto_.generateKeyPairSync(type as "ec", {
          ...options,
          publicKeyEncoding: { type: "spki", format: "pem" },
          privateKeyEncoding: { type: "pkcs8", format: "pem" }
        } as NodeCrypto_.ECKeyPairOptions<"pem", "pem">)
        const plainFile = write(`${type}.p8`, privateKey)
        const text = run(OPENSSL, [
          "pkcs8", "-topk8", "-in", plainFile, "-v2", algorithm, "-v2prf", prf, "-passout", `pass:${PASS}`
        ])
        assert.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/)
        const key = right(PrivateKey.parse(text, { passphrase: pass }), `${type} ${algorithm}`)
        assert.strictEqual(PublicKey.formatPkcs8(PrivateKey.publicKey(key)), publicKey)
        assert.strictEqual(reasonOf(PrivateKey.parse(text, { passphrase: Redacted.make("wrong") })), "Passphrase")
      }
    })
  }

  it("an Ed448 PKCS#8 key (OpenSSL) is Unsupported, and says why", () => {
    const { privateKey } = NodeCrypto_.generateKeyPairSync("ed448", {
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" }
    })
    const r = PrivateKey.parse(privateKey)
    assert.strictEqual(reasonOf(r), "Unsupported")
    assert.match(Either.isLeft(r) ? r.left.message : "", /Ed448/)
  })
})

// ---- PuTTY ----

describe.skipIf(!havePuttygen || !haveKeygen)("PuTTY PPK files puttygen writes, we read", () => {
  const passFile = write("pass", PASS + "\n")
  const emptyFile = write("empty", "")
  const PUTTY_TYPES = [
    ["ed25519", ["-t", "ed25519"]],
    ["ecdsa256", ["-t", "ecdsa", "-b", "256"]],
    ["ecdsa384", ["-t", "ecdsa", "-b", "384"]],
    ["ecdsa521", ["-t", "ecdsa", "-b", "521"]],
    ["rsa2048", ["-t", "rsa", "-b", "2048"]]
  ] as const
  const VARIANTS: ReadonlyArray<readonly [string, string, ReadonlyArray<string>]> = [
    ["v3 unencrypted", emptyFile, []],
    ["v3 Argon2id", passFile, ["--ppk-param", "passes=2"]],
    ["v2 encrypted", passFile, ["--ppk-param", "version=2"]]
  ]
  // Argon2i, Argon2d and an unencrypted v2 file on one type each.
  const EXTRA: Record<string, readonly [string, string, ReadonlyArray<string>]> = {
    ed25519: ["v3 Argon2i", passFile, ["--ppk-param", "kdf=argon2i,passes=1"]],
    ecdsa256: ["v3 Argon2d", passFile, ["--ppk-param", "kdf=argon2d,passes=1,memory=1024"]],
    rsa2048: ["v2 unencrypted", emptyFile, ["--ppk-param", "version=2"]]
  }
  for (const [name, args] of PUTTY_TYPES) {
    for (const [variant, passphraseFile, params] of [...VARIANTS, ...(EXTRA[name] ? [EXTRA[name]] : [])]) {
      it(`${name} ${variant}: the key puttygen exports to OpenSSH format; puttygen's public line`, () => {
        const ppk = path(`${name}.ppk`)
        run(PUTTYGEN, [...args, "-C", `putty ${name}`, "-o", ppk, "--new-passphrase", passphraseFile, ...params])
        const text = readFileSync(ppk, "utf8")
        assert.match(text, new RegExp(`^PuTTY-User-Key-File-${variant.startsWith("v2") ? 2 : 3}: `))
        const key = right(PrivateKey.parse(text, { passphrase: pass }), `${name} ${variant}`)
        const exported = path(`${name}.openssh`)
        run(PUTTYGEN, [ppk, "--old-passphrase", passphraseFile, "-O", "private-openssh-new", "-o", exported])
        assert.deepStrictEqual(key.material, right(PrivateKey.parse(readFileSync(exported, "utf8"), { passphrase: pass })).material)
        const pubLine = run(PUTTYGEN, [ppk, "--old-passphrase", passphraseFile, "-O", "public-openssh"]).trim()
        assert.strictEqual(PublicKey.format(PrivateKey.publicKey(key)), pubLine)
        assert.strictEqual(key.comment, `putty ${name}`)
        assertSigns(key, key.publicKey)
        if (passphraseFile === passFile) {
          assert.strictEqual(reasonOf(PrivateKey.parse(text, { passphrase: Redacted.make("wrong") })), "Passphrase")
          assert.strictEqual(reasonOf(PrivateKey.parse(text)), "Passphrase")
        }
      })
    }
  }
})
