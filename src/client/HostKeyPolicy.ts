/**
 * How the client decides whether to trust the host key a server presents during key exchange (SEC-20). The
 * transport calls `verify` before any authentication data is sent; any failure, defect or interruption of
 * `verify` means the connection is closed with HOST_KEY_NOT_VERIFIABLE.
 *
 * A policy is a plain value whose type says which services it needs: `HostKeyPolicy<FileSystem | Path>` for the
 * known_hosts policies (they read the files on every `verify`, so edits and `acceptNew` appends are seen by
 * later connections), `HostKeyPolicy<never>` for `pinned` and `insecureAcceptAny`, and the callback's own
 * requirements for `callback`. The connection that uses a policy inherits its requirements.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as HostKey from "../crypto/HostKey.js"
import * as KnownHosts from "../keys/KnownHosts.js"
import { sanitizePeerText } from "../SshError.js"
import { factsOf, fingerprintOf, type HostKeyRejected, reject, target } from "./internal/hostKeyRejection.js"
import * as KnownHostsPolicy from "./internal/knownHostsPolicy.js"

/**
 * What the transport knows about the presented host key. `keyType` is the type named inside `blob`
 * (`ssh-rsa` even when the signature algorithm is `rsa-sha2-256`; `ssh-ed25519-cert-v01@openssh.com` for a host
 * certificate); policies re-derive it, and the fingerprint, from `blob`, so a wrong value can only cause a
 * rejection.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyInfo {
  readonly host: string
  readonly port: number
  readonly keyType: string
  readonly blob: Uint8Array
  /**
   * `SHA256:` + unpadded base64, as `ssh-keygen -l` prints it; for a certificate, the fingerprint of the key it
   * certifies (as OpenSSH prints it).
   */
  readonly fingerprint: string
  /** The address actually connected to (for `checkHostIp`), when the dialer knows it. */
  readonly address?: string | undefined
}

/**
 * A host key policy. `verify` succeeds only for a trusted key; every other outcome is a `HostKeyRejected`.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyPolicy<out R = never> {
  readonly verify: (info: HostKeyInfo) => Effect.Effect<void, HostKeyRejected, R>
  /**
   * Host key algorithms to move to the front of the default list for this destination, before the key exchange
   * (used only when the connection does not configure `algorithms.hostKey`). The known_hosts policies prefer the
   * certificate algorithms when an `@cert-authority` line matches the host, as OpenSSH's `order_hostkeyalgs`.
   */
  readonly preferredAlgorithms?: ((host: string, port: number) => Effect.Effect<ReadonlyArray<string>, never, R>) | undefined
  /**
   * Host-key rotation (SEC-71, OpenSSH UpdateHostKeys): called once per connection, after authentication, with
   * the keys the server announced (hostkeys-00@openssh.com). A policy without it ignores announcements.
   */
  readonly updateHostKeys?: ((update: HostKeyUpdate) => Effect.Effect<void, never, R>) | undefined
}

/**
 * A server's announcement of its host keys, as the client hands it to the policy (SEC-71).
 *
 * @since 0.1.0
 * @category models
 */
export interface HostKeyUpdate {
  readonly host: string
  readonly port: number
  /** The key (or certificate) the server signed this connection's key exchange with. */
  readonly sessionHostKey: Uint8Array
  /** The announced plain keys the client can use, distinct, in the server's order. */
  readonly offered: ReadonlyArray<Uint8Array>
  /**
   * Asks the server to prove it holds `keys` (hostkeys-prove-00@openssh.com) and checks each signature over the
   * session id: per key whether it is proven, or `undefined` when the server refused or any signature is bad.
   */
  readonly prove: (keys: ReadonlyArray<Uint8Array>) => Effect.Effect<ReadonlyArray<boolean> | undefined>
}

/**
 * The services a policy needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Context<P> = P extends HostKeyPolicy<infer R> ? R : never

/**
 * A known_hosts line involved in a rejection.
 *
 * @since 0.1.0
 * @category models
 */
export { KnownLine } from "./internal/hostKeyRejection.js"

/**
 * The host key was not trusted (see `HostKeyRejected`'s reasons).
 *
 * @since 0.1.0
 * @category errors
 */
export { HostKeyRejected } from "./internal/hostKeyRejection.js"

/**
 * Options of the known_hosts policies.
 *
 * @since 0.1.0
 * @category models
 */
