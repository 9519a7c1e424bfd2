/**
 * Client user authentication (RFC 4252, RFC 4256) against OpenSSH's sshd on a child's stdio: publickey with every
 * key type and both RSA SHA-2 algorithms as server-sig-algs offers them, key files (encrypted and not), password,
 * keyboard-interactive through PAM, partial success (`AuthenticationMethods publickey,password`), a banner, and
 * the typed failures. After each success a global request round trip shows the connection is usable.
 *
 * Password and keyboard-interactive need a user with a password: as root (CI), the tests create a temporary
 * system user (useradd/chpasswd, never a shell) and remove it afterwards; otherwise they skip loudly, and with
 * CI=true they fail.
 */
import { NodeSocket } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Either, Logger, LogLevel, Option, Redacted } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Duplex } from "node:stream"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as ClientAuth from "../../src/auth/ClientAuth.js"
import type { PrivateKeyMaterial } from "../../src/crypto/Backend.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import { AuthError } from "../../src/SshError.js"
import * as Transport from "../../src/transport/Transport.js"
import * as Writer from "../../src/wire/Writer.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { authorizedKeyLine } from "../helpers/RawAuth.js"
import * as Receive from "../../src/transport/internal/receive.js"

const has = OpenSsh.haveOpenSsh()
const isRoot = process.getuid?.() === 0
if (has && !isRoot) {
  if (process.env.CI) throw new Error("client-auth interop: password and keyboard-interactive tests need root when CI=true")
  console.warn("\n*** not root: password and keyboard-interactive interop tests are SKIPPED (they create a user) ***\n")
}
const withUser = has && isRoot

const me = os.userInfo().username
const testUser = `effssh${randomBytes(3).toString("hex")}`
const testPassword = `pw-${randomBytes(9).toString("base64url")}`

beforeAll(() => {
  if (!withUser) return
  execFileSync("/usr/sbin/useradd", ["-M", "-s", "/bin/sh", testUser])
  execFileSync("/usr/sbin/chpasswd", { input: `${testUser}:${testPassword}\n` })
})
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-clientauth-"))
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
  if (!withUser) return
  try {
    execFileSync("/usr/sbin/userdel", [testUser])
  } catch (e) {
    console.warn(`userdel ${testUser} failed: ${String(e)}`)
  }
})

const keys = {
  ed25519: NodeCrypto.generateKey({ type: "ed25519" }),
  p256: NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp256" }),
  p384: NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp384" }),
  p521: NodeCrypto.generateKey({ type: "ecdsa", curve: "nistp521" }),
  rsa: NodeCrypto.generateKey({ type: "rsa", bits: 3072 })
} satisfies Record<string, PrivateKeyMaterial>

/**
 * `sshd -i` with some options set before the harness's own lines. sshd keeps the first value of an option
 * (checked with `sshd -T`), and the harness writes `UsePAM no`, `PasswordAuthentication no` and
 * `KbdInteractiveAuthentication no` before the `extra` lines, so those cannot turn them on: they go first instead.
 */
const sshdInetdWith = (options: OpenSsh.SshdOptions, first: ReadonlyArray<string>, log: Array<string>) =>
  Effect.gen(function*() {
    const cfg = OpenSsh.writeSshdConfig(options)
    fs.writeFileSync(cfg, [...first, fs.readFileSync(cfg, "utf8")].join("\n"))
    // sshd reads authorized_keys as the user logging in: the temporary user must be able to reach it.
    fs.chmodSync(path.dirname(cfg), 0o755)
    if (options.authorizedKeys) fs.chmodSync(path.join(path.dirname(cfg), "authorized_keys"), 0o644)
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(OpenSsh.SSHD, ["-i", "-e", "-f", cfg], { stdio: ["pipe", "pipe", "pipe"] })),
      (c) => Effect.sync(() => c.exitCode === null && c.kill("SIGKILL"))
    )
    child.stderr.on("data", (d: Buffer) => log.push(d.toString()))
    const duplex = Duplex.from({ readable: child.stdout, writable: child.stdin })
    duplex.on("error", () => {})
    return yield* NodeSocket.fromDuplex(Effect.succeed(duplex))
  })

interface Setup {
  readonly sshd: OpenSsh.SshdOptions
  /** sshd_config lines that must win over the harness's defaults. */
  readonly first?: ReadonlyArray<string>
}

const PASSWORD = ["PasswordAuthentication yes"]
const PAM = ["UsePAM yes", "KbdInteractiveAuthentication yes"]

