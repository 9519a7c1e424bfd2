/**
 * One key exchange method's message flow and the exchange hash (RFC 4253 §8, RFC 5656 §4, RFC 4419 §3),
 * for KexMachine. Pure.
 *
 * @since 0.1.0
 */
import * as Algorithms from "../../crypto/Algorithms.js"
import * as Ciphers from "../../crypto/Ciphers.js"
import type { EphemeralKex, KexClient } from "../../crypto/Kex.js"
import * as GroupExchange from "../../crypto/kex/GroupExchange.js"
import * as KexRegistry from "../../crypto/KexRegistry.js"
import * as HostKey from "../../crypto/HostKey.js"
import * as KeyDerivation from "../../crypto/KeyDerivation.js"
import * as Negotiate from "../../crypto/Negotiate.js"
import type { PacketOpener, PacketSealer } from "../../crypto/PacketCipher.js"
import { DisconnectReason } from "../../SshError.js"
import * as KexMessages from "../../wire/KexMessages.js"
import type * as TransportMessages from "../../wire/TransportMessages.js"
import * as Writer from "../../wire/Writer.js"
import type { KexConfig, KexFailure, Negotiated } from "../KexMachine.js"

/** @internal */
export type StepResult =
  | { readonly _tag: "Continue"; readonly send: ReadonlyArray<Uint8Array> }
  | { readonly _tag: "Verify"; readonly send: ReadonlyArray<Uint8Array>; readonly algorithm: string; readonly hostKey: Uint8Array }
  | {
    readonly _tag: "Keys"
    readonly send: ReadonlyArray<Uint8Array>
    readonly k: Uint8Array
    readonly h: Uint8Array
    readonly hostKey: Uint8Array
    /** The server's signature on H under `hostKey` (session-bind@openssh.com sends the first one to an agent). */
    readonly signature: Uint8Array
  }
  | { readonly _tag: "Failure"; readonly failure: KexFailure }

/** @internal */
export interface Exchange {
  readonly _tag: "Exchange"
  readonly negotiated: Negotiated
  begin(): StepResult
  receive(payload: Uint8Array): StepResult
  accepted(): StepResult
}

const failure = (reason: KexFailure["reason"], code: number, description: string): KexFailure => ({
  _tag: "KexFailure",
  reason,
  code,
  description
})
const fail = (reason: KexFailure["reason"], code: number, description: string): StepResult => ({
  _tag: "Failure",
  failure: failure(reason, code, description)
})
const unexpected = (payload: Uint8Array, expected: string): StepResult =>
  fail("ProtocolViolation", DisconnectReason.ProtocolError, `key exchange message ${payload[0]} where ${expected} was expected (SEC-14)`)
const kexFailed = (description: string): StepResult => fail("KexFailed", DisconnectReason.KeyExchangeFailed, description)

// The `algorithms` option that governs a negotiated kind.
const optionKey = (kind: Negotiate.AlgorithmKind): keyof Algorithms.AlgorithmPreferences =>
  kind.startsWith("cipher") ? "cipher" : kind.startsWith("mac") ? "mac" : kind.startsWith("compression") ? "compression" : kind === "hostKey" ? "hostKey" : "kex"

