/**
 * R6 ids in one canonical form (issue 11.6), for rows the store did not
 * write itself. On SQLite, migration 0004 moves upper-case ids written by an
 * earlier version (which accepted them as given) to lower case, so they stay
 * reachable now that every id is decoded to lower case; replaying it changes
 * nothing. On PostgreSQL the `uuid` type is canonical already: a row written
 * with upper-case text reads back in lower case and is found by either form.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import type { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import { migrationsDirectory } from "../../src/store/sqlite/migrations.js"
import { openSqlite } from "../reliability/snapshot.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"
import { rawRows, schemaSnapshot, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** An event row as raw SQL values, its ids in upper case. */
const upperCaseEvent = (jobId: string, traceId: string) => {
  const id = crypto.randomUUID().toUpperCase()
  return [id, "2029-01-01T00:00:00.000Z", "system", "diagnostic", traceId.toUpperCase(), jobId.toUpperCase(), null,
    JSON.stringify({ event_id: id, note: "written by an earlier version" })] as const
}

describe("R6 ids written in upper case by an earlier version", () => {
  it.scoped("R6 on SQLite, migration 0004 moves upper-case ids to lower case, the rows stay reachable, and a replay changes nothing", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const context = yield* Layer.build(storeWithClient(filename))
      const store = Context.get(context, JobStore)
      const job = yield* store.createJob(newJob())
      const run = yield* store.createRun(job.job_id)
      // A node is written only while its run is the job's active run.
      yield* store.transition({ job_id: job.job_id, to: "running", workflow_run_id: run.id })
      yield* store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" })
      // The schema the migrations made, which the replay below must leave as it is.
      const schemaBefore = yield* Effect.provide(schemaSnapshot, context)
      // What an earlier version stored for a caller who gave upper-case ids:
      // before 0020, whose triggers now refuse such ids (rows already stored are not judged),
      // and before 0030, whose triggers compare a job's id with its run's job_id as stored.
      const db = openSqlite(filename)
      try {
        db.pragma("foreign_keys = OFF")
        for (const table of ["ai_jobs", "workflow_runs"]) db.exec(`DROP TRIGGER ${table}_domain_values_update`)
        db.exec("DROP TRIGGER flight_recorder_events_domain_values_insert")
        for (const trigger of ["ai_jobs_workflow_run_of_job_insert", "ai_jobs_workflow_run_of_job_update", "workflow_runs_job_of_pointer"]) {
          db.exec(`DROP TRIGGER ${trigger}`)
        }
        db.prepare("UPDATE ai_jobs SET id = upper(id), trace_id = upper(trace_id)").run()
        db.prepare("UPDATE workflow_runs SET job_id = upper(job_id)").run()
        db.prepare("INSERT INTO flight_recorder_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)").run(...upperCaseEvent(job.job_id, job.trace_id))
        db.exec(readFileSync(new URL("0020_domain_values.sql", migrationsDirectory), "utf8"))
      } finally {
        db.close()
      }
      yield* Effect.provide(Effect.gen(function*() {
        // 0004 and every later one run again (all replay-safe): the Migrator only runs ids above the highest applied.
        yield* rawRows("DELETE FROM ai_job_model_migrations WHERE migration_id >= 4")
        yield* SqliteStore.migrate
      }), context)

      const found = yield* store.getJob(job.job_id)
      assert.strictEqual(found.job_id, job.job_id)
      assert.strictEqual(found.trace_id, job.trace_id)
      assert.deepStrictEqual((yield* store.listRuns(job.job_id)).map((r) => r.id), [run.id])
      assert.strictEqual((yield* store.listJobs({ trace_id: job.trace_id })).items.length, 1)
      const events = (yield* store.listEvents({ job_id: job.job_id })).items
      assert.strictEqual(events.length, 1, "the event is found by the job's canonical id")
      assert.deepStrictEqual(events[0]?.body["note"], "written by an earlier version", "its body untouched")
      assert.deepStrictEqual(yield* Effect.provide(schemaSnapshot, context), schemaBefore, "replaying 0004 leaves the same schema")
      const raw = yield* Effect.provide(rawRows<{ readonly n: number }>(
        "SELECT count(*) AS n FROM ai_jobs WHERE id <> lower(id) OR trace_id <> lower(trace_id)"
      ), context)
      assert.strictEqual(raw[0]?.n, 0)
    }))

  it.scoped("R6 on PostgreSQL, a row written with upper-case uuid text reads back in lower case and is found by either form", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("canonical ids")
      const store = Context.get(yield* Layer.build(PgStore.layer({ url })), JobStore)
      const job = yield* store.createJob(newJob())
      const client = yield* Effect.promise(() => connectPg(url))
      yield* Effect.promise(async () => {
        try {
          await client.query(
            "INSERT INTO flight_recorder_events VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            upperCaseEvent(job.job_id, job.trace_id)
          )
        } finally {
          await client.end()
        }
      })
      const events = (yield* store.listEvents({ job_id: job.job_id.toUpperCase() as JobId })).items
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]?.job_id, job.job_id)
      assert.strictEqual(events[0]?.trace_id, job.trace_id)
    }))
})
