/**
 * Key encapsulation costs of the post-quantum hybrids' KEMs: sntrup761 (written here, src/crypto/kex/Sntrup761.ts)
 * and ML-KEM-768 (@noble/post-quantum), on each crypto backend (the backend supplies randomness and, for
 * sntrup761, SHA-512). One thread, no I/O; operations per second of CPU time (process.cpuUsage, so a busy shared
 * machine slows the figures less than wall time would), the best of three slices of ~0.5 s.
 *
 * @since 0.1.0
 */
import type { CryptoBackend } from "../src/crypto/Backend.js"
import { mlKem768, sntrup761 } from "../src/crypto/kex/PqHybrid.js"
import type { Kem } from "../src/crypto/kex/PqHybrid.js"
import { PortableCrypto } from "../src/crypto/portable/PortableCrypto.js"
import { NodeCrypto } from "../src/node/NodeCrypto.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface KemRow {
  readonly kem: string
  readonly backend: string
  readonly keygen: number
  readonly encap: number
  readonly decap: number
}

/** Operations per CPU second: the best of three slices. */
const rate = (f: () => void): number => {
  for (let i = 0; i < 5; i++) f()
  let best = 0
  for (let slice = 0; slice < 3; slice++) {
    const start = process.cpuUsage()
    const wall = performance.now()
    let n = 0
    while (performance.now() - wall < 500) {
      f()
      n++
    }
    const used = process.cpuUsage(start)
    best = Math.max(best, n / ((used.user + used.system) / 1e6))
  }
  return best
}

const measure = (name: string, kem: Kem, backend: CryptoBackend): KemRow => {
  const pair = kem.keyPair(backend)
  const { ciphertext } = kem.encapsulate(backend, pair.publicKey)!
  return {
    kem: name,
    backend: backend.name,
    keygen: rate(() => kem.keyPair(backend)),
    encap: rate(() => kem.encapsulate(backend, pair.publicKey)),
    decap: rate(() => pair.decapsulate(ciphertext))
  }
}

/**
 * Measures both KEMs on both backends.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const run = (): ReadonlyArray<KemRow> =>
  [NodeCrypto, PortableCrypto].flatMap((backend) => [
    measure("sntrup761", sntrup761, backend),
    measure("ML-KEM-768", mlKem768, backend)
  ])

/**
 * @since 0.1.0
 * @category formatting
 */
export const table = (rows: ReadonlyArray<KemRow>): ReadonlyArray<ReadonlyArray<string>> => [
  ["kem", "backend", "keygen /s", "encap /s", "decap /s", "keygen ms", "encap ms", "decap ms"],
  ...rows.map((r) => [
    r.kem,
    r.backend,
    r.keygen.toFixed(0),
    r.encap.toFixed(0),
    r.decap.toFixed(0),
    (1000 / r.keygen).toFixed(2),
    (1000 / r.encap).toFixed(2),
    (1000 / r.decap).toFixed(2)
  ])
]
