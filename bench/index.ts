/**
 * `npm run bench`: the performance figures of DESIGN.md §10 that the transport layer can show today, measured
 * in one run and printed as tables with ratios to OpenSSH where it does the same thing:
 *
 * 1. packet sealing and opening for every cipher × MAC on both crypto backends (bench/packets.ts);
 * 2. connection set-up against OpenSSH's sshd: our client transport beside `ssh-keyscan` (bench/handshake.ts);
 * 3. bulk transport throughput of our client ↔ our server over TCP, beside OpenSSH's ssh ← sshd
 *    (bench/throughput.ts);
 * 4. bulk exec throughput (1 GiB of `head -c` from sshd) of our client, OpenSSH's ssh and the npm ssh2 client,
 *    per cipher (bench/exec.ts);
 * 5. sequential connection set-up (kex + publickey auth + exec `true`) of the same three clients (bench/exec.ts);
 * 6. the post-quantum KEMs (sntrup761, ML-KEM-768): keygen, encapsulation, decapsulation per second (bench/kem.ts);
 * 7. bulk throughput of three servers, ours, OpenSSH's sshd and the npm ssh2 `Server`, each in its own process,
 *    read by OpenSSH's `ssh`, with each server's CPU time per GiB (bench/server.ts);
 * 8. memory held by 1 000 idle authenticated connections on our server (and on ssh2's), RSS per connection
 *    (bench/idle.ts);
 * 9. the command line's start-up beside OpenSSH's `ssh`: `effect-ssh --version` and a whole `effect-ssh exec host
 *    true` (bench/cli.ts; the built bundle, `npm run build:cli`);
 * 10. throughput through a local forward (-L) and SOCKS connections per second through -D, ours beside OpenSSH's
 *    `ssh -L` / `ssh -D` against the same sshd (bench/forward.ts);
 * 10b. SCP of 256 MiB each way, ours beside OpenSSH's scp, over SFTP and with -O (bench/scp.ts).
 *
 * Sections can be chosen by name: `npm run bench -- exec setup` (names: packets, handshake, throughput, exec,
 * setup, kem, server, idle, cli, sftp, scp, forward; none means all). `--exec-mib=N` changes the size of sections 4 and 7
 * (default 1024).
 *
 * `npm run bench` runs this file compiled (bench/run.mjs: an esbuild bundle in dist/bench, as a user's program
 * runs the library); under tsx (`BENCH_TSX=1`) every named closure carries a `__name` property of its own, which
 * adds ~13 KiB of heap per idle connection and work on the packet path.
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
import * as Cli from "./cli.js"
import * as Exec from "./exec.js"
import * as Handshake from "./handshake.js"
import * as Kem from "./kem.js"
import * as Forward from "./forward.js"
import * as Idle from "./idle.js"
import * as Packets from "./packets.js"
import * as Server from "./server.js"
import * as ScpBench from "./scp.js"
import * as SftpBench from "./sftp.js"
import * as Throughput from "./throughput.js"

const LEFT = new Set(["kex", "server", "cipher", "mac", "backend", "kem", "transfer"])

const SECTIONS = ["packets", "handshake", "throughput", "exec", "setup", "kem", "server", "idle", "cli", "sftp", "scp", "forward"] as const
type SectionName = typeof SECTIONS[number]

/** The sections named on the command line (all when none is), and the size of the exec transfers. */
const parseArgs = (argv: ReadonlyArray<string>) => {
  let execMiB = 1024
  let sftpMiB = 256
  let scpMiB = 256
  const named: Array<SectionName> = []
  for (const arg of argv) {
    const size = /^--exec-mib=(\d+)$/.exec(arg)
    const sftpSize = /^--sftp-mib=(\d+)$/.exec(arg)
    const scpSize = /^--scp-mib=(\d+)$/.exec(arg)
    if (sftpSize !== null) sftpMiB = Number(sftpSize[1])
    else if (scpSize !== null) scpMiB = Number(scpSize[1])
    else if (size !== null) execMiB = Number(size[1])
    else if ((SECTIONS as ReadonlyArray<string>).includes(arg)) named.push(arg as SectionName)
    else {
      console.error(`unknown argument ${arg}; sections: ${SECTIONS.join(", ")}; option: --exec-mib=N`)
      process.exit(2)
    }
  }
  return { sections: new Set<SectionName>(named.length === 0 ? SECTIONS : named), execMiB, sftpMiB, scpMiB }
}

