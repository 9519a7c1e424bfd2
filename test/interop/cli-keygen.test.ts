/**
 * `effect-ssh keygen` and `keyscan -H` against OpenSSH's own tools, both directions: -p passphrase changes read
 * by ssh-keygen (and ours reading ssh-keygen's), -e/-i in RFC4716/PKCS8/PEM, certificates we sign printed by
 * `ssh-keygen -L` exactly as we print them and accepted by sshd's TrustedUserCAKeys, certificates ssh-keygen
 * signs printed by our -L exactly as ssh-keygen prints them, known_hosts -F/-R/-H compared with ssh-keygen's,
 * and `keyscan -H` lines that `ssh-keygen -F` finds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as OpenSsh from "../helpers/OpenSsh.js"

const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const has = OpenSsh.haveOpenSsh()
const user = os.userInfo().username
// -L prints local time; both tools run in the same zone.
const env = { ...process.env, TZ: "UTC" }

/** Our keygen, run without blocking the test worker. */
const ours = (args: ReadonlyArray<string>) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, "keygen", ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
const theirs = (args: ReadonlyArray<string>) => execFileSync(OpenSsh.SSH_KEYGEN, args, { env, encoding: "utf8" })
const theirsRun = (args: ReadonlyArray<string>) => {
  const r = spawnSync(OpenSsh.SSH_KEYGEN, args, { env, encoding: "utf8" })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-cli-keygen-"))
/** `type base64` of a public key line (the comment dropped). */
const keyOf = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(" ")

describe.skipIf(!has)("effect-ssh keygen -p", () => {
  it("changes the passphrase of ssh-keygen's key (ssh-keygen reads it with the new one) and ssh-keygen changes ours", async () => {
    const dir = tmp()
    const k = path.join(dir, "theirs")
    theirs(["-q", "-t", "ecdsa", "-N", "old", "-C", "their comment", "-f", k])
    const r = await ours(["-p", "-P", "old", "-N", "new", "-f", k])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout, "Key has comment 'their comment'\nYour identification has been saved with the new passphrase.\n")
    assert.strictEqual(keyOf(theirs(["-y", "-P", "new", "-f", k])), keyOf(fs.readFileSync(`${k}.pub`, "utf8")))
    assert.notStrictEqual(theirsRun(["-y", "-P", "old", "-f", k]).code, 0)
    assert.strictEqual(fs.statSync(k).mode & 0o777, 0o600)
    // A wrong old passphrase changes nothing.
    const wrong = await ours(["-p", "-P", "old", "-N", "x", "-f", k])
    assert.strictEqual(wrong.code, 255)
    assert.include(wrong.stderr, "incorrect passphrase")
    // Ours generated, ssh-keygen re-encrypts it, ours reads it back; then ours removes the passphrase.
    const m = path.join(dir, "mine")
    assert.strictEqual((await ours(["-q", "-t", "ed25519", "-N", "one", "-C", "mine", "-f", m])).code, 0)
    theirs(["-p", "-P", "one", "-N", "two", "-f", m])
    assert.strictEqual(keyOf((await ours(["-y", "-P", "two", "-f", m])).stdout), keyOf(fs.readFileSync(`${m}.pub`, "utf8")))
    assert.strictEqual((await ours(["-p", "-P", "two", "-N", "", "-f", m])).code, 0)
    assert.strictEqual(keyOf(theirs(["-y", "-f", m])), keyOf(fs.readFileSync(`${m}.pub`, "utf8")))
  }, 240_000)

  it("-p -m PEM / PKCS8 rewrites the file in that format, readable by ssh-keygen", async () => {
    const dir = tmp()
    for (const [type, format, label] of [["rsa", "PEM", "RSA PRIVATE KEY"], ["ecdsa", "PEM", "EC PRIVATE KEY"], ["rsa", "PKCS8", "PRIVATE KEY"], ["ecdsa", "PKCS8", "PRIVATE KEY"]] as const) {
      const k = path.join(dir, `${type}-${format}`)
      theirs(["-q", "-t", type, "-N", "", "-f", k])
      const r = await ours(["-p", "-N", "", "-m", format, "-f", k])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(fs.readFileSync(k, "utf8"), new RegExp(`^-----BEGIN ${label}-----\n`))
      assert.strictEqual(keyOf(theirs(["-y", "-f", k])), keyOf(fs.readFileSync(`${k}.pub`, "utf8")))
    }
    // Generation honours -m too.
    const g = path.join(dir, "generated")
    assert.strictEqual((await ours(["-q", "-t", "ecdsa", "-N", "", "-m", "PEM", "-f", g])).code, 0)
    assert.match(fs.readFileSync(g, "utf8"), /^-----BEGIN EC PRIVATE KEY-----\n/)
    assert.strictEqual(keyOf(theirs(["-y", "-f", g])), keyOf(fs.readFileSync(`${g}.pub`, "utf8")))
  }, 240_000)
})

