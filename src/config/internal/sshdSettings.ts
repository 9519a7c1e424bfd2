/**
 * Effective sshd_config values → typed settings with sshd's defaults (openssh servconf.c
 * `fill_default_server_options`), and the `sshd -T` rendering of them.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Algorithms from "../../crypto/Algorithms.js"
import * as Negotiate from "../../crypto/Negotiate.js"
import * as Lexer from "./sshdLexer.js"
import type { Values } from "./sshdResolve.js"

/** Forwarding permission (AllowTcpForwarding, AllowStreamLocalForwarding): `yes` means both directions. */
export type ForwardingPermission = "yes" | "no" | "local" | "remote"

/** The typed settings of the keywords effect-ssh applies. */
export interface Settings {
  readonly ports: ReadonlyArray<number>
  readonly addressFamily: "any" | "inet" | "inet6"
  /** Where to listen, after ListenAddress × Port (sshd's defaults `[::]` and `0.0.0.0` when none is given). */
  readonly listen: ReadonlyArray<{ readonly host: string; readonly port: number }>
  readonly hostKeys: ReadonlyArray<string>
  readonly hostCertificates: ReadonlyArray<string>
  readonly authorizedKeysFiles: ReadonlyArray<string>
  readonly trustedUserCaKeys: string | undefined
  readonly revokedKeys: string | undefined
  /** Chains of methods (AuthenticationMethods); undefined is `any`. */
  readonly authenticationMethods: ReadonlyArray<ReadonlyArray<string>> | undefined
  readonly passwordAuthentication: boolean
  readonly kbdInteractiveAuthentication: boolean
  readonly pubkeyAuthentication: boolean
  readonly permitRootLogin: "yes" | "no" | "prohibit-password" | "forced-commands-only"
  readonly allowUsers: ReadonlyArray<string>
  readonly denyUsers: ReadonlyArray<string>
  readonly allowGroups: ReadonlyArray<string>
  readonly denyGroups: ReadonlyArray<string>
  readonly maxAuthTries: number
  readonly maxSessions: number
  readonly maxStartups: { readonly start: number; readonly rate: number; readonly full: number }
  /** Unauthenticated connections per source address; undefined = no limit (sshd's default "none"). */
  readonly perSourceMaxStartups: number | undefined
  /** Seconds; 0 = no limit. */
  readonly loginGraceTime: number
  /** Seconds; 0 = off (SEC-50). */
  readonly clientAliveInterval: number
  readonly clientAliveCountMax: number
  /** Seconds a connection may stay without channels; undefined = none (LIM-25). */
  readonly unusedConnectionTimeout: number | undefined
  /** ChannelTimeout: channel-type patterns and the seconds of inactivity after which such a channel is closed (LIM-25). */
  readonly channelTimeouts: ReadonlyArray<{ readonly type: string; readonly seconds: number; readonly text: string }>
  readonly banner: string | undefined
  readonly subsystems: ReadonlyArray<{ readonly name: string; readonly command: string }>
  readonly forceCommand: string | undefined
  readonly chrootDirectory: string | undefined
  readonly acceptEnv: ReadonlyArray<string>
  readonly setEnv: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly permitTTY: boolean
  /** `true`, `false`, or a pattern list of the variables allowed (PermitUserEnvironment). */
  readonly permitUserEnvironment: boolean | string
  readonly allowTcpForwarding: ForwardingPermission
  readonly allowStreamLocalForwarding: ForwardingPermission
  readonly allowAgentForwarding: boolean
  readonly gatewayPorts: "yes" | "no" | "clientspecified"
  readonly disableForwarding: boolean
  readonly x11Forwarding: boolean
  readonly x11DisplayOffset: number
  readonly x11UseLocalhost: boolean
  readonly permitTunnel: "yes" | "no" | "point-to-point" | "ethernet"
  /** `host:port` destinations; "any" or "none". */
  readonly permitOpen: ReadonlyArray<string> | "any" | "none"
  readonly permitListen: ReadonlyArray<string> | "any" | "none"
  readonly kexAlgorithms: ReadonlyArray<string>
  readonly ciphers: ReadonlyArray<string>
  readonly macs: ReadonlyArray<string>
  readonly hostKeyAlgorithms: ReadonlyArray<string>
  readonly pubkeyAcceptedAlgorithms: ReadonlyArray<string>
  readonly caSignatureAlgorithms: ReadonlyArray<string>
  /** Bytes and seconds; 0 = the default. */
  readonly rekeyLimit: { readonly bytes: number; readonly seconds: number }
  readonly logLevel: string
  /** PerSourcePenalties as written (OpenSSH 9.8); undefined = the defaults. */
  readonly perSourcePenalties: ReadonlyArray<string> | undefined
  readonly perSourcePenaltyExemptList: string | undefined
}

