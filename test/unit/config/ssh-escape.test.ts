/**
 * The `~` escape state machine of `effect-ssh ssh` (clientloop.c process_escapes), without a terminal.
 */
import { assert, describe, it } from "@effect/vitest"
import * as SshEscape from "../../../src/cli/SshEscape.js"

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

/** Feeds each string as a separate read, as a terminal delivers keystrokes. */
const run = (...chunks: Array<string>) => {
  let state = SshEscape.initial
  let sent = ""
  const actions: Array<SshEscape.EscapeAction> = []
  for (const c of chunks) {
    const r = SshEscape.feed(state, bytes(c))
    state = r.state
    sent += text(r.output.send)
    actions.push(...r.output.actions)
  }
  return { sent, actions, state }
}

describe("ssh escapes", () => {
  it("~. at the start of input or after Enter disconnects; the rest of the input is dropped", () => {
    assert.deepStrictEqual(run("~."), { sent: "", actions: ["disconnect"], state: { lineStart: false, pending: false } })
    assert.deepStrictEqual(run("ls\r~.echo").actions, ["disconnect"])
    assert.strictEqual(run("ls\r~.echo").sent, "ls\r")
    assert.deepStrictEqual(run("ls\n", "~", ".").actions, ["disconnect"])
  })

  it("~ in the middle of a line is plain text", () => {
    assert.deepStrictEqual(run("cd ~.", "x"), { sent: "cd ~.x", actions: [], state: { lineStart: false, pending: false } })
  })

  it("~~ sends one ~, ~x sends both, ~? asks for help and keeps the line start", () => {
    assert.strictEqual(run("~~").sent, "~")
    assert.strictEqual(run("~x").sent, "~x")
    const help = run("~?", "~.")
    assert.deepStrictEqual(help.actions, ["help", "disconnect"])
    assert.strictEqual(help.sent, "")
  })

  it("a pending ~ survives a read boundary", () => {
    const r = run("\r~")
    assert.deepStrictEqual(r.state, { lineStart: true, pending: true })
    assert.strictEqual(r.sent, "\r")
  })

  it("~C opens a command line: echoed, edited with backspace, returned on Enter; ^C cancels it", () => {
    let state = SshEscape.initial
    let echo = ""
    const actions: Array<SshEscape.EscapeAction> = []
    for (const c of ["ls\r", "~C", "-L 80", "8\x7f0:h:80", "\r", "x"]) {
      const r = SshEscape.feed(state, bytes(c))
      state = r.state
      echo += r.output.echo
      actions.push(...r.output.actions)
    }
    assert.deepStrictEqual(actions, [{ command: "-L 800:h:80" }])
    assert.strictEqual(echo, "\r\nssh> -L 808\b \b0:h:80\r\n")
    // After the command line, input goes to the remote side again, at a line start.
    assert.strictEqual(run("~C-D 1\r~.").actions.length, 2)
    assert.deepStrictEqual(run("~Cabc\x03ls").actions, [])
    assert.strictEqual(run("~Cabc\x03ls").sent, "ls")
  })

  it("parses the command lines ssh's ~C accepts", () => {
    assert.deepStrictEqual(SshEscape.parseCommand("-L8080:localhost:80"), { _tag: "Forward", kind: "L", spec: "8080:localhost:80" })
    assert.deepStrictEqual(SshEscape.parseCommand(" -R 0:h:22 "), { _tag: "Forward", kind: "R", spec: "0:h:22" })
    assert.deepStrictEqual(SshEscape.parseCommand("-KD 1080"), { _tag: "Cancel", kind: "D", spec: "1080" })
    assert.deepStrictEqual(SshEscape.parseCommand("?"), { _tag: "Help" })
    assert.deepStrictEqual(SshEscape.parseCommand(""), { _tag: "Empty" })
    assert.deepStrictEqual(SshEscape.parseCommand("-X 1"), { _tag: "Invalid" })
  })
})
