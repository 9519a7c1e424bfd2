/**
 * `effect-ssh scp` against OpenSSH's sshd: upload and download (recursive, -p), the exit status of a failure, and
 * the operand rules of scp(1).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Scp from "../../src/cli/Scp.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"

const has = OpenSsh.haveOpenSsh()
const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")

describe("effect-ssh scp operands", () => {
  it("remote when a colon comes before any slash", () => {
    assert.deepStrictEqual(Scp.parseOperand("host:/x"), { _tag: "Remote", destination: "host", path: "/x" })
    assert.deepStrictEqual(Scp.parseOperand("u@h:"), { _tag: "Remote", destination: "u@h", path: "." })
    assert.deepStrictEqual(Scp.parseOperand("[::1]:f"), { _tag: "Remote", destination: "::1", path: "f" })
    assert.deepStrictEqual(Scp.parseOperand("./a:b"), { _tag: "Local", path: "./a:b" })
    assert.deepStrictEqual(Scp.parseOperand("plain"), { _tag: "Local", path: "plain" })
    assert.strictEqual(Scp.parseArgs(["only-one"]), "a source and a target are needed")
  })
})

describe.skipIf(!has)("effect-ssh scp ↔ OpenSSH sshd", () => {
  it.scopedLive("uploads a tree with -r -p and downloads it back; a missing file exits 1 with scp's message", () =>
    Effect.gen(function*() {
      const dir = yield* OpenSshAgent.tempDir("effect-ssh-scp-cli-")
      const pub = yield* OpenSshAgent.keygen(path.join(dir, "id"), "ed25519", "cli@test")
      const { port } = yield* OpenSsh.sshdTcp({ authorizedKeys: [pub], logLevel: "INFO" })
      const scp = (args: ReadonlyArray<string>) =>
        OpenSshAgent.run(process.execPath, [
          BIN, "scp", "-P", String(port), "-i", path.join(dir, "id"), "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", ...args
        ], {}, { timeoutMs: 60_000 })
      fs.mkdirSync(path.join(dir, "tree", "sub"), { recursive: true })
      fs.writeFileSync(path.join(dir, "tree", "sub", "f"), "F")
      fs.utimesSync(path.join(dir, "tree", "sub", "f"), 1_000_000_000, 1_000_000_000)
      const up = yield* scp(["-O", "-r", "-p", path.join(dir, "tree"), `127.0.0.1:${path.join(dir, "copy")}`])
      assert.strictEqual(up.code, 0, up.stderr)
      const copied = path.join(dir, "copy", "sub", "f")
      assert.strictEqual(fs.readFileSync(copied, "utf8"), "F")
      assert.strictEqual(Math.floor(fs.statSync(copied).mtimeMs / 1000), 1_000_000_000)
      const down = yield* scp(["-O", `127.0.0.1:${copied}`, path.join(dir, "back")])
      assert.strictEqual(down.code, 0, down.stderr)
      assert.strictEqual(fs.readFileSync(path.join(dir, "back"), "utf8"), "F")
      const missing = yield* scp(["-O", `127.0.0.1:${path.join(dir, "nope")}`, path.join(dir, "x")])
      assert.strictEqual(missing.code, 1)
      assert.include(missing.stderr, "No such file")
    }), { timeout: 120_000 })
})
