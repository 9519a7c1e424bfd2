/**
 * Client authentication without a network: the pure credential planner (`nextMethod`), the RSA algorithm
 * choice, and the driver against a scripted server behind a fake `Transport` — the SEC-39/SEC-40 state-machine
 * cases, keyboard-interactive rounds, password change, banners, cancellation, the login timeout, and errors that
 * never hold a secret.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option, Queue, Redacted } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as Auth from "../../../src/auth/AuthMethod.js"
import * as ClientAuth from "../../../src/auth/ClientAuth.js"
import { displayText, pickAlgorithm } from "../../../src/auth/internal/clientAuthPlan.js"
import * as HostKey from "../../../src/crypto/HostKey.js"
import { NodeCrypto } from "../../../src/node/NodeCrypto.js"
import { AuthError, TransportError } from "../../../src/SshError.js"
import type * as Transport from "../../../src/transport/Transport.js"
import * as AuthMessages from "../../../src/wire/AuthMessages.js"
import * as TransportMessages from "../../../src/wire/TransportMessages.js"
import * as Receive from "../../../src/transport/internal/receive.js"

// ---- the planner ----

const pw = Auth.password("x")
const key = Auth.privateKey(NodeCrypto.generateKey({ type: "ed25519" }))
const kbd = Auth.keyboardInteractive(() => Effect.succeed([]))

const tries = (methods: ReadonlyArray<Auth.AuthMethod>, failures: ReadonlyArray<ClientAuth.FailureInfo>) => {
  let plan = ClientAuth.initialPlan(methods)
  const picked: Array<number> = []
  for (const f of failures) {
    const step = ClientAuth.nextMethod(plan, f)
    plan = step.plan
    if (step._tag === "Exhausted") break
    picked.push(step.index)
  }
  return { picked, plan }
}

describe("ClientAuth.nextMethod", () => {
  it("picks the first credential, in the caller's order, whose method the server allows", () => {
    const { picked } = tries([pw, key, kbd], [{ methods: ["publickey", "keyboard-interactive"], partialSuccess: false }])
    assert.deepStrictEqual(picked, [1])
  })

  it("tries each credential once, then is exhausted", () => {
    const f = { methods: ["password", "publickey"], partialSuccess: false }
    const { picked, plan } = tries([pw, key, kbd], [f, f, f, f])
    assert.deepStrictEqual(picked, [0, 1])
    assert.isUndefined(plan.current)
    assert.deepStrictEqual(plan.allowed, ["password", "publickey"])
  })

  it("after a partial success, records the factor and revisits credentials the old list did not allow", () => {
    const { picked, plan } = tries([pw, key], [
      { methods: ["publickey"], partialSuccess: false },
      { methods: ["password"], partialSuccess: true },
      { methods: ["password"], partialSuccess: false }
    ])
    assert.deepStrictEqual(picked, [1, 0])
    assert.deepStrictEqual(plan.factors, ["publickey"])
    assert.isTrue(plan.partialSuccess)
  })

  it("publickey,publickey: a second key after a partial success", () => {
    const key2 = Auth.privateKey(NodeCrypto.generateKey({ type: "ed25519" }))
    const { picked, plan } = tries([key, key2], [
      { methods: ["publickey"], partialSuccess: false },
      { methods: ["publickey"], partialSuccess: true }
    ])
    assert.deepStrictEqual(picked, [0, 1])
    assert.deepStrictEqual(plan.factors, ["publickey"])
  })

  it("listed Auth.none credentials are the opening request: never picked again", () => {
    const { picked } = tries([Auth.none, pw], [{ methods: ["none", "password"], partialSuccess: false }])
    assert.deepStrictEqual(picked, [1])
  })

  it("skipCurrent keeps the server's last list", () => {
    const first = ClientAuth.nextMethod(ClientAuth.initialPlan([key, pw]), { methods: ["publickey", "password"], partialSuccess: false })
    assert.strictEqual(first._tag === "Try" && first.index, 0)
    const next = ClientAuth.skipCurrent(first.plan)
    assert.strictEqual(next._tag === "Try" && next.index, 1)
  })

  const arbMethod = FastCheck.constantFrom<Auth.AuthMethod>(Auth.none, pw, key, kbd)
  const arbFailure = FastCheck.record({
    methods: FastCheck.subarray(["none", "password", "publickey", "keyboard-interactive", "hostbased"]),
    partialSuccess: FastCheck.boolean()
  })
  it.prop("terminates: no credential twice, only allowed ones, at most one pick per credential", [
    FastCheck.array(arbMethod, { maxLength: 8 }),
    FastCheck.array(arbFailure, { maxLength: 20 })
  ], ([methods, failures]) => {
    let plan = ClientAuth.initialPlan(methods)
    const seen = new Set<number>()
    for (const f of failures) {
      const step = ClientAuth.nextMethod(plan, f)
      plan = step.plan
      if (step._tag === "Exhausted") break
      assert.isFalse(seen.has(step.index))
      assert.include(f.methods, Auth.methodName(methods[step.index]!))
      assert.notStrictEqual(methods[step.index]!._tag, "None")
      seen.add(step.index)
    }
    assert.isAtMost(seen.size, methods.length)
  })
})

describe("pickAlgorithm (RFC 8332 §3.3, RFC 8308 §3.1)", () => {
  const rsa = { keyType: "ssh-rsa", allowSshRsa: false }
  it("RSA: rsa-sha2-512, then rsa-sha2-256, from server-sig-algs", () => {
    assert.strictEqual(pickAlgorithm(rsa, Option.some(["ssh-rsa", "rsa-sha2-256", "rsa-sha2-512"])), "rsa-sha2-512")
    assert.strictEqual(pickAlgorithm(rsa, Option.some(["ssh-rsa", "rsa-sha2-256"])), "rsa-sha2-256")
  })
  it("RSA without server-sig-algs: rsa-sha2-256", () => {
    assert.strictEqual(pickAlgorithm(rsa, Option.none()), "rsa-sha2-256")
  })
  it("RSA: ssh-rsa only when allowed and offered", () => {
    assert.isUndefined(pickAlgorithm(rsa, Option.some(["ssh-rsa"])))
    assert.strictEqual(pickAlgorithm({ ...rsa, allowSshRsa: true }, Option.some(["ssh-rsa"])), "ssh-rsa")
    assert.isUndefined(pickAlgorithm({ ...rsa, allowSshRsa: true }, Option.some(["ssh-ed25519"])))
  })
  it("other keys use their own type", () => {
    assert.strictEqual(pickAlgorithm({ keyType: "ssh-ed25519", allowSshRsa: false }, Option.some([])), "ssh-ed25519")
  })
})

describe("displayText (SEC-12)", () => {
  it("keeps line breaks, escapes the rest, caps lines", () => {
    assert.strictEqual(displayText("a\r\nb\x1b[2J\x07\tc\n"), "a\nb\\x1b[2J\\x07\\tc\n")
    assert.isAtMost(displayText("x".repeat(5000)).length, 1025)
  })
})

// ---- the driver against a scripted server ----

const SESSION_ID = new Uint8Array(32).fill(7)
const enc = AuthMessages.encode
const text = (p: AuthMessages.Password) => (typeof p === "string" ? p : new TextDecoder().decode(p))
const failure = (methods: ReadonlyArray<string>, partialSuccess = false) =>
  enc({ _tag: "UserauthFailure", methods, partialSuccess })
const SUCCESS = enc({ _tag: "UserauthSuccess" })
const ACCEPT = TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" })

/** What the client sent, decoded: "service" for SERVICE_REQUEST. */
type Sent = "service" | AuthMessages.DecodedAuthMessage

