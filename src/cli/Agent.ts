/**
 * `effect-ssh agent [-c | -s] [-Dd] [-a bind_address] [-t life] [command [arg ...]]` and `effect-ssh agent
 * [-c | -s] -k`: an ssh-agent with ssh-agent(1)'s flags and output. It prints the shell commands that set
 * `SSH_AUTH_SOCK` and `SSH_AGENT_PID` (sh, or csh with -c or a csh `$SHELL`), then serves in the background — or in
 * the foreground with -D / -d. With a command, it runs the command with those variables set and serves for as long
 * as the command runs, then exits with its status (the socket removed). `-k` kills the agent named by `SSH_AGENT_PID`. Keys added with the confirm constraint are asked
 * about through `$SSH_ASKPASS` (exit status 0 allows the signature) and refused when it is unset (SEC-61).
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as AgentServer from "../agent/AgentServer.js"
import * as NodeAgent from "../node/NodeAgent.js"
import * as Tty from "./Tty.js"

const USAGE = "usage: effect-ssh agent [-c | -s] [-Dd] [-a bind_address] [-t life] [command [arg ...]]\n" +
  "       effect-ssh agent [-c | -s] -k"

/**
 * The parsed command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentFlags {
  readonly socket: string | undefined
  readonly shell: "sh" | "csh"
  readonly foreground: boolean
  readonly kill: boolean
  readonly lifetimeSeconds: number | undefined
  /** A command to run under the agent (empty: none). */
  readonly command: ReadonlyArray<string>
}

/**
 * ssh-agent's time format (sshd_config(5) TIME FORMATS): `3600`, `90m`, `1h30m`, units s m h d w.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLifetime = (text: string): number | undefined => {
  if (!/^(\d+[sSmMhHdDwW]?)+$/.test(text)) return undefined
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
  let total = 0
  for (const [, n, unit] of text.matchAll(/(\d+)([sSmMhHdDwW]?)/g)) {
    total += Number(n) * (unit === "" ? 1 : units[unit!.toLowerCase()]!)
  }
  return total > 0 && total <= 0xffffffff ? total : undefined
}

/**
 * Parses the flags as getopt does (`-Dt60`, `-a sock`); `Left`: the error to print.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArgs = (args: ReadonlyArray<string>): AgentFlags | string => {
  let socket: string | undefined
  let shell: "sh" | "csh" | undefined
  let foreground = false
  let kill = false
  let lifetimeSeconds: number | undefined
  let command: ReadonlyArray<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--" || !arg.startsWith("-") || arg === "-") {
      // ssh-agent(1): the rest is the command to run under the agent.
      command = args.slice(arg === "--" ? i + 1 : i)
      break
    }
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!
      if (c === "a" || c === "t") {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : args[++i]
        if (value === undefined) return `effect-ssh agent: option -${c} needs a value`
        if (c === "a") socket = value
        else {
          lifetimeSeconds = parseLifetime(value)
          if (lifetimeSeconds === undefined) return `Invalid lifetime`
        }
        break
      }
      if (c === "c") shell = "csh"
      else if (c === "s") shell = "sh"
      else if (c === "D" || c === "d") foreground = true
      else if (c === "k") kill = true
      else return `effect-ssh agent: unknown option -${c}`
    }
  }
  const detected = (process.env.SHELL ?? "").endsWith("csh") ? "csh" : "sh"
  if (command.length > 0 && (foreground || kill)) return "effect-ssh agent: a command cannot be combined with -D, -d or -k"
  return { socket, shell: shell ?? detected, foreground, kill, lifetimeSeconds, command }
}

const exports = (shell: "sh" | "csh", sock: string | undefined, pid: number | undefined): string =>
  (sock === undefined
    ? ""
    : shell === "csh"
    ? `setenv SSH_AUTH_SOCK ${sock};\n`
    : `SSH_AUTH_SOCK=${sock}; export SSH_AUTH_SOCK;\n`) +
  (pid === undefined
    ? ""
    : shell === "csh"
    ? `setenv SSH_AGENT_PID ${pid};\n`
    : `SSH_AGENT_PID=${pid}; export SSH_AGENT_PID;\n`)

/** ssh-agent's default: a fresh 0700 directory in $TMPDIR holding `agent.<ppid>`. */
const defaultSocket = (): string =>
  path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ssh-")), `agent.${process.ppid}`)

/** ssh-agent's confirmation: `$SSH_ASKPASS` with SSH_ASKPASS_PROMPT=confirm; exit status 0 allows. */
const askpass = (program: string) => (request: AgentServer.ConfirmRequest) =>
  // Asynchronous: a prompt waiting for a person must not stop the agent answering its other clients.
  Effect.async<boolean>((resume) => {
    const prompt = `Allow use of key ${request.identity.comment}?\nKey fingerprint ${request.identity.fingerprint}.`
    // SEC-69: an argument vector, no shell; the prompt is one argv entry.
    const child = spawn(program, [prompt], {
      stdio: ["ignore", "ignore", "ignore"],
      env: { ...process.env, SSH_ASKPASS_PROMPT: "confirm" },
      timeout: 120_000
    })
    child.once("error", () => resume(Effect.succeed(false)))
    child.once("exit", (code) => resume(Effect.succeed(code === 0)))
    return Effect.sync(() => void child.kill())
  })

