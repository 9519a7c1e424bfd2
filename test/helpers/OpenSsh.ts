/**
 * Scoped launchers for OpenSSH's sshd and ssh, with temporary configs and keys. Tests never touch the
 * machine's own sshd or port 22. With CI=true a missing OpenSSH fails the run; otherwise interop tests skip
 * loudly (STYLE.md §10).
 */
import { NodeSocket } from "@effect/platform-node"
import type * as Socket from "@effect/platform/Socket"
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Duplex } from "node:stream"

export const SSHD = "/usr/sbin/sshd"
export const SSH = "/usr/bin/ssh"
export const SSH_KEYGEN = "/usr/bin/ssh-keygen"

/** True when OpenSSH's binaries are here; with CI=true their absence is an error, never a skip. */
export const haveOpenSsh = (): boolean => {
  const ok = [SSHD, SSH, SSH_KEYGEN].every((p) => fs.existsSync(p))
  if (!ok && process.env.CI) throw new Error("OpenSSH (sshd, ssh, ssh-keygen) is required when CI=true")
  if (!ok) console.warn("\n*** OpenSSH not installed: interop tests are SKIPPED (apt-get install openssh-server) ***\n")
  return ok
}

export interface SshdOptions {
  readonly kex?: string | undefined
  readonly ciphers?: string | undefined
  readonly macs?: string | undefined
  readonly hostKeyAlgorithms?: string | undefined
  readonly extra?: ReadonlyArray<string> | undefined
  /**
   * sshd's LogLevel (default DEBUG1). Sessions need less: sshd -e lets early session-child logs reach stderr.
   * `sshdTcp` waits for the INFO line "Server listening on", so it needs INFO or more verbose.
   */
  readonly logLevel?: string | undefined
  /** authorized_keys lines for the user running the tests (otherwise no key is authorized). */
  readonly authorizedKeys?: ReadonlyArray<string> | undefined
}

let sharedKeys: string | undefined
/** Host keys of every type, generated once per test process. */
export const hostKeyDir = (): string => {
  if (sharedKeys) return sharedKeys
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-hostkeys-"))
  for (const [name, args] of [
    ["ed25519", ["-t", "ed25519"]],
    ["ecdsa256", ["-t", "ecdsa", "-b", "256"]],
    ["ecdsa384", ["-t", "ecdsa", "-b", "384"]],
    ["ecdsa521", ["-t", "ecdsa", "-b", "521"]],
    ["rsa", ["-t", "rsa", "-b", "3072"]]
  ] as const) {
    execFileSync(SSH_KEYGEN, [...args, "-q", "-N", "", "-C", `test-${name}`, "-f", path.join(dir, `ssh_host_${name}_key`)])
  }
  sharedKeys = dir
  return dir
}

/** Writes an sshd_config into a fresh temp dir and returns its path. */
export const writeSshdConfig = (options: SshdOptions): string => {
  const keys = hostKeyDir()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sshd-"))
  fs.mkdirSync("/run/sshd", { recursive: true })
  const lines = [
    ...["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"].map((k) => `HostKey ${keys}/ssh_host_${k}_key`),
    "PidFile none",
    "UsePAM no",
    "StrictModes no",
    `LogLevel ${options.logLevel ?? "DEBUG1"}`,
    options.authorizedKeys ? `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}` : "AuthorizedKeysFile none",
    "PermitRootLogin yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "SetEnv SHLVL=1",
    ...(options.kex ? [`KexAlgorithms ${options.kex}`] : []),
    ...(options.ciphers ? [`Ciphers ${options.ciphers}`] : []),
    ...(options.macs ? [`MACs ${options.macs}`] : []),
    ...(options.hostKeyAlgorithms ? [`HostKeyAlgorithms ${options.hostKeyAlgorithms}`] : []),
    ...(options.extra ?? [])
  ]
  if (options.authorizedKeys) fs.writeFileSync(path.join(dir, "authorized_keys"), options.authorizedKeys.join("\n") + "\n")
  const cfg = path.join(dir, "sshd_config")
  fs.writeFileSync(cfg, lines.join("\n") + "\n")
  return cfg
}

