/**
 * chacha20-poly1305@openssh.com in bulk against OpenSSH 9.2's sshd, on both crypto backends: 16 MiB through `cat`
 * in writes of every size from 1 byte to 40 000 (so channel packets of every length up to the 32 KiB maximum, and
 * every Poly1305 tail: the SIMD kernel's pairs, a single block, a partial block), a rekey inside the transfer, and
 * a SHA-256 comparison. Our client seals what sshd opens (stdin) and opens what sshd seals (stdout), so our
 * Poly1305 (src/crypto/cipher/Poly1305.ts, the SIMD WebAssembly kernel here) is checked against OpenSSH's
 * poly1305-donna in both directions. SEC-03: a packet whose tag did not verify would end the connection.
 */
import { assert, describe, it } from "@effect/vitest"
import { sha256 } from "@noble/hashes/sha2.js"
import { Effect, Stream } from "effect"
import * as os from "node:os"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as ClientAuth from "../../src/auth/ClientAuth.js"
import * as ConnectionMux from "../../src/connection/ConnectionMux.js"
import type { CryptoBackend } from "../../src/crypto/Backend.js"
import { implementation } from "../../src/crypto/cipher/Poly1305.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { PortableCrypto } from "../../src/crypto/portable/PortableCrypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as SshProcess from "../../src/session/SshProcess.js"
import * as Transport from "../../src/transport/Transport.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import { authorizedKeyLine } from "../helpers/RawAuth.js"

const has = OpenSsh.haveOpenSsh()
const CIPHER = "chacha20-poly1305@openssh.com"
const MiB = 1024 * 1024
const TOTAL = 16 * MiB

/** The writes: lengths cycling through 1…40 000 (7919 is prime, so every length mod 16 and mod 32 occurs). */
const writes = (() => {
  const out: Array<Uint8Array> = []
  let sent = 0
  for (let k = 0; sent < TOTAL; k++) {
    const n = Math.min(1 + ((k * 7919) % 40_000), TOTAL - sent)
    const b = new Uint8Array(n)
    let x = k + 1
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0
      b[i] = x >>> 24
    }
    out.push(b)
    sent += n
  }
  return out
})()
const expected = (() => {
  const h = sha256.create()
  for (const w of writes) h.update(w)
  return h.digest()
})()

const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username

const cat = (backend: CryptoBackend) =>
  Effect.gen(function*() {
    const socket = yield* OpenSsh.sshdInetd({
      authorizedKeys: [authorizedKeyLine(userKey)],
      ciphers: CIPHER,
      logLevel: "ERROR",
      extra: ["RekeyLimit 8M"]
    })
    const transport = yield* Transport.make(socket, {
      role: "client",
      verifyHostKey: () => Effect.void,
      algorithms: { cipher: [CIPHER] }
    })
    const authenticated = yield* ClientAuth.authenticate(transport, { username: user, auth: [Auth.privateKey(userKey)] })
    const mux = yield* ConnectionMux.make(transport, authenticated)
    const n = yield* transport.negotiated
    assert.deepStrictEqual([n.cipherC2S, n.cipherS2C], [CIPHER, CIPHER])
    const p = yield* SshProcess.start(mux, { _tag: "Exec", command: "cat" })
    // The hash of everything `cat` sent back, folded as it arrives; equal to the hash of the writes.
    const [, got] = yield* Effect.all([
      Stream.run(Stream.fromIterable(writes), p.stdin),
      Stream.runFold(p.stdout, sha256.create(), (h, c) => h.update(c))
    ], { concurrency: 2 })
    assert.deepStrictEqual(got.digest(), expected)
    assert.deepStrictEqual(yield* p.exitStatus, { status: 0 })
    const s = yield* transport.stats
    assert.isAtLeast(s.kexCount, 2) // sshd rekeyed inside the transfer (RekeyLimit 8M)
    assert.isAtLeast(s.packetsIn, TOTAL / (32 * 1024))
  }).pipe(Effect.provideService(Crypto, backend))

describe.skipIf(!has)(`${CIPHER} in bulk: our client ↔ OpenSSH sshd`, () => {
  it("uses the SIMD WebAssembly Poly1305 on this runtime", () => {
    assert.strictEqual(implementation, "wasm-simd")
  })
  for (const backend of [NodeCrypto, PortableCrypto]) {
    it.scopedLive(`${backend.name}: 16 MiB through cat in writes of 1…40 000 bytes, a rekey inside, SHA-256 intact`,
      () => cat(backend), { timeout: 180_000 })
  }
})
