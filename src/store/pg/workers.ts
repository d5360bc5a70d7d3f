/**
 * The set-based work many processes may do at once on PostgreSQL: claiming
 * queued jobs, startup recovery (R9) and pruning (R18). Each is one
 * statement (plus its events) in one transaction; `FOR UPDATE SKIP LOCKED`
 * lets concurrent workers take disjoint rows instead of waiting on each other.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { WorkflowRunId } from "../../domain/Ids.js"
import type { JobKind } from "../../domain/JobKind.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import { decodeRows } from "../internal/decodeRow.js"
import type { Claim, JobStore, StalledRun } from "../JobStore.js"
import { type InsertEvents, insertEventsFor } from "./events.js"
import { columns, countOf, decode, instantParam, qualified, toAiJob } from "./rows.js"
import { inTransaction, storageErrors } from "./storageErrors.js"
import { clampBound, staleCutoff } from "../internal/instants.js"
import { newRun } from "../internal/newRows.js"

type Service = Context.Tag.Service<JobStore>

/** Claiming, recovery and pruning. */
export const makeWorkers = (sql: SqlClient.SqlClient, insertEvents: InsertEvents) => {
  const claimNext: Service["claimNext"] = Effect.fn("JobStore.claimNext")(
    function*(options: {
      readonly kinds?: ReadonlyArray<JobKind>
      readonly events?: (claim: Claim) => ReadonlyArray<EventRecord>
    } = {}) {
      const now = yield* DateTime.now
      const at = instantParam(now)
      const runId = WorkflowRunId.make(uuidv7())
      const eligible: Array<Statement.Fragment> = [sql`status = 'queued'`]
      if (options.kinds !== undefined) eligible.push(sql.in("job_kind", options.kinds))
      // One statement: lock the oldest eligible job no one else holds, create
      // its run, point the job at the run and move it to running.
      const [row] = yield* sql`
        WITH next_job AS (
          SELECT id FROM ai_jobs
          WHERE ${sql.and(eligible)}
          ORDER BY created_at, id
          LIMIT 1
          FOR UPDATE SKIP LOCKED
        ), new_run AS (
          INSERT INTO workflow_runs (${sql.literal(columns.run)})
          SELECT ${runId}, id, 'running', ${at}::timestamptz, NULL, ${at}::timestamptz, ${at}::timestamptz
          FROM next_job
          RETURNING id AS run_id, job_id AS claimed_job_id
        )
        UPDATE ai_jobs SET status = 'running', workflow_run_id = new_run.run_id, updated_at = ${at}::timestamptz
        FROM new_run
        WHERE ai_jobs.id = new_run.claimed_job_id
        RETURNING ${sql.literal(columns.job)}`
      if (row === undefined) return null
      const job = toAiJob(yield* decode.job(row))
      const run = newRun(job.job_id, now, runId)
      const claim: Claim = { job, run }
      yield* insertEventsFor(insertEvents, "JobStore.claimNext")(options.events?.(claim))
      return claim
    },
    inTransaction(sql),
    storageErrors("JobStore.claimNext")
  )

  const findStaleRuns: Service["findStaleRuns"] = Effect.fn("JobStore.findStaleRuns")(
    function*(options: { readonly olderThanMs: number; readonly limit?: number }) {
      const cutoff = instantParam(staleCutoff(yield* DateTime.now, options.olderThanMs))
      const rows = yield* sql`
        SELECT ${sql.literal(columns.run)} FROM workflow_runs
        WHERE status = 'running' AND last_heartbeat < ${cutoff}::timestamptz
        ORDER BY last_heartbeat, id
        LIMIT ${options.limit === undefined ? null : Math.max(0, Math.floor(options.limit))}`
      return yield* decodeRows(decode.run)(rows)
    },
    storageErrors("JobStore.findStaleRuns")
  )

  const stallStaleRuns: Service["stallStaleRuns"] = Effect.fn("JobStore.stallStaleRuns")(
    function*(options: {
      readonly olderThanMs: number
      readonly limit: number
      readonly events?: (stalled: StalledRun) => ReadonlyArray<EventRecord>
    }) {
      const now = yield* DateTime.now
      const at = instantParam(now)
      const cutoff = instantParam(staleCutoff(now, options.olderThanMs))
      const stale = sql`r.status = 'running' AND r.last_heartbeat < ${cutoff}::timestamptz`
      // The lock order (JobStore.ts): the jobs of stale runs first. A job
      // another transaction holds — a completion, a cancel, another
      // recoverer — is skipped, not waited for: that transaction decides it.
      const jobs = yield* sql<{ readonly run_id: WorkflowRunId }>`
        SELECT r.id AS run_id
        FROM workflow_runs r JOIN ai_jobs j ON j.id = r.job_id
        WHERE ${stale}
        ORDER BY r.last_heartbeat, r.id
        LIMIT ${Math.max(0, Math.floor(options.limit))}
        FOR NO KEY UPDATE OF j SKIP LOCKED`
      if (jobs.length === 0) return []
      // Then their runs, as they are once locked: a heartbeat that committed
      // meanwhile made its run fresh, and it drops out here. Nothing that
      // holds a run lock waits for a job lock, so waiting here is safe.
      const rows = yield* sql`
        SELECT ${sql.literal(qualified(columns.run, "r"))}, j.trace_id
        FROM workflow_runs r JOIN ai_jobs j ON j.id = r.job_id
        WHERE ${sql.in("r.id", jobs.map((job) => job.run_id))} AND ${stale}
        ORDER BY r.last_heartbeat, r.id
        FOR NO KEY UPDATE OF r`
      const stalled = yield* Effect.forEach(rows, (row) =>
        Effect.map(decode.stalledRun(row), ({ trace_id, ...run }): StalledRun => ({ run, trace_id })))
      if (stalled.length === 0) return []
      const runIds = stalled.map(({ run }) => run.id)
      // Both moves in one statement; a job follows only while it is running under that run (R6a).
      yield* sql`
        WITH stalled_runs AS (
          UPDATE workflow_runs SET status = 'stalled', updated_at = ${at}::timestamptz
          WHERE ${sql.in("id", runIds)}
        )
        UPDATE ai_jobs SET status = 'stalled', updated_at = ${at}::timestamptz
        WHERE ${sql.in("workflow_run_id", runIds)} AND status = 'running'`
      const build = options.events
      if (build !== undefined) {
        yield* insertEventsFor(insertEvents, "JobStore.stallStaleRuns")(stalled.flatMap((moved) => build(moved)))
      }
      return stalled
    },
    inTransaction(sql),
    storageErrors("JobStore.stallStaleRuns")
  )

  const pruneJobs: Service["pruneJobs"] = Effect.fn("JobStore.pruneJobs")(
    function*(options: { readonly olderThan: DateTime.Utc; readonly keepNewest: number; readonly dryRun?: boolean }) {
      // The newest keepNewest terminal jobs are ranked over all terminal jobs,
      // pinned or not, old or recent; of the rest, the old unpinned ones go.
      const prunable = sql`
        WITH ranked AS (
          SELECT id, updated_at, is_pinned,
            row_number() OVER (ORDER BY updated_at DESC, id DESC) AS newest_rank
          FROM ai_jobs
          WHERE ${sql.in("status", [...Lifecycle.terminalStates])}
        ), prunable AS (
          SELECT id FROM ranked
          WHERE newest_rank > ${Math.max(0, Math.floor(options.keepNewest))}
            AND updated_at < ${instantParam(clampBound(options.olderThan))}::timestamptz
            AND NOT is_pinned
        )`
      // Runs and nodes go by ON DELETE CASCADE; events have no foreign key and stay.
      const rows = options.dryRun === true
        ? yield* sql`${prunable} SELECT count(*) AS count FROM prunable`
        : yield* sql`${prunable}, pruned AS (
            DELETE FROM ai_jobs j USING prunable
            WHERE j.id = prunable.id AND NOT j.is_pinned
            RETURNING 1
          )
          SELECT count(*) AS count FROM pruned`
      return { deleted: yield* countOf(rows) }
    },
    storageErrors("JobStore.pruneJobs")
  )

  return { claimNext, findStaleRuns, stallStaleRuns, pruneJobs }
}
