/**
 * SFTP on Node: a client over a local child process speaking SFTP on its stdio (OpenSSH's
 * `/usr/lib/openssh/sftp-server`, or `ssh -s host sftp`), useful for tests, benchmarks and local access.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import type { Readable, Writable } from "node:stream"
import * as Sftp from "../sftp/Sftp.js"
import { SftpError } from "../SshError.js"

/**
 * A byte pipe over a Node readable (the server's output) and writable (its input).
 *
 * @since 0.1.0
 * @category constructors
 */
export const pipeOf = (readable: Readable, writable: Writable): Sftp.SftpPipe => ({
  output: NodeStream.fromReadable<Error, Uint8Array>(() => readable, (e) => e as Error),
  write: (data) =>
    Effect.async<void, Error>((resume) => {
      if (writable.destroyed) return resume(Effect.fail(new Error("the SFTP server's input is closed")))
      // Back-pressure by the writable's high-water mark; write errors end the output stream too.
      if (writable.write(data)) resume(Effect.void)
      else writable.once("drain", () => resume(Effect.void))
    })
})

/**
 * Spawns `command` (no shell) and starts an SFTP client on its stdio, in the caller's Scope; the process is
 * killed when the Scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawnClient = (
  command: string,
  args: ReadonlyArray<string> = [],
  options?: Sftp.SftpOptions
): Effect.Effect<Sftp.Sftp, SftpError, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(command, [...args], { stdio: ["pipe", "pipe", "inherit"] })),
      (c) => Effect.sync(() => c.exitCode === null && c.kill("SIGKILL"))
    )
    child.stdin.on("error", () => {})
    return yield* Sftp.makeFromPipe(pipeOf(child.stdout, child.stdin), options)
  })
