/**
 * The client side of one SFTP session over any byte pipe (a subsystem channel, or a child's stdio): INIT/VERSION,
 * request ids, replies matched to outstanding ids (SEC-57), one reader fiber, serialized writes.
 *
 * @internal
 */
import type * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { SftpError } from "../../SshError.js"
import { type StatusName, statusName } from "../SftpAttrs.js"
import * as SftpExtensions from "../SftpExtensions.js"
import * as SftpMessages from "../SftpMessages.js"
import { type Frame, ReplyAssembler } from "./replyFraming.js"

/** A byte pipe to an SFTP server: what it says, and a way to write to it. */
export interface SftpPipe {
  readonly output: Stream.Stream<Uint8Array, unknown>
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, unknown>
}

/** A DATA reply whose bytes are views of the chunks they arrived in (replyFraming.ts: no copy). */
export interface DataParts {
  readonly _tag: "DataParts"
  readonly id: number
  readonly parts: ReadonlyArray<Uint8Array>
  readonly length: number
}

/** What a request in flight gets back. */
export type Reply = SftpMessages.SftpMessage | DataParts

/**
 * A request in flight: its reply (or the session's failure) arrives once, and one fiber awaits it. Lighter than a
 * Deferred, whose construction copies Effect's prototype into every instance: there is one per READ and WRITE.
 */
export class Pending {
  #exit: Exit.Exit<Reply, SftpError> | undefined = undefined
  #resume: ((exit: Exit.Exit<Reply, SftpError>) => void) | undefined = undefined

  /** Completes the request (only the first completion counts). */
  done(exit: Exit.Exit<Reply, SftpError>): void {
    if (this.#exit !== undefined) return
    this.#exit = exit
    const resume = this.#resume
    this.#resume = undefined
    resume?.(exit)
  }

  /** The reply, once it has arrived. */
  get await(): Effect.Effect<Reply, SftpError> {
    return this.#exit ?? Effect.async<Reply, SftpError>((resume) => {
      if (this.#exit !== undefined) return resume(this.#exit)
      this.#resume = resume
      return Effect.sync(() => {
        this.#resume = undefined
      })
    })
  }
}

