/**
 * R9 at scale, migration 0010 (PostgreSQL): recovery's scan takes stale runs in
 * (last_heartbeat, id) order a batch at a time, and the index now gives that
 * order, so a batch reads as many rows as it takes. Before, the index stopped
 * at last_heartbeat: every batch joined every stale run to a sequential scan
 * of ai_jobs and sorted them all (10k stale among 100k: ~60% of a batch).
 * The statement below is the scan's, the first part of the batch's one
 * statement as src/store/pg/workers.ts writes it (`stale_jobs`).
 * Migration 0015 made the index partial, over running runs only: the same
 * order, without an entry for every ended run.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgStore.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"

describe("R9 recovery's scan on PostgreSQL (migrations 0010, 0015)", () => {
  it.effect("R9 among 40,000 running runs, 4,000 stale, a batch (1,000, the default) of the recovery scan walks the stale-scan index in order: no sort, no sequential scan", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("stale scan plan")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const indexes = yield* sql<{ readonly indexname: string; readonly indexdef: string }>`
          SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'workflow_runs' AND indexdef LIKE '%last_heartbeat%'`
        assert.deepStrictEqual(indexes.map((index) => index.indexname), ["workflow_runs_running_heartbeat_idx"], "0010 and 0015 replaced the old indexes")
        assert.match(indexes[0]!.indexdef, /\(last_heartbeat, id\) WHERE \(status = 'running'::text\)/)
        yield* sql.unsafe(`
          INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
                               access_mode, safety_mode, created_at, updated_at)
          SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, gen_random_uuid(), 'doc_summarize', 'queued',
                 'p', 'u', 'Analyst', 'analysis_only', 'normal', timestamptz '2026-01-01', timestamptz '2026-01-01'
          FROM generate_series(1, 40000) AS i`)
        yield* sql.unsafe(`
          INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at)
          SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'))::uuid,
                 ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'running',
                 CASE WHEN i % 10 = 0 THEN timestamptz '2026-01-01' ELSE timestamptz '2026-06-01' END + i * interval '1 millisecond',
                 timestamptz '2026-01-01', timestamptz '2026-01-01'
          FROM generate_series(1, 40000) AS i`)
        yield* sql.unsafe(`UPDATE ai_jobs j SET status = 'running', workflow_run_id = r.id FROM workflow_runs r WHERE r.job_id = j.id`)
        yield* sql.unsafe("ANALYZE workflow_runs")
        yield* sql.unsafe("ANALYZE ai_jobs")
        const plan = yield* sql.unsafe<{ readonly "QUERY PLAN": string }>(`
          EXPLAIN SELECT r.id, j.trace_id
          FROM workflow_runs r JOIN ai_jobs j ON j.id = r.job_id
          WHERE r.status = 'running' AND r.last_heartbeat < timestamptz '2026-03-01'
          ORDER BY r.last_heartbeat, r.id
          LIMIT 1000
          FOR NO KEY UPDATE OF j SKIP LOCKED`)
        const text = plan.map((row) => row["QUERY PLAN"]).join("\n")
        assert.match(text, /Index Scan using workflow_runs_running_heartbeat_idx on workflow_runs/, text)
        assert.notMatch(text, /Sort|Seq Scan/, text)
      }).pipe(Effect.provide(Layer.merge(PgStore.layer({ url }), rawPgClient(url))))
    })), 60_000)
})
