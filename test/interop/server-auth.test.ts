/**
 * OpenSSH's `ssh` against NodeTransport.serve + ServerAuth: publickey with ed25519, ecdsa and rsa keys made by
 * ssh-keygen, password and keyboard-interactive answered by an SSH_ASKPASS script, and an AuthenticationMethods
 * style chain (publickey then password). Nothing serves channels yet, so ssh fails after authenticating: only the
 * auth part of `ssh -vvv` is asserted, plus what the server's ServerAuth returned.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ServerAuth from "../../src/auth/ServerAuth.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeTransport from "../../src/node/NodeTransport.js"
import * as Loopback from "../helpers/Loopback.js"
import * as OpenSsh from "../helpers/OpenSsh.js"

const has = OpenSsh.haveOpenSsh()
const PASSWORD = "s3cret pw"

const tmp = has ? fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-serverauth-")) : ""
const keyFile = (type: string, bits?: number): { file: string; fingerprint: string } => {
  const file = path.join(tmp, `id_${type}${bits ?? ""}`)
  if (!fs.existsSync(file)) {
    execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", type, ...(bits ? ["-b", String(bits)] : []), "-N", "", "-f", file])
  }
  const blob = Uint8Array.from(Buffer.from(fs.readFileSync(`${file}.pub`, "utf8").split(" ")[1]!, "base64"))
  return { file, fingerprint: HostKey.fingerprintSha256(blob) }
}
const askpass = (): string => {
  const file = path.join(tmp, "askpass.sh")
  fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${PASSWORD}'\n`, { mode: 0o700 })
  return file
}

/** `ssh` with an environment (for SSH_ASKPASS), never through a shell. */
const runSsh = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.async<{ code: number | null; stderr: string }>((resume) => {
    const child = spawn(OpenSsh.SSH, [...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, ...env }
    })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdout.on("data", () => {})
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const baseArgs = (port: number) => [
  "-vvv",
  "-F", "/dev/null",
  "-p", String(port),
  "-l", "alice",
  "-o", "StrictHostKeyChecking=no",
  "-o", "UserKnownHostsFile=/dev/null",
  "-o", "IdentitiesOnly=yes",
  "-o", "NumberOfPasswordPrompts=1"
]

/** Serves our ServerAuth; resolves with what it returned for the first connection. */
const serveAuth = (handlers: ServerAuth.ServerAuthHandlers, options?: ServerAuth.ServerAuthOptions) =>
  Effect.gen(function*() {
    const results: Array<Either.Either<ServerAuth.ServerAuthenticated, unknown>> = []
    const address = yield* NodeTransport.serve(
      { hostKeys: Loopback.testHostKeys() },
      (t) => Effect.either(ServerAuth.authenticate(t, handlers, options)).pipe(Effect.tap((r) => results.push(r)))
    )
    assert(address._tag === "TcpAddress")
    return { port: address.port, results }
  })

/** OpenSSH 9.x: `Authenticated to HOST ([HOST]:PORT) using "METHOD".` (older: "Authentication succeeded (METHOD)"). */
const authenticated = (stderr: string, method: string) => {
  const ok = new RegExp(`Authenticated to 127\\.0\\.0\\.1 .* using "${method}"|Authentication succeeded \\(${method}\\)`)
  assert.match(stderr, ok, stderr)
}

const pubkeyOnly = ["-o", "PreferredAuthentications=publickey", "-o", "BatchMode=yes"]

describe.skipIf(!has)("OpenSSH ssh ↔ our ServerAuth", () => {
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

  for (const [type, bits] of [["ed25519", undefined], ["ecdsa", 256], ["ecdsa", 384], ["rsa", 3072]] as const) {
    it.scopedLive(`publickey ${type}${bits ?? ""}`, () =>
      Effect.gen(function*() {
        const key = keyFile(type, bits)
        const { port, results } = yield* serveAuth({
          publicKey: ({ key: k, username }) => Effect.succeed(username === "alice" && k.fingerprint === key.fingerprint)
        })
        const r = yield* runSsh([...baseArgs(port), ...pubkeyOnly, "-i", key.file, "127.0.0.1", "true"])
        authenticated(r.stderr, "publickey")
        const server = results[0]
        assert(server !== undefined && Either.isRight(server))
        assert.strictEqual(server.right.factors[0]!.publicKey!.fingerprint, key.fingerprint)
      }).pipe(Effect.provideService(Crypto, NodeCrypto)))
  }

  it.scopedLive("publickey: an unknown key is refused", () =>
    Effect.gen(function*() {
      const key = keyFile("ed25519")
      const { port } = yield* serveAuth({ publicKey: () => Effect.succeed(false) })
      const r = yield* runSsh([...baseArgs(port), ...pubkeyOnly, "-i", key.file, "127.0.0.1", "true"])
      assert.include(r.stderr, "Permission denied (publickey)", r.stderr)
      assert.notInclude(r.stderr, "Authenticated to")
      assert.strictEqual(r.code, 255)
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))

  const askpassEnv = () => ({ SSH_ASKPASS: askpass(), SSH_ASKPASS_REQUIRE: "force", DISPLAY: ":0" })

  it.scopedLive("password through SSH_ASKPASS", () =>
    Effect.gen(function*() {
      const { port, results } = yield* serveAuth({
        password: ({ password }) => Effect.succeed(Redacted.value(password) === PASSWORD)
      })
      const r = yield* runSsh(
        [...baseArgs(port), "-o", "PreferredAuthentications=password", "127.0.0.1", "true"],
        askpassEnv()
      )
      authenticated(r.stderr, "password")
      assert(results[0] !== undefined && Either.isRight(results[0]))
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))

  it.scopedLive("keyboard-interactive through SSH_ASKPASS", () =>
    Effect.gen(function*() {
      const { port } = yield* serveAuth({
        keyboardInteractive: () =>
          Effect.succeed(ServerAuth.prompt(
            [{ prompt: "Password: ", echo: false }],
            ([a]) => Effect.succeed(Redacted.value(a!) === PASSWORD ? ServerAuth.accept : ServerAuth.reject),
            { instruction: "effect-ssh test" }
          ))
      })
      const r = yield* runSsh(
        [...baseArgs(port), "-o", "PreferredAuthentications=keyboard-interactive", "127.0.0.1", "true"],
        askpassEnv()
      )
      authenticated(r.stderr, "keyboard-interactive")
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))

  it.scopedLive("chain publickey then password (AuthenticationMethods publickey,password)", () =>
    Effect.gen(function*() {
      const key = keyFile("ed25519")
      const { port, results } = yield* serveAuth({
        publicKey: ({ key: k }) => Effect.succeed(k.fingerprint === key.fingerprint),
        password: ({ password }) => Effect.succeed(Redacted.value(password) === PASSWORD)
      }, { required: [["publickey", "password"]] })
      const r = yield* runSsh(
        [...baseArgs(port), "-o", "PreferredAuthentications=publickey,password", "-i", key.file, "127.0.0.1", "true"],
        askpassEnv()
      )
      assert.include(r.stderr, "Authenticated using \"publickey\" with partial success.", r.stderr)
      authenticated(r.stderr, "password")
      const server = results[0]
      assert(server !== undefined && Either.isRight(server))
      assert.deepStrictEqual(server.right.methods, ["publickey", "password"])
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))

  it.scopedLive("too many failures: ssh is disconnected (MaxAuthTries 2)", () =>
    Effect.gen(function*() {
      const keys = [keyFile("ed25519"), keyFile("ecdsa", 256), keyFile("rsa", 3072)]
      const { port } = yield* serveAuth({ publicKey: () => Effect.succeed(false) }, { limits: { maxAuthTries: 2 } })
      const r = yield* runSsh([...baseArgs(port), ...pubkeyOnly, ...keys.flatMap((k) => ["-i", k.file]), "127.0.0.1", "true"])
      assert.include(r.stderr, "Too many authentication failures", r.stderr)
      assert.notInclude(r.stderr, "Authenticated to")
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))
})
