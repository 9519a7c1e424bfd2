/**
 * Every parser fed from the network or from files, as a fuzz target: `run` feeds it one input and throws when
 * the parser shows a bug — an exception escaping it, or the catch-all results that mean one was swallowed
 * (WireError "Unknown" from Reader.run; KeyError "malformed key (TypeError)" from keys' `attempt`). A typed
 * failure (Left, PacketError, "Failed") is the correct answer to garbage and passes.
 */
import { Either } from "effect"
import * as AgentProtocol from "../../src/agent/AgentProtocol.js"
import * as SshConfig from "../../src/config/SshConfig.js"
import * as SshdConfig from "../../src/config/SshdConfig.js"
import * as HostKey from "../../src/crypto/HostKey.js"
import * as AuthorizedKeys from "../../src/keys/AuthorizedKeys.js"
import * as Certificate from "../../src/keys/Certificate.js"
import * as KnownHosts from "../../src/keys/KnownHosts.js"
import * as Krl from "../../src/keys/Krl.js"
import * as Ppk from "../../src/keys/Ppk.js"
import * as PrivateKey from "../../src/keys/PrivateKey.js"
import * as PublicKey from "../../src/keys/PublicKey.js"
import * as Identification from "../../src/transport/Identification.js"
import * as PacketCodec from "../../src/transport/PacketCodec.js"
import * as AuthMessages from "../../src/wire/AuthMessages.js"
import * as ChannelRequests from "../../src/wire/ChannelRequests.js"
import * as ConnectionMessages from "../../src/wire/ConnectionMessages.js"
import * as ForwardingMessages from "../../src/wire/ForwardingMessages.js"
import * as KexMessages from "../../src/wire/KexMessages.js"
import * as Socks from "../../src/forward/Socks.js"
import * as SftpExtensions from "../../src/sftp/SftpExtensions.js"
import * as SftpFraming from "../../src/sftp/SftpFraming.js"
import * as SftpMessages from "../../src/sftp/SftpMessages.js"
import * as HostKeysMessages from "../../src/wire/HostKeysMessages.js"
import * as TransportMessages from "../../src/wire/TransportMessages.js"

/** A parser under fuzzing. */
export interface Target {
  readonly name: string
  /** Kind of seed it takes (see seeds.ts). */
  readonly seeds: SeedKind
  readonly run: (input: Uint8Array) => void
}

export type SeedKind = "packet" | "identification" | "payload" | "blob" | "text-key" | "private-key" | "ppk" |
  "known-hosts" | "authorized-keys" | "certificate" | "sshd-config" | "krl" | "sftp" | "agent" | "socks" |
  "ssh-config"

const text = new TextDecoder("utf-8")