const first = (v: Values, name: string): ReadonlyArray<string> | undefined => v.get(name)?.[0]
const str = (v: Values, name: string): string | undefined => first(v, name)?.[0]
const all = (v: Values, name: string): ReadonlyArray<string> => (v.get(name) ?? []).flat()
const num = (v: Values, name: string, d: number): number => {
  const s = str(v, name)
  return s === undefined ? d : Number(s)
}
const bool = (v: Values, name: string, d: boolean): boolean => {
  const s = str(v, name)
  return s === undefined ? d : s === "yes"
}
const noneIsUndefined = (s: string | undefined) => (s === undefined || s.toLowerCase() === "none" ? undefined : s)

const algorithms = (
  v: Values,
  name: string,
  known: ReadonlyArray<string>,
  defaults: ReadonlyArray<string>
): Either.Either<ReadonlyArray<string>, string> =>
  Either.mapLeft(Negotiate.resolveList(str(v, name), known, defaults), (e) => `${name}: ${e}`)

/** Splits `host`, `host:port`, `[v6]:port` and bare IPv6 of a ListenAddress. */
const splitListen = (text: string): { host: string; port: number | undefined } => {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracket !== null) return { host: bracket[1]!, port: bracket[2] === undefined ? undefined : Number(bracket[2]) }
  const colons = text.split(":").length - 1
  if (colons === 1) {
    const [host, port] = text.split(":")
    return { host: host!, port: Number(port) }
  }
  return { host: text, port: undefined }
}

