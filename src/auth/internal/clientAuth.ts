/**
 * The client user-authentication driver (RFC 4252, RFC 4256) behind `ClientAuth`: the message exchange around
 * the pure planner of `clientAuthPlan.ts`. Concurrency: the driver is the only reader of the transport's pull side
 * until it returns, and after SERVICE_ACCEPT it takes exactly one message at a time, so whatever the server sends
 * after USERAUTH_SUCCESS stays queued for the connection layer.
 *
 * SEC-39: USERAUTH_SUCCESS, FAILURE and message 60 are accepted only while a request is outstanding, and 60 only
 * in the meaning of the method in progress; anything else is DISCONNECT 2. The second EXT_INFO that RFC 8308 §2.4
 * allows just before USERAUTH_SUCCESS is the transport's concern (SEC-21): OpenSSH sends it only to clients that
 * offer `ext-info-in-auth@openssh.com`, which ours does not.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { CryptoBackend } from "../../crypto/Backend.js"
import { Crypto } from "../../crypto/Crypto.js"
import * as HostKey from "../../crypto/HostKey.js"
import { parsePrivateKey } from "../../keys/PrivateKey.js"
import { AuthError, DisconnectReason, sanitizePeerText, TransportError } from "../../SshError.js"
import type { Transport } from "../../transport/Transport.js"
import * as AuthMessages from "../../wire/AuthMessages.js"
import { MessageId } from "../../wire/MessageId.js"
import * as TransportMessages from "../../wire/TransportMessages.js"
import type { Authenticated } from "../Authenticated.js"
import * as Auth from "../AuthMethod.js"
import type { ClientAuthOptions } from "../ClientAuth.js"
import { agentKeys, type Offer, type Outcome } from "./clientAuthAgent.js"
import {
  type AuthPlan,
  displayText,
  initialPlan,
  nextMethod,
  pickAlgorithm,
  skipCurrent
} from "./clientAuthPlan.js"
import { bytesEqual } from "../../wire/Bytes.js"
import * as Receive from "../../transport/internal/receive.js"

const SERVICE = "ssh-connection"
const DEFAULT_TIMEOUT = Duration.minutes(2)
/** RFC 4252 §8: new passwords offered before the change is given up. */
const MAX_PASSWORD_CHANGES = 3

/** A handler failed or misbehaved: authentication is cancelled (DISCONNECT 13). */
class Cancel extends Data.TaggedError("Cancel")<{ readonly description: string; readonly cause?: unknown }> {}

/** What the server answered, with message 60 decoded in the meaning of the method in progress (RFC 4250 §4.1.2). */
type Reply =
  | AuthMessages.UserauthFailure
  | AuthMessages.UserauthSuccess
  | AuthMessages.UserauthPkOk
  | AuthMessages.UserauthPasswdChangeReq
  | AuthMessages.UserauthInfoRequest

/** Which meaning message 60 has now; `undefined`: none (no method in progress that uses it). */
type Expect60 = "pkok" | "changereq" | "info" | undefined

interface Ctx {
  readonly transport: Transport
  readonly options: ClientAuthOptions
  readonly backend: CryptoBackend
  readonly tried: Array<string>
  plan: AuthPlan
}

const violation = (ctx: Ctx, description: string): Effect.Effect<never, TransportError> =>
  Effect.zipRight(
    ctx.transport.disconnect(DisconnectReason.ProtocolError, description),
    Effect.fail(
      new TransportError({
        reason: "ProtocolViolation",
        origin: "Local",
        code: DisconnectReason.ProtocolError,
        description
      })
    )
  )

const send = (ctx: Ctx, method: AuthMessages.AuthMethod): Effect.Effect<void, TransportError> =>
  ctx.transport.send(
    AuthMessages.encode({ _tag: "UserauthRequest", user: ctx.options.username, service: SERVICE, method })
  )

const decode60 = (payload: Uint8Array, expect: Expect60) =>
  expect === "pkok"
    ? AuthMessages.decodePkOk(payload)
    : expect === "changereq"
    ? AuthMessages.decodePasswdChangeReq(payload)
    : AuthMessages.decodeInfoRequest(payload)

