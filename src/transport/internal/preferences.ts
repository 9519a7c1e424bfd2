/**
 * Resolves the user's algorithm options into preference lists, and server host keys into what KEXINIT needs.
 *
 * @since 0.1.0
 */
import * as Algorithms from "../../crypto/Algorithms.js"
import type { PrivateKeyMaterial } from "../../crypto/Backend.js"
import * as HostKey from "../../crypto/HostKey.js"
import * as Negotiate from "../../crypto/Negotiate.js"
import type { ServerHostKey } from "../KexMachine.js"
import type { AlgorithmOptions } from "../Transport.js"

/**
 * Each list resolved against the names we implement (SEC-26: exact allow-list); a string describing the first
 * problem otherwise. Compression defaults depend on the role (SEC-51); without zlib streams only `none` exists.
 * @internal
 */
export const resolvePreferences = (
  o: AlgorithmOptions | undefined,
  role: "client" | "server" = "client",
  zlib = false
): Algorithms.AlgorithmPreferences | string => {
  const resolve = (
    kind: string,
    spec: string | ReadonlyArray<string> | undefined,
    known: ReadonlyArray<string>,
    defaults: ReadonlyArray<string>
  ): ReadonlyArray<string> | string => {
    const r = Negotiate.resolveList(spec, known, defaults)
    if (r._tag === "Left") return `${kind} algorithms: ${r.left}`
    if (r.right.length === 0) return `${kind} algorithms: the list is empty`
    return r.right
  }
  const kex = resolve("kex", o?.kex, Algorithms.KEX, Algorithms.DEFAULT_KEX)
  if (typeof kex === "string") return kex
  const hostKey = resolve("host key", o?.hostKey, Algorithms.ALL_HOST_KEY_ALGORITHMS, Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS)
  if (typeof hostKey === "string") return hostKey
  const cipher = resolve("cipher", o?.cipher, Algorithms.CIPHERS, Algorithms.DEFAULT_CIPHERS)
  if (typeof cipher === "string") return cipher
  const mac = resolve("MAC", o?.mac, Algorithms.MACS, Algorithms.DEFAULT_MACS)
  if (typeof mac === "string") return mac
  const compression = resolve(
    "compression",
    o?.compression,
    zlib ? Algorithms.COMPRESSION : ["none"],
    role === "server" ? Algorithms.DEFAULT_SERVER_COMPRESSION : Algorithms.DEFAULT_COMPRESSION
  )
  if (typeof compression === "string") {
    return zlib ? compression : `${compression} (zlib needs a compression backend: effect-ssh/node provides node:zlib)`
  }
  return { kex, hostKey, cipher, mac, compression }
}

/** @internal */
export const serverHostKeys = (
  keys: ReadonlyArray<PrivateKeyMaterial | HostKey.CertifiedKey>
): ReadonlyArray<ServerHostKey> =>
  keys.map((k) => {
    if ("certificate" in k) {
      // PROTOCOL.certkeys: the certificate is K_S, offered under the certificate algorithms of its key.
      return { key: k.key, blob: k.certificate, algorithms: HostKey.certAlgorithmsForKey(k.key) }
    }
    const pub = HostKey.publicKeyOf(k)
    return { key: k, blob: HostKey.encodePublicKey(pub), algorithms: HostKey.algorithmsForKey(pub) }
  })
