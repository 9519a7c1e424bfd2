/**
 * The server's forwarding policy (SEC-48), with sshd_config(5)'s names and deny-by-default defaults, and the pure
 * checks that apply it together with the per-key `Restrictions` of authorized_keys and certificates
 * (no-port-forwarding, restrict, permitopen, permitlisten).
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { Restrictions } from "../auth/ServerAuth.js"
import type { LocalNet } from "./LocalNet.js"
import type { Tunnel } from "./Tunnel.js"

/**
 * sshd's AllowTcpForwarding / AllowStreamLocalForwarding values: both ways, neither, only local (-L, the client
 * opens direct channels) or only remote (-R, the server listens).
 *
 * @since 0.1.0
 * @category models
 */
export type Allow = "yes" | "no" | "local" | "remote"

/**
 * A `direct-tcpip` request that passed the policy: where the client wants to go, and who it says it is.
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectTcpipRequest {
  readonly username: string
  readonly host: string
  readonly port: number
  readonly originatorAddress: string
  readonly originatorPort: number
}

/**
 * What to do with an allowed `direct-tcpip`: connect to the destination (the default), serve the tunnel in this
 * program (a virtual service, no socket at all), or refuse.
 *
 * @since 0.1.0
 * @category models
 */
export type DirectTcpipDecision =
  | { readonly _tag: "Connect" }
  | { readonly _tag: "Serve"; readonly serve: (tunnel: Tunnel) => Effect.Effect<void, unknown> }
  | { readonly _tag: "Deny" }

/**
 * The server's forwarding configuration. Everything is off unless enabled (SEC-48); each value takes the name of
 * the sshd_config keyword it mirrors.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForwardingOptions {
  /** sshd AllowTcpForwarding (default "no" here; sshd's own default is "yes"). */
  readonly allowTcpForwarding?: Allow | undefined
  /** sshd AllowStreamLocalForwarding (default "no"). */
  readonly allowStreamLocalForwarding?: Allow | undefined
  /**
   * sshd GatewayPorts: "no" (default) binds remote forwards to loopback whatever the client asks; "yes" binds the
   * wildcard address; "clientspecified" binds what the client asked for ("" or "*" = every address).
   */
  readonly gatewayPorts?: "no" | "yes" | "clientspecified" | undefined
  /**
   * sshd PermitOpen: the `host:port` destinations direct-tcpip may reach ("*" for any host or any port); undefined
   * means any, an empty list none.
   */
  readonly permitOpen?: ReadonlyArray<string> | undefined
  /** sshd PermitListen: the `[host:]port` a remote forward may listen on; undefined means any unprivileged port. */
  readonly permitListen?: ReadonlyArray<string> | undefined
  /**
   * The sockets forwarding listens and connects with (`NodeSshServer.layer` sets Node's); without it, or a
   * `LocalNet` in context, only `directTcpip` handlers that `Serve` can work.
   */
  readonly net?: LocalNet | undefined
  /** Remote listeners one connection may hold at once (default 16; SEC-48). */
  readonly maxListeners?: number | undefined
  /** Decides each allowed direct-tcpip; without it the server connects. */
  readonly directTcpip?: ((request: DirectTcpipRequest) => Effect.Effect<DirectTcpipDecision, unknown>) | undefined
  /**
   * Decides each allowed UNIX-socket path, both directions (direct-streamlocal and streamlocal-forward); without
   * it every path the server process may use is allowed (sshd's behaviour; the process's own privileges apply).
   */
  readonly streamLocalPath?:
    | ((request: { readonly username: string; readonly path: string; readonly direction: "local" | "remote" }) => Effect.Effect<boolean, unknown>)
    | undefined
  /** sshd X11Forwarding (default false): serve x11-req with a display on this machine (RFC 4254 §6.3). */
  readonly x11Forwarding?: boolean | undefined
  /** sshd X11DisplayOffset: the first display number tried (default 10, so as not to meet a real X server). */
  readonly x11DisplayOffset?: number | undefined
  /**
   * sshd X11UseLocalhost (default true): the display listens on loopback only (DISPLAY=localhost:N.S); false binds
   * every address and DISPLAY names the machine (hostname:N.S, from `LocalNet.hostname`), as sshd does.
   */
  readonly x11UseLocalhost?: boolean | undefined
  /**
   * Installs the session's cookie for X clients on this machine (`NodeX11.xauth` runs `xauth add` without a
   * shell); returns environment variables the session gets (XAUTHORITY). Without it the display is forwarded
   * and X clients must find the cookie themselves.
   */
  readonly xauth?: ((entry: XauthEntry) => Effect.Effect<Readonly<Record<string, string>>, unknown>) | undefined
  /**
   * The options for one user once authenticated (sshd's Match User/Group blocks): when given, its answer replaces
   * these options for that user's channels and requests (undefined: no forwarding at all).
   */
  readonly forUser?: ((username: string) => ForwardingOptions | undefined) | undefined
}

/**
 * A cookie for `xauth add`: the display as X clients on this machine name it (`unix:10.0`), the protocol and the
 * hex cookie, all validated (printable, hex only: SEC-46, OpenSSH CVE-2016-3115).
 *
 * @since 0.1.0
 * @category models
 */