describe.skipIf(!has)("effect-ssh keygen -e / -i", () => {
  it("exports RFC4716, PKCS8 and PEM that ssh-keygen -i imports, and imports what ssh-keygen -e exports", async () => {
    const dir = tmp()
    for (const type of ["ed25519", "ecdsa", "rsa"]) {
      const k = path.join(dir, type)
      theirs(["-q", "-t", type, "-N", "", "-f", k])
      const pub = keyOf(fs.readFileSync(`${k}.pub`, "utf8"))
      // ssh-keygen 9.2 converts Ed25519 keys only to RFC4716.
      const forms = type === "ed25519" ? ["RFC4716"] : ["RFC4716", "PKCS8", "PEM"]
      for (const form of forms) {
        for (const source of [k, `${k}.pub`]) {
          const exported = await ours(["-e", "-m", form, "-f", source])
          assert.strictEqual(exported.code, 0, exported.stderr)
          const file = path.join(dir, `${type}.${form}`)
          fs.writeFileSync(file, exported.stdout)
          // ssh-keygen writes an ECDSA key's PEM as a SubjectPublicKeyInfo, which its -i reads only as PKCS8.
          const importAs = form === "PEM" && type === "ecdsa" ? "PKCS8" : form
          assert.strictEqual(keyOf(theirs(["-i", "-m", importAs, "-f", file])), pub, `${type} ${form}`)
        }
        const file = path.join(dir, `${type}.theirs.${form}`)
        fs.writeFileSync(file, theirs(["-e", "-m", form, "-f", `${k}.pub`]))
        const imported = await ours(["-i", "-m", form, "-f", file])
        assert.strictEqual(imported.stdout, `${pub}\n`, `${type} ${form}: ${imported.stderr}`)
      }
      // The RFC 4716 text is ssh-keygen's, comment included.
      assert.strictEqual((await ours(["-e", "-f", `${k}.pub`])).stdout, theirs(["-e", "-f", `${k}.pub`]))
    }
    // PEM of an RSA key is PKCS#1, as ssh-keygen writes it: the same bytes.
    assert.strictEqual((await ours(["-e", "-m", "PEM", "-f", path.join(dir, "rsa.pub")])).stdout, theirs(["-e", "-m", "PEM", "-f", path.join(dir, "rsa.pub")]))
  }, 240_000)
})

