/**
 * The ssh_config(5) keyword table of OpenSSH 9.2 (readconf.c `keywords[]`): every keyword is parsed and its
 * value checked the way ssh checks it, whether or not its block applies; a value is stored only when the block
 * applies and the option has no value yet (the first value wins). Keywords effect-ssh does not act on are kept
 * by name in `other`, so `-v` can report them.
 *
 * @since 0.1.0
 */
import * as Match from "../../keys/Match.js"
import { type ForwardSpec, parseForward } from "./forward.js"
import type { RawLine } from "./lexer.js"

/**
 * The options as they accumulate, before defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  hostname?: string
  user?: string
  port?: number
  identityFiles: Array<string>
  certificateFiles: Array<string>
  identitiesOnly?: boolean
  identityAgent?: string
  proxyJump?: string
  proxyCommand?: string
  /** Seconds; -1 for `none`. */
  connectTimeout?: number
  serverAliveInterval?: number
  serverAliveCountMax?: number
  strictHostKeyChecking?: "yes" | "no" | "ask" | "accept-new"
  userKnownHostsFiles?: Array<string>
  globalKnownHostsFiles?: Array<string>
  hashKnownHosts?: boolean
  checkHostIP?: boolean
  updateHostKeys?: "yes" | "no" | "ask"
  kexAlgorithms?: string
  ciphers?: string
  macs?: string
  hostKeyAlgorithms?: string
  pubkeyAcceptedAlgorithms?: string
  caSignatureAlgorithms?: string
  preferredAuthentications?: string
  passwordAuthentication?: boolean
  kbdInteractiveAuthentication?: boolean
  pubkeyAuthentication?: boolean
  batchMode?: boolean
  compression?: boolean
  rekeyLimit?: number
  rekeyInterval?: number
  sendEnv: Array<string>
  setEnv: Array<string>
  requestTTY?: "auto" | "yes" | "no" | "force"
  localForwards: Array<ForwardSpec>
  remoteForwards: Array<ForwardSpec>
  exitOnForwardFailure?: boolean
  /** A boolean, or the agent socket path to forward. */
  forwardAgent?: boolean | string
  logLevel?: LogLevel
  hostKeyAlias?: string
  remoteCommand?: string
  canonicalizeHostname?: "yes" | "no" | "always"
  numberOfPasswordPrompts?: number
  ignoreUnknown?: string
  /** Every other keyword, canonical name → first applicable arguments. */
  other: Map<string, ReadonlyArray<string>>
}

/**
 * OpenSSH log levels (log.c), in ssh -G's spelling.
 *
 * @since 0.1.0
 * @category models
 */
export type LogLevel = "QUIET" | "FATAL" | "ERROR" | "INFO" | "VERBOSE" | "DEBUG1" | "DEBUG2" | "DEBUG3"

/**
 * A fresh, empty set of options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (): Options => ({
  identityFiles: [],
  certificateFiles: [],
  sendEnv: [],
  setEnv: [],
  localForwards: [],
  remoteForwards: [],
  other: new Map()
})

type Handler = (line: RawLine, active: boolean, o: Options) => string | undefined
type Field<T> = { [K in keyof Options]-?: Options[K] extends T | undefined ? K : never }[keyof Options]

const FLAG: Readonly<Record<string, boolean>> = { true: true, false: false, yes: true, no: false }

const first = (line: RawLine): string | undefined => line.args[0] === "" ? undefined : line.args[0]

const set = <K extends keyof Options>(o: Options, active: boolean, key: K, value: Options[K]) => {
  if (active && o[key] === undefined) o[key] = value
}

const multistate = <K extends Field<string | boolean>>(key: K, table: Readonly<Record<string, Options[K]>>): Handler =>
(line, active, o) => {
  const arg = first(line)?.toLowerCase()
  if (arg === undefined || !Object.hasOwn(table, arg)) return `unsupported option "${line.args[0] ?? ""}"`
  set(o, active, key, table[arg]!)
  return undefined
}

const flag = (key: Field<boolean>): Handler => multistate(key, FLAG)

const string = (key: Field<string>): Handler => (line, active, o) => {
  const arg = first(line)
  if (arg === undefined) return "missing argument"
  set(o, active, key, arg)
  return undefined
}

/** misc.c convtime: `30`, `90s`, `1h30m`; -1 when malformed. */
export const convtime = (text: string): number => {
  if (!/^(\d+[sSmMhHdDwW]?)+$/.test(text)) return -1
  const unit: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
  let total = 0
  for (const [, n, u] of text.matchAll(/(\d+)([smhdw]?)/gi)) total += Number(n) * unit[u!.toLowerCase()]!
  return total > 2147483647 ? -1 : total
}

