/**
 * effect-ssh: an SSH-2 client and server for TypeScript, built on Effect. This entry point is platform neutral;
 * `effect-ssh/node` adds the Node layers (TCP with TCP_NODELAY, node:crypto, node:zlib, files).
 *
 * The exports are grouped by what a program does with them, most used first: connecting and running commands;
 * serving; keys, host keys and certificates; errors; then the protocol layers underneath (transport, user
 * authentication, connection), public and stable for programs that compose their own stack. Everything else
 * under src/ is internal and may change in any release: the packet codec, the wire message codecs, key exchange
 * machines, cipher implementations, `internal/` folders (docs/decisions/0008-public-api.md lists them).
 *
 * @since 0.1.0
 */

// ---- Connecting and running commands ------------------------------------------------------------------------

/**
 * Connecting to SSH servers: `SshClient.connect(options)` → an `SshConnection` in the caller's Scope.
 *
 * @since 0.1.0
 */
export * as SshClient from "./client/SshClient.js"

/**
 * An authenticated connection: `exec`, `run`, `string` (stdin, then EOF), `shell`, `subsystem`, global requests;
 * the `SshConnection` service and its layers.
 *
 * @since 0.1.0
 */
export * as SshConnection from "./client/SshConnection.js"

/**
 * Remote processes: stdout/stderr Streams, stdin Sink, exit status, signals, pty size.
 *
 * @since 0.1.0
 */
export * as SshProcess from "./session/SshProcess.js"

/**
 * An `@effect/platform` `CommandExecutor` backed by an SSH connection: `Command.make(…)` runs on the server.
 *
 * @since 0.1.0
 */
export * as SshCommandExecutor from "./client/SshCommandExecutor.js"

/**
 * Quoting argv words for the remote POSIX shell (`exec(["ls", "-l", name])`).
 *
 * @since 0.1.0
 */
export * as ShellQuote from "./client/ShellQuote.js"

/**
 * Client credentials: password, private keys and key files, keyboard-interactive, none.
 *
 * @since 0.1.0
 */
export * as Auth from "./auth/AuthMethod.js"

/**
 * Who decides whether a server's host key is trusted: known_hosts, pinned fingerprints, callbacks.
 *
 * @since 0.1.0
 */
export * as HostKeyPolicy from "./client/HostKeyPolicy.js"

/**
 * How a client reaches a server (the Dialer service; `effect-ssh/node` provides TCP).
 *
 * @since 0.1.0
 */
export * as Dialer from "./client/Dialer.js"

// ---- Tunnels and forwarding (docs/forwarding.md) -------------------------------------------------------------

/**
 * Tunnels: `direct-tcpip` / `direct-streamlocal` channels as Streams, Sinks and Sockets.
 *
 * @since 0.1.0
 */
export * as Tunnel from "./forward/Tunnel.js"

/**
 * Local (-L) and dynamic (-D, SOCKS 4/4a/5) forwarding.
 *
 * @since 0.1.0
 */
export * as LocalForward from "./forward/LocalForward.js"

/**
 * Remote forwarding (-R): `tcpip-forward` and `streamlocal-forward@openssh.com`.
 *
 * @since 0.1.0
 */
export * as RemoteForward from "./forward/RemoteForward.js"

/**
 * Listening and connecting on the local machine, for forwarding.
 *
 * @since 0.1.0
 */
export * as LocalNet from "./forward/LocalNet.js"

/**
 * The error of a forward or tunnel.
 *
 * @since 0.1.0
 */
export * as ForwardError from "./forward/ForwardError.js"

/**
 * The SOCKS 4/4a/5 request parser of dynamic forwarding.
 *
 * @since 0.1.0
 */
export * as Socks from "./forward/Socks.js"

/**
 * The server's forwarding options (sshd's AllowTcpForwarding, GatewayPorts, PermitOpen, PermitListen …).
 *
 * @since 0.1.0
 */
export * as ForwardPolicy from "./forward/ForwardPolicy.js"

// ---- Serving ---------------------------------------------------------------------------------------------------

/**
 * The server's per-connection logic: authentication, then session handlers.
 *
 * @since 0.1.0
 */
export * as SshServer from "./server/SshServer.js"

/**
 * Server-side user authentication handlers (RFC 4252, deny by default).
 *
 * @since 0.1.0
 */
export * as ServerAuth from "./auth/ServerAuth.js"

/**
 * authorized_keys files with their options (SEC-64).
 *
 * @since 0.1.0
 */