export interface KnownHostsOptions {
  /** Files to consult, in order; `~` is the HOME directory. Default: `["~/.ssh/known_hosts"]`. */
  readonly files?: ReadonlyArray<string> | undefined
  /** Trust on first use: record the key of an unknown host in the first file. Default false. */
  readonly acceptNew?: boolean | undefined
  /** Write recorded hosts hashed (`|1|…`), as `HashKnownHosts yes` does. Default false. */
  readonly hash?: boolean | undefined
  /**
   * OpenSSH `CheckHostIP`: also check the key recorded for the address connected to (`HostKeyInfo.address`). A
   * different key recorded for the address rejects the connection (reason `Changed`), as strict checking does;
   * with `acceptNew` an unknown address is recorded. Not applied to host certificates, nor when the host name is
   * the address. Default false (OpenSSH's default since 8.5).
   */
  readonly checkHostIp?: boolean | undefined
  /** Signature algorithms accepted from a host certificate's CA (default `Certificate.DEFAULT_CA_SIGNATURE_ALGORITHMS`). */
  readonly caSignatureAlgorithms?: ReadonlyArray<string> | undefined
  /**
   * System-wide files (OpenSSH GlobalKnownHostsFile), consulted after `files` and never written. A host key found
   * only there does not update known_hosts (SEC-71).
   */
  readonly globalFiles?: ReadonlyArray<string> | undefined
  /**
   * OpenSSH UpdateHostKeys (SEC-71): learn the keys a server announces after authentication once it has proved
   * them, and drop recorded keys it no longer has — only when this connection's key is a plain key recorded for
   * the host in `files` (never under a CA, a wildcard or a key recorded for other names). Default, as ssh: on when
   * `files` is not given (the user's ~/.ssh/known_hosts), off otherwise.
   */
  readonly updateHostKeys?: boolean | undefined
}

/**
 * Builds the `HostKeyInfo` for a key blob, deriving its type and SHA-256 fingerprint.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeInfo = (host: string, port: number, blob: Uint8Array, address?: string): HostKeyInfo => ({
  host,
  port,
  blob,
  keyType: Option.getOrElse(KnownHosts.keyTypeOfBlob(blob), () => ""),
  fingerprint: fingerprintOf(blob),
  ...(address === undefined ? {} : { address })
})

/**
 * Trusts the keys listed for the host in known_hosts files, strictly (OpenSSH `StrictHostKeyChecking yes`), and
 * host certificates signed by a CA that an `@cert-authority` line for the host names (SEC-63). A changed key, a
 * revoked key or CA (`@revoked`) or an unreadable file is always rejected. With `acceptNew`, the key of an unknown
 * host is appended to the first file (created with mode 0600) and trusted. The files are read in order and
 * decided on together: a revocation in any file wins.
 *
 * @since 0.1.0
 * @category constructors
 */
export const knownHosts = (
  options: KnownHostsOptions = {}
): HostKeyPolicy<FileSystem.FileSystem | Path.Path> => KnownHostsPolicy.make(options)

/**
 * `knownHosts` with trust on first use (OpenSSH `StrictHostKeyChecking accept-new`): an unknown host's key is
 * recorded and trusted; a changed key is still rejected.
 *
 * @since 0.1.0
 * @category constructors
 */
export const acceptNew = (
  options: Omit<KnownHostsOptions, "acceptNew"> = {}
): HostKeyPolicy<FileSystem.FileSystem | Path.Path> => knownHosts({ ...options, acceptNew: true })

/**
 * The default policy: `~/.ssh/known_hosts`, strict.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultPolicy: HostKeyPolicy<FileSystem.FileSystem | Path.Path> = knownHosts()

/**
 * Trusts exactly the keys whose SHA-256 fingerprint is listed, written as `ssh-keygen -lf` prints them
 * (`SHA256:` + unpadded base64). Strings are compared exactly.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pinned = (fingerprints: ReadonlyArray<string>): HostKeyPolicy => {
  const allowed = new Set(fingerprints)
  return {
    verify: (info) =>
      Effect.suspend(() => {
        const facts = factsOf(info)
        return allowed.has(facts.fingerprint) ? Effect.void : Effect.fail(
          reject(facts, "NotPinned", {
            description: allowed.size === 0
              ? "no fingerprints are pinned"
              : `pinned: ${[...allowed].map((f) => sanitizePeerText(f, 80)).join(", ")}`
          })
        )
      })
  }
}

/**
 * Asks `f`. Only a result of exactly `true` trusts the key; `false`, a failure, a defect or an interruption is
 * a rejection with reason `Refused` (fail closed, SEC-10, SEC-20).
 *
 * @since 0.1.0
 * @category constructors
 */
