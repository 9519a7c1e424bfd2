/**
 * Packet sealing and opening throughput on both crypto backends (DESIGN.md §4, §6): every cipher, and every MAC
 * (HMAC, UMAC, the legacy ones) under aes128-ctr.
 * Run with `npx tsx bench/packets.ts [name…]` (only rows whose cipher or MAC name contains a name); `bench/index.ts`
 * calls `run()` and prints the rows itself.
 *
 * Each figure is the best of three timed slices, about `seconds` (0.25 s by default) in all, after a warm-up.
 * Sealing reuses one padded packet; opening replays a batch sealed beforehand through a fresh opener per pass (openers are stateful:
 * the CTR keystream and the GCM invocation counter move on with every packet). MB/s counts payload bytes.
 * "data MB/s" and "writer copies": CHANNEL_DATA through PacketWriter as the engine sends it (sealParts where the
 * cipher gathers): copies of the data per packet before the sealer (0 when gathered; AES-GCM and chacha20-poly1305
 * on node:crypto then write only the cipher's output, the MAC ciphers lay the pieces out once and encrypt there).
 *
 * @since 0.1.0
 */
import { pathToFileURL } from "node:url"
import type { CryptoBackend } from "../src/crypto/Backend.js"
import * as Ciphers from "../src/crypto/Ciphers.js"
import type { DirectionKeys, PacketSealer } from "../src/crypto/PacketCipher.js"
import { PacketWriter } from "../src/transport/PacketCodec.js"
import { PortableCrypto } from "../src/crypto/portable/PortableCrypto.js"
import { NodeCrypto } from "../src/node/NodeCrypto.js"

/**
 * One measured combination.
 *
 * @since 0.1.0
 * @category models
 */
export interface PacketBenchRow {
  readonly backend: string
  readonly cipher: string
  readonly mac: string
  readonly payload: number
  readonly sealPerSec: number
  readonly openPerSec: number
  readonly sealMBps: number
  readonly openMBps: number
  /**
   * Channel data through the packet writer as the engine sends it (DESIGN.md §6): `sealParts(head, data)` where
   * the cipher gathers, else `seal` of the joined payload — MB/s, and the copies of the data per packet made on
   * the way to the sealer (the join and the framing; `PacketWriter.copiedBytes`), besides the sealer's own output.
   */
  readonly writerMBps: number
  readonly copiesPerPacket: number
}

/**
 * Seconds per measurement (default 0.25), payload sizes (default 32 KiB and 1 KiB) and backends (default both).
 *
 * @since 0.1.0
 * @category models
 */
export interface PacketBenchOptions {
  readonly seconds?: number | undefined
  readonly payloads?: ReadonlyArray<number> | undefined
  readonly backends?: ReadonlyArray<CryptoBackend> | undefined
  /** Only the combinations whose "cipher mac" label contains one of these strings (default: all). */
  readonly match?: ReadonlyArray<string> | undefined
}

// Every MAC (HMAC, UMAC, legacy) under aes128-ctr; every other cipher (CTR, CBC, 3DES) with hmac-sha2-256-etm.
const combos = Ciphers.cipherSpecs.flatMap((cipher) =>
  cipher.aead
    ? [{ cipher, mac: undefined }]
    : Ciphers.macSpecs
      .filter((mac) => cipher.name === "aes128-ctr" || mac.name === "hmac-sha2-256-etm@openssh.com")
      .map((mac): { cipher: Ciphers.CipherSpec; mac: Ciphers.MacSpec | undefined } => ({ cipher, mac }))
)

const makePacket = (s: PacketSealer, payload: number, random: (n: number) => Uint8Array): Uint8Array => {
  const base = s.lengthAligned ? 5 + payload : 1 + payload
  let padding = s.blockSize - (base % s.blockSize)
  if (padding < 4) padding += s.blockSize
  const len = 1 + payload + padding
  const packet = random(4 + len)
  new DataView(packet.buffer).setUint32(0, len)
  packet[4] = padding
  return packet
}

// The best of three slices: the machines are shared and two-core, so the fastest slice is the least disturbed.
const timed = (seconds: number, step: () => number): number => {
  let best = 0
  for (let slice = 0; slice < 3; slice++) {
    let n = 0
    const start = performance.now()
    const end = start + (seconds * 1000) / 3
    let now = start
    while (now < end) {
      n += step()
      now = performance.now()
    }
    best = Math.max(best, n / ((now - start) / 1000))
  }
  return best
}

