/**
 * Server authentication over an in-memory loopback: our ClientAuth (or a raw scripted client on our client-role
 * transport) against ServerAuth — every method accepted and refused, deny by default, chains, MaxAuthTries, PK_OK,
 * forged signatures, dying handlers, the pre-auth gates (SEC-29, SEC-30, SEC-31, SEC-35) and LoginGraceTime
 * against a late success (SEC-37).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Redacted, TestClock } from "effect"
import * as Auth from "../../../src/auth/AuthMethod.js"
import * as ClientAuth from "../../../src/auth/ClientAuth.js"
import { isComplete, nextMethods } from "../../../src/auth/internal/serverAuth.js"
import * as ServerAuth from "../../../src/auth/ServerAuth.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import { AuthError, TransportError } from "../../../src/SshError.js"
import type * as Transport from "../../../src/transport/Transport.js"
import * as AuthMessages from "../../../src/wire/AuthMessages.js"
import * as TransportMessages from "../../../src/wire/TransportMessages.js"
import * as Loopback from "../../helpers/Loopback.js"
import * as Receive from "../../../src/transport/internal/receive.js"

const backend = NodeCrypto
const key = NodeCrypto.generateKey({ type: "ed25519" })
const other = NodeCrypto.generateKey({ type: "ed25519" })
const blobOf = (k: typeof key) => HostKey.encodePublicKey(HostKey.publicKeyOf(k))
const fast: ServerAuth.ServerAuthOptions = { timeouts: { minFailureDelay: 0 } }

const pair = Loopback.pair({ backend })

/** Our client and our server, concurrently; both outcomes. */
const both = (
  handlers: ServerAuth.ServerAuthHandlers,
  auth: ReadonlyArray<Auth.AuthMethod>,
  options: ServerAuth.ServerAuthOptions = fast
) =>
  Effect.gen(function*() {
    const { client, server } = yield* pair
    const [c, s] = yield* Effect.all([
      Effect.either(ClientAuth.authenticate(client, { username: "alice", auth, crypto: backend })),
      Effect.either(ServerAuth.authenticate(server, handlers, { ...fast, ...options }))
    ], { concurrency: 2 })
    return { c, s }
  })

/** A raw client: the server runs in a fiber while the script talks through the client transport. */
const raw = <A, E>(
  handlers: ServerAuth.ServerAuthHandlers,
  script: (t: Transport.Transport) => Effect.Effect<A, E>,
  options: ServerAuth.ServerAuthOptions = fast
) =>
  Effect.gen(function*() {
    const { client, server } = yield* pair
    const fiber = yield* Effect.fork(Effect.either(ServerAuth.authenticate(server, handlers, { ...fast, ...options })))
    const out = yield* Effect.either(script(client))
    return { out, server: yield* Fiber.join(fiber) }
  })

