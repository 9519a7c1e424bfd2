/**
 * `effect-ssh keyscan [-H] [-p port] [-t type[,type…]] [-T timeout] host…`: the servers' host keys in
 * ssh-keyscan(1)'s output format (`host keytype base64`, `[host]:port` off port 22, the name hashed with -H as
 * in known_hosts files `ssh-keygen -H` wrote), one key exchange per key
 * type, nothing authenticated. Key types as ssh-keyscan names them: rsa, ecdsa, ed25519 (the default, in that
 * order) or algorithm names.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import * as Ref from "effect/Ref"
import * as ClientTransport from "../client/ClientTransport.js"
import { Dialer } from "../client/Dialer.js"
import * as HostKeyPolicy from "../client/HostKeyPolicy.js"
import * as KnownHosts from "../keys/KnownHosts.js"
import { FAILURE_EXIT_CODE } from "./Version.js"
import * as Tty from "./Tty.js"

const TYPES: Readonly<Record<string, ReadonlyArray<string>>> = {
  rsa: ["rsa-sha2-512", "rsa-sha2-256"],
  ecdsa: ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"],
  ed25519: ["ssh-ed25519"]
}

const USAGE = "usage: effect-ssh keyscan [-H] [-p port] [-T timeout] [-t type] host ..."

const base64 = (bytes: Uint8Array): string => {
  let s = ""
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s)
}

/**
 * The host key a server offers for `algorithms`, or none when it offers none of them or cannot be reached.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scan = (host: string, port: number, algorithms: ReadonlyArray<string>, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make(Option.none<Uint8Array>())
    const dialer = yield* Dialer
    const socket = yield* dialer.dial(host, port, timeout)
    // The policy records the key and accepts it: nothing is authenticated, the connection closes at once.
    const record = HostKeyPolicy.callback((info) => Effect.as(Ref.set(seen, Option.some(info.blob)), true))
    yield* ClientTransport.make(socket, {
      host,
      port,
      hostKeys: record,
      algorithms: { hostKey: algorithms },
      timeouts: { handshake: timeout }
    })
    return yield* Ref.get(seen)
  }).pipe(Effect.scoped, Effect.orElseSucceed(() => Option.none<Uint8Array>()))

/**
 * Runs `effect-ssh keyscan` with `args` and returns the exit code (0, as ssh-keyscan, even for hosts that
 * did not answer; 255 for a bad command line).
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (args[0] === "--help") {
      yield* Effect.sync(() => process.stdout.write(`${USAGE}\n`))
      return 0
    }
    let port = 22
    let types = ["rsa", "ecdsa", "ed25519"]
    let timeout = Duration.seconds(5)
    let hash = false
    const hosts: Array<string> = []
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!
      const value = () => (arg.length > 2 ? arg.slice(2) : args[++i])
      if (arg.startsWith("-p")) {
        const v = value()
        if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) {
          yield* Tty.printError(`effect-ssh: Bad port '${v ?? ""}'\n${USAGE}`)
          return FAILURE_EXIT_CODE
        }
        port = Number(v)
      } else if (arg.startsWith("-t")) types = (value() ?? "").split(",")
      else if (arg === "-H") hash = true
      else if (arg.startsWith("-T")) timeout = Duration.seconds(Number(value() ?? "5") || 5)
      else if (arg.startsWith("-") && arg.length > 1) {
        yield* Tty.printError(`effect-ssh: unknown option ${arg}\n${USAGE}`)
        return FAILURE_EXIT_CODE
      } else hosts.push(...arg.split(","))
    }
    if (hosts.length === 0) {
      yield* Tty.printError(USAGE)
      return FAILURE_EXIT_CODE
    }
    for (const host of hosts) {
      for (const type of types) {
        const algorithms = TYPES[type] ?? [type]
        const blob = yield* scan(host, port, algorithms, timeout)
        if (Option.isNone(blob)) continue
        const name = Option.getOrElse(KnownHosts.keyTypeOfBlob(blob.value), () => type)
        const plain = port === 22 ? host : `[${host}]:${port}`
        // -H: the name hashed as ssh-keygen -H writes it, with a fresh salt per line (ssh-keyscan.c keyprint).
        const where = hash ? Either.getOrThrow(KnownHosts.hashName(plain, new Uint8Array(crypto.randomBytes(20)))) : plain
        yield* Effect.sync(() => process.stdout.write(`${where} ${name} ${base64(blob.value)}\n`))
      }
    }
    return 0
  })
