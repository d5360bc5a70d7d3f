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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { uuidv7 } from "../../domain/uuidv7.js"
import { WorkflowRunId } from "../../domain/Ids.js"
import type { JobKind } from "../../domain/JobKind.js"
import * as Lifecycle from "../../domain/Lifecycle.js"
import { STALLED_STATUS_REASON, stallMessageAround, thresholdSecs } from "../../domain/stallReason.js"
import { decodeRows } from "../internal/decodeRow.js"
import type { Audit, Claim, JobStore, PruneReport, StalledRun } from "../JobStore.js"
import type { PgContext } from "./context.js"
import { auditRecords } from "../internal/audit.js"
import { alreadyExistsAsStorageError } from "../internal/storageError.js"
import { columns, decode, instantParam, qualified, toAiJob, instantBound } from "./rows.js"
import { storageErrors } from "./errors.js"
import { newRun } from "../internal/newRows.js"

type Service = Context.Tag.Service<JobStore>

/**
 * `error_message = ` the recovery reason naming `heartbeat` (a column, or a
 * subquery giving the job's run's heartbeat: `workflow_run_id` there is the
 * job's, workflow_runs has no such column) in the one stored text form.
 */
const stalledError = (sql: SqlClient.SqlClient, threshold: Duration.Duration, heartbeat: Statement.Fragment) => {
  const why = stallMessageAround(thresholdSecs(threshold))
  return sql`error_message = ${why.before} || to_char(${heartbeat} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || ${why.after}`
}