export * as AuthorizedKeys from "./keys/AuthorizedKeys.js"

/**
 * A ready-made publickey handler from authorized_keys entries, enforcing their options.
 *
 * @since 0.1.0
 */
export * as AuthorizedKeysHandler from "./server/AuthorizedKeysHandler.js"

/**
 * sshd_config(5): parsing with Match and Include, the effective typed settings, `sshd -T` output.
 *
 * @since 0.1.0
 */
export * as SshdConfig from "./config/SshdConfig.js"

// ---- Keys, host keys, certificates ---------------------------------------------------------------------------

/**
 * Private keys: parse every common format (openssh-key-v1, PKCS#1, SEC1, PKCS#8, PuTTY PPK), write openssh-key-v1
 * and PKCS#8, generate.
 *
 * @since 0.1.0
 */
export * as PrivateKey from "./keys/PrivateKey.js"

/**
 * Public keys: OpenSSH one-line, RFC 4716 and PKCS#8 forms; SHA256/MD5 fingerprints and randomart.
 *
 * @since 0.1.0
 */
export * as PublicKey from "./keys/PublicKey.js"

/**
 * OpenSSH certificates: decoding, issuing with a CA key, validation (PROTOCOL.certkeys).
 *
 * @since 0.1.0
 */
export * as Certificate from "./keys/Certificate.js"

/**
 * Certificates as ssh-keygen writes and prints them: `-V` validity intervals, `-O` options, the `-L` text.
 *
 * @since 0.1.0
 */
export * as CertificateText from "./keys/CertificateText.js"

/**
 * known_hosts parsing and matching.
 *
 * @since 0.1.0
 */
export * as KnownHosts from "./keys/KnownHosts.js"

/**
 * OpenSSH key revocation lists (PROTOCOL.krl) and revoked-key files: parsing and checking (SEC-67).
 *
 * @since 0.1.0
 */
export * as Krl from "./keys/Krl.js"

/**
 * Host key and signature algorithms, public key blobs and fingerprints.
 *
 * @since 0.1.0
 */
export * as HostKey from "./crypto/HostKey.js"

/**
 * OpenSSH-style patterns, pattern lists and address/CIDR lists with bounded cost (SEC-68).
 *
 * @since 0.1.0
 */
export * as Match from "./keys/Match.js"

/**
 * The SFTP client (version 3 with the OpenSSH extensions): scoped file handles, pipelined Streams and Sinks.
 *
 * @since 0.1.0
 */
export * as Sftp from "./sftp/Sftp.js"

/**
 * The `Sftp` service over the `SshConnection` in context.
 *
 * @since 0.1.0
 */
export * as SftpClient from "./client/SftpClient.js"

/**
 * File attributes, open flags and status codes of SFTP.
 *
 * @since 0.1.0
 */
export * as SftpAttrs from "./sftp/SftpAttrs.js"

/**
 * SFTP file names as strings that keep non-UTF-8 bytes losslessly (each invalid byte as U+DC00+byte, like
 * Python's surrogateescape).
 *
 * @since 0.1.0
 */
export * as SftpNames from "./sftp/SftpNames.js"

/**
 * The SFTP server: the "sftp" subsystem on any `SftpFileSystem`, confined to a virtual root.
 *
 * @since 0.1.0
 */
export * as SftpServer from "./sftp/SftpServer.js"

/**
 * The filesystem interface an SFTP server serves.
 *
 * @since 0.1.0
 */
export * as SftpFileSystem from "./sftp/SftpFileSystem.js"

/**
 * An in-memory `SftpFileSystem`.
 *
 * @since 0.1.0
 */
export * as SftpMemoryFileSystem from "./sftp/SftpMemoryFileSystem.js"

/**
 * The SFTP v3 codec (packets and OpenSSH extension payloads), for tools and tests.
 *
 * @since 0.1.0
 */
export * as SftpMessages from "./sftp/SftpMessages.js"

/**
 * Recursive SFTP get and put with a local `SftpFileSystem`, progress events, SEC-57 name checks.
 *
 * @since 0.1.0
 */
export * as SftpTransfer from "./sftp/SftpTransfer.js"
// ---- Errors ----------------------------------------------------------------------------------------------------

/**
 * Errors and disconnect reason codes.
 *
 * @since 0.1.0
 */
export * as SshError from "./SshError.js"

