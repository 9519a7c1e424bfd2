/**
 * The binary packet protocol (RFC 4253 §6) as pure, synchronous code: framing, length and padding checks,
 * sequence numbers, and the cipher in use for each direction. The Transport shell feeds it socket chunks and
 * take payloads; nothing here knows about Effect or sockets (sans-IO, so tests and the adversarial RawPeer
 * can drive it byte by byte — TST-01, TST-04).
 *
 * @since 0.1.0
 */
import type { PacketOpener, PacketSealer } from "../crypto/PacketCipher.js"
import type { Deflater, Inflater } from "./Compression.js"

/**
 * LIM-05: the default maximum inbound packet_length (OpenSSH `PACKET_MAX_SIZE`).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_PACKET = 262_144

/**
 * RFC 4253 §6.1: every implementation must accept packets of 35 000 bytes; the limit is never set lower.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_MAX_PACKET = 35_000

/**
 * Why an inbound packet was refused. `MacMismatch` covers every failure after the MAC check so that no
 * padding or length oracle exists (SEC-04); in the plaintext phase (no MAC) a bad padding is `ProtocolViolation`.
 * `CompressionError`: the payload does not inflate, or inflates past the limit (SEC-51, LIM-08: D(6)).
 *
 * @since 0.1.0
 * @category models
 */
export interface PacketError {
  readonly _tag: "PacketError"
  readonly reason: "PacketTooLarge" | "ProtocolViolation" | "MacMismatch" | "CompressionError"
  readonly description: string
}

const packetError = (reason: PacketError["reason"], description: string): PacketError => ({
  _tag: "PacketError",
  reason,
  description
})

/**
 * True when the value is a `PacketError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPacketError = (u: unknown): u is PacketError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "PacketError"

/**
 * The plaintext state before the first NEWKEYS: no cipher, no MAC, 8-byte alignment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const noneOpener = (): PacketOpener => ({
  blockSize: 8,
  macLength: 0,
  lengthAligned: true,
  headerLength: 4,
  packetLength: (_seq, header) => new DataView(header.buffer, header.byteOffset, 4).getUint32(0),
  open: (_seq, wire) => wire.subarray(4)
})

/**
 * The plaintext state before the first NEWKEYS, outbound: no cipher, no MAC, 8-byte alignment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const noneSealer = (): PacketSealer => ({
  blockSize: 8,
  macLength: 0,
  lengthAligned: true,
  seal: (_seq, packet) => packet
})

const EMPTY = new Uint8Array(0)

/** The least free space `readBuffer` offers a socket read (Node's own read size). */
const READ_MIN = 64 * 1024
/** The read arena while data flows in bulk: several reads land in it before it is compacted. */
const ARENA = 256 * 1024
/** The read arena after small reads (interactive traffic), and the read size below which an idle reader lets go. */
const SMALL_ARENA = 16 * 1024
const SMALL_READ = 2 * 1024

/**
 * Inbound direction: frames packets from arbitrary chunks. Buffering is bounded by the packet limit
 * (SEC-01): the length is checked as soon as it is known, before waiting for the rest of the packet.
 *
 * @since 0.1.0
 * @category models
 */
export class PacketReader {
  /** Receive sequence number (RFC 4253 §6.4), mod 2^32. Settable for tests (TST-04). */
  seq = 0
  /** Set when `seq` wrapped since the last `resetWrapped` (SEC-07). */
  wrapped = false
  packets = 0
  bytes = 0
  /** Unread bytes are `data[pos, end)` then `tail`; `data` is a pushed chunk or, when `owned`, our own buffer. */
  private data: Uint8Array = EMPTY
  private pos = 0
  private end = 0
  private owned = false
  /** Received bytes after `data`, still in the chunk they came in (not copied). */
  private tail: Uint8Array = EMPTY
  private pendingLength = -1
  /** The inbound zlib stream while compression is active (RFC 4253 §6.2); set by the transport. */
  inflater: Inflater | undefined = undefined
  /** Packets inflated so far (TST-05). */
  inflated = 0
  /** SEC-05: bytes still to drop from the start of the failed packet before the MAC error; -1 when not discarding. */
  private discarding = -1
  /**
   * The buffer straddling packets are assembled in, kept while the opener is `fresh` (no payload views it) and
   * the reader has bytes buffered: a bulk transfer assembles most packets without allocating, and an idle
   * connection keeps none.
   */
  private scratch: Uint8Array = EMPTY
  /**
   * The buffer socket reads land in when the link reads into ours (`readBuffer`): `data` while it holds the unread
   * bytes. Never written below `end` while a payload may view it; compacted in place only when the opener is
   * `fresh`.
   */
  private arena: Uint8Array = EMPTY
  /** The length of the last read that landed in the arena. */
  private lastRead = 0
  /**
   * Received bytes this reader copied to frame packets (joining chunks, assembling split packets, compacting the
   * arena), besides the opener's own output: with `bytes`, the copies per inbound packet (DESIGN.md §6).
   */
  copiedBytes = 0

