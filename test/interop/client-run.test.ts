/**
 * The first-hour API of issue 11 against OpenSSH's sshd (`sshd -i` on child stdio), through `SshClient.connectOver`
 * as a user program connects:
 * - `run`/`string` send EOF by default (`run("cat")` returns instead of hanging) and take `stdin` as text, bytes
 *   or a Stream; a command that exits without reading its stdin does not fail the run;
 * - argv words are quoted for the remote shell (`exec(["printf", "%s\n", name])` with spaces, quotes, `$`, `;`);
 * - `SshCommandExecutor`: `@effect/platform` `Command.make(...).pipe(Command.string)` runs remotely, with
 *   `lines`, `exitCode`, env, working directory, `feed`, a piped command and a signal's exit code.
 */
import * as Command from "@effect/platform/Command"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Stream } from "effect"
import * as os from "node:os"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as SshCommandExecutor from "../../src/client/SshCommandExecutor.js"
import { SshConnection } from "../../src/client/SshConnection.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { authorizedKeyLine } from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username

const connect = Effect.gen(function*() {
  const socket = yield* OpenSsh.sshdInetd({ authorizedKeys: [authorizedKeyLine(userKey)], logLevel: "ERROR" })
  return yield* SshClient.connectOver(socket, {
    host: "127.0.0.1",
    username: user,
    auth: [Auth.privateKey(userKey)],
    hostKeys: HostKeyPolicy.insecureAcceptAny
  })
}).pipe(Effect.provide(NodeSsh.layer))

describe.skipIf(!has)("run and string: stdin and EOF", () => {
  it.scopedLive("run(\"cat\") without stdin returns at once with empty output (EOF sent by default)", () =>
    Effect.gen(function*() {
      const ssh = yield* connect
      const r = yield* ssh.run("cat")
      assert.deepStrictEqual([r.stdout, r.stderr, r.exitCode], ["", "", 0])
      assert.strictEqual(yield* ssh.string("wc -c"), "0\n")
    }))

  it.scopedLive("stdin as text, bytes and a Stream", () =>
    Effect.gen(function*() {
      const ssh = yield* connect
      assert.strictEqual((yield* ssh.run("cat", { stdin: "héllo\n" })).stdout, "héllo\n")
      assert.strictEqual(yield* ssh.string("od -An -tx1", { stdin: Uint8Array.of(0, 255, 10) }), " 00 ff 0a\n")
      const big = Stream.range(1, 200).pipe(Stream.map(() => new Uint8Array(10_000).fill(97)))
      assert.strictEqual(yield* ssh.string("wc -c", { stdin: big }), "2000000\n")
    }))

  it.scopedLive("a command that exits without reading its stdin ends the run with its own status", () =>
    Effect.gen(function*() {
      const ssh = yield* connect
      const endless = Stream.repeatValue(new Uint8Array(32_768))
      const r = yield* ssh.run("exit 3", { stdin: endless })
      assert.strictEqual(r.exitCode, 3)
    }))

  it.scopedLive("a failing stdin Stream fails the run with its own error", () =>
    Effect.gen(function*() {
      const ssh = yield* connect
      const exit = yield* Effect.exit(ssh.run("cat", { stdin: Stream.fail("broken input" as const) }))
      assert.deepStrictEqual(exit, Exit.fail("broken input" as const))
    }))
})

describe.skipIf(!has)("argv commands are quoted for the remote shell", () => {
  it.scopedLive("each word arrives as one argument, whatever it contains", () =>
    Effect.gen(function*() {
      const ssh = yield* connect
      const words = ["a b", "it's", "$HOME", "x;echo no", "", "*", "\"q\"", "tab\there"]
      const out = yield* ssh.string(["printf", "[%s]\\n", ...words])
      assert.strictEqual(out, words.map((w) => `[${w}]\n`).join(""))
      const proc = yield* ssh.exec(["printf", "%s", "a  b"])
      const text = yield* proc.stdout.pipe(Stream.decodeText(), Stream.runCollect, Effect.map(Chunk.join("")))
      assert.strictEqual(text, "a  b")
    }))
})

describe.skipIf(!has)("SshCommandExecutor: @effect/platform Command runs on the server", () => {
  const remote = <A, E>(program: Effect.Effect<A, E, import("@effect/platform/CommandExecutor").CommandExecutor>) =>
    Effect.gen(function*() {
      const ssh = yield* connect
      return yield* program.pipe(
        Effect.provide(SshCommandExecutor.layer.pipe(Layer.provide(Layer.succeed(SshConnection, ssh))))
      )
    })

  it.scopedLive("Command.string, lines, exitCode", () =>
    remote(Effect.gen(function*() {
      assert.strictEqual(yield* Command.make("uname", "-s").pipe(Command.string), "Linux\n")
      assert.strictEqual(yield* Command.make("sh", "-c", "echo $PPID >/dev/null; whoami").pipe(Command.string), `${user}\n`)
      assert.deepStrictEqual(yield* Command.make("printf", "a\\nb c\\n").pipe(Command.lines), ["a", "b c"])
      assert.strictEqual(yield* Command.make("sh", "-c", "exit 7").pipe(Command.exitCode), 7)
      // a signal: 128 + its number, as a shell reports it
      assert.strictEqual(yield* Command.make("sh", "-c", "kill -TERM $$").pipe(Command.exitCode), 143)
    })))

  it.scopedLive("env, working directory, feed, a pipeline and runInShell", () =>
    remote(Effect.gen(function*() {
      const env = Command.make("sh", "-c", "echo \"$GREETING\"").pipe(Command.env({ GREETING: "it's $x" }))
      assert.strictEqual(yield* Command.string(env), "it's $x\n")
      assert.strictEqual(yield* Command.make("pwd").pipe(Command.workingDirectory("/tmp"), Command.string), "/tmp\n")
      assert.strictEqual(yield* Command.make("tr", "a-z", "A-Z").pipe(Command.feed("shout"), Command.string), "SHOUT")
      const piped = Command.make("printf", "b\\na\\nc\\n").pipe(Command.pipeTo(Command.make("sort")))
      assert.strictEqual(yield* Command.string(piped), "a\nb\nc\n")
      const inShell = Command.make("echo $((6 * 7))").pipe(Command.runInShell(true))
      assert.strictEqual(yield* Command.string(inShell), "42\n")
    })))

  it.effect("the command line sent: quoted argv, env assignments, cd, one remote pipeline", () =>
    Effect.gen(function*() {
      const c = Command.make("grep", "-c", "a b").pipe(
        Command.env({ LC_ALL: "C" }),
        Command.workingDirectory("/var/log"),
        Command.pipeTo(Command.make("wc", "-l"))
      )
      assert.strictEqual(yield* SshCommandExecutor.commandLine(c), "(cd /var/log && LC_ALL=C grep -c 'a b') | wc -l")
    }))
})
