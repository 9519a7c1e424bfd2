/**
 * The server user-authentication driver (RFC 4252, RFC 4256) behind `ServerAuth`. Concurrency: the driver fiber
 * is the only reader of the transport's internal pull side (transport/internal/receive.ts) until it returns; it
 * handles one message at a time, so whatever the client sends after USERAUTH_SUCCESS stays queued for the
 * connection layer.
 *
 * SEC-29/SEC-30: before SERVICE_ACCEPT only SERVICE_REQUEST is legal, after it only USERAUTH_REQUEST and (during
 * keyboard-interactive) INFO_RESPONSE; anything else — CHANNEL_OPEN, GLOBAL_REQUEST, a USERAUTH_SUCCESS or PK_OK
 * from the client — is DISCONNECT 2 with no handler called. SEC-37: LoginGraceTime and a success are decided by
 * one compare-and-set on `phase`; whichever loses does nothing.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type { CryptoBackend } from "../../crypto/Backend.js"
import { Crypto } from "../../crypto/Crypto.js"
import * as Algorithms from "../../crypto/Algorithms.js"
import * as HostKey from "../../crypto/HostKey.js"
import { AuthError, DisconnectReason, TransportError } from "../../SshError.js"
import type { Transport } from "../../transport/Transport.js"
import * as AuthMessages from "../../wire/AuthMessages.js"
import { MessageId } from "../../wire/MessageId.js"
import * as TransportMessages from "../../wire/TransportMessages.js"
import type * as ServerAuth from "../ServerAuth.js"
import * as Restrict from "./restrictions.js"
import { checkCertificate } from "./serverAuthCert.js"
import * as Receive from "../../transport/internal/receive.js"

type Factor = ServerAuth.Factor
type KbdIntSession = ServerAuth.KbdIntSession
type MethodName = ServerAuth.MethodName
type ServerAuthenticated = ServerAuth.ServerAuthenticated

const SERVICE = "ssh-connection"
const DEFAULT_GRACE = Duration.minutes(2)
const DEFAULT_FAILURE_DELAY = Duration.millis(5)
const DEFAULT_MAX_TRIES = 6
const DEFAULT_MAX_REQUESTS = 128
const DEFAULT_PK_ALGORITHMS: ReadonlyArray<string> = [
  "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256",
  ...Algorithms.DEFAULT_HOST_KEY_CERT_ALGORITHMS
]
const ORDER: ReadonlyArray<MethodName> = ["publickey", "password", "keyboard-interactive", "none"]
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

type Step = "Success" | "Failure" | "Pending"
type Prompting = Extract<KbdIntSession, { _tag: "Prompt" }>

interface Ctx {
  readonly transport: Transport
  readonly handlers: ServerAuth.ServerAuthHandlers
  readonly backend: CryptoBackend
  chains: ReadonlyArray<ReadonlyArray<MethodName>>
  readonly pkAlgorithms: ReadonlyArray<string>
  readonly options: ServerAuth.ServerAuthOptions
  maxTries: number
  readonly maxRequests: number
  readonly failureDelay: number
  banner: string | undefined
  /** Claims the right to send USERAUTH_SUCCESS; false once LoginGraceTime has fired (SEC-37). */
  readonly claimSuccess: Effect.Effect<boolean>
  readonly factors: Array<Factor>
  readonly remoteAddress: string | undefined
  readonly tried: Array<string>
  identity: { readonly user: string; readonly service: string } | undefined
  failures: number
  requests: number
  bannerSent: boolean
  /** The keyboard-interactive round waiting for INFO_RESPONSE, and when its request arrived. */
  kbd: { readonly step: Prompting; readonly user: string } | undefined
  requestStart: number
}

// ---- pure: required chains (sshd AuthenticationMethods) ----

const prefixOf = (chain: ReadonlyArray<MethodName>, done: ReadonlyArray<MethodName>): boolean =>
  chain.length >= done.length && done.every((m, i) => chain[i] === m)

