/**
 * `npm run bench`: the performance figures of DESIGN.md §10 that the transport layer can show today, measured
 * in one run and printed as tables with ratios to OpenSSH where it does the same thing:
 *
 * 1. packet sealing and opening for every cipher × MAC on both crypto backends (bench/packets.ts);
 * 2. connection set-up against OpenSSH's sshd: our client transport beside `ssh-keyscan` (bench/handshake.ts);
 * 3. bulk transport throughput of our client ↔ our server over TCP, beside OpenSSH's ssh ← sshd
 *    (bench/throughput.ts).
 *
 * A benchmark, not a test: nothing is asserted. Parts that need OpenSSH are skipped when it is not installed.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as os from "node:os"
import * as Handshake from "./handshake.js"
import * as Packets from "./packets.js"
import * as Throughput from "./throughput.js"

const LEFT = new Set(["kex", "cipher", "mac", "backend"])

/** Fixed-width table: text columns left-aligned, figures right-aligned. */
const formatTable = (cells: ReadonlyArray<ReadonlyArray<string>>): string => {
  const head = cells[0]!
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((c, i) => (LEFT.has(head[i]!) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n")
}

const section = (title: string, notes: ReadonlyArray<string>) =>
  Console.log(`\n== ${title}\n${notes.map((n) => `   ${n}`).join("\n")}\n`)

const opensshVersion = (): string => {
  const r = spawnSync("/usr/bin/ssh", ["-V"], { stdio: ["ignore", "ignore", "pipe"] })
  return r.status === 0 ? r.stderr.toString().trim() : "ssh not installed"
}

/** portable ÷ node per combination at one payload size. */
const backendRatios = (rows: ReadonlyArray<Packets.PacketBenchRow>, payload: number) => {
  const node = rows.filter((r) => r.backend === "node" && r.payload === payload)
  return [
    ["cipher", "mac", "node seal MB/s", "portable seal MB/s", "portable ÷ node seal", "node open MB/s", "portable open MB/s", "portable ÷ node open"],
    ...node.flatMap((n) => {
      const p = rows.find((r) => r.backend !== "node" && r.payload === payload && r.cipher === n.cipher && r.mac === n.mac)
      return p === undefined ? [] : [[
        n.cipher,
        n.mac,
        n.sealMBps.toFixed(0),
        p.sealMBps.toFixed(0),
        `${(p.sealMBps / n.sealMBps).toFixed(2)}×`,
        n.openMBps.toFixed(0),
        p.openMBps.toFixed(0),
        `${(p.openMBps / n.openMBps).toFixed(2)}×`
      ]]
    })
  ]
}

const program = Effect.gen(function*() {
  const started = performance.now()
  const haveSshd = Handshake.available()
  yield* Console.log(
    `effect-ssh bench — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ` +
      `load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n` +
      `OpenSSH: ${opensshVersion()}\n` +
      "The machine may be shared: figures are best-of or medians, and every ratio compares figures of this run."
  )

  // (a) ---------------------------------------------------------------------------------------------------------
  yield* section("1. Packet seal/open (bench/packets.ts): one thread, no I/O; MB/s of payload", [
    "Each figure: the best of three slices of ~0.08 s. Sealing reuses one packet; opening replays a sealed batch."
  ])
  const packetRows = yield* Effect.sync(() => Packets.run())
  yield* Console.log(Packets.format(packetRows))
  yield* Console.log("\nportable (@noble) ÷ node:crypto, 32 KiB payloads:\n")
  yield* Console.log(formatTable(backendRatios(packetRows, 32768)))

  // (b) ---------------------------------------------------------------------------------------------------------
  yield* section("2. Connection set-up against OpenSSH sshd on 127.0.0.1 (TCP), sequential, median", [
    "ours: TCP connect + version exchange + key exchange through NEWKEYS (host key ssh-ed25519, pinned),",
    "      our client transport on node:crypto, in this warm process; closing is not timed.",
    "ssh-keyscan -t ed25519: process start + TCP connect + version exchange + key exchange up to the signed",
    "      KEX reply (it sends no NEWKEYS), then exit. The same work on the wire, plus a process start; `spawn`",
    "      (ssh-keyscan against a closed port) estimates the latter, so the last column compares the protocol part.",
    "sshd restricted to one KexAlgorithms per row; it forks and re-executes itself per connection for both."
  ])
  if (haveSshd) {
    const rows = yield* Handshake.run()
    yield* Console.log(formatTable(Handshake.table(rows)))
  } else {
    yield* Console.log("SKIPPED: /usr/sbin/sshd or ssh-keyscan is not installed (apt-get install openssh-server).")
  }

  // (c) ---------------------------------------------------------------------------------------------------------
  yield* section("3. Bulk transport throughput, 256 MiB as 32 KiB CHANNEL_DATA (type 94) payloads, server → client", [
    "ours: our server (NodeTransport.serve) → our client (NodeTransport.connect) over TCP on 127.0.0.1, node:crypto,",
    "      client takes messages with receiveAll. 1 proc: both ends in this process (one JS thread);",
    "      2 procs: the server in a child process. The faster of two transfers, after an 8 MiB warm-up.",
    "OpenSSH: ssh -c CIPHER [-m MAC] host head -c 268435456 /dev/zero (stdout to /dev/null) against sshd, the faster",
    "      of two, minus the median of three of the same ssh with `true` (start, kex, auth, session): the transfer alone.",
    "seal+open est.: 1/(1/seal + 1/open) from table 1 (node, 32 KiB): what one thread doing both ends could reach",
    "      on crypto alone (measured at another moment: on a busy machine it is off either way)."
  ])
  const throughputRows = yield* Throughput.run({ openssh: haveSshd })
  yield* Console.log(formatTable(Throughput.table(throughputRows, packetRows)))
  if (!haveSshd) yield* Console.log("(OpenSSH column SKIPPED: sshd is not installed.)")

  yield* Console.log(`\nTotal ${((performance.now() - started) / 1000).toFixed(0)} s.`)
})

NodeRuntime.runMain(program)