/** A fake transport whose server answers each client message with `script`. */
const fakeTransport = (
  script: (msg: Sent, sent: ReadonlyArray<Sent>) => ReadonlyArray<Uint8Array>,
  serverSigAlgs: Option.Option<ReadonlyArray<string>> = Option.none()
) =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<Uint8Array>()
    const sent: Array<Sent> = []
    const disconnects: Array<number> = []
    const closed = () =>
      new TransportError({ reason: "Disconnected", origin: "Local", code: disconnects[0]!, description: "closed" })
    const take = Effect.suspend(() => disconnects.length > 0 ? Effect.fail(closed()) : Queue.take(inbox))
    const transport: Transport.Transport & Receive.Receivable = {
      role: "client",
      sessionId: SESSION_ID,
      peerVersion: "SSH-2.0-Fake",
      hostKey: new Uint8Array(),
      hostKeySignature: new Uint8Array(),
      negotiated: Effect.die("unused"),
      serverSigAlgs: Effect.succeed(serverSigAlgs),
      send: (payload) =>
        Effect.suspend(() => {
          if (disconnects.length > 0) return Effect.fail(closed())
          const decoded: Sent = payload[0] === 5 ? "service" : Either.getOrThrow(AuthMessages.decode(payload))
          sent.push(decoded)
          return Queue.offerAll(inbox, script(decoded, sent))
        }),
      sendAll: () => Effect.die("unused"),
      [Receive.ReceiveTypeId]: {
        receive: take,
        receiveAll: Effect.flatMap(take, (first) => Effect.map(Queue.takeAll(inbox), (rest) => [first, ...rest]))
      },
      rekey: Effect.void,
      disconnect: (code) => Effect.sync(() => void disconnects.push(code)),
      closed: Effect.never,
      stats: Effect.die("unused")
    }
    return { transport, sent, disconnects }
  })