describe.skipIf(!has)("effect-ssh keygen certificates", () => {
  it.scopedLive("a user certificate we sign: ssh-keygen -L prints what our -L prints, and sshd's TrustedUserCAKeys lets it in", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const ca = path.join(dir, "ca")
      const key = path.join(dir, "id_ecdsa")
      assert.strictEqual((yield* Effect.promise(() => ours(["-q", "-t", "ed25519", "-N", "capass", "-C", "ca", "-f", ca]))).code, 0)
      theirs(["-q", "-t", "ecdsa", "-N", "", "-C", "alice-key", "-f", key])
      const signed = yield* Effect.promise(() => ours([
        "-s", ca, "-P", "capass", "-I", "alice@laptop", "-n", `${user},alice`, "-V", "-5m:+1h", "-z", "7",
        "-O", "no-x11-forwarding", "-O", "source-address=127.0.0.1/32", "-O", "extension:team@example.com=ops", `${key}.pub`
      ]))
      assert.strictEqual(signed.code, 0, signed.stderr)
      assert.match(signed.stderr, new RegExp(`^Signed user key ${key}-cert\\.pub: id "alice@laptop" serial 7 for ${user},alice valid from \\S+ to \\S+\n$`))
      const certFile = `${key}-cert.pub`
      assert.match(fs.readFileSync(certFile, "utf8"), /^ecdsa-sha2-nistp256-cert-v01@openssh\.com \S+ alice-key\n$/)
      const printed = theirs(["-L", "-f", certFile])
      assert.strictEqual((yield* Effect.promise(() => ours(["-L", "-f", certFile]))).stdout, printed)
      assert.include(printed, "                source-address 127.0.0.1/32\n")
      assert.notInclude(printed, "permit-X11-forwarding")
      // sshd trusts the CA, not the key: OpenSSH's ssh logs in with the certificate.
      const caPub = fs.readFileSync(`${ca}.pub`, "utf8")
      const caFile = path.join(dir, "trusted_ca")
      fs.writeFileSync(caFile, caPub)
      const { port } = yield* OpenSsh.sshdTcp({ extra: [`TrustedUserCAKeys ${caFile}`] })
      const login = yield* OpenSsh.runSsh([...OpenSsh.sshLogin(port, key), "-o", `CertificateFile=${certFile}`, "127.0.0.1", "echo in"])
      assert.strictEqual(login.stdout, "in\n", login.stderr)
      // A certificate for another principal is refused by the same sshd.
      assert.strictEqual((yield* Effect.promise(() => ours(["-q", "-s", ca, "-P", "capass", "-I", "other", "-n", "nobody", `${key}.pub`]))).code, 0)
      const refused = yield* OpenSsh.runSsh([...OpenSsh.sshLogin(port, key), "-o", `CertificateFile=${certFile}`, "127.0.0.1", "echo in"])
      assert.strictEqual(refused.code, 255)
    }), { timeout: 120_000 })

  it("a host certificate (-h, no options) and an RSA CA: ssh-keygen -L equals ours", async () => {
    const dir = tmp()
    const ca = path.join(dir, "rsa_ca")
    const host = path.join(dir, "host")
    theirs(["-q", "-t", "rsa", "-N", "", "-f", ca])
    theirs(["-q", "-t", "ed25519", "-N", "", "-f", host])
    const r = await ours(["-s", ca, "-h", "-I", "web", "-n", "web.example.com,*.web.example.com", "-V", "20250101:20300101Z", "-O", "no-pty", `${host}.pub`])
    assert.strictEqual(r.code, 0, r.stderr)
    const printed = theirs(["-L", "-f", `${host}-cert.pub`])
    assert.include(printed, "ssh-ed25519-cert-v01@openssh.com host certificate")
    assert.include(printed, "(using rsa-sha2-512)")
    assert.include(printed, "Extensions: (none)")
    assert.strictEqual((await ours(["-L", "-f", `${host}-cert.pub`])).stdout, printed)
  }, 240_000)

  it("certificates ssh-keygen signs (options, custom critical options and extensions, validity forms) print the same with our -L", async () => {
    const dir = tmp()
    const ca = path.join(dir, "ca")
    const key = path.join(dir, "k")
    theirs(["-q", "-t", "ecdsa", "-N", "", "-f", ca])
    theirs(["-q", "-t", "rsa", "-N", "", "-f", key])
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["-I", "plain"],
      ["-I", "with options", "-n", "a,b,c", "-z", "99", "-V", "20240101:20250101", "-O", "clear", "-O", "permit-pty",
        "-O", "force-command=/bin/true", "-O", "critical:custom@x=1", "-O", "extension:flag@x", "-O", "verify-required"],
      ["-I", "after", "-V", "20240101123000:forever"],
      ["-I", "before", "-V", "always:20301231"],
      ["-I", "host", "-h", "-n", "h1"]
    ]
    for (const args of cases) {
      theirs(["-q", "-s", ca, ...args, `${key}.pub`])
      const expected = theirs(["-L", "-f", `${key}-cert.pub`])
      assert.strictEqual((await ours(["-L", "-f", `${key}-cert.pub`])).stdout, expected, args.join(" "))
      // And the same arguments through our -s give the same description (the nonce and signature aside).
      assert.strictEqual((await ours(["-q", "-s", ca, ...args, `${key}.pub`])).code, 0)
      assert.strictEqual(theirs(["-L", "-f", `${key}-cert.pub`]), expected, `ours: ${args.join(" ")}`)
    }
  }, 240_000)

  it("bad requests fail as ssh-keygen fails: no -I, an empty interval, an unknown option", async () => {
    const dir = tmp()
    const ca = path.join(dir, "ca")
    theirs(["-q", "-t", "ed25519", "-N", "", "-f", ca])
    assert.include((await ours(["-s", ca, `${ca}.pub`])).stderr, "Must specify key id (-I) when certifying")
    assert.include((await ours(["-s", ca, "-I", "x", "-V", "20250101:20240101", `${ca}.pub`])).stderr, "Empty certificate validity interval")
    assert.include((await ours(["-s", ca, "-I", "x", "-O", "frobnicate", `${ca}.pub`])).stderr, 'Unsupported certificate option "frobnicate"')
    assert.isFalse(fs.existsSync(`${ca}-cert.pub`))
  }, 240_000)
})

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEk8/4Wm+ZzyH2SmrVZ0mBmVi2jZ18c2/3u1/7lhYvxh"
const KNOWN = [
  `localhost ${KEY}`,
  "# a comment",
  `[h2]:2222,h3 ${KEY} with comment`,
  `@cert-authority *.example.com ${KEY}`,
  `*.wild ${KEY}`,
  `h3 ${KEY}`
].join("\n") + "\n"

