/**
 * The cipher × MAC pairs the loopback and interop matrices run. The full product (3 AEAD + 7 × 16) would make
 * them five times longer for little: the MAC code is the same under every non-AEAD cipher, and the cipher code
 * the same under every MAC of one kind. So: every MAC under aes128-ctr, and every non-AEAD cipher under one
 * encrypt-then-MAC and one encrypt-and-MAC MAC (the two framings, RFC 4253 §6 and OpenSSH PROTOCOL §1.5).
 */
import * as Algorithms from "../../src/crypto/Algorithms.js"
import { isAeadCipher } from "../../src/crypto/Negotiate.js"

/** One cipher and its MAC (`undefined` for AEAD ciphers). */
export type CipherMac = readonly [cipher: string, mac: string | undefined]

const FRAMINGS = ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"]

/** The pairs, in `Algorithms.CIPHERS` order, without duplicates. */
export const cipherMacPairs: ReadonlyArray<CipherMac> = (() => {
  const out: Array<CipherMac> = []
  const seen = new Set<string>()
  const add = (c: string, m: string | undefined) => {
    const key = `${c} ${m}`
    if (!seen.has(key)) {
      seen.add(key)
      out.push([c, m])
    }
  }
  for (const c of Algorithms.CIPHERS) {
    if (isAeadCipher(c)) add(c, undefined)
    else for (const m of c === "aes128-ctr" ? Algorithms.MACS : FRAMINGS) add(c, m)
  }
  return out
})()

/**
 * What old equipment typically speaks (CBC with HMAC-SHA1 or HMAC-MD5, 3DES), and UMAC under CBC: extra pairs for
 * the interop matrices.
 */
export const APPLIANCE_PAIRS: ReadonlyArray<CipherMac> = [
  ["aes128-cbc", "hmac-sha1"],
  ["aes256-cbc", "hmac-sha1-96"],
  ["3des-cbc", "hmac-sha1"],
  ["3des-cbc", "hmac-md5"],
  ["aes128-cbc", "umac-64@openssh.com"],
  ["aes128-cbc", "umac-128-etm@openssh.com"]
]

/** The algorithm options that select one pair; both sides need them, since legacy names are off by default. */
export const algorithmsFor = ([cipher, mac]: CipherMac) => ({ cipher: [cipher], ...(mac ? { mac: [mac] } : {}) })
