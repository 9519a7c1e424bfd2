/**
 * An ssh-agent client (RFC 9987, OpenSSH PROTOCOL.agent) over any @effect/platform `Socket`: list the agent's
 * keys and certificates, have it sign (with the rsa-sha2-256/512 flags), add keys with lifetime and confirm
 * constraints, remove them, lock and unlock it, and bind it to a session (`session-bind@openssh.com`).
 *
 * On Node, `NodeAgent.layer` connects to `SSH_AUTH_SOCK`. The service satisfies `Auth.AgentSigner`, so
 * `Auth.agent(agent)` logs in with the agent's keys.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import * as HostKey from "../crypto/HostKey.js"
import type { ParsedPrivateKey } from "../keys/KeyMaterial.js"
import { sanitizePeerText, TypeId } from "../SshError.js"
import * as Reader from "../wire/Reader.js"
import * as AgentProtocol from "./AgentProtocol.js"

/**
 * A key the agent holds: its public-key (or certificate) blob, comment, type and SHA256 fingerprint.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentIdentity {
  readonly publicKey: Uint8Array
  readonly comment: string
  /** `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, `ssh-ed25519-cert-v01@openssh.com` …; `unknown` if unreadable. */
  readonly keyType: string
  readonly fingerprint: string
  /** Whether the blob is an OpenSSH certificate (PROTOCOL.certkeys). */
  readonly isCertificate: boolean
}

/**
 * How `sign` asks for a signature: the algorithm (for RSA keys, `rsa-sha2-256` or `rsa-sha2-512` set the
 * RFC 9987 §4.5.1 flags), or raw flags.
 *
 * @since 0.1.0
 * @category models
 */
export interface SignOptions {
  readonly algorithm?: string | undefined
  readonly flags?: number | undefined
}

/**
 * Options of `add`: the comment, an OpenSSH certificate for the key, and constraints the agent must enforce
 * (`ssh-add -t`, `ssh-add -c`). An agent that cannot enforce a constraint refuses the key (SEC-61).
 *
 * @since 0.1.0
 * @category models
 */
export interface AddOptions {
  readonly comment?: string | undefined
  readonly certificate?: Uint8Array | undefined
  readonly lifetime?: Duration.DurationInput | undefined
  readonly confirm?: boolean | undefined
  /** Further constraints, sent after lifetime and confirm (e.g. extension constraints). */
  readonly constraints?: ReadonlyArray<AgentProtocol.Constraint> | undefined
}

/**
 * A talk with the agent failed: it refused (`Refused`: SSH_AGENT_FAILURE), answered out of protocol
 * (`ProtocolViolation`, SEC-60), the socket closed (`Closed`), or there is no agent (`NoAgent`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AgentError extends Schema.TaggedError<AgentError>("effect-ssh/AgentError")("AgentError", {
  reason: Schema.Literal("Refused", "ProtocolViolation", "Closed", "NoAgent"),
  /** The request that failed: `list`, `sign`, `add`, `remove`, `lock` … */
  request: Schema.String,
  description: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `agent ${this.request}: ${this.reason}: ${sanitizePeerText(this.description)}`
  }
}

/**
 * The agent client. Requests are answered in order; concurrent callers take turns (one request in flight, as
 * the protocol requires).
 *
 * @since 0.1.0
 * @category models
 */
export interface SshAgent {
  /** SSH_AGENTC_REQUEST_IDENTITIES: the keys and certificates the agent holds. */
  readonly identities: Effect.Effect<ReadonlyArray<AgentIdentity>, AgentError>
  /** SSH_AGENTC_SIGN_REQUEST: the agent's signature blob (string algorithm ‖ string signature) over `data`. */
  readonly sign: (publicKey: Uint8Array, data: Uint8Array, options?: SignOptions) => Effect.Effect<Uint8Array, AgentError>
  /** SSH_AGENTC_ADD_IDENTITY / ADD_ID_CONSTRAINED. */
  readonly add: (key: PrivateKeyMaterial | ParsedPrivateKey, options?: AddOptions) => Effect.Effect<void, AgentError>
  /** SSH_AGENTC_REMOVE_IDENTITY. */
  readonly remove: (publicKey: Uint8Array) => Effect.Effect<void, AgentError>
  /** SSH_AGENTC_REMOVE_ALL_IDENTITIES. */
  readonly removeAll: Effect.Effect<void, AgentError>
  /** SSH_AGENTC_LOCK with a passphrase. */
  readonly lock: (passphrase: Redacted.Redacted<string> | string) => Effect.Effect<void, AgentError>
  /** SSH_AGENTC_UNLOCK with the passphrase. */
  readonly unlock: (passphrase: Redacted.Redacted<string> | string) => Effect.Effect<void, AgentError>
  /** `session-bind@openssh.com` (PROTOCOL.agent §1). */
  readonly sessionBind: (bind: AgentProtocol.SessionBind) => Effect.Effect<void, AgentError>
  /** Any SSH_AGENTC_EXTENSION; the answer's body on EXTENSION_RESPONSE or SUCCESS (empty). */
  readonly extension: (name: string, data: Uint8Array) => Effect.Effect<Uint8Array, AgentError>
}