/**
 * Every public error of the platform-neutral API, in one union: the five of `SshError`, a host key policy's
 * verdict (`HostKeyRejected`, also the `cause` of a `TransportError` with `hostKeyVerdict`), a certificate that is
 * not valid (`CertificateError`, from `Certificate.validate`), an ssh_config that ssh would refuse
 * (`SshConfigError`) or ask for what `SshClientConfig.connect` cannot do yet (`UnsupportedConfig`), or a failed forward or tunnel (`ForwardError`).
 * `effect-ssh/node` adds its own in `NodeSshError`.
 *
 * @since 0.1.0
 * @category errors
 */
export type EffectSshError =
  | import("./SshError.js").SshError
  | import("./client/HostKeyPolicy.js").HostKeyRejected
  | import("./keys/Certificate.js").CertificateError
  | import("./config/SshdConfig.js").SshdConfigError
  | import("./keys/Krl.js").KrlError
  | import("./agent/SshAgent.js").AgentError
  | import("./scp/ScpProtocol.js").ScpError
  | import("./config/SshConfig.js").SshConfigError
  | import("./client/SshClientConfig.js").UnsupportedConfig
  | import("./forward/ForwardError.js").ForwardError

// ---- The protocol layers -----------------------------------------------------------------------------------

/**
 * Algorithm names and default preferences (DESIGN.md §5).
 *
 * @since 0.1.0
 */
export * as Algorithms from "./crypto/Algorithms.js"

/**
 * The SSH transport layer service (RFC 4253).
 *
 * @since 0.1.0
 */
export * as Transport from "./transport/Transport.js"

/**
 * The client transport with a host key policy.
 *
 * @since 0.1.0
 */
export * as ClientTransport from "./client/ClientTransport.js"

/**
 * The client side of user authentication (RFC 4252).
 *
 * @since 0.1.0
 */
export * as ClientAuth from "./auth/ClientAuth.js"

/**
 * The Authenticated service: proof that user authentication succeeded.
 *
 * @since 0.1.0
 */
export * as Authenticated from "./auth/Authenticated.js"

/**
 * The connection layer (RFC 4254): channels and global requests.
 *
 * @since 0.1.0
 */
export * as ConnectionMux from "./connection/ConnectionMux.js"

/**
 * One channel of a connection.
 *
 * @since 0.1.0
 */
export * as Channel from "./connection/Channel.js"

/**
 * The crypto backend in use (portable @noble by default).
 *
 * @since 0.1.0
 */
export * as Crypto from "./crypto/Crypto.js"

/**
 * The portable crypto backend.
 *
 * @since 0.1.0
 */
export * as PortableCrypto from "./crypto/portable/PortableCrypto.js"

/**
 * Payload compression (zlib, zlib@openssh.com): the backend interface and service.
 *
 * @since 0.1.0
 */
export * as Compression from "./transport/Compression.js"

// ---- The ssh-agent and SCP -----------------------------------------------------------------------------------

/**
 * The ssh-agent protocol codec (RFC 9987, OpenSSH PROTOCOL.agent).
 *
 * @since 0.1.0
 */
export * as AgentProtocol from "./agent/AgentProtocol.js"

/**
 * An ssh-agent client over any Socket: list, sign, add, remove, lock, session-bind.
 *
 * @since 0.1.0
 */
export * as SshAgent from "./agent/SshAgent.js"

/**
 * An in-process ssh-agent that enforces the constraints it accepts.
 *
 * @since 0.1.0
 */
export * as AgentServer from "./agent/AgentServer.js"

/**
 * Agent forwarding both roles: `forwardAgent` targets for the client, `ServerOptions` for the server.
 *
 * @since 0.1.0
 */
export * as AgentForwarding from "./client/AgentForwarding.js"

/**
 * SCP control records, strict (SEC-58), and remote commands quoted (SEC-59).
 *
 * @since 0.1.0
 */
export * as ScpProtocol from "./scp/ScpProtocol.js"

/**
 * SCP uploads and downloads over `scp -t` / `scp -f`.
 *
 * @since 0.1.0
 */
export * as Scp from "./scp/Scp.js"

/**
 * The server side of legacy SCP (`scp -t` / `scp -f` served in-process, confined to a root).
 *
 * @since 0.1.0
 */
export * as ScpServer from "./scp/ScpServer.js"

/**
 * ssh_config(5): parse, load (Include) and resolve a destination as `ssh -G` does.
 *
 * @since 0.1.0
 */
export * as SshConfig from "./config/SshConfig.js"

/**
 * A resolved ssh_config destination as client options: credentials, host key policy, algorithms, timeouts.
 *
 * @since 0.1.0
 */
export * as SshClientConfig from "./client/SshClientConfig.js"
