/**
 * The host key policy of `effect-ssh exec`, from OpenSSH's StrictHostKeyChecking and UserKnownHostsFile:
 * `yes` checks known_hosts strictly; `accept-new` records an unknown host's key and trusts it; `ask` (the
 * default) asks on the terminal about an unknown host and records the key if the answer is yes, and without a
 * terminal (or with BatchMode) behaves as `yes`; `no`/`off` trusts any key and says so on stderr. A changed or
 * revoked key is refused in every mode but `no`.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as HostKeyPolicy from "../client/HostKeyPolicy.js"
import type { StrictHostKeyChecking } from "./ExecOptions.js"
import * as Tty from "./Tty.js"

/**
 * How a host is written in known_hosts: `host` on port 22, `[host]:port` otherwise.
 *
 * @since 0.1.0
 * @category accessors
 */
export const hostPattern = (host: string, port: number): string => port === 22 ? host : `[${host}]:${port}`

/**
 * The policy for a StrictHostKeyChecking mode.
 *
 * @since 0.1.0
 * @category constructors
 */
export const policy = (options: {
  readonly mode: StrictHostKeyChecking
  readonly files: ReadonlyArray<string>
  /** GlobalKnownHostsFile: read after `files`, never written (nor updated). */
  readonly globalFiles?: ReadonlyArray<string> | undefined
  /** Whether `ask` may ask (a terminal and no BatchMode). */
  readonly interactive: boolean
  /** HashKnownHosts: record new hosts hashed. */
  readonly hash?: boolean | undefined
  /** CheckHostIP. */
  readonly checkHostIp?: boolean | undefined
  /** UpdateHostKeys (SEC-71): learn the keys a server announces after authentication, under OpenSSH's rules. */
  readonly updateHostKeys?: boolean | undefined
}): HostKeyPolicy.HostKeyPolicy<FileSystem.FileSystem | Path.Path> => {
  if (options.mode === "no") return HostKeyPolicy.insecureAcceptAny
  const known = { files: options.files, globalFiles: options.globalFiles, hash: options.hash, checkHostIp: options.checkHostIp }
  const strict = HostKeyPolicy.knownHosts({ ...known, updateHostKeys: options.updateHostKeys === true })
  // acceptNew appends to the first file under a lock, after checking again that the host is still unknown.
  const adder = HostKeyPolicy.acceptNew(known)
  const record = (info: HostKeyPolicy.HostKeyInfo) =>
    adder.verify(info).pipe(
      Effect.zipRight(
        Tty.printError(
          `Warning: Permanently added '${hostPattern(info.host, info.port)}' (${info.keyType}) to the list of known hosts.`
        )
      )
    )
  const onUnknown = options.mode === "accept-new"
    ? (info: HostKeyPolicy.HostKeyInfo) => record(info)
    : options.mode === "ask" && options.interactive
    ? (info: HostKeyPolicy.HostKeyInfo, rejected: HostKeyPolicy.HostKeyRejected) =>
      Effect.flatMap(ask(info), (yes) => yes ? record(info) : Effect.fail(rejected))
    : undefined
  return {
    verify: (info) =>
      strict.verify(info).pipe(
        Effect.catchIf(
          (e) => e.reason === "Unknown" && onUnknown !== undefined,
          (e) => onUnknown!(info, e)
        )
      ),
    // The certificate algorithms first when an @cert-authority line names the host (OpenSSH order_hostkeyalgs);
    // without this a host certificate is never asked for and the plain key is "not known".
    preferredAlgorithms: strict.preferredAlgorithms,
    updateHostKeys: strict.updateHostKeys
  }
}

/** OpenSSH's question for an unknown host (sshconnect.c); yes or the fingerprint trusts it. */
const ask = (info: HostKeyPolicy.HostKeyInfo): Effect.Effect<boolean> => {
  const loop = (question: string): Effect.Effect<boolean, Tty.PromptCancelled> =>
    Effect.flatMap(Tty.prompt(question, { echo: true }), (answer) => {
      const a = answer.trim()
      if (a.toLowerCase() === "yes" || a === info.fingerprint) return Effect.succeed(true)
      if (a.toLowerCase() === "no") return Effect.succeed(false)
      return loop("Please type 'yes', 'no' or the fingerprint: ")
    })
  const where = hostPattern(info.host, info.port)
  return loop(
    `The authenticity of host '${where}' can't be established.\n` +
      `${info.keyType} key fingerprint is ${info.fingerprint}.\n` +
      "Are you sure you want to continue connecting (yes/no/[fingerprint])? "
  ).pipe(Effect.orElseSucceed(() => false))
}