/** Negotiates (RFC 4253 §7.1) and prepares the exchange for the chosen method. @internal */
export const start = (
  config: KexConfig,
  ours: TransportMessages.KexInit,
  peer: TransportMessages.KexInit,
  ourPayload: Uint8Array,
  peerPayload: Uint8Array
): Exchange | KexFailure => {
  const client = config.role === "client" ? ours : peer
  const server = config.role === "client" ? peer : ours
  const n = Negotiate.negotiate(client, server)
  if (n._tag === "Left") {
    const e = n.left
    // DESIGN.md §7: list both sides; and name the option when the peer offers something we leave off by default.
    const [ours, theirs] = config.role === "client" ? [e.client, e.server] : [e.server, e.client]
    const hint = Algorithms.offByDefaultHint(optionKey(e.kind), ours, theirs)
    return failure(
      "NoCommonAlgorithm",
      DisconnectReason.KeyExchangeFailed,
      `no common ${e.kind} algorithm; client offers [${e.client.join(", ")}], server offers [${e.server.join(", ")}]` +
        (hint === undefined ? "" : `; ${hint}`)
    )
  }
  const negotiated: Negotiated = n.right
  const method = KexRegistry.kexMethod(negotiated.kex)
  if (method === undefined) return failure("KexFailed", 3, `key exchange ${negotiated.kex} is not implemented`)
  // RFC 4253 §7: the guess is right only when both sides prefer the same kex and host key algorithm;
  // after a wrong guess in first_kex_packet_follows, the next KEX packet is discarded.
  let ignoreNext = peer.firstKexPacketFollows && !Negotiate.guessMatches(client, server)
  const iC = config.role === "client" ? ourPayload : peerPayload
  const iS = config.role === "client" ? peerPayload : ourPayload
  const backend = config.backend
  const hashOf = (hostKey: Uint8Array, extra: Uint8Array, qc: Uint8Array, qs: Uint8Array, k: Uint8Array) =>
    exchangeHash(config, hashName(method), {
      iC,
      iS,
      hostKey,
      extra,
      qc,
      qs,
      k
    })

  let state: "init" | "group" | "reply" | "verdict" | "done" = "init"
  let kc: KexClient | undefined
  let ex: EphemeralKex | undefined = method._tag === "Ephemeral" ? method.exchange : undefined
  let gexExtra: Uint8Array = new Uint8Array(0)
  let pending: { k: Uint8Array; h: Uint8Array; hostKey: Uint8Array; signature: Uint8Array } | undefined
  const gex = config.gex ?? GroupExchange.DEFAULT_REQUEST

  const clientReply = (hostKey: Uint8Array, serverValue: Uint8Array, signature: Uint8Array): StepResult => {
    const k = kc!.finish(serverValue)
    if (k === undefined) return kexFailed("the server's key exchange value is invalid (SEC-17, SEC-18)")
    const h = hashOf(hostKey, gexExtra, kc!.clientValue, serverValue, k)
    // SEC-19: verify the signature on H with K_S, under the negotiated algorithm, before anything else.
    if (!HostKey.verify(backend, negotiated.hostKey, hostKey, h, signature)) {
      return kexFailed(`the server's ${negotiated.hostKey} signature on the exchange hash does not verify`)
    }
    pending = { k, h, hostKey, signature }
    state = "verdict"
    return { _tag: "Verify", send: [], algorithm: negotiated.hostKey, hostKey }
  }

  const serverReply = (clientValue: Uint8Array, encode: (hostKey: Uint8Array, f: Uint8Array, sig: Uint8Array) => Uint8Array): StepResult => {
    const r = ex!.server(backend, clientValue)
    if (r === undefined) return kexFailed("the client's key exchange value is invalid (SEC-17, SEC-18)")
    const hk = (config.hostKeys ?? []).find((k) => k.algorithms.includes(negotiated.hostKey))
    if (hk === undefined) return kexFailed(`no host key for ${negotiated.hostKey}`)
    const h = hashOf(hk.blob, gexExtra, clientValue, r.serverValue, r.k)
    const signature = HostKey.sign(backend, negotiated.hostKey, hk.key, h)
    state = "done"
    return { _tag: "Keys", send: [encode(hk.blob, r.serverValue, signature)], k: r.k, h, hostKey: hk.blob, signature }
  }

  const family = method._tag === "Ephemeral" ? "ecdh" : "gex"
  return {
    _tag: "Exchange",
    negotiated,
    begin() {
      if (config.role === "server") return { _tag: "Continue", send: [] }
      if (ex !== undefined) {
        kc = ex.client(backend)
        state = "reply"
        return { _tag: "Continue", send: [KexMessages.encode({ _tag: "KexEcdhInit", clientValue: kc.clientValue })] }
      }
      state = "group"
      return { _tag: "Continue", send: [KexMessages.encode({ _tag: "GexRequest", min: gex.min, n: gex.n, max: gex.max })] }
    },
    receive(payload) {
      if (ignoreNext) {
        ignoreNext = false
        return { _tag: "Continue", send: [] }
      }
      const d = KexMessages.decode(family, payload)
      if (d._tag === "Left") {
        return fail("ProtocolViolation", DisconnectReason.ProtocolError, `malformed key exchange message: ${d.left.description}`)
      }
      const m = d.right
      if (config.role === "client") {
        if (state === "group" && m._tag === "GexGroup") {
          // LIM-14 / SEC-17: the group must be within what we asked for.
          const check = GroupExchange.checkGroup({ p: m.p, g: m.g }, gex.min, gex.max)
          if (check !== undefined) return kexFailed(check)
          if (method._tag !== "GroupExchange") return unexpected(payload, "KEX_ECDH_REPLY")
          ex = method.withGroup({ p: m.p, g: m.g })
          gexExtra = Writer.build((w) => w.uint32(gex.min).uint32(gex.n).uint32(gex.max).mpint(m.p).mpint(m.g))
          kc = ex.client(backend)
          state = "reply"
          return { _tag: "Continue", send: [KexMessages.encode({ _tag: "GexInit", e: kc.clientValue })] }
        }
        if (state === "reply" && m._tag === "KexEcdhReply") return clientReply(m.hostKey, m.serverValue, m.signature)
        if (state === "reply" && m._tag === "GexReply") return clientReply(m.hostKey, m.f, m.signature)
        return unexpected(payload, state === "group" ? "GEX_GROUP" : "the key exchange reply")
      }
      if (state === "init" && m._tag === "KexEcdhInit" && method._tag === "Ephemeral") {
        return serverReply(m.clientValue, (hostKey, serverValue, signature) =>
          KexMessages.encode({ _tag: "KexEcdhReply", hostKey, serverValue, signature }))
      }
      if (state === "init" && (m._tag === "GexRequest" || m._tag === "GexRequestOld") && method._tag === "GroupExchange") {
        // RFC 4419 §5: an old-style request names only n; OpenSSH serves it from [GEX_MIN, GEX_MAX].
        const [min, n, max] = m._tag === "GexRequest" ? [m.min, m.n, m.max] :
          [GroupExchange.GEX_MIN, Math.min(Math.max(m.n, GroupExchange.GEX_MIN), GroupExchange.GEX_MAX), GroupExchange.GEX_MAX]
        const group = GroupExchange.chooseGroup(min, n, max)
        if (group === undefined) return kexFailed(`no group between ${min} and ${max} bits`)
        ex = method.withGroup(group)
        // RFC 4419 §3 (new request) vs §5 (old request): the hash covers the sizes that were sent.
        gexExtra = Writer.build((w) => {
          if (m._tag === "GexRequest") w.uint32(m.min).uint32(m.n).uint32(m.max)
          else w.uint32(m.n)
          w.mpint(group.p).mpint(group.g)
        })
        state = "reply"
        return { _tag: "Continue", send: [KexMessages.encode({ _tag: "GexGroup", p: group.p, g: group.g })] }
      }
      if (state === "reply" && m._tag === "GexInit") {
        return serverReply(m.e, (hostKey, f, signature) => KexMessages.encode({ _tag: "GexReply", hostKey, f, signature }))
      }
      return unexpected(payload, "the client's key exchange message")
    },
    accepted() {
      if (state !== "verdict" || pending === undefined) {
        return fail("ProtocolViolation", 2, "no host key verdict is pending")
      }
      state = "done"
      return { _tag: "Keys", send: [], ...pending }
    }
  }
}

