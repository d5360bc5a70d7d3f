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
 * - `holdCancels`: a PostgreSQL CancelRequest (a connection of its own) is
 *   held until `releaseCancels`, the other connections' bytes passing: a
 *   cancel whose delivery comes late.
 *
 * And a mute server: accepts connections, never says a word.
 */
import * as net from "node:net"
import { atLocalPort } from "../support/postgres-cluster.js"
import { closeServer, listenLocal, pairUpstream } from "../support/tcpPair.js"

export type ProxyMode = "forward" | "stall" | "drop"

/** A CancelRequest's code (its second 32-bit field), as the client's first and only packet on its connection. */
const CANCEL_REQUEST_CODE = 80877102

const isCancelRequest = (chunk: Buffer) => chunk.length === 16 && chunk.readInt32BE(4) === CANCEL_REQUEST_CODE

export interface TcpProxy {
  readonly port: number
  /** `url` with its host and port replaced by the proxy's. */
  readonly via: (url: string) => string
  readonly setMode: (mode: ProxyMode) => void
  /** Destroys every proxied connection, both sides, as a network reset would. */
  readonly resetConnections: () => void
  /** From now on, CancelRequests are held (not passed on) until `releaseCancels`. */
  readonly holdCancels: () => void
  /** Passes the held CancelRequests on, and every later one: resolves once the server has closed each (its backend signalled). */
  readonly releaseCancels: () => Promise<void>
  /** CancelRequests held so far. */
  readonly cancelsHeld: () => number
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
  let holdingCancels = false
  const heldCancels: Array<{ readonly deliver: () => void; readonly closed: Promise<void> }> = []

  const relay = (from: net.Socket, to: net.Socket) =>
    from.on("data", (chunk) => {
      if (holdingCancels && isCancelRequest(chunk)) {
        heldCancels.push({ deliver: () => to.write(chunk), closed: new Promise((resolve) => from.once("close", () => resolve())) })
      }
      else if (mode === "forward") to.write(chunk)
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
    holdCancels: () => {
      holdingCancels = true
    },
    releaseCancels: () => {
      holdingCancels = false
      for (const { deliver } of heldCancels) deliver()
      return Promise.all(heldCancels.map(({ closed }) => closed)).then(() => undefined)
    },
    cancelsHeld: () => heldCancels.length,
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