const kill = (child: ChildProcess) =>
  Effect.sync(() => {
    if (child.exitCode === null) child.kill("SIGKILL")
  })

/** `sshd -i -e -f cfg` on a child's stdio, as a platform Socket; killed when the Scope closes. */
export const sshdInetd = (
  options: SshdOptions,
  log?: Array<string>
): Effect.Effect<Socket.Socket, never, Scope.Scope> =>
  Effect.gen(function*() {
    const cfg = writeSshdConfig(options)
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(SSHD, ["-i", "-e", "-f", cfg], { stdio: ["pipe", "pipe", "pipe"] })),
      kill
    )
    child.stderr!.on("data", (d: Buffer) => log?.push(d.toString()))
    const duplex = Duplex.from({ readable: child.stdout!, writable: child.stdin! })
    // Closing one half aborts the pair; that is how the session ends, not an error worth a crash.
    duplex.on("error", () => {})
    return yield* NodeSocket.fromDuplex(Effect.succeed(duplex))
  })

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })

/** `sshd -D -e` listening on 127.0.0.1 on a free port; killed when the Scope closes. */
export const sshdTcp = (
  options: SshdOptions,
  log?: Array<string>
): Effect.Effect<{ readonly port: number }, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const cfg = writeSshdConfig(options)
    const port = yield* Effect.promise(freePort)
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(SSHD, ["-D", "-e", "-f", cfg, "-o", `ListenAddress=127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"] })
      ),
      kill
    )
    yield* Effect.async<void, Error>((resume) => {
      let seen = ""
      const onData = (d: Buffer) => {
        seen += d.toString()
        log?.push(d.toString())
        if (seen.includes("Server listening on")) {
          child.stderr!.off("data", onData)
          child.stderr!.on("data", (d2: Buffer) => log?.push(d2.toString()))
          resume(Effect.void)
        }
      }
      child.stderr!.on("data", onData)
      child.once("exit", (code) => resume(Effect.fail(new Error(`sshd exited with ${code}: ${seen}`))))
    }).pipe(Effect.timeout("10 seconds"), Effect.orDie)
    return { port }
  })

/** A TCP socket to 127.0.0.1:port (TCP_NODELAY set by the transport's Node dialer later; here plain). */
export const tcpSocket = (port: number): Effect.Effect<Socket.Socket, Socket.SocketError, Scope.Scope> =>
  NodeSocket.makeNet({ host: "127.0.0.1", port, noDelay: true })

/** Runs OpenSSH's `ssh` with arguments (never a shell) and resolves with its exit code and stderr. */
export const runSsh = (args: ReadonlyArray<string>, timeoutMs = 20_000): Effect.Effect<{ code: number | null; stderr: string; stdout: string }> =>
  Effect.async((resume) => {
    const child = spawn(SSH, [...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    let stdout = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stderr, stdout }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/**
 * Runs OpenSSH's `ssh` (never through a shell) with `input` on its stdin and extra environment variables;
 * resolves with its exit code, raw stdout and stderr text. Killed after `timeoutMs` or when interrupted.
 */
export const ssh = (
  args: ReadonlyArray<string>,
  options: { readonly input?: Uint8Array; readonly env?: Record<string, string>; readonly timeoutMs?: number } = {}
): Effect.Effect<{ code: number | null; signal: string | null; stdout: Buffer; stderr: string }> =>
  Effect.async((resume) => {
    const child = spawn(SSH, [...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...options.env }
    })
    const out: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? new Uint8Array(0))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000)
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, signal, stdout: Buffer.concat(out), stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** The `ssh` options for a test login with `identity` to 127.0.0.1:`port`, trusting any host key. */
export const sshLogin = (port: number, identity: string): ReadonlyArray<string> => [
  "-F", "/dev/null", "-p", String(port), "-i", identity, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
  "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"
]
