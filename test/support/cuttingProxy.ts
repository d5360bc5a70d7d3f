/**
 * A TCP proxy that loses one answer: the connection drops after the server
 * ran a statement and before its reply reaches the client.
 */
import * as net from "node:net"
import { atLocalPort } from "./postgres-cluster.js"
import { closeServer, listenLocal, pairUpstream } from "./tcpPair.js"

/**
 * A proxy to `target` (a `postgres://` URL) that, once armed, forwards the
 * client's chunk holding `marker` (a write's statement, or its COMMIT), waits
 * for the server's answer, drops it and cuts both connections: the statement
 * committed, its answer lost (an eager write's, a claim's). `state.cut`
 * counts the answers cut; `url` is `target` through the proxy.
 */
export const startCuttingProxy = async (target: string, marker: string) => {
  const upstreamUrl = new URL(target)
  /** `answerHolding`: cut only an answer holding it (a job's id); another answer goes through, and the next statement is watched. */
  /** `blackHole`: from then on nothing passes either way, on open connections and new ones alike (a server that accepts and never answers). */
  const state: { armed: boolean; cut: number; answerHolding: string | undefined; blackHole: boolean } = {
    armed: false,
    cut: 0,
    answerHolding: undefined,
    blackHole: false
  }
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = pairUpstream(client, { host: upstreamUrl.hostname, port: Number(upstreamUrl.port) }, sockets)
    let doomed = false
    client.on("data", (chunk: Buffer) => {
      if (doomed || state.blackHole) return
      upstream.write(chunk)
      if (state.armed && chunk.includes(marker)) {
        state.armed = false
        doomed = true
      }
    })
    upstream.on("data", (chunk: Buffer) => {
      if (state.blackHole) return
      if (!doomed) return void client.write(chunk)
      if (state.answerHolding !== undefined && !chunk.includes(state.answerHolding)) {
        doomed = false
        state.armed = true
        return void client.write(chunk)
      }
      // The server answered: the statement ran and committed. The answer never reaches the client.
      state.cut++
      client.destroy()
      upstream.destroy()
    })
  })
  const port = await listenLocal(server)
  return { state, url: atLocalPort(target, port), close: () => closeServer(server, sockets) }
}
