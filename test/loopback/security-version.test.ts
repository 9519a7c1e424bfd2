/**
 * SEC-11 and LIM-01…LIM-04 through the Transport: a raw peer sends identification lines (good, bad, slow, many)
 * to our client and our server, and we check how our side ends.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import * as RawPeer from "../helpers/RawPeer.js"
import * as Receive from "../../src/transport/internal/receive.js"

const text = (s: string) => new TextEncoder().encode(s)
const roles = ["client", "server"] as const

/** Our side sent its version line and then closed, without any packet (no DISCONNECT before the version exchange). */
const closedWithoutPackets = (peer: RawPeer.RawPeer) =>
  Effect.gen(function*() {
    const rest = yield* peer.untilClosed
    assert.deepStrictEqual(rest.map((r) => r._tag), ["Closed"])
    const e = yield* peer.victimError
    assert.strictEqual(e.origin, "Local")
    return e
  })

/** A successful first key exchange and one message each way. */
const works = (peer: RawPeer.RawPeer) =>
  Effect.gen(function*() {
    yield* peer.kex()
    const t = yield* peer.transport
    yield* peer.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" }))
    assert.strictEqual((yield* Receive.receive(t))[0], 5)
    yield* t.send(TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" }))
    yield* peer.expect(6)
    return t
  })

describe("SEC-11 / LIM-01…LIM-04 through the transport", () => {
  it.scopedLive("SEC-11: C→S SSH-1.5-HALLO → our server closes (proto-mismatch.sh)", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "server" })
      yield* peer.write(text("SSH-1.5-HALLO\r\n"))
      yield* peer.readVersion
      const e = yield* closedWithoutPackets(peer)
      assert.strictEqual(e.reason, "VersionExchange")
    }))

  it.scopedLive("SEC-11 / LIM-02: C→S 'hello' then a valid version → our server closes", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "server" })
      yield* peer.write(text("hello\r\nSSH-2.0-x\r\n"))
      yield* peer.readVersion
      const e = yield* closedWithoutPackets(peer)
      assert.strictEqual(e.reason, "VersionExchange")
    }))

  for (const victim of roles) {
    it.scopedLive(`SEC-11: SSH-2.0-x\\0y → our ${victim} closes`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.write(text("SSH-2.0-x\0y\r\n"))
        yield* peer.readVersion
        const e = yield* closedWithoutPackets(peer)
        assert.strictEqual(e.reason, "VersionExchange")
      }))

    it.scopedLive(`SEC-11: 10 MiB of 'A' without a newline → our ${victim} closes`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim, capacity: 4096 })
        const chunk = new Uint8Array(4096).fill(0x41)
        // Writes until our side is gone (it stops reading after 8 192 bytes); never more than 10 MiB.
        yield* Effect.gen(function*() {
          for (let sent = 0; sent < 10 * 1024 * 1024; sent += chunk.length) {
            if ((yield* Fiber.poll(peer.victimFiber))._tag === "Some") return
            yield* peer.write(chunk)
          }
        }).pipe(Effect.fork)
        yield* peer.readVersion
        const e = yield* closedWithoutPackets(peer)
        assert.strictEqual(e.reason, "VersionExchange")
      }))

    it.scopedLive(`SEC-11: one byte every 50 ms → our ${victim} closes at the hello timeout (LIM-03)`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim, victimOptions: { timeouts: { hello: "300 millis" } } })
        const start = Date.now()
        yield* Effect.gen(function*() {
          for (const b of text("SSH-2.0-slowloris_with_a_long_name\r\n")) {
            yield* peer.write(new Uint8Array([b]))
            yield* Effect.sleep("50 millis")
          }
        }).pipe(Effect.fork)
        yield* peer.readVersion
        const e = yield* closedWithoutPackets(peer)
        assert.strictEqual(e.reason, "Timeout")
        // Generous upper bound: the timeout is 300 ms, the whole line would take 1.8 s.
        assert.isBelow(Date.now() - start, 1500)
      }))

    it.scopedLive(`LIM-03: a peer that sends nothing → our ${victim} closes at the hello timeout`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim, victimOptions: { timeouts: { hello: "200 millis" } } })
        yield* peer.readVersion
        const e = yield* closedWithoutPackets(peer)
        assert.strictEqual(e.reason, "Timeout")
      }))

    it.scopedLive(`SEC-11: a bare LF line end (SSH-2.0-x\\n) is accepted by our ${victim}`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        peer.version = "SSH-2.0-x"
        yield* peer.write(text("SSH-2.0-x\n"))
        yield* peer.readVersion
        const t = yield* works(peer)
        assert.strictEqual(t.peerVersion, "SSH-2.0-x")
      }))

    it.scopedLive(`LIM-04: protoversion 1.99 is accepted by our ${victim}`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.exchangeVersions("SSH-1.99-compat")
        const t = yield* works(peer)
        assert.strictEqual(t.peerVersion, "SSH-1.99-compat")
      }))

    it.scopedLive(`LIM-04: protoversion 3.0 → our ${victim} closes`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.write(text("SSH-3.0-future\r\n"))
        yield* peer.readVersion
        const e = yield* closedWithoutPackets(peer)
        assert.strictEqual(e.reason, "VersionExchange")
      }))

    it.scopedLive(`LIM-01: a 256-byte version line → our ${victim} closes`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        yield* peer.write(text("SSH-2.0-" + "v".repeat(256 - 10) + "\r\n"))
        yield* peer.readVersion
        yield* closedWithoutPackets(peer)
      }))
  }

  it.scopedLive("LIM-02: S→C 1 000 banner lines, then the version → our client connects", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "client" })
      yield* peer.exchangeVersions(peer.version, "Banner line\r\n".repeat(1000))
      yield* works(peer)
    }))

  it.scopedLive("LIM-02: S→C 2 048 banner lines, then the version → our client closes (asyncssh test_too_many_banner_lines)", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "client" })
      yield* peer.exchangeVersions(peer.version, "Banner line\r\n".repeat(2048))
      const e = yield* closedWithoutPackets(peer)
      assert.strictEqual(e.reason, "VersionExchange")
    }))

  it.scopedLive("LIM-02: S→C an 8 193-byte banner line → our client closes (asyncssh test_banner_line_too_long)", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "client" })
      yield* peer.exchangeVersions(peer.version, "B".repeat(8191) + "\r\n")
      const e = yield* closedWithoutPackets(peer)
      assert.strictEqual(e.reason, "VersionExchange")
    }))

  it.scopedLive("LIM-02: the server's own banner lines are never sent (server sends 0 lines before its version)", () =>
    Effect.gen(function*() {
      const peer = yield* RawPeer.make({ victim: "server" })
      const line = yield* peer.readRawLine
      assert.isDefined(line)
      assert.isTrue(new TextDecoder().decode(line!).startsWith("SSH-2.0-"))
    }))

  for (const victim of roles) {
    it.scopedLive(`LIM-01: our ${victim} sends an identification line of ≤ 255 bytes, SSH-2.0-<printable>`, () =>
      Effect.gen(function*() {
        const peer = yield* RawPeer.make({ victim })
        const line = new TextDecoder().decode((yield* peer.readRawLine)!)
        assert.isAtMost(line.length, 255)
        assert.match(line, /^SSH-2\.0-[\x21-\x7e]+( [\x20-\x7e]*)?\r\n$/)
      }))

    it.scopedLive(`LIM-01: an over-long or malformed \`version\` option is never sent as is (our ${victim})`, () =>
      Effect.gen(function*() {
        for (const version of ["SSH-2.0-" + "x".repeat(300), "SSH-2.0-x\r\nSSH-1.5-injected", "SSH-2.0-a\0b"]) {
          const peer = yield* RawPeer.make({ victim, victimOptions: { version } })
          // Either a line arrives, or our side fails/dies before sending one.
          const line = yield* Effect.raceFirst(peer.readRawLine, Effect.as(Fiber.await(peer.victimFiber), undefined))
          if (line === undefined) {
            // Refusing the option (failing or dying before any byte) is fine.
            const exit = yield* Fiber.await(peer.victimFiber)
            assert.isTrue(Exit.isFailure(exit))
            continue
          }
          const s = new TextDecoder().decode(line)
          assert.isAtMost(line.length, 255, `sent ${line.length} bytes for ${JSON.stringify(version.slice(0, 20))}…`)
          assert.match(s, /^SSH-2\.0-[\x21-\x7e]+( [\x20-\x7e]*)?\r\n$/)
          yield* Fiber.interrupt(peer.victimFiber)
        }
      }).pipe(Effect.catchAllCause((c) => Cause.isInterruptedOnly(c) ? Effect.void : Effect.failCause(c))))
  }
})
