/**
 * The binary packet protocol's cryptographic transform, one object per direction (RFC 4253 §6). A sealer turns
 * a plaintext packet (`uint32 packet_length ‖ byte padding_length ‖ payload ‖ padding`) into the bytes on the
 * wire; an opener learns `packet_length` from the first bytes of a packet and then verifies and decrypts it.
 * Implementations live in src/crypto/cipher/ and are built from a `CryptoBackend`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export interface PacketSealer {
  /** Alignment of the padded packet: max(8, cipher block size) (RFC 4253 §6). */
  readonly blockSize: number
  readonly macLength: number
  /**
   * True when packet_length is encrypted with the rest and counts towards alignment (classic encrypt-and-MAC).
   * False for ETM MACs and AEAD ciphers, where alignment excludes the 4-byte length (OpenSSH PROTOCOL §1.5).
   */
  readonly lengthAligned: boolean
  /** `packet` is the whole plaintext packet; it may be overwritten in place. Returns the wire bytes. */
  seal(seq: number, packet: Uint8Array): Uint8Array
  /**
   * Optional gathered form of `seal`: the plaintext packet is the concatenation of `pieces` (the first starts
   * with packet_length); returns the wire bytes as parts to write in order, so that nothing is copied besides
   * what the cipher writes (DESIGN.md §6).
   */
  readonly sealParts?: ((seq: number, pieces: ReadonlyArray<Uint8Array>) => ReadonlyArray<Uint8Array>) | undefined
  /**
   * Set for CBC (SEC-05): the writer puts an IGNORE with random content before each packet, so the chaining
   * value a packet is encrypted under is the last block of a ciphertext sealed with it, which no one could see
   * before choosing what to send (the chosen-plaintext attack on CBC's predictable IV; RFC 4251 §9.3.1).
   */
  readonly ignorePrefix?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PacketOpener {
  readonly blockSize: number
  readonly macLength: number
  readonly lengthAligned: boolean
  /** How many bytes of a packet are needed to learn its length: 4, or the cipher block size. */
  readonly headerLength: number
  /**
   * packet_length from the first `headerLength` bytes. Called exactly once per packet, before `open`; it may
   * keep state for `open` (the first decrypted block). The value is untrusted: the caller checks bounds (SEC-01).
   */
  packetLength(seq: number, header: Uint8Array): number
  /**
   * Verifies and decrypts one packet: `wire` holds exactly 4 + packet_length + macLength bytes. Returns the
   * plaintext from padding_length to the end of the padding, or `undefined` when the MAC or tag does not verify
   * (SEC-03, SEC-04). Nothing is returned from an unverified packet.
   */
  open(seq: number, wire: Uint8Array): Uint8Array | undefined
  /**
   * Set for CBC with an encrypt-and-MAC MAC (SEC-05): after a bad length or a failed MAC the reader keeps
   * reading and dropping bytes up to its packet limit before it reports the MAC failure, so neither the kind of
   * error nor the point where the connection closes tells a peer anything about a decrypted length
   * (CVE-2008-5161; OpenSSH packet.c `ssh_packet_start_discard`).
   */
  readonly discardOnError?: boolean | undefined
  /**
   * Set when `open` always returns plaintext in a buffer of its own, never a view of `wire`: the reader may then
   * assemble the next packet that straddles two socket chunks in the same buffer instead of a new one.
   */
  readonly fresh?: boolean | undefined
}

/**
 * Keys for one direction, from RFC 4253 §7.2 key derivation.
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectionKeys {
  readonly iv: Uint8Array
  readonly key: Uint8Array
  readonly macKey: Uint8Array
}
