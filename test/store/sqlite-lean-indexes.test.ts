/**
 * Issue 16, migration 0011 (SQLite): four indexes became partial, over the
 * rows their queries read (a job's active run, prunable jobs by update,
 * running runs by heartbeat, events with a run), so a job's lifecycle writes
 * fewer index pages (bench/sqliteReplay.ts). No query may lose its index:
 * each query the store runs for the port's lists and filters, the claim, the
 * stale scan and pruning is recorded as better-sqlite3 runs it and explained
 * with its own parameters (`EXPLAIN QUERY PLAN`): none reads a hot table by a
 * full scan, and the queries of the changed indexes use them (the stale scan
 * and pruning in order, no sort).
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { services } from "../jobs/services.js"
import { jobEvent, newJob, startedJob } from "./fixtures.js"
import { referenceCounts, writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { plansOf } from "./sqlite-recorder.js"
import { rawClient, rawNumber, rawRows, schemaSnapshot, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** The four indexes before 0011, as 0002, 0003 and 0004 made them: a database at the migration before. */
const BEFORE_0011 = [
  "DROP INDEX ai_jobs_by_run",
  "DROP INDEX ai_jobs_prunable_by_updated",
  "DROP INDEX workflow_runs_running_by_heartbeat",
  "DROP INDEX flight_recorder_events_by_run_time",
  "CREATE INDEX ai_jobs_by_workflow_run ON ai_jobs (workflow_run_id)",
  "CREATE INDEX ai_jobs_by_status_updated ON ai_jobs (status, updated_at, id)",
  "CREATE INDEX workflow_runs_by_status_heartbeat ON workflow_runs (status, last_heartbeat, id)",
  "CREATE INDEX flight_recorder_events_by_run ON flight_recorder_events (workflow_run_id, timestamp)",
  // The Migrator runs only ids above the highest applied: 0013 goes too (and is skipped, its work done).
  "DELETE FROM ai_job_model_migrations WHERE migration_id >= 11"
]

/** Each new index holds exactly the rows its WHERE names (read through the index, against a read of the table). */
const partialIndexesHoldTheirRows = Effect.gen(function*() {
  const pairs = [
    ["ai_jobs INDEXED BY ai_jobs_by_run WHERE workflow_run_id IS NOT NULL", "ai_jobs NOT INDEXED WHERE workflow_run_id IS NOT NULL"],
    [
      "ai_jobs INDEXED BY ai_jobs_prunable_by_updated WHERE status IN ('completed', 'completed_with_issues', 'cancelled', 'poisoned', 'failed')",
      "ai_jobs NOT INDEXED WHERE status IN ('completed', 'completed_with_issues', 'cancelled', 'poisoned', 'failed')"
    ],
    ["workflow_runs INDEXED BY workflow_runs_running_by_heartbeat WHERE status = 'running'", "workflow_runs NOT INDEXED WHERE status = 'running'"],
    [
      "flight_recorder_events INDEXED BY flight_recorder_events_by_run_time WHERE workflow_run_id IS NOT NULL",
      "flight_recorder_events NOT INDEXED WHERE workflow_run_id IS NOT NULL"
    ]
  ] as const
  for (const [viaIndex, viaTable] of pairs) {
    assert.strictEqual(yield* rawNumber(`SELECT count(*) AS n FROM ${viaIndex}`), yield* rawNumber(`SELECT count(*) AS n FROM ${viaTable}`), viaIndex)
  }
  assert.deepStrictEqual(yield* rawRows("PRAGMA integrity_check"), [{ integrity_check: "ok" }])
})

const HOT_TABLES = /^(SCAN|SEARCH) (ai_jobs|workflow_runs|flight_recorder_events)\b/

