/**
 * ScpServer inside our SshServer, with no scp binary involved on the server side, driven by OpenSSH's `scp -O`
 * (legacy protocol): uploads and downloads, recursive with -p, names with spaces; every path confined to the
 * served root (`..` and absolute paths cannot leave it).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as ScpServer from "../../src/scp/ScpServer.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshAgent from "../helpers/OpenSshAgent.js"
import * as Servers from "../helpers/Servers.js"

const has = OpenSsh.haveOpenSsh() && fs.existsSync("/usr/bin/scp")

/** Our server serving `root` over SCP; the client key in `dir/id`. */
const setup = Effect.gen(function*() {
  const dir = yield* OpenSshAgent.tempDir("effect-ssh-scp-server-")
  const root = path.join(dir, "root")
  fs.mkdirSync(root)
  const pub = yield* OpenSshAgent.keygen(path.join(dir, "id"), "ed25519", "scp@test")
  const context = yield* Effect.context<NodeContext.NodeContext>()
  const port = yield* Servers.serve({
    auth: { publicKey: ({ key }) => Effect.succeed(pub.includes(btoa(String.fromCharCode(...key.blob)))) },
    exec: (session) =>
      ScpServer.isScpCommand(session.command)
        ? Effect.provide(ScpServer.run(session, { root }), context)
        : Effect.succeed(127)
  })
  const scp = (args: ReadonlyArray<string>) =>
    OpenSshAgent.run("/usr/bin/scp", [
      "-O", "-F", "/dev/null", "-P", String(port), "-i", path.join(dir, "id"), "-o", "IdentitiesOnly=yes",
      "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", ...args
    ], {}, { timeoutMs: 30_000 })
  return { dir, root, scp }
}).pipe(Effect.provide(NodeContext.layer))

describe.skipIf(!has)("scp -O against our server (ScpServer)", () => {
  it.scopedLive("upload and download a file (-p keeps the mtime), and a name with spaces and quotes", () =>
    Effect.gen(function*() {
      const { dir, root, scp } = yield* setup
      const src = path.join(dir, "a file 'with' spaces.txt")
      fs.writeFileSync(src, "hello scp\n")
      fs.utimesSync(src, 1_000_000_000, 1_000_000_000)
      const up = yield* scp(["-p", src, "127.0.0.1:/"])
      assert.strictEqual(up.code, 0, up.stderr)
      const stored = path.join(root, "a file 'with' spaces.txt")
      assert.strictEqual(fs.readFileSync(stored, "utf8"), "hello scp\n")
      assert.strictEqual(Math.floor(fs.statSync(stored).mtimeMs / 1000), 1_000_000_000)
      const back = path.join(dir, "back.txt")
      // As with sshd, the remote path goes through shell word splitting: quote it for the remote side. scp's own
      // name check compares with the quoted text, so -T (as with sshd) lets the quoted request through.
      const down = yield* scp(["-T", `127.0.0.1:"/a file 'with' spaces.txt"`, back])
      assert.strictEqual(down.code, 0, down.stderr)
      assert.strictEqual(fs.readFileSync(back, "utf8"), "hello scp\n")
    }), { timeout: 60_000 })

  it.scopedLive("recursive both ways", () =>
    Effect.gen(function*() {
      const { dir, root, scp } = yield* setup
      const tree = path.join(dir, "tree")
      fs.mkdirSync(path.join(tree, "sub"), { recursive: true })
      fs.writeFileSync(path.join(tree, "x"), "X")
      fs.writeFileSync(path.join(tree, "sub", "y"), "Y")
      const up = yield* scp(["-r", tree, "127.0.0.1:uploaded"])
      assert.strictEqual(up.code, 0, up.stderr)
      assert.strictEqual(fs.readFileSync(path.join(root, "uploaded", "sub", "y"), "utf8"), "Y")
      const out = path.join(dir, "out")
      const down = yield* scp(["-r", "127.0.0.1:uploaded", out])
      assert.strictEqual(down.code, 0, down.stderr)
      assert.strictEqual(fs.readFileSync(path.join(out, "x"), "utf8"), "X")
      assert.strictEqual(fs.readFileSync(path.join(out, "sub", "y"), "utf8"), "Y")
    }), { timeout: 60_000 })

  it.scopedLive("confined: ../ and absolute paths stay under the root; a missing file is scp's error", () =>
    Effect.gen(function*() {
      const { dir, root, scp } = yield* setup
      const src = path.join(dir, "f")
      fs.writeFileSync(src, "f")
      const escape = yield* scp([src, "127.0.0.1:../escaped"])
      assert.notStrictEqual(escape.code, 0)
      assert.isFalse(fs.existsSync(path.join(dir, "escaped")))
      const absolute = yield* scp([src, `127.0.0.1:${path.join(dir, "abs")}`])
      // An absolute path is taken relative to the root: nothing is written at the real absolute path.
      assert.isFalse(fs.existsSync(path.join(dir, "abs")))
      if (absolute.code === 0) assert.isTrue(fs.existsSync(path.join(root, dir, "abs")))
      const missing = yield* scp(["127.0.0.1:/nope", path.join(dir, "nope")])
      assert.notStrictEqual(missing.code, 0)
      assert.include(missing.stderr, "scp:")
    }), { timeout: 60_000 })
})
