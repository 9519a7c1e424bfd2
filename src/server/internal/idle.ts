/**
 * Idle limits of sshd 9.2 (LIM-25): UnusedConnectionTimeout closes an authenticated connection that has had no
 * open channel for the given time (forwarding listeners do not count, as in sshd); ChannelTimeout closes a
 * session whose channel saw no data either way for its type's time (sshd_config(5): `session:command`,
 * `session:shell`, `session:subsystem:NAME`, wildcards allowed), and any other channel of a type sshd 9.2 names
 * (`direct-tcpip`, `direct-streamlocal@openssh.com`, `forwarded-tcpip`, `forwarded-streamlocal@openssh.com`,
 * `x11-connection`, `agent-connection`; `withChannelTimeouts`). Off unless configured: no fiber otherwise.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { ByteSink, Channel } from "../../connection/Channel.js"
import type * as ConnectionMux from "../../connection/ConnectionMux.js"
import * as Match from "../../keys/Match.js"
import { DisconnectReason } from "../../SshError.js"
import type * as Transport from "../../transport/Transport.js"
import type { SessionContext, SessionExit } from "../SshServer.js"

/** Closes the connection once it has had no channel for `timeout` (checked at most every second). */
export const watchUnused = (
  mux: ConnectionMux.ConnectionMux,
  transport: Transport.Transport,
  timeout: Duration.DurationInput
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ms = Duration.toMillis(timeout)
    let idleSince = yield* Clock.currentTimeMillis
    const check = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if ((yield* mux.channelCount) > 0) idleSince = now
      else if (now - idleSince >= ms) {
        yield* Effect.logInfo("UnusedConnectionTimeout: closing a connection without channels")
        yield* transport.disconnect(DisconnectReason.ByApplication, "unused connection timeout")
        return true
      }
      return false
    })
    yield* Effect.forkScoped(Effect.repeat(check, { schedule: Schedule.spaced(Duration.millis(Math.min(ms, 1000))), until: (done) => done }))
  })

/** The seconds of the first ChannelTimeout pattern that matches `type` (0 or none: no limit). */
export const channelTimeoutFor = (
  timeouts: ReadonlyArray<{ readonly type: string; readonly seconds: number }>,
  type: string
): number | undefined => {
  const t = timeouts.find((t) => Match.glob(type, t.type))
  return t === undefined || t.seconds <= 0 ? undefined : t.seconds
}

/**
 * Runs a session under ChannelTimeout: data in either direction (stdin from the client, stdout/stderr to it)
 * counts as activity; after `seconds` without any, the session is ended (exit status 255) and its channel closed.
 */
export const withChannelTimeout = (
  ctx: SessionContext,
  seconds: number,
  run: (ctx: SessionContext) => Effect.Effect<SessionExit, unknown>
): Effect.Effect<SessionExit, unknown> =>
  Effect.gen(function*() {
    const ms = seconds * 1000
    let last = yield* Clock.currentTimeMillis
    const touch = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => void (last = now)))
    const write = ctx.write
    const watched: SessionContext = {
      ...ctx,
      // A subsystem writing straight to the channel (the SFTP server's replies) is activity too.
      write: write === undefined ? undefined : (data) => Effect.zipRight(touch, write(data)),
      stdin: Stream.tap(ctx.stdin, () => touch),
      stdout: Sink.mapInputEffect(ctx.stdout, (chunk: Uint8Array) => Effect.as(touch, chunk)),
      stderr: Sink.mapInputEffect(ctx.stderr, (chunk: Uint8Array) => Effect.as(touch, chunk))
    }
    const expired: Effect.Effect<SessionExit> = Effect.gen(function*() {
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        if (now - last >= ms) {
          yield* Effect.logInfo(`ChannelTimeout: closing a session idle for ${seconds} s`)
          return 255
        }
        yield* Effect.sleep(Duration.millis(last + ms - now))
      }
    })
    return yield* Effect.raceFirst(run(watched), expired)
  })

