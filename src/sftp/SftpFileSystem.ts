/**
 * The filesystem an SFTP server serves: a small interface any backend can implement (the local disk through
 * `@effect/platform`'s FileSystem, memory, an object store). Paths given to it are virtual, absolute, normalised
 * and — except where an operation acts on a link itself — free of symbolic links: the server resolves them first
 * (SEC-54), so a backend never follows links on its own behalf.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { SftpError } from "../SshError.js"
import type { Attributes } from "./SftpAttrs.js"
import type { StatVfs } from "./SftpExtensions.js"

/**
 * An open file of a backend. `read` returns an empty array at or past the end. READs and WRITEs of one file may
 * run concurrently (the server orders those whose ranges overlap), so a backend reads and writes at the offset
 * given, never at a shared position.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpFsFile {
  readonly read: (offset: bigint, length: number) => Effect.Effect<Uint8Array, SftpError>
  /**
   * Optional: reads at `offset` into `into` (up to its length) and returns the count, 0 at the end. The server
   * then sends the bytes from the buffer they were read into (no copy).
   */
  readonly readInto?: ((offset: bigint, into: Uint8Array) => Effect.Effect<number, SftpError>) | undefined
  readonly write: (offset: bigint, data: Uint8Array) => Effect.Effect<void, SftpError>
  /** Optional: writes `parts` one after the other from `offset` in one call (a download's reply, as it came). */
  readonly writev?: ((offset: bigint, parts: ReadonlyArray<Uint8Array>) => Effect.Effect<void, SftpError>) | undefined
  readonly stat: Effect.Effect<Attributes, SftpError>
  readonly setstat: (attrs: Attributes) => Effect.Effect<void, SftpError>
  readonly sync: Effect.Effect<void, SftpError>
  readonly close: Effect.Effect<void, SftpError>
}

/**
 * A filesystem backend. Failures are `SftpError`s whose `code` becomes the STATUS sent to the client.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpFileSystem {
  /** Opens with SSH_FXF_* `flags` (filexfer-02 §6.3); `attrs` apply to a created file. */
  readonly open: (path: string, flags: number, attrs: Attributes) => Effect.Effect<SftpFsFile, SftpError>
  /** Names in a directory, without "." and "..". */
  readonly readDirectory: (path: string) => Effect.Effect<ReadonlyArray<string>, SftpError>
  /** Attributes of the entry itself (a symbolic link is reported as one). */
  readonly lstat: (path: string) => Effect.Effect<Attributes, SftpError>
  readonly setstat: (path: string, attrs: Attributes) => Effect.Effect<void, SftpError>
  readonly remove: (path: string) => Effect.Effect<void, SftpError>
  readonly mkdir: (path: string, attrs: Attributes) => Effect.Effect<void, SftpError>
  readonly rmdir: (path: string) => Effect.Effect<void, SftpError>
  /** Renames; with `overwrite` false an existing `to` is a `Failure` (filexfer-02 §6.5). */
  readonly rename: (from: string, to: string, overwrite: boolean) => Effect.Effect<void, SftpError>
  /** The target of a link, as a virtual path or a relative one. */
  readonly readlink: (path: string) => Effect.Effect<string, SftpError>
  /** Creates `linkPath` pointing at `target` (a virtual absolute or a relative path). */
  readonly symlink: (target: string, linkPath: string) => Effect.Effect<void, SftpError>
  readonly link: (from: string, to: string) => Effect.Effect<void, SftpError>
  /** statvfs@openssh.com, when the backend can answer it. */
  readonly statvfs?: ((path: string) => Effect.Effect<StatVfs, SftpError>) | undefined
}

/**
 * The filesystem an `SftpServer` serves, as a service (provide `SftpServer.layerFileSystem(root)` for a local
 * directory or `SftpMemoryFileSystem.layer` for memory).
 *
 * @since 0.1.0
 * @category tags
 */
export const SftpFileSystem: Context.Tag<SftpFileSystem, SftpFileSystem> = Context.GenericTag<SftpFileSystem>(
  "effect-ssh/SftpFileSystem"
)