const hashName = (method: NonNullable<ReturnType<typeof KexRegistry.kexMethod>>) =>
  method._tag === "Ephemeral" ? method.exchange.hash : method.hash

/**
 * RFC 4253 §8: H = HASH(V_C ‖ V_S ‖ I_C ‖ I_S ‖ K_S ‖ [RFC 4419 sizes and group] ‖ e/Q_C ‖ f/Q_S ‖ K).
 * @internal
 */
export const exchangeHash = (
  config: KexConfig,
  hash: Parameters<KexConfig["backend"]["hash"]>[0],
  p: {
    readonly iC: Uint8Array
    readonly iS: Uint8Array
    readonly hostKey: Uint8Array
    readonly extra: Uint8Array
    readonly qc: Uint8Array
    readonly qs: Uint8Array
    readonly k: Uint8Array
  }
): Uint8Array =>
  config.backend.hash(hash).update(
    Writer.build((w) =>
      w.string(config.clientVersion).string(config.serverVersion).string(p.iC).string(p.iS).string(p.hostKey)
        .raw(p.extra).string(p.qc).string(p.qs).raw(p.k)
    )
  ).digest()

/** RFC 4253 §7.2: the keys of both directions; ours seal, the peer's open. @internal */
export const deriveKeys = (
  config: KexConfig,
  negotiated: Negotiated,
  r: { readonly k: Uint8Array; readonly h: Uint8Array },
  sessionId: Uint8Array
): { readonly sealer: PacketSealer; readonly opener: PacketOpener } => {
  const method = KexRegistry.kexMethod(negotiated.kex)!
  const hash = hashName(method)
  const derive = (cipherName: string, macName: string | undefined, letters: readonly ["A" | "B", "C" | "D", "E" | "F"]) => {
    const cipher = Ciphers.cipherSpec(cipherName)!
    const mac = macName === undefined ? undefined : Ciphers.macSpec(macName)
    const d = (letter: "A" | "B" | "C" | "D" | "E" | "F", length: number) =>
      KeyDerivation.deriveKeys(config.backend, hash, r.k, r.h, sessionId, letter, length)
    const keys = {
      iv: d(letters[0], cipher.ivLength),
      key: d(letters[1], cipher.keyLength),
      macKey: mac === undefined ? new Uint8Array(0) : d(letters[2], mac.keyLength)
    }
    return { cipher, mac, keys }
  }
  const c2s = derive(negotiated.cipherC2S, negotiated.macC2S, ["A", "C", "E"])
  const s2c = derive(negotiated.cipherS2C, negotiated.macS2C, ["B", "D", "F"])
  const [out, inn] = config.role === "client" ? [c2s, s2c] : [s2c, c2s]
  return {
    sealer: Ciphers.makeSealer(config.backend, out.cipher, out.mac, out.keys),
    opener: Ciphers.makeOpener(config.backend, inn.cipher, inn.mac, inn.keys)
  }
}
