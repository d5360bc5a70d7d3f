/**
 * R10 the store's own PostgreSQL sessions run READ COMMITTED whatever the
 * database's default (found by an outside probe). Claims skip locked rows and
 * each statement reads what committed before it; with `ALTER DATABASE … SET
 * default_transaction_isolation = 'serializable'`, a pool of 8 over 160 jobs
 * ended some jobs `failed` ("could not serialize access") though their
 * handlers succeeded. Each new connection of the store now sets READ COMMITTED
 * with its ISO dates, in the same round trip (pg/sessionSettings.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DatabaseUrl, Jobs } from "../../src/index.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { asAdmin, request, untilSettled } from "./pg-deployment.js"

describe("R10 a database whose default isolation is SERIALIZABLE", () => {
  it.live("a pool of 8 over 160 jobs whose handlers succeed: every job ends completed", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("serializable default")
      yield* Effect.scoped(Layer.build(DatabaseUrl.layerFromUrl(url)))
      yield* asAdmin(url, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = %L', current_database(), 'serializable'); END $$")
      yield* Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* jobs.worker({
          concurrency: 8,
          pollInterval: "50 millis",
          handlers: {
            doc_summarize: (context) =>
              context.node({ node_id: "n", node_type: "llm", input: {} }, Effect.succeed({ ok: 1 }).pipe(Effect.delay("5 millis")))
          }
        })
        for (let i = 0; i < 40; i++) yield* jobs.submitMany([request, request, request, request])
        yield* untilSettled(url)
      }).pipe(Effect.scoped, Effect.provide(services(DatabaseUrl.layerFromUrl(url))))
      const byState = yield* asAdmin(url, "SELECT status, count(*)::int AS n, min(error_message) AS example FROM ai_jobs GROUP BY 1 ORDER BY 1")
      assert.deepStrictEqual(byState, [{ status: "completed", n: 160, example: null }])
    }).pipe(Effect.scoped), 120_000)
})
