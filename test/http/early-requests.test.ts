/**
 * A request that reaches the server before the application's handler is
 * attached (R17: a client gets an answer, never a hang). A server's layer
 * listens as soon as it is built; `ai-jobs serve`'s handler is attached only
 * after the store, recovery and the API are built, and Node leaves a request
 * no listener takes open for ever: a health probe that connected in that
 * moment hung (found by an outside probe: the first request to a starting
 * `serve`, 4 runs of 4). `JobsApi.createServer` holds such requests for the
 * first handler attached.
 */
import * as http from "node:http"
import type * as net from "node:net"
import type { AddressInfo } from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as JobsApi from "../../src/http/JobsApi.js"
import { Utf8CheckedMessage } from "../../src/http/utf8Body.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { TOKEN } from "./server.js"

interface Answer {
  readonly status: number
  readonly body: string
}

/**
 * GET `path` on 127.0.0.1:`port`: its status and body, or a failure after `timeoutMs` without an answer —
 * a hang's clear failure just inside the test's own timeout, not a budget: 10 s was too short for the
 * answer on a loaded machine (seen under load 30 on 2 cores: "no answer to /health within 10000 ms").
 */
const get = (port: number, path: string, timeoutMs: number): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, timeout: timeoutMs }, (response) => {
      let body = ""
      response.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on("timeout", () => request.destroy(new Error(`no answer to ${path} within ${timeoutMs} ms`)))
    request.on("error", reject)
  })

/**
 * `JobsApi.createServer`, and a promise of the first request it has parsed — and, no handler attached
 * yet, held: Node emits the request (to the hold) in the same turn as it makes its message. Waited for
 * instead of a fixed 300 ms, after which a loaded machine's request had not always arrived.
 */
const serverSeeingRequests = () => {
  let arrived: () => void = () => {}
  const firstRequest = new Promise<void>((resolve) => (arrived = resolve))
  class Arriving extends Utf8CheckedMessage {
    constructor(socket: net.Socket) {
      super(socket)
      arrived()
    }
  }
  return { server: JobsApi.createServer({ IncomingMessage: Arriving }), firstRequest }
}

/** The port `server` listens on, once it does: its own (port 0), never one picked free and reused, which another process could take meanwhile. */
const listeningPort = (server: http.Server): Promise<number> =>
  new Promise((resolve) => {
    const port = () => resolve((server.address() as AddressInfo).port)
    if (server.listening) port()
    else server.once("listening", port)
  })

describe("R17 a request that comes before the application's handler", () => {
  it("R17 is held and handed to the first handler attached, not left open for ever", async () => {
    const { firstRequest, server } = serverSeeingRequests()
    server.listen(0, "127.0.0.1")
    try {
      const port = await listeningPort(server)
      const answer = get(port, "/early", 25_000)
      // The request has arrived, and nothing serves it yet.
      await firstRequest
      server.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => response.end(`late answer to ${request.url}`))
      assert.deepInclude(await answer, { status: 200, body: "late answer to /early" })
      // Later requests go to the handler directly.
      assert.deepInclude(await get(port, "/next", 25_000), { status: 200, body: "late answer to /next" })
    } finally {
      server.close()
    }
  }, 60_000)

  it.live("R17 the README's composition: a /health request sent while the services are still being built gets its answer once they are", () =>
    Effect.gen(function*() {
      const { firstRequest, server } = serverSeeingRequests()
      // Services still being built when the server listens, as a store opening a large file would be — until
      // the request has arrived, not for a fixed second a loaded machine could spend before it connected.
      const built = yield* Deferred.make<void>()
      const slowServices = services(SqliteStore.layer({ filename: ":memory:" })).pipe(Layer.provideMerge(Layer.effectDiscard(Deferred.await(built))))
      const app = HttpApiBuilder.serve().pipe(
        Layer.provide(JobsApi.layer({ token: Redacted.make(TOKEN) })),
        Layer.provide(slowServices),
        Layer.provideMerge(NodeHttpServer.layer(() => server, { host: "127.0.0.1", port: 0 }))
      )
      const serving = yield* Effect.fork(Layer.launch(app))
      const port = yield* Effect.promise(() => listeningPort(server))
      const answer = get(port, "/health", 50_000)
      // Arrived while the services are still being built, and held: then they are built.
      yield* Effect.promise(() => firstRequest)
      yield* Deferred.succeed(built, undefined)
      const { body, status } = yield* Effect.promise(() => answer)
      assert.include([200, 503], status, body)
      yield* Fiber.interrupt(serving)
    }), 60_000)
})
