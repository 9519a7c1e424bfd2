/**
 * `effect-ssh ssh -G` against OpenSSH's own `ssh -G -F cfg [args] host` (which resolves and prints without
 * connecting) on the corpus of test/interop/ssh-config-corpus.ts: every keyword effect-ssh implements must
 * print the same value. The algorithm lists are compared only where the config sets them (the defaults are
 * each implementation's own). Also checked: the CLI binary prints the same as the library path, and configs
 * ssh refuses are refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SshArgs from "../../src/cli/SshArgs.js"
import * as Ssh from "../../src/cli/Ssh.js"
import * as SshConfig from "../../src/config/SshConfig.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { type ConfigCase, CORPUS } from "./ssh-config-corpus.js"

const has = OpenSsh.haveOpenSsh()
const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const ALGORITHM_KEYS = new Set(["ciphers", "hostkeyalgorithms", "kexalgorithms", "macs", "pubkeyacceptedalgorithms", "casignaturealgorithms"])
/** The algorithm keywords a corpus case may set explicitly (CASignatureAlgorithms' default is ssh's own). */
const EXPLICIT_ALGORITHMS = new Set(["ciphers", "hostkeyalgorithms", "kexalgorithms", "macs", "pubkeyacceptedalgorithms"])

const write = (c: ConfigCase): { readonly file: string; readonly dir: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-config-"))
  const fill = (t: string) => t.replaceAll("{dir}", dir)
  for (const [name, text] of Object.entries(c.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), fill(text), { mode: 0o600 })
  }
  const file = path.join(dir, "config")
  fs.writeFileSync(file, fill(c.text), { mode: 0o600 })
  return { file, dir }
}

/** `key value` lines → key → values (repeated keys such as identityfile keep their order). */
const lines = (text: string): Map<string, Array<string>> => {
  const out = new Map<string, Array<string>>()
  for (const line of text.split("\n")) {
    if (line === "") continue
    const sp = line.indexOf(" ")
    const key = line.slice(0, sp).toLowerCase()
    out.set(key, [...(out.get(key) ?? []), line.slice(sp + 1)])
  }
  return out
}

const ours = (file: string, argv: ReadonlyArray<string>) =>
  Ssh.resolveArgs(Either.getOrThrow(SshArgs.parse(["-F", file, ...argv]))).pipe(
    Effect.map((r) => SshConfig.print(r, Ssh.PRINT_DEFAULTS)),
    Effect.either
  )

const openssh = (file: string, argv: ReadonlyArray<string>) =>
  spawnSync(OpenSsh.SSH, ["-G", "-F", file, ...argv], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

describe.skipIf(!has)("ssh -G: effect-ssh against OpenSSH", () => {
  it("the corpus has at least 40 configs", () => {
    assert.isAtLeast(CORPUS.length, 40)
  })

  for (const c of CORPUS) {
    it.effect(`${c.name}`, () =>
      Effect.gen(function*() {
        const { dir, file } = write(c)
        for (const host of c.hosts) {
          const argv = [...(c.args ?? []).map((a) => a.replaceAll("{dir}", dir)), host]
          const theirs = openssh(file, argv)
          assert.strictEqual(theirs.status, 0, `ssh -G failed for ${host}: ${theirs.stderr}`)
          const mine = yield* ours(file, argv)
          assert.isTrue(Either.isRight(mine), `ours failed for ${host}: ${Either.isLeft(mine) ? mine.left.message : ""}`)
          const a = lines(Either.getOrThrow(mine))
          const b = lines(theirs.stdout)
          let compared = 0
          for (const [key, values] of a) {
            if (ALGORITHM_KEYS.has(key) && !(c.algorithms === true && EXPLICIT_ALGORITHMS.has(key))) continue
            assert.deepStrictEqual(values, b.get(key) ?? [], `${c.name}: ${host}: ${key}`)
            compared++
          }
          // Keys ssh prints for forwards, files and env that we print none of must be absent there too.
          for (const key of ["identityfile", "certificatefile", "sendenv", "setenv", "localforward", "remoteforward", "dynamicforward", "proxyjump", "proxycommand", "remotecommand", "hostkeyalias", "identityagent", "preferredauthentications"]) {
            if (!a.has(key)) assert.isUndefined(b.get(key), `${c.name}: ${host}: ssh prints ${key} ${b.get(key)?.join(",")}`)
          }
          assert.isAtLeast(compared, 24)
        }
      }))
  }

  it("the CLI binary prints the same as the library path (-G with -p, -l, -o and user@host)", () => {
    const { file } = write(CORPUS.find((c) => c.name === "a realistic ~/.ssh/config")!)
    const argv = ["-G", "-F", file, "-p", "2200", "-o", "Compression=yes", "-l", "cli", "prod-web1"]
    const mine = execFileSync(process.execPath, [BIN, "ssh", ...argv], { encoding: "utf8" })
    const theirs = execFileSync(OpenSsh.SSH, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
    const a = lines(mine)
    const b = lines(theirs)
    for (const key of ["user", "hostname", "port", "compression", "proxyjump", "stricthostkeychecking", "identityfile"]) {
      assert.deepStrictEqual(a.get(key), b.get(key), key)
    }
    // exec is the same command.
    assert.strictEqual(execFileSync(process.execPath, [BIN, "exec", ...argv], { encoding: "utf8" }), mine)
  })

  it.effect("configs ssh refuses are refused, naming the file and line", () =>
    Effect.gen(function*() {
      const bad = [
        "Host *\n  NoSuchKeyword yes\n",
        "Host *\n  Port 70000\n",
        "Host *\n  StrictHostKeyChecking maybe\n",
        "Host *\n  User \"unterminated\n",
        "Match nonsense x\n",
        "Match all host x\n",
        "Host *\n  LocalForward 8080\n",
        // Checked even in a block that does not apply, as ssh does.
        "Host never\n  ConnectTimeout soon\n"
      ]
      for (const text of bad) {
        const { file } = write({ name: "bad", text, hosts: [] })
        assert.notStrictEqual(openssh(file, ["h"]).status, 0, `ssh accepted ${JSON.stringify(text)}`)
        const mine = yield* ours(file, ["h"])
        assert.isTrue(Either.isLeft(mine), `we accepted ${JSON.stringify(text)}`)
        if (Either.isLeft(mine)) assert.match(mine.left.message, /line \d+: /)
      }
    }))
})
