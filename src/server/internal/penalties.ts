/**
 * Per-source penalties, after OpenSSH 9.8's PerSourcePenalties (srclimit.c): events of a connection from an
 * address add seconds to that address's penalty (capped at `max`); while the accumulated penalty is at least
 * `min`, new connections from it are refused before a byte is sent. Pure: the caller passes the clock.
 * The table holds at most `maxSources` addresses; when it is full, expired entries are dropped, and if none
 * expired new penalties are not recorded (OpenSSH's `overflow:permissive`), so memory stays bounded.
 *
 * @since 0.1.0
 */
import * as Match from "../../keys/Match.js"

/** What a connection did that costs its source (seconds each). */
export type PenaltyEvent = "crash" | "authfail" | "noauth" | "grace-exceeded"

/** The PerSourcePenalties settings, in seconds. */
export interface PenaltyOptions {
  readonly crash: number
  readonly authfail: number
  readonly noauth: number
  readonly "grace-exceeded": number
  readonly max: number
  readonly min: number
  readonly maxSources: number
  /** Addresses never penalised (PerSourcePenaltyExemptList, a `from=`-style address list). */
  readonly exempt?: string | undefined
}

/** OpenSSH 9.8's defaults (sshd_config(5) PerSourcePenalties). */
export const DEFAULTS: PenaltyOptions = {
  crash: 90,
  authfail: 5,
  noauth: 1,
  "grace-exceeded": 20,
  max: 600,
  min: 15,
  maxSources: 65536
}

/** Parses `PerSourcePenalties` arguments (`crash:90 authfail:5 … max:600 min:15 max-sources4:N`, or `no`). */
export const parse = (args: ReadonlyArray<string>): PenaltyOptions | "off" | string => {
  if (args.length === 1 && args[0] === "no") return "off"
  let out: PenaltyOptions = DEFAULTS
  for (const arg of args) {
    if (arg === "yes") continue
    const m = /^(crash|authfail|noauth|grace-exceeded|max|min|max-sources4|max-sources6):(\d+)$/.exec(arg)
    if (m === null) return `invalid PerSourcePenalties entry "${arg}"`
    const key = m[1]!.startsWith("max-sources") ? "maxSources" : m[1]!
    out = { ...out, [key]: Number(m[2]) }
  }
  return out
}

interface Entry {
  /** Milliseconds since the epoch when the penalty has run out. */
  expires: number
  active: boolean
}

/** The penalty table of one listener. */
export class Penalties {
  private readonly table = new Map<string, Entry>()
  constructor(readonly options: PenaltyOptions) {}

  /** Whether connections from `address` are refused at `now` (ms). */
  blocked(address: string, now: number): boolean {
    const e = this.table.get(address)
    if (e === undefined) return false
    if (e.expires <= now) {
      this.table.delete(address)
      return false
    }
    return e.active
  }

  /** Records `event` for `address` at `now` (ms). */
  record(address: string, event: PenaltyEvent, now: number): void {
    if (this.options.exempt !== undefined && Match.addressList(address, this.options.exempt) === 1) return
    let e = this.table.get(address)
    if (e === undefined) {
      if (this.table.size >= this.options.maxSources) this.expire(now)
      if (this.table.size >= this.options.maxSources) return
      e = { expires: now, active: false }
      this.table.set(address, e)
    }
    const remaining = Math.max(0, e.expires - now)
    const total = Math.min(this.options.max * 1000, remaining + this.options[event] * 1000)
    e.expires = now + total
    if (total >= this.options.min * 1000) e.active = true
  }

  /** Addresses in the table (for tests and logs). */
  get size(): number {
    return this.table.size
  }

  private expire(now: number): void {
    for (const [k, e] of this.table) if (e.expires <= now) this.table.delete(k)
  }
}
