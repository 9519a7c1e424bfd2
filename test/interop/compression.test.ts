/**
 * Compression against OpenSSH 9.2 (RFC 4253 §6.2, OpenSSH PROTOCOL §1.2), both roles, each with 256 MiB through
 * `cat`, a SHA-256 comparison and rekeys inside the transfer:
 *
 * - our client ↔ sshd (`Compression yes`, `RekeyLimit 32M`) with zlib@openssh.com; sshd 9.2 never offers plain
 *   `zlib` (its server proposal is "none,zlib@openssh.com"), so a client asking only for `zlib` gets no common
 *   algorithm.
 * - OpenSSH `ssh -C` ↔ our server (default list: zlib@openssh.com is chosen), and `ssh -o Compression=yes` ↔ our
 *   server configured for plain `zlib` (OpenSSH's client still offers it), both with `RekeyLimit=32M`.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Stream } from "effect"
import { spawn } from "node:child_process"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as ClientAuth from "../../src/auth/ClientAuth.js"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCompression } from "../../src/node/NodeCompression.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeTransport from "../../src/node/NodeTransport.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as SshProcess from "../../src/session/SshProcess.js"
import { DisconnectReason } from "../../src/SshError.js"
import * as Transport from "../../src/transport/Transport.js"
import * as Loopback from "../helpers/Loopback.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { authorizedKeyLine } from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const MiB = 1024 * 1024
const TOTAL = 256 * MiB
const BLOCK = 64 * 1024

/**
 * 4 MiB of log-like text (about 7:1 under zlib, so the transfer is really compressed yet far from trivial); each
 * 64 KiB block sent carries its counter in its first 4 bytes, so a lost, repeated or reordered block shows.
 */
const text = (() => {
  const out = new Uint8Array(4 * MiB)
  const line = new TextEncoder().encode("2024-05-01T12:00:00Z host-000 sshd[4242]: Accepted key SHA256:0000000000000000\n")
  const hex = new TextEncoder().encode("0123456789abcdef")
  let x = 1
  for (let i = 0; i < out.length; i++) {
    const at = i % line.length
    if (at >= line.length - 17 && at < line.length - 1) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0
      out[i] = hex[x >>> 28]!
    } else {
      out[i] = line[at]!
    }
  }
  return out
})()

/** The k-th 64 KiB block of the transfer. */
const block = (k: number): Uint8Array => {
  const off = (k * BLOCK) % text.length
  const b = text.slice(off, off + BLOCK)
  new DataView(b.buffer).setUint32(0, k)
  return b
}

const expected = (() => {
  const h = sha256.create()
  for (let k = 0; k < TOTAL / BLOCK; k++) h.update(block(k))
  return h.digest()
})()

// ---- our client ↔ sshd ----

const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username

const connectSshd = (compression: Transport.AlgorithmList, rekeyBytes?: number) =>
  Effect.gen(function*() {
    const socket = yield* OpenSsh.sshdInetd({
      authorizedKeys: [authorizedKeyLine(userKey)],
      logLevel: "ERROR",
      // sshd 9.2: "yes" means delayed (zlib@openssh.com); RekeyLimit counts bytes on the wire.
      extra: ["Compression yes", "RekeyLimit 32M"]
    })
    const transport = yield* Transport.make(socket, {
      role: "client",
      verifyHostKey: () => Effect.void,
      compression: NodeCompression,
      algorithms: { compression },
      rekey: { bytes: rekeyBytes }
    })
    const authenticated = yield* ClientAuth.authenticate(transport, { username: user, auth: [Auth.privateKey(userKey)] })
    const mux = yield* ConnectionMux.make(transport, authenticated)
    return { transport, mux }
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

describe.skipIf(!has)("compression: our client ↔ OpenSSH sshd", () => {
  it.scopedLive("zlib@openssh.com: 256 MiB through cat with rekeys inside, SHA-256 intact, delayed until auth", () =>
    Effect.gen(function*() {
      const { transport, mux } = yield* connectSshd(["zlib@openssh.com"], 16 * MiB)
      const n = yield* transport.negotiated
      assert.deepStrictEqual([n.compressionC2S, n.compressionS2C], ["zlib@openssh.com", "zlib@openssh.com"])
      const afterAuth = yield* transport.stats
      // SEC-51: nothing was compressed before USERAUTH_SUCCESS (which itself arrived uncompressed).
      assert.deepStrictEqual([afterAuth.compressedIn, afterAuth.compressedOut], [0, 0])
      assert.isAtLeast(afterAuth.packetsIn, 5)
      const p = yield* SshProcess.start(mux, { _tag: "Exec", command: "cat" })
      const got = sha256.create()
      let bytes = 0
      yield* Effect.all([
        Stream.run(Stream.range(0, TOTAL / BLOCK - 1).pipe(Stream.map(block)), p.stdin),
        Stream.runForEach(p.stdout, (c) =>
          Effect.sync(() => {
            got.update(c)
            bytes += c.length
          }))
      ], { concurrency: 2 })
      assert.strictEqual(bytes, TOTAL)
      assert.deepStrictEqual(got.digest(), expected)
      assert.deepStrictEqual(yield* p.exitStatus, { status: 0 })
      const s = yield* transport.stats
      // Rekeys happened inside the transfer (ours every 16 MiB on the wire, sshd's every 32 MiB).
      assert.isAtLeast(s.kexCount, 3)
      // Everything after auth went compressed, and the wire carried far less than the data.
      assert.strictEqual(s.packetsIn - s.compressedIn, afterAuth.packetsIn)
      assert.strictEqual(s.packetsOut - s.compressedOut, afterAuth.packetsOut)
      assert.isBelow(s.bytesOut, TOTAL / 3)
      assert.isBelow(s.bytesIn, TOTAL / 3)
    }), { timeout: 300_000 })

  it.scopedLive("SEC-51: sshd 9.2 never offers plain zlib: a client asking only for zlib → no common algorithm", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(connectSshd(["zlib"]))
      assert.strictEqual(e._tag, "TransportError")
      if (e._tag !== "TransportError") return
      assert.strictEqual(e.reason, "NoCommonAlgorithm")
      assert.strictEqual(e.code, DisconnectReason.KeyExchangeFailed)
      assert.include(e.description, "zlib@openssh.com")
    }), { timeout: 60_000 })
})

