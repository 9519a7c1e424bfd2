/**
 * The tunnel path before and after this session's NodeForward change, in the same run against the same sshd and
 * the same SSH connection: "before" is the previous LocalNet connection (each chunk copied, every write waiting
 * for 'drain' once Node's 16 KiB mark is passed), "after" is `NodeForward.localNet` (no copy, 256 KiB write-ahead,
 * EOF after the flush). Rounds alternate before / after / ssh -L so that the machine's load falls on all three;
 * the figure is the best MB/s of each.
 *
 * Run: `npx tsx bench/forward-ab.ts [--mib=N] [--rounds=N]`.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../src/client/HostKeyPolicy.js"
import * as SshClient from "../src/client/SshClient.js"
import { ForwardError } from "../src/forward/ForwardError.js"
import * as LocalNet from "../src/forward/LocalNet.js"
import * as PrivateKey from "../src/keys/PrivateKey.js"
import * as NodeForward from "../src/node/NodeForward.js"
import * as NodeSsh from "../src/node/NodeSsh.js"
import * as OpenSsh from "../test/helpers/OpenSsh.js"
import { drain, freePort, source, sshForward } from "./forward.js"

const MiB = 1 << 20

/** The LocalNet connection as it was before (src/node/NodeForward.ts at main 8be1662). */
const before = (socket: net.Socket): LocalNet.LocalConnection => ({
  input: NodeStream.fromReadable<ForwardError, Uint8Array>(
    () => socket,
    (cause) => new ForwardError({ reason: "Closed", description: String(cause), cause }),
    { closeOnDone: false }
  ),
  write: (data) =>
    Effect.async<void, ForwardError>((resume) => {
      if (socket.destroyed || socket.writableEnded) return resume(Effect.fail(new ForwardError({ reason: "Closed", description: "closed" })))
      if (socket.write(Buffer.from(data))) return resume(Effect.void)
      const done = () => {
        socket.off("drain", done)
        socket.off("close", done)
        resume(Effect.void)
      }
      socket.once("drain", done)
      socket.once("close", done)
    }),
  end: Effect.sync(() => {
    if (!socket.destroyed && !socket.writableEnded) socket.end()
  }),
  peer: undefined
})

const beforeNet: LocalNet.LocalNet = {
  listen: NodeForward.localNet.listen,
  connect: (endpoint) =>
    Effect.acquireRelease(
      Effect.async<net.Socket, ForwardError>((resume) => {
        const s = endpoint._tag === "Tcp"
          ? net.createConnection({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true })
          : net.createConnection({ path: endpoint.path, allowHalfOpen: true })
        s.once("error", (cause) => resume(Effect.fail(new ForwardError({ reason: "ConnectFailed", description: cause.message }))))
        s.once("connect", () => resume(Effect.succeed(s)))
      }),
      (s) => Effect.sync(() => s.destroy())
    ).pipe(Effect.map(before))
}

const arg = (name: string, d: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? d)

const main = Effect.gen(function*() {
  const bytes = arg("mib", 64) * MiB
  const rounds = arg("rounds", 4)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-bench-ab-"))
  const keyFile = path.join(dir, "id_ed25519")
  execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
  const parsed = PrivateKey.parsePrivateKey(fs.readFileSync(keyFile, "utf8"))
  if (parsed._tag === "Left") return yield* Effect.dieMessage(parsed.left.message)
  for (const cipher of ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]) {
    yield* Effect.scoped(Effect.gen(function*() {
      const { port } = yield* OpenSsh.sshdTcp({
        ciphers: cipher,
        authorizedKeys: [fs.readFileSync(`${keyFile}.pub`, "utf8").trim()],
        logLevel: "INFO",
        extra: ["AllowTcpForwarding yes"]
      })
      const src = yield* source(bytes)
      const ssh = yield* SshClient.connect({
        host: "127.0.0.1",
        port,
        username: os.userInfo().username,
        auth: [Auth.privateKey(parsed.right.material)],
        hostKeys: HostKeyPolicy.insecureAcceptAny,
        algorithms: { cipher: [cipher] }
      })
      const to = LocalNet.tcp("127.0.0.1", src)
      const a = yield* ssh.forwardLocal({ listen: 0, to }).pipe(Effect.provideService(LocalNet.LocalNet, beforeNet))
      const b = yield* ssh.forwardLocal({ listen: 0, to })
      const lport = yield* freePort
      yield* sshForward(port, keyFile, cipher, ["-L", `${lport}:127.0.0.1:${src}`], lport)
      const ports = { before: a.address._tag === "Tcp" ? a.address.port : 0, after: b.address._tag === "Tcp" ? b.address.port : 0, ssh: lport }
      const top = { before: 0, after: 0, ssh: 0 }
      for (const p of Object.values(ports)) yield* drain(p) // warm-up
      for (let i = 0; i < rounds; i++) {
        for (const k of ["before", "after", "ssh"] as const) {
          const r = yield* drain(ports[k])
          if (r.bytes === bytes) top[k] = Math.max(top[k], r.bytes / r.seconds / 1e6)
        }
      }
      console.log(
        `${cipher}\tbefore ${top.before.toFixed(0)} MB/s (${(top.before / top.ssh).toFixed(2)}× ssh)\t` +
          `after ${top.after.toFixed(0)} MB/s (${(top.after / top.ssh).toFixed(2)}× ssh)\tssh -L ${top.ssh.toFixed(0)} MB/s`
      )
    }))
  }
}).pipe(Effect.provide(NodeSsh.layer))

Effect.runPromise(main).then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
