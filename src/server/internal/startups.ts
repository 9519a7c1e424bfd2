/**
 * sshd's MaxStartups "start:rate:full" random early drop of unauthenticated connections (LIM-19, SEC-38):
 * below `start` every connection is served; from `start` on, a new one is refused with probability `rate` %,
 * rising linearly to 100 % at `full`. Pure: the caller supplies the random number.
 *
 * @since 0.1.0
 */

/** @internal */
export interface MaxStartups {
  readonly start: number
  readonly rate: number
  readonly full: number
}

/** @internal */
export const DEFAULT: MaxStartups = { start: 10, rate: 30, full: 100 }

/** Whether a connection arriving while `unauthenticated` others are pending is refused; `random` ∈ [0, 1). */
export const shouldDrop = (limits: MaxStartups, unauthenticated: number, random: number): boolean => {
  if (unauthenticated >= limits.full) return true
  if (unauthenticated < limits.start) return false
  // openssh sshd.c drop_connection(): p = rate + (100 − rate) · (n − start) / (full − start), in percent.
  const span = Math.max(1, limits.full - limits.start)
  const p = limits.rate + ((100 - limits.rate) * (unauthenticated - limits.start)) / span
  return random * 100 < p
}

/** Checks a MaxStartups setting: 0 < start ≤ full, 0 ≤ rate ≤ 100 (sshd refuses the rest at start-up). */
export const validate = (limits: MaxStartups): string | undefined =>
  Number.isInteger(limits.start) && Number.isInteger(limits.full) && limits.start > 0 && limits.start <= limits.full &&
    limits.rate >= 0 && limits.rate <= 100
    ? undefined
    : `maxStartups ${limits.start}:${limits.rate}:${limits.full}: expected 0 < start ≤ full and 0 ≤ rate ≤ 100`