// ---- OpenSSH ssh ↔ our server ----

const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-compression-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const authorizedBlob = has ? fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]! : ""

const handlers: SshServer.ServerHandlers = {
  auth: { publicKey: ({ key }) => Effect.succeed(btoa(String.fromCharCode(...key.blob)) === authorizedBlob) },
  exec: ({ command, stdin, stdout }) => command === "cat" ? Effect.as(Stream.run(stdin, stdout), 0) : Effect.succeed(1)
}

/** Our server (node:zlib, rekey every 16 MiB on the wire); `transports` collects each connection's transport. */
const serve = (compression: Transport.AlgorithmList | undefined, transports: Array<Transport.Transport>) =>
  NodeTransport.serve(
    { hostKeys: Loopback.testHostKeys(), algorithms: { compression }, rekey: { bytes: 16 * MiB } },
    (t) => {
      transports.push(t)
      return SshServer.handleConnection(t, handlers)
    }
  ).pipe(Effect.map((a) => (a._tag === "TcpAddress" ? a.port : -1)))

/**
 * `ssh … cat` with the 256 MiB transfer on its stdin (written with backpressure) and its stdout hashed as it
 * arrives; never through a shell.
 */
const sshCat = (port: number, args: ReadonlyArray<string>) =>
  Effect.async<{ code: number | null; digest: Uint8Array; bytes: number; stderr: string }>((resume) => {
    const child = spawn(OpenSsh.SSH, [
      "-F", "/dev/null", "-p", String(port), "-i", keyFile,
      "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null", "-v",
      ...args, "alice@127.0.0.1", "cat"
    ], { stdio: ["pipe", "pipe", "pipe"] })
    const got = sha256.create()
    let bytes = 0
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      got.update(d)
      bytes += d.length
    })
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdin.on("error", () => {})
    let k = 0
    const pump = () => {
      while (k < TOTAL / BLOCK) {
        if (!child.stdin.write(block(k++))) return void child.stdin.once("drain", pump)
      }
      child.stdin.end()
    }
    pump()
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, digest: got.digest(), bytes, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe.skipIf(!has)("compression: OpenSSH ssh ↔ our server", () => {
  const cases = [
    { name: "ssh -C ↔ our default server: zlib@openssh.com", server: undefined, ssh: ["-C"], method: "zlib@openssh.com" },
    {
      name: "ssh -o Compression=yes ↔ our server opted in to plain zlib",
      server: ["zlib"],
      ssh: ["-o", "Compression=yes"],
      method: "zlib"
    }
  ] as const
  for (const c of cases) {
    it.scopedLive(`${c.name}: 256 MiB through cat with rekeys inside, SHA-256 intact`, () =>
      Effect.gen(function*() {
        const transports: Array<Transport.Transport> = []
        const port = yield* serve(c.server, transports)
        const r = yield* sshCat(port, [...c.ssh, "-o", "RekeyLimit=32M"])
        assert.strictEqual(r.code, 0, r.stderr.slice(-2000))
        assert.strictEqual(r.bytes, TOTAL)
        assert.deepStrictEqual(r.digest, expected)
        // OpenSSH's own view of the negotiation (ssh -v).
        assert.include(r.stderr, `kex: server->client cipher: `)
        assert.match(r.stderr, new RegExp(`server->client cipher: \\S+ MAC: \\S+ compression: ${c.method}\\b`))
        assert.match(r.stderr, new RegExp(`client->server cipher: \\S+ MAC: \\S+ compression: ${c.method}\\b`))
        assert.include(r.stderr, "Enabling compression at level 6")
        assert.strictEqual(transports.length, 1)
        const s = yield* transports[0]!.stats
        const n = yield* transports[0]!.negotiated
        assert.deepStrictEqual([n.compressionC2S, n.compressionS2C], [c.method, c.method])
        // Rekeys inside the transfer: OpenSSH's (32 MiB) and ours (16 MiB), both counted on the wire.
        assert.isAtLeast(s.kexCount, 3)
        assert.isAtLeast(r.stderr.split("SSH2_MSG_NEWKEYS received").length - 1, 2)
        assert.isBelow(s.bytesIn, TOTAL / 3)
        assert.isBelow(s.bytesOut, TOTAL / 3)
        if (c.method === "zlib") {
          // Plain zlib: only KEXINIT, KEX_ECDH_INIT and NEWKEYS came in uncompressed.
          assert.strictEqual(s.packetsIn - s.compressedIn, 3)
        } else {
          // Delayed: the user-auth exchange came in uncompressed too (SERVICE_REQUEST, USERAUTH_REQUESTs).
          assert.isAtLeast(s.packetsIn - s.compressedIn, 5)
        }
      }), { timeout: 300_000 })
  }
})
