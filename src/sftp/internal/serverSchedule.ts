/**
 * The order in which an SFTP server session runs requests: READs and WRITEs run concurrently (at most
 * `MAX_IN_FLIGHT`, SEC-52 / LIM-29), every other request alone, after what came before it and before what comes
 * after. Two transfers touching the same file keep their order when their byte ranges overlap and either writes,
 * so a client sees the result sequential processing would give (filexfer-02 §6: requests on one file are
 * processed in order); only replies may come out of order, which the protocol allows (they carry the id).
 *
 * The caller waits in `run` while a request may not start yet: it stops taking channel data, so the window is
 * the backpressure and memory stays bounded.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"

/** SEC-52 / LIM-29: requests served at once per session (OpenSSH's sftp keeps 64 in flight). */
export const MAX_IN_FLIGHT = 16

/** What a READ or WRITE touches: a file (by its resolved path) and a byte range. */
export interface Footprint {
  readonly file: string
  readonly start: bigint
  readonly end: bigint
  readonly write: boolean
}

export interface Schedule {
  /**
   * Starts `effect` once the ordering allows it: concurrently with a footprint, alone without one (`undefined`:
   * a barrier). Returns when it has started (a footprint) or finished (a barrier).
   */
  readonly run: (footprint: Footprint | undefined, effect: Effect.Effect<void, unknown>) => Effect.Effect<void, unknown>
  /** Waits for every request started to finish. */
  readonly drain: Effect.Effect<void>
  /** The first failure of a concurrent request (its reply could not be written): the session must end. */
  readonly failure: () => unknown
}

const overlaps = (a: Footprint, b: Footprint) =>
  a.file === b.file && (a.write || b.write) && a.start < b.end && b.start < a.end

/** A schedule whose concurrent requests live in the caller's Scope. */
export const make: Effect.Effect<Schedule, never, Scope.Scope> = Effect.gen(function*() {
  const fibers = yield* FiberSet.make<void, unknown>()
  const running = new Set<Footprint>()
  let failed: { readonly error: unknown } | undefined
  let wake: Deferred.Deferred<void> | undefined

  const changed = () => {
    const w = wake
    wake = undefined
    if (w !== undefined) Deferred.unsafeDone(w, Exit.void)
  }
  const until = (ready: () => boolean): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (ready()) return Effect.void
      wake ??= Deferred.unsafeMake<void>(FiberId.none)
      return Effect.zipRight(Deferred.await(wake), until(ready))
    })
  const free = (f: Footprint) => () => {
    if (running.size >= MAX_IN_FLIGHT) return false
    for (const r of running) if (overlaps(r, f)) return false
    return true
  }

  const run = (footprint: Footprint | undefined, effect: Effect.Effect<void, unknown>) => {
    if (footprint === undefined) return Effect.zipRight(until(() => running.size === 0), effect)
    return Effect.zipRight(
      until(free(footprint)),
      Effect.suspend(() => {
        running.add(footprint)
        return FiberSet.run(
          fibers,
          effect.pipe(
            Effect.catchAllCause((cause) =>
              Effect.sync(() => {
                failed ??= { error: cause }
              })
            ),
            Effect.ensuring(Effect.sync(() => {
              running.delete(footprint)
              changed()
            }))
          )
        )
      })
    )
  }

  return {
    run: (footprint, effect) => Effect.asVoid(run(footprint, effect)),
    drain: until(() => running.size === 0),
    failure: () => failed?.error
  } satisfies Schedule
})
