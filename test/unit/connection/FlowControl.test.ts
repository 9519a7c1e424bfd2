/**
 * SEC-41, SEC-43, SEC-44, SEC-45 and LIM-20…LIM-23 at the lowest layer: the pure window accounting of
 * FlowControl.ts and the channel table and lifecycle of ChannelState.ts (RFC 4254 §5), driven by random event
 * sequences (properties) and by the scripted cases of SECURITY.md.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { ChannelIds, ChannelState, DEFAULT_MAX_CHANNELS } from "../../../src/connection/ChannelState.js"
import {
  DEFAULT_MAX_PACKET,
  DEFAULT_WINDOW,
  InboundWindow,
  isRefused,
  isViolation,
  MAX_UINT32,
  OutboundWindow,
  WantReplies
} from "../../../src/connection/FlowControl.js"

const KiB = 1024
const MiB = 1024 * KiB

const outbound = (window: number, maxPacket: number): OutboundWindow => {
  const w = OutboundWindow.make(window, maxPacket)
  if (isRefused(w)) throw new Error(w.description)
  return w
}

/** An accepted channel (peer window 2 MiB, max packet 32 KiB). */
const openChannel = (): ChannelState => {
  const s = ChannelState.accept(5, DEFAULT_WINDOW, DEFAULT_MAX_PACKET)
  if (isRefused(s)) throw new Error(s.description)
  return s
}

const arbInboundOptions = FastCheck.record({
  initialWindow: FastCheck.oneof(
    FastCheck.integer({ min: 0, max: 200_000 }),
    FastCheck.integer({ min: MAX_UINT32 - 200_000, max: MAX_UINT32 })
  ),
  maxPacket: FastCheck.integer({ min: 1, max: 70_000 }),
  adjustThreshold: FastCheck.option(FastCheck.integer({ min: 0, max: 400_000 }), { nil: undefined })
})

/** Data of up to 1.2 × max packet (some too big), or the consumer taking a part of what is buffered (in ‰). */
const arbInboundEvents = FastCheck.array(
  FastCheck.oneof(
    { arbitrary: FastCheck.record({ data: FastCheck.integer({ min: 0, max: 1200 }) }), weight: 3 },
    { arbitrary: FastCheck.record({ consume: FastCheck.integer({ min: 0, max: 1000 }) }), weight: 2 }
  ),
  { minLength: 20, maxLength: 300 }
)

