/**
 * Every answer of the API says `Cache-Control: no-store` and
 * `X-Content-Type-Options: nosniff` — its data, its refusals, the answers
 * of the platform's own and of Node's parser — as the console's files already
 * said `nosniff` (found by an outside tester). The console's files keep their
 * own caching. An HTTP matter, not a store's: one store (SQLite in memory).
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as JobsApi from "../../src/http/JobsApi.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { services } from "../jobs/services.js"
import { sqliteMemory } from "../support/stores.js"
import { apiServer, loopback, send, summarize, TOKEN } from "./server.js"

const MISSING = "0190a9d2-7a1e-7c4b-8d2e-00000000beef"

const bearer = HttpClientRequest.bearerToken(TOKEN)

/** An answer's status and the two headers, to compare at once. */
const headersOf = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.map(send(request), (answer) => ({
    status: answer.status,
    "cache-control": answer.headers["cache-control"],
    "x-content-type-options": answer.headers["x-content-type-options"]
  }))

const protectedAnswer = (status: number) => ({ status, "cache-control": "no-store", "x-content-type-options": "nosniff" })

describe("the headers of the API's answers", () => {
  it.effect("17.2 every API answer is no-store and nosniff: a list, a submit, a job, health, openapi.json, and the refusals 401, 404 (job and route), 405, 400, 413", () =>
    Effect.gen(function*() {
      const submitted = yield* send(HttpClientRequest.post("/jobs").pipe(bearer, HttpClientRequest.bodyUnsafeJson(summarize())))
      assert.strictEqual(submitted.status, 201, submitted.text)
      const jobId = (submitted.body as { job_id: string }).job_id
      const cases: ReadonlyArray<readonly [string, HttpClientRequest.HttpClientRequest, number]> = [
        ["list", HttpClientRequest.get("/jobs").pipe(bearer), 200],
        ["submit", HttpClientRequest.post("/jobs").pipe(bearer, HttpClientRequest.bodyUnsafeJson(summarize())), 201],
        ["one job", HttpClientRequest.get(`/jobs/${jobId}`).pipe(bearer), 200],
        ["events", HttpClientRequest.get("/events").pipe(bearer), 200],
        ["health", HttpClientRequest.get("/health"), 200],
        ["openapi.json", HttpClientRequest.get("/openapi.json").pipe(bearer), 200],
        ["no token", HttpClientRequest.get("/jobs"), 401],
        ["openapi.json without a token", HttpClientRequest.get("/openapi.json"), 401],
        ["a job that is not there", HttpClientRequest.get(`/jobs/${MISSING}`).pipe(bearer), 404],
        ["a route that is not there", HttpClientRequest.get("/nowhere").pipe(bearer), 404],
        ["a method the route does not take", HttpClientRequest.del("/jobs").pipe(bearer), 405],
        ["a malformed query", HttpClientRequest.get("/jobs?limit=ten").pipe(bearer), 400],
        ["an action the job's state refuses", HttpClientRequest.post(`/jobs/${jobId}/resume`).pipe(bearer, HttpClientRequest.bodyUnsafeJson({})), 409],
        ["a body over the limit", HttpClientRequest.post("/jobs").pipe(bearer, HttpClientRequest.bodyUnsafeJson({ ...summarize(), status_reason: "x".repeat(5_000) })), 413]
      ]
      for (const [what, request, status] of cases) {
        assert.deepStrictEqual(yield* headersOf(request), protectedAnswer(status), what)
      }
    }).pipe(Effect.provide(apiServer(sqliteMemory.makeStore(), { maxBodyBytes: 4_096 }))))

  it.effect("17.3 the console's files keep their own caching (no-cache, nosniff)", () =>
    Effect.gen(function*() {
      for (const path of ["/console/", "/console/app.js"]) {
        assert.deepStrictEqual(yield* headersOf(HttpClientRequest.get(path)), { status: 200, "cache-control": "no-cache", "x-content-type-options": "nosniff" }, path)
      }
    }).pipe(Effect.provide(apiServer(sqliteMemory.makeStore()))))

  it.live("R17 the 431 Node's parser answers for a URL of ~16 kB is no-store and nosniff too", () =>
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const port = (server.address as HttpServer.TcpAddress).port
      const answer = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/jobs?state=${"q".repeat(16_500)}`))
      yield* Effect.promise(() => answer.text())
      assert.deepStrictEqual({
        status: answer.status,
        "cache-control": answer.headers.get("cache-control"),
        "x-content-type-options": answer.headers.get("x-content-type-options")
      }, protectedAnswer(431))
    }).pipe(Effect.provide(apiServer(sqliteMemory.makeStore()))))

  it.effect("17.2 mounted in an application's router (httpApp), the API's answers are no-store and nosniff, the application's own are left alone", () =>
    Effect.gen(function*() {
      const jobsApp = yield* JobsApi.httpApp({ token: Redacted.make(TOKEN) })
      yield* HttpServer.serveEffect(HttpRouter.empty.pipe(
        HttpRouter.get("/hello", HttpServerResponse.text("the application's own route")),
        HttpRouter.mountApp("/ai-jobs", jobsApp)
      ))
      assert.deepStrictEqual(yield* headersOf(HttpClientRequest.get("/ai-jobs/jobs").pipe(bearer)), protectedAnswer(200))
      assert.deepStrictEqual(yield* headersOf(HttpClientRequest.get("/ai-jobs/jobs")), protectedAnswer(401))
      assert.deepStrictEqual(yield* headersOf(HttpClientRequest.get("/hello")), {
        status: 200,
        "cache-control": undefined,
        "x-content-type-options": undefined
      })
    }).pipe(
      Effect.provide(Layer.mergeAll(loopback, services(SqliteStore.layer({ filename: ":memory:" })))),
      Effect.scoped
    ))
})
