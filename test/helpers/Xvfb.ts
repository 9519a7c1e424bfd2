/**
 * A real X server for X11 forwarding tests: Xvfb on a free display number, with a screen size no other display
 * has (so output naming it proves the forward reached this server) and cookie checking on (`-auth`). Missing
 * Xvfb/xauth/xdpyinfo is a skip locally and an error with CI=true.
 */
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const BINARIES = ["/usr/bin/Xvfb", "/usr/bin/xauth", "/usr/bin/xdpyinfo", "/usr/bin/xprop"]

/** True when Xvfb, xauth, xdpyinfo and xprop are here; with CI=true their absence is an error. */
export const haveX11 = (): boolean => {
  const ok = BINARIES.every((p) => fs.existsSync(p))
  if (!ok && process.env.CI) throw new Error("Xvfb, xauth and x11-utils are required when CI=true (.ci/run installs them)")
  if (!ok) console.warn("\n*** Xvfb/xauth/x11-utils not installed: X11 interop tests are SKIPPED ***\n")
  return ok
}

export interface Xvfb {
  /** `:N` */
  readonly display: string
  /** An authority file holding the display's cookie (XAUTHORITY for X clients here). */
  readonly authority: string
  /** The cookie, hex. */
  readonly cookie: string
  /** The screen size, `WxH`, as xdpyinfo prints it ("dimensions:    WxH pixels"). */
  readonly dimensions: string
}

const free = (n: number) => !fs.existsSync(`/tmp/.X${n}-lock`) && !fs.existsSync(`/tmp/.X11-unix/X${n}`)

/** Starts Xvfb (UNIX socket only, cookie required) until the Scope closes. */
export const xvfb = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-xvfb-"))),
    (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
  )
  let n = 70 + (process.pid % 150)
  while (!free(n)) n++
  const cookie = crypto.randomBytes(16).toString("hex")
  const authority = path.join(dir, "Xauthority")
  execFileSync("xauth", ["-q", "-f", authority, "add", `:${n}`, "MIT-MAGIC-COOKIE-1", cookie])
  const width = 1000 + (n % 97)
  const dimensions = `${width}x${617}`
  yield* Effect.acquireRelease(
    Effect.sync(() =>
      spawn("Xvfb", [`:${n}`, "-auth", authority, "-nolisten", "tcp", "-screen", "0", `${dimensions}x24`], {
        stdio: "ignore"
      })
    ),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )
  for (let i = 0; i < 200 && !fs.existsSync(`/tmp/.X11-unix/X${n}`); i++) yield* Effect.sleep("25 millis")
  if (!fs.existsSync(`/tmp/.X11-unix/X${n}`)) return yield* Effect.die(new Error(`Xvfb :${n} did not start`))
  return { display: `:${n}`, authority, cookie, dimensions } satisfies Xvfb
})
