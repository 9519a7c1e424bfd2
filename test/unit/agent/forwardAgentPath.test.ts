/**
 * ssh_config ForwardAgent → the agent socket to forward (ssh_config(5); ssh.c exports IdentityAgent as
 * SSH_AUTH_SOCK, so `yes` forwards the agent ssh itself uses). Per-host opt-in: `no` forwards nothing (SEC-61).
 */
import { assert, describe, it } from "@effect/vitest"
import * as SshClientConfig from "../../../src/client/SshClientConfig.js"

const env = (vars: Record<string, string>) => (name: string) => vars[name]

describe("SshClientConfig.forwardAgentPath", () => {
  it("no forwards nothing; yes forwards IdentityAgent, else SSH_AUTH_SOCK", () => {
    const e = env({ SSH_AUTH_SOCK: "/tmp/a.sock", OTHER: "/tmp/o.sock" })
    assert.isUndefined(SshClientConfig.forwardAgentPath({ forwardAgent: false, identityAgent: undefined }, e))
    assert.strictEqual(SshClientConfig.forwardAgentPath({ forwardAgent: true, identityAgent: undefined }, e), "/tmp/a.sock")
    assert.strictEqual(SshClientConfig.forwardAgentPath({ forwardAgent: true, identityAgent: "SSH_AUTH_SOCK" }, e), "/tmp/a.sock")
    assert.strictEqual(SshClientConfig.forwardAgentPath({ forwardAgent: true, identityAgent: "/run/agent" }, e), "/run/agent")
    assert.strictEqual(SshClientConfig.forwardAgentPath({ forwardAgent: true, identityAgent: "$OTHER" }, e), "/tmp/o.sock")
    assert.isUndefined(SshClientConfig.forwardAgentPath({ forwardAgent: true, identityAgent: "none" }, e))
    assert.isUndefined(SshClientConfig.forwardAgentPath({ forwardAgent: true, identityAgent: undefined }, env({})))
  })

  it("a path forwards that socket; $VAR and ${VAR} the socket the variable names (unset: nothing)", () => {
    const e = env({ FWD: "/tmp/f.sock", EMPTY: "" })
    assert.strictEqual(SshClientConfig.forwardAgentPath({ forwardAgent: "/tmp/x.sock", identityAgent: undefined }, e), "/tmp/x.sock")
    assert.strictEqual(SshClientConfig.forwardAgentPath({ forwardAgent: "$FWD", identityAgent: "/ignored" }, e), "/tmp/f.sock")
    assert.strictEqual(SshClientConfig.forwardAgentPath({ forwardAgent: "${FWD}", identityAgent: undefined }, e), "/tmp/f.sock")
    assert.isUndefined(SshClientConfig.forwardAgentPath({ forwardAgent: "$NOPE", identityAgent: undefined }, e))
    assert.isUndefined(SshClientConfig.forwardAgentPath({ forwardAgent: "$EMPTY", identityAgent: undefined }, e))
  })
})