/**
 * The agent client service.
 *
 * @since 0.1.0
 * @category tags
 */
export const SshAgent: Context.Tag<SshAgent, SshAgent> = Context.GenericTag<SshAgent>("effect-ssh/SshAgent")

/**
 * The type and fingerprint of an identity blob.
 *
 * @since 0.1.0
 * @category constructors
 */
export const identity = (publicKey: Uint8Array, comment: string): AgentIdentity => {
  const keyType = Either.getOrElse(Reader.run(publicKey, (r) => r.ascii()), () => "unknown")
  return {
    publicKey,
    comment,
    keyType,
    fingerprint: HostKey.fingerprintSha256(publicKey),
    isCertificate: HostKey.certifiedKeyType(keyType) !== undefined
  }
}

/**
 * The RFC 9987 §4.5.1 flags for a signature algorithm (certificate algorithms included).
 *
 * @since 0.1.0
 * @category accessors
 */
export const flagsFor = (algorithm: string): number => {
  const plain = HostKey.signatureAlgorithm(algorithm)
  return plain === "rsa-sha2-256"
    ? AgentProtocol.SignFlags.RSA_SHA2_256
    : plain === "rsa-sha2-512"
    ? AgentProtocol.SignFlags.RSA_SHA2_512
    : 0
}

const fail = (request: string, reason: AgentError["reason"], description: string, cause?: unknown) =>
  new AgentError({ reason, request, description, ...(cause === undefined ? {} : { cause }) })

const redact = (s: Redacted.Redacted<string> | string) => typeof s === "string" ? Redacted.make(s) : s

