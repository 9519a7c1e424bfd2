/**
 * OpenSSH's `ssh` client against our server-role transport on 127.0.0.1, for every algorithm: `ssh -vvv`
 * must report the negotiated algorithms, NEWKEYS both ways and the ssh-userauth service accepted. Our side
 * answers user auth with a refusal (the server's auth layer is a later issue), so `ssh` ends at
 * "Permission denied", after the transport did its job. A second case lets a test double accept "none" auth to
 * watch OpenSSH rekey against us by time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as NodeTransport from "../../src/node/NodeTransport.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import type * as Transport from "../../src/transport/Transport.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import * as Reader from "../../src/wire/Reader.js"
import * as Writer from "../../src/wire/Writer.js"
import * as Loopback from "../helpers/Loopback.js"
import { algorithmsFor, APPLIANCE_PAIRS, cipherMacPairs } from "../helpers/CipherMacs.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshKex from "../helpers/OpenSshKex.js"

const has = OpenSsh.haveOpenSsh()

/** A stand-in for the auth layer: accept the ssh-userauth service, then refuse (or accept) every request. */
const authStub = (acceptNone: boolean) => (t: Transport.Transport) =>
  Effect.gen(function*() {
    for (;;) {
      const m = yield* t.receive
      if (m[0] === 5) {
        yield* t.send(TransportMessages.encode({ _tag: "ServiceAccept", name: "ssh-userauth" }))
      } else if (m[0] === 50) {
        const method = Reader.run(m, (r) => {
          r.byte()
          r.utf8()
          r.utf8()
          return r.ascii()
        })
        if (acceptNone && method._tag === "Right" && method.right === "none") yield* t.send(new Uint8Array([52]))
        else yield* t.send(Writer.build((w) => w.byte(51).nameList(["publickey"]).boolean(false)))
      } else if (m[0] === 80) {
        const wantReply = Reader.run(m, (r) => {
          r.byte()
          r.string()
          return r.boolean()
        })
        if (wantReply._tag === "Right" && wantReply.right) yield* t.send(new Uint8Array([82]))
      }
    }
  })

const baseArgs = (port: number) => [
  "-vvv",
  "-F", "/dev/null",
  "-p", String(port),
  "-o", "BatchMode=yes",
  "-o", "StrictHostKeyChecking=no",
  "-o", "UserKnownHostsFile=/dev/null",
  "-o", "PubkeyAuthentication=no",
  "-o", "PasswordAuthentication=no",
  "-o", "KbdInteractiveAuthentication=no"
]

interface Case {
  readonly name: string
  readonly ssh: ReadonlyArray<string>
  readonly server: Transport.AlgorithmOptions
  readonly expect: ReadonlyArray<string>
}
const cases: Array<Case> = []
// Every kex OpenSSH has (`ssh -Q kex`, asked at run time); the rest is printed as unchecked (OpenSshKex.ts).
for (const kex of OpenSshKex.kexAgainstOpenSsh("ssh ↔ our server").checked) {
  cases.push({ name: `kex ${kex}`, ssh: ["-o", `KexAlgorithms=${kex}`], server: { kex: [kex] }, expect: [`kex: algorithm: ${kex}`] })
}
// Every MAC under aes128-ctr, every cipher under an ETM and an E&M MAC (test/helpers/CipherMacs.ts), plus the
// combinations an old appliance typically has. `ssh -o Ciphers=…` names the legacy ones explicitly, which enables
// them in OpenSSH 9.2; our server names them in `algorithms` (off by default).
for (const [cipher, mac] of [...cipherMacPairs, ...APPLIANCE_PAIRS]) {
  {
    cases.push({
      name: `cipher ${cipher}${mac ? ` mac ${mac}` : ""}`,
      ssh: ["-o", `Ciphers=${cipher}`, ...(mac ? ["-o", `MACs=${mac}`] : [])],
      server: algorithmsFor([cipher, mac]),
      expect: [
        `kex: server->client cipher: ${cipher} MAC: ${mac ?? "<implicit>"} compression: none`,
        `kex: client->server cipher: ${cipher} MAC: ${mac ?? "<implicit>"} compression: none`
      ]
    })
  }
}
for (const hostKey of Algorithms.HOST_KEY_ALGORITHMS) {
  cases.push({
    name: `host key ${hostKey}`,
    ssh: ["-o", `HostKeyAlgorithms=${hostKey}`, ...(hostKey === "ssh-rsa" ? ["-o", "PubkeyAcceptedAlgorithms=+ssh-rsa"] : [])],
    server: { hostKey: [hostKey] },
    expect: [`kex: host key algorithm: ${hostKey}`]
  })
}

describe.skipIf(!has)("OpenSSH ssh ↔ our server-role transport", () => {
  for (const c of cases) {
    it.scopedLive(c.name, () =>
      Effect.gen(function*() {
        const address = yield* NodeTransport.serve({ hostKeys: Loopback.testHostKeys(), algorithms: c.server }, authStub(false))
        assert(address._tag === "TcpAddress")
        const r = yield* OpenSsh.runSsh([...baseArgs(address.port), ...c.ssh, "127.0.0.1", "true"])
        if (process.env.DEBUG_SSH) console.log(r.code, r.stderr)
        for (const line of c.expect) assert.include(r.stderr, line)
        assert.include(r.stderr, "SSH2_MSG_NEWKEYS received")
        assert.include(r.stderr, "SSH2_MSG_SERVICE_ACCEPT received")
        assert.include(r.stderr, "Authentications that can continue: publickey")
        assert.include(r.stderr, "Permission denied")
        assert.strictEqual(r.code, 255)
      }).pipe(Effect.provideService(Crypto, NodeCrypto)))
  }

  it.scopedLive("OpenSSH rekeys against our server (RekeyLimit by time) and the transport follows", () =>
    Effect.gen(function*() {
      let transport: Transport.Transport | undefined
      const address = yield* NodeTransport.serve({ hostKeys: Loopback.testHostKeys() }, (t) => {
        transport = t
        return authStub(true)(t)
      })
      assert(address._tag === "TcpAddress")
      const r = yield* OpenSsh.runSsh([...baseArgs(address.port), "-N", "-o", "RekeyLimit=1G 1s", "127.0.0.1"], 4500)
      const rekeys = r.stderr.split("SSH2_MSG_NEWKEYS received").length - 1
      assert.isAtLeast(rekeys, 2, r.stderr)
      assert.isAtLeast((yield* transport!.stats).kexCount, 2)
    }).pipe(Effect.provideService(Crypto, NodeCrypto)))
})