export const callback = <E, R>(f: (info: HostKeyInfo) => Effect.Effect<boolean, E, R>): HostKeyPolicy<R> => ({
  verify: (info) => {
    const facts = factsOf(info)
    return Effect.suspend(() => f(info)).pipe(
      Effect.catchAllCause((cause) =>
        Effect.fail(reject(facts, "Refused", { description: "the callback failed", cause: Cause.squash(cause) }))
      ),
      Effect.flatMap((ok) =>
        ok === true
          ? Effect.void
          : Effect.fail(reject(facts, "Refused", { description: "the callback returned false" }))
      )
    )
  }
})

/**
 * INSECURE: trusts every host key, so anyone on the network path can impersonate the server and read or alter
 * everything, passwords included. For throwaway tests against a local server only; logs a warning each time.
 *
 * @since 0.1.0
 * @category constructors
 */
export const insecureAcceptAny: HostKeyPolicy = {
  verify: (info) =>
    Effect.logWarning(
      `insecureAcceptAny: trusted the host key of ${target(info.host, info.port)} without verification`
    ).pipe(Effect.annotateLogs({ module: "HostKeyPolicy", fingerprint: HostKey.fingerprintSha256(info.blob) }))
}

/**
 * Tries the policies in order and trusts the key as soon as one does. `Changed` and `Revoked` verdicts are
 * final (a later policy cannot override them); if all reject, the first rejection is reported. No policies
 * means rejection.
 *
 * Host-key rotation (SEC-71) is handed to every member that takes it, in order: each applies its own rules (a
 * known_hosts policy changes its files only when this connection's key is recorded there for the host), and the
 * server is asked to prove a set of keys at most once, whichever members ask.
 *
 * @since 0.1.0
 * @category combinators
 */
export const any = <const P extends ReadonlyArray<HostKeyPolicy<unknown>>>(
  ...policies: P
): HostKeyPolicy<Context<P[number]>> => ({
  verify: (info) => {
    const go = (i: number, first: HostKeyRejected | undefined): Effect.Effect<void, HostKeyRejected, unknown> =>
      i === policies.length
        ? Effect.fail(first ?? reject(factsOf(info), "Refused", { description: "no host key policy was given" }))
        : policies[i]!.verify(info).pipe(
          Effect.catchAll((e) =>
            e.reason === "Changed" || e.reason === "Revoked" ? Effect.fail(e) : go(i + 1, first ?? e)
          )
        )
    return go(0, undefined) as Effect.Effect<void, HostKeyRejected, Context<P[number]>>
  },
  updateHostKeys: policies.some((p) => p.updateHostKeys !== undefined)
    ? (update) => {
      const prove = memoizedProve(update.prove)
      const shared: HostKeyUpdate = { ...update, prove }
      const each = policies.flatMap((p) => p.updateHostKeys === undefined ? [] : [p.updateHostKeys(shared)])
      return Effect.forEach(each, (e) => e, { discard: true }) as Effect.Effect<void, never, Context<P[number]>>
    }
    : undefined,
  preferredAlgorithms: (host, port) => {
    const first = policies.find((p) => p.preferredAlgorithms !== undefined)
    const prefer = first?.preferredAlgorithms?.(host, port) ?? Effect.succeed([])
    return prefer as Effect.Effect<ReadonlyArray<string>, never, Context<P[number]>>
  }
})

/** One hostkeys-prove-00 round trip per distinct set of keys, however many members ask for it. */
const memoizedProve = (prove: HostKeyUpdate["prove"]): HostKeyUpdate["prove"] => {
  const answers = new Map<string, ReadonlyArray<boolean> | undefined>()
  return (keys) =>
    Effect.suspend(() => {
      const key = keys.map((k) => HostKey.fingerprintSha256(k)).join(",")
      return answers.has(key)
        ? Effect.succeed(answers.get(key))
        : Effect.tap(prove(keys), (answer) => Effect.sync(() => answers.set(key, answer)))
    })
}
