/**
 * File names on the SFTP wire are bytes (filexfer-02 §3: version 3 names are not required to be UTF-8), and a
 * server may hold names that are not valid UTF-8. effect-ssh keeps them as strings, losslessly, the way Python
 * does with `surrogateescape` (PEP 383): valid UTF-8 decodes as usual; every byte of an invalid sequence becomes
 * the lone surrogate U+DC80–U+DCFF (U+DC00 + the byte), and encoding turns such a lone surrogate back into its
 * byte. So a name read from a server and passed back names the same file, and an invalid name is visible as
 * such (its surrogates print as U+FFFD in most terminals).
 *
 * @example
 * ```ts
 * import { SftpNames } from "effect-ssh"
 *
 * const name = SftpNames.decode(new Uint8Array([0x63, 0x61, 0x66, 0xe9])) // "caf\udce9" (Latin-1 "café")
 * const bytes = SftpNames.encode(name) // 63 61 66 e9 again
 * ```
 *
 * @since 0.1.0
 */

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const utf8 = new TextEncoder()
/** A lone surrogate of the escape range (not the low half of a valid pair). */
const ESCAPED = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/

/** The length of the valid UTF-8 sequence at `i`, or 0 (WHATWG rules: no overlongs, surrogates or > U+10FFFF). */
const sequence = (b: Uint8Array, i: number): number => {
  const c = b[i]!
  if (c < 0x80) return 1
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0
  if (c >= 0xe0 && c <= 0xef) {
    const c1 = b[i + 1] ?? 0
    if (c === 0xe0 && c1 < 0xa0) return 0
    if (c === 0xed && c1 > 0x9f) return 0
    return cont(1) && cont(2) ? 3 : 0
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const c1 = b[i + 1] ?? 0
    if (c === 0xf0 && c1 < 0x90) return 0
    if (c === 0xf4 && c1 > 0x8f) return 0
    return cont(1) && cont(2) && cont(3) ? 4 : 0
  }
  return 0
}

/**
 * A name's bytes as a string: UTF-8, with each byte of an invalid sequence as U+DC00 + byte. Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (bytes: Uint8Array): string => {
  try {
    return strict.decode(bytes)
  } catch {
    let out = ""
    let i = 0
    while (i < bytes.length) {
      const n = sequence(bytes, i)
      if (n === 0) {
        out += String.fromCharCode(0xdc00 + bytes[i]!)
        i += 1
      } else {
        out += strict.decode(bytes.subarray(i, i + n))
        i += n
      }
    }
    return out
  }
}

/**
 * A name as bytes: UTF-8, with each lone U+DC80–U+DCFF as its byte (the inverse of `decode`).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (name: string): Uint8Array => {
  if (!ESCAPED.test(name)) return utf8.encode(name)
  const parts: Array<Uint8Array> = []
  let run = ""
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    const paired = i > 0 && name.charCodeAt(i - 1) >= 0xd800 && name.charCodeAt(i - 1) <= 0xdbff
    if (c >= 0xdc80 && c <= 0xdcff && !paired) {
      parts.push(utf8.encode(run), Uint8Array.of(c - 0xdc00))
      run = ""
    } else run += name[i]
  }
  parts.push(utf8.encode(run))
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let p = 0
  for (const part of parts) {
    out.set(part, p)
    p += part.length
  }
  return out
}

/**
 * True when a name holds escaped bytes (it was not valid UTF-8 on the wire).
 *
 * @since 0.1.0
 * @category predicates
 */
export const hasEscapes = (name: string): boolean => ESCAPED.test(name)