const methodOf = (m: Sent) => (m !== "service" && m._tag === "UserauthRequest" ? m.method : undefined)

/** A server that wants `methods` and accepts a request when `accept` says so. */
const server = (
  allowed: ReadonlyArray<string>,
  answer: (method: AuthMessages.AuthMethod) => ReadonlyArray<Uint8Array> | undefined
) =>
(msg: Sent): ReadonlyArray<Uint8Array> => {
  if (msg === "service") return [ACCEPT]
  const method = methodOf(msg)
  if (method === undefined) return []
  return answer(method) ?? [failure(allowed)]
}

const run = (
  options: ClientAuth.ClientAuthOptions,
  script: Parameters<typeof fakeTransport>[0],
  sigAlgs?: Option.Option<ReadonlyArray<string>>
) =>
  Effect.gen(function*() {
    const fake = yield* fakeTransport(script, sigAlgs)
    const result = yield* Effect.either(ClientAuth.authenticate(fake.transport, { crypto: NodeCrypto, ...options }))
    return { ...fake, result }
  })

const transportError = (r: Either.Either<unknown, unknown>): TransportError => {
  assert.isTrue(Either.isLeft(r) && r.left instanceof TransportError, String(Either.isLeft(r) ? r.left : "success"))
  return (r as Either.Left<TransportError, unknown>).left
}
const authError = (r: Either.Either<unknown, unknown>): AuthError => {
  assert.isTrue(Either.isLeft(r) && r.left instanceof AuthError, String(Either.isLeft(r) ? r.left : "success"))
  return (r as Either.Left<AuthError, unknown>).left
}

