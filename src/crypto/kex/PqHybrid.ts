/**
 * The post-quantum hybrid key exchanges: a KEM combined with X25519, in one round of KEX_ECDH_INIT /
 * KEX_ECDH_REPLY (message numbers 30/31).
 *
 * - `mlkem768x25519-sha256` (draft-ietf-sshm-mlkem-hybrid-kex): ML-KEM-768 (FIPS 203, from
 *   `@noble/post-quantum`) and X25519, SHA-256.
 * - `sntrup761x25519-sha512` and its original name `sntrup761x25519-sha512@openssh.com`
 *   (draft-ietf-sshm-ntruprime-ssh, OpenSSH 8.5+): Streamlined NTRU Prime 761 (Sntrup761.ts) and X25519,
 *   SHA-512.
 *
 * Both follow the same shape: the client sends C_INIT = KEM public key ‖ X25519 public key, the server answers
 * S_REPLY = KEM ciphertext ‖ X25519 public key, and K = HASH(KEM shared secret ‖ X25519 shared secret), where
 * the X25519 secret is the raw 32 bytes. K enters the exchange hash and the key derivation as an SSH *string*
 * (not an mpint as in RFC 8731): the drafts say so, and OpenSSH's kexmlkem768x25519.c and kexsntrup761x25519.c
 * put it with `sshbuf_put_string`.
 *
 * SEC-18: each value must have its exact length (1184 + 32 and 1088 + 32 for ML-KEM, 1158 + 32 and 1039 + 32 for
 * sntrup761); an X25519 value that gives an all-zero secret and an ML-KEM public key that fails the FIPS 203
 * modulus check are refused. A refusal is `undefined`, which the transport turns into KexFailed. Every random
 * byte of the KEMs comes from the backend's `randomBytes`.
 *
 * @since 0.1.0
 */
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js"
import * as Writer from "../../wire/Writer.js"
import type { CryptoBackend, HashAlgorithm } from "../Backend.js"
import type { EphemeralKex, KexMethod } from "../Kex.js"
import * as Sntrup761 from "./Sntrup761.js"

/** RFC 7748: X25519 public values are 32 bytes. */
const X25519_BYTES = 32

/**
 * A key encapsulation mechanism as the hybrids use it: the client makes a key pair and decapsulates, the
 * server encapsulates to the client's public key. `undefined` marks invalid peer input.
 *
 * @since 0.1.0
 * @category models
 */
export interface Kem {
  readonly publicKeyBytes: number
  readonly ciphertextBytes: number
  keyPair(backend: CryptoBackend): {
    readonly publicKey: Uint8Array
    decapsulate(ciphertext: Uint8Array): Uint8Array | undefined
  }
  encapsulate(
    backend: CryptoBackend,
    publicKey: Uint8Array
  ): { readonly ciphertext: Uint8Array; readonly sharedSecret: Uint8Array } | undefined
}

/**
 * ML-KEM-768 (FIPS 203) over `@noble/post-quantum`, with the key-generation seed (d ‖ z, 64 bytes) and the
 * encapsulation message m (32 bytes) drawn from the backend.
 *
 * @since 0.1.0
 * @category models
 */
export const mlKem768: Kem = {
  publicKeyBytes: 1184,
  ciphertextBytes: 1088,
  keyPair: (backend) => {
    const { publicKey, secretKey } = ml_kem768.keygen(backend.randomBytes(64))
    return {
      publicKey,
      // FIPS 203 decapsulation has no failure for a ciphertext of the right length (implicit rejection).
      decapsulate: (ciphertext) => ciphertext.length === 1088 ? ml_kem768.decapsulate(ciphertext, secretKey) : undefined
    }
  },
  encapsulate: (backend, publicKey) => {
    if (publicKey.length !== 1184) return undefined
    try {
      // Throws when the key fails the FIPS 203 §7.2 modulus check (a coefficient ≥ q): a peer's bad value.
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, backend.randomBytes(32))
      return { ciphertext: cipherText, sharedSecret }
    } catch {
      return undefined
    }
  }
}

