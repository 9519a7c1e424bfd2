/**
 * Shared pieces of the "decoding never throws" property tests (STYLE.md §10): edits that mutate a valid
 * encoding, and the check that a decoder returned an Either without hitting its catch-all for exceptions.
 */
import { assert } from "@effect/vitest"
import { Either } from "effect"
import * as FastCheck from "effect/FastCheck"

/** The reason of a Left, or undefined for a Right. */
export const reason = <A>(e: Either.Either<A, { readonly reason: string }>): string | undefined =>
  Either.isLeft(e) ? e.left.reason : undefined

/** One edit of a byte string: flip, truncate, insert or delete at a position, with a byte value. */
export const arbEdit = FastCheck.tuple(
  FastCheck.constantFrom("flip", "truncate", "insert", "delete"),
  FastCheck.nat(),
  FastCheck.integer({ min: 0, max: 255 })
)

/** Applies edits to a copy of `bytes` (start from a valid encoding: mutated-input fuzzing). */
export const mutate = (bytes: Uint8Array, edits: ReadonlyArray<readonly [string, number, number]>): Uint8Array => {
  let out = Array.from(bytes)
  for (const [kind, at, value] of edits) {
    const i = out.length === 0 ? 0 : at % out.length
    if (kind === "flip" && out.length > 0) out[i] = out[i]! ^ (value || 1)
    else if (kind === "truncate") out = out.slice(0, i)
    else if (kind === "insert") out.splice(i, 0, value)
    else if (kind === "delete") out.splice(i, 1)
  }
  return Uint8Array.from(out)
}

/** The decoder returned an Either, and not the "Unknown" reason Reader.run gives a non-WireError exception. */
export const assertNoBug = (e: Either.Either<unknown, { readonly reason: string }>) => {
  assert.isTrue(Either.isEither(e))
  assert.notStrictEqual(reason(e), "Unknown")
}

/**
 * Bytes copied by `Uint8Array.prototype.set` while `f` runs (synchronously, so no other test interleaves); used
 * to show that buffering costs linear, not quadratic, time.
 */
export const countCopies = (f: () => void): number => {
  const proto = Uint8Array.prototype
  const original = proto.set
  let copied = 0
  Object.defineProperty(proto, "set", {
    configurable: true,
    writable: true,
    value: function(this: Uint8Array, array: ArrayLike<number>, offset?: number) {
      copied += array.length
      return original.call(this, array, offset)
    }
  })
  try {
    f()
  } finally {
    Object.defineProperty(proto, "set", { configurable: true, writable: true, value: original })
  }
  return copied
}
