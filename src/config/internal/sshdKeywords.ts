/**
 * The keywords of sshd_config(5) as OpenSSH 9.2 knows them: how each combines when repeated (first value wins,
 * first line wins, or every line adds), whether it may appear in a Match block, how its arguments are checked and
 * normalised (to the form `sshd -T` prints), and whether effect-ssh applies it.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Lexer from "./sshdLexer.js"

/** How repeated lines combine (openssh servconf.c). */
export type Combine = "first" | "accumulate"

/** One keyword. */
export interface Keyword {
  /** The lower-case name `sshd -T` prints. */
  readonly name: string
  readonly combine: Combine
  /** Allowed inside Match blocks (sshd_config(5) "Match"). */
  readonly inMatch: boolean
  /** effect-ssh applies it; otherwise it is accepted and reported as ignored. */
  readonly applied: boolean
  /** Checks and normalises one line's arguments; Left is the message. */
  readonly check: (args: ReadonlyArray<string>) => Either.Either<ReadonlyArray<string>, string>
}

type Check = Keyword["check"]

const one = (f: (arg: string) => string | undefined, what: string): Check => (args) => {
  if (args.length !== 1) return Either.left(args.length === 0 ? "missing argument" : "garbage at end of line")
  const v = f(args[0]!)
  return v === undefined ? Either.left(`${what}: ${args[0]}`) : Either.right([v])
}

const yesNo = one((a) => {
  const v = Lexer.flag(a)
  return v === undefined ? undefined : v ? "yes" : "no"
}, "Bad yes/no argument")

const choice = (values: Readonly<Record<string, string>>, what = "unsupported option") =>
  one((a) => values[a.toLowerCase()], what)

const int = one((a) => Lexer.integer(a)?.toString(), "invalid integer")
const time = one((a) => Lexer.seconds(a)?.toString(), "invalid time value")
const text = one((a) => a, "invalid argument")
const any: Check = (args) => Either.right(args)
const list: Check = (args) => (args.length === 0 ? Either.left("missing argument") : Either.right(args))
/** Everything after the keyword as one value (ForceCommand, Subsystem's command). */
const rest: Check = (args) => Either.right([args.join(" ")])

const port = one((a) => {
  const n = Lexer.integer(a)
  return n !== undefined && n > 0 && n <= 65535 ? String(n) : undefined
}, "Badly formatted port number")

/** servconf.c: `type=interval` pairs (the type may hold wildcards); printed as written. */
const channelTimeout: Check = (args) => {
  if (args.length === 0) return Either.left("missing argument")
  for (const a of args) {
    const eq = a.indexOf("=")
    if (eq <= 0 || Lexer.seconds(a.slice(eq + 1)) === undefined) return Either.left(`invalid channel timeout ${a}`)
  }
  return Either.right(args)
}

const maxStartups = one((a) => {
  const m = /^(\d+)(?::(\d+):(\d+))?$/.exec(a)
  if (m === null) return undefined
  const start = Number(m[1])
  const rate = m[2] === undefined ? 30 : Number(m[2])
  const full = m[3] === undefined ? start : Number(m[3])
  return start > full || rate > 100 || rate < 1 || start < 1 ? undefined : `${start}:${rate}:${full}`
}, "Invalid MaxStartups spec")

const rekeyLimit: Check = (args) => {
  if (args.length < 1 || args.length > 2) return Either.left("invalid RekeyLimit")
  const b = args[0]!.toLowerCase() === "default" || args[0]!.toLowerCase() === "none" ? 0 : Lexer.bytes(args[0]!)
  if (b === undefined || (b !== 0 && b < 16)) return Either.left(`RekeyLimit too small or invalid: ${args[0]}`)
  const t = args[1] === undefined || args[1].toLowerCase() === "default" || args[1].toLowerCase() === "none"
    ? 0
    : Lexer.seconds(args[1])
  return t === undefined ? Either.left(`invalid rekeying time: ${args[1]}`) : Either.right([String(b), String(t)])
}

const logLevel = one((a) => {
  const u = a.toUpperCase()
  return ["QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG", "DEBUG1", "DEBUG2", "DEBUG3"].includes(u)
    ? (u === "DEBUG1" ? "DEBUG" : u)
    : undefined
}, "unsupported log level")

const METHODS = new Set(["publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic", "none"])

const authenticationMethods: Check = (args) => {
  if (args.length === 1 && args[0] === "any") return Either.right(["any"])
  for (const chain of args) {
    for (const m of chain.split(",")) {
      const base = m.startsWith("keyboard-interactive:") ? "keyboard-interactive" : m
      if (!METHODS.has(base)) return Either.left(`invalid authentication method list "${chain}"`)
    }
  }
  return list(args)
}

