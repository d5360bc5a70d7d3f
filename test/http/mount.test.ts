/**
 * An Effect application mounts the API in its own server (issue 17.2): the
 * `httpApp` under a path prefix of the application's router, beside the
 * application's own routes, with the typed client pointed at the prefix.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
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
import { loopback, send, TOKEN } from "./server.js"

describe("JobsApi mounted in an application's own server", () => {
  it.effect("17.2 httpApp serves the API and console under /ai-jobs beside the application's routes; the typed client follows the prefix", () =>
    Effect.gen(function*() {
      const jobsApp = yield* JobsApi.httpApp({ token: Redacted.make(TOKEN) })
      const router = HttpRouter.empty.pipe(
        HttpRouter.get("/hello", HttpServerResponse.text("the application's own route")),
        HttpRouter.mountApp("/ai-jobs", jobsApp)
      )
      yield* HttpServer.serveEffect(router)

      const own = yield* send(HttpClientRequest.get("/hello"))
      assert.deepStrictEqual([own.status, own.text], [200, "the application's own route"])

      const server = yield* HttpServer.HttpServer
      const address = server.address as HttpServer.TcpAddress
      const api = yield* JobsApi.client({ baseUrl: `http://127.0.0.1:${address.port}/ai-jobs`, token: TOKEN }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const job = yield* api.jobs.submit({
        payload: {
          job_kind: "doc_summarize",
          protocol_id: "hsk.mount.v1",
          profile_id: "app",
          capability_profile_id: "Analyst",
          access_mode: "analysis_only",
          safety_mode: "normal"
        }
      })
      assert.deepStrictEqual((yield* api.jobs.list({ urlParams: {} })).items.map((item) => item.job_id), [job.job_id])
      assert.strictEqual((yield* api.health.health()).status, "ok")

      const refused = yield* send(HttpClientRequest.get("/ai-jobs/jobs"))
      assert.strictEqual(refused.status, 401)
      // The console's redirect and links are relative, so they keep the prefix: fetch follows
      // /ai-jobs/console to /ai-jobs/console/ (an absolute /console/ would be a 404 here).
      const bare = yield* send(HttpClientRequest.get("/ai-jobs/console"))
      assert.strictEqual(bare.status, 200)
      assert.include(bare.text, "<title>AI Jobs console</title>")
      const script = yield* send(HttpClientRequest.get("/ai-jobs/console/app.js"))
      assert.match(script.headers["content-type"] ?? "", /javascript/)
    }).pipe(
      Effect.provide(Layer.mergeAll(loopback, services(SqliteStore.layer({ filename: ":memory:" })))),
      Effect.scoped
    ))

  it.effect("17.2 a token shorter than 16 characters is refused when the API is built, by httpApp and by layer: 15 characters are, 16 build", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(JobsApi.httpApp({ token: Redacted.make("short") }))
      assert.strictEqual(error._tag, "InvalidToken")
      const fifteen = { token: Redacted.make("a".repeat(15)) }
      for (const [how, build] of [["httpApp", JobsApi.httpApp(fifteen)], ["layer", Layer.build(JobsApi.layer(fifteen))]] as const) {
        const refused = yield* Effect.flip(Effect.scoped(build as Effect.Effect<unknown, JobsApi.ServerError, never>))
        assert.strictEqual(refused._tag, "InvalidToken", how)
      }
      const sixteen = { token: Redacted.make("a".repeat(16)) }
      yield* JobsApi.httpApp(sixteen)
      yield* Effect.scoped(Layer.build(JobsApi.layer(sixteen)) as Effect.Effect<unknown, JobsApi.ServerError, never>)
    }).pipe(Effect.provide(services(SqliteStore.layer({ filename: ":memory:" }))), Effect.scoped))

  it.effect("17.2 a token no Authorization header can carry (a newline from a file, a space at either end, a tab, é) is InvalidToken saying why, by httpApp and by layer, as `ai-jobs serve` refuses it; inner spaces build", () =>
    Effect.gen(function*() {
      for (const token of ["abcdefghijklmnop\n", "abcdefghijklmnop ", " abcdefghijklmnop", "abcdefgh\tijklmnop", "abcdefghijklmnopé"]) {
        const options = { token: Redacted.make(token) }
        for (const [how, build] of [["httpApp", JobsApi.httpApp(options)], ["layer", Layer.build(JobsApi.layer(options))]] as const) {
          const error = yield* Effect.flip(Effect.scoped(build as Effect.Effect<unknown, JobsApi.ServerError, never>))
          assert.strictEqual(error._tag, "InvalidToken", `${how} ${JSON.stringify(token)}`)
          assert.strictEqual(error._tag === "InvalidToken" ? error.problem : undefined, "unsendable", `${how} ${JSON.stringify(token)}`)
          assert.match(error.message, /^The API token must be printable ASCII without spaces at either end .*could never be sent in an Authorization header/)
        }
      }
      const short = yield* Effect.flip(JobsApi.httpApp({ token: Redacted.make("short") }))
      assert.strictEqual(short.message, "The API token must be at least 16 characters long (got 5)")
      yield* JobsApi.httpApp({ token: Redacted.make("abcdefgh ijklmnop") })
    }).pipe(Effect.provide(services(SqliteStore.layer({ filename: ":memory:" }))), Effect.scoped))

  it.effect("R17 a misspelt option (consol: false) is a DecodeFailure naming it when the API is built, not a console served", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(JobsApi.httpApp({ token: Redacted.make(TOKEN), consol: false } as never))
      assert.strictEqual(error._tag, "DecodeFailure")
      assert.deepStrictEqual(error._tag === "DecodeFailure" ? error.issues.map((issue) => issue.path) : [], ["consol"])
    }).pipe(Effect.provide(services(SqliteStore.layer({ filename: ":memory:" }))), Effect.scoped))

  it.effect("R17 a maxBodyBytes that is no whole number of bytes ≥ 1 (NaN, -5, 0, 1.5, Infinity, a string) is a DecodeFailure naming it when the API is built, by httpApp and by layer; a whole number builds", () =>
    Effect.gen(function*() {
      for (const maxBodyBytes of [Number.NaN, -5, 0, 1.5, Number.POSITIVE_INFINITY, "1024"]) {
        const options = { token: Redacted.make(TOKEN), maxBodyBytes } as never
        for (const [how, build] of [["httpApp", JobsApi.httpApp(options)], ["layer", Layer.build(JobsApi.layer(options))]] as const) {
          const error = yield* Effect.flip(Effect.scoped(build as Effect.Effect<unknown, JobsApi.ServerError, never>))
          assert.strictEqual(error._tag, "DecodeFailure", `${how} ${String(maxBodyBytes)}`)
          assert.deepStrictEqual(error._tag === "DecodeFailure" ? error.issues.map((issue) => issue.path) : [], ["maxBodyBytes"], `${how} ${String(maxBodyBytes)}`)
        }
      }
      yield* JobsApi.httpApp({ token: Redacted.make(TOKEN), maxBodyBytes: 2048 })
    }).pipe(Effect.provide(services(SqliteStore.layer({ filename: ":memory:" }))), Effect.scoped))
})
