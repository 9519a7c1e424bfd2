/**
 * Post-quantum key exchange against OpenSSH with default lists (issue 6): our default client prefers the
 * hybrids and gets one from sshd; a peer without them negotiates curve25519-sha256 instead (RFC 4253 §7.1), in
 * both roles. The per-method interop cases (forced KexAlgorithms, rekeys) are the kex loops of
 * openssh-sshd.test.ts and openssh-ssh.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import * as NodeTransport from "../../src/node/NodeTransport.js"
import * as Transport from "../../src/transport/Transport.js"
import * as Loopback from "../helpers/Loopback.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshKex from "../helpers/OpenSshKex.js"
import * as Receive from "../../src/transport/internal/receive.js"

const has = OpenSsh.haveOpenSsh()

/** Upstream OpenSSH 9.2's default KexAlgorithms (myproposal.h KEX_SERVER_KEX); Debian's 9.2 prepends more. */
const OPENSSH_9_2_DEFAULT_KEX = [
  "sntrup761x25519-sha512@openssh.com",
  "curve25519-sha256",
  "curve25519-sha256@libssh.org",
  "ecdh-sha2-nistp256",
  "ecdh-sha2-nistp384",
  "ecdh-sha2-nistp521",
  "diffie-hellman-group-exchange-sha256",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group18-sha512",
  "diffie-hellman-group14-sha256"
].join(",")

/** The KexAlgorithms a stock sshd_config gives this sshd (`sshd -T`). */
const sshdDefaultKex = (): ReadonlyArray<string> => {
  const cfg = OpenSsh.writeSshdConfig({})
  const line = execFileSync(OpenSsh.SSHD, ["-T", "-f", cfg]).toString().split("\n").find((l) => l.startsWith("kexalgorithms "))
  return line === undefined ? [] : line.slice("kexalgorithms ".length).split(",")
}

/** Our client with its default algorithms against sshd, over sshd -i. */
const negotiatedWith = (sshd: OpenSsh.SshdOptions) =>
  Effect.gen(function*() {
    const socket = yield* OpenSsh.sshdInetd(sshd)
    const t = yield* Transport.make(socket, { role: "client", verifyHostKey: () => Effect.void })
    return (yield* t.negotiated).kex
  }).pipe(Effect.scoped, Effect.provideService(Crypto, NodeCrypto))

describe.skipIf(!has)("post-quantum kex with default lists: our client ↔ OpenSSH sshd", () => {
  it("DEFAULT_KEX starts with the hybrids, in the order of DESIGN.md §5", () => {
    assert.deepStrictEqual(Algorithms.DEFAULT_KEX.slice(0, 4), [
      "mlkem768x25519-sha256",
      "sntrup761x25519-sha512",
      "sntrup761x25519-sha512@openssh.com",
      "curve25519-sha256"
    ])
  })

  it.live("against OpenSSH 9.2's default KexAlgorithms the default client negotiates sntrup761x25519-sha512@openssh.com", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* negotiatedWith({ kex: OPENSSH_9_2_DEFAULT_KEX }), "sntrup761x25519-sha512@openssh.com")
    }))

  it.live("against this sshd's own defaults the default client negotiates our first method it has (a hybrid)", () =>
    Effect.gen(function*() {
      const theirs = sshdDefaultKex()
      const expected = Algorithms.DEFAULT_KEX.find((k) => theirs.includes(k))
      assert.isDefined(expected)
      assert.match(expected!, /^(sntrup761|mlkem768)x25519/)
      assert.strictEqual(yield* negotiatedWith({}), expected)
    }))

  it.live("RFC 4253 §7.1 fallback: an sshd with only curve25519-sha256 negotiates it with the default client", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* negotiatedWith({ kex: "curve25519-sha256" }), "curve25519-sha256")
    }))
})

describe.skipIf(!has)("post-quantum kex with default lists: OpenSSH ssh ↔ our server", () => {
  const sshKex = (extra: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const address = yield* NodeTransport.serve({ hostKeys: Loopback.testHostKeys() }, (t) => Effect.asVoid(Receive.receive(t)))
      assert(address._tag === "TcpAddress")
      const r = yield* OpenSsh.runSsh([
        "-vv", "-F", "/dev/null", "-p", String(address.port),
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        ...extra, "127.0.0.1", "true"
      ])
      return /kex: algorithm: (\S+)/.exec(r.stderr)?.[1]
    }).pipe(Effect.scoped, Effect.provideService(Crypto, NodeCrypto))

  it.live("ssh's default list against our default server negotiates a sntrup761 hybrid", () =>
    Effect.gen(function*() {
      const theirs = OpenSshKex.opensshKex()
      const clientDefault = execFileSync(OpenSsh.SSH, ["-G", "-F", "/dev/null", "127.0.0.1"]).toString().split("\n")
        .find((l) => l.startsWith("kexalgorithms "))!.slice("kexalgorithms ".length).split(",")
      // RFC 4253 §7.1: the client's first method the server also has.
      const expected = clientDefault.find((k) => (Algorithms.DEFAULT_KEX as ReadonlyArray<string>).includes(k) && theirs.has(k))
      assert.match(expected ?? "", /^sntrup761x25519-sha512/)
      assert.strictEqual(yield* sshKex([]), expected)
    }))

  it.live("RFC 4253 §7.1 fallback: ssh with only curve25519-sha256 negotiates it with our default server", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* sshKex(["-o", "KexAlgorithms=curve25519-sha256"]), "curve25519-sha256")
    }))
})
