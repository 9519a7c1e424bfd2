/**
 * The `Sftp` service over the `SshConnection` in context (the SFTP client itself is `sftp/Sftp.ts`, which may
 * not import the client layer).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Sftp from "../sftp/Sftp.js"
import type { SftpError } from "../SshError.js"
import { SshConnection } from "./SshConnection.js"

/**
 * The Sftp service over the `SshConnection` in context; the subsystem channel closes when the layer is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Sftp.Sftp, SftpError, SshConnection> = Layer.scoped(
  Sftp.Sftp,
  Effect.flatMap(SshConnection, (c) => Sftp.make(c))
)

/**
 * Like `layer`, with client options (block size, requests in flight).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerOptions = (options: Sftp.SftpOptions): Layer.Layer<Sftp.Sftp, SftpError, SshConnection> =>
  Layer.scoped(Sftp.Sftp, Effect.flatMap(SshConnection, (c) => Sftp.make(c, options)))
