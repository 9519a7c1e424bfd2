/**
 * SEC-67: KRLs made by `ssh-keygen -k -f` (the krl.sh matrix: serial lists, ranges and bitmaps, key ids,
 * explicit keys, SHA-1 and SHA-256 hashes, a revoked CA, a KRL for every CA) are parsed and agree with
 * `ssh-keygen -Q -f krl key` on every key and certificate; truncated and corrupted KRLs fail, never throw.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Certificate from "../../src/keys/Certificate.js"
import * as Krl from "../../src/keys/Krl.js"
import * as PublicKey from "../../src/keys/PublicKey.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-krl-"))
const keygen = (...args: Array<string>) => execFileSync(OpenSsh.SSH_KEYGEN, args, { stdio: "pipe" }).toString()

interface Made {
  readonly name: string
  readonly pub: string
}

/** A key pair, and when `serial` is given a user certificate of it from `ca` with that serial and key id. */
const make = (name: string, ca?: string, serial?: number, id?: string): Made => {
  const file = path.join(dir, name)
  keygen("-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file)
  if (ca === undefined) return { name, pub: `${file}.pub` }
  keygen("-q", "-s", path.join(dir, ca), "-I", id ?? name, "-n", "alice", "-z", String(serial ?? 0), `${file}.pub`)
  return { name, pub: `${file}-cert.pub` }
}

/** `ssh-keygen -Q`: exit 1 (and "REVOKED") when revoked. */
const sshKeygenSaysRevoked = (krl: string, pub: string): boolean => {
  const r = spawnSync(OpenSsh.SSH_KEYGEN, ["-Q", "-f", krl, pub], { stdio: "pipe" })
  return r.status !== 0 && /REVOKED/.test(r.stdout.toString())
}

const oursSaysRevoked = (krl: Krl.Krl, pub: string): boolean => {
  const text = fs.readFileSync(pub, "utf8").trim()
  if (text.includes("-cert-v01@openssh.com")) {
    const cert = Certificate.fromText(text)
    assert.isTrue(Either.isRight(cert))
    return Krl.isCertificateRevoked(krl, Either.getOrThrow(cert))
  }
  return Krl.isRevoked(krl, Either.getOrThrow(PublicKey.parseLine(text)).blob)
}

describe.skipIf(!has)("SEC-67 KRL made by ssh-keygen -k", () => {
  if (!has) return
  make("ca")
  make("ca2")
  make("revca")
  const certs: Array<Made> = []
  for (const serial of [0, 1, 5, 7, 10, 11, 50, 99, 100, 1000, 1001, 70000, 500000]) {
    certs.push(make(`c${serial}`, "ca", serial, `id-${serial}`))
  }
  certs.push(make("byid", "ca", 3, "mallory@example"))
  certs.push(make("otherca", "ca2", 5, "id-5"))
  certs.push(make("revokedca", "revca", 2, "fine"))
  const plain = [make("k1"), make("k2"), make("k3"), make("k4"), make("k5")]
  const k = (name: string) => fs.readFileSync(path.join(dir, `${name}.pub`), "utf8").trim()
  const fpr = (name: string, hash: string) => keygen("-l", "-E", hash, "-f", path.join(dir, `${name}.pub`)).split(" ")[1]!
  const spec = path.join(dir, "spec")
  fs.writeFileSync(spec, [
    "serial: 5",
    "serial: 10-11",
    "serial: 90-120",
    "serial: 1000",
    "serial: 70000",
    "serial: 100000-900000",
    "id: mallory@example",
    `key: ${k("k1")}`,
    `sha1: ${k("k2")}`,
    `sha256: ${k("k3")}`,
    `hash: ${fpr("k4", "sha256")}`,
    ""
  ].join("\n"))
  const krlFile = path.join(dir, "krl")
  keygen("-k", "-f", krlFile, "-s", path.join(dir, "ca.pub"), "-z", "42", spec)
  // A second KRL: a CA revoked as a plain key, and key ids under another CA.
  const spec2 = path.join(dir, "spec2")
  fs.writeFileSync(spec2, `id: id-5\nid: id-50\n`)
  const krl2File = path.join(dir, "krl2")
  keygen("-k", "-f", krl2File, "-s", path.join(dir, "ca2.pub"), spec2)
  keygen("-k", "-u", "-f", krl2File, path.join(dir, "revca.pub"))
  // Bitmap sections: many scattered serials make ssh-keygen choose a bitmap.
  const spec3 = path.join(dir, "spec3")
  fs.writeFileSync(spec3, Array.from({ length: 300 }, (_, i) => `serial: ${i * 3 + 1}`).join("\n") + "\n")
  const krl3File = path.join(dir, "krl3")
  keygen("-k", "-f", krl3File, "-s", path.join(dir, "ca.pub"), spec3)

  const all = [...certs, ...plain]
  for (const file of [krlFile, krl2File, krl3File]) {
    it(`${path.basename(file)}: every key and certificate revoked exactly when ssh-keygen -Q says so`, () => {
      const krl = Krl.parse(fs.readFileSync(file))
      assert.isTrue(Either.isRight(krl), Either.isLeft(krl) ? krl.left.message : "")
      const verdicts = all.map((m) => [m.name, oursSaysRevoked(Either.getOrThrow(krl), m.pub)] as const)
      const expected = all.map((m) => [m.name, sshKeygenSaysRevoked(file, m.pub)] as const)
      assert.deepStrictEqual(verdicts, expected)
      assert.isTrue(verdicts.some(([, v]) => v), "something is revoked")
      assert.isTrue(verdicts.some(([, v]) => !v), "something is not")
    })
  }

  it("the first KRL revokes what the spec says (serial ranges, key id, key, sha1, sha256, hash) and keeps its version", () => {
    const krl = Either.getOrThrow(Krl.parse(fs.readFileSync(krlFile)))
    assert.strictEqual(krl.version, 42n)
    // ssh-keygen wrote every representation: a serial range, a bitmap, a key id.
    assert.isAbove(krl.certificates[0]!.ranges.length, 0)
    assert.isAbove(krl.certificates[0]!.bitmaps.length, 0)
    const revoked = all.filter((m) => oursSaysRevoked(krl, m.pub)).map((m) => m.name).sort()
    assert.deepStrictEqual(revoked, ["byid", "c10", "c1000", "c100", "c11", "c5", "c70000", "c500000", "c99", "k1", "k2", "k3", "k4"].sort())
  })

  it("a text RevokedKeys file (public keys, one per line) revokes those keys and certificates of them", () => {
    const krl = Either.getOrThrow(Krl.parse(new TextEncoder().encode(`# revoked\n${k("k5")}\n\n${k("c1")}\n`)))
    assert.isTrue(oursSaysRevoked(krl, plain[4]!.pub))
    assert.isTrue(oursSaysRevoked(krl, certs.find((c) => c.name === "c1")!.pub))
    assert.isFalse(oursSaysRevoked(krl, plain[0]!.pub))
  })

  it("every truncation and single-byte corruption of a KRL gives a Right or a KrlError, never a throw", () => {
    const bytes = fs.readFileSync(krlFile)
    let failures = 0
    for (let n = 0; n < bytes.length; n++) {
      const r = Krl.parse(bytes.subarray(0, n))
      if (Either.isLeft(r)) failures++
    }
    for (let i = 0; i < bytes.length; i++) {
      const copy = Uint8Array.from(bytes)
      copy[i] = copy[i]! ^ 0xff
      assert.isTrue(Either.isEither(Krl.parse(copy)))
    }
    assert.isAbove(failures, bytes.length / 2)
  })
})
