/**
 * Which entries apply to a connection, and how repeated keywords combine (openssh servconf.c): the global lines
 * first (first value wins; list keywords such as AllowUsers accumulate), then the lines of every Match block
 * whose criteria hold, which replace what the global lines set (`copy_set_server_options`).
 *
 * @since 0.1.0
 */
import * as Match from "../../keys/Match.js"
import type { Criterion, Entry } from "./sshdParse.js"

/** What is known about a connection when Match blocks are evaluated (`sshd -C user=…,addr=…`). */
export interface ConnectionSpec {
  readonly user?: string | undefined
  /** The user's groups, for `Match Group` and AllowGroups/DenyGroups. */
  readonly groups?: ReadonlyArray<string> | undefined
  readonly host?: string | undefined
  readonly address?: string | undefined
  readonly localAddress?: string | undefined
  readonly localPort?: number | undefined
  readonly rdomain?: string | undefined
}

/** The values of the keywords that are set: one line's arguments per `first` keyword, every line's for the rest. */
export type Values = ReadonlyMap<string, ReadonlyArray<ReadonlyArray<string>>>

const holds = (c: Criterion, spec: ConnectionSpec): boolean => {
  switch (c.attribute) {
    case "all":
      return true
    case "user":
      return spec.user !== undefined && Match.patternList(spec.user, c.pattern) === 1
    case "group":
      return spec.groups !== undefined && spec.groups.some((g) => Match.patternList(g, c.pattern) === 1)
    case "host":
      return spec.host !== undefined && Match.patternList(spec.host, c.pattern, true) === 1
    case "address":
      return spec.address !== undefined && Match.addressList(spec.address, c.pattern) === 1
    case "localaddress":
      return spec.localAddress !== undefined && Match.addressList(spec.localAddress, c.pattern) === 1
    case "localport":
      return spec.localPort !== undefined && Number(c.pattern) === spec.localPort
    case "rdomain":
      return spec.rdomain !== undefined && Match.patternList(spec.rdomain, c.pattern) === 1
  }
}

/** Whether every Match block around an entry holds for `spec`. */
export const applies = (conditions: ReadonlyArray<ReadonlyArray<Criterion>>, spec: ConnectionSpec): boolean =>
  conditions.every((criteria) => criteria.every((c) => holds(c, spec)))

const collect = (entries: ReadonlyArray<Entry>): Map<string, Array<ReadonlyArray<string>>> => {
  const values = new Map<string, Array<ReadonlyArray<string>>>()
  for (const e of entries) {
    const name = e.keyword.name
    const seen = values.get(name)
    if (seen === undefined) values.set(name, [e.args])
    else if (e.keyword.combine === "accumulate") seen.push(e.args)
  }
  return values
}

/**
 * The effective values for a connection; without `spec`, the global values only (as `sshd -T` without `-C`).
 */
export const resolve = (entries: ReadonlyArray<Entry>, spec: ConnectionSpec | undefined): Values => {
  const values = collect(entries.filter((e) => e.conditions.length === 0))
  if (spec === undefined) return values
  const matched = collect(entries.filter((e) => e.conditions.length > 0 && applies(e.conditions, spec)))
  for (const [name, v] of matched) values.set(name, v)
  return values
}