const connect = ({ first, sshd }: Setup, log: Array<string>) =>
  Effect.gen(function*() {
    const socket = first ? yield* sshdInetdWith(sshd, first, log) : yield* OpenSsh.sshdInetd(sshd, log)
    return yield* Transport.make(socket, { role: "client", verifyHostKey: () => Effect.void })
  })

/** A global request with want-reply: sshd answers REQUEST_FAILURE (RFC 4254 §4), so the connection works. */
const ping = (t: Transport.Transport) =>
  Effect.gen(function*() {
    yield* t.send(Writer.build((w) => w.byte(80).string("effect-ssh-test@example.com").boolean(true)))
    let reply = yield* Receive.receive(t)
    while (reply[0] === 80) reply = yield* Receive.receive(t) // hostkeys-00@openssh.com (OpenSSH PROTOCOL §2.5)
    assert.strictEqual(reply[0], 82)
  })

/** Authenticates against a fresh sshd, collecting our debug logs; sshd's log is printed if something fails. */
const login = (
  setup: Setup,
  options: ClientAuth.ClientAuthOptions,
  serverSigAlgs?: Option.Option<ReadonlyArray<string>>
) =>
  Effect.gen(function*() {
    const sshdLog: Array<string> = []
    const logs: Array<string> = []
    const t = yield* connect(setup, sshdLog)
    const seen = serverSigAlgs === undefined ? t : { ...t, serverSigAlgs: Effect.succeed(serverSigAlgs) }
    const result = yield* ClientAuth.authenticate(seen, options).pipe(
      Effect.either,
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
    )
    if (Either.isRight(result)) yield* ping(t)
    return { result, logs, sshdLog, transport: t }
  }).pipe(Effect.provideService(Crypto, NodeCrypto))

const succeeds = <A extends { readonly result: Either.Either<unknown, unknown>; readonly sshdLog: Array<string> }>(r: A) => {
  if (Either.isLeft(r.result)) console.error(String(r.result.left), "\n", r.sshdLog.join(""))
  assert.isTrue(Either.isRight(r.result))
}

const authErrorOf = (r: { readonly result: Either.Either<unknown, unknown> }): AuthError => {
  assert.isTrue(Either.isLeft(r.result))
  const e = Either.isLeft(r.result) ? r.result.left : undefined
  assert.instanceOf(e, AuthError)
  return e as AuthError
}

const fp = (k: PrivateKeyMaterial) => HostKey.fingerprintSha256(HostKey.encodePublicKey(HostKey.publicKeyOf(k)))