/**
 * sntrup761 (Sntrup761.ts).
 *
 * @since 0.1.0
 * @category models
 */
export const sntrup761: Kem = {
  publicKeyBytes: Sntrup761.PUBLIC_KEY_BYTES,
  ciphertextBytes: Sntrup761.CIPHERTEXT_BYTES,
  keyPair: (backend) => {
    const { publicKey, secretKey } = Sntrup761.keyPair(backend)
    return { publicKey, decapsulate: (ciphertext) => Sntrup761.decapsulate(backend, ciphertext, secretKey) }
  },
  encapsulate: (backend, publicKey) => Sntrup761.encapsulate(backend, publicKey)
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** K = string(HASH(kem secret ‖ x25519 secret)). */
const encodeK = (backend: CryptoBackend, hash: HashAlgorithm, kemSecret: Uint8Array, ecdhSecret: Uint8Array) =>
  Writer.build((w) => w.string(backend.hash(hash).update(kemSecret).update(ecdhSecret).digest()))

/**
 * The hybrid exchange of a KEM with X25519 under `hash` (see the module comment for the layout).
 *
 * @since 0.1.0
 * @category constructors
 */
export const hybrid = (kem: Kem, hash: HashAlgorithm): EphemeralKex => ({
  hash,
  client: (backend) => {
    const kemPair = kem.keyPair(backend)
    const ecdh = backend.x25519()
    return {
      clientValue: concat(kemPair.publicKey, ecdh.publicKey),
      finish: (serverValue) => {
        if (serverValue.length !== kem.ciphertextBytes + X25519_BYTES) return undefined
        const ecdhSecret = ecdh.agree(serverValue.subarray(kem.ciphertextBytes))
        if (ecdhSecret === undefined) return undefined
        const kemSecret = kemPair.decapsulate(serverValue.subarray(0, kem.ciphertextBytes))
        return kemSecret === undefined ? undefined : encodeK(backend, hash, kemSecret, ecdhSecret)
      }
    }
  },
  server: (backend, clientValue) => {
    if (clientValue.length !== kem.publicKeyBytes + X25519_BYTES) return undefined
    const ecdh = backend.x25519()
    const ecdhSecret = ecdh.agree(clientValue.subarray(kem.publicKeyBytes))
    if (ecdhSecret === undefined) return undefined
    const encapsulated = kem.encapsulate(backend, clientValue.subarray(0, kem.publicKeyBytes))
    if (encapsulated === undefined) return undefined
    return {
      serverValue: concat(encapsulated.ciphertext, ecdh.publicKey),
      k: encodeK(backend, hash, encapsulated.sharedSecret, ecdhSecret)
    }
  }
})

/**
 * `mlkem768x25519-sha256` (draft-ietf-sshm-mlkem-hybrid-kex).
 *
 * @since 0.1.0
 * @category methods
 */
export const mlkem768x25519Sha256: KexMethod = {
  _tag: "Ephemeral",
  name: "mlkem768x25519-sha256",
  exchange: hybrid(mlKem768, "sha256")
}

const sntrupExchange = hybrid(sntrup761, "sha512")

/**
 * `sntrup761x25519-sha512` (draft-ietf-sshm-ntruprime-ssh).
 *
 * @since 0.1.0
 * @category methods
 */
export const sntrup761x25519Sha512: KexMethod = {
  _tag: "Ephemeral",
  name: "sntrup761x25519-sha512",
  exchange: sntrupExchange
}

/**
 * `sntrup761x25519-sha512@openssh.com`, the same method under the name OpenSSH 8.5–9.x negotiate by default.
 *
 * @since 0.1.0
 * @category methods
 */
export const sntrup761x25519Sha512OpenSsh: KexMethod = {
  _tag: "Ephemeral",
  name: "sntrup761x25519-sha512@openssh.com",
  exchange: sntrupExchange
}