  constructor(public opener: PacketOpener = noneOpener(), public maxPacket: number = DEFAULT_MAX_PACKET) {}

  /**
   * Appends received bytes. A chunk is used in place; only a packet that straddles two chunks is assembled in a
   * buffer of our own, and only its own bytes are copied there (not the rest of the next chunk), so a packet that
   * arrives in many small chunks costs linear time (SEC-01) and bulk data is copied at most once. Bytes are never
   * moved or overwritten once a payload may view them.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    if (
      this.inArena && this.tail.length === 0 && chunk.buffer === this.arena.buffer &&
      chunk.byteOffset === this.arena.byteOffset + this.end && this.end + chunk.length <= this.arena.length
    ) {
      // Read where `readBuffer` said: it continues the unread bytes in place (a split packet is already whole).
      this.end += chunk.length
      this.lastRead = chunk.length
      return
    }
    if (this.tail.length > 0) {
      // Two pushes without a `next` in between: keep the order, at the cost of one copy.
      const merged = new Uint8Array(this.tail.length + chunk.length)
      merged.set(this.tail)
      merged.set(chunk, this.tail.length)
      this.copiedBytes += merged.length
      this.tail = merged
      return
    }
    if (this.end === this.pos) {
      this.data = chunk
      this.pos = 0
      this.end = chunk.length
      this.owned = false
      return
    }
    this.tail = chunk
  }

  /** `data` is the read arena. */
  private get inArena(): boolean {
    return this.arena !== EMPTY && this.data === this.arena
  }

  /**
   * Where the link should read next (Node's `onread`): free space right after the unread bytes in the read arena,
   * so that a packet split between reads is contiguous without a copy and a read allocates nothing. When the arena
   * is short of space, the unread bytes (less than a packet) move to the start of it — in place when no payload
   * views it (a `fresh` opener), else to a new one. Bytes pushed from the returned region are taken in place.
   */
  readBuffer(): Uint8Array {
    const arena = this.arena
    if (this.inArena && this.tail.length === 0 && arena.length - this.end >= Math.min(READ_MIN, arena.length >> 1)) {
      return arena.subarray(this.end)
    }
    const avail = this.end - this.pos
    const unread = avail + this.tail.length
    // SEC-01: at most one packet (its length already checked) plus one read beyond what is buffered.
    const packet = this.pendingLength >= 0 ? 4 + this.pendingLength + this.opener.macLength : 0
    const small = this.lastRead < SMALL_READ
    const free = small ? SMALL_ARENA >> 1 : READ_MIN
    const size = Math.max(small ? SMALL_ARENA : ARENA, packet + free, unread + free)
    let next: Uint8Array
    if (this.inArena && this.opener.fresh === true && arena.length >= size) {
      arena.copyWithin(0, this.pos, this.end)
      next = arena
    } else {
      next = new Uint8Array(size)
      next.set(this.data.subarray(this.pos, this.end))
    }
    next.set(this.tail, avail)
    this.copiedBytes += unread
    this.arena = next
    this.data = next
    this.pos = 0
    this.end = unread
    this.owned = true
    this.tail = EMPTY
    return next.subarray(unread)
  }

