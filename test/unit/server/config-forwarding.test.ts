/**
 * sshd_config's forwarding keywords as the server's `forwarding` options (SEC-48): sshd's defaults,
 * DisableForwarding over the Allow* keywords, PermitOpen/PermitListen `any`/`none`/lists, Match Address.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as SshdConfig from "../../../src/config/SshdConfig.js"
import * as ForwardPolicy from "../../../src/forward/ForwardPolicy.js"
import * as ConfigServer from "../../../src/server/internal/configServer.js"

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
      permitListen: undefined
    })
  })

  it("DisableForwarding wins over AllowTcpForwarding/AllowStreamLocalForwarding", () => {
    const o = options("AllowTcpForwarding yes\nAllowStreamLocalForwarding yes\nDisableForwarding yes\n")
    assert.strictEqual(o.allowTcpForwarding, "no")
    assert.strictEqual(o.allowStreamLocalForwarding, "no")
    assert.isFalse(ForwardPolicy.tcpAllowed(o, {}, "local"))
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