/** The methods that can continue after `done` (RFC 4252 §5.1), in a fixed order whatever the user (SEC-34). */
export const nextMethods = (
  chains: ReadonlyArray<ReadonlyArray<MethodName>>,
  done: ReadonlyArray<MethodName>
): ReadonlyArray<MethodName> => {
  const next = new Set<MethodName>()
  for (const c of chains) if (c.length > done.length && prefixOf(c, done)) next.add(c[done.length]!)
  return ORDER.filter((m) => next.has(m))
}

/** Whether `done` completes one of the chains. */
export const isComplete = (chains: ReadonlyArray<ReadonlyArray<MethodName>>, done: ReadonlyArray<MethodName>): boolean =>
  chains.some((c) => c.length === done.length && prefixOf(c, done))

const defaultChains = (
  h: ServerAuth.ServerAuthHandlers,
  o: ServerAuth.ServerAuthOptions
): ReadonlyArray<ReadonlyArray<MethodName>> => {
  const chains: Array<Array<MethodName>> = []
  if (h.publicKey || o.trustedUserCaKeys !== undefined) chains.push(["publickey"])
  if (h.password) chains.push(["password"])
  if (h.keyboardInteractive) chains.push(["keyboard-interactive"])
  if (h.none) chains.push(["none"])
  return chains
}

// ---- effects ----

const done = (ctx: Ctx): ReadonlyArray<MethodName> => ctx.factors.map((f) => f.method)

/** RFC 4252 §5.1: "none" is never listed as a method that can continue. */
const listed = (ctx: Ctx): Array<string> => nextMethods(ctx.chains, done(ctx)).filter((m) => m !== "none")

const fatal = (ctx: Ctx, code: number, description: string): Effect.Effect<never, TransportError> =>
  Effect.zipRight(
    ctx.transport.disconnect(code, description),
    Effect.fail(new TransportError({ reason: "ProtocolViolation", origin: "Local", code, description }))
  )

const sendBanner = (ctx: Ctx): Effect.Effect<void, TransportError> => {
  if (ctx.bannerSent || ctx.banner === undefined) return Effect.void
  ctx.bannerSent = true
  return ctx.transport.send(AuthMessages.encode({ _tag: "UserauthBanner", message: ctx.banner, language: "" }))
}

const accepted = (d: ServerAuth.PublicKeyDecision): boolean => d === true || (typeof d === "object" && d._tag === "Accept")

/** A handler's answer; a failure, defect or throw is a refusal (SEC-10, fail closed). */
const ask = <A>(what: string, f: () => Effect.Effect<A, unknown>, refusal: A): Effect.Effect<A> =>
  Effect.suspend(f).pipe(
    Effect.catchAllCause((cause) => Effect.as(Effect.logDebug(`${what} handler failed: refused`, cause), refusal))
  )

/**
 * The secret behind the per-user failure delay: one per process, so a user's delay is the same on every
 * connection and an attacker cannot average it away by reconnecting.
 */
let delaySecret: Uint8Array | undefined

/**
 * SEC-33/SEC-34: 0–4.2 ms added to the minimum failure delay, fixed per user name and unpredictable without the
 * secret (openssh auth2.c user_specific_delay), so valid and invalid names cannot be told apart by timing.
 */
const userDelay = (backend: CryptoBackend, user: string): number => {
  delaySecret ??= backend.randomBytes(32)
  const h = backend.hmac("sha256", delaySecret, [new TextEncoder().encode(user)])
  return (((h[0]! << 8) | h[1]!) % 4200) / 1000
}

/** USERAUTH_FAILURE, no sooner than `failureDelay` after the request (SEC-33/SEC-34); LIM-16 counts it. */
const failure = (ctx: Ctx, note: string, counts: boolean): Effect.Effect<void, TransportError | AuthError> =>
  Effect.gen(function*() {
    ctx.tried.push(note)
    if (counts && ++ctx.failures >= ctx.maxTries) {
      // openssh:auth2.c auth_maxtries_exceeded: the last failure is a disconnect, not a FAILURE.
      const description = "Too many authentication failures"
      yield* ctx.transport.disconnect(DisconnectReason.NoMoreAuthMethodsAvailable, description)
      return yield* new AuthError({
        reason: "NoMoreMethods",
        username: ctx.identity?.user ?? "",
        tried: [...ctx.tried],
        allowed: listed(ctx),
        partialSuccess: ctx.factors.length > 0,
        description
      })
    }
    const elapsed = (yield* Clock.currentTimeMillis) - ctx.requestStart
    const delay = ctx.failureDelay === 0 ? 0 : ctx.failureDelay + userDelay(ctx.backend, ctx.identity?.user ?? "")
    if (elapsed < delay) yield* Effect.sleep(Duration.micros(BigInt(Math.round((delay - elapsed) * 1000))))
    yield* sendBanner(ctx)
    yield* ctx.transport.send(
      AuthMessages.encode({ _tag: "UserauthFailure", methods: listed(ctx), partialSuccess: false })
    )
  })