/** RFC 4252 §5.4 / SEC-40: banners reach the caller escaped, never raw. */
const deliverBanner = (ctx: Ctx, message: string): Effect.Effect<void> => {
  const text = displayText(message)
  return ctx.options.onBanner ? ctx.options.onBanner(text) : Effect.logInfo(`server banner:\n${text}`)
}

/** The answer to the outstanding request; banners on the way go to `onBanner` (RFC 4252 §5.4). */
const reply = (ctx: Ctx, expect: Expect60): Effect.Effect<Reply, TransportError> =>
  Effect.gen(function*() {
    for (;;) {
      const payload = yield* Receive.receive(ctx.transport)
      const type = payload[0]
      if (type === MessageId.USERAUTH_PK_OK) {
        if (expect === undefined) return yield* violation(ctx, "message 60 while no method that uses it is in progress")
        const decoded = decode60(payload, expect)
        if (decoded._tag === "Left") return yield* violation(ctx, `malformed message 60: ${decoded.left.description}`)
        return decoded.right
      }
      if (
        type === MessageId.USERAUTH_FAILURE || type === MessageId.USERAUTH_SUCCESS || type === MessageId.USERAUTH_BANNER
      ) {
        const decoded = AuthMessages.decode(payload)
        if (decoded._tag === "Left") return yield* violation(ctx, `malformed message ${type}: ${decoded.left.description}`)
        const msg = decoded.right
        if (msg._tag === "UserauthBanner") {
          yield* deliverBanner(ctx, msg.message)
          continue
        }
        if (msg._tag === "UserauthFailure" || msg._tag === "UserauthSuccess") return msg
      }
      // SEC-39: nothing else may arrive while a request is outstanding.
      return yield* violation(ctx, `unexpected message ${type} during user authentication`)
    }
  })

const failed = (f: AuthMessages.UserauthFailure, what: string): Outcome => ({
  _tag: "Failure",
  failure: f,
  note: `${what} ${f.partialSuccess ? "accepted (partial success)" : "rejected"}`
})

const skipped = (note: string, unusable = false): Outcome => ({ _tag: "Skipped", unusable, note })

/** RFC 4252 §7: a query without signature, PK_OK, then the signed request. */
const publickey = (ctx: Ctx, key: Auth.PrivateKey, label: string): Effect.Effect<Outcome, TransportError> =>
  offer(ctx, {
    ...key,
    sign: (algorithm, data) =>
      Effect.option(Effect.try(() => HostKey.sign(ctx.backend, algorithm, Redacted.value(key.key), data)))
  }, label)

/** RFC 4252 §7 with any signer: a key in memory or an agent's (clientAuthAgent.ts). */
const offer = (ctx: Ctx, key: Offer, label: string): Effect.Effect<Outcome, TransportError> =>
  Effect.gen(function*() {
    const algorithm = pickAlgorithm(key, yield* ctx.transport.serverSigAlgs)
    if (algorithm === undefined) {
      return skipped(`${label} unusable: the server's server-sig-algs offer no rsa-sha2-512/256` +
        (key.allowSshRsa ? " nor ssh-rsa" : " (ssh-rsa is not allowed)"), true)
    }
    const what = `${label} (${algorithm})`
    yield* Effect.logDebug(`trying ${what}`)
    // PROTOCOL.certkeys: with a certificate, the request carries the certificate blob; the key signs.
    const publicKey = key.certificate ?? key.publicKey
    // The query costs no private-key operation for a key the server would refuse anyway.
    yield* send(ctx, { _tag: "publickey", hasSignature: false, algorithm, publicKey })
    const answer = yield* reply(ctx, "pkok")
    if (answer._tag === "UserauthFailure") return failed(answer, what)
    if (answer._tag === "UserauthSuccess") {
      return { _tag: "Success", trivial: true, note: `${what} accepted without a signature` }
    }
    // SEC-40 (golang ebb717d): PK_OK must name exactly the algorithm and key just queried.
    if (answer._tag !== "UserauthPkOk" || answer.algorithm !== algorithm || !bytesEqual(answer.publicKey, publicKey)) {
      return yield* violation(ctx, "USERAUTH_PK_OK for another algorithm or key than the one queried")
    }
    const data = AuthMessages.publickeySignedData(ctx.transport.sessionId, ctx.options.username, SERVICE, algorithm, publicKey)
    const signature = yield* key.sign(algorithm, data)
    // The exception could describe the key: only the fact of the failure is kept (STYLE.md §7.5).
    if (Option.isNone(signature)) return skipped(`${what} unusable: signing failed`, true)
    yield* send(ctx, { _tag: "publickey", hasSignature: true, algorithm, publicKey, signature: signature.value })
    const result = yield* reply(ctx, undefined)
    if (result._tag === "UserauthFailure") return failed(result, `${what} signature`)
    if (result._tag === "UserauthSuccess") return { _tag: "Success", trivial: false, note: `${what} accepted` }
    return yield* violation(ctx, "unexpected answer to a signed publickey request")
  })

