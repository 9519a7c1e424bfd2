/**
 * cli/Preconnect: the CLI dials before its bundle loads only when the destination is certain from the command
 * line alone — every flag or ssh_config keyword that could move the connection (HostName, Port, ProxyCommand,
 * ProxyJump, Match, -J, -F, -G, -f …) turns it off, and the config's Includes are followed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import * as Preconnect from "../../../src/cli/Preconnect.js"
import * as Runtime from "../../../src/cli/Runtime.js"

const noFiles = { readFile: () => undefined, readDir: () => undefined }

describe("cli/Preconnect.parseArgs", () => {
  it("takes host and port from a plain command line", () => {
    assert.deepStrictEqual(Preconnect.parseArgs(["-i", "k", "-p", "2222", "-o", "BatchMode=yes", "me@127.0.0.1", "true"]), {
      host: "127.0.0.1",
      port: 2222
    })
    assert.deepStrictEqual(Preconnect.parseArgs(["-p2200", "-p", "9", "host.example", "ls"]), { host: "host.example", port: 2200 })
    assert.deepStrictEqual(Preconnect.parseArgs(["-vvT", "-l", "u", "h"]), { host: "h", port: 22 })
    // Options after the destination count too (ssh.c), up to the remote command's first word.
    assert.deepStrictEqual(Preconnect.parseArgs(["h", "-p", "2222", "ls", "-p", "1"]), { host: "h", port: 2222 })
    assert.isUndefined(Preconnect.parseArgs(["h", "-J", "j", "ls"]))
    assert.deepStrictEqual(Preconnect.parseArgs(["h", "ls", "-J", "j"]), { host: "h", port: 22 })
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

/** A TCP server on 127.0.0.1 that greets each connection and counts them. */
const server = Effect.acquireRelease(
  Effect.async<{
    readonly port: number
    readonly accepted: () => number
    readonly closed: () => number
    readonly close: () => void
  }>((resume) => {
    let accepted = 0
    let closed = 0
    const s = Net.createServer((c) => {
      accepted++
      c.on("close", () => closed++)
      c.on("error", () => {})
      c.write("hello\n")
    })
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as Net.AddressInfo).port
      // Closing twice (a test closes early) is harmless.
      resume(Effect.succeed({ port, accepted: () => accepted, closed: () => closed, close: () => s.listening && s.close() }))
    })
  }),
  (s) => Effect.sync(() => s.close())
)

describe.sequential("cli/Preconnect with the CLI's dialer", () => {
  it.scopedLive("the dialer takes the early connection for the same host and port: one connection, data flows", () =>
    Effect.gen(function*() {
      const s = yield* server
      Preconnect.open({ host: "127.0.0.1", port: s.port })
      const socket = yield* Runtime.dialer.dial("127.0.0.1", s.port)
      const first = yield* Effect.async<Uint8Array>((resume) => {
        socket.runRaw((chunk) => resume(Effect.succeed(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk)))
          .pipe(Effect.runFork)
      })
      assert.strictEqual(new TextDecoder().decode(first), "hello\n")
      assert.strictEqual(s.accepted(), 1)
      assert.isUndefined(Preconnect.take("127.0.0.1", s.port), "taken once")
    }))

  it.scopedLive("a dial elsewhere closes the early connection and dials anew", () =>
    Effect.gen(function*() {
      const a = yield* server
      const b = yield* server
      Preconnect.open({ host: "127.0.0.1", port: a.port })
      yield* Effect.sleep("50 millis")
      yield* Runtime.dialer.dial("127.0.0.1", b.port)
      yield* Effect.sleep("50 millis")
      assert.strictEqual(b.accepted(), 1)
      assert.strictEqual(a.closed(), a.accepted())
    }))

  it.scopedLive("an early connection that was refused fails the dial as the Node dialer does", () =>
    Effect.gen(function*() {
      const s = yield* server
      const port = s.port
      yield* Effect.sync(() => s.close())
      yield* Effect.sleep("20 millis")
      Preconnect.open({ host: "127.0.0.1", port })
      yield* Effect.sleep("50 millis")
      const error = yield* Effect.flip(Runtime.dialer.dial("127.0.0.1", port))
      assert.strictEqual(error.reason, "ConnectFailed")
      assert.include(error.message, "ECONNREFUSED")
    }))

  it("hands out nothing when nothing was opened", () => {
    assert.isUndefined(Preconnect.take("127.0.0.1", 22))
  })
})
