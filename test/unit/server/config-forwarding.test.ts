/**
 * sshd_config's forwarding keywords as the server's `forwarding` options (SEC-48): sshd's defaults,
 * DisableForwarding over the Allow* keywords, PermitOpen/PermitListen `any`/`none`/lists, Match Address.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as SshdConfig from "../../../src/config/SshdConfig.js"
import * as ForwardPolicy from "../../../src/forward/ForwardPolicy.js"
import * as ConfigServer from "../../../src/server/internal/forward.js"

const options = (text: string, spec: SshdConfig.ConnectionSpec = {}) =>
  ConfigServer.forwardingOf(
    Either.getOrThrow(SshdConfig.settings(Either.getOrThrow(SshdConfig.parse(text, { file: "sshd_config" })), spec))
  )

describe("serve: sshd_config forwarding keywords → ForwardingOptions (SEC-48)", () => {
  it("sshd's defaults: TCP and UNIX-socket forwarding both ways, loopback binds, any destination", () => {
    assert.deepStrictEqual(options(""), {
      allowTcpForwarding: "yes",
      allowStreamLocalForwarding: "yes",
      gatewayPorts: "no",
      permitOpen: undefined,
      permitListen: undefined,
      x11Forwarding: false,
      x11DisplayOffset: 10,
      x11UseLocalhost: true
    })
  })

  it("DisableForwarding wins over AllowTcpForwarding/AllowStreamLocalForwarding", () => {
    const o = options("AllowTcpForwarding yes\nAllowStreamLocalForwarding yes\nDisableForwarding yes\n")
    assert.strictEqual(o.allowTcpForwarding, "no")
    assert.strictEqual(o.allowStreamLocalForwarding, "no")
    assert.isFalse(ForwardPolicy.tcpAllowed(o, {}, "local"))
  })

  it("X11Forwarding, X11DisplayOffset, X11UseLocalhost; DisableForwarding turns X11 off too (SEC-48, CVE-2025-32728)", () => {
    const o = options("X11Forwarding yes\nX11DisplayOffset 20\nX11UseLocalhost no\n")
    assert.deepStrictEqual([o.x11Forwarding, o.x11DisplayOffset, o.x11UseLocalhost], [true, 20, false])
    assert.isFalse(options("X11Forwarding yes\nDisableForwarding yes\n").x11Forwarding)
  })

  it("fromSshdConfig: the connection's Match Address, then the user's Match User/Group through forUser", () => {
    const config = Either.getOrThrow(SshdConfig.parse(
      "AllowTcpForwarding no\nMatch User alice\n  AllowTcpForwarding remote\n  PermitListen 9000\nMatch Group x11users\n  X11Forwarding yes\n",
      { file: "sshd_config" }
    ))
    const o = ConfigServer.fromSshdConfig(config, { spec: { address: "127.0.0.1" }, groups: (u) => (u === "bob" ? ["x11users"] : []) })
    assert.strictEqual(o.allowTcpForwarding, "no")
    const alice = ForwardPolicy.resolve(o, "alice")!
    assert.isTrue(ForwardPolicy.tcpAllowed(alice, {}, "remote"))
    assert.isFalse(ForwardPolicy.tcpAllowed(alice, {}, "local"))
    assert.isTrue(ForwardPolicy.listenAllowed(alice, {}, "localhost", 9000))
    assert.isFalse(ForwardPolicy.listenAllowed(alice, {}, "localhost", 9001))
    assert.isFalse(alice.x11Forwarding)
    const bob = ForwardPolicy.resolve(o, "bob")!
    assert.isFalse(ForwardPolicy.tcpAllowed(bob, {}, "remote"))
    assert.isTrue(bob.x11Forwarding)
  })

  it("PermitOpen/PermitListen: none is an empty list, a list restricts, Match Address applies", () => {
    const none = options("PermitOpen none\nPermitListen none\n")
    assert.deepStrictEqual([none.permitOpen, none.permitListen], [[], []])
    assert.isFalse(ForwardPolicy.permitsOpen(none.permitOpen, "127.0.0.1", 80))
    const text = "AllowTcpForwarding local\nPermitOpen db:5432\nMatch Address 10.0.0.*\n  AllowTcpForwarding no\n"
    const o = options(text, { address: "192.168.1.2" })
    assert.strictEqual(o.allowTcpForwarding, "local")
    assert.isTrue(ForwardPolicy.permitsOpen(o.permitOpen, "db", 5432))
    assert.isFalse(ForwardPolicy.permitsOpen(o.permitOpen, "db", 22))
    assert.strictEqual(options(text, { address: "10.0.0.7" }).allowTcpForwarding, "no")
  })
})
