/**
 * sshd decides some settings only once the user name is known (auth2.c applies Match User/Group then): the
 * handlers of a configured connection take MaxSessions, ClientAliveInterval, UnusedConnectionTimeout, Banner,
 * AuthenticationMethods and MaxAuthTries from the user's Match block after ServerAuth's `forUser` ran.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either } from "effect"
import * as SshdConfig from "../../../src/config/SshdConfig.js"
import * as ConfigServer from "../../../src/server/internal/configServer.js"

const text = [
  "Banner /banners/all",
  "Match User bob",
  "  MaxSessions 1",
  "  ClientAliveInterval 5",
  "  UnusedConnectionTimeout 30",
  "  MaxAuthTries 2",
  "  Banner /banners/bob",
  "  AuthenticationMethods publickey,password",
  ""
].join("\n")

const files: Record<string, string> = { "/banners/all": "everyone\n", "/banners/bob": "bob\n" }

const handlers = Effect.gen(function*() {
  const config = Either.getOrThrow(SshdConfig.parse(text, { file: "sshd_config" }))
  const settings = Either.getOrThrow(SshdConfig.settings(config, {}))
  return yield* ConfigServer.connectionHandlers(
    {
      config,
      settings,
      env: {
        readFile: (p) => Effect.succeed(files[p] === undefined ? undefined : new TextEncoder().encode(files[p])),
        home: () => "/home/x",
        groups: () => []
      },
      runner: () => Effect.succeed(0),
      subsystems: false,
      server: { hostKeys: [] }
    },
    { localAddress: "127.0.0.1", localPort: 22 },
    "127.0.0.1",
    { failures: 0, accepted: false, environment: {} }
  )
})

describe("serve: Match User settings follow the user name", () => {
  it.effect("before the name: the global values; for bob: his block's", () =>
    Effect.gen(function*() {
      const h = yield* handlers
      assert.strictEqual(h.maxSessions, 10)
      assert.isUndefined(h.keepalive)
      assert.isUndefined(h.unusedConnectionTimeout)
      assert.strictEqual(h.authOptions?.banner, "everyone\n")
      const bob = h.authOptions!.forUser!("bob")
      assert.deepStrictEqual(bob, { banner: "bob\n", required: [["publickey", "password"]], maxAuthTries: 2 })
      assert.strictEqual(h.maxSessions, 1)
      assert.strictEqual(Duration.toSeconds(h.keepalive!.interval), 5)
      assert.strictEqual(Duration.toSeconds(h.unusedConnectionTimeout!), 30)
    }))

  it.effect("another user keeps the global values and any method with a handler", () =>
    Effect.gen(function*() {
      const h = yield* handlers
      const alice = h.authOptions!.forUser!("alice")
      assert.deepStrictEqual(alice, { banner: "everyone\n", required: [["publickey"]], maxAuthTries: 6 })
      assert.strictEqual(h.maxSessions, 10)
    }))
})
