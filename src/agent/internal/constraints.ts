/**
 * Key constraints of the agent protocol (RFC 9987 §4.2.6; OpenSSH PROTOCOL.agent §2–3): their codec, strict about
 * lengths (SEC-60: a malformed constraint is a WireError, golang CVE-2025-47914). Which constraints an agent
 * enforces is the agent's decision (SEC-61); the codec keeps unknown extension constraints so they can be refused.
 *
 * @since 0.1.0
 */
import type * as Reader from "../../wire/Reader.js"
import { WireError } from "../../wire/WireError.js"
import type * as Writer from "../../wire/Writer.js"

/**
 * One key constraint.
 *
 * - `Lifetime`: the agent deletes the key after `seconds` (SSH_AGENT_CONSTRAIN_LIFETIME, 1).
 * - `Confirm`: every use must be confirmed (SSH_AGENT_CONSTRAIN_CONFIRM, 2).
 * - `MaxSign`: OpenSSH's XMSS signature budget (SSH_AGENT_CONSTRAIN_MAXSIGN, 3).
 * - `Extension`: SSH_AGENT_CONSTRAIN_EXTENSION (255) with its name and body, e.g.
 *   `restrict-destination-v00@openssh.com`; an extension's body has no length of its own, so it runs to the end
 *   of the message (OpenSSH sends extensions last).
 *
 * @since 0.1.0
 * @category models
 */
export type Constraint =
  | { readonly _tag: "Lifetime"; readonly seconds: number }
  | { readonly _tag: "Confirm" }
  | { readonly _tag: "MaxSign"; readonly signatures: number }
  | { readonly _tag: "Extension"; readonly name: string; readonly data: Uint8Array }

const LIFETIME = 1
const CONFIRM = 2
const MAXSIGN = 3
const EXTENSION = 255

/** @internal */
export const bounded = (s: string, max: number, what: string): string => {
  if (s.length > max) throw new WireError({ reason: "TooLarge", description: `${what} over ${max} characters` })
  return s
}

/** @internal */
export const writeConstraints = (w: Writer.Writer, constraints: ReadonlyArray<Constraint>): void => {
  for (const c of constraints) {
    switch (c._tag) {
      case "Lifetime":
        w.byte(LIFETIME).uint32(c.seconds)
        break
      case "Confirm":
        w.byte(CONFIRM)
        break
      case "MaxSign":
        w.byte(MAXSIGN).uint32(c.signatures)
        break
      case "Extension":
        w.byte(EXTENSION).string(c.name).raw(c.data)
        break
    }
  }
}

/** Reads constraints up to the end of the message; a repeated constraint is refused (ssh-agent.c does so). @internal */
export const readConstraints = (r: Reader.Reader): ReadonlyArray<Constraint> => {
  const out: Array<Constraint> = []
  const seen = new Set<number>()
  while (r.remaining > 0) {
    const type = r.byte()
    if (type !== EXTENSION && seen.has(type)) {
      throw new WireError({ reason: "Invalid", description: `constraint ${type} given twice` })
    }
    seen.add(type)
    switch (type) {
      case LIFETIME:
        out.push({ _tag: "Lifetime", seconds: r.uint32() })
        break
      case CONFIRM:
        out.push({ _tag: "Confirm" })
        break
      case MAXSIGN:
        out.push({ _tag: "MaxSign", signatures: r.uint32() })
        break
      case EXTENSION: {
        const name = bounded(r.ascii(), 256, "constraint extension name")
        out.push({ _tag: "Extension", name, data: r.raw(r.remaining).slice() })
        break
      }
      default:
        throw new WireError({ reason: "Invalid", description: `unknown constraint ${type}` })
    }
  }
  return out
}
