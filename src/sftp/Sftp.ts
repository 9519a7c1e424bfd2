/**
 * The SFTP client (draft-ietf-secsh-filexfer-02 version 3 with the OpenSSH extensions): a service made from an
 * `SshConnection`'s "sftp" subsystem (or any byte pipe to an SFTP server), living in a Scope. Files are scoped
 * handles; a file's bytes are a `Stream` and a `Sink` with many requests in flight (pipelined, sized by the
 * server's `limits@openssh.com`); directories are Streams of entries; every failure is an `SftpError` with the
 * SSH_FX status and the path.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Sftp } from "effect-ssh"
 *
 * const program = Effect.gen(function*() {
 *   const sftp = yield* Sftp.Sftp
 *   yield* sftp.writeFile("/tmp/hello.txt", new TextEncoder().encode("hello\n"))
 *   const names = yield* sftp.listdir("/tmp")
 *   const bytes = yield* sftp.stream("/tmp/hello.txt").pipe(Stream.runCollect)
 *   return { names, chunks: bytes.length }
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import { SftpError } from "../SshError.js"
import type { Attributes } from "./SftpAttrs.js"
import type { Limits, StatVfs, UsersGroups } from "./SftpExtensions.js"
import type { NameEntry } from "./SftpMessages.js"
import * as ClientSession from "./internal/clientSession.js"
import { makeClient } from "./internal/sftpClient.js"

/**
 * How a file is opened, as Python's `open` (and asyncssh) spell it: `r` read, `w` truncate or create, `a`
 * append, `x` create exclusively; `+` adds the other direction. A number is taken as raw SSH_FXF_* pflags.
 *
 * @since 0.1.0
 * @category models
 */
export type OpenMode = "r" | "r+" | "w" | "w+" | "a" | "a+" | "x" | "x+"

/**
 * Pipelining of one transfer: bytes per request and requests in flight. Defaults come from `SftpOptions` and
 * are capped by the server's limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransferOptions {
  readonly blockSize?: number | undefined
  readonly requests?: number | undefined
}

/**
 * Where a read starts and how much it takes (to the end of the file when `length` is undefined).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions extends TransferOptions {
  readonly offset?: number | undefined
  readonly length?: number | undefined
}

/**
 * Where a write starts; `append` opens with SSH_FXF_APPEND; `attrs` are set on a created file.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteOptions extends TransferOptions {
  readonly offset?: number | undefined
  readonly append?: boolean | undefined
  readonly attrs?: Attributes | undefined
}

/**
 * Defaults for a client: bytes per READ/WRITE (default: the server's limits, else 32 KiB; at most 255 KiB) and
 * requests in flight per transfer (default 64).
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpOptions {
  readonly blockSize?: number | undefined
  readonly requests?: number | undefined
}

/**
 * An open remote file; its handle is closed when the Scope it was opened in closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpFile {
  readonly path: string
  readonly handle: Uint8Array
  /** Reads up to `length` bytes at `offset`; an empty array at the end of the file. */
  readonly read: (length: number, offset: number) => Effect.Effect<Uint8Array, SftpError>
  readonly write: (data: Uint8Array, offset: number) => Effect.Effect<void, SftpError>
  readonly stat: Effect.Effect<Attributes, SftpError>
  readonly setstat: (attrs: Attributes) => Effect.Effect<void, SftpError>
  /** fsync@openssh.com. */
  readonly fsync: Effect.Effect<void, SftpError>
  /** fstatvfs@openssh.com. */
  readonly statvfs: Effect.Effect<StatVfs, SftpError>
  /** The bytes from `offset` (pipelined reads, in order). A single consumer. */
  readonly stream: (options?: ReadOptions) => Stream.Stream<Uint8Array, SftpError>
  /** A Sink writing from `offset` (pipelined writes); its result is the number of bytes written. */
  readonly sink: (options?: WriteOptions) => Sink.Sink<number, Uint8Array, never, SftpError>
  /** Closes the handle now (closing it again, or with the Scope, is harmless). */
  readonly close: Effect.Effect<void, SftpError>
}

