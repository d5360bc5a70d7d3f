/**
 * What the tests' TCP proxies share (test/reliability/tcpProxy.ts,
 * cuttingProxy.ts): a listener on loopback, a client paired with its own
 * upstream connection, and a close that takes every connection down.
 */
import * as net from "node:net"

/** Listens on a free loopback port; resolves with the port. */
export const listenLocal = (server: net.Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  })

/**
 * Opens `client`'s own connection to `target`, both tracked in `sockets`:
 * either side closing closes the other, as a proxy that relays one stream
 * must (a half-open pair would hang the client). Socket errors are the
 * faults the tests make: ignored, the close follows.
 */
export const pairUpstream = (
  client: net.Socket,
  target: { readonly host: string; readonly port: number },
  sockets: Set<net.Socket>
): net.Socket => {
  const upstream = net.connect(target.port, target.host)
  for (const socket of [client, upstream]) {
    sockets.add(socket)
    socket.on("error", () => {})
    socket.on("close", () => {
      sockets.delete(socket)
      client.destroy()
      upstream.destroy()
    })
  }
  return upstream
}

/** Destroys every connection in `sockets`, then closes `server`. */
export const closeServer = (server: net.Server, sockets: Set<net.Socket>): Promise<void> => {
  for (const socket of sockets) socket.destroy()
  return new Promise((resolve) => server.close(() => resolve()))
}
