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
})