/** Throws on the results that reveal a swallowed exception. */
const check = (e: Either.Either<unknown, unknown>): void => {
  if (Either.isRight(e)) return
  const err = e.left
  if (typeof err === "object" && err !== null) {
    if ("reason" in err && err.reason === "Unknown") throw new Error(`swallowed exception: ${JSON.stringify(err)}`)
    if ("description" in err && typeof err.description === "string" && /^malformed key \((?!KeyError|WireError)/.test(err.description)) {
      throw new Error(`swallowed exception: ${err.description}`)
    }
  }
}

const names = Object.values(ChannelRequests.RequestName)

export const TARGETS: ReadonlyArray<Target> = [
  {
    name: "packet-codec",
    seeds: "packet",
    run: (input) => {
      // Fed in two chunks split at a data-dependent point, as a socket would.
      const reader = new PacketCodec.PacketReader()
      const cut = input.length === 0 ? 0 : input[0]! % input.length
      reader.push(input.subarray(0, cut))
      reader.push(input.subarray(cut))
      for (let i = 0; i < 64; i++) {
        const r = reader.next()
        if (r === undefined || PacketCodec.isPacketError(r)) return
      }
    }
  },
  {
    name: "identification",
    seeds: "identification",
    run: (input) => {
      for (const role of ["client", "server"] as const) new Identification.IdentificationParser(role).push(input)
    }
  },
  { name: "transport-messages", seeds: "payload", run: (b) => check(TransportMessages.decode(b)) },
  {
    name: "kex-messages",
    seeds: "payload",
    run: (b) => {
      check(KexMessages.decode("ecdh", b))
      check(KexMessages.decode("gex", b))
    }
  },
  {
    name: "auth-messages",
    seeds: "payload",
    run: (b) => {
      check(AuthMessages.decode(b))
      check(AuthMessages.decodePkOk(b))
      check(AuthMessages.decodeInfoRequest(b))
      check(AuthMessages.decodePasswdChangeReq(b))
    }
  },
  {
    name: "connection-messages",
    seeds: "payload",
    run: (b) => {
      const m = ConnectionMessages.decode(b)
      check(m)
      if (Either.isRight(m) && m.right._tag === "ChannelRequest") check(ChannelRequests.decodeChannelRequest(m.right))
      if (Either.isRight(m) && m.right._tag === "ChannelOpen") check(ForwardingMessages.decodeChannelOpenKind(m.right))
    }
  },
  {
    name: "channel-requests",
    seeds: "payload",
    run: (b) => {
      const name = names[(b[0] ?? 0) % names.length]!
      check(ChannelRequests.decodeRequest(name, b.subarray(1)))
      check(ChannelRequests.decodeTerminalModes(b))
      check(ForwardingMessages.decodeTcpipForward(b))
      check(ForwardingMessages.decodeTcpipForwardReply(b))
      check(ForwardingMessages.decodeTcpipChannel(b))
    }
  },
  {
    name: "public-key-blob",
    seeds: "blob",
    run: (b) => {
      check(HostKey.decodePublicKey(b))
      check(PublicKey.fromBlob(b))
    }
  },
  {
    name: "public-key-text",
    seeds: "text-key",
    run: (b) => {
      const t = text.decode(b)
      check(PublicKey.parse(t))
      check(PublicKey.parseRfc4716(t))
    }
  },
  { name: "private-key", seeds: "private-key", run: (b) => check(PrivateKey.parse(b)) },
  { name: "ppk", seeds: "ppk", run: (b) => check(Ppk.decode(text.decode(b), undefined)) },
  { name: "known-hosts", seeds: "known-hosts", run: (b) => void KnownHosts.parse(text.decode(b)) },
  { name: "authorized-keys", seeds: "authorized-keys", run: (b) => void AuthorizedKeys.parse(text.decode(b)) },
  {
    name: "certificate",
    seeds: "certificate",
    run: (b) => {
      check(Certificate.decode(b))
      check(Certificate.fromText(text.decode(b)))
    }
  },
  {
    name: "sshd-config",
    seeds: "sshd-config",
    run: (b) => {
      const c = SshdConfig.parse(text.decode(b))
      if (Either.isRight(c)) {
        SshdConfig.settings(c.right)
        SshdConfig.settings(c.right, { user: "root", address: "10.1.2.3", host: "h", localPort: 22 })
      }
    }
  },
  { name: "krl", seeds: "krl", run: (b) => check(Krl.parse(b)) },
  {
    // SFTP (draft-ietf-secsh-filexfer-02): the packet assembler fed in two chunks, every body it yields through
    // the message decoder, and the reply payloads of the OpenSSH extensions.
    name: "sftp",
    seeds: "sftp",
    run: (b) => {
      const assembler = new SftpFraming.PacketAssembler()
      const cut = b.length === 0 ? 0 : b[0]! % b.length
      for (const part of [b.subarray(0, cut), b.subarray(cut)]) {
        const bodies = assembler.push(part)
        check(bodies)
        if (Either.isRight(bodies)) for (const body of bodies.right) check(SftpMessages.decode(body))
      }
      check(SftpMessages.decode(b))
      check(SftpExtensions.decodeStatVfs(b))
      check(SftpExtensions.decodeLimits(b))
      check(SftpExtensions.decodeUsersGroups(b))
    }
  },
  {
    name: "agent",
    seeds: "agent",
    run: (b) => {
      check(AgentProtocol.decodeRequest(b))
      check(AgentProtocol.decodeResponse(b))
      check(AgentProtocol.decodeSessionBind(b))
    }
  },
  {
    // SOCKS 4/4a/5 as the -D listener reads it: the first message, then a SOCKS 5 request, from any offset.
    name: "socks",
    seeds: "socks",
    run: (b) => {
      const first = Socks.parseFirst(b)
      if (first._tag === "Done" && first.consumed > b.length) throw new Error("consumed past the input")
      const at = first._tag === "Done" ? first.consumed : 0
      const request = Socks.parseSocks5Request(b.subarray(at))
      if (request._tag === "Done" && request.consumed > b.length - at) throw new Error("consumed past the input")
    }
  },
  {
    // ssh_config: parse, then resolve for a destination (no `Match exec` runner: such lines are errors).
    name: "ssh-config",
    seeds: "ssh-config",
    run: (b) => {
      const file = SshConfig.parse(text.decode(b), "/fuzz/config")
      SshConfig.resolve([file], { host: "example.com", localUser: "me", homeDir: "/home/me", uid: 1000, localHostname: "here" })
    }
  },
  {
    name: "hostkeys-messages",
    seeds: "payload",
    run: (b) => check(HostKeysMessages.decodeList(b))
  }
]