const permitListen: Check = (args) => {
  if (args.length === 1 && (args[0] === "any" || args[0] === "none")) return Either.right(args)
  const out: Array<string> = []
  for (const a of args) {
    if (/^(\d+|\*)$/.test(a)) out.push(`*:${a}`)
    else if (/^.+:(\d+|\*)$/.test(a)) out.push(a)
    else return Either.left(`invalid permit listen specification "${a}"`)
  }
  return list(out)
}

const permitOpen: Check = (args) => {
  if (args.length === 1 && (args[0] === "any" || args[0] === "none")) return Either.right(args)
  for (const a of args) if (!/^.+:(\d+|\*)$/.test(a)) return Either.left(`invalid permit open specification "${a}"`)
  return list(args)
}

const listenAddress: Check = (args) => {
  if (args.length < 1 || args.length > 3) return Either.left("missing address")
  const a = args[0]!
  if (!/^(\[[0-9A-Fa-f:.]+\](:\d{1,5})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*|[^:[\]]+(:\d{1,5})?)$/.test(a)) {
    return Either.left(`bad address:port usage: ${a}`)
  }
  return Either.right([a])
}

const subsystem: Check = (args) =>
  args.length < 2 ? Either.left("missing subsystem command") : Either.right([args[0]!, args.slice(1).join(" ")])

const forwarding = choice({ yes: "yes", all: "yes", no: "no", local: "local", remote: "remote" })

const k = (name: string, combine: Combine, inMatch: boolean, applied: boolean, check: Check): Keyword => ({
  name,
  combine,
  inMatch,
  applied,
  check
})

/** The keywords effect-ssh applies (issue 16), by lower-case name. */
const APPLIED: ReadonlyArray<Keyword> = [
  k("port", "accumulate", false, true, port),
  k("listenaddress", "accumulate", false, true, listenAddress),
  k("addressfamily", "first", false, true, choice({ any: "any", inet: "inet", inet6: "inet6" })),
  k("hostkey", "accumulate", false, true, text),
  k("hostcertificate", "accumulate", false, true, text),
  k("authorizedkeysfile", "first", true, true, list),
  k("trustedusercakeys", "first", true, true, text),
  k("revokedkeys", "first", true, true, text),
  k("authenticationmethods", "first", true, true, authenticationMethods),
  k("passwordauthentication", "first", true, true, yesNo),
  k("kbdinteractiveauthentication", "first", true, true, yesNo),
  k("pubkeyauthentication", "first", true, true, yesNo),
  k("permitrootlogin", "first", true, true, choice({
    yes: "yes",
    no: "no",
    "prohibit-password": "without-password",
    "without-password": "without-password",
    "forced-commands-only": "forced-commands-only"
  })),
  k("allowusers", "accumulate", true, true, list),
  k("denyusers", "accumulate", true, true, list),
  k("allowgroups", "accumulate", true, true, list),
  k("denygroups", "accumulate", true, true, list),
  k("maxauthtries", "first", true, true, int),
  k("maxsessions", "first", true, true, int),
  k("maxstartups", "first", false, true, maxStartups),
  k("persourcemaxstartups", "first", false, true, one((a) => (a === "none" ? "none" : Lexer.integer(a)?.toString()), "invalid number")),
  k("logingracetime", "first", false, true, time),
  k("clientaliveinterval", "first", true, true, time),
  k("clientalivecountmax", "first", true, true, int),
  k("unusedconnectiontimeout", "first", true, true, one((a) => (a === "none" ? "none" : Lexer.seconds(a)?.toString()), "invalid time value")),
  k("channeltimeout", "first", true, true, channelTimeout),
  k("banner", "first", true, true, text),
  k("subsystem", "accumulate", false, true, subsystem),
  k("forcecommand", "first", true, true, rest),
  k("chrootdirectory", "first", true, true, text),
  k("acceptenv", "accumulate", true, true, list),
  k("setenv", "first", true, true, list),
  k("permittty", "first", true, true, yesNo),
  k("permituserenvironment", "first", true, true, one((a) => Lexer.flag(a) === undefined ? a : a.toLowerCase(), "")),
  k("allowtcpforwarding", "first", true, true, forwarding),
  k("allowstreamlocalforwarding", "first", true, true, forwarding),
  k("allowagentforwarding", "first", true, true, yesNo),
  k("gatewayports", "first", true, true, choice({ yes: "yes", no: "no", clientspecified: "clientspecified" })),
  k("disableforwarding", "first", true, true, yesNo),
  k("x11forwarding", "first", true, true, yesNo),
  k("x11displayoffset", "first", true, true, int),
  k("x11uselocalhost", "first", true, true, yesNo),
  k("permittunnel", "first", true, true, choice({ yes: "yes", no: "no", "point-to-point": "point-to-point", ethernet: "ethernet" })),
  k("permitopen", "first", true, true, permitOpen),
  k("permitlisten", "first", true, true, permitListen),
  k("kexalgorithms", "first", false, true, text),
  k("ciphers", "first", false, true, text),
  k("macs", "first", false, true, text),
  k("hostkeyalgorithms", "first", false, true, text),
  k("pubkeyacceptedalgorithms", "first", true, true, text),
  k("casignaturealgorithms", "first", true, true, text),
  k("rekeylimit", "first", true, true, rekeyLimit),
  k("loglevel", "first", true, true, logLevel),
  k("persourcepenalties", "first", false, true, list),
  k("persourcepenaltyexemptlist", "first", false, true, text)
]

