/**
 * Connection set-up against OpenSSH's sshd on 127.0.0.1 (DESIGN.md §10): our client transport (node:crypto)
 * beside OpenSSH's `ssh-keyscan`, which does exactly a version exchange and a key exchange and stops. One sshd
 * per key exchange method, restricted to it (`KexAlgorithms`), so both clients run the same kex against the
 * same server, one connection after another; the figure is the median of `runs`.
 *
 * What each figure includes:
 * - ours: TCP connect (TCP_NODELAY), version exchange, the key exchange through NEWKEYS and the host key check
 *   (pinned fingerprint), in this already warm process; closing the connection afterwards is not timed.
 * - ssh-keyscan: starting the process, TCP connect, version exchange, the key exchange up to the verified
 *   KEX reply (it does not send NEWKEYS), printing the key, exiting. `spawn` is the median time of the same
 *   command against a closed port (process start and a refused connect), so "keyscan − spawn" estimates
 *   the protocol part alone.
 *
 * sshd forks and re-executes itself for every connection; both clients pay that, which compresses the ratios.
 *
 * A method the installed OpenSSH lacks (`ssh -Q kex`; OpenSSH 9.2 has no mlkem768x25519-sha256) is measured
 * against our own server on 127.0.0.1 instead, ours only, with no OpenSSH figure beside it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import { Crypto } from "../src/crypto/Crypto.js"
import * as HostKey from "../src/crypto/HostKey.js"
import { NodeCrypto } from "../src/node/NodeCrypto.js"
import * as NodeTransport from "../src/node/NodeTransport.js"
import * as Loopback from "../test/helpers/Loopback.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"
import * as OpenSshKex from "../test/helpers/OpenSshKex.js"
import * as Receive from "../src/transport/internal/receive.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface HandshakeRow {
  readonly kex: string
  /** The server of this row: OpenSSH's sshd, or ours when OpenSSH lacks the method. */
  readonly server: "sshd" | "ours"
  /** Timed connections of each client. */
  readonly runs: number
  /** Medians in milliseconds. */
  readonly ours: number
  readonly keyscan: number | undefined
  readonly spawn: number | undefined
}

/**
 * The key exchange methods measured by default.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_KEX: ReadonlyArray<string> = [
  "curve25519-sha256",
  "sntrup761x25519-sha512@openssh.com",
  "mlkem768x25519-sha256",
  "ecdh-sha2-nistp256",
  "ecdh-sha2-nistp521",
  "diffie-hellman-group14-sha256",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group-exchange-sha256"
]

const SSH_KEYSCAN = "/usr/bin/ssh-keyscan"

/**
 * True when sshd and ssh-keyscan are installed.
 *
 * @since 0.1.0
 * @category utils
 */
export const available = (): boolean => [OpenSsh.SSHD, OpenSsh.SSH_KEYGEN, SSH_KEYSCAN].every((p) => fs.existsSync(p))

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The sshd ed25519 key's fingerprint, read from the .pub file the harness generated. */
const sshdFingerprint = (): string => {
  const pub = fs.readFileSync(path.join(OpenSsh.hostKeyDir(), "ssh_host_ed25519_key.pub"), "utf8")
  return HostKey.fingerprintSha256(Uint8Array.from(Buffer.from(pub.split(" ")[1]!, "base64")))
}

