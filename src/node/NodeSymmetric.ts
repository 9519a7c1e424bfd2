/**
 * The symmetric half of the node:crypto (OpenSSL) backend (DESIGN.md §4). Everything is synchronous and per
 * call, as measured fastest on Node 20: `createCipheriv`/`createHmac` per packet, AES-CTR kept open for the
 * direction. Poly1305, which OpenSSL does not expose, is the project's WebAssembly one.
 *
 * Buffers returned by node:crypto are re-wrapped as plain `Uint8Array`s so that callers never meet `Buffer`
 * semantics (its `slice` shares memory). ChaCha20 keeps a few OpenSSL contexts open to continue a keystream.
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import type { Aead, HashAlgorithm, Hasher, StreamCipher, SymmetricPrimitives } from "../crypto/Backend.js"
import { chacha20Short, SHORT } from "../crypto/cipher/ChaCha20Short.js"
import { poly1305, poly1305Parts } from "../crypto/cipher/Poly1305.js"

const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
// Digests are small: copy them into an ArrayBuffer of their own rather than share whatever backs the Buffer.
const own = (b: Buffer): Uint8Array => new Uint8Array(b)

const randomBytes = (n: number): Uint8Array => crypto.randomFillSync(new Uint8Array(n))

const hash = (algorithm: HashAlgorithm): Hasher => {
  const h = crypto.createHash(algorithm)
  const hasher: Hasher = {
    update: (data) => {
      h.update(data)
      return hasher
    },
    digest: () => own(h.digest())
  }
  return hasher
}

const hmac = (algorithm: HashAlgorithm, key: Uint8Array, parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const m = crypto.createHmac(algorithm, key)
  for (const p of parts) m.update(p)
  return own(m.digest())
}

const aesCtr = (key: Uint8Array, iv: Uint8Array): StreamCipher => {
  // RFC 4344 §4: OpenSSL's CTR mode uses the whole 128-bit IV as a big-endian counter, as SSH requires.
  const c = crypto.createCipheriv(`aes-${key.length * 8}-ctr`, key, iv)
  return {
    update(data, out) {
      out.set(c.update(data))
    }
  }
}

const cbc = (cipher: "aes" | "3des", key: Uint8Array, iv: Uint8Array, direction: "encrypt" | "decrypt"): StreamCipher => {
  const name = cipher === "3des" ? "des-ede3-cbc" : `aes-${key.length * 8}-cbc`
  // No padding: SSH packets are whole blocks. One context for the direction keeps the CBC chain (RFC 4253 §6.3);
  // with padding off, OpenSSL returns every whole block at once, decrypting included.
  const c = direction === "encrypt"
    ? crypto.createCipheriv(name, key, iv).setAutoPadding(false)
    : crypto.createDecipheriv(name, key, iv).setAutoPadding(false)
  return {
    update(data, out) {
      out.set(c.update(data))
    }
  }
}

const aesEcb = (key: Uint8Array): StreamCipher => {
  const c = crypto.createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false)
  return {
    update(data, out) {
      out.set(c.update(data))
    }
  }
}

const gcmAlgorithm = (key: Uint8Array): crypto.CipherGCMTypes => {
  switch (key.length) {
    case 16:
      return "aes-128-gcm"
    case 24:
      return "aes-192-gcm"
    case 32:
      return "aes-256-gcm"
    default:
      throw new RangeError(`AES-GCM key of ${key.length} bytes`)
  }
}

const aesGcm = (key: Uint8Array): Aead => {
  const algorithm = gcmAlgorithm(key)
  const k = crypto.createSecretKey(key)
  return {
    seal(nonce, aad, plaintext) {
      const c = crypto.createCipheriv(algorithm, k, nonce)
      c.setAAD(aad)
      const ct = c.update(plaintext)
      c.final()
      // Fully overwritten by ciphertext and tag, so uninitialised memory never escapes (SEC-24); not from
      // Buffer's shared pool, so the caller owns the whole ArrayBuffer.
      const out = Buffer.allocUnsafeSlow(ct.length + 16)
      out.set(ct)
      out.set(c.getAuthTag(), ct.length)
      return view(out)
    },
    sealPacket(nonce, packet, aadLength) {
      const c = crypto.createCipheriv(algorithm, k, nonce)
      const aad = packet.subarray(0, aadLength)
      c.setAAD(aad)
      const ct = c.update(packet.subarray(aadLength))
      c.final()
      // Fully overwritten by AAD, ciphertext and tag (SEC-24); not pooled, as in `seal`.
      const out = Buffer.allocUnsafeSlow(aadLength + ct.length + 16)
      out.set(aad)
      out.set(ct, aadLength)
      out.set(c.getAuthTag(), aadLength + ct.length)
      return view(out)
    },
    sealParts(nonce, aad, plaintext) {
      const c = crypto.createCipheriv(algorithm, k, nonce)
      c.setAAD(aad)
      // GCM is a stream mode: each update returns exactly its input's length; the parts are never joined.
      const out: Array<Uint8Array> = plaintext.map((p) => view(c.update(p)))
      c.final()
      out.push(view(c.getAuthTag()))
      return out
    },
    open(nonce, aad, ciphertextAndTag) {
      const n = ciphertextAndTag.length - 16
      if (n < 0) return undefined
      try {
        const d = crypto.createDecipheriv(algorithm, k, nonce)
        d.setAAD(aad)
        d.setAuthTag(ciphertextAndTag.subarray(n))
        const pt = d.update(ciphertextAndTag.subarray(0, n))
        d.final() // throws when the tag does not verify
        return view(pt)
      } catch {
        return undefined
      }
    }
  }
}

// OpenSSL's "chacha20" takes a 16-byte IV: a 32-bit little-endian block counter and a 96-bit nonce (RFC 8439).
// With the counter's high word and the 64-bit nonce in the nonce field, the layout is the original DJB variant:
// 64-bit little-endian counter ‖ 64-bit nonce, as chacha20-poly1305@openssh.com needs. Reused per call.
const chachaIv = Buffer.alloc(16)

/**
 * An open OpenSSL ChaCha20 context positioned at block `next` for (key, nonce). chacha20-poly1305 asks for
 * block 0 (the Poly1305 key) and then blocks 1… (the payload) under the same key and nonce; continuing the open
 * context instead of creating a second one saves a `createCipheriv` per packet. Reuse only ever happens at the
 * exact keystream position a fresh context would start from, so the output is the same.
 */
