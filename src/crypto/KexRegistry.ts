/**
 * Key exchange methods by their RFC names (RFC 4253 §7.1 negotiates names; this turns the chosen name into code).
 *
 * @since 0.1.0
 */
import type { KexName } from "./Algorithms.js"
import type { KexMethod } from "./Kex.js"
import { curve25519Sha256, curve25519Sha256Libssh } from "./kex/Curve25519.js"
import {
  diffieHellmanGroup14Sha1,
  diffieHellmanGroup14Sha256,
  diffieHellmanGroup16Sha512,
  diffieHellmanGroup18Sha512,
  diffieHellmanGroup1Sha1
} from "./kex/DhGroup.js"
import { ecdhSha2Nistp256, ecdhSha2Nistp384, ecdhSha2Nistp521 } from "./kex/EcdhNist.js"
import { diffieHellmanGroupExchangeSha1, diffieHellmanGroupExchangeSha256 } from "./kex/GroupExchange.js"
import { mlkem768x25519Sha256, sntrup761x25519Sha512, sntrup761x25519Sha512OpenSsh } from "./kex/PqHybrid.js"

// Typed by KexName: adding a name to Algorithms.KEX without a method here fails to compile.
const METHODS: { readonly [K in KexName]: KexMethod } = {
  "mlkem768x25519-sha256": mlkem768x25519Sha256,
  "sntrup761x25519-sha512": sntrup761x25519Sha512,
  "sntrup761x25519-sha512@openssh.com": sntrup761x25519Sha512OpenSsh,
  "curve25519-sha256": curve25519Sha256,
  "curve25519-sha256@libssh.org": curve25519Sha256Libssh,
  "ecdh-sha2-nistp256": ecdhSha2Nistp256,
  "ecdh-sha2-nistp384": ecdhSha2Nistp384,
  "ecdh-sha2-nistp521": ecdhSha2Nistp521,
  "diffie-hellman-group-exchange-sha256": diffieHellmanGroupExchangeSha256,
  "diffie-hellman-group16-sha512": diffieHellmanGroup16Sha512,
  "diffie-hellman-group18-sha512": diffieHellmanGroup18Sha512,
  "diffie-hellman-group14-sha256": diffieHellmanGroup14Sha256,
  "diffie-hellman-group14-sha1": diffieHellmanGroup14Sha1,
  "diffie-hellman-group1-sha1": diffieHellmanGroup1Sha1,
  "diffie-hellman-group-exchange-sha1": diffieHellmanGroupExchangeSha1
}

const byName: ReadonlyMap<string, KexMethod> = new Map(Object.entries(METHODS))

/**
 * The key exchange method with this name, or `undefined` for a name we do not implement. Only exact names match
 * (SEC-26).
 *
 * @since 0.1.0
 * @category accessors
 */
export const kexMethod = (name: string): KexMethod | undefined => byName.get(name)
