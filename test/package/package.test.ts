/**
 * The package as a user gets it (issue 11): the repository's tracked files are copied to a temp directory (a
 * fresh clone, with this checkout's node_modules linked for the build tools), `npm pack` builds and packs it
 * there, and the tarball is installed into an empty temp project from the npm registry (through the npm cache).
 * In that project, where neither tsx nor TypeScript is installed, `npx effect-ssh --version` prints the version,
 * and a plain `.mjs` file imports `effect-ssh` and `effect-ssh/node` and runs a command on OpenSSH's sshd on
 * 127.0.0.1 with `run` and `string` (stdin given, EOF sent by default).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { tempDir } from "../helpers/TempDir.js"

const root = path.resolve(import.meta.dirname, "../..")
const has = OpenSsh.haveOpenSsh()
const NPM_ENV = { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" }

const execFileAsync = promisify(execFile)

/** Runs a program to completion (asynchronously: npm takes a while, and the test worker must stay responsive). */
const run = (cwd: string, file: string, args: ReadonlyArray<string>) =>
  Effect.promise(() =>
    execFileAsync(file, [...args], { cwd, env: NPM_ENV, encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 })
  ).pipe(Effect.map((r) => r.stdout))

/** The files `git ls-files` knows (tracked, or new and not ignored) that the package build needs. */
const freshClone = (dir: string) => {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "" && /^(src\/|scripts\/|bin\/|package(-lock)?\.json$|tsconfig.*\.json$|README\.md$|LICENSE$)/.test(f))
    .filter((f) => fs.existsSync(path.join(root, f)))
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    fs.copyFileSync(path.join(root, f), path.join(dir, f))
  }
  fs.symlinkSync(fs.realpathSync(path.join(root, "node_modules")), path.join(dir, "node_modules"))
}

const SCRIPT = `
import { Effect, Stream } from "effect"
import { Auth, HostKeyPolicy, SshClient } from "effect-ssh"
import { NodeSsh } from "effect-ssh/node"

const [port, key, fingerprint, user] = process.argv.slice(2)
const program = Effect.gen(function*() {
  const ssh = yield* SshClient.connect({
    host: "127.0.0.1",
    port: Number(port),
    username: user,
    auth: [Auth.privateKeyFile(key)],
    hostKeys: HostKeyPolicy.pinned([fingerprint])
  })
  const hello = yield* ssh.string("echo hello from $(uname -s)")
  const cat = yield* ssh.run("cat", { stdin: "through cat" })
  const wc = yield* ssh.string("wc -c", { stdin: Stream.make(new Uint8Array(1000)) })
  return JSON.stringify({ hello: hello.trim(), cat: cat.stdout, catExit: cat.exitCode, wc: wc.trim() })
}).pipe(Effect.scoped, Effect.provide(NodeSsh.layer))
Effect.runPromise(program).then((out) => console.log(out), (e) => { console.error(String(e)); process.exit(1) })
`

describe.skipIf(!has)("the packed package installed into an empty project", () => {
  it.scopedLive("npx effect-ssh --version and both entry points run a command on sshd, without tsx or TypeScript", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir("effect-ssh-package-")
      const clone = path.join(tmp, "clone")
      const project = path.join(tmp, "project")
      fs.mkdirSync(clone)
      fs.mkdirSync(project)
      freshClone(clone)
      // npm pack runs prepack: the full build (tsc .js + .d.ts, and the CLI bundle).
      const tarball = (yield* run(clone, "npm", ["pack", "--silent", "--pack-destination", tmp])).trim().split("\n").pop()!
      const listing = (yield* run(tmp, "tar", ["-tzf", tarball])).split("\n").filter((l) => l !== "")
      assert.isTrue(listing.includes("package/dist/index.js") && listing.includes("package/dist/index.d.ts"))
      assert.isTrue(listing.includes("package/dist/node/index.js") && listing.includes("package/bin/effect-ssh.mjs"))
      assert.isTrue(listing.includes("package/dist/bin/effect-ssh.mjs"))
      assert.deepStrictEqual(listing.filter((l) => /^package\/(test|bench|scratchpad|src)\//.test(l)), [])

      fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "try-effect-ssh", private: true, type: "module" }))
      yield* run(project, "npm", ["install", "--prefer-offline", "--no-package-lock", path.join(tmp, tarball)])
      assert.isFalse(fs.existsSync(path.join(project, "node_modules/tsx")), "tsx was installed")
      assert.isFalse(fs.existsSync(path.join(project, "node_modules/typescript")), "typescript was installed")
      assert.isFalse(fs.existsSync(path.join(project, "node_modules/esbuild")), "esbuild was installed")

      assert.strictEqual((yield* run(project, "npx", ["--no-install", "effect-ssh", "--version"])).trim(), "effect-ssh 0.1.0")

      const key = path.join(tmp, "id_ed25519")
      execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "package-test", "-f", key])
      const { port } = yield* OpenSsh.sshdTcp({
        authorizedKeys: [fs.readFileSync(`${key}.pub`, "utf8").trim()],
        logLevel: "INFO"
      })
      const hostPub = path.join(OpenSsh.hostKeyDir(), "ssh_host_ed25519_key.pub")
      const fingerprint = execFileSync(OpenSsh.SSH_KEYGEN, ["-l", "-E", "sha256", "-f", hostPub], { encoding: "utf8" }).split(" ")[1]!
      fs.writeFileSync(path.join(project, "try.mjs"), SCRIPT)
      const out = yield* run(project, process.execPath, ["try.mjs", String(port), key, fingerprint, os.userInfo().username])
      assert.deepStrictEqual(JSON.parse(out), { hello: "hello from Linux", cat: "through cat", catExit: 0, wc: "1000" })
    }))
})