describe.skipIf(!has)("ClientAuth ↔ OpenSSH sshd: publickey", () => {
  for (const [name, key] of Object.entries(keys)) {
    it.scopedLive(`${name} (${HostKey.keyTypeOf(key)})`, () =>
      Effect.gen(function*() {
        const r = yield* login({ sshd: { authorizedKeys: [authorizedKeyLine(key)] } }, {
          username: me,
          auth: [Auth.privateKey(key)]
        })
        succeeds(r)
        if (Either.isRight(r.result)) assert.deepStrictEqual(r.result.right, { username: me, methods: ["publickey"] })
        // sshd 9.2 offers every algorithm in server-sig-algs: RSA keys sign with the strongest, rsa-sha2-512.
        const expected = name === "rsa" ? "rsa-sha2-512" : HostKey.keyTypeOf(key)
        assert.isTrue(r.logs.some((l) => l.includes(fp(key)) && l.includes(`(${expected})`)), r.logs.join("\n"))
      }))
  }

  // sshd 9.2 lists every algorithm in server-sig-algs whatever PubkeyAcceptedAlgorithms says, so the choice of
  // rsa-sha2-256 is shown with the list an older server sends, and sshd accepting only rsa-sha2-256 checks it.
  const only256 = { authorizedKeys: [authorizedKeyLine(keys.rsa)], extra: ["PubkeyAcceptedAlgorithms rsa-sha2-256"] }
  it.scopedLive("rsa: rsa-sha2-256 when server-sig-algs lacks rsa-sha2-512", () =>
    Effect.gen(function*() {
      const offered = Option.some(["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", "rsa-sha2-256"])
      const r = yield* login({ sshd: only256 }, { username: me, auth: [Auth.privateKey(keys.rsa)] }, offered)
      succeeds(r)
      assert.isTrue(r.logs.some((l) => l.includes("(rsa-sha2-256)")), r.logs.join("\n"))
    }))

  it.scopedLive("rsa: rsa-sha2-256 when the server sent no server-sig-algs", () =>
    Effect.gen(function*() {
      const r = yield* login({ sshd: only256 }, { username: me, auth: [Auth.privateKey(keys.rsa)] }, Option.none())
      succeeds(r)
    }))

  it.scopedLive("rsa: never ssh-rsa unless allowed; with allowSshRsa, ssh-rsa when that is all the server offers", () =>
    Effect.gen(function*() {
      const sshd = { authorizedKeys: [authorizedKeyLine(keys.rsa)], extra: ["PubkeyAcceptedAlgorithms +ssh-rsa"] }
      const offered = Option.some(["ssh-ed25519", "ssh-rsa"])
      const refused = yield* login({ sshd }, { username: me, auth: [Auth.privateKey(keys.rsa)] }, offered)
      const e = authErrorOf(refused)
      assert.strictEqual(e.reason, "KeyUnusable")
      assert.match(e.tried[1]!, /no rsa-sha2-512\/256 \(ssh-rsa is not allowed\)/)
      const allowed = yield* login({ sshd }, {
        username: me,
        auth: [Auth.privateKey(keys.rsa, { allowSshRsa: true })]
      }, offered)
      succeeds(allowed)
      assert.isTrue(allowed.logs.some((l) => l.includes("(ssh-rsa)")), allowed.logs.join("\n"))
    }))

  it.scopedLive("a wrong key: AuthError lists what was tried and that publickey is allowed", () =>
    Effect.gen(function*() {
      const r = yield* login({ sshd: { authorizedKeys: [authorizedKeyLine(keys.ed25519)] } }, {
        username: me,
        auth: [Auth.privateKey(keys.p256), Auth.password("not-offered")]
      })
      const e = authErrorOf(r)
      assert.strictEqual(e.reason, "NoMoreMethods")
      assert.deepStrictEqual(e.tried, [
        "none rejected",
        `publickey ecdsa-sha2-nistp256 ${fp(keys.p256)} (ecdsa-sha2-nistp256) rejected`,
        "password not tried (not allowed by the server)"
      ])
      assert.include(e.allowed, "publickey")
      assert.notInclude(e.message, "not-offered")
    }))
})

describe.skipIf(!has)("ClientAuth ↔ OpenSSH sshd: key files", () => {
  const dir = tmp
  const readFile = (p: string) => Effect.try(() => fs.readFileSync(p, "utf8"))
  for (
    const [name, args, passphrase] of [
      ["ed25519, encrypted", ["-t", "ed25519"], "correct horse"],
      ["ecdsa p384", ["-t", "ecdsa", "-b", "384"], ""],
      ["rsa 3072, encrypted", ["-t", "rsa", "-b", "3072"], "battery staple"]
    ] as const
  ) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const file = path.join(dir, name.replace(/\W+/g, "_"))
        execFileSync(OpenSsh.SSH_KEYGEN, [...args, "-q", "-N", passphrase, "-C", "test", "-f", file])
        const pub = fs.readFileSync(`${file}.pub`, "utf8").trim()
        const r = yield* login({ sshd: { authorizedKeys: [pub] } }, {
          username: me,
          auth: [Auth.privateKeyFile(file, passphrase === "" ? {} : { passphrase: Redacted.make(passphrase) })],
          readFile
        })
        succeeds(r)
      }))
  }

  it.scopedLive("a wrong passphrase: KeyUnusable, passphrase not in the error", () =>
    Effect.gen(function*() {
      const file = path.join(dir, "wrong_pass")
      execFileSync(OpenSsh.SSH_KEYGEN, ["-t", "ed25519", "-q", "-N", "right-one", "-f", file])
      const r = yield* login({ sshd: { authorizedKeys: [fs.readFileSync(`${file}.pub`, "utf8").trim()] } }, {
        username: me,
        auth: [Auth.privateKeyFile(file, { passphrase: "wrong-one" })],
        readFile
      })
      const e = authErrorOf(r)
      assert.strictEqual(e.reason, "KeyUnusable")
      assert.match(e.tried[1]!, /^publickey file .*wrong_pass unusable: Passphrase/)
      assert.notInclude(e.message, "wrong-one")
    }))
})

