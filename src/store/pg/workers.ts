/**
 * The set-based work many processes may do at once on PostgreSQL: claiming
 * queued jobs, startup recovery (R9) and pruning (R18). Each is one
 * statement (plus its events) in one transaction; `FOR UPDATE SKIP LOCKED`
 * lets concurrent workers take disjoint rows instead of waiting on each other.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
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
import { columns, decode, instantParam, qualified, instantBound } from "./rows.js"
import { storageErrors } from "./errors.js"
import { newRun } from "../internal/newRows.js"
import { makeClaimAdmitted, nextJob } from "./claim.js"

type Service = Context.Tag.Service<JobStore>

/** A `timestamptz` column in the one stored text form (RFC 3339, UTC, milliseconds), as `DateTime.formatIso` writes it. */
const isoText = (sql: SqlClient.SqlClient, column: string) =>
  sql`to_char(${sql.literal(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/**
 * Recovery's one write for a batch of locked stale runs, set-based in one
 * statement whatever the batch size: each run `stalled` with the recovery
 * reason naming its heartbeat (issue 12.5); its job too, only while it is
 * running under that run (R6a); and, with `record`, R9's `workflow_recovery`
 * record per run, built here with the fields and key order of
 * `recoveryEvent` (internal/jobs/auditEvents.ts) — no JavaScript per run.
 */
const stallStatement = (sql: SqlClient.SqlClient, batch: {
  readonly at: string
  readonly threshold: Duration.Duration
  readonly stalled: ReadonlyArray<StalledRun>
  readonly record: boolean
}) => {
  const secs = thresholdSecs(batch.threshold)
  const why = stallMessageAround(secs)
  // Event ids are made here (time-ordered UUIDv7, in the batch's order); the runs' own fields come from their rows.
  const moved = JSON.stringify(batch.stalled.map(({ run, trace_id }) => ({ run_id: run.id, trace_id, event_id: uuidv7() })))
  const recorded = batch.record
    ? sql`
      INSERT INTO flight_recorder_events (${sql.literal(columns.event)})
      SELECT s.event_id, ${batch.at}::timestamptz, 'system', 'workflow_recovery', s.trace_id, s.job_id, s.id,
        jsonb_build_object(
          'event_id', s.event_id, 'timestamp', ${batch.at}::text, 'actor', 'system', 'trace_id', s.trace_id,
          'job_id', s.job_id, 'workflow_run_id', s.id, 'type', 'workflow_recovery',
          'from_state', 'running', 'to_state', 'stalled', 'reason', s.reason,
          'last_heartbeat_ts', s.heartbeat, 'threshold_secs', ${secs}::bigint)
      FROM stalled_runs s`
    : sql`SELECT 1`
  // Data-modifying CTEs all run, referenced or not; every part sees the rows as they were before it.
  return sql`
    WITH moved AS (
      SELECT * FROM jsonb_to_recordset(${moved}::jsonb) AS m(run_id uuid, trace_id uuid, event_id uuid)
    ), stalled_runs AS (
      UPDATE workflow_runs r SET status = 'stalled',
        error_message = ${why.before} || ${isoText(sql, "r.last_heartbeat")} || ${why.after},
        updated_at = ${batch.at}::timestamptz
      FROM moved WHERE r.id = moved.run_id
      RETURNING r.id, r.job_id, moved.trace_id, moved.event_id, r.error_message AS reason,
        ${isoText(sql, "r.last_heartbeat")} AS heartbeat
    ), stalled_jobs AS (
      UPDATE ai_jobs j SET status = 'stalled', status_reason = ${STALLED_STATUS_REASON},
        error_message = s.reason, updated_at = ${batch.at}::timestamptz
      FROM stalled_runs s
      WHERE j.workflow_run_id = s.id AND j.status = 'running'
    )
    ${recorded}`
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
      // One statement: lock the next job (claim.ts), create its run, point
      // the job at the run and move it to running. Its records follow (they
      // are a function of the job claimed) in the same transaction.
      return (yield* audited({
        steps: [
          ["next_job", nextJob(sql, { at, kinds: options.kinds, select: "id" })],
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
        result: (row) => Effect.map(decode.aiJob(row), (job): Claim => ({ job, run: newRun(job.job_id, now, runId) }))
      })) ?? null
    },
    alreadyExistsAsStorageError("JobStore.claimNext"),
    storageErrors("JobStore.claimNext")
  )

  const findStaleRuns: Service["findStaleRuns"] = Effect.fnUntraced(
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

  const stallStaleRuns: Service["stallStaleRuns"] = Effect.fnUntraced(
    function*(options: {
      readonly heartbeatBefore: DateTime.Utc
      readonly threshold: Duration.Duration
      readonly limit: number
      readonly events?: Audit<ReadonlyArray<StalledRun>>
      readonly recordRecovery?: boolean
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
        WHERE r.id IN (SELECT value::uuid FROM jsonb_array_elements_text(${JSON.stringify(jobs.map((job) => job.run_id))}::jsonb))
          AND ${stale}
        ORDER BY r.last_heartbeat, r.id
        FOR NO KEY UPDATE OF r`
      const stalled = yield* Effect.forEach(rows, (row) =>
        Effect.map(decode.stalledRun(row), ({ trace_id, ...run }): StalledRun => ({ run, trace_id })))
      if (stalled.length === 0) return []
      yield* stallStatement(sql, { at, threshold: options.threshold, stalled, record: options.recordRecovery === true })
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

  return { claimNext, ...makeClaimAdmitted(sql), findStaleRuns, stallStaleRuns, pruneJobs }
}
