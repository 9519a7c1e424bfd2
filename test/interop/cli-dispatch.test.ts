/**
 * The `effect-ssh` dispatcher and the CLI behaviours of issue 11 that are not one subcommand's flags:
 * `--version` and `--help` (plain text, no Effect loaded), unknown commands, each subcommand's `--help` piped
 * (no colour codes, no `--wizard`/`--completions` built-ins), and `exec … | head`: a reader that goes away is
 * not an error — the exit code stays the remote command's, as with ssh.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Main from "../../src/cli/main.js"
import { VERSION } from "../../src/cli/Version.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { tempDir } from "../helpers/TempDir.js"

const BIN = path.resolve(import.meta.dirname, "../../bin/effect-ssh.mjs")
const has = OpenSsh.haveOpenSsh()

/** Runs the CLI with stdout and stderr as pipes (never a terminal); `closeStdoutAfter` bytes, then closes it. */
const cli = (args: ReadonlyArray<string>, closeStdoutAfter?: number) =>
  Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      if (closeStdoutAfter !== undefined && stdout.length >= closeStdoutAfter) child.stdout.destroy()
    })
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("the dispatcher", () => {
  it.live("--version prints the version and exits 0", () =>
    Effect.gen(function*() {
      const r = yield* cli(["--version"])
      assert.deepStrictEqual(r, { code: 0, stdout: `effect-ssh ${VERSION}\n`, stderr: "" })
    }))

  it.live("--help lists every command of the table, in plain text", () =>
    Effect.gen(function*() {
      const r = yield* cli(["--help"])
      assert.strictEqual(r.code, 0)
      for (const name of Object.keys(Main.COMMANDS)) assert.match(r.stdout, new RegExp(`^  ${name} `, "m"))
      assert.notInclude(r.stdout, "\u001b")
    }))

  it.live("no command and an unknown command: the usage on stderr, exit 255", () =>
    Effect.gen(function*() {
      for (const args of [[], ["frobnicate"]]) {
        const r = yield* cli(args)
        assert.strictEqual(r.code, 255)
        assert.include(r.stderr, "usage: effect-ssh <command>")
      }
    }))

  it.live("a subcommand's --help through a pipe: no colour codes, no @effect/cli built-ins", () =>
    Effect.gen(function*() {
      for (const name of ["exec", "serve"]) {
        const r = yield* cli([name, "--help"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.match(r.stdout, /usage/i)
        assert.notInclude(r.stdout, "\u001b[", `${name} --help`)
        assert.notInclude(r.stdout, "--wizard")
        assert.notInclude(r.stdout, "--completions")
      }
    }))
})

describe.skipIf(!has)("exec | head", () => {
  it.scopedLive("the reader closing stdout early: the remote exit status, no error (ssh does the same)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("effect-ssh-cli-head-")
      const key = path.join(dir, "id_ed25519")
      execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "head", "-f", key])
      const { port } = yield* OpenSsh.sshdTcp({
        authorizedKeys: [fs.readFileSync(`${key}.pub`, "utf8").trim()],
        logLevel: "INFO"
      })
      const r = yield* cli([
        "exec", "-i", key, "-p", String(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
        `${os.userInfo().username}@127.0.0.1`, "seq 1 2000000; exit 3"
      ], 10)
      assert.strictEqual(r.code, 3, r.stderr)
      assert.notInclude(r.stderr, "EPIPE")
    }))
})