interface ChaChaStream {
  readonly key: Uint8Array
  readonly nonce: Uint8Array
  readonly cipher: crypto.Cipher
  next: number
}

const STREAMS = 4 // the K_1 and K_2 of both directions of one connection
const streams: Array<ChaChaStream> = []

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const chachaStream = (key: Uint8Array, nonce: Uint8Array, counter: number): ChaChaStream => {
  for (let i = 0; i < streams.length; i++) {
    const s = streams[i]!
    if (s.next === counter && sameBytes(s.nonce, nonce) && sameBytes(s.key, key)) {
      streams.splice(i, 1)
      return s
    }
  }
  chachaIv.writeUInt32LE(counter >>> 0, 0)
  chachaIv.writeUInt32LE(Math.floor(counter / 0x100000000) >>> 0, 4)
  chachaIv.set(nonce, 8)
  return { key: key.slice(), nonce: nonce.slice(), cipher: crypto.createCipheriv("chacha20", key, chachaIv), next: counter }
}

const chacha20 = (key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array, out: Uint8Array): void => {
  if (data.length <= SHORT) return chacha20Short(key, nonce, counter, data, out) // one block: no createCipheriv
  const s = chachaStream(key, nonce, counter)
  out.set(s.cipher.update(data))
  // Only a context that stopped on a block boundary can serve the next block counter.
  if ((data.length & 63) === 0) {
    s.next = counter + data.length / 64
    streams.unshift(s)
    if (streams.length > STREAMS) streams.pop()
  }
}

// One context over all the parts: OpenSSL's ChaCha20 is a stream, so each update continues the keystream where
// the last stopped, and each returns exactly its input's length; nothing is joined.
const chacha20Parts = (
  key: Uint8Array,
  nonce: Uint8Array,
  counter: number,
  parts: ReadonlyArray<Uint8Array>
): ReadonlyArray<Uint8Array> => {
  const s = chachaStream(key, nonce, counter)
  const out: Array<Uint8Array> = []
  let n = 0
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!
    if (p.length === 0) continue
    out.push(view(s.cipher.update(p)))
    n += p.length
  }
  if ((n & 63) === 0) {
    s.next = counter + n / 64
    streams.unshift(s)
    if (streams.length > STREAMS) streams.pop()
  }
  return out
}

const timingSafeEqual = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && crypto.timingSafeEqual(a, b)

/**
 * Hashes, MACs, ciphers and randomness on node:crypto.
 *
 * @since 0.1.0
 * @category backends
 */
export const symmetric: SymmetricPrimitives = {
  randomBytes,
  hash,
  hmac,
  aesCtr,
  aesGcm,
  cbc,
  aesEcb,
  chacha20,
  chacha20Parts,
  poly1305,
  poly1305Parts,
  timingSafeEqual
}