describe("InboundWindow", () => {
  it.prop("any data/consume sequence keeps the window in range, adjusts ≤ consumed, buffered ≤ window + grace", [
    arbInboundOptions,
    arbInboundEvents
  ], ([options, events]) => {
    const w = new InboundWindow(options)
    let received = 0
    let consumed = 0
    let adjusted = 0
    for (const e of events) {
      if ("data" in e) {
        const n = Math.floor(e.data * w.maxPacket / 1000)
        const before = [w.window, w.buffered, w.owed, w.excess]
        const r = w.onData(n)
        if (isViolation(r)) {
          assert.isTrue(n > w.maxPacket || w.excess + n - w.window > w.grace)
          assert.deepStrictEqual([w.window, w.buffered, w.owed, w.excess], before)
        } else {
          received += n
        }
      } else {
        const n = Math.floor(e.consume * w.buffered / 1000)
        const adjust = w.consumed(n)
        consumed += n
        adjusted += adjust
        assert.isTrue(adjust === 0 || adjust <= w.window)
      }
      assert.isTrue(w.window >= 0 && w.window <= MAX_UINT32)
      assert.isTrue(adjusted <= consumed)
      assert.strictEqual(w.buffered, received - consumed)
      assert.isTrue(w.buffered <= w.initialWindow + w.grace && w.initialWindow + w.grace <= MAX_UINT32)
      assert.isTrue(w.excess <= w.grace)
      assert.strictEqual(w.window + w.buffered + w.owed, w.initialWindow + w.excess)
    }
  })

  it.prop("a peer that honours the window is never refused, and is never stalled while nothing is buffered", [
    arbInboundOptions.filter((o) => o.initialWindow > 0),
    arbInboundEvents
  ], ([options, events]) => {
    const w = new InboundWindow(options)
    let peerWindow = w.initialWindow
    for (const e of events) {
      if ("data" in e) {
        const n = Math.min(Math.floor(e.data * w.maxPacket / 1000), w.maxPacket, peerWindow)
        assert.strictEqual(w.onData(n)._tag, "Ok")
        peerWindow -= n
      } else {
        peerWindow += w.consumed(Math.floor(e.consume * w.buffered / 1000))
      }
      assert.strictEqual(peerWindow, w.window)
      if (w.buffered === 0) assert.isTrue(peerWindow > 0)
    }
  })

  it("DESIGN §6: WINDOW_ADJUST once the consumer took half the window; a slow consumer stalls the peer", () => {
    const w = new InboundWindow()
    for (let i = 0; i < 64; i++) assert.strictEqual(w.onData(32 * KiB)._tag, "Ok")
    assert.strictEqual(w.window, 0)
    assert.strictEqual(w.consumed(MiB - 1), 0)
    assert.strictEqual(w.window, 0) // the slow consumer has not taken half yet: the sender stays stopped
    assert.strictEqual(w.consumed(1), MiB)
    assert.strictEqual(w.window, MiB)
    assert.strictEqual(new InboundWindow({ adjustThreshold: 96 * KiB }).adjustThreshold, 96 * KiB)
  })

  it("SEC-43: 2 MiB window, the peer sends 3 MiB without waiting → violation (after the 10 % grace)", () => {
    const w = new InboundWindow()
    let sent = 0
    let r = w.onData(32 * KiB)
    while (r._tag === "Ok" && sent < 3 * MiB) {
      sent += 32 * KiB
      r = w.onData(32 * KiB)
    }
    assert.isTrue(isViolation(r) && r.rule === "SEC-43" && r.code === 2)
    assert.isTrue(sent > DEFAULT_WINDOW && sent <= DEFAULT_WINDOW * 1.1)
  })

  it("SEC-43: 40 KiB of data against a 32 KiB max packet → violation", () => {
    assert.isTrue(isViolation(new InboundWindow().onData(40 * KiB)))
    assert.strictEqual(new InboundWindow().onData(32 * KiB)._tag, "Ok")
  })

  it("SEC-43: an overrun within the grace is kept back from the next WINDOW_ADJUST", () => {
    const w = new InboundWindow({ initialWindow: 1000, maxPacket: 1000 })
    assert.strictEqual(w.onData(950)._tag, "Ok")
    assert.strictEqual(w.onData(100)._tag, "Ok") // 50 over, grace 100
    assert.deepStrictEqual([w.window, w.excess, w.buffered], [0, 50, 1050])
    assert.strictEqual(w.consumed(1050), 1000) // the 50 bytes never granted are not granted again
    assert.isTrue(isViolation(new InboundWindow({ initialWindow: 1000, maxPacket: 2000 }).onData(1101)))
  })

  it("consuming more than was received is our bug (throws)", () => {
    const w = new InboundWindow()
    w.onData(10)
    assert.throws(() => w.consumed(11), RangeError)
    assert.throws(() => new InboundWindow({ initialWindow: MAX_UINT32 + 1 }), RangeError)
  })
})

