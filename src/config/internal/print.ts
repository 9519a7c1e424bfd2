/**
 * `ssh -G` output for the options effect-ssh implements, in readconf.c dump_client_config's order and
 * spelling (lower-case keywords; `true`/`false` for the multi-state options that print so).
 *
 * @since 0.1.0
 */
import { type ForwardSpec, formatForward } from "./forward.js"
import type { JumpHost, Resolved } from "./finish.js"

/**
 * The algorithm lists to print where the config sets none (ssh -G prints its defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface PrintDefaults {
  readonly kexAlgorithms?: string | undefined
  readonly ciphers?: string | undefined
  readonly macs?: string | undefined
  readonly hostKeyAlgorithms?: string | undefined
  readonly pubkeyAcceptedAlgorithms?: string | undefined
  readonly caSignatureAlgorithms?: string | undefined
}

const yn = (b: boolean) => (b ? "yes" : "no")
const tf = (v: string) => (v === "yes" ? "true" : v === "no" ? "false" : v)

const hop = (h: JumpHost): string => {
  const numeric = h.host.includes(":") || /^[\d.]+$/.test(h.host)
  return `${h.user === undefined ? "" : `${h.user}@`}${numeric ? `[${h.host}]` : h.host}${
    h.port === undefined ? "" : `:${h.port}`
  }`
}

const forwards = (name: string, list: ReadonlyArray<ForwardSpec>, remote: boolean) =>
  list.map((f) =>
    `${name} ${f.connect === undefined && remote ? `${formatForward(f)} [socks]:0` : formatForward(f)}`
  )

/**
 * The lines, each `keyword value`, ending with a newline.
 *
 * @since 0.1.0
 * @category accessors
 */
export const print = (r: Resolved, defaults: PrintDefaults = {}): string => {
  const out: Array<string> = []
  const line = (k: string, v: string | number | undefined) => {
    if (v !== undefined) out.push(`${k} ${v}`)
  }
  line("host", r.alias)
  line("user", r.user)
  line("hostname", r.hostname)
  line("port", r.port)
  line("batchmode", yn(r.batchMode))
  line("checkhostip", yn(r.checkHostIP))
  line("compression", yn(r.compression))
  line("exitonforwardfailure", yn(r.exitOnForwardFailure))
  line("hashknownhosts", yn(r.hashKnownHosts))
  line("identitiesonly", yn(r.identitiesOnly))
  line("kbdinteractiveauthentication", yn(r.kbdInteractiveAuthentication))
  line("passwordauthentication", yn(r.passwordAuthentication))
  line("pubkeyauthentication", r.pubkeyAuthentication ? "true" : "false")
  line("requesttty", tf(r.requestTTY))
  line("stricthostkeychecking", tf(r.strictHostKeyChecking))
  line("updatehostkeys", tf(r.updateHostKeys))
  line("numberofpasswordprompts", r.numberOfPasswordPrompts)
  line("serveralivecountmax", r.serverAliveCountMax)
  line("serveraliveinterval", r.serverAliveInterval)
  line("ciphers", r.ciphers ?? defaults.ciphers)
  line("hostkeyalgorithms", r.hostKeyAlgorithms ?? defaults.hostKeyAlgorithms)
  line("hostkeyalias", r.hostKeyAlias)
  line("identityagent", r.identityAgent)
  line("kexalgorithms", r.kexAlgorithms ?? defaults.kexAlgorithms)
  line("casignaturealgorithms", r.caSignatureAlgorithms ?? defaults.caSignatureAlgorithms)
  line("remotecommand", r.remoteCommand)
  // log.c names SYSLOG_LEVEL_QUIET "SILENT" first in its table, and ssh -G prints that.
  line("loglevel", r.logLevel === "QUIET" ? "SILENT" : r.logLevel)
  line("macs", r.macs ?? defaults.macs)
  line("preferredauthentications", r.preferredAuthentications)
  line("pubkeyacceptedalgorithms", r.pubkeyAcceptedAlgorithms ?? defaults.pubkeyAcceptedAlgorithms)
  // As dump_cfg_forwards does: a forward to a Unix socket (no connect host) is listed as dynamic too.
  out.push(...r.localForwards.filter((f) => f.connect === undefined || f.connect._tag === "Unix").map((f) =>
    `dynamicforward ${formatForward({ listen: f.listen, connect: undefined })}`
  ))
  out.push(...forwards("localforward", r.localForwards.filter((f) => f.connect !== undefined), false))
  out.push(...forwards("remoteforward", r.remoteForwards, true))
  for (const f of r.identityFiles) line("identityfile", f)
  for (const f of r.certificateFiles) line("certificatefile", f)
  line("globalknownhostsfile", r.globalKnownHostsFiles.length === 0 ? "none" : r.globalKnownHostsFiles.join(" "))
  line("userknownhostsfile", r.userKnownHostsFiles.length === 0 ? "none" : r.userKnownHostsFiles.join(" "))
  for (const v of r.sendEnv) line("sendenv", v)
  for (const v of r.setEnv) line("setenv", v)
  line("forwardagent", typeof r.forwardAgent === "string" ? r.forwardAgent : yn(r.forwardAgent))
  line("connecttimeout", r.connectTimeout ?? "none")
  line("rekeylimit", `${r.rekeyLimit.bytes} ${r.rekeyLimit.seconds}`)
  if (r.proxyJump.length > 0) {
    const text = r.proxyJumpText ?? ""
    const cut = text.lastIndexOf(",")
    line("proxyjump", `${cut > 0 ? `${text.slice(0, cut)},` : ""}${hop(r.proxyJump[r.proxyJump.length - 1]!)}`)
  } else line("proxycommand", r.proxyCommand)
  return out.map((l) => `${l}\n`).join("")
}