describe.skipIf(!has)("effect-ssh keygen on known_hosts", () => {
  it("-F finds what ssh-keygen -F finds, with the same output and status", async () => {
    const dir = tmp()
    const file = path.join(dir, "known_hosts")
    fs.writeFileSync(file, KNOWN)
    for (const name of ["localhost", "h3", "[h2]:2222", "a.example.com", "x.wild", "absent", "[localhost]:22"]) {
      const expected = theirsRun(["-F", name, "-f", file])
      const r = await ours(["-F", name, "-f", file])
      assert.strictEqual(r.stdout, expected.stdout, name)
      assert.strictEqual(r.code, expected.code, name)
    }
  }, 240_000)

  it("-H hashes as ssh-keygen -H does: ssh-keygen -F finds every name in our file, ours in theirs", async () => {
    const dir = tmp()
    const mine = path.join(dir, "mine")
    const their = path.join(dir, "theirs")
    fs.writeFileSync(mine, KNOWN)
    fs.writeFileSync(their, KNOWN)
    const r = await ours(["-H", "-f", mine])
    const t = theirsRun(["-H", "-f", their])
    assert.strictEqual(r.stdout, t.stdout.replaceAll(their, mine))
    assert.strictEqual(fs.readFileSync(`${mine}.old`, "utf8"), KNOWN)
    const a = fs.readFileSync(mine, "utf8").split("\n")
    const b = fs.readFileSync(their, "utf8").split("\n")
    assert.strictEqual(a.length, b.length)
    // Salts differ; the shape (hashed or kept) is line for line the same.
    a.forEach((line, i) => assert.strictEqual(line.startsWith("|1|"), b[i]!.startsWith("|1|"), line))
    assert.notInclude(fs.readFileSync(mine, "utf8"), "localhost")
    for (const name of ["localhost", "h3", "[h2]:2222"]) {
      assert.strictEqual(theirsRun(["-F", name, "-f", mine]).code, 0, name)
      assert.strictEqual((await ours(["-F", name, "-f", their])).code, 0, name)
      assert.strictEqual((await ours(["-F", name, "-f", mine])).stdout, theirsRun(["-F", name, "-f", mine]).stdout, name)
    }
    // -F -H prints one hashed line per name of a plain line, which ssh-keygen -F then finds.
    const plain = path.join(dir, "plain")
    fs.writeFileSync(plain, KNOWN)
    const hashedLines = (await ours(["-F", "h3", "-H", "-f", plain])).stdout.split("\n").filter((l) => l.startsWith("|1|"))
    assert.strictEqual(hashedLines.length, 3)
    const again = path.join(dir, "again")
    fs.writeFileSync(again, hashedLines.join("\n") + "\n")
    assert.strictEqual(theirsRun(["-F", "[h2]:2222", "-f", again]).code, 0)
  }, 240_000)

  it("-R removes the lines ssh-keygen -R removes, keeping marker lines and a .old copy", async () => {
    const dir = tmp()
    for (const name of ["h3", "localhost", "[h2]:2222", "absent"]) {
      const mine = path.join(dir, `mine-${name}`)
      const their = path.join(dir, `theirs-${name}`)
      fs.writeFileSync(mine, KNOWN)
      fs.writeFileSync(their, KNOWN)
      const r = await ours(["-R", name, "-f", mine])
      const t = theirsRun(["-R", name, "-f", their])
      assert.strictEqual(r.code, t.code, name)
      assert.strictEqual(r.stdout, t.stdout.replaceAll(their, mine), name)
      assert.strictEqual(r.stderr.trim(), t.stderr.replaceAll(their, mine).trim(), name)
      assert.strictEqual(fs.readFileSync(mine, "utf8"), fs.readFileSync(their, "utf8"), name)
      assert.strictEqual(fs.existsSync(`${mine}.old`), fs.existsSync(`${their}.old`), name)
    }
  }, 240_000)
})

