/**
 * Everything a Node program needs for `SshClient.connect` and `SshConnection.layer`: the TCP dialer
 * (TCP_NODELAY), node:crypto as the crypto backend, node:zlib as the compression backend, and the Node file
 * system and path services (known_hosts, key files).
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Layer from "effect/Layer"
import * as NodeCompression from "./NodeCompression.js"
import * as NodeCrypto from "./NodeCrypto.js"
import * as NodeDialer from "./NodeDialer.js"
import * as NodeForward from "./NodeForward.js"

/**
 * The Node dialer, node:crypto, node:zlib and the Node platform services, in one layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  import("../client/Dialer.js").Dialer | import("../forward/LocalNet.js").LocalNet | NodeContext.NodeContext
> = Layer.mergeAll(NodeDialer.layer, NodeCrypto.layer, NodeCompression.layer, NodeContext.layer, NodeForward.layer)