const publickey = (
  ctx: Ctx,
  user: string,
  m: Extract<AuthMessages.AuthMethod, { _tag: "publickey" }>
): Effect.Effect<Step | Factor, TransportError> =>
  Effect.gen(function*() {
    const handler = ctx.handlers.publicKey
    // SEC-32: the algorithm must be allowed and fit the key inside the blob.
    const keyType = HostKey.keyTypeForAlgorithm(m.algorithm)
    const isCert = HostKey.isCertAlgorithm(m.algorithm)
    const byCa = isCert && ctx.options.trustedUserCaKeys !== undefined
    if ((handler === undefined && !byCa) || keyType === undefined || !ctx.pkAlgorithms.includes(m.algorithm)) {
      return "Failure"
    }
    const decoded = isCert ? HostKey.decodeCertifiedKey(m.publicKey) : HostKey.decodePublicKey(m.publicKey)
    if (decoded._tag === "Left" || decoded.right.keyType !== keyType) return "Failure"
    // SEC-65: a certificate is validated before the signature, and before any handler sees it.
    const certificate = isCert
      ? checkCertificate(ctx.backend, m.publicKey, user, BigInt(Math.floor((yield* Clock.currentTimeMillis) / 1000)), ctx.options)
      : undefined
    if (certificate !== undefined && typeof certificate === "string") {
      yield* Effect.logDebug(`user certificate refused: ${certificate}`)
      return "Failure"
    }
    const key: ServerAuth.PublicKeyInfo = {
      algorithm: m.algorithm,
      blob: m.publicKey,
      keyType,
      fingerprint: HostKey.fingerprintSha256(certificate?.certificate.publicKeyBlob ?? m.publicKey),
      ...(certificate === undefined ? {} : { certificate })
    }
    // TrustedUserCAKeys: a trusted CA and a principal equal to the user authorize without the handler.
    const decide = (verified: boolean): Effect.Effect<ServerAuth.PublicKeyDecision> =>
      certificate?.trusted === true || handler === undefined
        ? Effect.succeed(certificate?.trusted === true)
        : ask(
          "publicKey",
          (): Effect.Effect<ServerAuth.PublicKeyDecision, unknown> =>
            handler({ username: user, key, verified, remoteAddress: ctx.remoteAddress }),
          false
        )
    if (!m.hasSignature) {
      const ok = yield* decide(false)
      if (!accepted(ok)) return "Failure"
      // RFC 4252 §7 / SEC-32: PK_OK echoes exactly the queried algorithm and blob.
      yield* sendBanner(ctx)
      yield* ctx.transport.send(
        AuthMessages.encode({ _tag: "UserauthPkOk", algorithm: m.algorithm, publicKey: m.publicKey })
      )
      return "Pending"
    }
    // SEC-31/SEC-32: verify before the handler is asked, over this session's id and this request's fields.
    const data = AuthMessages.publickeySignedData(ctx.transport.sessionId, user, SERVICE, m.algorithm, m.publicKey)
    const valid = yield* Effect.try(() => HostKey.verify(ctx.backend, m.algorithm, m.publicKey, data, m.signature))
      .pipe(Effect.orElseSucceed(() => false))
    if (!valid) return "Failure"
    // A chain such as publickey,publickey needs two different keys (as sshd).
    if (ctx.factors.some((f) => f.publicKey?.fingerprint === key.fingerprint)) return "Failure"
    const ok = yield* decide(true)
    if (ok === false || !accepted(ok)) return "Failure"
    const restrictions = Restrict.merge([
      ok === true ? undefined : ok.restrictions,
      certificate === undefined ? undefined : Restrict.ofCertificate(certificate)
    ])
    return { method: "publickey", publicKey: key, restrictions }
  })