  /**
   * Makes `need` bytes contiguous at `data[pos..]` by moving what is missing from `tail` into our own buffer.
   * `capacity` is what the buffer should hold when it has to be (re)allocated: the whole packet once its length
   * is known (SEC-01: never more than one packet).
   */
  private fill(need: number, capacity: number): boolean {
    const avail = this.end - this.pos
    if (avail >= need) return true
    if (this.tail.length === 0) return false
    const take = Math.min(need - avail, this.tail.length)
    // The read arena is never extended here: a socket read may be under way into the space after `end`.
    if (!this.owned || this.inArena || this.end + take > this.data.length) {
      const size = Math.max(need, capacity)
      let grown: Uint8Array
      if (this.opener.fresh === true && this.scratch.length >= size) {
        // No payload views the scratch buffer (the opener decrypts out of place): assemble there again.
        grown = this.scratch
        if (grown === this.data) grown.copyWithin(0, this.pos, this.end)
        else grown.set(this.data.subarray(this.pos, this.end))
        this.copiedBytes += avail
      } else {
        // A new buffer: a payload returned earlier may still view the old one.
        grown = new Uint8Array(size)
        grown.set(this.data.subarray(this.pos, this.end))
        this.copiedBytes += avail
        if (this.opener.fresh === true) this.scratch = grown
      }
      this.data = grown
      this.pos = 0
      this.end = avail
      this.owned = true
    }
    this.data.set(this.tail.subarray(0, take), this.end)
    this.copiedBytes += take
    this.end += take
    this.tail = take === this.tail.length ? EMPTY : this.tail.subarray(take)
    return this.end - this.pos >= need
  }

  /** Bytes received but not yet consumed as packets. */
  get buffered(): number {
    return this.end - this.pos + this.tail.length
  }

  /**
   * The next payload, `undefined` when more bytes are needed, or a `PacketError` (fatal to the connection).
   */
  next(): Uint8Array | undefined | PacketError {
    const o = this.opener
    if (this.discarding >= 0) return this.drain()
    if (this.pendingLength < 0) {
      if (!this.fill(o.headerLength, 4096)) {
        if (this.buffered === 0) {
          // Idle: keep nothing, and after a small read not the read arena either (interactive traffic).
          this.scratch = EMPTY
          if (this.lastRead < SMALL_READ && this.inArena) this.release()
        }
        return undefined
      }
      const len = o.packetLength(this.seq, this.data.subarray(this.pos, this.pos + o.headerLength))
      // SEC-05: under CBC encrypt-and-MAC a bad length is a MAC failure reported only after a fixed amount of input.
      if (o.discardOnError && (len > this.maxPacket || len < 5 || (len + 4) % o.blockSize !== 0)) {
        return this.startDiscard(this.maxPacket)
      }
      // SEC-01: bound the length before buffering anything more; LIM-06: at least padding_length + 4 bytes.
      if (len > this.maxPacket) {
        return packetError("PacketTooLarge", `packet_length ${len} exceeds the limit of ${this.maxPacket}`)
      }
      if (len < 5) return packetError("ProtocolViolation", `packet_length ${len} is below the minimum`)
      // SEC-02: the padded packet is a multiple of max(8, block size); ETM/AEAD exclude the length field.
      const aligned = o.lengthAligned ? len + 4 : len
      if (aligned % o.blockSize !== 0) {
        return packetError("ProtocolViolation", `packet_length ${len} is not aligned to ${o.blockSize} bytes`)
      }
      this.pendingLength = len
    }
    const total = 4 + this.pendingLength + o.macLength
    if (!this.fill(total, total)) return undefined
    const wire = this.data.subarray(this.pos, this.pos + total)
    const plain = o.open(this.seq, wire)
    if (plain === undefined) {
      if (o.discardOnError) return this.startDiscard(Math.max(total, this.maxPacket))
      return packetError("MacMismatch", "message authentication code incorrect")
    }
    const padding = plain[0]!
    // SEC-02 / LIM-06: padding ≥ 4 and at least one payload byte (a message number). Under a MAC this looks
    // exactly like a MAC failure (SEC-04: no padding oracle); in the plaintext phase there is no MAC to protect,
    // and it is malformed framing (D(2)).
    if (padding < 4 || padding > this.pendingLength - 2) {
      return packetError(o.macLength === 0 ? "ProtocolViolation" : "MacMismatch", "corrupted padding")
    }
    const payload = plain.subarray(1, this.pendingLength - padding)
    this.pos += total
    if (this.pos === this.end && this.inArena && this.tail.length === 0) {
      // All read: the next read lands at the start again, unless a payload may view the arena.
      if (o.fresh === true) this.pos = this.end = 0
    } else if (this.pos === this.end) {
      // Continue in the next chunk where it is, without copying it.
      this.data = this.tail
      this.pos = 0
      this.end = this.tail.length
      this.owned = false
      this.tail = EMPTY
    }
    this.bytes += total
    this.packets++
    this.pendingLength = -1
    this.seq = (this.seq + 1) >>> 0
    if (this.seq === 0) this.wrapped = true
    return this.inflater === undefined ? payload : this.inflate(this.inflater, payload)
  }