/** Keywords of OpenSSH 9.2's sshd that effect-ssh accepts and does not apply (reported as ignored). */
const IGNORED: ReadonlyArray<[string, boolean]> = [
  ["authorizedkeyscommand", true], ["authorizedkeyscommanduser", true], ["authorizedprincipalscommand", true],
  ["authorizedprincipalscommanduser", true], ["authorizedprincipalsfile", true],
  ["compression", false], ["debianbanner", false], ["exposeauthinfo", true], ["fingerprinthash", false],
  ["gssapiauthentication", true], ["gssapicleanupcredentials", false], ["gssapikeyexchange", false],
  ["gssapistrictacceptorcheck", false], ["gssapistorecredentialsonrekey", false], ["gssapikexalgorithms", false],
  ["hostbasedacceptedalgorithms", true], ["hostbasedauthentication", true], ["hostbasedusesnamefrompacketonly", true],
  ["hostkeyagent", false], ["ignorerhosts", true], ["ignoreuserknownhosts", false], ["ipqos", true],
  ["kerberosauthentication", true], ["kerberosgetafstoken", false], ["kerberosorlocalpasswd", false],
  ["kerberosticketcleanup", false], ["logverbose", true], ["modulifile", false], ["permitemptypasswords", true],
  ["permituserrc", true], ["persourcenetblocksize", false], ["pidfile", false],
  ["printlastlog", false], ["printmotd", false], ["rdomain", true], ["requiredrsasize", true],
  ["securitykeyprovider", false], ["streamlocalbindmask", true], ["streamlocalbindunlink", true],
  ["strictmodes", false], ["syslogfacility", false], ["tcpkeepalive", false], ["usedns", false], ["usepam", false],
  ["versionaddendum", false], ["xauthlocation", false],
  ["pubkeyauthoptions", true], ["hostbasedacceptedkeytypes", true]
]

/** Old names sshd still reads as another keyword (openssh servconf.c keywords[] aliases). */
const ALIASES: Readonly<Record<string, string>> = {
  challengeresponseauthentication: "kbdinteractiveauthentication",
  pubkeyacceptedkeytypes: "pubkeyacceptedalgorithms",
  hostbasedacceptedkeytypes: "hostbasedacceptedalgorithms",
  dsaauthentication: "pubkeyauthentication"
}

/** Keywords sshd accepts and ignores entirely ("Deprecated option"). */
export const DEPRECATED: ReadonlySet<string> = new Set([
  "protocol", "useprivilegeseparation", "rsaauthentication", "rhostsrsaauthentication", "keyregenerationinterval",
  "serverkeybits", "uselogin", "skeyauthentication", "rhostsauthentication", "verifyreversemapping",
  "reversemappingcheck", "kerberostgtpassing", "afstokenpassing", "showpatchlevel"
])

const TABLE: ReadonlyMap<string, Keyword> = new Map([
  ...APPLIED.map((kw) => [kw.name, kw] as const),
  ...IGNORED.map(([name, inMatch]) => [name, k(name, "first", inMatch, false, any)] as const)
])

/** The keyword named `word` (any case, aliases resolved), or undefined for an unknown keyword. */
export const lookup = (word: string): Keyword | undefined => {
  const lower = word.toLowerCase()
  return TABLE.get(ALIASES[lower] ?? lower)
}

/** Every keyword effect-ssh applies, in the order `-T` prints them. */
export const applied: ReadonlyArray<Keyword> = APPLIED