describe.skipIf(!has)("effect-ssh keyscan -H", () => {
  it.scopedLive("prints hashed names that ssh-keygen -F finds, with the keys ssh-keyscan prints", () =>
    Effect.gen(function*() {
      const { port } = yield* OpenSsh.sshdTcp({})
      const dir = tmp()
      const r = spawnSync(process.execPath, [BIN, "keyscan", "-H", "-p", String(port), "127.0.0.1"], { encoding: "utf8", timeout: 60_000 })
      assert.strictEqual(r.status, 0, r.stderr)
      const lines = r.stdout.trim().split("\n")
      assert.isAtLeast(lines.length, 3)
      for (const line of lines) assert.match(line, /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= \S+ \S+$/)
      const file = path.join(dir, "known_hosts")
      fs.writeFileSync(file, r.stdout)
      const found = theirs(["-F", `[127.0.0.1]:${port}`, "-f", file])
      assert.strictEqual(found.split("\n").filter((l) => l.startsWith("|1|")).length, lines.length)
      assert.strictEqual(theirsRun(["-F", "127.0.0.1", "-f", file]).code, 1)
      // The keys are ssh-keyscan's, in the same order.
      const scanned = execFileSync("/usr/bin/ssh-keyscan", ["-p", String(port), "127.0.0.1"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      const keys = (text: string) => text.trim().split("\n").map((l) => l.split(" ").slice(1).join(" ")).sort()
      assert.deepStrictEqual(keys(r.stdout), keys(scanned))
    }), { timeout: 120_000 })
})
