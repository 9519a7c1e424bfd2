/**
 * SEC-42: channel and session limits, released on reject and close. Our server with MaxSessions 3 and our
 * client: 200 session opens, at most 3 open at once — every one beyond the limit is refused with
 * OPEN_FAILURE 4 (RESOURCE_SHORTAGE, RFC 4254 §5.1) and the connection survives; once sessions close, new ones
 * open again (their slots were released), and 500 opens of an unknown type "foo" are refused (3, UNKNOWN_CHANNEL_TYPE)
 * without using a slot.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeSsh from "../../src/node/NodeSsh.js"
import { ChannelError } from "../../src/SshError.js"
import * as Servers from "../helpers/Servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-sec42-"))
const key = path.join(dir, "id")
execFileSync("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])

describe("SEC-42 channel and session limits", () => {
  it.scopedLive("MaxSessions 3: opens beyond it get RESOURCE_SHORTAGE; closing releases the slots; unknown types use none", () =>
    Effect.gen(function*() {
      const port = yield* Servers.serve({
        auth: { publicKey: () => Effect.succeed(true) },
        exec: () => Effect.as(Effect.never, 0),
        maxSessions: 3
      })
      const conn = yield* Servers.connect(port, key)
      const scopes: Array<Scope.CloseableScope> = []
      const codes = new Map<number | string, number>()
      for (let i = 0; i < 200; i++) {
        const scope = yield* Scope.make()
        const r = yield* Effect.exit(conn.mux.open("session").pipe(Scope.extend(scope)))
        if (Exit.isSuccess(r)) scopes.push(scope)
        else {
          const e = r.cause._tag === "Fail" ? r.cause.error : undefined
          const code = e instanceof ChannelError ? e.openFailure ?? "none" : "other"
          codes.set(code, (codes.get(code) ?? 0) + 1)
          yield* Scope.close(scope, Exit.void)
        }
      }
      assert.strictEqual(scopes.length, 3)
      assert.deepStrictEqual([...codes], [[4, 197]])
      for (let i = 0; i < 500; i++) {
        const r = yield* Effect.exit(Effect.scoped(conn.mux.open("foo")))
        assert.isTrue(Exit.isFailure(r))
      }
      // Closing releases: three new sessions open again.
      for (const s of scopes) yield* Scope.close(s, Exit.void)
      yield* Effect.sleep("200 millis")
      for (let i = 0; i < 3; i++) {
        const scope = yield* Scope.make()
        const r = yield* Effect.exit(conn.mux.open("session").pipe(Scope.extend(scope)))
        assert.isTrue(Exit.isSuccess(r), `session ${i} after release`)
      }
      assert.isAtMost(yield* conn.mux.channelCount, 3)
    }).pipe(Effect.provide(NodeSsh.layer)), 60_000)
})
