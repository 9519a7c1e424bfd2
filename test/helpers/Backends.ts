import type { CryptoBackend } from "../../src/crypto/Backend.js"
import { PortableCrypto } from "../../src/crypto/portable/PortableCrypto.js"
import { NodeCrypto } from "../../src/node/NodeCrypto.js"

/** Both crypto backends, for tests that must pass on each (DESIGN.md §4). */
export const backends: ReadonlyArray<CryptoBackend> = [PortableCrypto, NodeCrypto]