describe("ClientAuth driver", () => {
  it.effect("password: none, then password; Authenticated names the user and method", () =>
    Effect.gen(function*() {
      const r = yield* run(
        { username: "alice", auth: [Auth.password(Redacted.make("s3cret"))] },
        server(["password"], (m) => (m._tag === "password" && text(m.password) === "s3cret" ? [SUCCESS] : undefined))
      )
      assert.deepStrictEqual(r.result, Either.right({ username: "alice", methods: ["password"] }))
      const methods = r.sent.map(methodOf).map((m) => m?._tag)
      assert.deepStrictEqual(methods, [undefined, "none", "password"])
    }))

  it.effect("passwordPrompt: asked only when the server takes passwords, again after a FAILURE, in one session", () =>
    Effect.gen(function*() {
      const answers = ["wrong", "s3cret", "never"]
      const asked: Array<string> = []
      const ask = Effect.sync(() => {
        const a = answers[asked.length]!
        asked.push(a)
        return Redacted.make(a)
      })
      const prompts = [Auth.passwordPrompt(ask), Auth.passwordPrompt(ask), Auth.passwordPrompt(ask)]
      const r = yield* run(
        { username: "alice", auth: prompts },
        server(["password"], (m) => (m._tag === "password" && text(m.password) === "s3cret" ? [SUCCESS] : undefined))
      )
      assert.deepStrictEqual(r.result, Either.right({ username: "alice", methods: ["password"] }))
      assert.deepStrictEqual(asked, ["wrong", "s3cret"])
      assert.deepStrictEqual(r.sent.map(methodOf).map((m) => m?._tag), [undefined, "none", "password", "password"])
      // A server that does not take passwords is never asked for one.
      const none: Array<string> = []
      const keysOnly = yield* run(
        { username: "alice", auth: [Auth.passwordPrompt(Effect.sync(() => (none.push("x"), "x")))] },
        server(["publickey"], () => undefined)
      )
      assert.isTrue(Either.isLeft(keysOnly.result))
      assert.deepStrictEqual(none, [])
    }))

  it.effect("SEC-39: USERAUTH_SUCCESS right after SERVICE_ACCEPT, before any request → D(2)", () =>
    Effect.gen(function*() {
      const r = yield* run({ username: "u", auth: [pw] }, (m) => (m === "service" ? [ACCEPT, SUCCESS] : []))
      const e = transportError(r.result)
      assert.strictEqual(e.reason, "ProtocolViolation")
      assert.deepStrictEqual(r.disconnects, [2])
      assert.deepStrictEqual(r.sent, ["service"])
    }))

  it.effect("a banner before any request is delivered; SERVICE_ACCEPT must come first", () =>
    Effect.gen(function*() {
      const banners: Array<string> = []
      const banner = enc({ _tag: "UserauthBanner", message: "hi\x1b[31m", language: "" })
      const r = yield* run(
        { username: "u", auth: [pw], onBanner: (t) => Effect.sync(() => banners.push(t)) },
        (m) => (m === "service" ? [ACCEPT, banner] : methodOf(m)?._tag === "none" ? [banner, SUCCESS] : [])
      )
      assert.isTrue(Either.isRight(r.result))
      assert.deepStrictEqual(banners, ["hi\\x1b[31m", "hi\\x1b[31m"])
      const wrong = yield* run({ username: "u", auth: [pw] }, (m) => (m === "service" ? [banner, ACCEPT] : []))
      transportError(wrong.result)
      assert.deepStrictEqual(wrong.disconnects, [2])
    }))

  it.effect("SEC-39: success for the opening none is accepted, unless rejectTrivialAuth → D(14)", () =>
    Effect.gen(function*() {
      const script = server([], (m) => (m._tag === "none" ? [SUCCESS] : undefined))
      const ok = yield* run({ username: "u", auth: [pw] }, script)
      // Granted after "none": marked trivial, so agent forwarding is refused on this connection (SEC-39).
      assert.deepStrictEqual(ok.result, Either.right({ username: "u", methods: ["none"], trivial: true }))
      const refused = yield* run({ username: "u", auth: [pw], rejectTrivialAuth: true }, script)
      assert.strictEqual(transportError(refused.result).code, 14)
      assert.deepStrictEqual(refused.disconnects, [14])
      const listed = yield* run({ username: "u", auth: [Auth.none], rejectTrivialAuth: true }, script)
      assert.isTrue(Either.isRight(listed.result))
    }))

  it.effect("SEC-39: message 60 in answer to none, or a connection message during auth → D(2)", () =>
    Effect.gen(function*() {
      const pkOk = enc({ _tag: "UserauthPkOk", algorithm: "ssh-ed25519", publicKey: key.publicKey })
      for (const unexpected of [pkOk, new Uint8Array([80, 0, 0, 0, 1, 120, 0])]) {
        const r = yield* run({ username: "u", auth: [pw] }, server([], (m) => (m._tag === "none" ? [unexpected] : undefined)))
        assert.strictEqual(transportError(r.result).reason, "ProtocolViolation")
        assert.deepStrictEqual(r.disconnects, [2])
      }
    }))

  it.effect("publickey: query, PK_OK, then a signature the server verifies (RFC 4252 §7)", () =>
    Effect.gen(function*() {
      const rsa = Auth.privateKey(NodeCrypto.generateKey({ type: "rsa", bits: 2048 }))
      const r = yield* run(
        { username: "bob", auth: [rsa] },
        server(["publickey"], (m) => {
          if (m._tag !== "publickey") return undefined
          if (!m.hasSignature) return [enc({ _tag: "UserauthPkOk", algorithm: m.algorithm, publicKey: m.publicKey })]
          const data = AuthMessages.publickeySignedData(SESSION_ID, "bob", "ssh-connection", m.algorithm, m.publicKey)
          return HostKey.verify(NodeCrypto, m.algorithm, m.publicKey, data, m.signature) ? [SUCCESS] : undefined
        }),
        Option.some(["ssh-ed25519", "rsa-sha2-256"])
      )
      assert.deepStrictEqual(r.result, Either.right({ username: "bob", methods: ["publickey"] }))
      const algs = r.sent.map(methodOf).flatMap((m) => (m?._tag === "publickey" ? [m.algorithm] : []))
      assert.deepStrictEqual(algs, ["rsa-sha2-256", "rsa-sha2-256"])
    }))

  it.effect("SEC-40: PK_OK for another key than the one queried → D(2), nothing signed", () =>
    Effect.gen(function*() {
      const other = Auth.privateKey(NodeCrypto.generateKey({ type: "ed25519" }))
      const r = yield* run(
        { username: "u", auth: [key] },
        server(["publickey"], (m) =>
          m._tag === "publickey" ? [enc({ _tag: "UserauthPkOk", algorithm: "ssh-ed25519", publicKey: other.publicKey })] : undefined)
      )
      assert.strictEqual(transportError(r.result).reason, "ProtocolViolation")
      assert.deepStrictEqual(r.disconnects, [2])
      assert.isFalse(r.sent.some((m) => { const x = methodOf(m); return x?._tag === "publickey" && x.hasSignature }))
    }))

  it.effect("keyboard-interactive: rounds with prompts and without, one answer per prompt (RFC 4256 §3)", () =>
    Effect.gen(function*() {
      const info = (prompts: ReadonlyArray<AuthMessages.Prompt>) =>
        AuthMessages.encode({ _tag: "UserauthInfoRequest", name: "n\x1b", instruction: "", language: "", prompts })
      const seen: Array<Auth.Challenge> = []
      const r = yield* run(
        {
          username: "u",
          auth: [Auth.keyboardInteractive((c) => Effect.sync(() => (seen.push(c), c.prompts.map((p) => p.echo ? "me" : Redacted.make("pin")))))]
        },
        (m, sent) => {
          if (m === "service") return [ACCEPT]
          if (m._tag === "UserauthInfoResponse") {
            return sent.filter((x) => x !== "service" && x._tag === "UserauthInfoResponse").length === 1
              ? [info([])]
              : [SUCCESS]
          }
          return methodOf(m)?._tag === "keyboard-interactive"
            ? [info([{ prompt: "User: ", echo: true }, { prompt: "PIN: ", echo: false }])]
            : [failure(["keyboard-interactive"])]
        }
      )
      assert.deepStrictEqual(r.result, Either.right({ username: "u", methods: ["keyboard-interactive"] }))
      assert.strictEqual(seen[0]!.name, "n\\x1b")
      const responses = r.sent.flatMap((m) => (m !== "service" && m._tag === "UserauthInfoResponse" ? [m.responses] : []))
      assert.deepStrictEqual(responses, [["me", "pin"], []])
    }))

  it.effect("keyboard-interactive: a wrong number of answers or a failing handler cancels (D(13))", () =>
    Effect.gen(function*() {
      const script = server(["keyboard-interactive"], (m) =>
        m._tag === "keyboard-interactive"
          ? [enc({ _tag: "UserauthInfoRequest", name: "", instruction: "", language: "", prompts: [{ prompt: "P", echo: false }] })]
          : undefined)
      const wrong = yield* run({ username: "u", auth: [Auth.keyboardInteractive(() => Effect.succeed(["a", "b"]))] }, script)
      assert.strictEqual(authError(wrong.result).reason, "Cancelled")
      assert.deepStrictEqual(wrong.disconnects, [13])
      const boom = new Error("user pressed ^C")
      const failing = yield* run({ username: "u", auth: [Auth.keyboardInteractive(() => Effect.fail(boom))] }, script)
      const cancelled = authError(failing.result)
      assert.strictEqual(cancelled.description, "the keyboard-interactive handler failed")
      assert.strictEqual((cancelled.cause as Error).message, boom.message)
    }))

  it.effect("SEC-39: keyboard-interactive success without a single prompt is trivial under rejectTrivialAuth", () =>
    Effect.gen(function*() {
      const r = yield* run(
        { username: "u", auth: [kbd], rejectTrivialAuth: true },
        server(["keyboard-interactive"], (m) => (m._tag === "keyboard-interactive" ? [SUCCESS] : undefined))
      )
      assert.strictEqual(transportError(r.result).code, 14)
    }))

  it.effect("password change (RFC 4252 §8): with a handler, old and new password; without, the next method", () =>
    Effect.gen(function*() {
      const changeReq = enc({ _tag: "UserauthPasswdChangeReq", prompt: "expired", language: "" })
      const script = server(["password", "keyboard-interactive"], (m) =>
        m._tag !== "password" ? undefined : m.changing ? (text(m.newPassword) === "new" ? [SUCCESS] : undefined) : [changeReq])
      const changed = yield* run({
        username: "u",
        auth: [Auth.password("old", { onPasswordChange: ({ prompt }) => Effect.succeed(prompt === "expired" ? Redacted.make("new") : "?") })]
      }, script)
      assert.isTrue(Either.isRight(changed.result))
      const last = methodOf(changed.sent.at(-1)!)
      assert.isTrue(last?._tag === "password" && last.changing && text(last.password) === "old" &&
        text(last.newPassword) === "new")
      const unchanged = yield* run({ username: "u", auth: [Auth.password("old"), kbd] }, script)
      const e = authError(unchanged.result)
      assert.match(e.tried[1]!, /^password expired/)
      assert.match(e.tried[2]!, /^keyboard-interactive/)
    }))

  it.effect("exhaustion: AuthError lists every attempt and what the server allows, no secret anywhere", () =>
    Effect.gen(function*() {
      const r = yield* run(
        { username: "u", auth: [Auth.password("hunter2"), key, Auth.privateKeyFile("/nonexistent")] },
        server(["password", "publickey"], () => undefined)
      )
      const e = authError(r.result)
      assert.strictEqual(e.reason, "NoMoreMethods")
      assert.deepStrictEqual(e.tried, [
        "none rejected",
        "password rejected",
        `${Auth.describe(key)} (ssh-ed25519) rejected`,
        "publickey file /nonexistent unusable: no readFile option to read it"
      ])
      assert.deepStrictEqual(e.allowed, ["password", "publickey"])
      assert.deepStrictEqual(r.disconnects, [14])
      assert.notInclude(JSON.stringify(e.toJSON()) + e.message + String(Auth.password("hunter2").password), "hunter2")
    }))

  it.effect("an invalid user name fails before anything is sent", () =>
    Effect.gen(function*() {
      const r = yield* run({ username: "a\nb", auth: [pw] }, () => [])
      assert.strictEqual(authError(r.result).reason, "Cancelled")
      assert.deepStrictEqual(r.sent, [])
    }))

  it.live("the login timeout: TransportError Timeout and DISCONNECT", () =>
    Effect.gen(function*() {
      const r = yield* run({ username: "u", auth: [pw], timeout: "50 millis" }, (m) => (m === "service" ? [ACCEPT] : []))
      assert.strictEqual(transportError(r.result).reason, "Timeout")
      assert.deepStrictEqual(r.disconnects, [11])
    }))
})
