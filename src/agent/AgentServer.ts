/**
 * An ssh-agent in this process (RFC 9987, OpenSSH PROTOCOL.agent): it holds keys and serves agent clients —
 * `ssh-add`, `ssh`, our `SshAgent` — on any @effect/platform `Socket`; `NodeAgent.serve` puts it on a UNIX
 * socket, and agent forwarding hands it forwarded channels.
 *
 * SEC-61: every constraint it accepts is enforced — a lifetime removes the key when it ends (checked before every
 * request), a confirm constraint asks the `confirm` handler before each signature and is refused without one — and
 * every constraint it cannot enforce (destination restrictions, XMSS signature budgets, unknown extensions)
 * refuses the key. Smartcard providers are never loaded. Locking hides and disables every key until the same
 * passphrase unlocks it. SEC-60 / LIM-30: frames over 256 KiB end the client's connection, malformed requests get
 * FAILURE, at most 2 048 keys are held, and each connection records at most 16 session bindings.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { PrivateKeyMaterial } from "../crypto/Backend.js"
import { Crypto } from "../crypto/Crypto.js"
import type { ParsedPrivateKey } from "../keys/KeyMaterial.js"
import * as AgentProtocol from "./AgentProtocol.js"
import * as internal from "./internal/agentServer.js"
import type { AgentIdentity } from "./SshAgent.js"

/**
 * What the `confirm` handler is asked: which key is about to sign (`ssh-add -c`, ssh-askpass's question).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfirmRequest {
  readonly identity: AgentIdentity
}

/**
 * Options of the agent.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentServerOptions {
  /**
   * Asked before each signature by a key added with the confirm constraint; `true` allows it. Without a handler,
   * keys with the confirm constraint are refused (SEC-61), as ssh-agent does without ssh-askpass.
   */
  readonly confirm?: ((request: ConfirmRequest) => Effect.Effect<boolean, unknown>) | undefined
  /** A lifetime for keys added without one (`ssh-agent -t`). */
  readonly defaultLifetime?: Duration.DurationInput | undefined
  /** The most keys held at once (default and maximum 2 048, LIM-30). */
  readonly maxKeys?: number | undefined
}

/**
 * The agent: serve clients on sockets, and manage its keys in-process.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentServer {
  /** Serves one client connection until it closes (requests answered in order). */
  readonly serve: (socket: Socket.Socket, options?: { readonly forwarded?: boolean | undefined }) => Effect.Effect<void>
  /** Handles one request payload and returns the response (what `serve` does per message). */
  readonly handle: (payload: Uint8Array, connection: AgentConnection) => Effect.Effect<AgentProtocol.Response>
  /** The keys held now (expired ones are gone; empty while locked). */
  readonly identities: Effect.Effect<ReadonlyArray<AgentIdentity>>
  /** Adds a key in-process, with the same constraints `ssh-add` can send; fails if one cannot be enforced. */
  readonly add: (
    key: PrivateKeyMaterial | ParsedPrivateKey,
    options?: {
      readonly comment?: string | undefined
      readonly certificate?: Uint8Array | undefined
      readonly lifetime?: Duration.DurationInput | undefined
      readonly confirm?: boolean | undefined
    }
  ) => Effect.Effect<void, internal.Refused>
}

/**
 * Per-connection state: the session bindings recorded by `session-bind@openssh.com` (at most 16, LIM-30).
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentConnection {
  readonly bindings: Array<{ readonly hostKey: Uint8Array; readonly sessionId: Uint8Array; readonly forwarding: boolean }>
  /** True for connections that arrive through agent forwarding (SEC-61: they can never load providers). */
  readonly forwarded: boolean
}

/**
 * The agent service.
 *
 * @since 0.1.0
 * @category tags
 */
export const AgentServer: Context.Tag<AgentServer, AgentServer> = Context.GenericTag<AgentServer>("effect-ssh/AgentServer")

/**
 * A new, empty agent. Signing uses the `Crypto` backend in the context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: AgentServerOptions): Effect.Effect<AgentServer> =>
  Effect.gen(function*() {
    const backend = yield* Crypto
    const state = new internal.KeyStore(backend, {
      confirm: options?.confirm,
      defaultLifetimeMillis: options?.defaultLifetime === undefined
        ? undefined
        : Duration.toMillis(Duration.decode(options.defaultLifetime)),
      maxKeys: Math.min(options?.maxKeys ?? AgentProtocol.MAX_IDENTITIES, AgentProtocol.MAX_IDENTITIES)
    })
    const handle = (payload: Uint8Array, connection: AgentConnection) => internal.handle(state, payload, connection)
    const server: AgentServer = {
      serve: (socket, o) => internal.serve(socket, handle, o?.forwarded ?? false),
      handle,
      identities: Effect.map(Clock.currentTimeMillis, (now) => state.list(now)),
      add: (key, o) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const material = "material" in key ? key.material : key
          const constraints: Array<AgentProtocol.Constraint> = []
          if (o?.lifetime !== undefined) {
            constraints.push({ _tag: "Lifetime", seconds: Math.max(1, Math.ceil(Duration.toSeconds(Duration.decode(o.lifetime)))) })
          }
          if (o?.confirm === true) constraints.push({ _tag: "Confirm" })
          return state.add(now, {
            key: Redacted.make(material),
            certificate: o?.certificate,
            comment: o?.comment ?? ("material" in key ? key.comment : "")
          }, constraints)
        })
    }
    return server
  })

/**
 * The agent as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: AgentServerOptions): Layer.Layer<AgentServer> => Layer.effect(AgentServer, make(options))

/**
 * A fresh per-connection state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connection = (forwarded = false): AgentConnection => ({ bindings: [], forwarded })