/** The typed settings, or the message of the first value that does not resolve (an unsupported algorithm). */
export const settings = (v: Values): Either.Either<Settings, string> =>
  Either.gen(function*() {
    const ports = all(v, "port").map(Number)
    const effectivePorts = ports.length > 0 ? ports : [22]
    const family = (str(v, "addressfamily") ?? "any") as Settings["addressFamily"]
    const addresses = all(v, "listenaddress")
    const listen = addresses.length > 0
      ? addresses.flatMap((a) => {
        const { host, port } = splitListen(a)
        return port !== undefined ? [{ host, port }] : effectivePorts.map((p) => ({ host, port: p }))
      })
      : effectivePorts.flatMap((port) => [
        ...(family !== "inet" ? [{ host: "::", port }] : []),
        ...(family !== "inet6" ? [{ host: "0.0.0.0", port }] : [])
      ])
    const methods = first(v, "authenticationmethods")
    const [start, rate, full] = (str(v, "maxstartups") ?? "10:30:100").split(":").map(Number)
    const listOrWord = (name: string): ReadonlyArray<string> | "any" | "none" => {
      const a = first(v, name)
      return a === undefined || a[0] === "any" ? "any" : a[0] === "none" ? "none" : a
    }
    const rekey = first(v, "rekeylimit") ?? ["0", "0"]
    const root = str(v, "permitrootlogin") ?? "without-password"
    const pue = str(v, "permituserenvironment") ?? "no"
    const unused = str(v, "unusedconnectiontimeout")
    return {
      ports: effectivePorts,
      addressFamily: family,
      listen,
      hostKeys: all(v, "hostkey"),
      hostCertificates: all(v, "hostcertificate"),
      authorizedKeysFiles: first(v, "authorizedkeysfile") ?? [".ssh/authorized_keys", ".ssh/authorized_keys2"],
      trustedUserCaKeys: noneIsUndefined(str(v, "trustedusercakeys")),
      revokedKeys: noneIsUndefined(str(v, "revokedkeys")),
      authenticationMethods: methods === undefined || methods[0] === "any" ? undefined : methods.map((c) => c.split(",")),
      passwordAuthentication: bool(v, "passwordauthentication", true),
      kbdInteractiveAuthentication: bool(v, "kbdinteractiveauthentication", true),
      pubkeyAuthentication: bool(v, "pubkeyauthentication", true),
      permitRootLogin: root === "without-password" ? "prohibit-password" : root as Settings["permitRootLogin"],
      allowUsers: all(v, "allowusers"),
      denyUsers: all(v, "denyusers"),
      allowGroups: all(v, "allowgroups"),
      denyGroups: all(v, "denygroups"),
      maxAuthTries: num(v, "maxauthtries", 6),
      maxSessions: num(v, "maxsessions", 10),
      maxStartups: { start: start!, rate: rate!, full: full! },
      perSourceMaxStartups: str(v, "persourcemaxstartups") === undefined || str(v, "persourcemaxstartups") === "none"
        ? undefined
        : num(v, "persourcemaxstartups", 0),
      loginGraceTime: num(v, "logingracetime", 120),
      clientAliveInterval: num(v, "clientaliveinterval", 0),
      clientAliveCountMax: num(v, "clientalivecountmax", 3),
      unusedConnectionTimeout: unused === undefined || unused === "none" || unused === "0" ? undefined : Number(unused),
      channelTimeouts: (first(v, "channeltimeout") ?? []).map((text) => {
        const eq = text.indexOf("=")
        return { type: text.slice(0, eq), seconds: Lexer.seconds(text.slice(eq + 1)) ?? 0, text }
      }),
      banner: noneIsUndefined(str(v, "banner")),
      subsystems: (v.get("subsystem") ?? []).map(([name, command]) => ({ name: name!, command: command! })),
      forceCommand: noneIsUndefined(str(v, "forcecommand")),
      chrootDirectory: noneIsUndefined(str(v, "chrootdirectory")),
      acceptEnv: all(v, "acceptenv"),
      setEnv: (first(v, "setenv") ?? []).map((kv) => {
        const i = kv.indexOf("=")
        return i < 0 ? { name: kv, value: "" } : { name: kv.slice(0, i), value: kv.slice(i + 1) }
      }),
      permitTTY: bool(v, "permittty", true),
      permitUserEnvironment: pue === "yes" ? true : pue === "no" ? false : pue,
      allowTcpForwarding: (str(v, "allowtcpforwarding") ?? "yes") as ForwardingPermission,
      allowStreamLocalForwarding: (str(v, "allowstreamlocalforwarding") ?? "yes") as ForwardingPermission,
      allowAgentForwarding: bool(v, "allowagentforwarding", true),
      gatewayPorts: (str(v, "gatewayports") ?? "no") as Settings["gatewayPorts"],
      disableForwarding: bool(v, "disableforwarding", false),
      x11Forwarding: bool(v, "x11forwarding", false),
      x11DisplayOffset: num(v, "x11displayoffset", 10),
      x11UseLocalhost: bool(v, "x11uselocalhost", true),
      permitTunnel: (str(v, "permittunnel") ?? "no") as Settings["permitTunnel"],
      permitOpen: listOrWord("permitopen"),
      permitListen: listOrWord("permitlisten"),
      kexAlgorithms: yield* algorithms(v, "kexalgorithms", Algorithms.KEX, Algorithms.DEFAULT_KEX),
      ciphers: yield* algorithms(v, "ciphers", Algorithms.CIPHERS, Algorithms.DEFAULT_CIPHERS),
      macs: yield* algorithms(v, "macs", Algorithms.MACS, Algorithms.DEFAULT_MACS),
      hostKeyAlgorithms: yield* algorithms(
        v, "hostkeyalgorithms", Algorithms.ALL_HOST_KEY_ALGORITHMS, Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS
      ),
      pubkeyAcceptedAlgorithms: yield* algorithms(
        v, "pubkeyacceptedalgorithms", Algorithms.ALL_HOST_KEY_ALGORITHMS, Algorithms.DEFAULT_ALL_HOST_KEY_ALGORITHMS
      ),
      caSignatureAlgorithms: yield* algorithms(
        v, "casignaturealgorithms", Algorithms.HOST_KEY_ALGORITHMS, Algorithms.DEFAULT_HOST_KEY_ALGORITHMS
      ),
      rekeyLimit: { bytes: Number(rekey[0]), seconds: Number(rekey[1]) },
      logLevel: str(v, "loglevel") ?? "INFO",
      perSourcePenalties: first(v, "persourcepenalties"),
      perSourcePenaltyExemptList: str(v, "persourcepenaltyexemptlist")
    }
  })

const yn = (b: boolean) => (b ? "yes" : "no")
const hostPort = (l: { host: string; port: number }) => `${l.host.includes(":") ? `[${l.host}]` : l.host}:${l.port}`

