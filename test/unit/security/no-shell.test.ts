/**
 * SEC-69: no shell interpolation anywhere. A scan of src/ finds child processes started only through `spawn`
 * with an argv array (never `exec`/`execSync`, never `shell: true`, never a command string built with
 * interpolation), and only in the one process-spawning path, NodeLocalProcess; that path hands the client's
 * command to the configured shell as a single argument after `-c`, exactly as sent — shell metacharacters,
 * quotes, newlines and a leading `-` included — and puts the user name into the environment, not into argv.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Sink, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeLocalProcess from "../../../src/node/NodeLocalProcess.js"
import type { SessionContext } from "../../../src/server/SshServer.js"

const SRC = path.join(__dirname, "../../../src")
const files = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(path.join(dir, d.name)) : d.name.endsWith(".ts") ? [path.join(dir, d.name)] : []
  )

describe("SEC-69 no shell interpolation", () => {
  it("src/ starts processes only with spawn(file, argv[]) in NodeLocalProcess, never through a shell option", () => {
    const spawners: Array<string> = []
    for (const file of files(SRC)) {
      const text = fs.readFileSync(file, "utf8")
      const rel = path.relative(SRC, file)
      assert.notMatch(text, /shell\s*:\s*true/, `${rel}: shell: true`)
      // Synchronous children only where the CLI or ssh_config evaluation must wait anyway (stty, Match exec).
      const syncAllowed = rel === path.join("cli", "SshSession.ts") || rel === path.join("node", "NodeSshConfig.ts")
      if (!syncAllowed) assert.notMatch(text, /\b(execSync|execFileSync|spawnSync)\s*\(/, `${rel}: synchronous child process`)
      assert.notMatch(text, /import\s*\{[^}]*\bexec\b[^}]*\}\s*from\s*"node:child_process"/, `${rel}: child_process.exec`)
      if (/from\s*"node:child_process"/.test(text)) spawners.push(rel)
      for (const m of text.matchAll(/\bspawn\(([^,]+),\s*([^,)]+)/g)) {
        // The argv is an array expression, never a template string.
        assert.notMatch(m[2]!, /`/, `${rel}: spawn with a template-string argument`)
      }
    }
    // Every module that starts a process, each with its reason; a new one must be reviewed and added here.
    // NodeLocalProcess: the server's exec/shell (the client's command as one argv entry after -c).
    // NodeProxyCommand: ProxyCommand, tokens validated and single-quoted (its own SEC-69 tests).
    // NodeSshConfig: `Match exec`, off unless allowed, after validateDestination refused metacharacters.
    // NodeSftp: sftp-server as a child (argv). cli/Agent: $SSH_ASKPASS with the prompt as one argv entry.
    // cli/SshSession: `stty -opost` (fixed argv). cli/internal/sftpCommands: sftp's `!cmd`, the user's own shell.
    // cli/SshBackground: ssh -f, this same program again (process.execPath and its own argv, no shell).
    // NodeX11: `xauth add/list/generate` as an argument vector (shell: false), display and cookie validated first.
    assert.deepStrictEqual(spawners.sort(), [
      path.join("cli", "Agent.ts"),
      path.join("cli", "SshBackground.ts"),
      path.join("node", "NodeX11.ts"),
      path.join("cli", "SshSession.ts"),
      path.join("cli", "internal", "sftpCommands.ts"),
      path.join("node", "NodeLocalProcess.ts"),
      path.join("node", "NodeProxyCommand.ts"),
      path.join("node", "NodeSftp.ts"),
      path.join("node", "NodeSshConfig.ts")
    ].sort())
  })

  it("NodeLocalProcess: the client's command reaches the shell as one argv entry after -c, unchanged", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sec69-"))
    const recorder = path.join(dir, "record-argv")
    // A stand-in shell that prints each argument it got between brackets, and the user from the environment.
    fs.writeFileSync(recorder, "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\nprintf 'USER=[%s]\\n' \"$USER\"\n", { mode: 0o755 })
    const hostile = [
      "x; touch /tmp/pwn",
      "`touch /tmp/pwn`",
      "$(id) && echo \"quoted\" 'single'",
      "-oProxyCommand=touch /tmp/pwn",
      "a\nid>/tmp/pwn"
    ]
    for (const command of hostile) {
      const chunks: Array<Uint8Array> = []
      const ctx: SessionContext = {
        username: "x\"; id; \"",
        pty: undefined,
        env: {},
        stdin: Stream.empty,
        stdout: Sink.forEach((c: Uint8Array) => Effect.sync(() => void chunks.push(c))),
        stderr: Sink.drain,
        windowChanges: Stream.empty,
        signals: Stream.empty
      }
      const exit = await Effect.runPromise(NodeLocalProcess.run(ctx, command, { shell: recorder }))
      assert.strictEqual(exit, 0)
      const out = Buffer.concat(chunks).toString()
      assert.strictEqual(out, `[-c]\n[${command}]\nUSER=[x"; id; "]\n`)
    }
    assert.isFalse(fs.existsSync("/tmp/pwn"))
  })
})
