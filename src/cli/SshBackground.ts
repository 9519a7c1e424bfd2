/**
 * `effect-ssh ssh -f` (ForkAfterAuthentication): going to the background once logged in. A Node process cannot
 * fork(2), so the command re-executes itself instead: the foreground process starts the same command line
 * detached (its own session, so the terminal's hangup does not reach it), with the same stdio and one extra
 * pipe as its file descriptor 3 (the ready pipe). The background copy connects, logs in (asking for passwords
 * on the inherited terminal when needed), sets up its forwards, then writes `ready` on the pipe and closes it;
 * the foreground process exits 0 at that moment, as ssh's parent does after the fork. If the pipe closes
 * without `ready` (the login or, with ExitOnForwardFailure, a forward failed), the foreground process waits
 * for the background one and exits with its status, so errors and exit codes are ssh's.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"

/**
 * The environment variable that marks the background copy (its value is the ready pipe's descriptor).
 *
 * @since 0.1.0
 * @category constants
 */
export const READY_ENV = "EFFECT_SSH_FORKED_READY_FD"

/**
 * Whether this process is the background copy.
 *
 * @since 0.1.0
 * @category accessors
 */
export const isBackground = (): boolean => process.env[READY_ENV] !== undefined

/**
 * Starts the background copy of this command and returns the foreground exit code: 0 once it is ready, or its
 * own exit code when it ends first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const detach: Effect.Effect<number> = Effect.async<number>((resume) => {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ["inherit", "inherit", "inherit", "pipe"],
    env: { ...process.env, [READY_ENV]: "3" }
  })
  const pipe = child.stdio[3]
  let text = ""
  let done = false
  const finish = (code: number) => {
    if (done) return
    done = true
    resume(Effect.succeed(code))
  }
  pipe?.on("data", (d: Buffer) => {
    text += d.toString()
    if (text.includes("ready")) {
      // The background copy runs on alone: nothing of it keeps this process alive.
      pipe.destroy()
      child.unref()
      finish(0)
    }
  })
  pipe?.on("error", () => {})
  child.once("exit", (code) => finish(code ?? 255))
  child.once("error", () => finish(255))
})

/**
 * In the background copy: tells the foreground process that the login (and the forwards) are done.
 *
 * @since 0.1.0
 * @category constructors
 */
export const signalReady: Effect.Effect<void> = Effect.sync(() => {
  const fd = Number(process.env[READY_ENV])
  if (!Number.isInteger(fd)) return
  delete process.env[READY_ENV]
  try {
    fs.writeSync(fd, "ready\n")
    fs.closeSync(fd)
  } catch {
    // The foreground process is gone already (killed): nothing to tell.
  }
})
