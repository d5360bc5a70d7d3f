/**
 * Issue 15.3 / 16 on PostgreSQL: the wake-up's announcement (migration 0007's
 * triggers), whose function migration 0014 rewrote to call pg_notify on
 * PL/pgSQL's fast path. What a listener hears must not change: one
 * notification per new job and per change of a job's state or run_after,
 * on `ai_job_model_jobs`, with exactly 0007's payload, at commit — none for
 * a write that changes neither, none for a rolled-back transaction.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import pg from "pg"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

/** 0007's payload for a job row, computed by the server from the row as it is now. */
const payload0007 = (sql: SqlClient.SqlClient, jobId: string) =>
  Effect.map(
    sql<{ readonly text: string }>`
      SELECT json_build_object('job_id', id, 'state', status, 'job_kind', job_kind,
        'run_after', floor(extract(epoch FROM run_after) * 1000)::bigint)::text AS text
      FROM ai_jobs WHERE id = ${jobId}`,
    ([row]) => row!.text
  )

describe("issue 15.3 PostgreSQL: the announcement trigger (0014's body) says what 0007's said", () => {
  it.effect("issue 15.3 a new job, a state change and a run_after change are each announced once with 0007's payload, at commit; a write changing neither, and a rolled-back change, announce nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("announce payload")
      const heard: Array<string> = []
      const listener = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new pg.Client({ connectionString: url })
          await client.connect()
          client.on("notification", (message) => {
            if (message.channel === "ai_job_model_jobs") heard.push(message.payload ?? "")
          })
          return client
        }),
        (client) => Effect.promise(() => client.end())
      )
      yield* Effect.gen(function*() {
        const store = yield* JobStore
        const sql = yield* SqlClient.SqlClient
        yield* Effect.promise(() => listener.query("LISTEN ai_job_model_jobs"))
        // A round trip on the listener's connection after a commit: notifications committed before it have arrived.
        const drained = Effect.promise(() => listener.query("SELECT 1"))
        const expectHeard = (what: string, expected: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            yield* drained
            assert.deepStrictEqual(heard.splice(0), expected, what)
          })

        const job = yield* store.createJob(newJob())
        yield* expectHeard("a new job", [yield* payload0007(sql, job.job_id)])

        const run = yield* store.createRun(job.job_id)
        yield* store.transition({ job_id: job.job_id, to: "running", workflow_run_id: run.id })
        yield* expectHeard("the move to running", [yield* payload0007(sql, job.job_id)])

        yield* sql`UPDATE ai_jobs SET run_after = run_after + interval '1 second' WHERE id = ${job.job_id}`
        yield* expectHeard("a run_after change", [yield* payload0007(sql, job.job_id)])

        yield* sql`UPDATE ai_jobs SET status_reason = 'noted', updated_at = now() WHERE id = ${job.job_id}`
        yield* store.heartbeat(run.id)
        yield* expectHeard("writes that change neither state nor run_after", [])

        const rolledBack = sql.withTransaction(Effect.gen(function*() {
          yield* sql`UPDATE ai_jobs SET status = 'cancelled' WHERE id = ${job.job_id}`
          yield* sql`INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, created_at, updated_at)
            VALUES (gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'queued', 'hsk.test.v0', 'default', 'Analyst', 'analysis_only', 'normal', now(), now())`
          return yield* Effect.fail("roll back" as const)
        }))
        assert.strictEqual(yield* Effect.flip(rolledBack), "roll back")
        yield* expectHeard("a rolled-back transaction", [])
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "the rollback really undid the change")

        // Inside a transaction: announced once it commits, not before.
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`UPDATE ai_jobs SET status = 'cancelled' WHERE id = ${job.job_id}`
          yield* expectHeard("before the commit", [])
        }))
        yield* expectHeard("after the commit", [yield* payload0007(sql, job.job_id)])
      }).pipe(Effect.provide(Layer.merge(PgStore.layer({ url }), rawPgClient(url))))
    })), 60_000)
})
