/**
 * `npm run bench -- cli`: the command line's start-up beside OpenSSH's `ssh`, in one run (issue 11):
 *
 * - Node's own start-up (`node -e 0`), the floor of any Node CLI, beside `ssh -V`;
 * - cold start: `effect-ssh --version` (the built bundle, dist/bin; `npm run build:cli` first) beside `ssh -V`;
 * - a whole login: `effect-ssh exec -p PORT user@127.0.0.1 true` (kex, publickey, exec, close) beside
 *   `ssh -p PORT user@127.0.0.1 true`, against one OpenSSH sshd on 127.0.0.1 with its default algorithms, the
 *   same ed25519 user key and known_hosts for both.
 *
 * - the same login on a first run: `EFFECT_SSH_CODE_CACHE=0`, so the bundle is compiled without the V8 code cache
 *   that every later run of a command starts from (docs/decisions/0007);
 * - the same login with `EFFECT_SSH_PRECONNECT=0`: the TCP connection is opened once the bundle has loaded,
 *   instead of before (src/cli/Preconnect.ts);
 * - with `EFFECT_SSH_BENCH_BEFORE=<another checkout>/bin/effect-ssh.mjs` (its CLI built), `--version` and the
 *   login of that build too, in the same rounds: before and after in one run.
 *
 * Each is a process spawned and waited for; rounds are interleaved (ours, ssh, ours, …) so that a disturbance on
 * a shared machine hits all of them, and medians are printed with the ratio ours ÷ ssh.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as OpenSsh from "../test/helpers/OpenSsh.js"

// The repository: above bench/ under tsx, above dist/bench/ when compiled (bench/run.mjs).
const ROOT = path.resolve(import.meta.dirname, import.meta.url.endsWith(".ts") ? ".." : "../..")
const BIN = path.join(ROOT, "bin/effect-ssh.mjs")
const BUNDLE = path.join(ROOT, "dist/bin/effect-ssh.mjs")
const USER = os.userInfo().username

/** Milliseconds from spawn to exit; fails unless the exit code is 0. */
const timed = (file: string, args: ReadonlyArray<string>, env?: Record<string, string>): Effect.Effect<number, Error> =>
  Effect.async((resume) => {
    const start = performance.now()
    const child = spawn(file, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } })
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("close", (code) => {
      const ms = performance.now() - start
      resume(code === 0 ? Effect.succeed(ms) : Effect.fail(new Error(`${file} exited with ${code}: ${stderr.trim()}`)))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/**
 * One row of the table.
 *
 * @since 0.1.0
 * @category models
 */
export interface CliRow {
  readonly what: string
  readonly runs: number
  readonly oursMs: number
  readonly sshMs: number
}

/**
 * Interleaved rounds of our variants and `ssh` after one warm-up each; one row per variant, medians. Each round
 * starts one later in the list (ours, …, ssh), so that every command runs as often in every position: a run
 * pays for what the one before it left behind (sshd finishing the previous session on a 2-core machine).
 */
const compare = (
  runs: number,
  variants: ReadonlyArray<{ readonly what: string; readonly ours: Effect.Effect<number, Error> }>,
  ssh: Effect.Effect<number, Error>
) =>
  Effect.gen(function*() {
    const all = [...variants.map((v) => v.ours), ssh]
    for (const run of all) yield* run
    const times: Array<Array<number>> = all.map(() => [])
    for (let i = 0; i < runs; i++) {
      for (let j = 0; j < all.length; j++) {
        const k = (i + j) % all.length
        times[k]!.push(yield* all[k]!)
      }
    }
    const sshMs = median(times[all.length - 1]!)
    return variants.map((v, k): CliRow => ({ what: v.what, runs, oursMs: median(times[k]!), sshMs }))
  })

/**
 * Runs both comparisons; fails when the bundle is missing or OpenSSH is not installed.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const run = (options?: { readonly runs?: number | undefined }) =>
  Effect.gen(function*() {
    const runs = options?.runs ?? 15
    if (!fs.existsSync(BUNDLE)) {
      return yield* Effect.fail(new Error(`${BUNDLE} is missing: run \`npm run build:cli\` first`))
    }
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-cli-"))),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
    )
    const key = path.join(dir, "id_ed25519")
    execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", key])
    const { port } = yield* OpenSsh.sshdTcp({
      authorizedKeys: [fs.readFileSync(`${key}.pub`, "utf8").trim()],
      logLevel: "INFO"
    })
    const hostKeys = fs.readdirSync(OpenSsh.hostKeyDir()).filter((f) => f.endsWith(".pub"))
      .map((f) => fs.readFileSync(path.join(OpenSsh.hostKeyDir(), f), "utf8").split(" ").slice(0, 2).join(" "))
    const knownHosts = path.join(dir, "known_hosts")
    fs.writeFileSync(knownHosts, hostKeys.map((k) => `[127.0.0.1]:${port} ${k}\n`).join(""))
    const common = [
      "-i", key, "-p", String(port),
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${knownHosts}`
    ]
    const node = process.execPath
    const before = process.env["EFFECT_SSH_BENCH_BEFORE"]
    const exec = [...common, `${USER}@127.0.0.1`, "true"]
    // Node's own start-up, the floor of any CLI written for it: what `--version` adds is the rest.
    const floor = yield* compare(runs, [{ what: "node -e 0 (Node's floor) / ssh -V", ours: timed(node, ["-e", "0"]) }], timed(OpenSsh.SSH, ["-V"]))
    const version = yield* compare(runs, [
      { what: "cold start: --version / ssh -V", ours: timed(node, [BIN, "--version"]) },
      ...(before === undefined ? [] : [{ what: "  the same, before", ours: timed(node, [before, "--version"]) }])
    ], timed(OpenSsh.SSH, ["-V"]))
    const login = yield* compare(
      runs,
      [
        { what: "whole login: exec host true / ssh host true", ours: timed(node, [BIN, "exec", ...exec]) },
        {
          what: "  the same, first run (no code cache)",
          ours: timed(node, [BIN, "exec", ...exec], { EFFECT_SSH_CODE_CACHE: "0" })
        },
        {
          what: "  the same, TCP dialled after loading",
          ours: timed(node, [BIN, "exec", ...exec], { EFFECT_SSH_PRECONNECT: "0" })
        },
        // Its own cache directory: a build that writes its code cache deletes the other builds' (decision 0007),
        // so sharing one would leave both without a cache at every run.
        ...(before === undefined ? [] : [{
          what: "  the same, before",
          ours: timed(node, [before, "exec", ...exec], { XDG_CACHE_HOME: path.join(dir, "cache-before") })
        }])
      ],
      timed(OpenSsh.SSH, ["-F", "/dev/null", ...common, "-o", "IdentitiesOnly=yes", `${USER}@127.0.0.1`, "true"])
    )
    return [...floor, ...version, ...login]
  }).pipe(Effect.scoped)

/**
 * The rows as a table: medians and ours ÷ ssh.
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (rows: ReadonlyArray<CliRow>): Array<Array<string>> => [
  ["what", "runs", "effect-ssh ms", "ssh ms", "effect-ssh ÷ ssh"],
  ...rows.map((r) => [r.what, String(r.runs), r.oursMs.toFixed(0), r.sshMs.toFixed(0), `${(r.oursMs / r.sshMs).toFixed(2)}×`])
]
