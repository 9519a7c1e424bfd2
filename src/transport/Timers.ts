/**
 * One timer per connection (DESIGN.md §6): the hello timeout, the rekey timeout, rekey by time and keepalive are
 * named deadlines sharing a single host timer that is armed for the earliest of them, instead of a sleeping
 * fiber each. Callbacks run synchronously when their deadline passes.
 *
 * @since 0.1.0
 */

interface Entry {
  readonly at: number
  readonly run: () => void
}

/**
 * Named deadlines of one connection on one host timer.
 *
 * @since 0.1.0
 * @category models
 */
export class Timers {
  readonly #entries = new Map<string, Entry>()
  #handle: ReturnType<typeof setTimeout> | undefined = undefined
  #armedAt = Infinity
  #stopped = false

  /** Runs `run` once, `ms` milliseconds from now; replaces an earlier deadline of the same name. */
  set(name: string, ms: number, run: () => void): void {
    if (this.#stopped) return
    this.#entries.set(name, { at: Date.now() + Math.max(0, ms), run })
    this.#arm()
  }

  /** Cancels the deadline `name`, if set. */
  clear(name: string): void {
    this.#entries.delete(name)
  }

  /** Whether `name` is set. */
  has(name: string): boolean {
    return this.#entries.has(name)
  }

  /** Cancels everything; later `set` calls are ignored (the connection is closed). */
  stop(): void {
    this.#stopped = true
    this.#entries.clear()
    if (this.#handle !== undefined) clearTimeout(this.#handle)
    this.#handle = undefined
  }

  #arm(): void {
    let next = Infinity
    for (const e of this.#entries.values()) if (e.at < next) next = e.at
    if (next === Infinity || next >= this.#armedAt) return
    if (this.#handle !== undefined) clearTimeout(this.#handle)
    this.#armedAt = next
    // Timers beyond 2^31−1 ms fire at once in every host; wake up earlier and look again instead.
    this.#handle = setTimeout(() => this.#fire(), Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1))
  }

  #fire(): void {
    this.#handle = undefined
    this.#armedAt = Infinity
    const now = Date.now()
    for (const [name, e] of [...this.#entries]) {
      if (e.at <= now && this.#entries.get(name) === e) {
        this.#entries.delete(name)
        e.run()
      }
    }
    if (!this.#stopped) this.#arm()
  }
}