const killAgent = (flags: AgentFlags) =>
  Effect.gen(function*() {
    const pid = Number(process.env.SSH_AGENT_PID)
    if (!Number.isInteger(pid) || pid <= 1) {
      yield* Tty.printError("SSH_AGENT_PID not set, cannot kill agent")
      return 1
    }
    try {
      process.kill(pid, "SIGTERM")
    } catch (e) {
      yield* Tty.printError(`kill: ${e instanceof Error ? e.message : String(e)}`)
      return 1
    }
    yield* Console.log(
      (flags.shell === "csh" ? "unsetenv SSH_AUTH_SOCK;\nunsetenv SSH_AGENT_PID;\n" : "unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\n") +
        `echo Agent pid ${pid} killed;`
    )
    return 0
  })

/** In the background: this program again, detached, with -D and the chosen socket (Node cannot fork). */
const daemonize = (flags: AgentFlags, sock: string) =>
  Effect.gen(function*() {
    const script = process.argv[1]
    if (script === undefined) return yield* Effect.fail("cannot find the effect-ssh script to start in the background")
    const args = [...process.execArgv, script, "agent", "-D", "-a", sock]
    if (flags.lifetimeSeconds !== undefined) args.push("-t", String(flags.lifetimeSeconds))
    const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", "pipe", "ignore"] })
    // Wait for the child's own first line: it is listening once it prints.
    const ok = yield* Effect.async<boolean>((resume) => {
      child.stdout!.once("data", () => resume(Effect.succeed(true)))
      child.once("exit", () => resume(Effect.succeed(false)))
    })
    child.stdout!.destroy()
    child.unref()
    if (!ok || child.pid === undefined) return yield* Effect.fail(`the agent did not start on ${sock}`)
    yield* Console.log(exports(flags.shell, sock, child.pid) + `echo Agent pid ${child.pid};`)
    return 0
  })

/** The agent, served on `sock` until the Scope closes. */
const serveOn = (flags: AgentFlags, sock: string) =>
  Effect.gen(function*() {
    const program = process.env.SSH_ASKPASS
    const agent = yield* AgentServer.make({
      confirm: program === undefined || program === "" ? undefined : askpass(program),
      defaultLifetime: flags.lifetimeSeconds === undefined ? undefined : `${flags.lifetimeSeconds} seconds`
    })
    yield* NodeAgent.serve(agent, sock).pipe(Effect.mapError((e) => e.description))
  })

/** `ssh-agent command`: the command runs with the agent's variables; the agent lives as long as it does. */
const runCommand = (flags: AgentFlags, sock: string) =>
  Effect.gen(function*() {
    yield* serveOn(flags, sock)
    const [file, ...rest] = flags.command
    return yield* Effect.async<number, string>((resume) => {
      // No shell: the words are the program and its arguments, as ssh-agent execvp()s them.
      const child = spawn(file!, rest, {
        stdio: "inherit",
        env: { ...process.env, SSH_AUTH_SOCK: sock, SSH_AGENT_PID: String(process.pid) }
      })
      child.once("error", (e) => resume(Effect.fail(`${file}: ${e.message}`)))
      child.once("exit", (code, signal) => resume(Effect.succeed(code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0)))))
      return Effect.sync(() => child.kill())
    })
  }).pipe(Effect.scoped)

const foreground = (flags: AgentFlags, sock: string) =>
  Effect.gen(function*() {
    yield* serveOn(flags, sock)
    yield* Console.log(exports(flags.shell, sock, undefined) + `echo Agent pid ${process.pid};`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

/**
 * Runs `effect-ssh agent` with its arguments (after `agent`); returns the exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (args: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function*() {
    const flags = parseArgs(args)
    if (typeof flags === "string") {
      yield* Tty.printError(`${flags}\n${USAGE}`)
      return 1
    }
    if (flags.kill) return yield* killAgent(flags)
    const sock = flags.socket ?? defaultSocket()
    if (flags.command.length > 0) {
      // The default socket's private directory goes too once the command has ended.
      const dir = flags.socket === undefined ? path.dirname(sock) : undefined
      return yield* runCommand(flags, sock).pipe(
        Effect.ensuring(Effect.sync(() => dir !== undefined && fs.rmSync(dir, { recursive: true, force: true })))
      )
    }
    return yield* flags.foreground ? foreground(flags, sock) : daemonize(flags, sock)
  }).pipe(Effect.catchAll((message) => Effect.as(Tty.printError(`effect-ssh agent: ${message}`), 1)))