  /** RFC 4253 §6.2: decompressed after decryption; LIM-08: at most `maxPacket` bytes per packet. */
  private inflate(inflater: Inflater, compressed: Uint8Array): Uint8Array | PacketError {
    const r = inflater.decompress(compressed, this.maxPacket)
    if (!(r instanceof Uint8Array)) return packetError("CompressionError", `decompression failed: ${r.description}`)
    if (r.length === 0) return packetError("ProtocolViolation", "the decompressed payload is empty")
    this.inflated++
    return r
  }

  /** SEC-05: drop `count` bytes from the start of the current packet as they arrive, then fail. */
  private startDiscard(count: number): undefined | PacketError {
    this.discarding = count
    return this.drain()
  }

  private drain(): undefined | PacketError {
    while (this.discarding > 0) {
      if (this.pos === this.end) {
        if (this.tail.length === 0) return undefined
        this.data = this.tail
        this.pos = 0
        this.end = this.tail.length
        this.owned = false
        this.tail = EMPTY
      }
      const n = Math.min(this.end - this.pos, this.discarding)
      this.pos += n
      this.discarding -= n
    }
    return packetError("MacMismatch", "message authentication code incorrect")
  }

  /** Lets go of the read arena: what is unread there stays where it is, as a chunk not to be written again. */
  private release(): void {
    if (this.inArena) this.owned = false
    this.arena = EMPTY
  }

  /** Installs the opener for the next packet, after NEWKEYS (RFC 4253 §7.3). */
  setOpener(opener: PacketOpener): void {
    this.opener = opener
    this.pendingLength = -1
    // Payloads of the previous opener may view the scratch buffer and the read arena.
    this.scratch = EMPTY
    this.release()
  }
}

/**
 * Outbound direction: pads and seals payloads.
 *
 * @since 0.1.0
 * @category models
 */
export class PacketWriter {
  /** Send sequence number, mod 2^32 (TST-04). */
  seq = 0
  wrapped = false
  packets = 0
  bytes = 0
  private pool: Uint8Array = EMPTY
  private poolPos = 0
  /** The outbound zlib stream while compression is active (RFC 4253 §6.2); set by the transport. */
  deflater: Deflater | undefined = undefined
  /** Packets compressed so far (TST-05). */
  deflated = 0
  /**
   * Payload bytes this writer copied to frame packets (`seal`; `sealParts` copies none): with the cipher's own
   * output, the copies per outbound packet (DESIGN.md §6) — counted for tests and the bench.
   */
  copiedBytes = 0
  private sealedUnderKey = 0

  constructor(public sealer: PacketSealer = noneSealer(), private readonly random: (n: number) => Uint8Array) {}