/** Claiming, recovery and pruning. */
export const makeWorkerMethods = ({ atomic, audited, insertEvents, sql, transaction }: PgContext) => {
  const claimNext: Service["claimNext"] = Effect.fnUntraced(
    function*(options: {
      readonly kinds?: ReadonlyArray<JobKind>
      readonly events?: Audit<Claim>
    } = {}) {
      const now = yield* DateTime.now
      const at = instantParam(now)
      const runId = WorkflowRunId.make(uuidv7())
      const eligible: Array<Statement.Fragment> = [sql`status = 'queued'`, sql`run_after <= ${at}::timestamptz`]
      if (options.kinds !== undefined) eligible.push(sql.in("job_kind", options.kinds))
      // One statement: lock the first eligible job no one else holds — the
      // highest priority, then the one eligible longest, then the oldest, the
      // order of migration 0007's partial index — create its run, point the
      // job at the run and move it to running. Its records follow (they are a
      // function of the job claimed) in the same transaction.
      return (yield* audited({
        steps: [
          ["next_job", sql`
            SELECT id FROM ai_jobs
            WHERE ${sql.and(eligible)}
            ORDER BY priority DESC, run_after, created_at, id
            LIMIT 1
            FOR UPDATE SKIP LOCKED`],
          ["new_run", sql`
            INSERT INTO workflow_runs (${sql.literal(columns.run)})
            SELECT ${runId}, id, 'running', ${at}::timestamptz, NULL, ${at}::timestamptz, ${at}::timestamptz
            FROM next_job
            RETURNING id AS run_id, job_id AS claimed_job_id`],
          ["claimed", sql`
            UPDATE ai_jobs SET status = 'running', workflow_run_id = new_run.run_id, updated_at = ${at}::timestamptz
            FROM new_run
            WHERE ai_jobs.id = new_run.claimed_job_id
            RETURNING ${sql.literal(qualified(columns.job, "ai_jobs"))}`]
        ],
        events: options.events,
        result: (row) => Effect.map(decode.job(row), (decoded): Claim => ({ job: toAiJob(decoded), run: newRun(decoded.id, now, runId) }))
      })) ?? null
    },
    alreadyExistsAsStorageError("JobStore.claimNext"),
    storageErrors("JobStore.claimNext")
  )

  const findStaleRuns: Service["findStaleRuns"] = Effect.fn("JobStore.findStaleRuns")(
    function*(options: { readonly heartbeatBefore: DateTime.Utc; readonly limit?: number }) {
      const cutoff = instantBound(options.heartbeatBefore)
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
      readonly heartbeatBefore: DateTime.Utc
      readonly threshold: Duration.Duration
      readonly limit: number
      readonly events?: Audit<ReadonlyArray<StalledRun>>
    }) {
      const at = instantParam(yield* DateTime.now)
      const cutoff = instantBound(options.heartbeatBefore)
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
      // The job's error message names its run's stale heartbeat, as the reference's does (issue 12.5).
      yield* sql`
        WITH stalled_runs AS (
          UPDATE workflow_runs r SET status = 'stalled', ${stalledError(sql, options.threshold, sql`r.last_heartbeat`)},
            updated_at = ${at}::timestamptz
          WHERE ${sql.in("r.id", runIds)}
        )
        UPDATE ai_jobs j SET status = 'stalled', status_reason = ${STALLED_STATUS_REASON},
          ${stalledError(sql, options.threshold, sql`(SELECT r.last_heartbeat FROM workflow_runs r WHERE r.id = j.workflow_run_id)`)},
          updated_at = ${at}::timestamptz
        WHERE ${sql.in("j.workflow_run_id", runIds)} AND j.status = 'running'`
      yield* insertEvents(yield* auditRecords(options.events, stalled))
      return stalled
    },
    transaction,
    alreadyExistsAsStorageError("JobStore.stallStaleRuns"),
    storageErrors("JobStore.stallStaleRuns")
  )

  const pruneJobs: Service["pruneJobs"] = Effect.fnUntraced(
    function*(options: {
      readonly olderThan: DateTime.Utc
      readonly keepNewest: number
      readonly dryRun?: boolean
      readonly events?: Audit<PruneReport>
    }) {
      const prunable = sql.in("status", [...Lifecycle.prunableStates])
      const cutoff = sql`${instantBound(options.olderThan)}::timestamptz`
      // `scanned`: prunable and old. `kept`: the window, the newest keepNewest
      // unpinned prunable jobs whatever their age. What is neither pinned nor
      // kept goes; the DELETE re-checks its row, so a job pinned, retried or
      // touched meanwhile stays.
      const candidates = sql`
        WITH scanned AS (
          SELECT id, is_pinned FROM ai_jobs WHERE ${prunable} AND updated_at < ${cutoff}
        ), kept AS (
          SELECT id FROM ai_jobs WHERE ${prunable} AND NOT is_pinned
          ORDER BY updated_at DESC, id DESC
          LIMIT ${Math.max(0, Math.floor(options.keepNewest))}
        ), doomed AS (
          SELECT id FROM scanned WHERE NOT is_pinned AND id NOT IN (SELECT id FROM kept)
        )`
      const counts = sql`
        (SELECT count(*) FROM scanned) AS scanned,
        (SELECT count(*) FROM scanned WHERE is_pinned) AS spared_pinned`
      // Runs and nodes go by ON DELETE CASCADE; events have no foreign key and stay.
      const [row] = options.dryRun === true
        ? yield* sql`${candidates} SELECT ${counts}, (SELECT count(*) FROM doomed) AS pruned`
        : yield* sql`${candidates}, pruned AS (
            DELETE FROM ai_jobs j USING doomed
            WHERE j.id = doomed.id AND ${prunable} AND j.updated_at < ${cutoff} AND NOT j.is_pinned
            RETURNING 1
          )
          SELECT ${counts}, (SELECT count(*) FROM pruned) AS pruned`
      const scanned = Number(row?.["scanned"] ?? 0)
      const spared_pinned = Number(row?.["spared_pinned"] ?? 0)
      const pruned = Number(row?.["pruned"] ?? 0)
      const report = { scanned, pruned, spared_pinned, spared_window: scanned - spared_pinned - pruned }
      if (options.dryRun !== true) yield* insertEvents(yield* auditRecords(options.events, report))
      return report
    },
    // One statement is atomic by itself: BEGIN/COMMIT only when records are written with it.
    (effect, options) => options.events !== undefined && options.dryRun !== true ? atomic(effect) : effect,
    alreadyExistsAsStorageError("JobStore.pruneJobs"),
    storageErrors("JobStore.pruneJobs")
  )

  return { claimNext, findStaleRuns, stallStaleRuns, pruneJobs }
}
