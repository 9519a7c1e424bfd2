/**
 * Our client-role transport against OpenSSH's sshd, on a child's stdio (`sshd -i`) and over TCP on 127.0.0.1:
 * for every algorithm, key exchange, a forced rekey, and the ssh-userauth service accepted. The tests assert
 * what was negotiated, not just success.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Socket from "@effect/platform/Socket"
import { Effect, Option } from "effect"
import type * as Scope from "effect/Scope"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import type { TransportError } from "../../src/SshError.js"
import * as Transport from "../../src/transport/Transport.js"
import * as Writer from "../../src/wire/Writer.js"
import { PortableCrypto } from "../../src/crypto/portable/PortableCrypto.js"
import { algorithmsFor, APPLIANCE_PAIRS, cipherMacPairs } from "../helpers/CipherMacs.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshKex from "../helpers/OpenSshKex.js"
import * as RawAuth from "../helpers/RawAuth.js"
import * as os from "node:os"
import type { CryptoBackend } from "../../src/crypto/Backend.js"
import * as Receive from "../../src/transport/internal/receive.js"

const AEAD = new Set(["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"])
const has = OpenSsh.haveOpenSsh()

type Mode = "stdio" | "tcp"

const connect = (
  mode: Mode,
  sshd: OpenSsh.SshdOptions,
  options: Partial<Transport.TransportOptions>,
  log: Array<string>
): Effect.Effect<Transport.Transport, TransportError | Error | Socket.SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const withKey = { ...sshd, authorizedKeys: [RawAuth.authorizedKeyLine(userKey)] }
    const socket = mode === "stdio"
      ? yield* OpenSsh.sshdInetd(withKey, log)
      : yield* Effect.flatMap(OpenSsh.sshdTcp(withKey, log), ({ port }) => OpenSsh.tcpSocket(port))
    return yield* Transport.make(socket, { role: "client", verifyHostKey: () => Effect.void, ...options })
  })

const userKey = NodeCrypto.generateKey({ type: "ed25519" })
const user = os.userInfo().username

/** A global request with want-reply: sshd answers REQUEST_FAILURE (RFC 4254 §4), proving traffic flows. */
const ping = (t: Transport.Transport) =>
  Effect.gen(function*() {
    yield* t.send(Writer.build((w) => w.byte(80).string("effect-ssh-test@example.com").boolean(true)))
    // sshd may send its own global requests first (hostkeys-00@openssh.com, OpenSSH PROTOCOL §2.5).
    let reply = yield* Receive.receive(t)
    while (reply[0] === 80) reply = yield* Receive.receive(t)
    assert.strictEqual(reply[0], 82)
  })

/**
 * ssh-userauth accepted (with a public key login: sshd refuses to rekey before authentication), then a
 * forced rekey, and traffic under the new keys.
 */
const exercise = (t: Transport.Transport, backend: CryptoBackend) =>
  Effect.gen(function*() {
    // OpenSSH sends server-sig-algs in EXT_INFO because we sent ext-info-c (RFC 8308 §3.1).
    const sigAlgs = yield* t.serverSigAlgs
    assert.isTrue(Option.isSome(sigAlgs) && sigAlgs.value.includes("rsa-sha2-512"))
    yield* RawAuth.publickey(t, backend, user, userKey, "ssh-ed25519")
    yield* ping(t)
    yield* t.rekey
    assert.strictEqual((yield* t.stats).kexCount, 2)
    yield* ping(t)
    yield* t.rekey
    assert.strictEqual((yield* t.stats).kexCount, 3)
    yield* ping(t)
  })

const cases: Array<{ name: string; sshd: OpenSsh.SshdOptions; client: Transport.AlgorithmOptions; expect: Record<string, string> }> = []
// Every kex OpenSSH has (`ssh -Q kex`, asked at run time); the rest is printed as unchecked (OpenSshKex.ts).
for (const kex of OpenSshKex.kexAgainstOpenSsh("our client ↔ sshd").checked) {
  cases.push({ name: `kex ${kex}`, sshd: { kex }, client: { kex: [kex] }, expect: { kex } })
}
// Every MAC under aes128-ctr, every cipher under an ETM and an E&M MAC (test/helpers/CipherMacs.ts), plus the
// combinations an old appliance typically has. sshd's `Ciphers`/`MACs` lists name the legacy ones explicitly, which
// enables them there (OpenSSH 9.2 still builds them); our client names them in `algorithms` (off by default).
for (const [cipher, mac] of [...cipherMacPairs, ...APPLIANCE_PAIRS]) {
  cases.push({
    name: `cipher ${cipher}${mac ? ` mac ${mac}` : ""}`,
    sshd: { ciphers: cipher, ...(mac ? { macs: mac } : {}) },
    client: algorithmsFor([cipher, mac]),
    expect: { cipherC2S: cipher, cipherS2C: cipher, ...(mac ? { macC2S: mac, macS2C: mac } : {}) }
  })
}
for (const hostKey of Algorithms.HOST_KEY_ALGORITHMS) {
  cases.push({ name: `host key ${hostKey}`, sshd: { hostKeyAlgorithms: hostKey }, client: { hostKey: [hostKey] }, expect: { hostKey } })
}

for (const mode of ["stdio", "tcp"] as const) {
  describe.skipIf(!has)(`our client ↔ OpenSSH sshd (${mode})`, () => {
    for (const c of cases) {
      it.scopedLive(c.name, () =>
        Effect.gen(function*() {
          const log: Array<string> = []
          const t = yield* connect(mode, c.sshd, { algorithms: c.client }, log).pipe(
            Effect.tapError(() => Effect.sync(() => console.error(log.join(""))))
          )
          const n = yield* t.negotiated
          for (const [k, v] of Object.entries(c.expect)) assert.strictEqual(n[k as keyof typeof n], v, k)
          if (!AEAD.has(n.cipherC2S) && c.expect.macC2S === undefined) assert.isDefined(n.macC2S)
          assert.match(t.peerVersion, /^SSH-2\.0-OpenSSH_9/)
          yield* exercise(t, NodeCrypto)
        }).pipe(Effect.provideService(Crypto, NodeCrypto)))
    }
  })
}

describe.skipIf(!has)("our client ↔ OpenSSH sshd on the portable backend", () => {
  for (const c of cases.filter((c) => /curve25519-sha256$|sntrup761x25519-sha512@openssh.com|nistp521|group16|exchange-sha256|chacha|aes256-gcm|aes128-ctr mac hmac-sha2-256-etm|aes128-ctr mac umac-(64|128-etm)|3des-cbc mac hmac-sha1$|aes256-cbc mac hmac-sha2-256$|host key ssh-ed25519|host key rsa-sha2-512|host key ecdsa-sha2-nistp384/.test(c.name))) {
    it.scopedLive(c.name, () =>
      Effect.gen(function*() {
        const t = yield* connect("stdio", c.sshd, { algorithms: c.client }, [])
        const n = yield* t.negotiated
        for (const [k, v] of Object.entries(c.expect)) assert.strictEqual(n[k as keyof typeof n], v, k)
        yield* exercise(t, PortableCrypto)
      }).pipe(Effect.provideService(Crypto, PortableCrypto)))
  }
})
