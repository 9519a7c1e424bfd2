/**
 * OpenSSH's `ssh` client against our SshServer on 127.0.0.1 (SshServer.run on NodeSshServer.layer), for every
 * algorithm: `ssh -vvv` must report the negotiated algorithms, log in with a publickey and run a command whose
 * output and exit status come back. A second case lets a transport-level test double accept "none" auth to watch
 * OpenSSH rekey against us by time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as SshServer from "../../src/server/SshServer.js"
import * as Algorithms from "../../src/crypto/Algorithms.js"
import { Crypto } from "../../src/crypto/Crypto.js"
import * as NodeTransport from "../../src/node/NodeTransport.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"
import type * as Transport from "../../src/transport/Transport.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"
import * as Reader from "../../src/wire/Reader.js"
import * as Writer from "../../src/wire/Writer.js"
import * as Loopback from "../helpers/Loopback.js"
import * as Servers from "../helpers/Servers.js"
import { algorithmsFor, APPLIANCE_PAIRS, cipherMacPairs } from "../helpers/CipherMacs.js"
import * as OpenSsh from "../helpers/OpenSsh.js"
import * as OpenSshKex from "../helpers/OpenSshKex.js"
import * as Receive from "../../src/transport/internal/receive.js"

const has = OpenSsh.haveOpenSsh()

/** A stand-in for the auth layer: accept the ssh-userauth service, then refuse (or accept) every request. */
const authStub = (acceptNone: boolean) => (t: Transport.Transport) =>
  Effect.gen(function*() {
    for (;;) {
      const m = yield* Receive.receive(t)
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

const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-ssh-openssh-ssh-"))
const keyFile = path.join(keyDir, "id_ed25519")
if (has) execFileSync(OpenSsh.SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "", "-f", keyFile])
const authorizedBlob = has ? fs.readFileSync(`${keyFile}.pub`, "utf8").split(" ")[1]! : ""

const handlers: SshServer.ServerHandlers = {
  auth: { publicKey: ({ key }) => Effect.succeed(Buffer.from(key.blob).toString("base64") === authorizedBlob) },
  exec: ({ command, stdout, username }) =>
    Stream.make(new TextEncoder().encode(`${username} ran ${command}\n`)).pipe(Stream.run(stdout), Effect.as(3))
}

describe.skipIf(!has)("OpenSSH ssh ↔ our SshServer, every algorithm", () => {
  for (const c of cases) {
    it.scopedLive(c.name, () =>
      Effect.gen(function*() {
        const port = yield* Servers.serve(handlers, { algorithms: c.server })
        const r = yield* OpenSsh.ssh([
          ...baseArgs(port).map((a) => (a === "PubkeyAuthentication=no" ? "PubkeyAuthentication=yes" : a)),
          "-i", keyFile, "-o", "IdentitiesOnly=yes", ...c.ssh, "alice@127.0.0.1", "hello"
        ])
        if (process.env.DEBUG_SSH) console.log(r.code, r.stderr)
        for (const line of c.expect) assert.include(r.stderr, line)
        assert.include(r.stderr, "SSH2_MSG_NEWKEYS received")
        assert.include(r.stderr, "Authenticated to 127.0.0.1")
        assert.strictEqual(r.stdout.toString(), "alice ran hello\n")
        assert.strictEqual(r.code, 3)
      }))
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