/** ChannelTimeout's names (sshd_config(5) of 9.2) for the SSH channel types that are not sessions. */
const TIMEOUT_NAMES: Readonly<Record<string, string>> = {
  "direct-tcpip": "direct-tcpip",
  "direct-streamlocal@openssh.com": "direct-streamlocal@openssh.com",
  "forwarded-tcpip": "forwarded-tcpip",
  "forwarded-streamlocal@openssh.com": "forwarded-streamlocal@openssh.com",
  x11: "x11-connection",
  "auth-agent@openssh.com": "agent-connection"
}

/**
 * The connection's mux with ChannelTimeout applied to every channel that is not a session, both the ones the
 * client opens (direct-tcpip, direct-streamlocal) and the ones the server opens to it (forwarded-tcpip and
 * -streamlocal, x11, auth-agent): data either way is activity, and a channel idle for its type's time is closed
 * (CHANNEL_CLOSE), as sshd does. A channel the client opened is also stopped on our side (its local connection
 * closed); for one the server opened, its user sees the channel's data end and writes fail. Sessions are left to
 * `withChannelTimeout`, which knows their command/shell/subsystem type.
 */
export const withChannelTimeouts = (
  mux: ConnectionMux.ConnectionMux,
  timeouts: ReadonlyArray<{ readonly type: string; readonly seconds: number }> | undefined
): ConnectionMux.ConnectionMux => {
  if (timeouts === undefined || timeouts.length === 0) return mux
  const secondsOf = (channelType: string) => {
    const name = TIMEOUT_NAMES[channelType]
    return name === undefined ? undefined : channelTimeoutFor(timeouts, name)
  }
  return {
    ...mux,
    open: (channelType, extra) => {
      const seconds = secondsOf(channelType)
      return seconds === undefined
        ? mux.open(channelType, extra)
        : Effect.flatMap(mux.open(channelType, extra), (channel) => Effect.map(watchChannel(channel, seconds), (w) => w.channel))
    },
    handleChannels: (channelType, handler) =>
      mux.handleChannels(channelType, (open) => {
        const seconds = secondsOf(open.channelType)
        if (seconds === undefined) return handler(open)
        return Effect.map(handler(open), (a): ConnectionMux.ChannelAcceptance => {
          switch (a._tag) {
            case "Accept":
              return {
                _tag: "Accept",
                run: (channel) =>
                  Effect.scoped(Effect.flatMap(watchChannel(channel, seconds), (w) => Effect.raceFirst(a.run(w.channel), w.expired)))
              }
            case "Attach":
              return { _tag: "Attach", attach: (channel) => Effect.flatMap(watchChannel(channel, seconds), (w) => a.attach(w.channel)) }
            case "Reject":
              return a
          }
        })
      })
  }
}

/**
 * `channel` with its data both ways timed: a fiber in the Scope closes it after `seconds` without any, and
 * `expired` completes then.
 */
const watchChannel = (channel: Channel, seconds: number) =>
  Effect.gen(function*() {
    const ms = seconds * 1000
    let last = yield* Clock.currentTimeMillis
    const touch = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => void (last = now)))
    const clock = yield* Effect.clock
    // The synchronous paths (tunnels' pipeData and sink) count as activity too: they bypass data/write.
    const touchNow = () => void (last = clock.unsafeCurrentTimeMillis())
    const timed = (sink: ByteSink): ByteSink => ({
      write: (chunk) => {
        touchNow()
        return sink.write(chunk)
      },
      onReady: (resume) => sink.onReady(resume),
      isClosed: () => sink.isClosed()
    })
    const expired = yield* Effect.gen(function*() {
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        if (now - last >= ms) break
        yield* Effect.sleep(Duration.millis(last + ms - now))
      }
      yield* Effect.logInfo(`ChannelTimeout: closing a ${channel.channelType} channel idle for ${seconds} s`)
      yield* Effect.ignore(channel.close)
    }).pipe(Effect.forkScoped)
    const watched: Channel = {
      ...channel,
      data: Stream.tap(channel.data, () => touch),
      stderr: Stream.tap(channel.stderr, () => touch),
      pipeData: (sink) => channel.pipeData(timed(sink)),
      sink: timed(channel.sink),
      write: (data) => Effect.zipRight(touch, channel.write(data)),
      writeStderr: (data) => Effect.zipRight(touch, channel.writeStderr(data))
    }
    return { channel: watched, expired: Effect.asVoid(expired.await) }
  })
