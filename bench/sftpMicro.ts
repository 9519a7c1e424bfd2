/**
 * `node bench/run.mjs sftpMicro [--mode=get|put|serve|upload] [--mib=N] [--rounds=N]`: the CPU cost of our SFTP
 * layers alone, in one process, without SSH, sockets or disk (DESIGN.md §10): steadier than a transfer on a busy
 * machine, so A/B comparisons of the SFTP code can be read from it.
 *
 * - get / put: our client (`Sftp.makeFromPipe`) against a scripted server in this process that answers READ with
 *   DATA (in 32 KiB chunks, as channel packets bring them) and WRITE with STATUS at once; the file is streamed to
 *   a byte counter / from 256 KiB chunks;
 * - serve / upload: our server (`SftpServer.handler`) on a filesystem whose reads and writes do nothing, fed by a
 *   scripted client keeping 64 READs of 255 KiB (or WRITEs) in flight, as OpenSSH's sftp does.
 *
 * Prints CPU µs per MB moved (user + system of this process), the least and the mean of the rounds.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { pathToFileURL } from "node:url"
import * as Sftp from "../src/sftp/Sftp.js"
import { StatusCode } from "../src/sftp/SftpAttrs.js"
import * as SftpExtensions from "../src/sftp/SftpExtensions.js"
import type { SftpFileSystem } from "../src/sftp/SftpFileSystem.js"
import { PacketAssembler } from "../src/sftp/SftpFraming.js"
import * as SftpMessages from "../src/sftp/SftpMessages.js"
import { ReplyAssembler } from "../src/sftp/internal/replyFraming.js"
import * as SftpServer from "../src/sftp/SftpServer.js"
import { SftpError } from "../src/SshError.js"

const args = new Map(process.argv.slice(2).map((a) => {
  const m = /^--([a-z]+)(?:=(.*))?$/.exec(a)
  return m === null ? [a, ""] : [m[1]!, m[2] ?? ""]
}))
let bytes = 0
const PACKET = 32 * 1024
const BLOCK = 255 * 1024

/** A channel's inbound side, as the connection layer's inbox: pushed synchronously, pulled all at once. */
class Pipe {
  #chunks: Array<Uint8Array> = []
  #waiter: (() => void) | undefined
  #ended = false
  push(chunk: Uint8Array) {
    this.#chunks.push(chunk)
    const w = this.#waiter
    this.#waiter = undefined
    w?.()
  }
  end() {
    this.#ended = true
    this.push(new Uint8Array(0))
  }
  readonly stream: Stream.Stream<Uint8Array> = Stream.repeatEffectChunkOption(Effect.suspend(() => {
    const pull = (): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> => {
      if (this.#chunks.length > 0) {
        const taken = this.#chunks.filter((c) => c.length > 0)
        this.#chunks = []
        if (taken.length > 0) return Effect.succeed(Chunk.unsafeFromArray(taken))
      }
      if (this.#ended) return Effect.fail(Option.none())
      return Effect.flatMap(Effect.async<void>((resume) => {
        this.#waiter = () => resume(Effect.void)
      }), pull)
    }
    return pull()
  }))
}

/** Sends `packet` as channel packets of 32 KiB (views; the first copied with what is left of the previous). */
const chunked = (pipe: Pipe, packet: Uint8Array) => {
  for (let p = 0; p < packet.length; p += PACKET) pipe.push(packet.subarray(p, Math.min(packet.length, p + PACKET)))
}

const source = new Uint8Array(BLOCK)
crypto.getRandomValues(source.subarray(0, 65536))

/** A scripted SFTP server: INIT, limits, OPEN, READ → DATA of the size asked (until `bytes`), WRITE → OK. */
const scriptedServer = () => {
  const pipe = new Pipe()
  const assembler = new PacketAssembler()
  const reply = (m: SftpMessages.SftpMessage) => chunked(pipe, SftpMessages.encodePacket(m))
  // DATA as sshd's channel brings it: 32 KiB packets, the first with the 13-byte framing (the rest as views here,
  // so that this scripted server costs little beside the client).
  const dataReply = (id: number, length: number) => {
    const first = new Uint8Array(Math.min(PACKET, 13 + length))
    const view = new DataView(first.buffer)
    view.setUint32(0, 9 + length)
    first[4] = SftpMessages.PacketType.DATA
    view.setUint32(5, id)
    view.setUint32(9, length)
    first.set(source.subarray(0, first.length - 13), 13)
    pipe.push(first)
    for (let p = first.length - 13; p < length; p += PACKET) pipe.push(source.subarray(p, Math.min(length, p + PACKET)))
  }
  const write = (b: Uint8Array) =>
    Effect.sync(() => {
      const r = assembler.push(b)
      if (Either.isLeft(r)) throw new Error(r.left.description)
      for (const body of r.right) {
        const d = SftpMessages.decode(body)
        if (Either.isLeft(d)) throw new Error(d.left.description)
        const m = d.right
        switch (m._tag) {
          case "Init":
            reply({ _tag: "Version", version: 3, extensions: [{ name: "limits@openssh.com", data: "1" }] })
            break
          case "Extended":
            reply({
              _tag: "ExtendedReply",
              id: m.id,
              data: SftpExtensions.encodeLimits({
                maxPacketLength: 256n * 1024n,
                maxReadLength: BigInt(BLOCK),
                maxWriteLength: BigInt(BLOCK),
                maxOpenHandles: 100n
              })
            })
            break
          case "Open":
            reply({ _tag: "Handle", id: m.id, handle: new Uint8Array([0, 0, 0, 1]) })
            break
          case "Read": {
            const left = bytes - Number(m.offset)
            if (left <= 0) reply({ _tag: "Status", id: m.id, code: StatusCode.Eof, message: "", language: "" })
            else dataReply(m.id, Math.min(left, m.length, BLOCK))
            break
          }
          case "Write":
          case "Close":
            reply({ _tag: "Status", id: m.id, code: StatusCode.Ok, message: "", language: "" })
            break
          default:
            throw new Error(`unexpected ${m._tag}`)
        }
      }
    })
  return { output: pipe.stream, write }
}

/** A filesystem whose one file reads as `bytes` bytes of nothing and takes writes. */
const nullFs: SftpFileSystem = {
  open: () =>
    Effect.succeed({
      read: (offset, length) => Effect.succeed(source.subarray(0, Math.max(0, Math.min(length, bytes - Number(offset))))),
      readInto: (offset, into) => Effect.succeed(Math.max(0, Math.min(into.length, bytes - Number(offset)))),
      write: () => Effect.void,
      stat: Effect.succeed({ size: BigInt(bytes) }),
      setstat: () => Effect.void,
      sync: Effect.void,
      close: Effect.void
    }),
  readDirectory: () => Effect.succeed([]),
  lstat: () => Effect.succeed({ size: BigInt(bytes), permissions: 0o100644 }),
  setstat: () => Effect.void,
  remove: () => Effect.void,
  mkdir: () => Effect.void,
  rmdir: () => Effect.void,
  rename: () => Effect.void,
  readlink: () => Effect.fail(new SftpError({ code: "NoSuchFile", operation: "readlink", description: "none" })),
  symlink: () => Effect.void,
  link: () => Effect.void
}

/** A scripted client of our server: 64 requests of 255 KiB in flight, as OpenSSH's sftp keeps them. */
const scriptedClient = (write: boolean) =>
  Effect.gen(function*() {
    const toServer = new Pipe()
    const send = (m: SftpMessages.SftpMessage) => chunked(toServer, SftpMessages.encodePacket(m))
    // WRITE as our client frames it: the framing in its own buffer, the data as views (this client costs little).
    const sendWrite = (id: number, offset: number, length: number) => {
      const head = new Uint8Array(4 + 1 + 4 + 4 + handle.length + 8 + 4)
      const view = new DataView(head.buffer)
      view.setUint32(0, head.length - 4 + length)
      head[4] = SftpMessages.PacketType.WRITE
      view.setUint32(5, id)
      view.setUint32(9, handle.length)
      head.set(handle, 13)
      view.setBigUint64(13 + handle.length, BigInt(offset))
      view.setUint32(21 + handle.length, length)
      toServer.push(head)
      for (let p = 0; p < length; p += PACKET) toServer.push(source.subarray(p, Math.min(length, p + PACKET)))
    }
    let next = 0
    let done = 0
    let inFlight = 0
    let finished: (() => void) | undefined
    const handle = new Uint8Array([0, 0, 0, 0])
    const issue = () => {
      while (inFlight < 64 && next < bytes) {
        const length = Math.min(BLOCK, bytes - next)
        if (write) sendWrite(next / BLOCK, next, length)
        else send({ _tag: "Read", id: next / BLOCK, handle, offset: BigInt(next), length })
        next += length
        inFlight++
      }
    }
    // DATA replies are framed without copying their data (as our client does), so this client costs little.
    const replies = new ReplyAssembler()
    const onBytes = (b: Uint8Array) =>
      Effect.sync(() => {
        const r = replies.push(b)
        if (Either.isLeft(r)) throw new Error(r.left.description)
        for (const frame of r.right) {
          const type = frame._tag === "Data" ? SftpMessages.PacketType.DATA : frame.body[0]
          if (type === SftpMessages.PacketType.VERSION) {
            send({ _tag: "Open", id: 1 << 30, path: "/f", pflags: 1, attrs: {} })
            continue
          }
          if (type === SftpMessages.PacketType.HANDLE && frame._tag === "Body") {
            handle.set(frame.body.subarray(9, 13))
            issue()
            continue
          }
          inFlight--
          done++
          if (next >= bytes && inFlight === 0) {
            toServer.end()
            finished?.()
          } else issue()
        }
      })
    send({ _tag: "Init", version: 3, extensions: [] })
    // `write`: the direct path SshServer's session context offers (a build without it uses `stdout`).
    yield* SftpServer.handler(nullFs)({ stdin: toServer.stream, stdout: Sink.forEach(onBytes), write: onBytes })
    return done
  })

/**
 * One transfer of `mib` MiB in `mode` (exported so that two builds can be compared in one process, round by round).
 *
 * @since 0.1.0
 * @category constructors
 */
export const once = (mode: string, mib: number): Effect.Effect<void, unknown> => {
  bytes = mib * 1024 * 1024
  return mode === "serve" || mode === "upload"
    ? Effect.asVoid(scriptedClient(mode === "upload"))
    : Effect.scoped(Effect.gen(function*() {
      const sftp = yield* Sftp.makeFromPipe(scriptedServer())
      if (mode === "put") {
        const chunk = new Uint8Array(256 * 1024)
        const n = bytes / chunk.length
        yield* Stream.range(1, n).pipe(Stream.as(chunk), Stream.run(sftp.sink("/f")))
      } else {
        let got = 0
        yield* sftp.stream("/f").pipe(Stream.runForEachChunk((c) =>
          Effect.sync(() => {
            for (const b of c) got += b.length
          })
        ))
        if (got !== bytes) throw new Error(`got ${got} of ${bytes}`)
      }
    }))
}

const program = Effect.gen(function*() {
  const mode = args.get("mode") ?? "get"
  const mib = Number(args.get("mib") ?? 256)
  const rounds = Number(args.get("rounds") ?? 5)
  yield* once(mode, mib) // warm-up
  let least = Number.POSITIVE_INFINITY
  let sum = 0
  for (let i = 0; i < rounds; i++) {
    const c0 = process.cpuUsage()
    yield* once(mode, mib)
    const c = process.cpuUsage(c0)
    least = Math.min(least, c.user + c.system)
    sum += c.user + c.system
  }
  const mb = bytes / 1e6
  console.log(`${mode} ${mib} MiB: least ${(least / mb).toFixed(0)} µs CPU/MB, mean ${(sum / rounds / mb).toFixed(0)} (${rounds} rounds)`)
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  Effect.runPromise(program).then(() => process.exit(0), (e) => {
    console.error(e)
    process.exit(1)
  })
}