/**
 * An agent client over a connected Socket, for the life of the Scope. A reply that comes unasked, or a frame
 * over 256 KiB, ends the client (every later request fails with `ProtocolViolation`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<SshAgent, never, Socket.Socket | Scope.Scope> = Effect.gen(function*() {
  const socket = yield* Socket.Socket
  const write = yield* socket.writer
  const frames = new AgentProtocol.FrameReader()
  const lock = yield* Effect.makeSemaphore(1)
  let pending: Deferred.Deferred<Uint8Array, AgentError> | undefined
  let broken: AgentError | undefined
  const breakWith = (e: AgentError) =>
    Effect.suspend(() => {
      broken ??= e
      const p = pending
      pending = undefined
      return p === undefined ? Effect.void : Deferred.fail(p, broken)
    })
  yield* socket.run((chunk) =>
    Effect.suspend(() => {
      const got = frames.push(chunk)
      if (Either.isLeft(got)) return breakWith(fail("read", "ProtocolViolation", got.left.description))
      return Effect.forEach(got.right, (payload) => {
        const p = pending
        pending = undefined
        // SEC-60: one reply per request; anything else means the stream can no longer be trusted.
        return p === undefined
          ? breakWith(fail("read", "ProtocolViolation", "a reply nobody asked for"))
          : Deferred.succeed(p, payload)
      }, { discard: true })
    })
  ).pipe(
    Effect.catchAll((cause) => breakWith(fail("read", "Closed", "the agent socket failed", cause))),
    Effect.zipRight(Effect.suspend(() => breakWith(fail("read", "Closed", "the agent closed the connection")))),
    Effect.forkScoped
  )

  const call = (name: string, request: AgentProtocol.Request): Effect.Effect<AgentProtocol.Response, AgentError> =>
    lock.withPermits(1)(Effect.gen(function*() {
      if (broken !== undefined) return yield* fail(name, broken.reason, broken.description)
      const reply = yield* Deferred.make<Uint8Array, AgentError>()
      pending = reply
      yield* write(AgentProtocol.encodeRequest(request)).pipe(
        Effect.catchAll((cause) => breakWith(fail(name, "Closed", "writing to the agent failed", cause)))
      )
      const payload = yield* Deferred.await(reply).pipe(
        Effect.mapError((e) => fail(name, e.reason, e.description))
      )
      const decoded = AgentProtocol.decodeResponse(payload)
      if (Either.isLeft(decoded)) return yield* fail(name, "ProtocolViolation", decoded.left.description)
      return decoded.right
    }))

  /** SEC-60 (golang CVE-2025-47913): every reply type is checked against the request. */
  const expectSuccess = (name: string, request: AgentProtocol.Request) =>
    Effect.flatMap(call(name, request), (r) =>
      r._tag === "Success"
        ? Effect.void
        : r._tag === "Failure"
        ? Effect.fail(fail(name, "Refused", "the agent refused"))
        : Effect.fail(fail(name, "ProtocolViolation", `${r._tag} where SUCCESS or FAILURE was expected`)))

  const agent: SshAgent = {
    identities: Effect.flatMap(call("list", { _tag: "RequestIdentities" }), (r) =>
      r._tag === "IdentitiesAnswer"
        ? Effect.succeed(r.identities.map((i) => identity(i.publicKey, i.comment)))
        : r._tag === "Failure"
        ? Effect.fail(fail("list", "Refused", "the agent refused"))
        : Effect.fail(fail("list", "ProtocolViolation", `${r._tag} where IDENTITIES_ANSWER was expected`))),
    sign: (publicKey, data, options) =>
      Effect.flatMap(
        call("sign", {
          _tag: "SignRequest",
          publicKey,
          data,
          flags: options?.flags ?? (options?.algorithm === undefined ? 0 : flagsFor(options.algorithm))
        }),
        (r) =>
          r._tag === "SignResponse"
            ? Effect.succeed(r.signature)
            : r._tag === "Failure"
            ? Effect.fail(fail("sign", "Refused", "the agent refused to sign"))
            : Effect.fail(fail("sign", "ProtocolViolation", `${r._tag} where SIGN_RESPONSE was expected`))
      ),
    add: (key, options) => {
      const material = "material" in key ? key.material : key
      const constraints: Array<AgentProtocol.Constraint> = []
      if (options?.lifetime !== undefined) {
        const seconds = Math.ceil(Duration.toSeconds(Duration.decode(options.lifetime)))
        constraints.push({ _tag: "Lifetime", seconds: Math.min(Math.max(seconds, 1), 0xffffffff) })
      }
      if (options?.confirm === true) constraints.push({ _tag: "Confirm" })
      constraints.push(...(options?.constraints ?? []))
      return expectSuccess("add", {
        _tag: "AddIdentity",
        identity: {
          key: Redacted.make(material),
          certificate: options?.certificate,
          comment: options?.comment ?? ("material" in key ? key.comment : "")
        },
        constraints
      })
    },
    remove: (publicKey) => expectSuccess("remove", { _tag: "RemoveIdentity", publicKey }),
    removeAll: expectSuccess("remove all", { _tag: "RemoveAllIdentities" }),
    lock: (passphrase) => expectSuccess("lock", { _tag: "Lock", passphrase: redact(passphrase) }),
    unlock: (passphrase) => expectSuccess("unlock", { _tag: "Unlock", passphrase: redact(passphrase) }),
    sessionBind: (bind) => expectSuccess("session-bind", AgentProtocol.encodeSessionBind(bind)),
    extension: (name, data) =>
      Effect.flatMap(call(name, { _tag: "Extension", name, data }), (r) =>
        r._tag === "ExtensionResponse"
          ? Effect.succeed(r.data)
          : r._tag === "Success"
          ? Effect.succeed(new Uint8Array(0))
          : r._tag === "Failure" || r._tag === "ExtensionFailure"
          ? Effect.fail(fail(name, "Refused", "the agent refused the extension"))
          : Effect.fail(fail(name, "ProtocolViolation", `${r._tag} in answer to an extension`)))
  }
  return agent
})

/**
 * The agent client over the Socket in the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<SshAgent, never, Socket.Socket> = Layer.scoped(SshAgent, make)