/** Milliseconds from spawning `ssh-keyscan` to its exit, and whether it printed a key. */
const keyscanOnce = (port: number): Effect.Effect<{ readonly ms: number; readonly ok: boolean }> =>
  Effect.async((resume) => {
    const start = performance.now()
    const child = spawn(SSH_KEYSCAN, ["-T", "10", "-t", "ed25519", "-p", String(port), "127.0.0.1"], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.once("close", () => resume(Effect.succeed({ ms: performance.now() - start, ok: out.includes("ssh-ed25519") })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const oursOnce = (port: number, kex: string, fingerprint: string) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* NodeTransport.connect({
      host: "127.0.0.1",
      port,
      hostKeys: HostKeyPolicy.pinned([fingerprint]),
      algorithms: { kex: [kex], hostKey: ["ssh-ed25519"] }
    })
    return performance.now() - start
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("no connection within 30 s") }),
    Effect.provideService(Crypto, NodeCrypto)
  )

/** A port nothing listens on: bound, then closed again. */
const closedPort: Effect.Effect<number> = Effect.async((resume) => {
  const srv = net.createServer()
  srv.listen(0, "127.0.0.1", () => {
    const port = (srv.address() as net.AddressInfo).port
    srv.close(() => resume(Effect.succeed(port)))
  })
})

/** Our client against our own server (node:crypto, TCP on 127.0.0.1), for a method OpenSSH lacks. */
const oursOnly = (kex: string, runs: number, budget: number) =>
  Effect.scoped(Effect.gen(function*() {
    const hostKey = Loopback.testHostKeys()[0]!
    const fingerprint = HostKey.fingerprintSha256(HostKey.encodePublicKey(HostKey.publicKeyOf(hostKey)))
    const address = yield* NodeTransport.serve(
      { hostKeys: [hostKey], algorithms: { kex: [kex], hostKey: ["ssh-ed25519"] } },
      (t) => Effect.ignore(Receive.receive(t))
    ).pipe(Effect.provideService(Crypto, NodeCrypto))
    if (address._tag !== "TcpAddress") return yield* Effect.fail(new Error("our server did not listen on TCP"))
    yield* oursOnce(address.port, kex, fingerprint)
    const ours: Array<number> = []
    const deadline = performance.now() + budget * 1000
    for (let i = 0; i < runs && (i < 3 || performance.now() < deadline); i++) ours.push(yield* oursOnce(address.port, kex, fingerprint))
    return { kex, server: "ours" as const, runs: ours.length, ours: median(ours), keyscan: undefined, spawn: undefined }
  }))

/**
 * Measures each kex: a warm-up connection of each client, then `runs` timed ones (fewer when the kex is so
 * slow that the time budget runs out), alternating ours and ssh-keyscan so that a disturbance on the shared
 * machine hits both.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const run = (options?: {
  readonly kex?: ReadonlyArray<string> | undefined
  readonly runs?: number | undefined
  /** Seconds per kex after which no further runs start (at least 3 are made); default 8. */
  readonly budgetSeconds?: number | undefined
}) =>
  Effect.gen(function*() {
    const runs = options?.runs ?? 15
    const budget = options?.budgetSeconds ?? 8
    const fingerprint = sshdFingerprint()
    const refused = yield* closedPort
    const spawnTimes: Array<number> = []
    for (let i = 0; i < 5; i++) spawnTimes.push((yield* keyscanOnce(refused)).ms)
    const spawnMs = median(spawnTimes)
    const rows: Array<HandshakeRow> = []
    const opensshKex = OpenSshKex.opensshKex()
    for (const kex of options?.kex ?? DEFAULT_KEX) {
      if (!opensshKex.has(kex)) {
        const row = yield* oursOnly(kex, runs, budget).pipe(
          Effect.catchAll((e) => Effect.as(Effect.logWarning(`${kex}: not measured: ${e.message}`), undefined))
        )
        if (row !== undefined) rows.push(row)
        continue
      }
      const row = yield* Effect.scoped(Effect.gen(function*() {
        const { port } = yield* OpenSsh.sshdTcp({ kex })
        yield* oursOnce(port, kex, fingerprint)
        const scanOk = (yield* keyscanOnce(port)).ok
        const ours: Array<number> = []
        const scans: Array<number> = []
        const deadline = performance.now() + budget * 1000
        for (let i = 0; i < runs && (i < 3 || performance.now() < deadline); i++) {
          ours.push(yield* oursOnce(port, kex, fingerprint))
          if (scanOk) scans.push((yield* keyscanOnce(port)).ms)
        }
        return {
          kex,
          server: "sshd" as const,
          runs: ours.length,
          ours: median(ours),
          keyscan: scanOk ? median(scans) : undefined,
          spawn: scanOk ? spawnMs : undefined
        }
      })).pipe(
        Effect.catchAll((e) => Effect.as(Effect.logWarning(`${kex}: not measured: ${e.message}`), undefined))
      )
      if (row !== undefined) rows.push(row)
    }
    return rows
  })

/**
 * @since 0.1.0
 * @category formatting
 */
export const table = (rows: ReadonlyArray<HandshakeRow>): ReadonlyArray<ReadonlyArray<string>> => [
  ["kex", "server", "runs", "ours ms", "ssh-keyscan ms", "keyscan − spawn ms", "ours ÷ keyscan", "ours ÷ (keyscan − spawn)"],
  ...rows.map((r) => [
    r.kex,
    r.server,
    String(r.runs),
    r.ours.toFixed(1),
    r.keyscan === undefined ? "n/a" : r.keyscan.toFixed(1),
    r.keyscan === undefined || r.spawn === undefined ? "n/a" : (r.keyscan - r.spawn).toFixed(1),
    r.keyscan === undefined ? "n/a" : `${(r.ours / r.keyscan).toFixed(2)}×`,
    r.keyscan === undefined || r.spawn === undefined || r.keyscan - r.spawn <= 0
      ? "n/a"
      : `${(r.ours / (r.keyscan - r.spawn)).toFixed(2)}×`
  ])
]
