/**
 * effect-ssh for Node: node:crypto as the crypto backend, TCP transports with TCP_NODELAY.
 *
 * @since 0.1.0
 */

/**
 * The node:crypto (OpenSSL) backend and its layer.
 *
 * @since 0.1.0
 */
export * as NodeCrypto from "./NodeCrypto.js"

/**
 * The node:zlib compression backend (zlib, zlib@openssh.com) and its layer.
 *
 * @since 0.1.0
 */
export * as NodeCompression from "./NodeCompression.js"

/**
 * Client and server transports over Node TCP sockets.
 *
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.js"

/**
 * The TCP dialer.
 *
 * @since 0.1.0
 */
export * as NodeDialer from "./NodeDialer.js"

/**
 * One layer with everything a Node client needs.
 *
 * @since 0.1.0
 */
export * as NodeSsh from "./NodeSsh.js"

/**
 * An SSH server on a Node TCP listener.
 *
 * @since 0.1.0
 */
export * as NodeSshServer from "./NodeSshServer.js"

/**
 * Ready-made session handlers that run commands as local child processes (off unless installed).
 *
 * @since 0.1.0
 */
export * as NodeLocalProcess from "./NodeLocalProcess.js"

/**
 * authorized_keys files read from disk per attempt, with `%u`/`%h` and StrictModes-style checks.
 *
 * @since 0.1.0
 */
export * as NodeAuthorizedKeys from "./NodeAuthorizedKeys.js"

/**
 * Host keys from files, generated and saved atomically when missing.
 *
 * @since 0.1.0
 */
export * as NodeHostKeys from "./NodeHostKeys.js"

/**
 * SFTP on Node: a client over a local sftp-server's stdio, and the local directory as an `SftpFileSystem`.
 *
 * @since 0.1.0
 */
export * as NodeSftp from "./NodeSftp.js"

/**
 * Every public error of `effect-ssh` and `effect-ssh/node` in one union: `EffectSshError` and the Node host key
 * files' `HostKeyFileError`.
 *
 * @since 0.1.0
 * @category errors
 */
export type NodeSshError = import("../index.js").EffectSshError | import("./NodeHostKeys.js").HostKeyFileError

/**
 * The ssh-agent on Node: SSH_AUTH_SOCK clients, and agents served on UNIX sockets.
 *
 * @since 0.1.0
 */
export * as NodeAgent from "./NodeAgent.js"

/**
 * ssh_config files on Node: the user's and the system's files, Include globs, `connect("alias")`.
 *
 * @since 0.1.0
 */
export * as NodeSshConfig from "./NodeSshConfig.js"

/**
 * TCP and UNIX-socket listeners and connections for forwarding (`LocalNet` on Node).
 *
 * @since 0.1.0
 */
export * as NodeForward from "./NodeForward.js"

/**
 * ProxyCommand as a Dialer (ssh -o ProxyCommand), tokens validated and quoted (SEC-69).
 *
 * @since 0.1.0
 */
export * as NodeProxyCommand from "./NodeProxyCommand.js"

/**
 * X11 forwarding's xauth on Node: the server's `xauth add` and the client's display cookie, without a shell.
 *
 * @since 0.1.0
 */
export * as NodeX11 from "./NodeX11.js"