const errorText = (e: unknown): string =>
  sanitizePeerText(typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e), 200)

const keyFile = (ctx: Ctx, m: Auth.PrivateKeyFile): Effect.Effect<Outcome, TransportError> =>
  Effect.gen(function*() {
    const label = `publickey file ${m.path}`
    if (ctx.options.readFile === undefined) return skipped(`${label} unusable: no readFile option to read it`, true)
    const text = yield* Effect.either(ctx.options.readFile(m.path))
    if (text._tag === "Left") return skipped(`${label} unusable: cannot read it (${errorText(text.left)})`, true)
    const parsed = parsePrivateKey(text.right, m.passphrase, { backend: ctx.backend })
    if (parsed._tag === "Left") return skipped(`${label} unusable: ${parsed.left.message}`, true)
    const key = Auth.privateKey(parsed.right, { allowSshRsa: m.allowSshRsa })
    // As ssh: a certificate in <path>-cert.pub for this key is offered first, then the plain key.
    const certText = yield* Effect.option(ctx.options.readFile(`${m.path}-cert.pub`))
    const certified = Option.isSome(certText)
      ? Auth.certificate(parsed.right, certText.value, { allowSshRsa: m.allowSshRsa })
      : undefined
    if (certified !== undefined && certified._tag === "Right") {
      const outcome = yield* publickey(ctx, certified.right, `${label} ${Auth.describe(certified.right)}`)
      const again = outcome._tag === "Failure" && !outcome.failure.partialSuccess &&
        outcome.failure.methods.includes("publickey")
      if (!again) return outcome
      ctx.tried.push(outcome.note)
    }
    return yield* publickey(ctx, key, `${label} ${key.keyType} ${key.fingerprint}`)
  })

/** RFC 4252 §8, with PASSWD_CHANGEREQ answered by the credential's handler if it has one. */
const password = (ctx: Ctx, m: Auth.Password): Effect.Effect<Outcome, TransportError | Cancel> =>
  Effect.gen(function*() {
    // Asked now, when the server accepts passwords and this credential's turn came (Auth.passwordPrompt).
    const secret = Redacted.isRedacted(m.password) ? m.password : yield* m.password.pipe(
      Effect.map((s) => (typeof s === "string" ? Redacted.make(s) : s)),
      Effect.mapError((cause) => new Cancel({ description: "the password prompt failed", cause }))
    )
    yield* send(ctx, { _tag: "password", changing: false, password: Redacted.value(secret) })
    for (let changes = 0;; changes++) {
      const answer = yield* reply(ctx, "changereq")
      if (answer._tag === "UserauthFailure") return failed(answer, changes === 0 ? "password" : "password change")
      if (answer._tag === "UserauthSuccess") return { _tag: "Success", trivial: false, note: "password accepted" }
      if (answer._tag !== "UserauthPasswdChangeReq") return yield* violation(ctx, "unexpected answer to a password request")
      if (m.onPasswordChange === undefined) {
        return skipped("password expired: the server asks for a new one and the credential has no onPasswordChange")
      }
      if (changes >= MAX_PASSWORD_CHANGES) return skipped(`password change: ${changes} new passwords refused`)
      const next = yield* m.onPasswordChange({ prompt: displayText(answer.prompt) }).pipe(
        Effect.mapError((cause) => new Cancel({ description: "the password change handler failed", cause }))
      )
      // RFC 4252 §8: TRUE, the old password, the new one. A refused new one leaves the old one in force.
      yield* send(ctx, {
        _tag: "password",
        changing: true,
        password: Redacted.value(secret),
        newPassword: typeof next === "string" ? next : Redacted.value(next)
      })
    }
  })

