/**
 * The server's forwarding policy (SEC-48), pure: sshd's AllowTcpForwarding values, no-port-forwarding, PermitOpen
 * and permitopen matching after normalisation, PermitListen with privileged ports, and GatewayPorts bind addresses.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Policy from "../../../src/forward/ForwardPolicy.js"

describe("ForwardPolicy", () => {
  it("deny by default; AllowTcpForwarding local/remote; no-port-forwarding wins (also over streamlocal)", () => {
    assert.isFalse(Policy.tcpAllowed({}, {}, "local"))
    assert.isFalse(Policy.streamLocalAllowed({}, {}, "remote"))
    assert.isTrue(Policy.tcpAllowed({ allowTcpForwarding: "yes" }, {}, "remote"))
    assert.isTrue(Policy.tcpAllowed({ allowTcpForwarding: "local" }, {}, "local"))
    assert.isFalse(Policy.tcpAllowed({ allowTcpForwarding: "local" }, {}, "remote"))
    assert.isFalse(Policy.tcpAllowed({ allowTcpForwarding: "yes" }, { portForwarding: false }, "local"))
    assert.isFalse(Policy.streamLocalAllowed({ allowStreamLocalForwarding: "yes" }, { portForwarding: false }, "local"))
  })

  it("permitopen: exact host:port after normalisation, * wildcards, [v6] brackets; both lists must allow", () => {
    assert.isTrue(Policy.permitsOpen(undefined, "anything", 1))
    assert.isFalse(Policy.permitsOpen([], "a", 1))
    assert.isTrue(Policy.permitsOpen(["DB.internal:5432"], "db.INTERNAL", 5432))
    assert.isFalse(Policy.permitsOpen(["10.0.0.1:80"], "127.0.0.1", 22))
    assert.isTrue(Policy.permitsOpen(["*:443"], "x", 443))
    assert.isTrue(Policy.permitsOpen(["h:*"], "h", 1))
    assert.isTrue(Policy.permitsOpen(["[::1]:22"], "::1", 22))
    assert.isTrue(Policy.permitsOpen(["any"], "x", 9))
    assert.isFalse(Policy.openAllowed({ permitOpen: ["a:1", "b:2"] }, { permitOpen: ["a:1"] }, "b", 2))
  })

  it("permitlisten: [host:]port, port 0 only with a wildcard, ports below 1024 only when named", () => {
    assert.isTrue(Policy.permitsListen(undefined, "localhost", 8080))
    assert.isTrue(Policy.permitsListen(undefined, "localhost", 0))
    assert.isFalse(Policy.permitsListen(undefined, "localhost", 80))
    assert.isTrue(Policy.permitsListen(["80"], "0.0.0.0", 80))
    assert.isTrue(Policy.permitsListen(["localhost:8080"], "LOCALHOST", 8080))
    assert.isFalse(Policy.permitsListen(["localhost:8080"], "0.0.0.0", 8080))
    assert.isFalse(Policy.permitsListen(["8080"], "localhost", 0))
    assert.isTrue(Policy.permitsListen(["*"], "localhost", 0))
  })

  it("GatewayPorts: loopback unless allowed", () => {
    assert.strictEqual(Policy.bindHost(undefined, "0.0.0.0"), "127.0.0.1")
    assert.strictEqual(Policy.bindHost("no", ""), "127.0.0.1")
    assert.strictEqual(Policy.bindHost("yes", "localhost"), "0.0.0.0")
    assert.strictEqual(Policy.bindHost("clientspecified", "*"), "0.0.0.0")
    assert.strictEqual(Policy.bindHost("clientspecified", "localhost"), "127.0.0.1")
    assert.strictEqual(Policy.bindHost("clientspecified", "127.0.0.2"), "127.0.0.2")
  })
})
