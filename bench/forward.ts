/**
 * Throughput through a local forward (-L), ours beside OpenSSH's `ssh -L`, against the same sshd in the same run,
 * and SOCKS connections per second through a dynamic forward (-D), ours beside `ssh -D`.
 *
 * Set-up: sshd on 127.0.0.1 (Ciphers forced to one cipher per row); a source server on 127.0.0.1, in a child
 * process, that writes `mib` MiB to each connection and closes. Through each forward, a Node socket in this process reads until the
 * end; the figure is MB/s of that read (connect to last byte), the best of `rounds`, after a 16 MiB warm-up on
 * each. ours: `SshClient.connect` + `forwardLocal` in this process (so the reading socket shares our thread);
 * ssh: `ssh -N -L port:127.0.0.1:src` as its own process. -D: `count` sequential SOCKS 5 CONNECTs to a server
 * that answers one byte and closes, connections per second.
 *
 * Run alone: `npx tsx bench/forward.ts [--mib=N]`; it is also section "forward" of `npm run bench`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import * as LocalNet from "../src/forward/LocalNet.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as PrivateKey from "../src/keys/PrivateKey.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"

/**
 * One row: MB/s through -L and connections/s through -D, ours and OpenSSH's.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForwardRow {
  readonly cipher: string
  readonly oursMBps: number | undefined
  readonly sshMBps: number | undefined
  readonly oursConnPerSec: number | undefined
  readonly sshConnPerSec: number | undefined
}

const CIPHERS = ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]
const MiB = 1 << 20

/** The source server, run in a child process so that this process only forwards and reads. */
const SOURCE = `
const net = require("node:net")
const bytes = Number(process.argv[1])
const block = Buffer.alloc(256 * 1024)
const server = net.createServer((s) => {
  s.on("error", () => {})
  let left = bytes
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, block.length)
      left -= n
      if (!s.write(n === block.length ? block : block.subarray(0, n))) return void s.once("drain", pump)
    }
    s.end()
  }
  pump()
})
server.listen(0, "127.0.0.1", () => console.log(server.address().port))
`

/** A server writing `bytes` to each connection, then closing (or one byte, for the -D count); killed with the Scope. */
export const source = (bytes: number): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => spawn(process.execPath, ["-e", SOURCE, String(bytes)], { stdio: ["ignore", "pipe", "inherit"] })),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  ).pipe(Effect.flatMap((child) =>
    Effect.async<number>((resume) => {
      child.stdout!.once("data", (d: Buffer) => resume(Effect.succeed(Number(d.toString().trim()))))
    })
  ))

/** Reads everything from 127.0.0.1:port (after an optional SOCKS 5 CONNECT); returns bytes and seconds. */
export const drain = (port: number, socksTo?: number) =>
  Effect.async<{ bytes: number; seconds: number }, Error>((resume) => {
    const start = performance.now()
    const s = net.createConnection({ host: "127.0.0.1", port })
    let bytes = 0
    let socksLeft = socksTo === undefined ? 0 : 12
    s.once("error", (e) => resume(Effect.fail(e)))
    s.on("connect", () => {
      if (socksTo !== undefined) s.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, socksTo >> 8, socksTo & 255]))
    })
    s.on("data", (d: Buffer) => {
      const skip = Math.min(socksLeft, d.length)
      socksLeft -= skip
      bytes += d.length - skip
    })
    s.once("end", () => {
      s.destroy()
      resume(Effect.succeed({ bytes, seconds: (performance.now() - start) / 1000 }))
    })
  })

const accepts = (port: number) =>
  Effect.async<boolean>((resume) => {
    const s = net.createConnection({ host: "127.0.0.1", port })
    s.once("connect", () => (s.destroy(), resume(Effect.succeed(true))))
    s.once("error", () => resume(Effect.succeed(false)))
  })

export const freePort = Effect.async<number>((resume) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as net.AddressInfo).port
    s.close(() => resume(Effect.succeed(port)))
  })
})

/** `ssh -N` with a forward, until the Scope closes; returns once its listener accepts. */
export const sshForward = (sshdPort: number, keyFile: string, cipher: string, args: ReadonlyArray<string>, port: number) =>
  Effect.gen(function*() {
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(OpenSsh.SSH, [...OpenSsh.sshLogin(sshdPort, keyFile), "-c", cipher, "-N", ...args, "127.0.0.1"], {
          stdio: "ignore"
        })
      ),
      (c) => Effect.sync(() => c.kill("SIGKILL"))
    )
    for (let i = 0; i < 400 && !(yield* accepts(port)); i++) yield* Effect.sleep("25 millis")
  })

