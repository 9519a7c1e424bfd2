/**
 * OpenSSH's ssh-agent and ssh-add for interop tests: a scoped `ssh-agent -D -a <tmp socket>` and `ssh-add` runs
 * against any agent socket (never through a shell). With CI=true a missing binary fails the run.
 */
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const SSH_AGENT = "/usr/bin/ssh-agent"
export const SSH_ADD = "/usr/bin/ssh-add"

/** True when ssh-agent and ssh-add are here; with CI=true their absence is an error, never a skip. */
export const haveAgent = (): boolean => {
  const ok = [SSH_AGENT, SSH_ADD].every((p) => fs.existsSync(p))
  if (!ok && process.env.CI) throw new Error("ssh-agent and ssh-add are required when CI=true")
  if (!ok) console.warn("\n*** ssh-agent not installed: agent interop tests are SKIPPED ***\n")
  return ok
}

/** A fresh temp directory (mode 0700), removed when the Scope closes. */
export const tempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Whether a UNIX socket accepts a connection now (closed at once). */
const accepts = (sock: string): Effect.Effect<boolean> =>
  Effect.async((resume) => {
    const c = net.connect(sock)
    c.once("connect", () => {
      c.destroy()
      resume(Effect.succeed(true))
    })
    c.once("error", () => resume(Effect.succeed(false)))
    return Effect.sync(() => c.destroy())
  })

/** `ssh-agent -D -a <dir>/agent.sock`, killed when the Scope closes; returns the socket path. */
export const sshAgent = (args: ReadonlyArray<string> = []): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* tempDir("effect-ssh-agent-")
    const sock = path.join(dir, "agent.sock")
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(SSH_AGENT, ["-D", "-a", sock, ...args], { stdio: ["ignore", "ignore", "pipe"] })),
      (c) => Effect.sync(() => c.exitCode === null && c.kill("SIGKILL"))
    )
    child.stderr.on("data", () => {})
    // The socket file appears at bind(2), before listen(2): a connect in between is refused (ECONNREFUSED — a
    // CI flake of the session-bind test). So wait until a connection is accepted, bounded (5 s).
    for (let i = 0; i < 200; i++) {
      if (fs.existsSync(sock) && (yield* accepts(sock))) return sock
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage("ssh-agent did not listen on its socket within 5 s")
  })

/** Runs a program (never a shell) with extra environment; resolves with its exit code, stdout and stderr. */
export const run = (
  file: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  options: { readonly input?: string; readonly timeoutMs?: number } = {}
): Effect.Effect<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }> =>
  Effect.async((resume) => {
    const child = spawn(file, [...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? "")
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** `ssh-add args…` against the agent at `sock` (SSH_ASKPASS unset: no prompt can appear). */
export const sshAdd = (sock: string, args: ReadonlyArray<string>, input?: string) =>
  run(SSH_ADD, args, { SSH_AUTH_SOCK: sock, SSH_ASKPASS: "", DISPLAY: "" }, input === undefined ? {} : { input })

/** `ssh-keygen -t type` into `file` (no passphrase); returns the public key line. */
export const keygen = (file: string, type: string, comment: string): Effect.Effect<string> =>
  Effect.map(
    run("/usr/bin/ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "3072"] : []), "-N", "", "-C", comment, "-f", file]),
    () => fs.readFileSync(`${file}.pub`, "utf8").trim()
  )