const password = (
  ctx: Ctx,
  user: string,
  m: Extract<AuthMessages.AuthMethod, { _tag: "password" }>
): Effect.Effect<Step> => {
  const handler = ctx.handlers.password
  // RFC 4252 §8: password change is not offered; LIM-18: the decoder already refused > 1 024 bytes.
  if (handler === undefined || m.changing) return Effect.succeed("Failure")
  let text: string
  try {
    text = utf8.decode(AuthMessages.passwordBytes(m.password))
  } catch {
    return Effect.succeed("Failure")
  }
  const pw = Redacted.make(text)
  return Effect.map(
    ask("password", () => handler({ username: user, password: pw }), false),
    (ok): Step => ok === true ? "Success" : "Failure"
  )
}

/** RFC 4256 §3.2: the handler's step — one INFO_REQUEST, or its verdict. */
const kbdStep = (ctx: Ctx, user: string, step: KbdIntSession): Effect.Effect<Step, TransportError> => {
  if (step._tag === "Accept") return Effect.succeed("Success")
  if (step._tag !== "Prompt" || step.prompts.length > AuthMessages.MAX_PROMPTS) return Effect.succeed("Failure")
  ctx.kbd = { step, user }
  return Effect.as(
    Effect.zipRight(
      sendBanner(ctx),
      ctx.transport.send(AuthMessages.encode({
        _tag: "UserauthInfoRequest",
        name: step.name,
        instruction: step.instruction,
        language: "",
        prompts: step.prompts
      }))
    ),
    "Pending" as const
  )
}

const method = (ctx: Ctx, req: AuthMessages.UserauthRequest): Effect.Effect<Step | Factor, TransportError> => {
  const user = req.user
  switch (req.method._tag) {
    case "none": {
      const h = ctx.handlers.none
      if (h === undefined) return Effect.succeed("Failure")
      return Effect.map(ask("none", () => h({ username: user }), false), (ok): Step => ok === true ? "Success" : "Failure")
    }
    case "password":
      return password(ctx, user, req.method)
    case "publickey":
      return publickey(ctx, user, req.method)
    case "keyboard-interactive": {
      const h = ctx.handlers.keyboardInteractive
      if (h === undefined) return Effect.succeed("Failure")
      const submethods = req.method.submethods
      return Effect.flatMap(
        ask("keyboardInteractive", () => h({ username: user, submethods }), { _tag: "Reject" } as KbdIntSession),
        (step) => kbdStep(ctx, user, step)
      )
    }
    default:
      return Effect.succeed("Failure")
  }
}

const methodOf = (m: AuthMessages.AuthMethod): string => m._tag === "other" ? m.name : m._tag

/** The outcome of one method: a factor, a FAILURE (partial success after a step of a chain), or the SUCCESS. */
const settle = (
  ctx: Ctx,
  name: MethodName,
  outcome: Step | Factor
): Effect.Effect<ServerAuthenticated | undefined, TransportError | AuthError> =>
  Effect.gen(function*() {
    if (outcome === "Pending") return undefined
    if (outcome === "Failure") {
      yield* failure(ctx, `${name} refused`, name !== "none")
      return undefined
    }
    ctx.factors.push(outcome === "Success" ? { method: name } : outcome)
    ctx.tried.push(`${name} accepted`)
    const user = ctx.identity!.user
    if (!isComplete(ctx.chains, done(ctx))) {
      yield* sendBanner(ctx)
      yield* ctx.transport.send(
        AuthMessages.encode({ _tag: "UserauthFailure", methods: listed(ctx), partialSuccess: true })
      )
      return undefined
    }
    // SEC-37: a success after LoginGraceTime fired is discarded; the claim and the send cannot be split.
    if (!(yield* ctx.claimSuccess)) return yield* Effect.never
    yield* sendBanner(ctx)
    yield* ctx.transport.send(AuthMessages.encode({ _tag: "UserauthSuccess" }))
    const restrictions = Restrict.merge(ctx.factors.map((f) => f.restrictions))
    return { username: user, methods: done(ctx), factors: [...ctx.factors], restrictions }
  })

