/**
 * Byte-array helpers shared by every layer.
 *
 * @since 0.1.0
 */

/**
 * Whether `a` and `b` hold the same bytes. The time depends on the length only, not on where they differ, so
 * it may compare MACs and hashes as well as public keys.
 *
 * @since 0.1.0
 * @category utils
 */
export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/**
 * The concatenation of `parts` in one new array.
 *
 * @since 0.1.0
 * @category utils
 */
export const concatBytes = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let n = 0
  for (let i = 0; i < parts.length; i++) n += parts[i]!.length
  const out = new Uint8Array(n)
  for (let i = 0, o = 0; i < parts.length; o += parts[i]!.length, i++) out.set(parts[i]!, o)
  return out
}