const time = (key: Field<number>, noneAllowed = false): Handler => (line, active, o) => {
  const arg = first(line)
  if (arg === undefined) return "missing time value"
  const value = noneAllowed && arg === "none" ? -1 : convtime(arg)
  if (value === -1 && !(noneAllowed && arg === "none")) return `invalid time value "${arg}"`
  set(o, active, key, value)
  return undefined
}

const integer = (key: Field<number>): Handler => (line, active, o) => {
  const arg = first(line)
  if (arg === undefined || !/^-?\d+$/.test(arg)) return `bad number "${arg ?? ""}"`
  set(o, active, key, Number(arg))
  return undefined
}

const algorithms = (key: Field<string>): Handler => (line, active, o) => {
  const arg = first(line)
  if (arg === undefined) return "missing argument"
  const names = /^[+^-]/.test(arg) ? arg.slice(1) : arg
  if (names.split(",").some((n) => n === "")) return `bad algorithm list "${arg}"`
  set(o, active, key, arg)
  return undefined
}

const charArray = (key: "userKnownHostsFiles" | "globalKnownHostsFiles"): Handler => (line, active, o) => {
  if (line.args.length === 0) return "missing argument"
  if (active && o[key] === undefined) o[key] = [...line.args]
  return undefined
}

const fileList = (key: "identityFiles" | "certificateFiles"): Handler => (line, active, o) => {
  const arg = first(line)
  if (arg === undefined) return "missing argument"
  if (active && o[key].length < 100) o[key].push(arg)
  return undefined
}

/** The rest of the line, after blanks and `=` (readconf.c parse_command). */
const command = (key: "proxyCommand" | "remoteCommand"): Handler => (line, active, o) => {
  // ProxyCommand after ProxyJump is ignored (readconf.c: "Ignore ProxyCommand if ProxyJump already specified").
  if (key === "proxyCommand" && o.proxyJump !== undefined) return undefined
  set(o, active, key, line.rest.replace(/^[ \t=]+/, ""))
  return undefined
}

const forward = (kind: "local" | "remote" | "dynamic"): Handler => (line, active, o) => {
  const [a, b] = line.args
  if (a === undefined || a === "") return "missing argument"
  const dynamic = kind === "dynamic" || ((b === undefined || b === "") && kind === "remote")
  if (!dynamic && (b === undefined || b === "")) return "missing target argument"
  const spec = parseForward(dynamic ? a : `${a}:${b}`, dynamic && kind === "dynamic" ? "dynamic" : kind)
  if (spec === undefined) return "bad forwarding specification"
  if (active) {
    const list = kind === "remote" ? o.remoteForwards : o.localForwards
    // add_local_forward / add_remote_forward drop exact duplicates.
    if (!list.some((f) => JSON.stringify(f) === JSON.stringify(spec))) list.push(spec)
  }
  return undefined
}

const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  quiet: "QUIET",
  fatal: "FATAL",
  error: "ERROR",
  info: "INFO",
  verbose: "VERBOSE",
  debug: "DEBUG1",
  debug1: "DEBUG1",
  debug2: "DEBUG2",
  debug3: "DEBUG3"
}

/** Keywords stored by name only, with the canonical name and how many arguments they take. */
const other = (name: string, multi = false): Handler => (line, active, o) => {
  if (line.args.length === 0) return "missing argument"
  if (active && !o.other.has(name)) o.other.set(name, multi ? line.args : [line.args[0]!])
  return undefined
}

const ignore: Handler = () => undefined

/** `Unsupported` and `Deprecated` keywords (readconf.c oUnsupported/oDeprecated): accepted and ignored. */
const IGNORED = [
  "protocol",
  "cipher",
  "fallbacktorsh",
  "globalknownhostsfile2",
  "rhostsauthentication",
  "userknownhostsfile2",
  "useroaming",
  "usersh",
  "useprivilegedport",
  "afstokenpassing",
  "kerberosauthentication",
  "kerberostgtpassing",
  "rsaauthentication",
  "rhostsrsaauthentication",
  "compressionlevel"
]

