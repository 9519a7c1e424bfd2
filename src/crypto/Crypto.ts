/**
 * The crypto backend a connection uses, as a `Context.Reference`: the portable @noble backend unless a layer
 * provides another one (`effect-ssh/node` provides node:crypto).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type { CryptoBackend } from "./Backend.js"
import { PortableCrypto } from "./portable/PortableCrypto.js"

/**
 * The crypto backend in use; defaults to `PortableCrypto` when no layer provides one.
 *
 * @since 0.1.0
 * @category tags
 */
export class Crypto extends Context.Reference<Crypto>()("effect-ssh/Crypto", {
  defaultValue: (): CryptoBackend => PortableCrypto
}) {}

/**
 * Provides a crypto backend.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (backend: CryptoBackend): Layer.Layer<never> => Layer.succeed(Crypto, backend)

/**
 * Provides the portable @noble backend (the default anyway; useful to override a node:crypto default in tests).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPortable: Layer.Layer<never> = layer(PortableCrypto)