const service = (t: Transport.Transport) =>
  Effect.zipRight(t.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" })), Receive.receive(t))

const req = (t: Transport.Transport, method: AuthMessages.AuthMethod, user = "alice") =>
  t.send(AuthMessages.encode({ _tag: "UserauthRequest", user, service: "ssh-connection", method }))

const disconnectCode = (e: Either.Either<unknown, unknown>): number | undefined =>
  Either.isLeft(e) && e.left instanceof TransportError ? e.left.code : undefined

describe("ServerAuth chains (pure)", () => {
  it("lists the next step of every chain that matches, in a fixed order", () => {
    const chains: Array<Array<ServerAuth.MethodName>> = [["publickey", "password"], ["keyboard-interactive"]]
    assert.deepStrictEqual(nextMethods(chains, []), ["publickey", "keyboard-interactive"])
    assert.deepStrictEqual(nextMethods(chains, ["publickey"]), ["password"])
    assert.isFalse(isComplete(chains, ["publickey"]))
    assert.isTrue(isComplete(chains, ["publickey", "password"]))
  })
})

describe("ServerAuth against ClientAuth", () => {
  it.scoped("password: accepted, the handler sees the redacted password", () =>
    Effect.gen(function*() {
      const { c, s } = yield* both(
        { password: ({ password, username }) => Effect.succeed(username === "alice" && Redacted.value(password) === "pw") },
        [Auth.password("pw")]
      )
      assert(Either.isRight(c) && Either.isRight(s))
      assert.deepStrictEqual(s.right.methods, ["password"])
      assert.strictEqual(s.right.username, "alice")
    }))

  it.scoped("password: a wrong one is refused", () =>
    Effect.gen(function*() {
      const { c, s } = yield* both({ password: () => Effect.succeed(false) }, [Auth.password("nope")])
      assert(Either.isLeft(c) && c.left instanceof AuthError)
      assert.deepStrictEqual(c.left.allowed, ["password"])
      assert(Either.isLeft(s))
    }))

  it.scoped("deny by default: no handler, nothing accepted (none and password refused)", () =>
    Effect.gen(function*() {
      const { c, s } = yield* both({}, [Auth.none, Auth.password("pw"), Auth.privateKey(key)])
      assert(Either.isLeft(c) && c.left instanceof AuthError)
      assert.deepStrictEqual(c.left.allowed, [])
      assert(Either.isLeft(s))
    }))

  it.scoped("none: accepted only by a handler that says so", () =>
    Effect.gen(function*() {
      const { c, s } = yield* both({ none: () => Effect.succeed(true) }, [Auth.none])
      assert(Either.isRight(c) && Either.isRight(s))
      assert.deepStrictEqual(s.right.methods, ["none"])
    }))

  it.scoped("publickey: query then verified signature; the handler sees the key that signed", () =>
    Effect.gen(function*() {
      const seen: Array<boolean> = []
      const { c, s } = yield* both({
        publicKey: ({ key: k, verified }) => {
          seen.push(verified)
          return Effect.succeed(k.fingerprint === HostKey.fingerprintSha256(blobOf(key)))
        }
      }, [Auth.privateKey(key)])
      assert(Either.isRight(c) && Either.isRight(s))
      assert.deepStrictEqual(seen, [false, true])
      assert.strictEqual(s.right.factors[0]!.publicKey!.fingerprint, HostKey.fingerprintSha256(blobOf(key)))
      assert.strictEqual(s.right.factors[0]!.publicKey!.keyType, "ssh-ed25519")
    }))

  it.scoped("publickey: an unknown key is refused", () =>
    Effect.gen(function*() {
      const { c } = yield* both({
        publicKey: ({ key: k }) => Effect.succeed(k.fingerprint === HostKey.fingerprintSha256(blobOf(key)))
      }, [Auth.privateKey(other)])
      assert(Either.isLeft(c))
    }))

  it.scoped("keyboard-interactive: handler-driven rounds", () =>
    Effect.gen(function*() {
      const session = ServerAuth.prompt([{ prompt: "Password: ", echo: false }], ([a]) =>
        Effect.succeed(
          Redacted.value(a!) === "pw"
            ? ServerAuth.prompt([{ prompt: "Code: ", echo: true }], ([b]) =>
              Effect.succeed(Redacted.value(b!) === "42" ? ServerAuth.accept : ServerAuth.reject))
            : ServerAuth.reject
        ))
      const answers = new Map([["Password: ", "pw"], ["Code: ", "42"]])
      const { c, s } = yield* both(
        { keyboardInteractive: () => Effect.succeed(session) },
        [Auth.keyboardInteractive((ch) => Effect.succeed(ch.prompts.map((p) => answers.get(p.prompt) ?? "")))]
      )
      assert(Either.isRight(c) && Either.isRight(s))
      assert.deepStrictEqual(s.right.methods, ["keyboard-interactive"])
    }))

  it.scoped("keyboard-interactive: wrong answers refused", () =>
    Effect.gen(function*() {
      const { c } = yield* both(
        {
          keyboardInteractive: () =>
            Effect.succeed(ServerAuth.prompt([{ prompt: "P: ", echo: false }], () => Effect.succeed(ServerAuth.reject)))
        },
        [Auth.keyboardInteractive((ch) => Effect.succeed(ch.prompts.map(() => "x")))]
      )
      assert(Either.isLeft(c))
    }))

  it.scoped("chain publickey then password: partial success, both factors recorded (SEC-31)", () =>
    Effect.gen(function*() {
      const { c, s } = yield* both(
        { publicKey: () => Effect.succeed(true), password: ({ password }) => Effect.succeed(Redacted.value(password) === "pw") },
        [Auth.password("pw"), Auth.privateKey(key)],
        { required: [["publickey", "password"]] }
      )
      assert(Either.isRight(c) && Either.isRight(s))
      assert.deepStrictEqual(s.right.methods, ["publickey", "password"])
      assert.deepStrictEqual(c.right.methods, ["publickey", "password"])
    }))

  it.scoped("chain: one factor alone is not enough", () =>
    Effect.gen(function*() {
      const { c } = yield* both(
        { publicKey: () => Effect.succeed(true), password: () => Effect.succeed(false) },
        [Auth.privateKey(key), Auth.password("pw")],
        { required: [["publickey", "password"]] }
      )
      assert(Either.isLeft(c) && c.left instanceof AuthError)
      assert.isTrue(c.left.partialSuccess)
    }))

  it.scoped("a handler that dies, throws or fails = refused (SEC-10)", () =>
    Effect.gen(function*() {
      for (
        const password of [
          () => Effect.die("boom"),
          () => Effect.fail("no"),
          (): Effect.Effect<boolean> => {
            throw new Error("sync")
          }
        ]
      ) {
        const { c } = yield* both({ password }, [Auth.password("pw")])
        assert(Either.isLeft(c) && c.left instanceof AuthError)
      }
    }))
})

describe("ServerAuth against a raw client", () => {
  it.scoped("PK_OK echoes the queried algorithm and blob", () =>
    Effect.gen(function*() {
      const blob = blobOf(key)
      const { out } = yield* raw({ publicKey: () => Effect.succeed(true) }, (t) =>
        Effect.gen(function*() {
          yield* service(t)
          yield* req(t, { _tag: "publickey", hasSignature: false, algorithm: "ssh-ed25519", publicKey: blob })
          const reply = yield* Receive.receive(t)
          yield* t.disconnect(11, "done")
          return reply
        }))
      assert(Either.isRight(out))
      const pkOk = AuthMessages.decodePkOk(out.right)
      assert(Either.isRight(pkOk))
      assert.strictEqual(pkOk.right.algorithm, "ssh-ed25519")
      assert.deepStrictEqual(pkOk.right.publicKey, blob)
    }))

  it.scoped("a signature over the wrong data is refused; the handler never sees it verified (SEC-32)", () =>
    Effect.gen(function*() {
      const verified: Array<boolean> = []
      const blob = blobOf(key)
      const { out } = yield* raw({ publicKey: (r) => Effect.sync(() => verified.push(r.verified)).pipe(Effect.as(true)) }, (t) =>
        Effect.gen(function*() {
          yield* service(t)
          const wrong = AuthMessages.publickeySignedData(new Uint8Array(32), "alice", "ssh-connection", "ssh-ed25519", blob)
          const signature = HostKey.sign(backend, "ssh-ed25519", key, wrong)
          yield* req(t, { _tag: "publickey", hasSignature: true, algorithm: "ssh-ed25519", publicKey: blob, signature })
          const reply = yield* Receive.receive(t)
          yield* t.disconnect(11, "done")
          return reply
        }))
      assert(Either.isRight(out))
      assert.strictEqual(out.right[0], 51)
      assert.deepStrictEqual(verified, [])
    }))

  it.scoped("SEC-31: query key A (PK_OK), sign with key B → FAILURE when only A is authorised", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const a = blobOf(key)
      const b = blobOf(other)
      const { out } = yield* raw({
        publicKey: (r) =>
          Effect.sync(() => seen.push(`${r.verified}:${r.key.fingerprint}`)).pipe(
            Effect.as(r.key.fingerprint === HostKey.fingerprintSha256(a))
          )
      }, (t) =>
        Effect.gen(function*() {
          yield* service(t)
          yield* req(t, { _tag: "publickey", hasSignature: false, algorithm: "ssh-ed25519", publicKey: a })
          const pkOk = yield* Receive.receive(t)
          const data = AuthMessages.publickeySignedData(t.sessionId, "alice", "ssh-connection", "ssh-ed25519", b)
          const signature = HostKey.sign(backend, "ssh-ed25519", other, data)
          yield* req(t, { _tag: "publickey", hasSignature: true, algorithm: "ssh-ed25519", publicKey: b, signature })
          const reply = yield* Receive.receive(t)
          yield* t.disconnect(11, "done")
          return [pkOk[0], reply[0]]
        }))
      assert(Either.isRight(out))
      assert.deepStrictEqual(out.right, [60, 51])
      assert.deepStrictEqual(seen, [`false:${HostKey.fingerprintSha256(a)}`, `true:${HostKey.fingerprintSha256(b)}`])
    }))

  it.scoped("SEC-32: an algorithm that does not fit the key is refused", () =>
    Effect.gen(function*() {
      let asked = false
      const blob = blobOf(key)
      const { out } = yield* raw({ publicKey: () => Effect.sync(() => (asked = true)) }, (t) =>
        Effect.gen(function*() {
          yield* service(t)
          yield* req(t, { _tag: "publickey", hasSignature: false, algorithm: "rsa-sha2-256", publicKey: blob })
          const reply = yield* Receive.receive(t)
          yield* t.disconnect(11, "done")
          return reply[0]
        }))
      assert.deepStrictEqual(out, Either.right(51))
      assert.isFalse(asked)
    }))

  it.scoped("MaxAuthTries: the 6th failure is DISCONNECT 14 (LIM-16); none does not count", () =>
    Effect.gen(function*() {
      let failures = 0
      const { out, server } = yield* raw({ password: () => Effect.succeed(false) }, (t) =>
        Effect.gen(function*() {
          yield* service(t)
          yield* req(t, { _tag: "none" })
          yield* Receive.receive(t)
          for (;;) {
            yield* req(t, { _tag: "password", changing: false, password: "x" })
            const m = yield* Receive.receive(t)
            if (m[0] === 51) failures++
          }
        }))
      assert.strictEqual(failures, 5)
      assert.strictEqual(disconnectCode(out), 14)
      assert(Either.isLeft(server) && server.left instanceof AuthError)
    }))

  it.scoped("200 queries are cut at 128 requests (SEC-33)", () =>
    Effect.gen(function*() {
      let answered = 0
      const blob = blobOf(key)
      const { out } = yield* raw({ publicKey: () => Effect.succeed(true) }, (t) =>
        Effect.gen(function*() {
          yield* service(t)
          for (let i = 0; i < 200; i++) {
            yield* req(t, { _tag: "publickey", hasSignature: false, algorithm: "ssh-ed25519", publicKey: blob })
            yield* Receive.receive(t)
            answered++
          }
        }))
      assert.strictEqual(answered, 128)
      assert.strictEqual(disconnectCode(out), 14)
    }))

  for (const [name, payload] of [["CHANNEL_OPEN", 90], ["GLOBAL_REQUEST", 80]] as const) {
    it.scoped(`SEC-29: ${name} before auth → DISCONNECT 2, no handler called`, () =>
      Effect.gen(function*() {
        let called = false
        const handlers = { none: () => Effect.sync(() => (called = true)), password: () => Effect.sync(() => (called = true)) }
        for (const afterService of [false, true]) {
          const { server } = yield* raw(handlers, (t) =>
            Effect.gen(function*() {
              if (afterService) yield* service(t)
              yield* t.send(new Uint8Array([payload, 0, 0, 0, 7, 115, 101, 115, 115, 105, 111, 110, 0, 0, 0, 0]))
              return yield* Receive.receive(t)
            }))
          assert.strictEqual(disconnectCode(server), 2)
        }
        assert.isFalse(called)
      }))
  }

  it.scoped("SEC-30: USERAUTH_SUCCESS or PK_OK from the client → DISCONNECT 2", () =>
    Effect.gen(function*() {
      for (const bytes of [new Uint8Array([52]), new Uint8Array([60, 0, 0, 0, 0, 0, 0, 0, 0])]) {
        const { out, server } = yield* raw({ none: () => Effect.succeed(true) }, (t) =>
          Effect.gen(function*() {
            yield* service(t)
            yield* t.send(bytes)
            return yield* Receive.receive(t)
          }))
        assert.strictEqual(disconnectCode(server), 2)
        assert.strictEqual(disconnectCode(out), 2)
      }
    }))

  it.scoped("SEC-35: a user name with NUL → DISCONNECT 15", () =>
    Effect.gen(function*() {
      const { server } = yield* raw({ none: () => Effect.succeed(true) }, (t) =>
        Effect.gen(function*() {
          yield* service(t)
          yield* req(t, { _tag: "none" }, "\u0000root")
          return yield* Receive.receive(t)
        }))
      assert.strictEqual(disconnectCode(server), 15)
    }))

  it.scoped("SEC-31: a change of user name → DISCONNECT 2", () =>
    Effect.gen(function*() {
      const { server } = yield* raw({ password: () => Effect.succeed(true) }, (t) =>
        Effect.gen(function*() {
          yield* service(t)
          yield* req(t, { _tag: "none" }, "alice")
          yield* Receive.receive(t)
          yield* req(t, { _tag: "password", changing: false, password: "x" }, "root")
          return yield* Receive.receive(t)
        }))
      assert.strictEqual(disconnectCode(server), 2)
    }))

  it.scoped("another service → DISCONNECT 7", () =>
    Effect.gen(function*() {
      const { server } = yield* raw({}, (t) =>
        Effect.zipRight(t.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-connection" })), Receive.receive(t)))
      assert.strictEqual(disconnectCode(server), 7)
    }))

  it.live("SEC-37: a success decided after LoginGraceTime is discarded", () =>
    Effect.gen(function*() {
      const { out, server } = yield* raw(
        { password: () => Effect.as(Effect.sleep("300 millis"), true) },
        (t) =>
          Effect.gen(function*() {
            yield* service(t)
            yield* req(t, { _tag: "password", changing: false, password: "x" })
            return yield* Receive.receive(t)
          }),
        { timeouts: { loginGrace: "100 millis", minFailureDelay: 0 } }
      )
      assert(Either.isLeft(server) && server.left instanceof TransportError)
      assert.strictEqual(server.left.reason, "Timeout")
      assert(Either.isLeft(out))
    }).pipe(Effect.scoped))

  it.scoped("SEC-34: a valid and an invalid user get byte-identical replies and methods lists", () =>
    Effect.gen(function*() {
      const handlers: ServerAuth.ServerAuthHandlers = {
        password: ({ username, password }) => Effect.succeed(username === "alice" && Redacted.value(password) === "right"),
        publicKey: ({ username, key: k }) => Effect.succeed(username === "alice" && k.fingerprint === HostKey.fingerprintSha256(blobOf(key)))
      }
      const replies = (user: string) =>
        Effect.gen(function*() {
          const { out } = yield* raw(handlers, (t) =>
            Effect.gen(function*() {
              yield* service(t)
              const got: Array<string> = []
              yield* req(t, { _tag: "none" }, user)
              got.push(Buffer.from(yield* Receive.receive(t)).toString("hex"))
              yield* req(t, { _tag: "password", changing: false, password: "wrong" }, user)
              got.push(Buffer.from(yield* Receive.receive(t)).toString("hex"))
              // An unknown key of a real user and any key of an unknown user: the same answer.
              yield* req(t, { _tag: "publickey", hasSignature: false, algorithm: "ssh-ed25519", publicKey: blobOf(other) }, user)
              got.push(Buffer.from(yield* Receive.receive(t)).toString("hex"))
              yield* t.disconnect(11, "done")
              return got
            }))
          assert(Either.isRight(out))
          return out.right
        })
      assert.deepStrictEqual(yield* replies("alice"), yield* replies("mallory"))
    }))

  it.scoped("SEC-34: the CVE-2018-15473 probe (a truncated publickey request) gets the same reaction for any user", () =>
    Effect.gen(function*() {
      const probe = (user: string) =>
        Effect.gen(function*() {
          const { out, server } = yield* raw({ publicKey: ({ username }) => Effect.succeed(username === "alice") }, (t) =>
            Effect.gen(function*() {
              yield* service(t)
              // A publickey request whose blob length says 100 while 10 bytes follow.
              const head = AuthMessages.encode({
                _tag: "UserauthRequest", user, service: "ssh-connection",
                method: { _tag: "publickey", hasSignature: false, algorithm: "ssh-ed25519", publicKey: new Uint8Array(10) }
              })
              const forged = new Uint8Array(head)
              const dv = new DataView(forged.buffer)
              dv.setUint32(forged.length - 14, 100)
              yield* t.send(forged)
              return Buffer.from(yield* Receive.receive(t)).toString("hex")
            }))
          return { out: Either.isRight(out) ? out.right : `closed ${disconnectCode(out)}`, server: Either.isLeft(server) ? server.left._tag : "ok" }
        })
      assert.deepStrictEqual(yield* probe("alice"), yield* probe("mallory"))
    }))

  it.effect("SEC-37: decisions racing LoginGraceTime (TestClock, ±20 ms around the deadline): never a late SUCCESS", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 41; i++) {
        const decideAt = 980 + ((i * 17) % 41) // every ms of 980 … 1020 once, the deadline at 1000 ms
        const run = Effect.gen(function*() {
          const { out, server } = yield* raw(
            { password: () => Effect.as(Effect.sleep(`${decideAt} millis`), true) },
            (t) =>
              Effect.gen(function*() {
                yield* service(t)
                yield* req(t, { _tag: "password", changing: false, password: "x" })
                return (yield* Receive.receive(t))[0]
              }),
            { timeouts: { loginGrace: "1000 millis", minFailureDelay: 0 } }
          )
          return { out, server }
        }).pipe(Effect.scoped)
        const fiber = yield* Effect.fork(run)
        yield* TestClock.adjust("975 millis")
        for (let ms = 975; ms < 1025; ms++) yield* TestClock.adjust("1 millis")
        yield* TestClock.adjust("100 millis")
        const { out, server } = yield* Fiber.join(fiber)
        const succeeded = Either.isRight(out) && out.right === 52
        const timedOut = Either.isLeft(server) && server.left instanceof TransportError && server.left.reason === "Timeout"
        // Exactly one of the two, never both: a SUCCESS is never sent once the timer has claimed the connection.
        assert.notStrictEqual(succeeded, timedOut, `decided at ${decideAt} ms`)
        assert.strictEqual(succeeded, Either.isRight(server), `decided at ${decideAt} ms`)
        // Clear of the deadline the winner is fixed; at exactly 1000 ms either may win, atomically.
        if (decideAt < 1000) assert.isTrue(succeeded, `decided at ${decideAt} ms`)
        if (decideAt > 1000) assert.isTrue(timedOut, `decided at ${decideAt} ms`)
      }
    }))
})
