/**
 * Our SFTP server on this process's stdin/stdout over a directory (argv[2]), for OpenSSH `sftp -D` interop
 * tests: `node --import tsx test/helpers/SftpServerStdio.ts ROOT [--read-only]`.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Effect } from "effect"
import * as NodeSftp from "../../src/node/NodeSftp.js"
import * as SftpServer from "../../src/sftp/SftpServer.js"

const root = process.argv[2]!
const program = Effect.gen(function*() {
  const pipe = NodeSftp.pipeOf(process.stdin, process.stdout)
  yield* SftpServer.serve(yield* NodeSftp.fileSystem(root), pipe.output, pipe.write, {
    readOnly: process.argv.includes("--read-only")
  })
}).pipe(Effect.provide(NodeFileSystem.layer))
Effect.runPromise(program).then(() => process.exit(0), () => process.exit(1))