describe("OutboundWindow", () => {
  const arbAdjust = FastCheck.oneof(FastCheck.nat({ max: 100_000 }), FastCheck.nat({ max: MAX_UINT32 }))
  const arbOps = FastCheck.array(
    FastCheck.oneof(
      FastCheck.record({ adjust: arbAdjust }),
      FastCheck.record({ send: FastCheck.nat({ max: 200_000 }) })
    ),
    { maxLength: 200 }
  )
  it.prop("bytes taken never exceed the window the peer granted", [
    FastCheck.nat({ max: MAX_UINT32 }),
    FastCheck.integer({ min: 9, max: MAX_UINT32 }),
    arbOps
  ], ([initial, maxPacket, ops]) => {
    const w = outbound(initial, maxPacket)
    let granted = initial
    let sent = 0
    for (const op of ops) {
      if ("adjust" in op) {
        const overflow = w.window + op.adjust > MAX_UINT32
        const r = w.adjust(op.adjust)
        assert.strictEqual(isViolation(r), overflow)
        if (!overflow) granted += op.adjust
      } else {
        const n = w.take(op.send)
        assert.isTrue(n <= op.send && n <= w.maxChunk && n <= w.window)
        w.used(n)
        sent += n
      }
      assert.isTrue(w.window >= 0 && w.window <= MAX_UINT32)
      assert.strictEqual(w.window, granted - sent)
    }
  })

  it("SEC-44: adjust overflowing 2^32−1 → violation", () => {
    const w = outbound(DEFAULT_WINDOW, DEFAULT_MAX_PACKET)
    const r = w.adjust(MAX_UINT32)
    assert.isTrue(isViolation(r) && r.rule === "SEC-44")
    assert.strictEqual(w.window, DEFAULT_WINDOW)
    assert.strictEqual(w.adjust(MAX_UINT32 - DEFAULT_WINDOW - 5)._tag, "Ok")
    assert.isTrue(isViolation(w.adjust(6))) // two adjusts summing past 2^32−1
    assert.strictEqual(w.adjust(5)._tag, "Ok")
    assert.strictEqual(w.window, MAX_UINT32)
  })

  it("LIM-21: max packet 0 refused; 2^32−1 clamped", () => {
    assert.isTrue(isRefused(OutboundWindow.make(DEFAULT_WINDOW, 0)))
    assert.isTrue(isRefused(OutboundWindow.make(DEFAULT_WINDOW, 8)))
    assert.strictEqual(outbound(DEFAULT_WINDOW, 9).maxChunk, 9)
    const w = outbound(DEFAULT_WINDOW, MAX_UINT32)
    assert.strictEqual(w.peerMaxPacket, 2 ** 31)
    assert.strictEqual(w.maxChunk, DEFAULT_MAX_PACKET) // SEC-44: min(peer max packet, 32 KiB, window)
    assert.isTrue(isRefused(ChannelState.accept(0, DEFAULT_WINDOW, 0)))
  })

  it("SEC-44: a zero window takes nothing; a 4 GiB + 5 byte write completes its chunking", () => {
    const w = outbound(0, DEFAULT_MAX_PACKET)
    assert.strictEqual(w.take(100), 0)
    let left = 2 ** 32 + 5
    let packets = 0
    while (left > 0) {
      const n = w.take(left)
      if (n === 0) {
        assert.strictEqual(w.adjust(DEFAULT_WINDOW)._tag, "Ok")
        continue
      }
      w.used(n)
      left -= n
      packets++
    }
    assert.strictEqual(packets, Math.ceil((2 ** 32 + 5) / DEFAULT_MAX_PACKET))
    assert.throws(() => w.used(w.window + 1), RangeError)
  })
})

describe("ChannelIds", () => {
  it.prop("allocation never hands out an id in use, and fills up to the limit", [
    FastCheck.integer({ min: 1, max: 40 }),
    FastCheck.array(FastCheck.oneof(FastCheck.constant(-1), FastCheck.nat({ max: 60 })), { maxLength: 300 })
  ], ([limit, ops]) => {
    const ids = new ChannelIds<{ readonly n: number }>(limit)
    const inUse = new Set<number>()
    for (const op of ops) {
      if (op === -1) {
        const id = ids.allocate({ n: 0 })
        if (id === undefined) assert.strictEqual(inUse.size, limit)
        else {
          assert.isFalse(inUse.has(id))
          assert.isTrue(id >= 0 && id < limit)
          inUse.add(id)
        }
      } else if (inUse.has(op)) {
        ids.free(op)
        inUse.delete(op)
      } else {
        assert.isTrue(isViolation(ids.lookup(op, "CHANNEL_DATA")))
      }
      assert.strictEqual(ids.size, inUse.size)
      assert.deepStrictEqual([...ids.entries()].map(([id]) => id), [...inUse].sort((a, b) => a - b))
    }
  })

  it("LIM-22: the 1 025th channel is refused; a freed id is reused", () => {
    const ids = new ChannelIds<object>()
    assert.strictEqual(ids.limit, DEFAULT_MAX_CHANNELS)
    for (let i = 0; i < 1024; i++) assert.strictEqual(ids.allocate({}), i)
    assert.strictEqual(ids.allocate({}), undefined)
    ids.free(700)
    ids.free(3)
    assert.strictEqual(ids.allocate({}), 700) // freed ids come back oldest first
    assert.strictEqual(ids.allocate({}), 3)
    assert.throws(() => ids.free(1024), RangeError)
  })

  it("SEC-41: data for an unknown or closed channel → violation", () => {
    const ids = new ChannelIds<ChannelState>()
    for (let i = 0; i < 3; i++) ids.allocate(openChannel())
    for (const id of [7, 3, 2 ** 31, MAX_UINT32, -1, 1.5]) {
      const r = ids.lookup(id, "CHANNEL_DATA")
      assert.isTrue(isViolation(r) && r.rule === "SEC-41", `id ${id}`)
    }
    const ch = ids.lookup(1, "CHANNEL_DATA")
    assert.isTrue(ch instanceof ChannelState)
    if (!(ch instanceof ChannelState)) return
    assert.deepStrictEqual(ch.sendClose(), "Send")
    assert.deepStrictEqual(ch.onClose(), { _tag: "Closed", sendClose: false })
    assert.isTrue(isViolation(ch.onData(1))) // a stale reference to the closed channel
    ids.free(1)
    assert.isTrue(isViolation(ids.lookup(1, "CHANNEL_DATA")))
  })
})

