/**
 * effect-ssh: an SSH-2 client and server for TypeScript, built on Effect. This entry point is platform
 * neutral; `effect-ssh/node` adds the Node layers (TCP with TCP_NODELAY, node:crypto).
 *
 * @since 0.1.0
 */

/**
 * Algorithm names and default preferences (DESIGN.md §5).
 *
 * @since 0.1.0
 */
export * as Algorithms from "./crypto/Algorithms.js"

/**
 * The client transport with a host key policy.
 *
 * @since 0.1.0
 */
export * as ClientTransport from "./client/ClientTransport.js"

/**
 * The crypto backend in use (portable @noble by default).
 *
 * @since 0.1.0
 */
export * as Crypto from "./crypto/Crypto.js"

/**
 * Host key and signature algorithms, public key blobs and fingerprints.
 *
 * @since 0.1.0
 */
export * as HostKey from "./crypto/HostKey.js"

/**
 * Who decides whether a server's host key is trusted: known_hosts, pinned fingerprints, callbacks.
 *
 * @since 0.1.0
 */
export * as HostKeyPolicy from "./client/HostKeyPolicy.js"

/**
 * known_hosts parsing and matching.
 *
 * @since 0.1.0
 */
export * as KnownHosts from "./keys/KnownHosts.js"

/**
 * The sans-IO binary packet codec (TST-01).
 *
 * @since 0.1.0
 */
export * as PacketCodec from "./transport/PacketCodec.js"

/**
 * The portable crypto backend.
 *
 * @since 0.1.0
 */
export * as PortableCrypto from "./crypto/portable/PortableCrypto.js"

/**
 * Errors and disconnect reason codes.
 *
 * @since 0.1.0
 */
export * as SshError from "./SshError.js"

/**
 * The SSH transport layer service.
 *
 * @since 0.1.0
 */
export * as Transport from "./transport/Transport.js"

/**
 * Transport-layer message codecs (RFC 4253, RFC 8308).
 *
 * @since 0.1.0
 */
export * as TransportMessages from "./wire/TransportMessages.js"
