/**
 * R6 (a caller's transaction on the store's database is joined): PostgreSQL, a caller's transaction on
 * the store's OWN database through another client whose session TimeZone or DateStyle differs from the
 * store's connections' (a SET LOCAL, or the database's own default, which the store overrides on its
 * sessions). The store tells databases apart by an identity read on each side; it compared
 * pg_postmaster_start_time()::text, whose text follows the session's TimeZone and DateStyle, so such a
 * transaction was taken for another database's: a submit inside it committed on its own and survived the
 * caller's rollback (found by a regression probe). The server's start is now compared as epoch seconds.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { JobId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"

for (const setting of ["SET TIME ZONE 'Asia/Tokyo'", "SET DateStyle = 'SQL, DMY'", "ALTER DATABASE"]) {
  describe("R6 a caller's transaction on the store's PostgreSQL database, whatever its session settings", () => {
    it.live(`R6 joined with ${setting}: inOwnTransaction, and the submit rolls back with the caller`, () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("own tx identity")
        if (setting === "ALTER DATABASE") {
          // The database's own default, as an administrator may set it: every plain client gets it; the store sets ISO on its own sessions.
          const admin = Context.get(yield* Layer.build(rawPgClient(url)), SqlClient.SqlClient)
          const name = decodeURIComponent(new URL(url).pathname.slice(1))
          yield* admin.unsafe(`ALTER DATABASE "${name}" SET DateStyle = 'SQL, DMY'`)
        }
        const ctx = yield* Layer.build(services(PgStore.layer({ url })))
        const store = Context.get(ctx, JobStore)
        const jobs = Context.get(ctx, Jobs.Jobs)
        const app = Context.get(yield* Layer.build(rawPgClient(url)), SqlClient.SqlClient)
        let submitted: string | undefined
        let inOwn: unknown
        const outcome = yield* Effect.exit(app.withTransaction(Effect.gen(function*() {
          if (setting !== "ALTER DATABASE") yield* app.unsafe(setting.replace("SET ", "SET LOCAL "))
          inOwn = yield* store.inOwnTransaction!
          const job = yield* jobs.submit(summarize())
          submitted = job.job_id
          return yield* Effect.fail("caller rolls back")
        })))
        const after = submitted === undefined ? undefined : yield* Effect.exit(jobs.get(submitted as JobId))
        assert.strictEqual(outcome._tag, "Failure", "setup: the caller rolled back")
        assert.strictEqual(inOwn, true, "the caller's transaction on the store's database is the store's")
        assert.notStrictEqual(after?._tag, "Success", "the job rolled back with the caller's transaction")
      }).pipe(Effect.scoped), 60_000)
  })
}
