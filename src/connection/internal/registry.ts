/**
 * The registry of what the peer may open and ask (RFC 4254 §4, §5.1): handlers by channel type and by global
 * request name, each registered for the lifetime of a Scope (a later registration of the same name replaces an
 * earlier one until its Scope closes). Deny by default: no handler, no channel (SEC-47).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** @internal */
export class Registry<H> {
  readonly #handlers = new Map<string, Array<H>>()

  /** The newest handler registered for `name`. */
  get(name: string): H | undefined {
    const list = this.#handlers.get(name)
    return list === undefined ? undefined : list[list.length - 1]
  }

  /** Registers `handler` for `name` while the Scope lives. */
  register(name: string, handler: H): Effect.Effect<void, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => {
        const list = this.#handlers.get(name) ?? []
        list.push(handler)
        this.#handlers.set(name, list)
      }),
      () =>
        Effect.sync(() => {
          const list = this.#handlers.get(name)
          if (list === undefined) return
          const i = list.lastIndexOf(handler)
          if (i >= 0) list.splice(i, 1)
          if (list.length === 0) this.#handlers.delete(name)
        })
    )
  }
}