/**
 * One entry met by `walk`: its path (joined with `/`) and attributes (lstat: symbolic links are not followed).
 *
 * @since 0.1.0
 * @category models
 */
export interface WalkEntry {
  readonly path: string
  readonly attrs: Attributes
}

/**
 * The SFTP client.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sftp {
  /** The protocol version spoken (3). */
  readonly version: number
  /** The extensions the server announced in VERSION, by name. */
  readonly extensions: ReadonlyMap<string, string>
  /** The server's limits@openssh.com reply, when it offers the extension. */
  readonly limits: Limits | undefined
  /** Opens a file in the caller's Scope (OPEN, filexfer-02 §6.3). */
  readonly open: (path: string, mode?: OpenMode | number, attrs?: Attributes) => Effect.Effect<SftpFile, SftpError, Scope.Scope>
  /** STAT: follows symbolic links. */
  readonly stat: (path: string) => Effect.Effect<Attributes, SftpError>
  /** LSTAT: does not follow a final symbolic link. */
  readonly lstat: (path: string) => Effect.Effect<Attributes, SftpError>
  readonly setstat: (path: string, attrs: Attributes) => Effect.Effect<void, SftpError>
  /** lsetstat@openssh.com: setstat without following a final symbolic link. */
  readonly lsetstat: (path: string, attrs: Attributes) => Effect.Effect<void, SftpError>
  readonly chmod: (path: string, mode: number) => Effect.Effect<void, SftpError>
  readonly chown: (path: string, uid: number, gid: number) => Effect.Effect<void, SftpError>
  /** Sets access and modification times (seconds since the epoch). */
  readonly utime: (path: string, atime: number, mtime: number) => Effect.Effect<void, SftpError>
  readonly truncate: (path: string, size: number) => Effect.Effect<void, SftpError>
  /** The entries of a directory as the server sends them ("." and ".." included). The handle closes at the end. */
  readonly readdir: (path: string) => Stream.Stream<NameEntry, SftpError>
  /** The names in a directory, sorted, without "." and "..". */
  readonly listdir: (path: string) => Effect.Effect<ReadonlyArray<string>, SftpError>
  readonly mkdir: (path: string, attrs?: Attributes) => Effect.Effect<void, SftpError>
  readonly rmdir: (path: string) => Effect.Effect<void, SftpError>
  readonly remove: (path: string) => Effect.Effect<void, SftpError>
  /** RENAME (filexfer-02 §6.5): fails when `newPath` exists. */
  readonly rename: (oldPath: string, newPath: string) => Effect.Effect<void, SftpError>
  /** posix-rename@openssh.com: replaces `newPath` atomically. */
  readonly posixRename: (oldPath: string, newPath: string) => Effect.Effect<void, SftpError>
  /** Creates `linkPath` pointing at `target`. */
  readonly symlink: (target: string, linkPath: string) => Effect.Effect<void, SftpError>
  /** hardlink@openssh.com. */
  readonly link: (oldPath: string, newPath: string) => Effect.Effect<void, SftpError>
  readonly readlink: (path: string) => Effect.Effect<string, SftpError>
  /** REALPATH: the canonical absolute path ("." is the starting directory). */
  readonly realpath: (path: string) => Effect.Effect<string, SftpError>
  /** expand-path@openssh.com: "~" and "~user" expanded, then canonical. */
  readonly expandPath: (path: string) => Effect.Effect<string, SftpError>
  /** home-directory: a user's home directory (the session's user by default). */
  readonly homeDirectory: (username?: string) => Effect.Effect<string, SftpError>
  /** statvfs@openssh.com. */
  readonly statvfs: (path: string) => Effect.Effect<StatVfs, SftpError>
  /** users-groups-by-id@openssh.com: names for numeric ids ("" where unknown). */
  readonly usersGroupsById: (uids: ReadonlyArray<number>, gids: ReadonlyArray<number>) => Effect.Effect<UsersGroups, SftpError>
  /**
   * The numeric ids the server has for a user and/or a group name (for chown by name). SFTP v3 has no name → id
   * request, so this asks users-groups-by-id@openssh.com about `candidates` first (e.g. the local ids of those
   * names), then ids 0 … `upTo` − 1 (default 65 536) in batches of 1 024, until both are found; a name the server
   * does not know fails with `Failure`.
   */
  readonly idsByName: (
    names: { readonly user?: string | undefined; readonly group?: string | undefined },
    options?: { readonly candidates?: ReadonlyArray<number> | undefined; readonly upTo?: number | undefined }
  ) => Effect.Effect<{ readonly uid?: number | undefined; readonly gid?: number | undefined }, SftpError>
  /** copy-data: copies a file on the server without the data crossing the network. */
  readonly remoteCopy: (from: string, to: string, options?: { readonly overwrite?: boolean | undefined }) => Effect.Effect<void, SftpError>
  readonly exists: (path: string) => Effect.Effect<boolean, SftpError>
  readonly isdir: (path: string) => Effect.Effect<boolean, SftpError>
  readonly isfile: (path: string) => Effect.Effect<boolean, SftpError>
  /** mkdir -p; fails with `Failure` when the leaf exists unless `existOk`. */
  readonly makedirs: (path: string, options?: { readonly existOk?: boolean | undefined; readonly attrs?: Attributes | undefined }) => Effect.Effect<void, SftpError>
  /** rm -r: removes a tree without following symbolic links. */
  readonly rmtree: (path: string) => Effect.Effect<void, SftpError>
  /** Paths matching a pattern with `*`, `?` and `[…]` in any component (no "." files unless the pattern says so). */
  readonly glob: (pattern: string) => Effect.Effect<ReadonlyArray<string>, SftpError>
  /** Every entry below `path`, depth first, parents before children; symbolic links are listed, not followed. */
  readonly walk: (path: string) => Stream.Stream<WalkEntry, SftpError>
  /** The whole file as a pipelined Stream of chunks. */
  readonly stream: (path: string, options?: ReadOptions) => Stream.Stream<Uint8Array, SftpError>
  /** A Sink that writes a file (created or truncated; `append` or `offset` keep what is there). */
  readonly sink: (path: string, options?: WriteOptions) => Sink.Sink<number, Uint8Array, never, SftpError>
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, SftpError>
  readonly writeFile: (path: string, data: Uint8Array, options?: WriteOptions) => Effect.Effect<void, SftpError>
}