/** `sshd -T` lines (lower-case keyword, space, value) for the keywords effect-ssh applies. */
export const print = (s: Settings): ReadonlyArray<string> => [
  ...s.ports.map((p) => `port ${p}`),
  `addressfamily ${s.addressFamily}`,
  ...s.listen.map((l) => `listenaddress ${hostPort(l)}`),
  `logingracetime ${s.loginGraceTime}`,
  `maxauthtries ${s.maxAuthTries}`,
  `maxsessions ${s.maxSessions}`,
  `clientaliveinterval ${s.clientAliveInterval}`,
  `clientalivecountmax ${s.clientAliveCountMax}`,
  `unusedconnectiontimeout ${s.unusedConnectionTimeout ?? "none"}`,
  ...(s.channelTimeouts.length > 0 ? [`channeltimeout ${s.channelTimeouts.map((t) => t.text).join(" ")}`] : []),
  `permitrootlogin ${s.permitRootLogin === "prohibit-password" ? "without-password" : s.permitRootLogin}`,
  `pubkeyauthentication ${yn(s.pubkeyAuthentication)}`,
  `passwordauthentication ${yn(s.passwordAuthentication)}`,
  `kbdinteractiveauthentication ${yn(s.kbdInteractiveAuthentication)}`,
  `x11forwarding ${yn(s.x11Forwarding)}`,
  `permittty ${yn(s.permitTTY)}`,
  `gatewayports ${s.gatewayPorts}`,
  `allowtcpforwarding ${s.allowTcpForwarding}`,
  `allowagentforwarding ${yn(s.allowAgentForwarding)}`,
  `disableforwarding ${yn(s.disableForwarding)}`,
  `allowstreamlocalforwarding ${s.allowStreamLocalForwarding}`,
  `ciphers ${s.ciphers.join(",")}`,
  `macs ${s.macs.join(",")}`,
  `banner ${s.banner ?? "none"}`,
  `forcecommand ${s.forceCommand ?? "none"}`,
  `chrootdirectory ${s.chrootDirectory ?? "none"}`,
  `trustedusercakeys ${s.trustedUserCaKeys ?? "none"}`,
  `revokedkeys ${s.revokedKeys ?? "none"}`,
  `kexalgorithms ${s.kexAlgorithms.join(",")}`,
  `casignaturealgorithms ${s.caSignatureAlgorithms.join(",")}`,
  `hostkeyalgorithms ${s.hostKeyAlgorithms.join(",")}`,
  `pubkeyacceptedalgorithms ${s.pubkeyAcceptedAlgorithms.join(",")}`,
  `loglevel ${s.logLevel}`,
  `authorizedkeysfile ${s.authorizedKeysFiles.join(" ")}`,
  ...s.hostKeys.map((k) => `hostkey ${k}`),
  ...s.hostCertificates.map((k) => `hostcertificate ${k}`),
  ...s.allowUsers.map((u) => `allowusers ${u}`),
  ...s.denyUsers.map((u) => `denyusers ${u}`),
  ...s.allowGroups.map((u) => `allowgroups ${u}`),
  ...s.denyGroups.map((u) => `denygroups ${u}`),
  ...s.acceptEnv.map((e) => `acceptenv ${e}`),
  ...s.setEnv.map((e) => `setenv ${e.name}=${e.value}`),
  `authenticationmethods ${s.authenticationMethods?.map((c) => c.join(",")).join(" ") ?? "any"}`,
  ...s.subsystems.map((x) => `subsystem ${x.name} ${x.command}`),
  `maxstartups ${s.maxStartups.start}:${s.maxStartups.rate}:${s.maxStartups.full}`,
  `persourcemaxstartups ${s.perSourceMaxStartups ?? "none"}`,
  `permittunnel ${s.permitTunnel}`,
  `rekeylimit ${s.rekeyLimit.bytes} ${s.rekeyLimit.seconds}`,
  `permitopen ${typeof s.permitOpen === "string" ? s.permitOpen : s.permitOpen.join(" ")}`,
  `permitlisten ${typeof s.permitListen === "string" ? s.permitListen : s.permitListen.join(" ")}`,
  `permituserenvironment ${typeof s.permitUserEnvironment === "string" ? s.permitUserEnvironment : yn(s.permitUserEnvironment)}`,
  ...(s.perSourcePenalties !== undefined ? [`persourcepenalties ${s.perSourcePenalties.join(" ")}`] : []),
  ...(s.perSourcePenaltyExemptList !== undefined ? [`persourcepenaltyexemptlist ${s.perSourcePenaltyExemptList}`] : [])
]
