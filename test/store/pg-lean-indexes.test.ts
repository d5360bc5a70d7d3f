/**
 * Issue 16, h61, migration 0015 (PostgreSQL): three indexes became partial,
 * over the rows their queries read — jobs with a run, events with a run,
 * running runs by heartbeat — so a lifecycle writes fewer index entries
 * (bench/explainLifecycle.ts). No query may lose its index: each store query
 * that reads by those columns is recorded as the store sends it and explained
 * with its own parameters, custom and generic plan (pg-plans.ts), on a
 * database with thousands of jobs and current statistics. A database at the
 * migration before, and a legacy reference database, upgrade in place.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { WorkflowRunId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { buildReferencePg } from "../fixtures/referenceDatabase.js"
import { connectPg, freshPgDatabase, type PgClient, rawPgClient } from "../support/pg-database.js"
import { startedJob } from "./fixtures.js"
import { named, planModes, planOf, type Sent, sentStatements, tableScans } from "./pg-plans.js"
import { newestShipped } from "./contract/schema.js"

/** The three indexes as 0015 leaves them (pg_indexes' definitions). */
const LEAN = {
  ai_jobs_run_idx: "CREATE INDEX ai_jobs_run_idx ON public.ai_jobs USING btree (workflow_run_id) WHERE (workflow_run_id IS NOT NULL)",
  flight_recorder_events_run_time_idx:
    "CREATE INDEX flight_recorder_events_run_time_idx ON public.flight_recorder_events USING btree (workflow_run_id, \"timestamp\") WHERE (workflow_run_id IS NOT NULL)",
  workflow_runs_running_heartbeat_idx:
    "CREATE INDEX workflow_runs_running_heartbeat_idx ON public.workflow_runs USING btree (last_heartbeat, id) WHERE (status = 'running'::text)"
}
/** The indexes they replace. */
const OLD = ["ai_jobs_workflow_run_id_idx", "flight_recorder_events_run_idx", "workflow_runs_stale_scan_order_idx"]

/** The indexes of the three tables over workflow_run_id or last_heartbeat, by name. */
const runIndexes = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly indexname: string; readonly indexdef: string }>`
    SELECT indexname, indexdef FROM pg_indexes
    WHERE tablename IN ('ai_jobs', 'flight_recorder_events', 'workflow_runs')
      AND (indexdef LIKE '%(workflow_run_id%' OR indexdef LIKE '%last_heartbeat%')
    ORDER BY indexname`
  return Object.fromEntries(rows.map((row) => [row.indexname, row.indexdef]))
})

/** A database at 0014: the three indexes as 0002, 0003 and 0010 made them, 0015 not recorded. */
const BEFORE_0015 = [
  "DROP INDEX ai_jobs_run_idx",
  "DROP INDEX flight_recorder_events_run_time_idx",
  "DROP INDEX workflow_runs_running_heartbeat_idx",
  "CREATE INDEX ai_jobs_workflow_run_id_idx ON ai_jobs (workflow_run_id)",
  "CREATE INDEX flight_recorder_events_run_idx ON flight_recorder_events (workflow_run_id, \"timestamp\")",
  "CREATE INDEX workflow_runs_stale_scan_order_idx ON workflow_runs (status, last_heartbeat, id)",
  "DELETE FROM ai_job_model_migrations WHERE migration_id >= 15"
]

/** `plan` reads `table` through `index` (a pattern) only: no sequential scan, every index scan of the table on that index. */
const readsThrough = (plan: string, table: string, index: string, label: string) => {
  const through = new RegExp(` using ${index} on ${table}$`)
  const scans = tableScans(plan).filter((scan) => scan.endsWith(` on ${table}`))
  assert.isTrue(scans.some((scan) => through.test(scan)), `${label}: reads ${table} through ${index}\n${plan}`)
  for (const scan of scans) {
    assert.match(scan, new RegExp(`^(Bitmap Heap Scan on ${table}|(Index|Index Only|Bitmap Index) Scan using ${index} on ${table})$`), `${label}\n${plan}`)
  }
}

const JOBS = 4_000