describe("ChannelState", () => {
  it("SEC-41: OPEN_CONFIRMATION / OPEN_FAILURE only for our pending open; nothing else while opening", () => {
    const open = openChannel()
    assert.isTrue(isViolation(open.onOpenConfirmation(1, 100, 100)))
    assert.isTrue(isViolation(open.onOpenFailure()))
    const pending = ChannelState.opening()
    for (const r of [pending.onData(1), pending.onWindowAdjust(1), pending.onEof(), pending.onClose()]) {
      assert.isTrue(isViolation(r) && r.rule === "SEC-41")
    }
    assert.deepStrictEqual(pending.onOpenConfirmation(9, 1000, 100), { _tag: "Opened" })
    assert.deepStrictEqual([pending.phase, pending.remoteId, pending.outbound?.window], ["Open", 9, 1000])
  })

  it("SEC-41: WINDOW_ADJUST after our EOF is ignored; SEC-44: but an overflow is still a violation", () => {
    const ch = openChannel()
    assert.isTrue(ch.sendEof())
    assert.isFalse(ch.sendEof())
    assert.deepStrictEqual(ch.onWindowAdjust(10), { _tag: "Ignored" })
    const overflow = ch.onWindowAdjust(MAX_UINT32)
    assert.isTrue(isViolation(overflow) && overflow.rule === "SEC-44")
    assert.strictEqual(ch.outbound?.window, DEFAULT_WINDOW + 10)
    assert.throws(() => ch.sendable(10))
    assert.throws(() => ch.sent(10))
  })

  it("SEC-43: DATA or EXTENDED_DATA after the peer's EOF → violation", () => {
    const ch = openChannel()
    assert.strictEqual(ch.onData(10)._tag, "Deliver")
    assert.strictEqual(ch.onEof()._tag, "Ok")
    assert.strictEqual(ch.onEof()._tag, "Ignored")
    for (const r of [ch.onData(1), ch.onExtendedData(1, true)]) assert.isTrue(isViolation(r) && r.rule === "SEC-43")
    assert.strictEqual(ch.consumed(10), 0) // no WINDOW_ADJUST once the peer can send no more
  })

  it("SEC-43: 10 000 EXTENDED_DATA of an unhandled type → discarded, window credited, no stall", () => {
    const ch = openChannel()
    let peerWindow = ch.inbound.initialWindow
    for (let i = 0; i < 10_000; i++) {
      const n = Math.min(32 * KiB, peerWindow)
      assert.isTrue(n > 0)
      const r = ch.onExtendedData(n, false)
      if (r._tag !== "Discard") return assert.fail(`got ${r._tag}`)
      peerWindow += r.adjust - n
    }
    assert.strictEqual(ch.inbound.buffered, 0)
  })

  it("SEC-43: data after the application stopped reading is dropped and credited", () => {
    const ch = openChannel()
    assert.strictEqual(ch.onData(32 * KiB)._tag, "Deliver")
    assert.strictEqual(ch.stopReading(), 0) // 32 KiB owed, below the threshold
    let adjusts = 0
    for (let i = 0; i < 32; i++) {
      const r = ch.onData(32 * KiB)
      if (r._tag === "Discard") adjusts += r.adjust
    }
    assert.strictEqual(adjusts, MiB)
    assert.strictEqual(ch.inbound.buffered, 0)
  })

  it("LIM-23: the 65th outstanding want-reply request → violation", () => {
    const ch = openChannel()
    for (let i = 0; i < 64; i++) assert.strictEqual(ch.onRequest(true)._tag, "Handle")
    assert.strictEqual(ch.onRequest(false)._tag, "Handle") // no reply owed: not counted
    const r = ch.onRequest(true)
    assert.isTrue(isViolation(r) && r.rule === "LIM-23")
    ch.replies.replied()
    assert.strictEqual(ch.onRequest(true)._tag, "Handle")
    const global = new WantReplies()
    for (let i = 0; i < 64; i++) global.onPeerRequest(true)
    assert.isTrue(isViolation(global.onPeerRequest(true)))
  })

  it("SEC-45: unsolicited CHANNEL_SUCCESS/FAILURE are dropped; replies match our requests", () => {
    const ch = openChannel()
    for (let i = 0; i < 10_000; i++) assert.strictEqual(ch.onReply(), "Unsolicited")
    assert.isTrue(ch.sendRequest(true))
    assert.strictEqual(ch.onReply(), "Matched")
    assert.strictEqual(ch.onReply(), "Unsolicited")
  })

  it("lifecycle: data both ways, EOF both ways, the peer's CLOSE answered once → Closed", () => {
    const ch = openChannel()
    assert.strictEqual(ch.sendable(100 * KiB), 32 * KiB)
    ch.sent(32 * KiB)
    assert.strictEqual(ch.outbound?.window, DEFAULT_WINDOW - 32 * KiB)
    assert.strictEqual(ch.onData(100)._tag, "Deliver")
    assert.strictEqual(ch.onExtendedData(100, true)._tag, "Deliver") // same window as data
    assert.strictEqual(ch.inbound.window, DEFAULT_WINDOW - 200)
    assert.isTrue(ch.sendEof())
    assert.strictEqual(ch.onEof()._tag, "Ok")
    assert.strictEqual(ch.phase, "Open")
    assert.deepStrictEqual(ch.onClose(), { _tag: "Closed", sendClose: true })
    assert.deepStrictEqual([ch.phase, ch.closeSent, ch.closeReceived], ["Closed", true, true])
    assert.strictEqual(ch.sendClose(), "None") // answered once
    assert.isTrue(isViolation(ch.onClose()))
    assert.isFalse(ch.sendRequest(true))
  })

  it("lifecycle: our CLOSE first; data in flight dropped uncredited, requests ignored, then the peer's CLOSE", () => {
    const ch = openChannel()
    assert.strictEqual(ch.sendClose(), "Send")
    assert.strictEqual(ch.sendClose(), "None")
    assert.strictEqual(ch.phase, "Open") // the id stays allocated until the peer's CLOSE
    assert.deepStrictEqual(ch.onData(32 * KiB), { _tag: "Discard", adjust: 0 })
    assert.strictEqual(ch.inbound.window, DEFAULT_WINDOW - 32 * KiB)
    assert.strictEqual(ch.onRequest(true)._tag, "Ignored")
    assert.strictEqual(ch.onWindowAdjust(10)._tag, "Ignored")
    assert.strictEqual(ch.sendable(10), 0)
    assert.throws(() => ch.sent(10))
    assert.deepStrictEqual(ch.onClose(), { _tag: "Closed", sendClose: false })
  })

  it("lifecycle: CLOSE while opening is deferred to the confirmation; OPEN_FAILURE closes at once", () => {
    const a = ChannelState.opening()
    assert.strictEqual(a.sendClose(), "Deferred")
    assert.strictEqual(a.onOpenConfirmation(1, 100, 100)._tag, "SendClose")
    assert.deepStrictEqual(a.onClose(), { _tag: "Closed", sendClose: false })
    const b = ChannelState.opening()
    assert.strictEqual(b.sendClose(), "Deferred")
    assert.deepStrictEqual(b.onOpenFailure(), { _tag: "Closed", sendClose: false })
    assert.strictEqual(b.phase, "Closed")
    assert.throws(() => ChannelState.opening().sendEof())
  })

  it("LIM-21: a confirmation with max packet 0 → the channel is refused with CLOSE", () => {
    const ch = ChannelState.opening()
    const r = ch.onOpenConfirmation(4, DEFAULT_WINDOW, 0)
    assert.isTrue(r._tag === "SendClose" && r.reason === "Refused")
    assert.deepStrictEqual([ch.closeSent, ch.outbound, ch.sendable(10)], [true, undefined, 0])
    assert.deepStrictEqual(ch.onClose(), { _tag: "Closed", sendClose: false })
  })
})