const best = (rounds: number, bytes: number, port: number) =>
  Effect.gen(function*() {
    yield* drain(port) // warm-up (the source writes `bytes`; the first read is not counted)
    let top = 0
    for (let i = 0; i < rounds; i++) {
      const r = yield* drain(port)
      if (r.bytes === bytes) top = Math.max(top, r.bytes / r.seconds / 1e6)
    }
    return top === 0 ? undefined : top
  })

const connPerSec = (count: number, socksPort: number, target: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    for (let i = 0; i < count; i++) yield* drain(socksPort, target)
    return count / ((performance.now() - start) / 1000)
  })

/**
 * Runs the section: one sshd per cipher, ours and OpenSSH's forwards against it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (options: { readonly mib?: number; readonly rounds?: number; readonly count?: number } = {}) =>
  Effect.gen(function*() {
    const bytes = (options.mib ?? 256) * MiB
    const rounds = options.rounds ?? 2
    const count = options.count ?? 100
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-fwd-"))
    const keyFile = path.join(dir, "id_ed25519")
    execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
    const parsed = PrivateKey.parsePrivateKey(fs.readFileSync(keyFile, "utf8"))
    if (parsed._tag === "Left") return yield* Effect.dieMessage(parsed.left.message)
    const rows: Array<ForwardRow> = []
    for (const cipher of CIPHERS) {
      rows.push(yield* Effect.scoped(Effect.gen(function*() {
        const { port } = yield* OpenSsh.sshdTcp({
          ciphers: cipher,
          authorizedKeys: [fs.readFileSync(`${keyFile}.pub`, "utf8").trim()],
          logLevel: "INFO",
          extra: ["AllowTcpForwarding yes"]
        })
        const src = yield* source(bytes)
        const one = yield* source(1)
        const ssh = yield* SshClient.connect({
          host: "127.0.0.1",
          port,
          username: os.userInfo().username,
          auth: [Auth.privateKey(parsed.right.material)],
          hostKeys: HostKeyPolicy.insecureAcceptAny,
          algorithms: { cipher: [cipher] }
        })
        const l = yield* ssh.forwardLocal({ listen: 0, to: LocalNet.tcp("127.0.0.1", src) })
        const oursMBps = yield* best(rounds, bytes, l.address._tag === "Tcp" ? l.address.port : 0)
        const d = yield* ssh.forwardDynamic({ listen: 0 })
        const oursConnPerSec = yield* connPerSec(count, d.address._tag === "Tcp" ? d.address.port : 0, one)
        const lport = yield* freePort
        yield* sshForward(port, keyFile, cipher, ["-L", `${lport}:127.0.0.1:${src}`], lport)
        const sshMBps = yield* best(rounds, bytes, lport)
        const dport = yield* freePort
        yield* sshForward(port, keyFile, cipher, ["-D", `127.0.0.1:${dport}`], dport)
        const sshConnPerSec = yield* connPerSec(count, dport, one)
        return { cipher, oursMBps, sshMBps, oursConnPerSec, sshConnPerSec }
      })))
    }
    return rows
  }).pipe(Effect.provide(NodeSsh.layer))

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? "n/a" : n.toFixed(digits))
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? "n/a" : `${(a / b).toFixed(2)}×`

/**
 * The rows as table cells (header first).
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (rows: ReadonlyArray<ForwardRow>): ReadonlyArray<ReadonlyArray<string>> => [
  ["cipher", "-L ours MB/s", "-L ssh MB/s", "ours ÷ ssh", "-D ours conn/s", "-D ssh conn/s", "ours ÷ ssh (-D)"],
  ...rows.map((r) => [
    r.cipher,
    fmt(r.oursMBps),
    fmt(r.sshMBps),
    ratio(r.oursMBps, r.sshMBps),
    fmt(r.oursConnPerSec),
    fmt(r.sshConnPerSec),
    ratio(r.oursConnPerSec, r.sshConnPerSec)
  ])
]

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const mib = Number(/^--mib=(\d+)$/.exec(process.argv[2] ?? "")?.[1] ?? 256)
  Effect.runPromise(run({ mib })).then((rows) => {
    for (const row of table(rows)) console.log(row.join("\t"))
  })
}