/** The parts of a DATA reply as one array (a copy only when there are several). */
export const joinParts = (d: DataParts): Uint8Array => {
  if (d.parts.length === 1) return d.parts[0]!
  const out = new Uint8Array(d.length)
  let at = 0
  for (const part of d.parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

export interface ClientSession {
  readonly version: number
  readonly extensions: ReadonlyMap<string, string>
  readonly limits: SftpExtensions.Limits | undefined
  /** Sends a request now and returns the reply to await (pipelining). */
  readonly send: (make: (id: number) => SftpMessages.SftpMessage) => Effect.Effect<Pending, SftpError>
  /**
   * Sends a WRITE of `length` bytes made of `parts` (in order) without copying the data beyond the first channel
   * packet's worth (SftpMessages.encodeWriteParts).
   */
  readonly sendWrite: (
    handle: Uint8Array,
    offset: number,
    parts: ReadonlyArray<Uint8Array>,
    length: number
  ) => Effect.Effect<Pending, SftpError>
  /** Sends small requests (READs) in one write: one channel packet instead of one each. */
  readonly sendAll: (
    makes: ReadonlyArray<(id: number) => SftpMessages.SftpMessage>
  ) => Effect.Effect<ReadonlyArray<Pending>, SftpError>
  /** Sends a request and waits for its reply. */
  readonly request: (make: (id: number) => SftpMessages.SftpMessage) => Effect.Effect<SftpMessages.SftpMessage, SftpError>
  /** Fails with the error that ended the session (or never, while it lives). */
  readonly closed: Effect.Effect<void, SftpError>
}

const lost = (description: string, cause?: unknown) =>
  new SftpError({ code: "ConnectionLost", operation: "session", description, cause })

/**
 * A WRITE's framing and first bytes go in one buffer of this size (a copy); the rest of its data is sent as views.
 * 32 KiB: the channel packet size OpenSSH and we advertise, so the copied part fills one packet.
 */
const FIRST_PACKET = 32 * 1024

const bad = (description: string) => new SftpError({ code: "BadMessage", operation: "session", description })

/** The SftpError of a STATUS reply that is not OK. */
export const statusError = (
  m: { readonly code: number; readonly message: string },
  operation: string,
  path?: string
): SftpError => {
  const code: StatusName = statusName(m.code)
  return new SftpError({
    code: code === "Ok" ? "Failure" : code,
    operation,
    ...(path === undefined ? {} : { path }),
    description: m.message
  })
}

/** The reply was of a type the request cannot get: the server broke the protocol. */
export const unexpected = (m: Reply, operation: string, path?: string): SftpError =>
  m._tag === "Status" ? statusError(m, operation, path) : new SftpError({
    code: "BadMessage",
    operation,
    ...(path === undefined ? {} : { path }),
    description: `unexpected ${m._tag === "DataParts" ? "Data" : m._tag} reply`
  })

/** Starts a session on `pipe` in the caller's Scope: INIT version 3, then VERSION and limits@openssh.com. */
export const make = (pipe: SftpPipe): Effect.Effect<ClientSession, SftpError, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = new Map<number, Pending>()
    const version = yield* Deferred.make<SftpMessages.SftpMessage & { _tag: "Version" }, SftpError>()
    const ended = yield* Deferred.make<void, SftpError>()
    let failure: SftpError | undefined
    let nextId = 0
    const writeLock = yield* Effect.makeSemaphore(1)
    const assembler = new ReplyAssembler()

    // Replies are delivered synchronously from the reader's turn (no Effect per reply): the waiting fiber resumes.
    const fail = (e: SftpError): void => {
      if (failure !== undefined) return
      failure = e
      const waiters = [...pending.values()]
      pending.clear()
      const exit = Exit.fail(e)
      for (const p of waiters) p.done(exit)
      Deferred.unsafeDone(version, exit)
      Deferred.unsafeDone(ended, exit)
    }

    const deliver = (m: Reply & { readonly id: number }): void => {
      const waiter = pending.get(m.id)
      // SEC-57: a reply must match a request in flight; anything else ends the session.
      if (waiter === undefined) return fail(bad(`reply for unknown request id ${m.id}`))
      pending.delete(m.id)
      waiter.done(Exit.succeed(m))
    }

    const onFrame = (frame: Frame): void => {
      if (frame._tag === "Data") return deliver({ _tag: "DataParts", id: frame.id, parts: frame.parts, length: frame.length })
      const d = SftpMessages.decode(frame.body)
      if (Either.isLeft(d)) return fail(bad(`malformed reply: ${d.left.description}`))
      const m = d.right
      if (m._tag === "Version") return Deferred.unsafeDone(version, Exit.succeed(m))
      if (m._tag === "Init" || !isReply(m)) return fail(bad(`the server sent a ${m._tag} request`))
      deliver(m)
    }

    // The channel's data is taken a batch of chunks at a time (everything buffered) and framed in one turn.
    const onChunks = (chunks: Chunk.Chunk<Uint8Array>): void => {
      for (const chunk of chunks) {
        if (failure !== undefined) return
        const r = assembler.push(chunk)
        if (Either.isLeft(r)) return fail(bad(r.left.description))
        for (const frame of r.right) onFrame(frame)
      }
    }

    yield* pipe.output.pipe(
      Stream.runForEachChunk((chunks) => Effect.sync(() => onChunks(chunks))),
      Effect.matchEffect({
        onFailure: (e) => Effect.sync(() => fail(lost("the SFTP channel failed", e))),
        onSuccess: () => Effect.sync(() => fail(lost("the server closed the SFTP session")))
      }),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => fail(lost("the SFTP session was closed"))))

    const write = (bytes: Uint8Array) =>
      writeLock.withPermits(1)(pipe.write(bytes)).pipe(Effect.mapError((e) => lost("writing to the SFTP channel failed", e)))

    const writeAll = (parts: ReadonlyArray<Uint8Array>) =>
      writeLock.withPermits(1)(Effect.forEach(parts, pipe.write, { discard: true })).pipe(
        Effect.mapError((e) => lost("writing to the SFTP channel failed", e))
      )

    const register = (): [number, Pending] => {
      const id = nextId
      nextId = (nextId + 1) >>> 0
      const p = new Pending()
      pending.set(id, p)
      return [id, p]
    }

    const send = (make: (id: number) => SftpMessages.SftpMessage): Effect.Effect<Pending, SftpError> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        const [id, d] = register()
        return Effect.as(write(SftpMessages.encodePacket(make(id))), d)
      })

    const sendWrite = (handle: Uint8Array, offset: number, parts: ReadonlyArray<Uint8Array>, length: number) =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        const [id, d] = register()
        return Effect.as(writeAll(SftpMessages.encodeWriteParts(id, handle, BigInt(offset), parts, length, FIRST_PACKET)), d)
      })

    const sendAll = (makes: ReadonlyArray<(id: number) => SftpMessages.SftpMessage>) =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        const replies: Array<Pending> = []
        const packets: Array<Uint8Array> = []
        let size = 0
        for (const make of makes) {
          const [id, d] = register()
          replies.push(d)
          const packet = SftpMessages.encodePacket(make(id))
          packets.push(packet)
          size += packet.length
        }
        const joined = new Uint8Array(size)
        let at = 0
        for (const packet of packets) {
          joined.set(packet, at)
          at += packet.length
        }
        return Effect.as(write(joined), replies)
      })

    yield* write(SftpMessages.encodePacket({ _tag: "Init", version: 3, extensions: [] }))
    const v = yield* Deferred.await(version)
    if (v.version !== 3) return yield* Effect.fail(bad(`the server speaks SFTP version ${v.version}, not 3`))
    const extensions = new Map(v.extensions.map((e) => [e.name, e.data]))
    const request = (make: (id: number) => SftpMessages.SftpMessage) =>
      Effect.map(Effect.flatMap(send(make), (p) => p.await), (m): SftpMessages.SftpMessage =>
        m._tag === "DataParts" ? { _tag: "Data", id: m.id, data: joinParts(m) } : m)
    let limits: SftpExtensions.Limits | undefined
    if (extensions.has(SftpExtensions.ExtensionName.Limits)) {
      const r = yield* request((id) => ({ _tag: "Extended", id, request: { _tag: "Limits" } }))
      if (r._tag === "ExtendedReply") {
        const l = SftpExtensions.decodeLimits(r.data)
        if (Either.isRight(l)) limits = l.right
      }
    }
    return {
      version: v.version,
      extensions,
      limits,
      send,
      sendWrite,
      sendAll,
      request,
      closed: Deferred.await(ended)
    } satisfies ClientSession
  })

const REPLY_TAGS: ReadonlySet<string> = new Set(["Status", "Handle", "Data", "Name", "Attrs", "ExtendedReply"])
const isReply = (m: SftpMessages.SftpMessage): boolean => REPLY_TAGS.has(m._tag)