/** RFC 4256 §3: INFO_REQUEST → handler → INFO_RESPONSE, as many rounds as the server asks. */
const keyboardInteractive = (ctx: Ctx, m: Auth.KeyboardInteractive): Effect.Effect<Outcome, TransportError | Cancel> =>
  Effect.gen(function*() {
    // RFC 4256 §3.1: the language tag is deprecated and left empty.
    yield* send(ctx, { _tag: "keyboard-interactive", language: "", submethods: m.submethods })
    let prompted = false
    for (let rounds = 0;; rounds++) {
      const answer = yield* reply(ctx, "info")
      const what = `keyboard-interactive (${rounds} round${rounds === 1 ? "" : "s"})`
      if (answer._tag === "UserauthFailure") return failed(answer, what)
      if (answer._tag === "UserauthSuccess") return { _tag: "Success", trivial: !prompted, note: `${what} accepted` }
      if (answer._tag !== "UserauthInfoRequest") return yield* violation(ctx, "unexpected answer to keyboard-interactive")
      prompted ||= answer.prompts.length > 0
      const answers = yield* m.handler({
        name: displayText(answer.name),
        instruction: displayText(answer.instruction),
        prompts: answer.prompts.map((p) => ({ prompt: displayText(p.prompt), echo: p.echo }))
      }).pipe(Effect.mapError((cause) => new Cancel({ description: "the keyboard-interactive handler failed", cause })))
      // RFC 4256 §3.4: exactly one response per prompt.
      if (answers.length !== answer.prompts.length) {
        return yield* new Cancel({
          description: `the keyboard-interactive handler gave ${answers.length} answers to ${answer.prompts.length} prompts`
        })
      }
      yield* ctx.transport.send(AuthMessages.encode({
        _tag: "UserauthInfoResponse",
        responses: answers.map((a) => typeof a === "string" ? a : Redacted.value(a))
      }))
    }
  })

const attempt = (ctx: Ctx, m: Auth.AuthMethod): Effect.Effect<Outcome, TransportError | Cancel> => {
  switch (m._tag) {
    case "None":
      return Effect.succeed(skipped("none"))
    case "Password":
      return password(ctx, m)
    case "PrivateKey":
      return publickey(ctx, m, Auth.describe(m))
    case "PrivateKeyFile":
      return keyFile(ctx, m)
    case "Agent":
      return agentKeys(m, (key, label) => offer(ctx, key, label), (o) => ctx.tried.push(o.note), {
        hostKey: ctx.transport.hostKey,
        sessionId: ctx.transport.sessionId,
        signature: ctx.transport.hostKeySignature
      })
    case "KeyboardInteractive":
      return keyboardInteractive(ctx, m)
  }
}

const authError = (ctx: Ctx, reason: AuthError["reason"], description?: string, cause?: unknown): AuthError =>
  new AuthError({
    reason,
    username: ctx.options.username,
    tried: [...ctx.tried],
    allowed: [...ctx.plan.allowed],
    partialSuccess: ctx.plan.partialSuccess,
    ...(description === undefined ? {} : { description }),
    ...(cause === undefined ? {} : { cause })
  })

const succeed = (ctx: Ctx, method: Auth.MethodName, trivial: boolean): Effect.Effect<Authenticated, TransportError> => {
  // SEC-39 (asyncssh CVE-2023-46446): access without any proof may be a rogue session; refuse it if asked to.
  if (trivial && ctx.plan.factors.length === 0 && ctx.options.rejectTrivialAuth === true) {
    const description = `the server granted access after a trivial ${method} request (rejectTrivialAuth)`
    return Effect.zipRight(
      ctx.transport.disconnect(DisconnectReason.NoMoreAuthMethodsAvailable, description),
      Effect.fail(new TransportError({ reason: "ProtocolViolation", origin: "Local", code: 14, description }))
    )
  }
  const methods = [...ctx.plan.factors, method]
  return Effect.succeed(
    trivial && ctx.plan.factors.length === 0
      ? { username: ctx.options.username, methods, trivial: true }
      : { username: ctx.options.username, methods }
  )
}

