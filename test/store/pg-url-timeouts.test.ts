/**
 * A PostgreSQL URL's own `statement_timeout` / `connect_timeout` (R17: bad
 * input gets a clear, typed error). `pg` merged a connection string's query
 * parameters over the pool's, so a URL's `statement_timeout` replaced the
 * store's `statementTimeout` option, its clamp at 2^31 − 1 ms and its 60 s
 * default: `3000000000` and the store could not open ("invalid value for
 * parameter statement_timeout"); `1` overrode `statementTimeout: "60
 * seconds"` (found by a regression probe). The store now reads them as the
 * options they stand for — an option given wins, then the URL, then the
 * default, clamped alike — and refuses a value it cannot read, or the
 * parameters it derives from `statementTimeout`, naming the parameter.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as DatabaseUrl from "../../src/store/DatabaseUrl.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { holdTable } from "../support/tableHold.js"
import { expectTag, failureOf, newJob } from "./fixtures.js"

/** `url` with `query` added to its query. */
const withQuery = (url: string, query: string): string => `${url}${url.includes("?") ? "&" : "?"}${query}`

/** A store built from `layer` answers: a job written and read back. */
const answers = <E>(layer: Layer.Layer<JobStore, E>) =>
  Effect.gen(function*() {
    const store = Context.get(yield* Layer.build(layer), JobStore)
    const job = yield* store.createJob(newJob())
    assert.strictEqual((yield* store.getJob(job.job_id)).job_id, job.job_id)
  }).pipe(Effect.scoped)

describe("a PostgreSQL URL's own timeouts", () => {
  it.scoped("R17 a URL statement_timeout past 2^31 − 1 ms is clamped as the option is: the store opens and answers, by PgStore.layer and by DatabaseUrl", () =>
    Effect.gen(function*() {
      const url = withQuery(yield* freshPgDatabase("url statement timeout huge"), "statement_timeout=3000000000")
      yield* answers(PgStore.layer({ url }))
      yield* answers(DatabaseUrl.layerFromUrl(url))
    }), 60_000)

  it.scoped("R17 the statementTimeout and connectTimeout options win over the URL's statement_timeout and connect_timeout", () =>
    Effect.gen(function*() {
      const url = withQuery(yield* freshPgDatabase("url statement timeout 1"), "statement_timeout=1&connect_timeout=0")
      yield* answers(PgStore.layer({ url, statementTimeout: "60 seconds", connectTimeout: "10 seconds" }))
      yield* answers(DatabaseUrl.layerFromUrl(url, { statementTimeout: "60 seconds" }))
    }), 60_000)

  it.scoped("R17 a URL statement_timeout is the store's statementTimeout when no option is given: a write held behind a lock is cancelled after it", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("url statement timeout read")
      const store = Context.get(yield* Layer.build(PgStore.layer({ url: withQuery(url, "statement_timeout=1500") })), JobStore)
      const hold = yield* holdTable(url, "ai_jobs")
      // Held until after the write failed: only the URL's 1.5 s (not the 60 s default) ends it within the test's time.
      const write = yield* Effect.fork(failureOf(store.createJob(newJob())))
      yield* hold.blocked
      const error = expectTag(yield* Fiber.join(write), "StorageError")
      assert.include(error.message, "statement timeout")
      yield* hold.release
    }), 30_000)

  it.effect("R17 a URL timeout that is no whole number, or a timeout the store derives from statementTimeout, fails the layer with a StorageError naming the parameter, before any connection is tried", () =>
    Effect.gen(function*() {
      const nowhere = "postgres://127.0.0.1:1/none"
      const bad: ReadonlyArray<readonly [string, string]> = [
        ["statement_timeout=3s", "statement_timeout in the database URL must be a whole number of milliseconds"],
        ["statement_timeout=-1", "statement_timeout in the database URL must be a whole number of milliseconds"],
        ["statement_timeout=", "statement_timeout in the database URL must be a whole number of milliseconds"],
        ["connect_timeout=soon", "connect_timeout in the database URL must be a whole number of seconds"],
        ["query_timeout=1", "query_timeout in the database URL is not read"],
        ["idle_in_transaction_session_timeout=1", "idle_in_transaction_session_timeout in the database URL is not read"]
      ]
      for (const [query, says] of bad) {
        for (const layer of [PgStore.layer({ url: withQuery(nowhere, query) }), DatabaseUrl.layerFromUrl(withQuery(nowhere, query))]) {
          const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
          const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.strictEqual(error?._tag, "StorageError", `${query}: ${String(exit)}`)
          const text = String((error as { cause?: { cause?: unknown } } | undefined)?.cause?.cause)
          assert.include(text, says, query)
          assert.notInclude(text, "ECONNREFUSED", "refused before any connection is tried")
        }
      }
    }))
})