/** Fixed-width table: text columns left-aligned, figures right-aligned. */
const formatTable = (cells: ReadonlyArray<ReadonlyArray<string>>): string => {
  const head = cells[0]!
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((c, i) => (LEFT.has(head[i]!) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n")
}

let sectionStarted = 0
const section = (title: string, notes: ReadonlyArray<string>) =>
  Effect.zipRight(
    Effect.sync(() => (sectionStarted = performance.now())),
    Console.log(`\n== ${title}\n${notes.map((n) => `   ${n}`).join("\n")}\n`)
  )
/** How long the current section took. */
const sectionDone = Effect.suspend(() =>
  Console.log(`(section: ${((performance.now() - sectionStarted) / 1000).toFixed(0)} s)`)
)

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
  const { execMiB, scpMiB, sections, sftpMiB } = parseArgs(process.argv.slice(2))
  const haveSshd = Handshake.available()
  yield* Console.log(
    `effect-ssh bench — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ` +
      `load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n` +
      `OpenSSH: ${opensshVersion()}\n` +
      `Sections: ${SECTIONS.map((s) => `${s} ${sections.has(s) ? "(runs)" : "(skipped)"}`).join(", ")}\n` +
      "The machine may be shared: figures are best-of or medians, and every ratio compares figures of this run."
  )

  // (a) ---------------------------------------------------------------------------------------------------------
  let packetRows: ReadonlyArray<Packets.PacketBenchRow> = []
  if (sections.has("packets")) {
    yield* section("1. Packet seal/open (bench/packets.ts): one thread, no I/O; MB/s of payload", [
      "Each figure: the best of three slices of ~0.08 s. Sealing reuses one packet; opening replays a sealed batch."
    ])
    packetRows = yield* Effect.sync(() => Packets.run())
    yield* Console.log(Packets.format(packetRows))
    yield* Console.log("\nportable (@noble) ÷ node:crypto, 32 KiB payloads:\n")
    yield* Console.log(formatTable(backendRatios(packetRows, 32768)))
    yield* sectionDone
  }

  // (b) ---------------------------------------------------------------------------------------------------------
  if (sections.has("handshake")) {
    yield* section("2. Connection set-up against OpenSSH sshd on 127.0.0.1 (TCP), sequential, median", [
      "ours: TCP connect + version exchange + key exchange through NEWKEYS (host key ssh-ed25519, pinned),",
      "      our client transport on node:crypto, in this warm process; closing is not timed.",
      "ssh-keyscan -t ed25519: process start + TCP connect + version exchange + key exchange up to the signed",
      "      KEX reply (it sends no NEWKEYS), then exit. The same work on the wire, plus a process start; `spawn`",
      "      (ssh-keyscan against a closed port) estimates the latter, so the last column compares the protocol part.",
      "sshd restricted to one KexAlgorithms per row; it forks and re-executes itself per connection for both.",
      "server `ours`: a method this OpenSSH lacks (ssh -Q kex), measured against our own server, ours only."
    ])
    if (haveSshd) {
      const rows = yield* Handshake.run()
      yield* Console.log(formatTable(Handshake.table(rows)))
    } else {
      yield* Console.log("SKIPPED: /usr/sbin/sshd or ssh-keyscan is not installed (apt-get install openssh-server).")
    }
    yield* sectionDone
  }

  // (c) ---------------------------------------------------------------------------------------------------------
  if (sections.has("throughput")) {
    yield* section("3. Bulk transport throughput, 256 MiB as 32 KiB CHANNEL_DATA (type 94) payloads, server → client", [
      "ours: our server (NodeTransport.serve) → our client (NodeTransport.connect) over TCP on 127.0.0.1, node:crypto,",
      "      client takes messages with receiveAll. 1 proc: both ends in this process (one JS thread);",
      "      2 procs: the server in a child process. The faster of two transfers, after an 8 MiB warm-up.",
      "OpenSSH: ssh -c CIPHER [-m MAC] host head -c 268435456 /dev/zero (stdout to /dev/null) against sshd, the faster",
      "      of two, minus the median of three of the same ssh with `true` (start, kex, auth, session): the transfer alone.",
      "seal+open est.: 1/(1/seal + 1/open) from table 1 (node, 32 KiB): what one thread doing both ends could reach",
      "      on crypto alone (measured at another moment: on a busy machine it is off either way; n/a without table 1)."
    ])
    const throughputRows = yield* Throughput.run({ openssh: haveSshd })
    yield* Console.log(formatTable(Throughput.table(throughputRows, packetRows)))
    if (!haveSshd) yield* Console.log("(OpenSSH column SKIPPED: sshd is not installed.)")
    yield* sectionDone
  }

  // (d) ---------------------------------------------------------------------------------------------------------
  const ssh2Native = Exec.ssh2Native()
  const ssh2Note = `ssh2 ${Exec.ssh2Version()}: its native crypto addon is ${
    ssh2Native ? "built and loaded in this run" : "NOT available here, so the \"ssh2\" column is pure JS too"
  }.`
  if (sections.has("exec")) {
    const bytes = execMiB * 1024 * 1024
    yield* section(
      `4. Bulk exec throughput: \`head -c ${bytes} /dev/zero\` (${execMiB} MiB) from OpenSSH sshd on 127.0.0.1 (TCP), MB/s`,
      [
        "The cipher (and MAC) forced on both sides; one sshd per row. Two rounds of ours, ssh, ssh2, ssh2 JS in turn,",
        `one transfer each per round; each figure is the client's faster transfer (CPU: of that transfer). Every figure`,
        `of a row moves the same ${execMiB} MiB.`,
        "ours: SshClient.connect (NodeSsh.layer, node:crypto, host key pinned) in this process; from conn.exec to the end",
        "      of the stdout Stream (folded into a byte count), after a 16 MiB warm-up on the same connection.",
        "ssh: ssh -F /dev/null -o Ciphers=… [-o MACs=…] -i KEY -p PORT user@127.0.0.1 'head -c …' > /dev/null, minus",
        "      the median of three `ssh … true` (process start, kex, auth, session): the transfer alone.",
        "ssh2: Client.connect (OpenSSH key file, algorithms.cipher/hmac forced) in this process, conn.exec, bytes counted",
        "      in 'data' until 'close', after a 16 MiB warm-up on the same connection.",
        `${ssh2Note} "ssh2 JS": the same client in a child process where loading the`,
        "      addon is made to fail, so that it falls back to JavaScript (and its WebAssembly Poly1305).",
        "CPU s/GiB: user + system CPU seconds per GiB during the transfer: of this process for ours and ssh2 (1 s/GiB",
        "      ≈ 1074 MB/s on one core), of the ssh process (from `times`, minus its `true` runs) for ssh.",
        "open bound: 1 GiB at the node:crypto open rate of 32 KiB packets from table 1 (n/a without it): the CPU time",
        "      opening alone needs; the client does little else than open packets and hand the payload on.",
        "Goals (DESIGN.md §10): aes128-gcm ≥ 1.1× ssh and ≥ 1.1× ssh2 with its addon; chacha20-poly1305 ≥ 1.0× ssh;",
        "CPU per GiB within 1.5× OpenSSH."
      ]
    )
    if (haveSshd) {
      const rows = yield* Exec.runThroughput({ bytes, pureJs: true })
      yield* Console.log(formatTable(Exec.throughputTable(rows)))
      yield* Console.log("")
      yield* Console.log(formatTable(Exec.cpuTable(rows, packetRows)))
    } else {
      yield* Console.log("SKIPPED: OpenSSH (sshd, ssh, ssh-keygen) is not installed (apt-get install openssh-server).")
    }
    yield* sectionDone
  }

  // (e) ---------------------------------------------------------------------------------------------------------
  if (sections.has("setup")) {
    yield* section("5. Sequential connection set-up: TCP connect + kex + publickey auth + exec `true` + close, median ms", [
      "sshd restricted to curve25519-sha256 and ssh-ed25519 so that all clients do the same key exchange; ed25519",
      "user key; every client verifies the host key. One warm-up each, then 20 rounds of ours, ssh, ssh2 in turn.",
      "ours: SshClient.connect + conn.run(\"true\") in a Scope closed per iteration (DISCONNECT and socket close timed).",
      "ssh: the whole `ssh … true` process (start, config, kex, auth, session, exit); `ssh spawn` is the same ssh",
      "      against a closed port (process start and a refused connect), so `ssh − spawn` estimates the protocol part.",
      "ssh2: new Client().connect() to 'ready', conn.exec(\"true\") to the channel's 'close', end() to the connection's",
      `      'close'. ${ssh2Note}`,
      "Goal (DESIGN.md §10): ours ≤ 0.4× OpenSSH's time."
    ])
    if (haveSshd) {
      const row = yield* Exec.runSetup({ runs: 20 })
      yield* Console.log(formatTable(Exec.setupTable(row)))
    } else {
      yield* Console.log("SKIPPED: OpenSSH (sshd, ssh, ssh-keygen) is not installed (apt-get install openssh-server).")
    }
    yield* sectionDone
  }

  // (f) ---------------------------------------------------------------------------------------------------------
  if (sections.has("kem")) {
    yield* section("6. Post-quantum KEMs of the hybrid key exchanges: operations per CPU second, one thread (bench/kem.ts)", [
      "sntrup761 is this project's TypeScript; ML-KEM-768 is @noble/post-quantum. The backend supplies the random",
      "bytes and (sntrup761) SHA-512. A hybrid client pays keygen + decap per key exchange, the server one encap.",
      "No OpenSSH figure: OpenSSH does not expose its KEMs on their own."
    ])
    yield* Console.log(formatTable(Kem.table(yield* Effect.sync(() => Kem.run()))))
    yield* sectionDone
  }

  if (sections.has("server")) {
    const bytes = execMiB * 1024 * 1024
    yield* section(`7. Server bulk throughput: OpenSSH's ssh reads ${execMiB} MiB of zeros from each server on 127.0.0.1`, [
      "Each server in its own process; one of each for the whole section, the cipher forced by ssh (-o Ciphers=…).",
      `ssh -F /dev/null -o Ciphers=… -i KEY -p PORT user@127.0.0.1 'head -c ${bytes} /dev/zero' > /dev/null:`,
      "ours: SshServer.run on NodeSshServer.layer (node:crypto) in bench/serverProcess.ts; its exec handler runs a",
      "      Stream of 32 KiB zero chunks into ctx.stdout and returns 0.",
      "sshd: OpenSSH's sshd -D (temp config) running the real `head -c … /dev/zero`.",
      `ssh2: the npm ssh2 ${Exec.ssh2Version()} Server in bench/serverProcess.ts; its exec handler writes 32 KiB zero Buffers,`,
      "      waiting for 'drain' whenever write returns false, then exit(0) and end().",
      "Per cipher: a 16 MiB warm-up per server (bytes counted), three `ssh … true` per server (set-up medians), then",
      "      two rounds of one transfer per server in turn; each figure is the server's faster transfer, its wall",
      "      time and the server's CPU minus the set-up medians: the transfer alone.",
      "CPU s/GiB (server): user + system seconds from /proc/PID/stat (utime+stime+cutime+cstime) of the server",
      "      process, per GiB (1 s/GiB ≈ 1074 MB/s on one core). sshd: the listener, whose reaped children are the",
      "      per-connection sshd processes and `head` (so its figure includes `head` writing into a pipe).",
      "Ratios on our rows: MB/s (higher is better) and CPU s/GiB (lower is better)."
    ])
    if (haveSshd) {
      const rows = yield* Server.runThroughput({ bytes })
      yield* Console.log(formatTable(Server.throughputTable(rows)))
    } else {
      yield* Console.log("SKIPPED: OpenSSH (sshd, ssh, ssh-keygen) is not installed (apt-get install openssh-server).")
    }
    yield* sectionDone
  }

  // (g) ---------------------------------------------------------------------------------------------------------
  if (sections.has("idle")) {
    yield* section("8. Idle connections: RSS of the server process with 1 and with 1 000 authenticated connections", [
      "ours: our server (bench/serverProcess.ts, node --expose-gc) ← our client (SshClient.connect, ed25519 publickey,",
      "      host key pinned) in this process, opened 20 at a time and kept open. RSS read by the server's exec",
      "      handler for `rss` (two full GCs, then process.memoryUsage()) on the first connection, once with it",
      "      alone (after one warm-up `rss`) and once with all open. `open N s`: time to open the other 999.",
      "      heap: V8's heapUsed at the same moments (the JS objects; RSS also holds buffers, code and allocator slack).",
      "ssh2: the same with ssh2's Server and 1 000 ssh2 Clients.",
      "Goal (DESIGN.md §10): ≤ 25 KiB per extra connection."
    ])
    if (Exec.available()) {
      const rows = yield* Idle.runIdle()
      yield* Console.log(formatTable(Idle.idleTable(rows)))
    } else {
      yield* Console.log("SKIPPED: OpenSSH (ssh-keygen) is not installed (apt-get install openssh-client).")
    }
    yield* sectionDone
  }

  if (sections.has("sftp")) {
    yield* section(`10. SFTP (bench/sftp.ts): ${sftpMiB} MiB over SSH on 127.0.0.1, ${"aes128-gcm"}, MB/s, faster of two`, [
      "ours: Sftp.make on SshClient.connect against sshd's sftp-server; stream → local file, local file → sink.",
      "OpenSSH: sftp -b get/put, minus a run with `pwd` only (start, kex, auth). ssh2: fastGet/fastPut.",
      "Last row: OpenSSH sftp get from our SshServer (this process, NodeSftp on /) in the ours column, from sshd beside.",
      "Goals (DESIGN.md §10): ≥ 1.0× OpenSSH sftp, ≥ 3× ssh2 fastGet; sftp from our server ≥ 1.0× from sshd.",
      "Size: --sftp-mib=N."
    ])
    if (Exec.available()) yield* Console.log(formatTable(SftpBench.table(yield* SftpBench.run(sftpMiB))))
    else yield* Console.log("SKIPPED: OpenSSH is not installed.")
    yield* sectionDone
  }

  if (sections.has("scp")) {
    yield* section(`10b. SCP (bench/scp.ts): ${scpMiB} MiB over SSH on 127.0.0.1, aes128-gcm, MiB/s, faster of two`, [
      "ours: Scp.upload / Scp.download on SshClient.connect against sshd (its sftp-server; its scp for -O).",
      "OpenSSH: scp (SFTP mode, its default) and scp -O, minus the time of `ssh … true` (start, kex, auth).",
      "Size: --scp-mib=N."
    ])
    if (Exec.available()) yield* Console.log(formatTable(ScpBench.table(yield* ScpBench.run(scpMiB))))
    else yield* Console.log("SKIPPED: OpenSSH is not installed.")
    yield* sectionDone
  }

  // (h) ---------------------------------------------------------------------------------------------------------
  if (sections.has("cli")) {
    yield* section("9. CLI start-up: `effect-ssh` (bin/effect-ssh.mjs → dist/bin bundle) beside OpenSSH's `ssh`, median ms", [
      "cold start: `node bin/effect-ssh.mjs --version` vs `ssh -V` (process spawn to exit).",
      "whole login: `effect-ssh exec … user@127.0.0.1 true` vs `ssh … user@127.0.0.1 true` against one sshd (its",
      "      default algorithms: both negotiate sntrup761x25519 with OpenSSH 9.2), the same ed25519 key and",
      "      known_hosts, BatchMode. 15 interleaved rounds after a warm-up of each; later runs of a command start",
      "      from the V8 code cache its first run wrote, the \"first run\" row turns it off (EFFECT_SSH_CODE_CACHE=0);",
      "      exec opens its TCP connection before loading its bundle, the \"dialled after loading\" row does not",
      "      (EFFECT_SSH_PRECONNECT=0).",
      "EFFECT_SSH_BENCH_BEFORE=<checkout>/bin/effect-ssh.mjs adds that build's rows (before/after in one run).",
      "Goals (issue 11): --version ≤ 120 ms; exec ≤ 1.0× ssh."
    ])
    if (Exec.available()) {
      const rows = yield* Cli.run()
      yield* Console.log(formatTable(Cli.table(rows)))
    } else {
      yield* Console.log("SKIPPED: OpenSSH (sshd, ssh, ssh-keygen) is not installed (apt-get install openssh-server).")
    }
    yield* sectionDone
  }

  // (i) ---------------------------------------------------------------------------------------------------------
  if (sections.has("forward")) {
    yield* section("10. Forwarding: MB/s through -L (256 MiB from a source behind sshd) and -D SOCKS 5 connections/s", [
      "ours: SshClient.connect + forwardLocal / forwardDynamic in this process; ssh: ssh -N -L / -D as a process;",
      "the same sshd per row (cipher forced), the reading socket in this process for both. Best of 2 after a warm-up.",
      "Goal (issue 13): -L ≥ 1.0× ssh."
    ])
    if (Exec.available()) yield* Console.log(formatTable(Forward.table(yield* Forward.run())))
    else yield* Console.log("SKIPPED: OpenSSH is not installed.")
    yield* sectionDone
  }

  yield* Console.log(
    `\nRan ${SECTIONS.filter((s) => sections.has(s)).join(", ")} in ${((performance.now() - started) / 1000).toFixed(0)} s.`
  )
})

NodeRuntime.runMain(program)