describe.skipIf(!withUser)("ClientAuth ↔ OpenSSH sshd: password, keyboard-interactive, partial success, banner", () => {
  it.scopedLive("password", () =>
    Effect.gen(function*() {
      const r = yield* login({ sshd: {}, first: PASSWORD }, {
        username: testUser,
        auth: [Auth.privateKey(keys.ed25519), Auth.password(Redacted.make(testPassword))]
      })
      succeeds(r)
      if (Either.isRight(r.result)) assert.deepStrictEqual(r.result.right.methods, ["password"])
    }))

  it.scopedLive("a wrong password: AuthError, the password nowhere in it", () =>
    Effect.gen(function*() {
      const r = yield* login({ sshd: {}, first: PASSWORD }, {
        username: testUser,
        auth: [Auth.password("wrong-password-123")]
      })
      const e = authErrorOf(r)
      assert.strictEqual(e.reason, "NoMoreMethods")
      assert.deepStrictEqual(e.tried, ["none rejected", "password rejected"])
      assert.include(e.allowed, "password")
      assert.strictEqual(e.username, testUser)
      assert.notInclude(JSON.stringify(e.toJSON()) + e.message + r.logs.join(""), "wrong-password-123")
    }))

  it.scopedLive("keyboard-interactive through PAM", () =>
    Effect.gen(function*() {
      const seen: Array<Auth.Challenge> = []
      const r = yield* login({ sshd: {}, first: PAM }, {
        username: testUser,
        auth: [
          Auth.keyboardInteractive((c) =>
            Effect.sync(() => {
              seen.push(c)
              return c.prompts.map((p) => p.echo ? "" : Redacted.make(testPassword))
            })
          )
        ]
      })
      succeeds(r)
      if (Either.isRight(r.result)) assert.deepStrictEqual(r.result.right.methods, ["keyboard-interactive"])
      assert.isTrue(seen.some((c) => c.prompts.some((p) => /password/i.test(p.prompt) && !p.echo)), JSON.stringify(seen))
    }))

  it.scopedLive("keyboard-interactive with a wrong answer fails with AuthError", () =>
    Effect.gen(function*() {
      const r = yield* login({ sshd: {}, first: PAM }, {
        username: testUser,
        auth: [Auth.keyboardInteractive((c) => Effect.succeed(c.prompts.map(() => "nope")))]
      })
      const e = authErrorOf(r)
      assert.match(e.tried[1]!, /^keyboard-interactive \(\d+ rounds?\) rejected$/)
      assert.include(e.allowed, "keyboard-interactive")
    }))

  it.scopedLive("partial success: AuthenticationMethods publickey,password", () =>
    Effect.gen(function*() {
      const sshd = {
        authorizedKeys: [authorizedKeyLine(keys.ed25519)],
        extra: ["AuthenticationMethods publickey,password"]
      }
      // The password comes first in our list, but the server allows it only after publickey.
      const r = yield* login({ sshd, first: PASSWORD }, {
        username: testUser,
        auth: [Auth.password(testPassword), Auth.privateKey(keys.p256), Auth.privateKey(keys.ed25519)]
      })
      succeeds(r)
      if (Either.isRight(r.result)) {
        assert.deepStrictEqual(r.result.right, { username: testUser, methods: ["publickey", "password"] })
      }
    }))

  it.scopedLive("partial success, then the second factor fails: AuthError with partialSuccess", () =>
    Effect.gen(function*() {
      const sshd = {
        authorizedKeys: [authorizedKeyLine(keys.ed25519)],
        extra: ["AuthenticationMethods publickey,password"]
      }
      const r = yield* login({ sshd, first: PASSWORD }, {
        username: testUser,
        auth: [Auth.privateKey(keys.ed25519), Auth.password("bad")]
      })
      const e = authErrorOf(r)
      assert.isTrue(e.partialSuccess)
      assert.deepStrictEqual(e.tried, [
        "none rejected",
        `publickey ssh-ed25519 ${fp(keys.ed25519)} (ssh-ed25519) signature accepted (partial success)`,
        "password rejected"
      ])
      assert.deepStrictEqual(e.allowed, ["password"])
    }))

  it.scopedLive("banner: delivered to onBanner with control characters escaped (SEC-12, SEC-40)", () =>
    Effect.gen(function*() {
      const banner = path.join(tmp, "banner")
      fs.writeFileSync(banner, "Authorised use only.\n\x1b]0;pwn\x07 %s%n\n")
      const banners: Array<string> = []
      const r = yield* login({ sshd: { extra: [`Banner ${banner}`] }, first: PASSWORD }, {
        username: testUser,
        auth: [Auth.password(testPassword)],
        onBanner: (text) => Effect.sync(() => banners.push(text))
      })
      succeeds(r)
      assert.strictEqual(banners.length, 1)
      assert.strictEqual(banners[0], "Authorised use only.\n\\x1b]0;pwn\\x07 %s%n\n")
    }))
})
