/**
 * R6 (a caller's transaction on the store's database is joined): PostgreSQL, a caller's transaction on the
 * store's own database through another client, in which a statement of the caller's has failed (its error
 * caught) — the transaction is aborted and will roll back. The store's identity read fails there, and such a
 * transaction was taken for another database's: a submit inside it committed on its own while the caller's
 * rows rolled back (found by a regression probe). Now the store runs inside it, and the submit fails as the
 * caller's own statements would: nothing is left of either.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Jobs from "../../src/Jobs.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"

describe("R6 a caller's aborted transaction on the store's PostgreSQL database", () => {
  it.live("R6 a submit inside it fails as the caller's statements do, and no job is left when the caller's rows roll back", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("aborted caller tx")
      const jobs = Context.get(yield* Layer.build(services(PgStore.layer({ url }))), Jobs.Jobs)
      const app = Context.get(yield* Layer.build(rawPgClient(url)), SqlClient.SqlClient)
      yield* app`CREATE TABLE app_rows (id int)`
      const submitted = yield* Effect.exit(app.withTransaction(Effect.gen(function*() {
        yield* app`INSERT INTO app_rows VALUES (1)`
        // The caller's own failure, caught: the transaction is aborted from here on.
        yield* Effect.ignore(app`SELECT 1/0`)
        return yield* jobs.submit(summarize())
      })))
      assert.isTrue(Exit.isFailure(submitted), `the submit inside an aborted transaction fails (got ${String(submitted)})`)
      const rows = yield* app<{ readonly n: number }>`SELECT count(*)::int AS n FROM app_rows`
      assert.strictEqual(rows[0]!.n, 0, "setup: the caller's rows rolled back")
      assert.strictEqual((yield* jobs.list()).items.length, 0, "no job was committed on its own")
    }).pipe(Effect.scoped), 60_000)
})