export interface XauthEntry {
  readonly username: string
  readonly display: string
  readonly protocol: string
  readonly cookie: string
}

/**
 * The options that apply to `username`: `forUser`'s answer when there is one (keeping the connection's `net`,
 * `directTcpip`, `streamLocalPath` and `xauth` unless it sets its own).
 *
 * @since 0.1.0
 * @category policy
 */
export const resolve = (o: ForwardingOptions | undefined, username: string): ForwardingOptions | undefined => {
  if (o?.forUser === undefined) return o
  const u = o.forUser(username)
  return u === undefined
    ? undefined
    : { net: o.net, directTcpip: o.directTcpip, streamLocalPath: o.streamLocalPath, xauth: o.xauth, maxListeners: o.maxListeners, ...u, forUser: undefined }
}

const allows = (allow: Allow | undefined, direction: "local" | "remote") =>
  allow === "yes" || allow === direction

/**
 * Whether TCP forwarding in `direction` is allowed at all for this user (config and per-key restrictions).
 *
 * @since 0.1.0
 * @category policy
 */
export const tcpAllowed = (o: ForwardingOptions, r: Restrictions, direction: "local" | "remote"): boolean =>
  allows(o.allowTcpForwarding, direction) && r.portForwarding !== false

/**
 * Whether UNIX-socket forwarding in `direction` is allowed (no-port-forwarding turns it off too, as in sshd).
 *
 * @since 0.1.0
 * @category policy
 */
export const streamLocalAllowed = (o: ForwardingOptions, r: Restrictions, direction: "local" | "remote"): boolean =>
  allows(o.allowStreamLocalForwarding, direction) && r.portForwarding !== false

/** Lower-case, without IPv6 brackets: permitopen/permitlisten compare after normalisation (SEC-48). */
const normalHost = (h: string) => h.replace(/^\[(.*)\]$/, "$1").toLowerCase()

/** Splits `host:port`, `[v6]:port` or (for listeners) a bare `port`. */
const split = (entry: string): { host: string | undefined; port: string } | undefined => {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):([^:]+)$/.exec(entry) ?? /^()()([^:]+)$/.exec(entry)
  if (m === null) return undefined
  const host = m[1] ?? m[2]
  return { host: host === "" || host === undefined ? undefined : normalHost(host), port: m[3]! }
}

const portMatches = (pattern: string, port: number) => pattern === "*" || pattern === String(port)

/**
 * PermitOpen / permitopen: is `host:port` in the list? An undefined list allows everything.
 *
 * @since 0.1.0
 * @category policy
 */
export const permitsOpen = (list: ReadonlyArray<string> | undefined, host: string, port: number): boolean => {
  if (list === undefined) return true
  const h = normalHost(host)
  return list.some((entry) => {
    if (entry === "any") return true
    const e = split(entry)
    return e !== undefined && e.host !== undefined && (e.host === "*" || e.host === h) && portMatches(e.port, port)
  })
}

/**
 * PermitListen / permitlisten: may a listener open on `host:port`? An entry without a host matches any host;
 * port 0 (the server picks) needs a "*" or "0" entry. Undefined allows every unprivileged port.
 *
 * @since 0.1.0
 * @category policy
 */
export const permitsListen = (list: ReadonlyArray<string> | undefined, host: string, port: number): boolean => {
  if (list === undefined) return port === 0 || port >= 1024
  const h = normalHost(host)
  return list.some((entry) => {
    if (entry === "any") return port === 0 || port >= 1024
    const e = split(entry)
    return e !== undefined && (e.host === undefined || e.host === "*" || e.host === h) && portMatches(e.port, port)
  })
}

/**
 * Both the server's list and the key's list must allow a destination or listener.
 *
 * @since 0.1.0
 * @category policy
 */
export const openAllowed = (o: ForwardingOptions, r: Restrictions, host: string, port: number): boolean =>
  permitsOpen(o.permitOpen, host, port) && permitsOpen(r.permitOpen, host, port)

/**
 * See `openAllowed`; ports 1–1023 need an explicit entry (SEC-48).
 *
 * @since 0.1.0
 * @category policy
 */
export const listenAllowed = (o: ForwardingOptions, r: Restrictions, host: string, port: number): boolean =>
  permitsListen(o.permitListen, host, port) && permitsListen(r.permitListen, host, port)

/**
 * The address a remote forward binds, by GatewayPorts: loopback unless allowed otherwise.
 *
 * @since 0.1.0
 * @category policy
 */
export const bindHost = (gatewayPorts: ForwardingOptions["gatewayPorts"], requested: string): string => {
  const wildcard = requested === "" || requested === "*" || requested === "0.0.0.0" || requested === "::"
  if (gatewayPorts === "yes") return "0.0.0.0"
  if (gatewayPorts === "clientspecified") {
    return wildcard ? "0.0.0.0" : requested === "localhost" ? "127.0.0.1" : requested
  }
  return requested === "::1" ? "::1" : "127.0.0.1"
}
