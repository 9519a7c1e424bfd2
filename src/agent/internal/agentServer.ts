/**
 * The body of `AgentServer`: the key store (constraints enforced, SEC-61), the request handler, and the
 * per-connection loop that answers requests strictly in order.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import type { CryptoBackend, PrivateKeyMaterial } from "../../crypto/Backend.js"
import * as HostKey from "../../crypto/HostKey.js"
import * as Reader from "../../wire/Reader.js"
import * as AgentProtocol from "../AgentProtocol.js"
import type { AgentConnection, ConfirmRequest } from "../AgentServer.js"
import { type AgentIdentity, identity } from "../SshAgent.js"

/** The agent refused a request; `description` says why (never with key material). @internal */
export class Refused extends Data.TaggedError("Refused")<{ readonly description: string }> {}

interface Entry {
  readonly key: Redacted.Redacted<PrivateKeyMaterial>
  /** What clients see and name the key by: the plain public-key blob, or the certificate. */
  readonly blob: Uint8Array
  readonly comment: string
  readonly expiresAt: number | undefined
  readonly confirm: boolean
}

interface StoreOptions {
  readonly confirm: ((request: ConfirmRequest) => Effect.Effect<boolean, unknown>) | undefined
  readonly defaultLifetimeMillis: number | undefined
  readonly maxKeys: number
}

/** LIM-30 (OpenSSH `AGENT_MAX_SESSION_IDS`): session bindings per connection. */
const MAX_BINDINGS = 16
/** More requests queued by one connection than this closes it (a client waits for each answer). */
const MAX_PIPELINED = 32

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/** Constant-time over the longer length: a lock passphrase is a secret (SEC-27). */
const sameSecret = (a: Uint8Array, b: Uint8Array): boolean => {
  let diff = a.length ^ b.length
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}

const refuse = (description: string) => Effect.fail(new Refused({ description }))

/** @internal */
export class KeyStore {
  private entries: Array<Entry> = []
  private lockedWith: Uint8Array | undefined

  constructor(readonly backend: CryptoBackend, readonly options: StoreOptions) {}

  get locked(): boolean {
    return this.lockedWith !== undefined
  }

  /** SEC-61: a key whose lifetime has ended is gone before any request looks at the store. */
  private reap(now: number): void {
    this.entries = this.entries.filter((e) => e.expiresAt === undefined || e.expiresAt > now)
  }

  list(now: number): ReadonlyArray<AgentIdentity> {
    this.reap(now)
    return this.locked ? [] : this.entries.map((e) => identity(e.blob, e.comment))
  }

  add(now: number, k: AgentProtocol.KeyToAdd, constraints: ReadonlyArray<AgentProtocol.Constraint>): Effect.Effect<void, Refused> {
    this.reap(now)
    if (this.locked) return refuse("the agent is locked")
    let lifetime = this.options.defaultLifetimeMillis
    let confirm = false
    for (const c of constraints) {
      switch (c._tag) {
        case "Lifetime":
          lifetime = c.seconds * 1000
          break
        case "Confirm":
          // SEC-61: a confirm constraint nobody can answer would be dropped silently; refuse the key instead.
          if (this.options.confirm === undefined) return refuse("confirm constraint without a confirmation handler")
          confirm = true
          break
        case "MaxSign":
          return refuse("signature budgets (XMSS) are not supported")
        case "Extension":
          return refuse(`constraint extension ${c.name} cannot be enforced`)
      }
    }
    const material = Redacted.value(k.key)
    const plain = HostKey.encodePublicKey(HostKey.publicKeyOf(material))
    if (k.certificate !== undefined) {
      const certified = HostKey.decodeCertifiedKey(k.certificate)
      if (Either.isLeft(certified)) return refuse("malformed certificate")
      if (!equal(HostKey.encodePublicKey(certified.right.material), plain)) return refuse("the certificate certifies another key")
    }
    const blob = k.certificate ?? plain
    // As ssh-agent: adding a key again replaces it, with the new constraints.
    const others = this.entries.filter((e) => !equal(e.blob, blob))
    if (others.length >= this.options.maxKeys) return refuse(`the agent holds ${others.length} keys already`)
    this.entries = [...others, {
      key: k.key,
      blob,
      comment: k.comment,
      expiresAt: lifetime === undefined ? undefined : now + lifetime,
      confirm
    }]
    return Effect.void
  }

  remove(now: number, blob: Uint8Array): boolean {
    this.reap(now)
    const before = this.entries.length
    this.entries = this.entries.filter((e) => !equal(e.blob, blob))
    return this.entries.length < before
  }

  removeAll(): void {
    this.entries = []
  }

  lock(passphrase: Uint8Array): boolean {
    if (this.locked) return false
    this.lockedWith = passphrase
    return true
  }

  unlock(passphrase: Uint8Array): boolean {
    if (this.lockedWith === undefined || !sameSecret(this.lockedWith, passphrase)) return false
    this.lockedWith = undefined
    return true
  }

  sign(now: number, blob: Uint8Array, data: Uint8Array, flags: number): Effect.Effect<Uint8Array, Refused> {
    this.reap(now)
    const entry = this.entries.find((e) => equal(e.blob, blob))
    if (entry === undefined) return refuse("no such key")
    const material = Redacted.value(entry.key)
    // RFC 9987 §4.5.1: the flags pick the RSA hash; other keys have one algorithm.
    const algorithm = material.type !== "rsa"
      ? HostKey.keyTypeOf(material)
      : flags & AgentProtocol.SignFlags.RSA_SHA2_512
      ? "rsa-sha2-512"
      : flags & AgentProtocol.SignFlags.RSA_SHA2_256
      ? "rsa-sha2-256"
      : "ssh-rsa"
    const confirmed = entry.confirm && this.options.confirm !== undefined
      ? this.options.confirm({ identity: identity(entry.blob, entry.comment) }).pipe(
        Effect.orElseSucceed(() => false),
        Effect.catchAllDefect(() => Effect.succeed(false))
      )
      : Effect.succeed(!entry.confirm)
    return Effect.flatMap(confirmed, (ok) =>
      ok
        ? Effect.try({
          try: () => HostKey.sign(this.backend, algorithm, material, data),
          catch: () => new Refused({ description: "signing failed" })
        })
        : refuse("the signature was not confirmed"))
  }
}

