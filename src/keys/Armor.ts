/**
 * The text armor of key files: `-----BEGIN LABEL-----` … `-----END LABEL-----` around base64 (RFC 7468), with
 * the RFC 1421 §4.6 headers of legacy encrypted PEM (`Proc-Type`, `DEK-Info`), as OpenSSL and OpenSSH write it.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import type { KeyError } from "../SshError.js"
import { attempt, MAX_KEY_FILE_SIZE, parseError } from "./KeyMaterial.js"

/**
 * One armored block.
 *
 * @since 0.1.0
 * @category models
 */
export interface Armored {
  /** `OPENSSH PRIVATE KEY`, `RSA PRIVATE KEY`, `PRIVATE KEY`, … */
  readonly label: string
  /** RFC 1421 headers in order, names as written, values with continuation lines joined. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Uint8Array
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]{1,64})-----$/

/**
 * The first line of a text, trimmed, skipping blank lines.
 *
 * @since 0.1.0
 * @category decoding
 */
export const firstLine = (text: string): string => {
  for (const line of text.slice(0, 4096).split("\n")) {
    const t = line.trim()
    if (t !== "") return t
  }
  return ""
}

/**
 * Decodes the armored block at the start of `text` (blank lines before it and after it are allowed; lines may
 * end in CRLF). Fails with a `KeyError` "Parse" for a missing END line, text after it, or bad base64.
 *
 * @since 0.1.0
 * @category decoding
 */
export const dearmor = (text: string): Either.Either<Armored, KeyError> =>
  attempt(() => {
    if (text.length > MAX_KEY_FILE_SIZE) throw parseError(`key file of ${text.length} characters exceeds 1 MiB`)
    const lines = text.split("\n").map((l) => l.replace(/\r$/, ""))
    let start = 0
    while (start < lines.length && lines[start]!.trim() === "") start++
    const m = BEGIN.exec(lines[start]?.trim() ?? "")
    if (m === null) throw parseError("no -----BEGIN …----- line")
    const label = m[1]!
    const endLine = `-----END ${label}-----`
    let end = start + 1
    while (end < lines.length && lines[end]!.trim() !== endLine) end++
    if (end >= lines.length) throw parseError(`no ${endLine} line`)
    if (lines.slice(end + 1).some((l) => l.trim() !== "")) throw parseError(`text after the ${endLine} line`)
    const inner = lines.slice(start + 1, end)
    const headers: Array<readonly [string, string]> = []
    let i = 0
    // RFC 1421 §4.6: headers first, then one blank line; a line starting with blanks continues the previous one.
    if (inner.length > 0 && /^[A-Za-z-]+:/.test(inner[0]!)) {
      for (; i < inner.length && inner[i]!.trim() !== ""; i++) {
        const line = inner[i]!
        if (/^\s/.test(line) && headers.length > 0) {
          const [name, value] = headers.pop()!
          headers.push([name, value + line.trim()])
          continue
        }
        const colon = line.indexOf(":")
        if (colon < 1) throw parseError("malformed PEM header line")
        headers.push([line.slice(0, colon), line.slice(colon + 1).trim()])
      }
    }
    const b64 = inner.slice(i).map((l) => l.trim()).join("")
    const decoded = Encoding.decodeBase64(b64)
    // The DecodeException holds the input: it is not kept as the cause.
    if (Either.isLeft(decoded)) throw parseError(`the ${label} body is not valid base64`)
    return { label, headers, body: decoded.right }
  })

/**
 * The value of a header, by case-insensitive name.
 *
 * @since 0.1.0
 * @category accessors
 */
export const header = (armored: Armored, name: string): string | undefined =>
  armored.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1]

/**
 * Base64 in lines of `width` characters (64 for PEM per RFC 7468 §2; OpenSSH writes 70).
 *
 * @since 0.1.0
 * @category encoding
 */
export const wrapBase64 = (bytes: Uint8Array, width: number): ReadonlyArray<string> => {
  const b64 = Encoding.encodeBase64(bytes)
  const out: Array<string> = []
  for (let i = 0; i < b64.length; i += width) out.push(b64.slice(i, i + width))
  return out
}

/**
 * An armored block, ending in a newline.
 *
 * @since 0.1.0
 * @category encoding
 */
export const armor = (
  label: string,
  body: Uint8Array,
  width = 64,
  headers: ReadonlyArray<readonly [string, string]> = []
): string => {
  const head = headers.length === 0 ? "" : headers.map(([n, v]) => `${n}: ${v}\n`).join("") + "\n"
  return `-----BEGIN ${label}-----\n${head}${wrapBase64(body, width).join("\n")}\n-----END ${label}-----\n`
}