const measure = (
  backend: CryptoBackend,
  cipher: Ciphers.CipherSpec,
  mac: Ciphers.MacSpec | undefined,
  payload: number,
  seconds: number
): PacketBenchRow => {
  const keys: DirectionKeys = {
    key: backend.randomBytes(cipher.keyLength),
    iv: backend.randomBytes(cipher.ivLength),
    macKey: backend.randomBytes(cipher.aead ? 0 : mac!.keyLength)
  }
  const sealer = Ciphers.makeSealer(backend, cipher, mac, keys)
  const packet = makePacket(sealer, payload, backend.randomBytes)
  let seq = 0
  for (let i = 0; i < 5; i++) sealer.seal(seq++, packet)
  const sealPerSec = timed(seconds, () => {
    sealer.seal(seq++ >>> 0, packet)
    return 1
  })
  // A batch of consecutive packets (≈ 1 MiB, at least 16), opened again and again by fresh openers.
  const batchSize = Math.max(16, Math.min(1024, Math.floor((1 << 20) / packet.length)))
  const batchSealer = Ciphers.makeSealer(backend, cipher, mac, keys)
  const batch = Array.from({ length: batchSize }, (_, i) => batchSealer.seal(i, packet.slice()))
  const openBatch = () => {
    const opener = Ciphers.makeOpener(backend, cipher, mac, keys)
    for (let i = 0; i < batch.length; i++) {
      const wire = batch[i]!
      opener.packetLength(i, wire.subarray(0, opener.headerLength))
      if (opener.open(i, wire) === undefined) throw new Error(`${cipher.name}: a packet did not open`)
    }
    return batch.length
  }
  openBatch()
  const openPerSec = timed(seconds, openBatch)
  // CHANNEL_DATA as the engine hands it over: a 9-byte head and the caller's data, joined only when the writer
  // cannot gather (CBC's IGNORE prefix), as outbound.ts does.
  const writer = new PacketWriter(Ciphers.makeSealer(backend, cipher, mac, keys), backend.randomBytes)
  const head = new Uint8Array([94, 0, 0, 0, 1, 0, 0, 0, 0])
  const data = backend.randomBytes(Math.max(0, payload - head.length))
  let joins = 0
  const send = () => {
    if (writer.gathers) writer.sealParts(head, data)
    else {
      const joined = new Uint8Array(head.length + data.length)
      joined.set(head)
      joined.set(data, head.length)
      joins++
      writer.seal(joined)
    }
    return 1
  }
  for (let i = 0; i < 5; i++) send()
  const writerPerSec = timed(seconds, send)
  const copiesPerPacket = (writer.copiedBytes + joins * data.length) / (writer.packets * data.length)
  return {
    backend: backend.name,
    cipher: cipher.name,
    mac: mac?.name ?? "(aead)",
    payload,
    sealPerSec,
    openPerSec,
    sealMBps: (sealPerSec * payload) / 1e6,
    openMBps: (openPerSec * payload) / 1e6,
    writerMBps: (writerPerSec * payload) / 1e6,
    copiesPerPacket
  }
}

/**
 * Measures every cipher, and every MAC under aes128-ctr, on each backend at each payload size.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const run = (options?: PacketBenchOptions): ReadonlyArray<PacketBenchRow> => {
  const seconds = options?.seconds ?? 0.25
  const payloads = options?.payloads ?? [32768, 1024]
  const list = options?.backends ?? [NodeCrypto, PortableCrypto]
  const rows: Array<PacketBenchRow> = []
  for (const payload of payloads) {
    for (const backend of list) {
      for (const { cipher, mac } of combos) {
        const label = `${cipher.name} ${mac?.name ?? ""}`
        if (options?.match !== undefined && !options.match.some((m) => label.includes(m))) continue
        rows.push(measure(backend, cipher, mac, payload, seconds))
      }
    }
  }
  return rows
}

/**
 * Formats rows as a fixed-width table.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (rows: ReadonlyArray<PacketBenchRow>): string => {
  const head = ["backend", "payload", "cipher", "mac", "sealed/s", "opened/s", "seal MB/s", "open MB/s", "data MB/s", "writer copies"]
  const body = rows.map((r) => [
    r.backend,
    String(r.payload),
    r.cipher,
    r.mac,
    Math.round(r.sealPerSec).toLocaleString("en-US"),
    Math.round(r.openPerSec).toLocaleString("en-US"),
    r.sealMBps.toFixed(0),
    r.openMBps.toFixed(0),
    r.writerMBps.toFixed(0),
    r.copiesPerPacket.toFixed(2)
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ")
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n")
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const started = performance.now()
  // `npx tsx bench/packets.ts umac hmac-sha2-256-etm`: only the rows whose cipher/MAC names contain an argument.
  const match = process.argv.slice(2)
  console.log(format(run(match.length > 0 ? { match } : undefined)))
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`)
}
