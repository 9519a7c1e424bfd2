/**
 * Combining the restrictions of several authentication factors (a chain such as publickey,publickey): the
 * most restrictive wins, as sshd's sshauthopt_merge does.
 *
 * @since 0.1.0
 */
import type { Restrictions, VerifiedCertificate } from "../ServerAuth.js"

const both = (a: boolean | undefined, b: boolean | undefined) => (a === false || b === false ? false : undefined)

const intersect = (a: ReadonlyArray<string> | undefined, b: ReadonlyArray<string> | undefined) =>
  a === undefined ? b : b === undefined ? a : a.filter((x) => b.includes(x))

/** @internal */
export const merge = (all: ReadonlyArray<Restrictions | undefined>): Restrictions => {
  let out: Restrictions = {}
  for (const r of all) {
    if (r === undefined) continue
    out = {
      // The first forced command stays: a later factor can never lift it.
      forceCommand: out.forceCommand ?? r.forceCommand,
      environment: out.environment === undefined && r.environment === undefined
        ? undefined
        : { ...r.environment, ...out.environment },
      pty: both(out.pty, r.pty),
      portForwarding: both(out.portForwarding, r.portForwarding),
      agentForwarding: both(out.agentForwarding, r.agentForwarding),
      x11Forwarding: both(out.x11Forwarding, r.x11Forwarding),
      userRc: both(out.userRc, r.userRc),
      permitOpen: intersect(out.permitOpen, r.permitOpen),
      permitListen: intersect(out.permitListen, r.permitListen)
    }
  }
  return out
}

/**
 * What a user certificate allows (PROTOCOL.certkeys): its `force-command` critical option, and only the
 * capabilities its `permit-*` extensions grant — a certificate without `permit-pty` gets no pty, as with sshd.
 */
export const ofCertificate = (cert: VerifiedCertificate): Restrictions => {
  const has = (name: string) => cert.certificate.extensions.some((e) => e.name === name)
  const permit = (name: string) => (has(name) ? undefined : false)
  return {
    forceCommand: cert.forceCommand,
    pty: permit("permit-pty"),
    portForwarding: permit("permit-port-forwarding"),
    agentForwarding: permit("permit-agent-forwarding"),
    x11Forwarding: permit("permit-X11-forwarding"),
    userRc: permit("permit-user-rc")
  }
}
