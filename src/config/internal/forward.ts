/**
 * Forwarding specifications as OpenSSH parses them for LocalForward/RemoteForward/DynamicForward and for
 * ssh's -L/-R/-D (readconf.c parse_forward): `[bind:]port:host:hostport`, Unix socket paths (a field with a
 * `/`), `[...]` for IPv6 literals, and `socks` for dynamic forwards.
 *
 * @since 0.1.0
 */

/**
 * One end of a forward: a TCP address (host undefined: the default bind address) or a Unix socket path.
 *
 * @since 0.1.0
 * @category models
 */
export type Endpoint =
  | { readonly _tag: "Tcp"; readonly host: string | undefined; readonly port: number }
  | { readonly _tag: "Unix"; readonly path: string }

/**
 * A parsed forward: `connect` undefined for a dynamic (SOCKS) forward.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForwardSpec {
  readonly listen: Endpoint
  readonly connect: Endpoint | undefined
}

interface Field {
  readonly arg: string
  readonly isPath: boolean
}

const fields = (spec: string): Array<Field> | undefined => {
  const out: Array<Field> = []
  let s = spec.replace(/^\s+/, "")
  while (s !== "" && out.length < 4) {
    if (s.startsWith("[")) {
      const end = s.indexOf("]")
      if (end < 0 || (s[end + 1] !== ":" && s[end + 1] !== undefined)) return undefined
      const arg = s.slice(1, end)
      out.push({ arg, isPath: arg.includes("/") })
      s = s.slice(end + 2)
      continue
    }
    let arg = ""
    let i = 0
    for (; i < s.length && s[i] !== ":"; i++) {
      if (s[i] === "\\") {
        i++
        if (i >= s.length) return undefined
      }
      arg += s[i]
    }
    out.push({ arg, isPath: arg.includes("/") })
    s = s.slice(i + 1)
  }
  return s === "" ? out : undefined
}

/** misc.c a2port: 0–65535, -1 when not a number. */
const port = (text: string): number => /^\d{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : -1

const tcp = (host: string | undefined, text: string): Endpoint => ({ _tag: "Tcp", host, port: port(text) })
const unix = (path: string): Endpoint => ({ _tag: "Unix", path })

/**
 * Parses a specification; `undefined` when it is malformed (ssh: "Bad forwarding specification").
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseForward = (
  spec: string,
  kind: "local" | "remote" | "dynamic"
): ForwardSpec | undefined => {
  const f = fields(spec)
  if (f === undefined) return undefined
  let listen: Endpoint
  let connect: Endpoint | undefined
  switch (f.length) {
    case 1:
      listen = f[0]!.isPath ? unix(f[0]!.arg) : tcp(undefined, f[0]!.arg)
      connect = undefined
      break
    case 2:
      if (f[0]!.isPath && f[1]!.isPath) [listen, connect] = [unix(f[0]!.arg), unix(f[1]!.arg)]
      else if (f[1]!.isPath) [listen, connect] = [tcp(undefined, f[0]!.arg), unix(f[1]!.arg)]
      else [listen, connect] = [tcp(f[0]!.arg, f[1]!.arg), undefined]
      break
    case 3:
      if (f[0]!.isPath) [listen, connect] = [unix(f[0]!.arg), tcp(f[1]!.arg, f[2]!.arg)]
      else if (f[2]!.isPath) [listen, connect] = [tcp(f[0]!.arg, f[1]!.arg), unix(f[2]!.arg)]
      else [listen, connect] = [tcp(undefined, f[0]!.arg), tcp(f[1]!.arg, f[2]!.arg)]
      break
    case 4:
      ;[listen, connect] = [tcp(f[0]!.arg, f[1]!.arg), tcp(f[2]!.arg, f[3]!.arg)]
      break
    default:
      return undefined
  }
  if (kind === "dynamic") {
    if (f.length > 2 || connect !== undefined) return undefined
  } else if (connect === undefined) {
    // RemoteForward with one argument is a remote dynamic forward.
    if (!(kind === "remote" && f.length <= 2)) return undefined
  } else if (connect._tag === "Tcp" && connect.port <= 0) return undefined
  if (listen._tag === "Tcp" && (listen.port < 0 || (kind !== "remote" && listen.port === 0))) return undefined
  return { listen, connect }
}

const endpoint = (e: Endpoint): string =>
  e._tag === "Unix" ? e.path : e.host === undefined ? String(e.port) : `[${e.host}]:${e.port}`

/**
 * The forward as `ssh -G` prints it: `[host]:port` or `port` or a path, then the target.
 *
 * @since 0.1.0
 * @category accessors
 */
export const formatForward = (f: ForwardSpec): string =>
  f.connect === undefined ? endpoint(f.listen) : `${endpoint(f.listen)} ${endpoint(f.connect)}`
