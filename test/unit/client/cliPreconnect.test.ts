/**
 * cli/Preconnect: the CLI dials before its bundle loads only when the destination is certain from the command
 * line alone — every flag or ssh_config keyword that could move the connection (HostName, Port, ProxyCommand,
 * ProxyJump, Match, -J, -F, -G, -f …) turns it off, and the config's Includes are followed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Preconnect from "../../../src/cli/Preconnect.js"

const noFiles = { readFile: () => undefined, readDir: () => undefined }

describe("cli/Preconnect.parseArgs", () => {
  it("takes host and port from a plain command line", () => {
    assert.deepStrictEqual(Preconnect.parseArgs(["-i", "k", "-p", "2222", "-o", "BatchMode=yes", "me@127.0.0.1", "true"]), {
      host: "127.0.0.1",
      port: 2222
    })
    assert.deepStrictEqual(Preconnect.parseArgs(["-p2200", "-p", "9", "host.example", "ls"]), { host: "host.example", port: 2200 })
    assert.deepStrictEqual(Preconnect.parseArgs(["-vvT", "-l", "u", "h"]), { host: "h", port: 22 })
  })

  it("declines whatever could move the connection or makes none", () => {
    for (
      const argv of [
        ["-J", "jump", "h"],
        ["-F", "cfg", "h"],
        ["-G", "h"],
        ["-f", "h", "true"],
        ["-4", "h"],
        ["-b", "10.0.0.1", "h"],
        ["-S", "ctl", "h"],
        ["-W", "x:1", "h"],
        ["-o", "ProxyCommand=nc %h %p", "h"],
        ["-o", "hostname other", "h"],
        ["-o", "Port=2", "h"],
        ["-p", "0", "h"],
        ["-p", "99999", "h"],
        ["ssh://h:22"],
        ["[::1]"],
        ["-i"],
        []
      ]
    ) assert.isUndefined(Preconnect.parseArgs(argv), argv.join(" "))
  })
})

describe("cli/Preconnect.configIsNeutral", () => {
  it("accepts keywords that leave the destination alone", () => {
    const text = "# comment\nHost *\n  SendEnv LANG LC_*\n  HashKnownHosts yes\n  GSSAPIAuthentication yes\nHost other\n  User x\n"
    assert.isTrue(Preconnect.configIsNeutral(text, "/etc/ssh", noFiles))
  })

  it("declines HostName, Port, proxies, Match and the like, in any case and with `=`", () => {
    for (const line of ["HostName h", "port 2", "ProxyJump j", "proxycommand=nc", "Match host x", "BindAddress 1.2.3.4", "ControlMaster auto"]) {
      assert.isFalse(Preconnect.configIsNeutral(`Host x\n  ${line}\n`, "/etc/ssh", noFiles), line)
    }
  })

  it("follows Include, with a `*` in the file name", () => {
    const files: Record<string, string> = { "/etc/ssh/ssh_config.d/a.conf": "Host *\n  User u\n", "/etc/ssh/ssh_config.d/b.conf": "Host h\n  Port 2\n" }
    const io = {
      readFile: (f: string) => files[f],
      readDir: (d: string) => (d === "/etc/ssh/ssh_config.d" ? Object.keys(files).map((f) => f.slice(d.length + 1)) : undefined)
    }
    assert.isFalse(Preconnect.configIsNeutral("Include /etc/ssh/ssh_config.d/*.conf\n", "/etc/ssh", io))
    assert.isTrue(Preconnect.configIsNeutral("Include ssh_config.d/a.conf\n", "/etc/ssh", io))
    assert.isTrue(Preconnect.configIsNeutral("Include /etc/ssh/empty.d/*.conf\n", "/etc/ssh", io))
    // Patterns it cannot follow exactly, and Include loops, decline.
    assert.isFalse(Preconnect.configIsNeutral("Include /etc/ssh/*/x.conf\n", "/etc/ssh", io))
    assert.isFalse(Preconnect.configIsNeutral("Include /etc/ssh/ssh_config.d/[ab].conf\n", "/etc/ssh", io))
    const loop = { readFile: () => "Include /l\n", readDir: () => undefined }
    assert.isFalse(Preconnect.configIsNeutral("Include /l\n", "/", loop))
  })
})

describe("cli/Preconnect.take", () => {
  it("hands out nothing when nothing was started", () => {
    assert.isUndefined(Preconnect.take("127.0.0.1", 22))
  })
})
