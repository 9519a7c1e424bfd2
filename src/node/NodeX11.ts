/**
 * X11 forwarding's uses of `xauth` on Node, each an argument vector run without a shell, every value validated
 * first (SEC-46; OpenSSH CVE-2016-3115 fed a newline through `xauth`'s stdin): the server's `xauth add` of the
 * session's cookie (`xauth`, for `ForwardingOptions.xauth`), and the client's lookup of the real cookie of its
 * display (`cookie`, `xauth list`; for ssh -X an untrusted one from `xauth generate`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { XauthEntry } from "../forward/ForwardPolicy.js"
import * as X11 from "../forward/X11.js"

/** What `xauth` said, or that it is not installed. */
type Run = { readonly _tag: "Ran"; readonly code: number; readonly stdout: string; readonly stderr: string } | {
  readonly _tag: "Missing"
}

/** Runs `command args…` (no shell, no stdin), bounded in time and output. */
const run = (command: string, args: ReadonlyArray<string>): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = execFile(command, [...args], { shell: false, timeout: 10_000, maxBuffer: 64 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === "ENOENT") return resume(Effect.succeed({ _tag: "Missing" }))
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resume(Effect.succeed({ _tag: "Ran", code, stdout: String(stdout), stderr: String(stderr) }))
    })
    child.stdin?.end()
    return Effect.sync(() => child.kill())
  })

/** A display name as xauth takes it: `unix:10.0`, `localhost:10.0`, `host/unix:0` — nothing a shell or xauth could read as more. */
const isDisplayName = (display: string) => /^[A-Za-z0-9._\/-]*:\d{1,5}(?:\.\d{1,5})?$/.test(display)

/**
 * Options of `xauth`.
 *
 * @since 0.1.0
 * @category models
 */
export interface XauthOptions {
  /** The xauth program (sshd XAuthLocation); default `xauth` on the PATH. */
  readonly command?: string | undefined
  /** The authority file per user; default xauth's own (XAUTHORITY, else ~/.Xauthority of the server process). */
  readonly file?: ((username: string) => string) | undefined
}

/**
 * The server's `ForwardingOptions.xauth`: runs `xauth [-f file] -q add DISPLAY PROTOCOL COOKIE` as an argument
 * vector. When xauth is not installed, the display is still forwarded and a warning says X clients get no cookie
 * (an X server that checks cookies will then refuse them). With `file`, the session gets XAUTHORITY.
 *
 * @since 0.1.0
 * @category constructors
 */
export const xauth = (options?: XauthOptions) => (entry: XauthEntry): Effect.Effect<Readonly<Record<string, string>>, Error> =>
  Effect.gen(function*() {
    if (!isDisplayName(entry.display) || !X11.isProtocolName(entry.protocol) || !X11.isHexCookie(entry.cookie)) {
      return yield* Effect.fail(new Error("refusing to pass an invalid display, protocol or cookie to xauth"))
    }
    const file = options?.file?.(entry.username)
    const result = yield* run(options?.command ?? "xauth", [
      ...(file === undefined ? [] : ["-f", file]),
      "-q",
      "add",
      entry.display,
      entry.protocol,
      entry.cookie
    ])
    if (result._tag === "Missing") {
      yield* Effect.logWarning("X11 forwarding: xauth is not installed, so X clients of the session get no cookie")
      return {}
    }
    if (result.code !== 0) return yield* Effect.fail(new Error(`xauth add failed: ${result.stderr.trim()}`))
    return file === undefined ? {} : { XAUTHORITY: file }
  })

/** `xauth list` output → the first MIT-MAGIC-COOKIE-1 cookie. */
const firstCookie = (listing: string): Option.Option<string> => {
  for (const line of listing.split("\n")) {
    const [, protocol, cookie] = line.trim().split(/\s+/)
    if (protocol === X11.MIT_MAGIC_COOKIE && cookie !== undefined && X11.isHexCookie(cookie)) return Option.some(cookie)
  }
  return Option.none()
}

/**
 * The cookie of the local display for the client's `x11` option, read with `xauth list` (ssh -Y, trusted), or a
 * new untrusted one from `xauth generate DISPLAY MIT-MAGIC-COOKIE-1 untrusted timeout 1200` in a private file
 * (ssh -X; the X server must have the SECURITY extension). None when xauth is missing or has no entry: the
 * session then forwards with a random cookie, as ssh does, which only an X server without access control accepts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const cookie = (
  display: string,
  options?: { readonly trusted?: boolean | undefined; readonly command?: string | undefined }
): Effect.Effect<Option.Option<Redacted.Redacted<string>>> =>
  Effect.gen(function*() {
    const command = options?.command ?? "xauth"
    // ssh: ":N" is looked up as "unix:N" (clientloop.c client_x11_get_proto).
    const name = display.startsWith(":") ? `unix${display}` : display
    if (!isDisplayName(name)) return Option.none()
    if (options?.trusted === false) {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-ssh-xauth-"))
      const file = Path.join(dir, "xauthfile")
      const generated = yield* run(command, ["-f", file, "generate", name, X11.MIT_MAGIC_COOKIE, "untrusted", "timeout", "1200"]).pipe(
        Effect.zipRight(run(command, ["-f", file, "list", name])),
        Effect.ensuring(Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      )
      return generated._tag === "Ran" && generated.code === 0
        ? Option.map(firstCookie(generated.stdout), Redacted.make)
        : Option.none()
    }
    const listed = yield* run(command, ["list", name])
    return listed._tag === "Ran" && listed.code === 0 ? Option.map(firstCookie(listed.stdout), Redacted.make) : Option.none()
  })
