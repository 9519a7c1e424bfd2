/**
 * The node:crypto (OpenSSL) backend, the default on Node (DESIGN.md §4). What node:crypto lacks (Poly1305 for
 * chacha20-poly1305@openssh.com) comes from @noble.
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import type { CryptoBackend } from "../crypto/Backend.js"
import * as Crypto from "../crypto/Crypto.js"
import { asymmetric } from "./NodeAsymmetric.js"
import { symmetric } from "./NodeSymmetric.js"

/**
 * The node:crypto (OpenSSL) crypto backend, with the project's WebAssembly Poly1305 for
 * chacha20-poly1305@openssh.com.
 *
 * @since 0.1.0
 * @category backends
 */
export const NodeCrypto: CryptoBackend = { name: "node", ...symmetric, ...asymmetric }

/**
 * Provides the node:crypto backend as the `Crypto` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never> = Crypto.layer(NodeCrypto)