const response = (ok: boolean): AgentProtocol.Response => ok ? { _tag: "Success" } : { _tag: "Failure" }
const FAILURE: AgentProtocol.Response = { _tag: "Failure" }
const utf8 = new TextEncoder()

const sessionBind = (store: KeyStore, data: Uint8Array, connection: AgentConnection): AgentProtocol.Response => {
  const bind = AgentProtocol.decodeSessionBind(data)
  if (Either.isLeft(bind)) return FAILURE
  const { forwarding, hostKey, sessionId, signature } = bind.right
  const algorithm = Either.getOrUndefined(Reader.run(signature, (r) => r.ascii()))
  // PROTOCOL.agent §1: the host key must have signed the session id.
  if (algorithm === undefined || !HostKey.verify(store.backend, algorithm, hostKey, sessionId, signature)) return FAILURE
  if (connection.bindings.length >= MAX_BINDINGS) return FAILURE
  // ssh-agent.c: a connection bound for authentication cannot be bound again, nor a session id twice.
  if (connection.bindings.some((b) => !b.forwarding || equal(b.sessionId, sessionId))) return FAILURE
  connection.bindings.push({ hostKey, sessionId, forwarding })
  return { _tag: "Success" }
}

/** @internal */
export const handle = (store: KeyStore, payload: Uint8Array, connection: AgentConnection): Effect.Effect<AgentProtocol.Response> =>
  Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<AgentProtocol.Response> => {
    const decoded = AgentProtocol.decodeRequest(payload)
    // SEC-60: a malformed request (a short ed25519 key, a truncated constraint) is answered with FAILURE.
    if (Either.isLeft(decoded)) return Effect.succeed(FAILURE)
    const request = decoded.right
    if (store.locked && request._tag !== "Unlock" && request._tag !== "RequestIdentities") return Effect.succeed(FAILURE)
    switch (request._tag) {
      case "RequestIdentities":
        return Effect.succeed({ _tag: "IdentitiesAnswer", identities: store.list(now) })
      case "SignRequest":
        return store.sign(now, request.publicKey, request.data, request.flags).pipe(
          Effect.match({ onFailure: () => FAILURE, onSuccess: (signature) => ({ _tag: "SignResponse", signature }) })
        )
      case "AddIdentity":
        return Effect.as(store.add(now, request.identity, request.constraints), response(true)).pipe(
          Effect.orElseSucceed(() => FAILURE)
        )
      case "RemoveIdentity":
        return Effect.succeed(response(store.remove(now, request.publicKey)))
      case "RemoveAllIdentities":
        store.removeAll()
        return Effect.succeed(response(true))
      case "AddSmartcardKey":
      case "RemoveSmartcardKey":
        // SEC-61 (CVE-2023-38408): no PKCS#11 provider is ever loaded, forwarded or not.
        return Effect.succeed(FAILURE)
      case "Lock":
        return Effect.succeed(response(store.lock(utf8.encode(Redacted.value(request.passphrase)))))
      case "Unlock":
        return Effect.succeed(response(store.unlock(utf8.encode(Redacted.value(request.passphrase)))))
      case "Extension":
        return Effect.succeed(
          request.name === "session-bind@openssh.com" ? sessionBind(store, request.data, connection) : FAILURE
        )
    }
  })

const END = Symbol("end")

/**
 * Serves one connection: frames are cut as they arrive (a bad length ends the connection, SEC-60) and queued;
 * one fiber answers them in order, so a slow confirmation never reorders replies.
 *
 * @internal
 */
export const serve = (
  socket: Socket.Socket,
  handler: (payload: Uint8Array, connection: AgentConnection) => Effect.Effect<AgentProtocol.Response>,
  forwarded = false
): Effect.Effect<void> =>
  Effect.scoped(Effect.gen(function*() {
    const write = yield* socket.writer
    // Bounded like the pipeline check below: at most MAX_PIPELINED frames and the END marker.
    const queue = yield* Queue.bounded<Uint8Array | typeof END>(MAX_PIPELINED + 1)
    const frames = new AgentProtocol.FrameReader()
    const connection: AgentConnection = { bindings: [], forwarded }
    let queued = 0
    let ended = false
    const end = () => {
      if (!ended) queue.unsafeOffer(END)
      ended = true
    }
    yield* socket.run((chunk) => {
      if (ended) return
      const got = frames.push(chunk)
      if (Either.isLeft(got) || queued + got.right.length > MAX_PIPELINED) return end()
      for (const payload of got.right) {
        queued++
        queue.unsafeOffer(payload)
      }
    }).pipe(Effect.ignore, Effect.ensuring(Effect.sync(end)), Effect.forkScoped)
    for (;;) {
      const next = yield* Queue.take(queue)
      if (next === END) break
      queued--
      const answer = yield* handler(next, connection)
      const sent = yield* Effect.either(write(AgentProtocol.encodeResponse(answer)))
      if (Either.isLeft(sent)) break
    }
    yield* Effect.ignore(write(new Socket.CloseEvent()))
  }))