const run = (ctx: Ctx): Effect.Effect<Authenticated, AuthError | TransportError | Cancel> =>
  Effect.gen(function*() {
    // RFC 4253 §10: the user authentication protocol is a service the client requests.
    yield* ctx.transport.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" }))
    // Everything already queued behind SERVICE_ACCEPT was sent before any request of ours could be answered.
    const [first, ...early] = yield* Receive.receiveAll(ctx.transport)
    const accept = TransportMessages.decode(first!)
    if (accept._tag === "Left" || accept.right._tag !== "ServiceAccept" || accept.right.name !== "ssh-userauth") {
      return yield* violation(ctx, "expected SERVICE_ACCEPT for ssh-userauth")
    }
    for (const payload of early) {
      // RFC 4252 §5.4: a banner may come any time after the service starts; SEC-39: nothing else unasked.
      const banner = payload[0] === MessageId.USERAUTH_BANNER ? AuthMessages.decode(payload) : undefined
      if (banner?._tag !== "Right" || banner.right._tag !== "UserauthBanner") {
        return yield* violation(ctx, `message ${payload[0]} before any authentication request`)
      }
      yield* deliverBanner(ctx, banner.right.message)
    }
    // RFC 4252 §5.2: "none" learns the methods that can continue.
    yield* send(ctx, { _tag: "none" })
    const opening = yield* reply(ctx, undefined)
    if (opening._tag === "UserauthSuccess") {
      return yield* succeed(ctx, "none", !ctx.options.auth.some((m) => m._tag === "None"))
    }
    if (opening._tag !== "UserauthFailure") return yield* violation(ctx, "unexpected answer to the none request")
    ctx.tried.push(`none ${opening.partialSuccess ? "accepted (partial success)" : "rejected"}`)
    let step = nextMethod(ctx.plan, opening)
    let attempted = 0
    let anySent = false
    while (step._tag === "Try") {
      attempted++
      ctx.plan = step.plan
      const method = ctx.plan.methods[step.index]!
      const outcome = yield* attempt(ctx, method)
      ctx.tried.push(outcome.note)
      if (outcome._tag === "Success") return yield* succeed(ctx, Auth.methodName(method), outcome.trivial)
      anySent ||= outcome._tag === "Failure" || !outcome.unusable
      step = outcome._tag === "Failure" ? nextMethod(ctx.plan, outcome.failure) : skipCurrent(ctx.plan)
    }
    ctx.plan = step.plan
    ctx.plan.methods.forEach((m, i) => {
      if (!ctx.plan.used[i]) ctx.tried.push(`${Auth.describe(m)} not tried (not allowed by the server)`)
    })
    // Nothing but unusable keys: say so rather than blame the server.
    const error = authError(ctx, attempted > 0 && !anySent ? "KeyUnusable" : "NoMoreMethods")
    yield* ctx.transport.disconnect(DisconnectReason.NoMoreAuthMethodsAvailable, "no more authentication methods to try")
    return yield* error
  })

/** @internal */
export const authenticate = (
  transport: Transport,
  options: ClientAuthOptions
): Effect.Effect<Authenticated, AuthError | TransportError> =>
  Effect.gen(function*() {
    const ctx: Ctx = {
      transport,
      options,
      backend: options.crypto ?? (yield* Crypto),
      tried: [],
      plan: initialPlan(options.auth)
    }
    const user = AuthMessages.validateUsername(options.username)
    if (user._tag === "Left") {
      yield* transport.disconnect(DisconnectReason.ByApplication, "invalid user name")
      return yield* authError(ctx, "Cancelled", `invalid user name: ${user.left.description}`)
    }
    const timeout = Duration.decode(options.timeout ?? DEFAULT_TIMEOUT)
    const result = yield* run(ctx).pipe(
      Effect.catchTag("Cancel", (c) =>
        Effect.zipRight(
          transport.disconnect(DisconnectReason.AuthCancelledByUser, "authentication cancelled"),
          Effect.fail(authError(ctx, "Cancelled", c.description, c.cause))
        )),
      Effect.timeoutOption(timeout)
    )
    if (Option.isSome(result)) return result.value
    // LIM-17: the login took too long; the interrupted driver left nothing behind but the connection.
    const description = `authentication did not finish within ${Duration.format(timeout)}`
    yield* transport.disconnect(DisconnectReason.ByApplication, description)
    return yield* new TransportError({
      reason: "Timeout",
      origin: "Local",
      code: DisconnectReason.ByApplication,
      description,
      timeout: "Login"
    })
  }).pipe(Effect.annotateLogs({ module: "ClientAuth" }))