/**
 * The Sftp service.
 *
 * @since 0.1.0
 * @category tags
 */
export const Sftp: Context.Tag<Sftp, Sftp> = Context.GenericTag<Sftp>("effect-ssh/Sftp")

/**
 * A byte pipe to an SFTP server: its output and a way to write to it (a subsystem's stdout and stdin, or a
 * child process's stdio for `sftp-server`).
 *
 * @since 0.1.0
 * @category models
 */
export type SftpPipe = ClientSession.SftpPipe

/**
 * Starts a client over any byte pipe, in the caller's Scope: INIT, VERSION, then limits@openssh.com when offered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFromPipe = (pipe: SftpPipe, options?: SftpOptions): Effect.Effect<Sftp, SftpError, Scope.Scope> =>
  Effect.map(ClientSession.make(pipe), (session) => makeClient(session, options))

/**
 * What `make` needs from a connection: a way to start a subsystem. `SshConnection` is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubsystemOpener {
  readonly subsystem: (name: string) => Effect.Effect<
    {
      readonly stdout: Stream.Stream<Uint8Array, unknown>
      readonly write: (data: Uint8Array) => Effect.Effect<void, unknown>
    },
    { readonly message: string },
    Scope.Scope
  >
}

/**
 * Starts the "sftp" subsystem on `connection` (an `SshConnection`) and a client over it, in the caller's Scope
 * (the channel closes with it). `SftpClient.layer` does the same for the `SshConnection` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (connection: SubsystemOpener, options?: SftpOptions): Effect.Effect<Sftp, SftpError, Scope.Scope> =>
  Effect.gen(function*() {
    const proc = yield* connection.subsystem("sftp").pipe(
      Effect.mapError((e) => new SftpError({ code: "NoConnection", operation: "subsystem", description: e.message, cause: e }))
    )
    return yield* makeFromPipe({ output: proc.stdout, write: proc.write }, options)
  }).pipe(Effect.withSpan("Sftp.make"))