const request = (ctx: Ctx, payload: Uint8Array) =>
  Effect.gen(function*() {
    ctx.kbd = undefined // RFC 4256 §3.1: a new request abandons keyboard-interactive in progress.
    const decoded = AuthMessages.decode(payload)
    if (decoded._tag === "Left") {
      const field = AuthMessages.requestErrorField(decoded.left)
      if (field === "user") return yield* fatal(ctx, DisconnectReason.IllegalUserName, "illegal user name")
      if (field === "password") return yield* settle(ctx, "password", "Failure")
      return yield* fatal(ctx, DisconnectReason.ProtocolError, `malformed USERAUTH_REQUEST: ${decoded.left.description}`)
    }
    const req = decoded.right
    if (req._tag !== "UserauthRequest") return yield* fatal(ctx, DisconnectReason.ProtocolError, "expected USERAUTH_REQUEST")
    // SEC-31 (openssh:auth2.c): the first request fixes user and service.
    if (ctx.identity === undefined) {
      ctx.identity = { user: req.user, service: req.service }
      // sshd (auth2.c) applies Match User/Group once the name is known: banner, methods and tries follow it.
      const own = ctx.options.forUser?.(req.user)
      if (own?.banner !== undefined) ctx.banner = own.banner ?? undefined
      if (own?.required !== undefined) ctx.chains = own.required
      if (own?.maxAuthTries !== undefined) ctx.maxTries = own.maxAuthTries
    } else if (ctx.identity.user !== req.user || ctx.identity.service !== req.service) {
      return yield* fatal(ctx, DisconnectReason.ProtocolError, "Change of username or service not allowed")
    }
    const name = methodOf(req.method)
    // SEC-29: only ssh-connection is served; a method not allowed now is refused without asking a handler.
    const allowed = nextMethods(ctx.chains, done(ctx)) as ReadonlyArray<string>
    if (req.service !== SERVICE || !allowed.includes(name)) {
      return yield* failure(ctx, `${name} not allowed`, name !== "none").pipe(Effect.as(undefined))
    }
    return yield* settle(ctx, name as MethodName, yield* method(ctx, req))
  })

const infoResponse = (ctx: Ctx, payload: Uint8Array, kbd: NonNullable<Ctx["kbd"]>) =>
  Effect.gen(function*() {
    ctx.kbd = undefined
    const decoded = AuthMessages.decode(payload)
    // SEC-35 (openssh:auth2-chall.c): one response per prompt, at most 100, else D(2).
    if (decoded._tag === "Left" || decoded.right._tag !== "UserauthInfoResponse") {
      return yield* fatal(ctx, DisconnectReason.ProtocolError, "malformed USERAUTH_INFO_RESPONSE")
    }
    const responses = decoded.right.responses
    if (responses.length !== kbd.step.prompts.length) {
      return yield* fatal(ctx, DisconnectReason.ProtocolError, "wrong number of keyboard-interactive responses")
    }
    const next = yield* ask(
      "keyboardInteractive",
      () => kbd.step.next(responses.map((r) => Redacted.make(r))),
      { _tag: "Reject" } as KbdIntSession
    )
    return yield* settle(ctx, "keyboard-interactive", yield* kbdStep(ctx, kbd.user, next))
  })

