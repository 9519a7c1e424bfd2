/**
 * When each direction compresses (RFC 4253 §6.2, OpenSSH PROTOCOL §1.2), following OpenSSH `packet.c`:
 *
 * - At NEWKEYS (ours for the outbound direction, the peer's for the inbound one) the direction's stream ends and,
 *   for the newly negotiated method, a fresh one starts: `zlib` at once, `zlib@openssh.com` only once
 *   authentication has succeeded (`ssh_set_newkeys`; RFC 4253 §6.2: the context is initialised after each key
 *   exchange).
 * - Authentication succeeds when the server sends USERAUTH_SUCCESS, and when the client receives it: from the next
 *   packet on, both directions of a `zlib@openssh.com` connection compress (`ssh_packet_enable_delayed_compress`),
 *   and every later key exchange starts it at NEWKEYS.
 *
 * With `none` negotiated nothing is installed, and the packet path does no work for compression.
 *
 * @since 0.1.0
 */
import type { ZlibStreams } from "../Compression.js"
import type { Negotiated } from "../KexMachine.js"
import type { PacketReader, PacketWriter } from "../PacketCodec.js"

/** The compression methods the transport implements (with a backend that has zlib). */
const ZLIB = "zlib"
const DELAYED = "zlib@openssh.com"

/** @internal */
export class PacketCompression {
  /** Authentication has succeeded (USERAUTH_SUCCESS sent by the server / received by the client). */
  authenticated = false
  private outMethod = "none"
  private inMethod = "none"

  constructor(
    private readonly role: "client" | "server",
    private readonly zlib: ZlibStreams | undefined,
    private readonly reader: PacketReader,
    private readonly writer: PacketWriter
  ) {}

  /** Our NEWKEYS was just sealed: the packets after it use the new method. */
  newKeysSent(negotiated: Negotiated): void {
    this.outMethod = this.role === "client" ? negotiated.compressionC2S : negotiated.compressionS2C
    this.restartOut()
  }

  /** The peer's NEWKEYS was just read: the packets after it use the new method. */
  newKeysReceived(negotiated: Negotiated): void {
    this.inMethod = this.role === "client" ? negotiated.compressionS2C : negotiated.compressionC2S
    this.restartIn()
  }

  /** Server: a payload was just sealed; USERAUTH_SUCCESS (52) switches delayed compression on after it. */
  sent(payload: Uint8Array): void {
    if (payload[0] === 52 && this.role === "server" && !this.authenticated) this.authSucceeded()
  }

  /** Client: a payload was just read; USERAUTH_SUCCESS (52) switches delayed compression on after it. */
  received(payload: Uint8Array): void {
    if (payload[0] === 52 && this.role === "client" && !this.authenticated) this.authSucceeded()
  }

  /** Releases both streams (the connection is over). */
  close(): void {
    this.writer.deflater?.close()
    this.writer.deflater = undefined
    this.reader.inflater?.close()
    this.reader.inflater = undefined
  }

  private authSucceeded(): void {
    this.authenticated = true
    if (this.outMethod === DELAYED && this.writer.deflater === undefined) this.restartOut()
    if (this.inMethod === DELAYED && this.reader.inflater === undefined) this.restartIn()
  }

  private active(method: string): boolean {
    return method === ZLIB || (method === DELAYED && this.authenticated)
  }

  private restartOut(): void {
    this.writer.deflater?.close()
    this.writer.deflater = this.active(this.outMethod) ? this.zlib!.deflater() : undefined
  }

  private restartIn(): void {
    this.reader.inflater?.close()
    this.reader.inflater = this.active(this.inMethod) ? this.zlib!.inflater() : undefined
  }
}