describe("issue 16 migration 0011: SQLite's hot indexes are partial, and every query keeps an index", () => {
  it.scoped("issue 16 migration 0011: the four indexes are partial over exactly the rows their queries read, the old ones gone", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const indexes = yield* rawRows<{ readonly name: string; readonly sql: string }>(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
      ).pipe(Effect.provide(storeWithClient(filename)))
      const byName = new Map(indexes.map((index) => [index.name, index.sql.replace(/\s+/g, " ")]))
      for (const gone of ["ai_jobs_by_workflow_run", "ai_jobs_by_status_updated", "workflow_runs_by_status_heartbeat", "flight_recorder_events_by_run"]) {
        assert.isFalse(byName.has(gone), gone)
      }
      assert.match(byName.get("ai_jobs_by_run") ?? "", /\(workflow_run_id\) WHERE workflow_run_id IS NOT NULL$/)
      assert.match(
        byName.get("ai_jobs_prunable_by_updated") ?? "",
        /\(updated_at, id\) WHERE status IN \('completed', 'completed_with_issues', 'cancelled', 'poisoned', 'failed'\)$/
      )
      assert.match(byName.get("workflow_runs_running_by_heartbeat") ?? "", /\(last_heartbeat, id\) WHERE status = 'running'$/)
      assert.match(byName.get("flight_recorder_events_by_run_time") ?? "", /\(workflow_run_id, timestamp\) WHERE workflow_run_id IS NOT NULL$/)
    }))

  it.scoped("issue 16 migration 0011: every list and filter query, the claim, the stale scan and pruning read by an index, never a full scan of a hot table", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const store = storeWithClient(filename)
      const plans = yield* Effect.gen(function*() {
        const jobs = yield* Jobs
        const db = yield* JobStore
        const started = yield* Effect.forEach(Array.from({ length: 6 }), () => startedJob())
        for (const { job } of started.slice(0, 3)) yield* db.transition({ job_id: job.job_id, to: "completed" })
        yield* db.appendEvents(started.map(({ job }) => jobEvent(job)))
        for (let i = 0; i < 4; i++) yield* jobs.submit(newJob())
        const [{ job, run }] = started as [typeof started[number], ...typeof started]
        const now = yield* DateTime.now
        const queries: Record<string, Effect.Effect<unknown, unknown>> = {
          "jobs by status": db.listJobs({ states: ["queued", "running"] }),
          "jobs by kind": db.listJobs({ kinds: ["doc_summarize"] }),
          "jobs by trace": db.listJobs({ trace_id: job.trace_id }),
          "jobs by run": db.listJobs({ workflow_run_id: run.id }),
          "jobs by time": db.listJobs({ created_after: DateTime.subtract(now, { hours: 1 }), order: "desc" }),
          "job ids by short form": db.findJobIds(job.job_id.slice(-8)),
          "claim": jobs.claimNext(),
          "stale scan": db.findStaleRuns({ heartbeatBefore: DateTime.add(now, { hours: 1 }), limit: 100 }),
          "pruning": db.pruneJobs({ olderThan: DateTime.add(now, { hours: 1 }), keepNewest: 1, dryRun: true }),
          "events by job": db.listEvents({ job_id: job.job_id }),
          "events by run": db.listEvents({ workflow_run_id: run.id }),
          "events by trace": db.listEvents({ trace_id: job.trace_id }),
          "events by type": db.listEvents({ types: ["system"] }),
          "events by time": db.listEvents({ since: DateTime.subtract(now, { hours: 1 }) }),
          // Last: it stalls the running runs (the scan, then the runs and their jobs by id).
          "recovery's stall": db.stallStaleRuns({ heartbeatBefore: DateTime.add(now, { hours: 1 }), threshold: Duration.seconds(30), limit: 100 })
        }
        const out: Record<string, ReadonlyArray<{ readonly source: string; readonly plan: ReadonlyArray<string> }>> = {}
        for (const [name, query] of Object.entries(queries)) out[name] = yield* plansOf(filename, query)
        return out
      }).pipe(Effect.provide(Layer.provideMerge(services(store), store)))

      for (const [name, statements] of Object.entries(plans)) {
        assert.isAbove(statements.length, 0, `${name}: a query ran`)
        for (const { plan, source } of statements) {
          for (const line of plan.filter((line) => HOT_TABLES.test(line))) {
            assert.match(line, /USING (COVERING )?(INDEX|INTEGER PRIMARY KEY|PRIMARY KEY)/, `${name}: ${line}\n${source}`)
          }
        }
      }
      const planOf = (name: string) => plans[name]!.flatMap(({ plan }) => plan).join("\n")
      const inOrder = (name: string, index: string) => {
        const plan = planOf(name)
        assert.match(plan, new RegExp(`USING (COVERING )?INDEX ${index}\\b`), `${name}:\n${plan}`)
        assert.notMatch(plan, /TEMP B-TREE FOR ORDER BY/, `${name}:\n${plan}`)
      }
      assert.match(planOf("jobs by run"), /USING INDEX ai_jobs_by_run \(workflow_run_id=\?\)/, planOf("jobs by run"))
      inOrder("stale scan", "workflow_runs_running_by_heartbeat")
      inOrder("recovery's stall", "workflow_runs_running_by_heartbeat")
      inOrder("pruning", "ai_jobs_prunable_by_updated")
      inOrder("events by run", "flight_recorder_events_by_run_time")
    }), 60_000)

  it.scoped("issue 16 migration 0011: a database at the migration before, with jobs in every part of their lifecycle, upgrades in place: the old indexes gone, the new ones hold its rows", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const fresh = yield* schemaSnapshot.pipe(Effect.provide(storeWithClient(filename)))
      yield* Effect.gen(function*() {
        const db = yield* JobStore
        const started = yield* Effect.forEach(Array.from({ length: 4 }), () => startedJob())
        yield* db.transition({ job_id: started[0]!.job.job_id, to: "completed" })
        yield* db.appendEvents(started.map(({ job }) => jobEvent(job)))
        yield* db.createJob(newJob())
      }).pipe(Effect.provide(storeWithClient(filename)))
      yield* Effect.forEach(BEFORE_0011, (statement) => rawRows(statement), { discard: true }).pipe(Effect.provide(rawClient(filename)))
      yield* Effect.gen(function*() {
        assert.deepStrictEqual(yield* schemaSnapshot, fresh)
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs"), 5)
        yield* partialIndexesHoldTheirRows
      }).pipe(Effect.provide(storeWithClient(filename)))
    }))

  it.scoped("issue 16 migration 0011: a legacy Handshake reference database upgrades to the same indexes, its rows kept", () =>
    Effect.gen(function*() {
      const fresh = yield* schemaSnapshot.pipe(Effect.provide(storeWithClient(yield* tempDatabaseFile())))
      const filename = yield* tempDatabaseFile("reference.db")
      yield* writeReferenceSqlite(filename)
      yield* Effect.gen(function*() {
        const indexes = (yield* schemaSnapshot).filter((object) => object.type === "index")
        assert.deepStrictEqual(indexes, fresh.filter((object) => object.type === "index"))
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs"), referenceCounts.ai_jobs)
        yield* partialIndexesHoldTheirRows
      }).pipe(Effect.provide(storeWithClient(filename)))
    }))

  it.scoped("issue 16 migration 0011: a replay (bookkeeping lost) leaves the schema as it was", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      const before = yield* schemaSnapshot.pipe(Effect.provide(storeWithClient(filename)))
      yield* rawRows("DELETE FROM ai_job_model_migrations WHERE migration_id = 11").pipe(Effect.provide(storeWithClient(filename)))
      const after = yield* schemaSnapshot.pipe(Effect.provide(storeWithClient(filename)))
      assert.deepStrictEqual(after, before)
    }))
})
