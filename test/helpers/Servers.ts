/**
 * Our SshServer on 127.0.0.1 for interop tests (`SshServer.run` on `NodeSshServer.layer`), and our client
 * logging in to it with a key file.
 */
import * as SocketServer from "@effect/platform/SocketServer"
import { Context, Effect, Layer, type Supervisor } from "effect"
import * as fs from "node:fs"
import * as Auth from "../../src/auth/AuthMethod.js"
import * as HostKeyPolicy from "../../src/client/HostKeyPolicy.js"
import * as SshClient from "../../src/client/SshClient.js"
import * as PrivateKey from "../../src/keys/PrivateKey.js"
import * as NodeSshServer from "../../src/node/NodeSshServer.js"
import * as SshServer from "../../src/server/SshServer.js"
import * as Loopback from "./Loopback.js"

/** Serves `handlers` until the scope closes (optionally supervised); returns the port. */
export const serve = (
  handlers: SshServer.ServerHandlers,
  options: Partial<NodeSshServer.NodeSshServerOptions> = {},
  supervisor?: Supervisor.Supervisor<unknown>
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(NodeSshServer.layer({ hostKeys: Loopback.testHostKeys(), ...options }))
    const run = SshServer.run(handlers).pipe(Effect.provide(context))
    yield* Effect.forkScoped(supervisor === undefined ? run : Effect.supervised(run, supervisor))
    const address = Context.get(context, SocketServer.SocketServer).address
    return address._tag === "TcpAddress" ? address.port : -1
  })

/** The private key in an unencrypted key file. */
export const keyFromFile = (file: string) => {
  const parsed = PrivateKey.parsePrivateKey(fs.readFileSync(file, "utf8"))
  if (parsed._tag === "Left") throw new Error(parsed.left.message)
  return parsed.right.material
}

/** Our client logged in as `username` to 127.0.0.1:`port` with the key in `keyFile`, any host key trusted. */
export const connect = (port: number, keyFile: string, username = "alice") =>
  SshClient.connect({
    host: "127.0.0.1",
    port,
    username,
    auth: [Auth.privateKey(keyFromFile(keyFile))],
    hostKeys: HostKeyPolicy.insecureAcceptAny
  })