describe("issue 16 h61 migration 0015: partial indexes for the run columns (PostgreSQL)", () => {
  it.scoped("issue 16 h61 0015 leaves the three partial indexes and none of the ones they replace; a database at 0014 upgrades in place, as does a legacy reference database", () =>
    Effect.gen(function*() {
      const fresh = yield* freshPgDatabase("0015 fresh")
      const onFresh = yield* Layer.build(Layer.merge(PgStore.layer({ url: fresh }), rawPgClient(fresh)))
      const created = yield* Effect.provide(runIndexes, onFresh)
      assert.deepStrictEqual(created, LEAN)
      yield* Effect.provide(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* startedJob()
        for (const statement of BEFORE_0015) yield* sql.unsafe(statement)
        assert.deepStrictEqual(Object.keys(yield* runIndexes).sort(), [...OLD].sort())
      }), onFresh)
      // The store migrates on start: 0015 again, on a database with rows.
      const upgraded = yield* Layer.build(Layer.merge(PgStore.layer({ url: fresh }), rawPgClient(fresh)))
      assert.deepStrictEqual(yield* Effect.provide(runIndexes, upgraded), LEAN, "from 0014")
      assert.strictEqual(yield* Effect.provide(Effect.flatMap(JobStore, (store) => store.schemaVersion), upgraded), newestShipped("pg"))

      const legacy = yield* freshPgDatabase("0015 reference")
      yield* Effect.provide(buildReferencePg, yield* Layer.build(rawPgClient(legacy)))
      const fromReference = yield* Layer.build(Layer.merge(PgStore.layer({ url: legacy }), rawPgClient(legacy)))
      assert.deepStrictEqual(yield* Effect.provide(runIndexes, fromReference), LEAN, "from the reference schema")
    }), 120_000)

  it.scoped(`issue 16 h61 among ${JOBS.toLocaleString("en")} jobs, every store query by run reads through its partial index (custom and generic plans): events by run, jobs by run, the heartbeat's and a node write's active-run check, the stale-run scan, the foreign key's ON DELETE SET NULL`, () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("0015 plans")
      const context = yield* Layer.build(PgStore.layer({ url }))
      const store = yield* Effect.provide(JobStore, context)
      const raw: PgClient = yield* Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end()))
      // Half the jobs queued (no run), half finished under a run; each with two records without a run, and two with its run if it has one.
      yield* Effect.promise(() => raw.query(`
        INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
                             access_mode, safety_mode, created_at, updated_at)
        SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, gen_random_uuid(), 'doc_summarize', 'queued',
               'p', 'u', 'Analyst', 'analysis_only', 'normal', timestamptz '2026-01-01' + i * interval '1 second', timestamptz '2026-01-01'
        FROM generate_series(1, ${JOBS}) AS i`))
      yield* Effect.promise(() => raw.query(`
        INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at)
        SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'))::uuid,
               ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'completed',
               timestamptz '2026-01-01', timestamptz '2026-01-01', timestamptz '2026-01-01'
        FROM generate_series(1, ${JOBS}, 2) AS i`))
      yield* Effect.promise(() => raw.query(`UPDATE ai_jobs j SET status = 'completed', workflow_run_id = r.id FROM workflow_runs r WHERE r.job_id = j.id`))
      yield* Effect.promise(() => raw.query(`
        INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
        SELECT gen_random_uuid(), j.created_at + k * interval '1 millisecond', 'system', 'system', j.trace_id, j.id,
               CASE WHEN k > 2 THEN j.workflow_run_id END, '{}'::jsonb
        FROM ai_jobs j CROSS JOIN generate_series(1, 4) AS k
        WHERE k <= 2 OR j.workflow_run_id IS NOT NULL`))
      const { job, run } = yield* Effect.provide(startedJob(), context)
      yield* Effect.promise(() => raw.query("ANALYZE"))

      const oneRun = "00000000-0000-7000-9000-000000000101" as WorkflowRunId
      const recorded = <A, E>(effect: Effect.Effect<A, E>, marker: RegExp) =>
        Effect.map(sentStatements(effect), ({ sent }) => {
          const found = named(sent, marker)
          assert.isAbove(found.length, 0, `${marker}: sent ${sent.map((s) => s.text.slice(0, 60)).join(" | ")}`)
          return found[0]!
        })
      const byRun: ReadonlyArray<readonly [string, Sent, string, string]> = [
        ["events by run", yield* recorded(store.listEvents({ workflow_run_id: oneRun }), /FROM flight_recorder_events/), "flight_recorder_events", "flight_recorder_events_run_time_idx"],
        ["jobs by run", yield* recorded(store.listJobs({ workflow_run_id: oneRun }), /FROM ai_jobs/), "ai_jobs", "ai_jobs_run_idx"],
        ["heartbeat", yield* recorded(store.heartbeat(run.id), /SET last_heartbeat/), "ai_jobs", "ai_jobs_(pkey|run_idx)"],
        ["a node write's active-run check", yield* recorded(store.startNode({ workflow_run_id: run.id, node_id: "n", node_type: "step" }), /FOR NO KEY UPDATE OF r/), "ai_jobs", "ai_jobs_(pkey|run_idx)"],
        ["stale runs", yield* recorded(store.findStaleRuns({ heartbeatBefore: DateTime.unsafeMake("2030-01-01T00:00:00Z"), limit: 10 }), /FROM workflow_runs/), "workflow_runs", "workflow_runs_running_heartbeat_idx"],
        // The statement the foreign key's ON DELETE SET NULL runs when a run is deleted (ri_triggers.c spells it so).
        ["the foreign key's SET NULL", { text: `UPDATE ONLY "public"."ai_jobs" SET "workflow_run_id" = NULL WHERE $1 OPERATOR(pg_catalog.=) "workflow_run_id"`, values: [oneRun] }, "ai_jobs", "ai_jobs_run_idx"]
      ]
      for (const mode of planModes) {
        for (const [label, statement, table, index] of byRun) {
          const plan = yield* planOf(raw, statement, mode)
          readsThrough(plan, table, index, `${label}, ${mode}`)
          if (label === "stale runs") assert.notMatch(plan, /Sort/, `${label}, ${mode}: in index order\n${plan}`)
        }
      }
      assert.strictEqual(job.workflow_run_id, run.id)
    }), 120_000)
})
