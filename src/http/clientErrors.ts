/**
 * Requests Node refuses before the API sees them. A request line and headers
 * over the server's `maxHeaderSize` (16 KiB by default: a URL of ~16 kB) was
 * Node's bare `431` with no body; it is now 431 `RequestHeaderFieldsTooLarge`
 * with the API's usual JSON error body (`_tag`, `limit_bytes`, `message`).
 * Every other error Node reports there (a request it cannot parse, a timeout)
 * is answered with Node's own status and no body, plus the headers every API
 * answer carries (answerHeaders.ts).
 *
 *   NodeHttpServer.layer(JobsApi.createServer, { port: 8787 })
 */
import * as http from "node:http"
import type * as net from "node:net"
import type * as stream from "node:stream"
import * as Schema from "effect/Schema"
import { API_ANSWER_HEADERS } from "./answerHeaders.js"
import { RequestHeaderFieldsTooLarge, RequestHeaderFieldsTooLargeError } from "./Errors.js"
import { Utf8CheckedMessage } from "./utf8Body.js"

const encode = Schema.encodeSync(RequestHeaderFieldsTooLargeError)

/** The headers every API answer carries (answerHeaders.ts), as header lines. */
const ANSWER_HEADER_LINES = Object.entries(API_ANSWER_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join("")

/** A bodiless answer with Node's own status line (lib/_http_server.js) and the API's answer headers. */
const bare = (status: string): string => `HTTP/1.1 ${status}\r\n${ANSWER_HEADER_LINES}Connection: close\r\n\r\n`

/** Node's own statuses, for the errors answered as it answers them. */
const NODE_DEFAULT: Record<string, string> = {
  HPE_CHUNK_EXTENSIONS_OVERFLOW: bare("413 Payload Too Large"),
  ERR_HTTP_REQUEST_TIMEOUT: bare("408 Request Timeout")
}
const BAD_REQUEST = bare("400 Bad Request")

/** The 431 answer, with its JSON body. */
const headersTooLarge = (limitBytes: number): string => {
  const body = JSON.stringify(encode(new RequestHeaderFieldsTooLarge({ limit_bytes: limitBytes })))
  return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n" + ANSWER_HEADER_LINES +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

/**
 * `server`, answering a request whose headers are too long with the API's JSON error body. As
 * Node does: only when nothing was written on the connection yet; then the connection closes
 * (once the answer is written).
 */
export const answerClientErrors = <S extends http.Server>(server: S): S => {
  server.on("clientError", (error: NodeJS.ErrnoException, duplex: stream.Duplex) => {
    const socket = duplex as net.Socket
    if (socket.writableEnded) return
    if (!socket.writable || socket.bytesWritten > 0) {
      socket.destroy()
      return
    }
    const answer = error.code === "HPE_HEADER_OVERFLOW"
      ? headersTooLarge((server as { readonly maxHeaderSize?: number }).maxHeaderSize ?? http.maxHeaderSize)
      : NODE_DEFAULT[error.code ?? ""] ?? BAD_REQUEST
    socket.once("finish", () => socket.destroy())
    socket.end(answer)
  })
  return server
}

type Exchange = readonly [http.IncomingMessage, http.ServerResponse]

/**
 * `server` holding the requests that arrive before anything serves them, and
 * handing them to the first `request` listener attached. A server's layer
 * listens as soon as it is built, and the application's handler is attached
 * only once the rest — store, recovery, the API — is built too; Node leaves a
 * request that no listener takes open for ever, so a client that connected in
 * that moment (a health probe right at start-up) hung instead of getting its
 * answer a moment late. Requests still held when the server closes are ended.
 */
export const holdEarlyRequests = (server: http.Server): http.Server => {
  const early: Array<Exchange> = []
  const hold = (request: http.IncomingMessage, response: http.ServerResponse) => {
    early.push([request, response])
  }
  const handOver = (event: string | symbol, listener: (...args: Array<unknown>) => void) => {
    if (event !== "request" || listener === hold) return
    server.off("request", hold)
    server.off("newListener", handOver)
    // The listener is added once this event returns: the held requests go to it on the next tick.
    process.nextTick(() => {
      for (const [request, response] of early.splice(0)) listener(request, response)
    })
  }
  server.on("request", hold)
  server.on("newListener", handOver)
  server.once("close", () => {
    for (const [, response] of early.splice(0)) response.destroy()
  })
  return server
}

/**
 * `http.createServer` with `answerClientErrors`, its requests' bodies checked
 * as UTF-8 on the way in (utf8Body.ts), requests that come before the
 * application's handler held for it (`holdEarlyRequests`): what `ai-jobs
 * serve` listens with.
 */
export const createServer = (options: http.ServerOptions = {}): http.Server =>
  holdEarlyRequests(answerClientErrors(http.createServer({ IncomingMessage: Utf8CheckedMessage, ...options })))