  /** Seals one payload into the bytes to write (compressing it first while compression is active). */
  seal(data: Uint8Array): Uint8Array {
    // SEC-05: under CBC, an IGNORE (RFC 4253 §11.2) of 1–32 random bytes first; see PacketSealer.ignorePrefix.
    // Not before the first packet under new keys: its IV is the secret one from key derivation (RFC 4253 §7.2),
    // and that packet may have to be EXT_INFO (RFC 8308 §2.4).
    const first = this.sealedUnderKey++ === 0
    if (this.sealer.ignorePrefix !== true || first) return this.sealOne(this.compress(data))
    const noise = this.randomBytes(1)[0]! & 31
    const ignore = new Uint8Array(5 + 1 + noise)
    ignore[0] = 2
    ignore[4] = 1 + noise
    ignore.set(this.randomBytes(1 + noise), 5)
    // Both packets go through the compression stream, in order, as every packet does once it is active.
    const a = this.sealOne(this.compress(ignore))
    const b = this.sealOne(this.compress(data))
    const out = new Uint8Array(a.length + b.length)
    out.set(a)
    out.set(b, a.length)
    return out
  }

  /** Whether `sealParts` seals without joining (a gathering sealer, no compression, no CBC IGNORE prefix). */
  get gathers(): boolean {
    return this.sealer.sealParts !== undefined && this.deflater === undefined && this.sealer.ignorePrefix !== true
  }

  /**
   * Seals the payload `head ‖ data` as wire parts, without copying `data` (DESIGN.md §6: the only copy is the
   * cipher's). Only when `gathers`; otherwise use `seal`.
   */
  sealParts(head: Uint8Array, data: Uint8Array): ReadonlyArray<Uint8Array> {
    const s = this.sealer
    const payloadLength = head.length + data.length
    // RFC 4253 §6, as in `sealOne` (gathering sealers are AEAD: alignment excludes the length field).
    const base = s.lengthAligned ? 5 + payloadLength : 1 + payloadLength
    let padding = s.blockSize - (base % s.blockSize)
    if (padding < 4) padding += s.blockSize
    const first = new Uint8Array(5 + head.length)
    new DataView(first.buffer).setUint32(0, 1 + payloadLength + padding)
    first[4] = padding
    first.set(head, 5)
    // SEC-24: random padding.
    const parts = s.sealParts!(this.seq, [first, data, this.randomBytes(padding)])
    this.sealedUnderKey++
    this.seq = (this.seq + 1) >>> 0
    if (this.seq === 0) this.wrapped = true
    this.packets++
    for (const p of parts) this.bytes += p.length
    return parts
  }

  private compress(data: Uint8Array): Uint8Array {
    if (this.deflater === undefined) return data
    this.deflated++
    return this.deflater.compress(data)
  }

  private sealOne(payload: Uint8Array): Uint8Array {
    const s = this.sealer
    const bs = s.blockSize
    // RFC 4253 §6: 4 ≤ padding ≤ 255 and the packet (less the length field for ETM/AEAD) is block aligned.
    const base = s.lengthAligned ? 5 + payload.length : 1 + payload.length
    let padding = bs - (base % bs)
    if (padding < 4) padding += bs
    const len = 1 + payload.length + padding
    // Framed in a new packet: one copy of the payload (bulk data takes `sealParts`, which makes none).
    const packet = new Uint8Array(4 + len)
    const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength)
    view.setUint32(0, len)
    packet[4] = padding
    packet.set(payload, 5)
    this.copiedBytes += payload.length
    // SEC-24: random padding, from a pool refilled from the CSPRNG.
    packet.set(this.randomBytes(padding), 5 + payload.length)
    const out = s.seal(this.seq, packet)
    this.seq = (this.seq + 1) >>> 0
    if (this.seq === 0) this.wrapped = true
    this.packets++
    this.bytes += out.length
    return out
  }

  private randomBytes(n: number): Uint8Array {
    if (this.poolPos + n > this.pool.length) {
      // Small: one pool per connection and direction, refilled every few dozen packets.
      this.pool = this.random(512)
      this.poolPos = 0
    }
    const r = this.pool.subarray(this.poolPos, this.poolPos + n)
    this.poolPos += n
    return r
  }

  /** Installs the sealer for the packets after our NEWKEYS (RFC 4253 §7.3). */
  setSealer(sealer: PacketSealer): void {
    this.sealer = sealer
    this.sealedUnderKey = 0
  }
}