const serve = (ctx: Ctx): Effect.Effect<ServerAuthenticated, TransportError | AuthError> =>
  Effect.gen(function*() {
    // RFC 4253 §10 / SEC-29: the only legal first message is SERVICE_REQUEST for ssh-userauth.
    const first = yield* Receive.receive(ctx.transport)
    if (first[0] !== MessageId.SERVICE_REQUEST) {
      return yield* fatal(ctx, DisconnectReason.ProtocolError, `message ${first[0]} before SERVICE_REQUEST`)
    }
    const service = TransportMessages.decode(first)
    if (service._tag === "Left" || service.right._tag !== "ServiceRequest") {
      return yield* fatal(ctx, DisconnectReason.ProtocolError, "malformed SERVICE_REQUEST")
    }
    if (service.right.name !== "ssh-userauth") {
      return yield* fatal(ctx, DisconnectReason.ServiceNotAvailable, "service not available")
    }
    yield* ctx.transport.send(TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" }))
    for (;;) {
      const payload = yield* Receive.receive(ctx.transport)
      const type = payload[0]
      const kbd = ctx.kbd
      // SEC-29/SEC-30: per-role table — USERAUTH_REQUEST, and INFO_RESPONSE only when a round is waiting.
      if (type !== MessageId.USERAUTH_REQUEST && (type !== MessageId.USERAUTH_INFO_RESPONSE || kbd === undefined)) {
        return yield* fatal(ctx, DisconnectReason.ProtocolError, `unexpected message ${type} during user authentication`)
      }
      // SEC-33: queries, partial successes and kbd-int rounds all count towards the absolute cap.
      if (++ctx.requests > ctx.maxRequests) {
        return yield* fatal(ctx, DisconnectReason.NoMoreAuthMethodsAvailable, "Too many authentication requests")
      }
      ctx.requestStart = yield* Clock.currentTimeMillis
      const result = kbd !== undefined && type === MessageId.USERAUTH_INFO_RESPONSE
        ? yield* infoResponse(ctx, payload, kbd)
        : yield* request(ctx, payload)
      if (result !== undefined) return result
    }
  })

/** @internal */
export const authenticate = (
  transport: Transport,
  handlers: ServerAuth.ServerAuthHandlers,
  options: ServerAuth.ServerAuthOptions
): Effect.Effect<ServerAuthenticated, AuthError | TransportError> =>
  Effect.gen(function*() {
    // SEC-37: "running" → "succeeded" (by the driver) or "closing" (by the grace timer), exactly once.
    type Phase = "running" | "succeeded" | "closing"
    const phase = yield* Ref.make<Phase>("running")
    const claim = (to: Phase): Effect.Effect<boolean> =>
      Ref.modify(phase, (p): [boolean, Phase] => p === "running" ? [true, to] : [false, p])
    const ctx: Ctx = {
      transport,
      handlers,
      backend: options.crypto ?? (yield* Crypto),
      chains: options.required ?? defaultChains(handlers, options),
      pkAlgorithms: options.publicKeyAlgorithms ?? DEFAULT_PK_ALGORITHMS,
      options,
      maxTries: options.limits?.maxAuthTries ?? DEFAULT_MAX_TRIES,
      maxRequests: options.limits?.maxRequests ?? DEFAULT_MAX_REQUESTS,
      failureDelay: Duration.toMillis(Duration.decode(options.timeouts?.minFailureDelay ?? DEFAULT_FAILURE_DELAY)),
      banner: options.banner,
      remoteAddress: options.remoteAddress,
      claimSuccess: claim("succeeded"),
      factors: [],
      tried: [],
      identity: undefined,
      failures: 0,
      requests: 0,
      bannerSent: false,
      kbd: undefined,
      requestStart: 0
    }
    const grace = Duration.decode(options.timeouts?.loginGrace ?? DEFAULT_GRACE)
    // The driver's outcome is carried as a value: a failed fiber is reported by Effect's runtime ("Fiber terminated
    // with an unhandled error", at debug level) even when it is joined, which `effect-ssh serve -v` printed for
    // every client that left during authentication.
    const driver = yield* Effect.fork(Effect.exit(serve(ctx)))
    const timer = Effect.zipRight(Effect.sleep(grace), claim("closing")).pipe(
      // Lost the claim: the driver has already sent SUCCESS, so wait for it.
      Effect.flatMap((won) => won ? Effect.succeed(Option.none()) : Effect.never)
    )
    const result = yield* Effect.raceFirst(Effect.asSome(Effect.flatten(Fiber.join(driver))), timer)
    if (Option.isSome(result)) return result.value
    // LIM-17: no user callback runs from here on; the driver is interrupted wherever it is.
    yield* Fiber.interrupt(driver)
    const description = "Timeout before authentication"
    yield* transport.disconnect(DisconnectReason.ByApplication, description)
    return yield* new TransportError({ reason: "Timeout", origin: "Local", code: DisconnectReason.ByApplication, description, timeout: "Login" })
  }).pipe(Effect.annotateLogs({ module: "ServerAuth" }))
