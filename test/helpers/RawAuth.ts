/**
 * Just enough of RFC 4252 to authenticate a transport with a public key in tests of the transport layer (the
 * auth layer proper comes with the client issue): OpenSSH's sshd does not rekey before authentication.
 */
import { Effect } from "effect"
import type { CryptoBackend, PrivateKeyMaterial } from "../../src/crypto/Backend.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import type * as Transport from "../../src/transport/Transport.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import * as Writer from "../../src/wire/Writer.js"
import * as Receive from "../../src/transport/internal/receive.js"

/** The authorized_keys line for a key. */
export const authorizedKeyLine = (key: PrivateKeyMaterial): string => {
  const blob = HostKey.encodePublicKey(HostKey.publicKeyOf(key))
  return `${HostKey.keyTypeOf(HostKey.publicKeyOf(key))} ${btoa(String.fromCharCode(...blob))} effect-ssh-test`
}

/** ssh-userauth service, then one publickey request (RFC 4252 §7); fails unless USERAUTH_SUCCESS comes back. */
export const publickey = (
  t: Transport.Transport,
  backend: CryptoBackend,
  user: string,
  key: PrivateKeyMaterial,
  algorithm: string
) =>
  Effect.gen(function*() {
    yield* t.send(TransportMessages.encode({ _tag: "ServiceRequest", name: "ssh-userauth" }))
    const accept = TransportMessages.decode(yield* Receive.receive(t))
    if (accept._tag !== "Right" || accept.right._tag !== "ServiceAccept") return yield* Effect.dieMessage("no SERVICE_ACCEPT")
    const blob = HostKey.encodePublicKey(HostKey.publicKeyOf(key))
    const body = (w: Writer.Writer) =>
      w.byte(50).string(user).string("ssh-connection").string("publickey").boolean(true).string(algorithm).string(blob)
    const signed = Writer.build((w) => body(w.string(t.sessionId)))
    const signature = HostKey.sign(backend, algorithm, key, signed)
    yield* t.send(Writer.build((w) => body(w).string(signature)))
    for (;;) {
      const reply = yield* Receive.receive(t)
      if (reply[0] === 52) return
      if (reply[0] === 53) continue // USERAUTH_BANNER
      return yield* Effect.dieMessage(`publickey auth failed: message ${reply[0]}`)
    }
  })
