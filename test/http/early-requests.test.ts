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
import type { AddressInfo } from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as JobsApi from "../../src/http/JobsApi.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { realSleep } from "../jobs/shared-database.js"
import { TOKEN } from "./server.js"

interface Answer {
  readonly status: number
  readonly body: string
  /** How long after the connection was made the answer came. */
  readonly waitedMs: number
}

/** GET `path` on 127.0.0.1:`port`: its status and body, or a failure after `timeoutMs` without an answer. */
const get = (port: number, path: string, timeoutMs = 10_000): Promise<Answer> =>
  new Promise((resolve, reject) => {
    let connectedAt = Date.now()
    const request = http.get({ host: "127.0.0.1", port, path, timeout: timeoutMs }, (response) => {
      let body = ""
      response.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body, waitedMs: Date.now() - connectedAt }))
    })
    request.on("socket", (socket) => socket.on("connect", () => (connectedAt = Date.now())))
    request.on("timeout", () => request.destroy(new Error(`no answer to ${path} within ${timeoutMs} ms`)))
    request.on("error", reject)
  })

/** A port nothing listens on now. */
const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const probe = http.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })

describe("R17 a request that comes before the application's handler", () => {
  it("R17 is held and handed to the first handler attached, not left open for ever", async () => {
    const server = JobsApi.createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const { port } = server.address() as AddressInfo
      const answer = get(port, "/early", 5_000)
      // The request has arrived, and nothing serves it yet.
      await new Promise((resolve) => setTimeout(resolve, 300))
      server.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => response.end(`late answer to ${request.url}`))
      assert.deepInclude(await answer, { status: 200, body: "late answer to /early" })
      // Later requests go to the handler directly.
      assert.deepInclude(await get(port, "/next"), { status: 200, body: "late answer to /next" })
    } finally {
      server.close()
    }
  })

  it.live("R17 the README's composition: a /health request sent while the services are still being built gets its answer once they are", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      // Services that take a second to build after the server listens, as a store opening a large file would.
      const slowServices = services(SqliteStore.layer({ filename: ":memory:" })).pipe(Layer.provideMerge(Layer.effectDiscard(realSleep(1_000))))
      const app = HttpApiBuilder.serve().pipe(
        Layer.provide(JobsApi.layer({ token: Redacted.make(TOKEN) })),
        Layer.provide(slowServices),
        Layer.provideMerge(NodeHttpServer.layer(JobsApi.createServer, { host: "127.0.0.1", port }))
      )
      const serving = yield* Effect.fork(Layer.launch(app))
      // The first connection the port accepts, whatever the moment.
      let answer: Answer | undefined
      const started = Date.now()
      while (answer === undefined && Date.now() - started < 20_000) {
        answer = yield* Effect.promise(() => get(port, "/health").catch((error: NodeJS.ErrnoException) => {
          if (error.code !== "ECONNREFUSED") throw error
          return undefined
        }))
        if (answer === undefined) yield* realSleep(5)
      }
      assert.isDefined(answer, "the server listened")
      assert.include([200, 503], answer!.status, answer!.body)
      assert.isAbove(answer!.waitedMs, 300, "connected while the services were still being built, and held")
      yield* Fiber.interrupt(serving)
    }), 60_000)
})