/**
 * Handlers by lower-case keyword (aliases included). Host, Match and Include are the resolver's.
 *
 * @since 0.1.0
 * @category constants
 */
export const HANDLERS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ...IGNORED.map((k) => [k, ignore] as const),
  ["hostname", string("hostname")],
  ["user", string("user")],
  ["port", (line, active, o) => {
    const arg = first(line) ?? ""
    const value = /^\d{1,5}$/.test(arg) ? Number(arg) : -1
    if (value <= 0 || value > 65535) return `bad port "${arg}"`
    set(o, active, "port", value)
    return undefined
  }],
  ["identityfile", fileList("identityFiles")],
  ["identityfile2", fileList("identityFiles")],
  ["certificatefile", fileList("certificateFiles")],
  ["identitiesonly", flag("identitiesOnly")],
  ["identityagent", string("identityAgent")],
  ["proxyjump", (line, active, o) => {
    const text = line.rest.replace(/^[ \t=]+/, "").replace(/#.*$/, "").trim()
    if (text === "") return "missing argument"
    if (text.toLowerCase() !== "none" && text.split(",").some((h) => !/^(ssh:\/\/)?([^@\s]+@)?[^@\s]+$/i.test(h))) {
      return `invalid ProxyJump "${text}"`
    }
    if (active && o.proxyJump === undefined && o.proxyCommand === undefined) o.proxyJump = text
    return undefined
  }],
  ["proxycommand", command("proxyCommand")],
  ["remotecommand", command("remoteCommand")],
  ["connecttimeout", time("connectTimeout", true)],
  ["serveraliveinterval", time("serverAliveInterval")],
  ["serveralivecountmax", integer("serverAliveCountMax")],
  ["stricthostkeychecking", multistate("strictHostKeyChecking", {
    true: "yes",
    yes: "yes",
    false: "no",
    no: "no",
    off: "no",
    ask: "ask",
    "accept-new": "accept-new"
  })],
  ["userknownhostsfile", charArray("userKnownHostsFiles")],
  ["globalknownhostsfile", charArray("globalKnownHostsFiles")],
  ["hashknownhosts", flag("hashKnownHosts")],
  // readconf.c multistate_yesnoask.
  ["updatehostkeys", multistate("updateHostKeys", { true: "yes", yes: "yes", false: "no", no: "no", ask: "ask" })],
  ["checkhostip", flag("checkHostIP")],
  ["kexalgorithms", algorithms("kexAlgorithms")],
  ["ciphers", algorithms("ciphers")],
  ["macs", algorithms("macs")],
  ["hostkeyalgorithms", algorithms("hostKeyAlgorithms")],
  ["pubkeyacceptedalgorithms", algorithms("pubkeyAcceptedAlgorithms")],
  ["pubkeyacceptedkeytypes", algorithms("pubkeyAcceptedAlgorithms")],
  ["casignaturealgorithms", algorithms("caSignatureAlgorithms")],
  ["preferredauthentications", string("preferredAuthentications")],
  ["passwordauthentication", flag("passwordAuthentication")],
  ["kbdinteractiveauthentication", flag("kbdInteractiveAuthentication")],
  ["challengeresponseauthentication", flag("kbdInteractiveAuthentication")],
  ["skeyauthentication", flag("kbdInteractiveAuthentication")],
  ["tisauthentication", flag("kbdInteractiveAuthentication")],
  ["pubkeyauthentication", multistate("pubkeyAuthentication", { ...FLAG, unbound: true, "host-bound": true })],
  ["dsaauthentication", flag("pubkeyAuthentication")],
  ["batchmode", flag("batchMode")],
  ["compression", flag("compression")],
  ["rekeylimit", (line, active, o) => {
    const arg = first(line)
    if (arg === undefined) return "missing argument"
    const bytes = arg === "default" ? 0 : scaled(arg)
    if (bytes === undefined) return `bad number "${arg}"`
    if (bytes !== 0 && bytes < 16) return "RekeyLimit too small"
    set(o, active, "rekeyLimit", bytes)
    const interval = line.args[1]
    if (interval !== undefined && interval !== "none") {
      const seconds = convtime(interval)
      if (seconds === -1) return `invalid time value "${interval}"`
      set(o, active, "rekeyInterval", seconds)
    }
    return undefined
  }],
  ["sendenv", (line, active, o) => {
    for (const arg of line.args) {
      if (arg === "" || arg.includes("=")) return "invalid environment name"
      if (!active) continue
      if (arg.startsWith("-")) {
        const pattern = arg.slice(1)
        o.sendEnv = o.sendEnv.filter((v) => !Match.glob(v, pattern))
      } else o.sendEnv.push(arg)
    }
    return undefined
  }],
  ["setenv", (line, active, o) => {
    const already = o.setEnv.length > 0
    for (const arg of line.args) {
      if (!arg.includes("=")) return "invalid SetEnv"
      if (!active || already) continue
      const name = arg.slice(0, arg.indexOf("="))
      if (!o.setEnv.some((v) => v.slice(0, v.indexOf("=")) === name)) o.setEnv.push(arg)
    }
    return undefined
  }],
  ["requesttty", multistate("requestTTY", {
    true: "yes",
    yes: "yes",
    false: "no",
    no: "no",
    force: "force",
    auto: "auto"
  })],
  ["localforward", forward("local")],
  ["remoteforward", forward("remote")],
  ["dynamicforward", forward("dynamic")],
  ["exitonforwardfailure", flag("exitOnForwardFailure")],
  ["forwardagent", (line, active, o) => {
    const arg = first(line)
    if (arg === undefined) return "missing argument"
    const value = FLAG[arg.toLowerCase()]
    set(o, active, "forwardAgent", value ?? arg)
    return undefined
  }],
  ["loglevel", (line, active, o) => {
    const level = LOG_LEVELS[(first(line) ?? "").toLowerCase()]
    if (level === undefined) return `unsupported log level "${line.args[0] ?? ""}"`
    set(o, active, "logLevel", level)
    return undefined
  }],
  ["hostkeyalias", string("hostKeyAlias")],
  ["canonicalizehostname", multistate("canonicalizeHostname", {
    true: "yes",
    yes: "yes",
    false: "no",
    no: "no",
    always: "always"
  })],
  ["numberofpasswordprompts", integer("numberOfPasswordPrompts")],
  ["ignoreunknown", string("ignoreUnknown")],
  // Parsed, stored by name, not acted on.
  ...[
    "gssapiauthentication",
    "gssapidelegatecredentials",
    "pkcs11provider",
    "smartcarddevice",
    "forwardx11",
    "forwardx11trusted",
    "forwardx11timeout",
    "xauthlocation",
    "gatewayports",
    "kbdinteractivedevices",
    "hostbasedauthentication",
    "addkeystoagent",
    "permitremoteopen",
    "escapechar",
    "connectionattempts",
    "tcpkeepalive",
    "keepalive",
    "syslogfacility",
    "logverbose",
    "bindaddress",
    "bindinterface",
    "clearallforwardings",
    "enablesshkeysign",
    "verifyhostkeydns",
    "nohostauthenticationforlocalhost",
    "addressfamily",
    "controlpath",
    "controlmaster",
    "controlpersist",
    "tunnel",
    "tunneldevice",
    "localcommand",
    "permitlocalcommand",
    "visualhostkey",
    "ipqos",
    "sessiontype",
    "stdinnull",
    "forkafterauthentication",
    "proxyusefdpass",
    "canonicaldomains",
    "canonicalizefallbacklocal",
    "canonicalizemaxdots",
    "canonicalizepermittedcnames",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "revokedhostkeys",
    "fingerprinthash",
    "hostbasedacceptedalgorithms",
    "hostbasedkeytypes",
    "securitykeyprovider",
    "knownhostscommand",
    "requiredrsasize",
    "enableescapecommandline"
  ].map((k) => [k, other(k, k === "permitremoteopen" || k === "canonicaldomains" || k === "logverbose")] as const)
])

/** misc.c scan_scaled: `1G`, `500M`, `64K`, plain bytes. */
const scaled = (text: string): number | undefined => {
  const m = /^(\d+)([KMGTkmgt]?)$/.exec(text)
  if (m === null) return undefined
  const power = { "": 0, k: 1, m: 2, g: 3, t: 4 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"]
  const n = Number(m[1]) * 1024 ** power
  return Number.isSafeInteger(n) ? n : undefined
}
