/**
 * R17 on a PostgreSQL whose DateStyle is not ISO (`ALTER DATABASE … SET
 * DateStyle = 'SQL, DMY'`, a legal server setting; found by an outside
 * probe). The driver parses only ISO text, so every instant read back was
 * null: each read failed "Corrupt row … created_at", and `ai-jobs recover`
 * committed its stalls and then exited 1 reading them. The store's sessions
 * now speak ISO whatever the server's or database's default.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

describe("PostgreSQL store on a database whose DateStyle is not ISO", () => {
  it.live("R17 instants read back as written, listings and recovery work, on 'SQL, DMY', 'German' and 'Postgres, MDY'", () =>
    Effect.gen(function*() {
      for (const style of ["SQL, DMY", "German", "Postgres, MDY"]) {
        const url = yield* freshPgDatabase(`datestyle ${style}`)
        const admin = yield* Effect.promise(() => connectPg(url))
        yield* Effect.promise(() => admin.query(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET DateStyle = %L', current_database(), '${style}'); END $$`))
        yield* Effect.promise(() => admin.end())
        yield* Effect.gen(function*() {
          const store = yield* JobStore
          const job = yield* store.createJob(newJob())
          const read = yield* store.getJob(job.job_id)
          assert.strictEqual(DateTime.toEpochMillis(read.created_at), DateTime.toEpochMillis(job.created_at), style)
          assert.strictEqual((yield* store.listJobs()).items.length, 1, style)
          const run = yield* store.createRun(job.job_id)
          assert.strictEqual(DateTime.toEpochMillis((yield* store.getRun(run.id)).last_heartbeat), DateTime.toEpochMillis(run.last_heartbeat), style)
          const stalled = yield* store.stallStaleRuns({
            heartbeatBefore: DateTime.add(run.last_heartbeat, { seconds: 1 }),
            threshold: Duration.seconds(30),
            limit: 10
          })
          assert.deepStrictEqual(stalled.map((s) => s.run.id), [run.id], style)
          assert.strictEqual(stalled[0]!.run.status, "stalled", style)
        }).pipe(Effect.provide(Layer.fresh(PgStore.layer({ url }))))
      }
    }).pipe(Effect.scoped), 60_000)
})
