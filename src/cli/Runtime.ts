/**
 * Runs a subcommand's Effect for the dispatcher (`main.ts`): provides `NodeSsh.layer` and the stderr logger,
 * interrupts it on SIGINT/SIGTERM, and resolves to its exit code. Imported only once a subcommand runs.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { Dialer } from "../client/Dialer.js"
import * as NodeDialer from "../node/NodeDialer.js"
import * as NodeCompression from "../node/NodeCompression.js"
import * as NodeCrypto from "../node/NodeCrypto.js"
import * as NodeForward from "../node/NodeForward.js"
import type { Services } from "./main.js"
import * as Preconnect from "./Preconnect.js"

/**
 * Logs to stderr as `effect-ssh: <level>: <message> (key=value …)`: stdout belongs to the remote command.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stderrLogger: Logger.Logger<unknown, void> = Logger.make(({ annotations, logLevel, message }) => {
  const parts = Array.isArray(message) ? message : [message]
  const text = parts.map((p) => (typeof p === "string" ? p : String(p))).join(" ")
  const notes = [...annotations].map(([k, v]) => `${k}=${String(v)}`)
  const level = logLevel._tag === "Warning" ? "warning" : logLevel.label.toLowerCase()
  process.stderr.write(
    `effect-ssh: ${level}: ${text}${notes.length > 0 ? ` (${notes.join(" ")})` : ""}\n`
  )
})

/**
 * The Node TCP dialer, which takes the connection the loader opened for this host and port before the bundle
 * was loaded (Preconnect) instead of dialing again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialer: Dialer = {
  dial: (host, port, timeout) =>
    Effect.map(NodeDialer.dialNet(host, port, timeout, Preconnect.take(host, port)), ({ socket }) => socket),
  dialAddress: (host, port, timeout) => NodeDialer.dialNet(host, port, timeout, Preconnect.take(host, port))
}

// NodeSsh.layer's services without NodeContext's terminal, worker manager and command executor, which no
// subcommand uses: evaluating those modules is a few ms of every start-up.
const MainLive = Layer.mergeAll(
  Layer.succeed(Dialer, dialer),
  NodeCrypto.layer,
  NodeCompression.layer,
  NodeForward.layer,
  NodeFileSystem.layer,
  NodePath.layer,
  Logger.replace(Logger.defaultLogger, stderrLogger),
  Logger.minimumLogLevel(LogLevel.Warning)
)

/**
 * Runs `program` and resolves to its exit code: 255 when it was interrupted (Ctrl-C) or died (the defect is
 * printed as an internal error).
 *
 * @since 0.1.0
 * @category runners
 */
export const run = (program: Effect.Effect<number, never, Services>): Promise<number> =>
  new Promise((resolve) => {
    NodeRuntime.runMain(Effect.provide(program, MainLive), {
      disableErrorReporting: true,
      disablePrettyLogger: true,
      teardown: (exit) => {
        if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          process.stderr.write(`effect-ssh: internal error: ${Cause.pretty(exit.cause)}\n`)
        }
        resolve(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 255)
      }
    })
  })
