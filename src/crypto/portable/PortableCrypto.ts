/**
 * The portable crypto backend on @noble/curves, @noble/ciphers and @noble/hashes: runs in any JavaScript
 * runtime (DESIGN.md §4).
 *
 * @since 0.1.0
 */
import type { CryptoBackend } from "../Backend.js"
import { asymmetric } from "./Asymmetric.js"
import { symmetric } from "./Symmetric.js"

/**
 * The portable crypto backend on @noble/* (plus the project's WebAssembly Poly1305), usable in any JavaScript
 * runtime.
 *
 * @since 0.1.0
 * @category backends
 */
export const PortableCrypto: CryptoBackend = { name: "portable", ...symmetric, ...asymmetric }
