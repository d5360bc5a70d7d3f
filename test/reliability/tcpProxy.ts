/**
 * A TCP proxy on loopback for network faults (issue 11.9), written with
 * node:net so the tests control exactly what the network does:
 *
 * - `forward`: bytes pass both ways;
 * - `stall`: bytes are held, in order, and delivered when forwarding resumes
 *   (a network that drops packets while TCP keeps retransmitting them);
 * - `drop`: bytes are thrown away (a network that eats them; the streams are
 *   corrupt afterwards, so healing also resets the connections).
 *
 * And a mute server: accepts connections, never says a word.
 */
import * as net from "node:net"
import { atLocalPort } from "../support/postgres-cluster.js"
import { closeServer, listenLocal, pairUpstream } from "../support/tcpPair.js"

export type ProxyMode = "forward" | "stall" | "drop"

export interface TcpProxy {
  readonly port: number
  /** `url` with its host and port replaced by the proxy's. */
  readonly via: (url: string) => string
  readonly setMode: (mode: ProxyMode) => void
  /** Destroys every proxied connection, both sides, as a network reset would. */
  readonly resetConnections: () => void
  /** Connections opened through the proxy so far. */
  readonly opened: () => number
  readonly close: () => Promise<void>
}

/** A proxy to `target` (a `postgres://` URL's host and port). */
export const startTcpProxy = async (target: { readonly host: string; readonly port: number }): Promise<TcpProxy> => {
  let mode: ProxyMode = "forward"
  let opened = 0
  const sockets = new Set<net.Socket>()
  // Held bytes per direction, delivered in order when forwarding resumes.
  const held: Array<() => void> = []

  const relay = (from: net.Socket, to: net.Socket) =>
    from.on("data", (chunk) => {
      if (mode === "forward") to.write(chunk)
      else if (mode === "stall") held.push(() => to.write(chunk))
      // drop: gone
    })

  const server = net.createServer((client) => {
    opened++
    const upstream = pairUpstream(client, target, sockets)
    relay(client, upstream)
    relay(upstream, client)
  })
  const port = await listenLocal(server)
  return {
    port,
    via: (url) => atLocalPort(url, port),
    setMode: (next) => {
      mode = next
      if (next === "forward") for (const deliver of held.splice(0)) deliver()
      if (next === "drop") held.length = 0
    },
    resetConnections: () => {
      held.length = 0
      for (const socket of sockets) socket.destroy()
    },
    opened: () => opened,
    close: () => closeServer(server, sockets)
  }
}

/** A server that accepts TCP connections and never answers. */
export const startMuteServer = async (): Promise<{ readonly port: number; readonly close: () => Promise<void> }> => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("error", () => {})
    socket.on("close", () => sockets.delete(socket))
  })
  const port = await listenLocal(server)
  return { port, close: () => closeServer(server, sockets) }
}
